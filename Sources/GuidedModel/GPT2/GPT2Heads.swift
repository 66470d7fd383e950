import GuidedCompute

/// The causal-LM head's forward over one batch, kept for its backward.
public final class CausalLMPass {
    public let decoder: GPT2DecoderPass
    /// The predicted positions, packed: sample n's are rows `samples[n]` of the tensors below.
    let samples: SampleRows
    let rowsIndex: Tensor          // [P] Int32: row of the decoder's (packed) output
    let labels: Tensor             // [P] Int32: the next token; −1 on a filler row
    let gathered: Tensor           // [P, H]
    let logits: Tensor             // [P, V]
    let dLogits: Tensor
    /// Loss of each sample (mean over its predicted tokens); nil for a sample with none.
    public let sampleLosses: [Float?]
    /// The loss as `transformers` reduces it: the mean over all predicted tokens of the batch.
    public let loss: Float
    /// Samples with no predicted token (they add nothing to a per-sample mean).
    public let skippedSamples: Int

    init(decoder: GPT2DecoderPass, samples: SampleRows, rowsIndex: Tensor, labels: Tensor, gathered: Tensor, logits: Tensor,
         dLogits: Tensor, sampleLosses: [Float?], loss: Float, skippedSamples: Int) {
        self.decoder = decoder
        self.samples = samples
        self.rowsIndex = rowsIndex
        self.labels = labels
        self.gathered = gathered
        self.logits = logits
        self.dLogits = dLogits
        self.sampleLosses = sampleLosses
        self.loss = loss
        self.skippedSamples = skippedSamples
    }
}

extension GPT2Model {
    /// `GPT2LMHeadModel`'s head and loss. `labels` [batch, tokens] are in the collator's form
    /// (input_ids with −100 at padding); as `transformers` does, position t is scored against
    /// `labels[t + 1]`, so the last position predicts nothing. The vocabulary projection (the
    /// transposed wte) is computed only at positions whose shifted label is not −100.
    ///
    /// Weights of the cross-entropy rows follow `reduction`; the loss reported is always the batch mean.
    public func causalLM(_ batch: TokenBatch, labels: [Int32], regularization: Regularization?,
                         reduction: LossReduction) throws -> CausalLMPass {
        guard architecture.head == .languageModel else {
            throw ModelError("causalLM needs a GPT2LMHeadModel, not \(architecture.head)")
        }
        try PredictedTokens.validate(labels, batch, vocabulary: config.vocabSize)
        let h = architecture.hidden, v = architecture.vocabulary, t = batch.tokens

        // Position i is scored against the next token's label, as transformers shifts them.
        let predicted = PredictedTokens(batch: batch.batch, tokens: t, reduction: reduction) { n, i in
            i + 1 < t && labels[n * t + i + 1] != -100 ? labels[n * t + i + 1] : nil
        }
        let decoder = try decode(batch, regularization: regularization, kept: predicted.rows)
        let m = predicted.rows.count
        let rowsIndex = try ops.upload(predicted.rows.map(decoder.packed.packedRow))
        let labelsTensor = try ops.upload(predicted.targets)
        let gathered = try ops.allocate(m * h)
        try backend.embeddingGather(decoder.output, ids: rowsIndex, into: gathered, tokens: m, width: h)
        let logits = try ops.allocate(m * v)
        try backend.gemm(transposeA: false, transposeB: true, m: m, n: v, k: h, alpha: 1, a: gathered, lda: h,
                         b: ops.weight("wte.weight"), ldb: h, beta: 0, c: logits, ldc: v)

        let (dLogits, sampleLosses, loss) = try predicted.crossEntropy(logits, labels: labelsTensor, classes: v, ops: ops,
                                                                       what: "causal-LM loss")
        return CausalLMPass(decoder: decoder, samples: predicted.samples, rowsIndex: rowsIndex, labels: labelsTensor,
                            gathered: gathered, logits: logits, dLogits: dLogits, sampleLosses: sampleLosses,
                            loss: loss, skippedSamples: predicted.skippedSamples)
    }

    /// Backward of `causalLM` through the tied head and the decoder; parameter gradients go to `sink`.
    /// The head's part of the wte gradient is sent first, the wte lookup's last.
    public func causalLMBackward(_ pass: CausalLMPass, sink: GradientSink) throws {
        let h = architecture.hidden, v = architecture.vocabulary
        let m = pass.rowsIndex.count
        try sink.linear(weight: layout.slot("wte.weight"), bias: nil, x: pass.gathered, dY: pass.dLogits,
                        samples: pass.samples, inFeatures: h, outFeatures: v)
        let dGathered = try ops.allocate(m * h)
        try backend.gemm(transposeA: false, transposeB: false, m: m, n: h, k: v, alpha: 1, a: pass.dLogits, lda: v,
                         b: ops.weight("wte.weight"), ldb: h, beta: 0, c: dGathered, ldc: h)
        let dOutput = try ops.allocate(pass.decoder.packed.rows * h)
        // A filler row carries zero gradient (its weight is 0), so scattering it is harmless.
        try backend.scatterAddRows(dGathered, index: pass.rowsIndex, into: dOutput, rows: m, width: h, skip: -1)
        try decoderBackward(pass.decoder, dOutput: dOutput, sink: sink)
    }

    /// Logits at the predicted positions in batch order, flattened [predicted, V]: what
    /// `outputs.logits[:, :-1][labels[:, 1:] != -100]` gives in PyTorch.
    public func predictedLogits(_ pass: CausalLMPass) throws -> [Float] {
        let v = architecture.vocabulary
        let all = try backend.download(pass.logits), targets = try backend.downloadInt32(pass.labels)
        return targets.indices.filter { targets[$0] >= 0 }.flatMap { all[($0 * v)..<(($0 + 1) * v)] }
    }
}

/// The sequence-classification head's forward, kept for its backward.
public final class GPT2ClassificationPass {
    public let decoder: GPT2DecoderPass
    let lastRows: Tensor           // [B] Int32: each sample's last non-padding row, in the packed output
    let lastHidden: Tensor         // [B, H]
    let dLogits: Tensor            // [B, labels]
    /// [B, labels] logits, as `transformers` returns them.
    public let logits: [Float]
    public let sampleLosses: [Float]
    public let loss: Float

    init(decoder: GPT2DecoderPass, lastRows: Tensor, lastHidden: Tensor, dLogits: Tensor, logits: [Float],
         sampleLosses: [Float], loss: Float) {
        self.decoder = decoder
        self.lastRows = lastRows
        self.lastHidden = lastHidden
        self.dLogits = dLogits
        self.logits = logits
        self.sampleLosses = sampleLosses
        self.loss = loss
    }
}

extension GPT2Model {
    /// The token each sample is classified from, as `GPT2ForSequenceClassification` finds it: the
    /// rightmost token that is not `pad_token_id` (`(arange(T) * (ids != pad)).argmax(-1)`, so 0 when
    /// every token is padding); with no pad token, the last position, for a batch of one only.
    public func classificationPositions(_ batch: TokenBatch) throws -> [Int] {
        guard let pad = config.padTokenId else {
            guard batch.batch == 1 else {
                throw ModelError("\(config.path): GPT2ForSequenceClassification cannot handle a batch of "
                    + "\(batch.batch) without \"pad_token_id\" (it finds each sample's last token by it); set "
                    + "pad_token_id in config.json (usually to eos_token_id \(config.eosTokenId))")
            }
            return [batch.tokens - 1]
        }
        return (0..<batch.batch).map { n in
            (0..<batch.tokens).last { batch.inputIds[n * batch.tokens + $0] != Int32(pad) } ?? 0
        }
    }

    /// `GPT2ForSequenceClassification`: `score` (no bias) on ln_f's output at each sample's last
    /// non-padding token; cross-entropy over class indices, or MSE for regression (`labels` hold the
    /// targets). No dropout after the decoder (the class has none).
    public func classify(_ batch: TokenBatch, labels: [Float], regularization: Regularization?,
                         reduction: LossReduction) throws -> GPT2ClassificationPass {
        guard case let .sequenceClassification(classes, regression) = architecture.head else {
            throw ModelError("classify needs a GPT2ForSequenceClassification, not \(architecture.head)")
        }
        guard labels.count == batch.batch else { throw ModelError("\(labels.count) labels for a batch of \(batch.batch)") }
        if !regression, let bad = labels.first(where: { $0 < 0 || Int($0) >= classes || $0 != $0.rounded() }) {
            throw ModelError("label \(bad) is not a class index below \(classes)")
        }
        let positions = try classificationPositions(batch)
        let last = positions.enumerated().map { Int32($0.offset * batch.tokens + $0.element) }
        let decoder = try decode(batch, regularization: regularization, kept: last)
        let h = architecture.hidden, b = batch.batch
        let lastRows = try ops.upload(last.map(decoder.packed.packedRow))
        let lastHidden = try ops.allocate(b * h)
        try backend.embeddingGather(decoder.output, ids: lastRows, into: lastHidden, tokens: b, width: h)
        let logitsTensor = try ops.allocate(b * classes)
        try ops.linear(lastHidden, "score", into: logitsTensor, rows: b, inFeatures: h, outFeatures: classes, bias: false)
        let result = try ClassifierLoss(logitsTensor, labels: labels, batch: b, classes: classes, regression: regression,
                                        reduction: reduction, ops: ops, what: "score logits")
        return GPT2ClassificationPass(decoder: decoder, lastRows: lastRows, lastHidden: lastHidden, dLogits: result.dLogits,
                                      logits: result.logits, sampleLosses: result.sampleLosses, loss: result.loss)
    }

    public func classifyBackward(_ pass: GPT2ClassificationPass, sink: GradientSink) throws {
        guard case let .sequenceClassification(classes, _) = architecture.head else { return }
        let h = architecture.hidden, b = pass.decoder.batch.batch
        let dLast = try ops.allocate(b * h)
        try ops.linearBackward("score", x: pass.lastHidden, dY: pass.dLogits, dx: dLast, batch: b, tokens: 1,
                               inFeatures: h, outFeatures: classes, sink: sink, bias: false)
        let dOutput = try ops.allocate(pass.decoder.packed.rows * h)
        try backend.scatterAddRows(dLast, index: pass.lastRows, into: dOutput, rows: b, width: h, skip: -1)
        try decoderBackward(pass.decoder, dOutput: dOutput, sink: sink)
    }
}
