import GuidedCompute

/// The output positions a language-model loss scores, with each one's cross-entropy weight under a
/// `LossReduction`: what BERT's masked LM and GPT-2's causal LM share. Only these rows go through
/// the vocabulary projection, packed sample after sample without padding (`samples` says whose
/// each is): a batch's samples score different numbers of tokens, and padding them all to the most
/// would add vocabulary-wide rows to the logits, their gradient and the tied head's squares.
struct PredictedTokens {
    /// Per sample: the output positions that are scored.
    let positions: [[Int]]
    /// Sample n's scored positions are packed rows `samples[n]`.
    let samples: SampleRows
    /// [packed]: the output row (n · tokens + position) of each packed row. At least one row: a batch
    /// with nothing scored keeps one filler row (output row 0, no target, weight 0), so that every
    /// op still sees a non-empty tensor.
    let rows: [Int32]
    /// [packed]: the target of each row, −1 on the filler row.
    let targets: [Int32]
    /// [packed]: 1/total (batch mean) or 1/count-in-sample (per-sample mean); 0 on the filler row.
    let weights: [Float]
    /// Slots per sample where a head works on the scored positions padded per sample (BERT's
    /// transform, whose per-sample Fisher wants even samples; only hidden-wide): the most any
    /// sample has, at least 1.
    let perSample: Int
    /// [batch · perSample]: the output row of each padded slot (padding slots: the sample's row 0).
    let slotRows: [Int32]
    /// [packed]: the padded slot (n · perSample + k) of each packed row.
    let slots: [Int32]

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
        samples = SampleRows(counts: positions.map(\.count))
        perSample = max(1, positions.map(\.count).max() ?? 1)
        let total = samples.total
        var rows: [Int32] = [], targets: [Int32] = [], weights: [Float] = [], slots: [Int32] = []
        var slotRows = [Int32](repeating: 0, count: batch * perSample)
        for (n, list) in positions.enumerated() {
            for k in 0..<perSample { slotRows[n * perSample + k] = Int32(n * tokens + (k < list.count ? list[k] : 0)) }
            for (k, position) in list.enumerated() {
                rows.append(Int32(n * tokens + position))
                slots.append(Int32(n * perSample + k))
                targets.append(target(n, position)!)
                switch reduction {
                case .batchMean: weights.append(1 / Float(total))
                case .perSampleMean: weights.append(1 / Float(list.count))
                }
            }
        }
        if total == 0 && batch > 0 { (rows, slots, targets, weights) = ([0], [0], [-1], [0]) }
        (self.rows, self.targets, self.weights, self.slotRows, self.slots) = (rows, targets, weights, slotRows, slots)
    }

    /// Scored rows in the whole batch.
    var total: Int { samples.total }

    var skippedSamples: Int { positions.filter(\.isEmpty).count }

    /// Softmax cross-entropy of `logits` [packed rows, classes] against `labels` (the uploaded `targets`):
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
        for n in 0..<samples.count {
            let own = samples[n]
            let s = own.reduce(0.0) { $0 + Double(rowLosses[$1]) }
            sum += s
            sampleLosses.append(own.isEmpty ? nil : Float(s / Double(own.count)))
        }
        return (dLogits, sampleLosses, total > 0 ? Float(sum / Double(total)) : 0)
    }
}
