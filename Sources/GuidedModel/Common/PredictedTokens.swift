import GuidedCompute

/// The output positions a language-model loss scores, gathered per sample and padded to the sample
/// with the most, with each row's cross-entropy weight under a `LossReduction`: what BERT's masked
/// LM and GPT-2's causal LM share. Only these rows go through the vocabulary projection.
struct PredictedTokens {
    /// Per sample: the output positions that are scored.
    let positions: [[Int]]
    /// Rows per sample: the most any sample has (at least 1).
    let perSample: Int
    /// Scored rows in the whole batch.
    let total: Int
    /// [batch · perSample]: the output row of each slot (padding slots: the sample's first row).
    let rows: [Int32]
    /// [batch · perSample]: the target of each slot, −1 on padding slots.
    let targets: [Int32]
    /// [batch · perSample]: 1/total (batch mean) or 1/count-in-sample (per-sample mean); 0 on padding.
    let weights: [Float]

    /// Checks `labels` ([batch, tokens], −100 where nothing is predicted) against the batch and the vocabulary.
    static func validate(_ labels: [Int32], _ batch: TokenBatch, vocabulary: Int) throws {
        guard labels.count == batch.rows else { throw ModelError("labels: \(labels.count) for \(batch.batch)×\(batch.tokens) tokens") }
        if let bad = labels.first(where: { $0 != -100 && ($0 < 0 || Int($0) >= vocabulary) }) {
            throw ModelError("label \(bad) is neither -100 nor a token id below \(vocabulary)")
        }
    }

    /// `target(n, t)`: the token that position t of sample n is scored against, or nil.
    init(batch: Int, tokens: Int, reduction: LossReduction, target: (Int, Int) -> Int32?) {
        positions = (0..<batch).map { n in (0..<tokens).filter { target(n, $0) != nil } }
        perSample = max(1, positions.map(\.count).max() ?? 1)
        total = positions.map(\.count).reduce(0, +)
        var rows: [Int32] = [], targets: [Int32] = [], weights: [Float] = []
        for (n, list) in positions.enumerated() {
            for k in 0..<perSample {
                guard k < list.count else {
                    rows.append(Int32(n * tokens))
                    targets.append(-1)
                    weights.append(0)
                    continue
                }
                rows.append(Int32(n * tokens + list[k]))
                targets.append(target(n, list[k])!)
                switch reduction {
                case .batchMean: weights.append(1 / Float(total))
                case .perSampleMean: weights.append(1 / Float(list.count))
                }
            }
        }
        (self.rows, self.targets, self.weights) = (rows, targets, weights)
    }

    var skippedSamples: Int { positions.filter(\.isEmpty).count }

    /// Softmax cross-entropy of `logits` [slots, classes] against `labels` (the uploaded `targets`):
    /// the weighted `dLogits`, each sample's mean loss over its scored rows (nil for none) and the
    /// batch mean over all scored rows (what `transformers` returns as `loss`).
    func crossEntropy(_ logits: Tensor, labels: Tensor, classes: Int, ops: ModelOps,
                      what: String) throws -> (dLogits: Tensor, sampleLosses: [Float?], loss: Float) {
        let m = rows.count, backend = ops.backend
        let weightsTensor = try ops.allocate(m), losses = try ops.allocate(m), dLogits = try ops.allocate(m * classes)
        try backend.upload(weights, to: weightsTensor)
        try backend.softmaxCrossEntropy(logits, labels: labels, weights: weightsTensor, losses: losses,
                                        dLogits: dLogits, rows: m, classes: classes)
        let rowLosses = try backend.download(losses)
        try ops.checkFinite(rowLosses, what: what)
        var sampleLosses: [Float?] = []
        var sum = 0.0
        for (n, list) in positions.enumerated() {
            let s = (0..<list.count).reduce(0.0) { $0 + Double(rowLosses[n * perSample + $1]) }
            sum += s
            sampleLosses.append(list.isEmpty ? nil : Float(s / Double(list.count)))
        }
        return (dLogits, sampleLosses, total > 0 ? Float(sum / Double(total)) : 0)
    }
}
