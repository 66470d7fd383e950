import GuidedCompute

/// How a loss over several rows is averaged.
public enum LossReduction: Sendable {
    /// Over every counted row of the batch (what `transformers` returns as `loss`).
    case batchMean
    /// Within each sample only: sample `n`'s loss is the mean over its own rows. The backward then
    /// gives `Σₙ ∇Lₙ`, and per-sample squaring gives the empirical Fisher of DESIGN.
    case perSampleMean
}

/// The masked-LM head's forward over one batch, kept for its backward.
public final class MaskedLMPass {
    public let encoder: EncoderPass
    /// The transform (dense, GELU, LayerNorm) sees the predicted positions padded per sample,
    /// `perSample` slots each, as its per-sample Fisher wants; it is only hidden-wide.
    let perSample: Int
    /// The encoder's output at the predicted positions (`OutputRows`), then the transform's steps.
    let gathered, transformed, activated, normalized: Tensor   // [B·perSample, H]
    let norm: LayerNormSaved
    /// The vocabulary projection sees them packed, without padding: sample n's are rows
    /// `samples[n]` of the tensors below.
    let samples: SampleRows
    let slotsIndex: Tensor         // [P] Int32: the padded slot of each packed row
    let decoderInput: Tensor       // [P, H]: `normalized` at the packed rows
    let labels: Tensor             // [P] Int32: −1 on a filler row
    let logits: Tensor             // [P, V]
    let dLogits: Tensor
    /// Loss of each sample (mean over its predicted tokens); nil for a sample with none.
    public let sampleLosses: [Float?]
    /// The loss as `transformers` reduces it: the mean over all predicted tokens of the batch.
    public let loss: Float
    /// Samples with no predicted token (they add nothing to a per-sample mean).
    public let skippedSamples: Int

    init(encoder: EncoderPass, perSample: Int, gathered: Tensor, transformed: Tensor,
         activated: Tensor, normalized: Tensor, norm: LayerNormSaved, samples: SampleRows, slotsIndex: Tensor,
         decoderInput: Tensor, labels: Tensor, logits: Tensor, dLogits: Tensor,
         sampleLosses: [Float?], loss: Float, skippedSamples: Int) {
        self.encoder = encoder
        self.perSample = perSample
        self.gathered = gathered
        self.transformed = transformed
        self.activated = activated
        self.normalized = normalized
        self.norm = norm
        self.samples = samples
        self.slotsIndex = slotsIndex
        self.decoderInput = decoderInput
        self.labels = labels
        self.logits = logits
        self.dLogits = dLogits
        self.sampleLosses = sampleLosses
        self.loss = loss
        self.skippedSamples = skippedSamples
    }

}

extension BertModel {
    /// `BertForMaskedLM`'s head and cross-entropy, with the vocabulary projection computed only at
    /// the predicted positions (`labels` [batch, tokens], −100 elsewhere, as the HF collator writes).
    ///
    /// Weights of the cross-entropy rows follow `reduction`; the loss reported is always the batch mean.
    public func maskedLM(_ batch: TokenBatch, labels: [Int32], regularization: Regularization?,
                         reduction: LossReduction) throws -> MaskedLMPass {
        guard architecture.head == .maskedLM else { throw ModelError("maskedLM needs a BertForMaskedLM, not \(architecture.head)") }
        try PredictedTokens.validate(labels, batch, vocabulary: config.vocabSize)
        let h = architecture.hidden, v = architecture.vocabulary
        let t = batch.tokens
        let predicted = PredictedTokens(batch: batch.batch, tokens: t, reduction: reduction) { n, i in
            labels[n * t + i] != -100 ? labels[n * t + i] : nil
        }
        let m = predicted.slotRows.count, p = predicted.rows.count
        let labelsTensor = try ops.upload(predicted.targets)
        // The encoder's output only at the predicted positions, padded per sample.
        let encoder = try encode(batch, regularization: regularization,
                                 read: OutputRows(rows: predicted.slotRows, perSample: predicted.perSample))
        let gathered = encoder.output, transformed = try ops.allocate(m * h)
        let activated = try ops.allocate(m * h), normalized = try ops.allocate(m * h)
        try ops.linear(gathered, "cls.predictions.transform.dense", into: transformed, rows: m, inFeatures: h, outFeatures: h)
        try backend.geluForward(transformed, into: activated, form: architecture.geluForm)
        let norm = try LayerNormSaved(ops, rows: m)
        try ops.layerNorm(activated, "cls.predictions.transform.LayerNorm", into: normalized, saved: norm, rows: m, width: h)
        // The decoder is tied to the word embeddings; its bias is `cls.predictions.bias`.
        let slotsIndex = try ops.upload(predicted.slots), decoderInput = try ops.allocate(p * h)
        try backend.embeddingGather(normalized, ids: slotsIndex, into: decoderInput, tokens: p, width: h)
        let logits = try ops.allocate(p * v)
        try backend.gemm(transposeA: false, transposeB: true, m: p, n: v, k: h, alpha: 1, a: decoderInput, lda: h,
                         b: ops.weight("embeddings.word_embeddings.weight"), ldb: h, beta: 0, c: logits, ldc: v)
        try backend.addBias(logits, ops.weight("cls.predictions.bias"), rows: p, columns: v)

        let (dLogits, sampleLosses, loss) = try predicted.crossEntropy(logits, labels: labelsTensor, classes: v, ops: ops,
                                                                       what: "masked-LM loss")
        return MaskedLMPass(encoder: encoder, perSample: predicted.perSample,
                            gathered: gathered, transformed: transformed, activated: activated, normalized: normalized,
                            norm: norm, samples: predicted.samples, slotsIndex: slotsIndex, decoderInput: decoderInput,
                            labels: labelsTensor, logits: logits, dLogits: dLogits, sampleLosses: sampleLosses,
                            loss: loss, skippedSamples: predicted.skippedSamples)
    }

    /// Backward of `maskedLM` through the head and the encoder; parameter gradients go to `sink`.
    public func maskedLMBackward(_ pass: MaskedLMPass, sink: GradientSink) throws {
        let h = architecture.hidden, v = architecture.vocabulary
        let b = pass.encoder.batch.batch, m = b * pass.perSample, p = pass.slotsIndex.count
        // Tied decoder: the word embeddings receive dLogitsᵀ · decoderInput; its bias the row sums.
        try sink.linear(weight: layout.slot("embeddings.word_embeddings.weight"), bias: layout.slot("cls.predictions.bias"),
                        x: pass.decoderInput, dY: pass.dLogits, samples: pass.samples, inFeatures: h, outFeatures: v)
        let dDecoderInput = try ops.allocate(p * h)
        try backend.gemm(transposeA: false, transposeB: false, m: p, n: h, k: v, alpha: 1, a: pass.dLogits, lda: v,
                         b: ops.weight("embeddings.word_embeddings.weight"), ldb: h, beta: 0, c: dDecoderInput, ldc: h)
        // Back to the padded slots; padding slots get no gradient (allocate zeroes).
        let dNormalized = try ops.allocate(m * h)
        try backend.scatterAddRows(dDecoderInput, index: pass.slotsIndex, into: dNormalized, rows: p, width: h, skip: -1)
        let dActivated = try ops.allocate(m * h)
        try ops.layerNormBackward("cls.predictions.transform.LayerNorm", dY: dNormalized, x: pass.activated, saved: pass.norm,
                              dx: dActivated, batch: b, tokens: pass.perSample, width: h, sink: sink)
        try backend.geluBackward(pass.transformed, output: pass.activated, dActivated, into: dActivated,
                                 form: architecture.geluForm)
        let dGathered = dNormalized
        try ops.linearBackward("cls.predictions.transform.dense", x: pass.gathered, dY: dActivated, dx: dGathered,
                           batch: b, tokens: pass.perSample, inFeatures: h, outFeatures: h, sink: sink)
        // Padding slots carry zero gradient (nothing was scattered into them), as `OutputRows` asks.
        try encoderBackward(pass.encoder, dOutput: dGathered, sink: sink)
    }

    /// Logits at the predicted tokens in batch order (sample by sample, position by position),
    /// flattened [predicted, V]: what `outputs.logits[labels != -100]` gives in PyTorch.
    public func predictedLogits(_ pass: MaskedLMPass) throws -> [Float] {
        let v = architecture.vocabulary
        let all = try backend.download(pass.logits), targets = try backend.downloadInt32(pass.labels)
        return targets.indices.filter { targets[$0] >= 0 }.flatMap { all[($0 * v)..<(($0 + 1) * v)] }
    }
}

/// The sequence-classification head's forward, kept for its backward.
public final class ClassificationPass {
    public let encoder: EncoderPass
    let clsHidden: Tensor          // [B, H]: the encoder's output at each sample's [CLS] row
    let pooled: Tensor             // [B, H]: tanh(dense(clsHidden))
    let classifierInput: Tensor    // [B, H]: pooled after the classifier dropout
    let dLogits: Tensor            // [B, labels]
    /// [B, labels] logits, as `transformers` returns them.
    public let logits: [Float]
    public let sampleLosses: [Float]
    public let loss: Float

    init(encoder: EncoderPass, clsHidden: Tensor, pooled: Tensor, classifierInput: Tensor,
         dLogits: Tensor, logits: [Float], sampleLosses: [Float], loss: Float) {
        self.encoder = encoder
        self.clsHidden = clsHidden
        self.pooled = pooled
        self.classifierInput = classifierInput
        self.dLogits = dLogits
        self.logits = logits
        self.sampleLosses = sampleLosses
        self.loss = loss
    }
}

extension BertModel {
    /// `BertForSequenceClassification`: pooler (dense + tanh on [CLS]), dropout, classifier; the
    /// loss is cross-entropy over class indices, or MSE for regression (`labels` hold the targets).
    public func classify(_ batch: TokenBatch, labels: [Float], regularization: Regularization?,
                         reduction: LossReduction) throws -> ClassificationPass {
        guard case let .sequenceClassification(classes, regression) = architecture.head else {
            throw ModelError("classify needs a BertForSequenceClassification, not \(architecture.head)")
        }
        guard labels.count == batch.batch else { throw ModelError("\(labels.count) labels for a batch of \(batch.batch)") }
        if !regression, let bad = labels.first(where: { $0 < 0 || Int($0) >= classes || $0 != $0.rounded() }) {
            throw ModelError("label \(bad) is not a class index below \(classes)")
        }
        let h = architecture.hidden, b = batch.batch
        let encoder = try encode(batch, regularization: regularization,
                                 read: OutputRows(rows: (0..<b).map { Int32($0 * batch.tokens) }, perSample: 1))
        let clsHidden = encoder.output, pooled = try ops.allocate(b * h), dropped = try ops.allocate(b * h)
        try ops.linear(clsHidden, "pooler.dense", into: pooled, rows: b, inFeatures: h, outFeatures: h)
        try backend.tanhForward(pooled, into: pooled)
        let input = try ops.regularize(pooled, into: dropped, site: architecture.site(.classifier), regularization)
        let logitsTensor = try ops.allocate(b * classes)
        try ops.linear(input, "classifier", into: logitsTensor, rows: b, inFeatures: h, outFeatures: classes)
        let result = try ClassifierLoss(logitsTensor, labels: labels, batch: b, classes: classes, regression: regression,
                                        reduction: reduction, ops: ops, what: "classifier logits")
        return ClassificationPass(encoder: encoder, clsHidden: clsHidden, pooled: pooled,
                                  classifierInput: input, dLogits: result.dLogits, logits: result.logits,
                                  sampleLosses: result.sampleLosses, loss: result.loss)
    }

    public func classifyBackward(_ pass: ClassificationPass, sink: GradientSink) throws {
        guard case let .sequenceClassification(classes, _) = architecture.head else { return }
        let h = architecture.hidden, b = pass.encoder.batch.batch
        let dInput = try ops.allocate(b * h)
        try ops.linearBackward("classifier", x: pass.classifierInput, dY: pass.dLogits, dx: dInput, batch: b, tokens: 1,
                           inFeatures: h, outFeatures: classes, sink: sink)
        try ops.regularizeBackward(dInput, site: architecture.site(.classifier), pass.encoder.regularization)
        try backend.tanhBackward(pass.pooled, dInput, into: dInput)
        let dCLS = try ops.allocate(b * h)
        try ops.linearBackward("pooler.dense", x: pass.clsHidden, dY: dInput, dx: dCLS, batch: b, tokens: 1,
                           inFeatures: h, outFeatures: h, sink: sink)
        try encoderBackward(pass.encoder, dOutput: dCLS, sink: sink)
    }
}
