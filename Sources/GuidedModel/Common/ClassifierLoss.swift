import GuidedCompute

/// The loss of a sequence classifier's logits, as `transformers`' `…ForSequenceClassification`
/// computes it: cross-entropy over class indices, or for regression `MSELoss` on the one output.
struct ClassifierLoss {
    /// [batch, classes] on the host.
    let logits: [Float]
    let dLogits: Tensor
    let sampleLosses: [Float]
    /// The batch mean (what `transformers` returns as `loss`).
    let loss: Float

    /// `reduction` weighs `dLogits`: 1/batch for the batch mean, 1 for a sum of per-sample losses.
    init(_ logitsTensor: Tensor, labels: [Float], batch b: Int, classes: Int, regression: Bool,
         reduction: LossReduction, ops: ModelOps, what: String) throws {
        let backend = ops.backend
        let logits = try backend.download(logitsTensor)
        try ops.checkFinite(logits, what: what)
        self.logits = logits
        let scale: Float = reduction == .batchMean ? 1 / Float(b) : 1
        dLogits = try ops.allocate(b * classes)
        if regression {
            // MSELoss on logits.squeeze(): mean over the batch of (ŷ − y)².
            let errors = (0..<b).map { logits[$0 * classes] - labels[$0] }
            sampleLosses = errors.map { $0 * $0 }
            var grad = [Float](repeating: 0, count: b * classes)
            for n in 0..<b { grad[n * classes] = 2 * errors[n] * scale }
            try backend.upload(grad, to: dLogits)
        } else {
            let losses = try ops.allocate(b), weights = try ops.allocate(b)
            try backend.fill(weights, with: scale)
            try backend.softmaxCrossEntropy(logitsTensor, labels: ops.upload(labels.map { Int32($0) }), weights: weights,
                                            losses: losses, dLogits: dLogits, rows: b, classes: classes)
            sampleLosses = try backend.download(losses)
        }
        loss = sampleLosses.reduce(0, +) / Float(b)
    }
}
