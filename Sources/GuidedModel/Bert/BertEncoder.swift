import GuidedCompute

/// What one layer keeps from its forward for its backward.
struct LayerActivations {
    let input: Tensor              // [rows, H]: the previous layer's output
    let qh, kh, vh: Tensor         // [B, heads, T, D]
    let probs, dropped: Tensor     // [B, heads, T, T]
    let context: Tensor            // [rows, H]: attention output before its dense
    let residual1: Tensor          // [rows, H]: attention dense (regularized) + input
    let norm1: LayerNormSaved
    let hidden1: Tensor            // [rows, H]: LayerNorm 1 output
    let intermediate: Tensor       // [rows, I]: before GELU
    let activated: Tensor          // [rows, I]: after GELU
    let residual2: Tensor          // [rows, H]: output dense (regularized) + hidden1
    let norm2: LayerNormSaved
    let output: Tensor             // [rows, H]
}

/// One forward pass of the encoder over a batch: its activations, kept for the backward.
public final class EncoderPass {
    public let batch: TokenBatch
    let regularization: Regularization?
    let attention: AttentionShape
    let mask: Tensor                // [B, T] additive
    let embeddingSum: Tensor        // [rows, H]: word + position + type
    let embeddingNorm: LayerNormSaved
    var layers: [LayerActivations] = []
    /// The last layer's output [rows, H].
    public internal(set) var output: Tensor

    init(batch: TokenBatch, regularization: Regularization?, attention: AttentionShape, mask: Tensor,
         embeddingSum: Tensor, embeddingNorm: LayerNormSaved, output: Tensor) {
        self.batch = batch
        self.regularization = regularization
        self.attention = attention
        self.mask = mask
        self.embeddingSum = embeddingSum
        self.embeddingNorm = embeddingNorm
        self.output = output
    }
}

extension BertModel {
    /// The encoder forward: embeddings, then every layer, keeping activations for `encoderBackward`.
    public func encode(_ batch: TokenBatch, regularization: Regularization?) throws -> EncoderPass {
        let a = architecture, rows = batch.rows, h = a.hidden
        let mask = try ops.checkedAttentionMask(batch, positions: config.maxPositionEmbeddings,
                                                positionsKey: "max_position_embeddings", vocabulary: config.vocabSize)
        if let bad = batch.tokenTypeIds.first(where: { $0 < 0 || Int($0) >= config.typeVocabSize }) {
            throw ModelError("token type id \(bad) outside type_vocab_size \(config.typeVocabSize)")
        }
        let shape = AttentionShape(batch: batch.batch, heads: a.heads, tokens: batch.tokens, headDim: a.headDim)

        let sum = try ops.uninitialized(rows * h), scratch = try ops.uninitialized(rows * h)
        try backend.embeddingGather(ops.weight("embeddings.word_embeddings.weight"), ids: ops.upload(batch.inputIds),
                                    into: sum, tokens: rows, width: h)
        let positions = (0..<rows).map { Int32($0 % batch.tokens) }
        try backend.embeddingGather(ops.weight("embeddings.position_embeddings.weight"), ids: ops.upload(positions),
                                    into: scratch, tokens: rows, width: h)
        try backend.add(sum, scratch, into: sum)
        try backend.embeddingGather(ops.weight("embeddings.token_type_embeddings.weight"), ids: ops.upload(batch.tokenTypeIds),
                                    into: scratch, tokens: rows, width: h)
        try backend.add(sum, scratch, into: sum)
        let norm = try LayerNormSaved(ops, rows: rows)
        let normalized = try ops.uninitialized(rows * h)
        try ops.layerNorm(sum, "embeddings.LayerNorm", into: normalized, saved: norm, rows: rows, width: h)
        var x = try ops.regularize(normalized, into: scratch, site: a.site(.embeddings), regularization)

        let pass = EncoderPass(batch: batch, regularization: regularization, attention: shape, mask: mask,
                               embeddingSum: sum, embeddingNorm: norm, output: x)
        for layer in 0..<a.layers {
            let activations = try layerForward(layer, input: x, pass: pass)
            pass.layers.append(activations)
            x = activations.output
        }
        pass.output = x
        return pass
    }

    private func layerForward(_ layer: Int, input x: Tensor, pass: EncoderPass) throws -> LayerActivations {
        let a = architecture, s = pass.attention, rows = pass.batch.rows, h = a.hidden, i = a.intermediate
        let p = "encoder.layer.\(layer)."
        let reg = pass.regularization
        let flat = try ops.uninitialized(rows * h)
        func projectHeads(_ name: String) throws -> Tensor {
            try ops.linear(x, p + "attention.self." + name, into: flat, rows: rows, inFeatures: h, outFeatures: h)
            let heads = try ops.uninitialized(rows * h)
            try backend.permute0213(flat, into: heads, s.batch, s.tokens, s.heads, s.headDim)
            return heads
        }
        let qh = try projectHeads("query"), kh = try projectHeads("key"), vh = try projectHeads("value")
        let scores = try ops.uninitialized(s.scoresCount), probs = try ops.uninitialized(s.scoresCount)
        let noise = reg.flatMap { r in r.active(a.site(.attentionProbabilities(layer: layer))).map { ($0, r) } }
        let dropped = noise == nil ? probs : try ops.uninitialized(s.scoresCount)
        let site = a.site(.attentionProbabilities(layer: layer))
        try backend.attentionForward(q: qh, k: kh, v: vh, mask: pass.mask, shape: s, causal: false,
                                     dropout: noise.map { AttentionDropout(noise: $0.0, key: $0.1.key(site)) },
                                     scores: scores, probs: probs, dropped: dropped, out: flat)
        let context = try ops.uninitialized(rows * h)
        try backend.permute0213(flat, into: context, s.batch, s.heads, s.tokens, s.headDim)

        let dense = try ops.uninitialized(rows * h), residual1 = try ops.uninitialized(rows * h)
        try ops.linear(context, p + "attention.output.dense", into: dense, rows: rows, inFeatures: h, outFeatures: h)
        let attended = try ops.regularize(dense, into: dense, site: a.site(.attentionOutput(layer: layer)), reg)
        try backend.add(attended, x, into: residual1)
        let norm1 = try LayerNormSaved(ops, rows: rows), hidden1 = try ops.uninitialized(rows * h)
        try ops.layerNorm(residual1, p + "attention.output.LayerNorm", into: hidden1, saved: norm1, rows: rows, width: h)

        let intermediate = try ops.uninitialized(rows * i), activated = try ops.uninitialized(rows * i)
        try ops.linear(hidden1, p + "intermediate.dense", into: intermediate, rows: rows, inFeatures: h, outFeatures: i)
        try backend.geluForward(intermediate, into: activated, form: a.geluForm)
        let out = try ops.uninitialized(rows * h), residual2 = try ops.uninitialized(rows * h)
        try ops.linear(activated, p + "output.dense", into: out, rows: rows, inFeatures: i, outFeatures: h)
        let regularized = try ops.regularize(out, into: out, site: a.site(.output(layer: layer)), reg)
        try backend.add(regularized, hidden1, into: residual2)
        let norm2 = try LayerNormSaved(ops, rows: rows)
        try ops.layerNorm(residual2, p + "output.LayerNorm", into: out, saved: norm2, rows: rows, width: h)
        return LayerActivations(input: x, qh: qh, kh: kh, vh: vh, probs: probs, dropped: dropped, context: context,
                                residual1: residual1, norm1: norm1, hidden1: hidden1, intermediate: intermediate,
                                activated: activated, residual2: residual2, norm2: norm2, output: out)
    }

    /// The encoder backward from `dOutput` (the gradient of the last layer's output, [rows, H];
    /// overwritten), down to the embedding tables. Parameter gradients go to `sink`.
    public func encoderBackward(_ pass: EncoderPass, dOutput: Tensor, sink: GradientSink) throws {
        let a = architecture, rows = pass.batch.rows, h = a.hidden
        var dy = dOutput
        var spare = try ops.uninitialized(rows * h)
        for layer in (0..<a.layers).reversed() {
            try layerBackward(layer, pass.layers[layer], dOutput: dy, dInput: spare, pass: pass, sink: sink)
            swap(&dy, &spare)
        }
        // Embeddings: dropout, LayerNorm, then the three lookups.
        try ops.regularizeBackward(dy, site: a.site(.embeddings), pass.regularization)
        let dSum = spare
        try ops.layerNormBackward("embeddings.LayerNorm", dY: dy, x: pass.embeddingSum, saved: pass.embeddingNorm, dx: dSum,
                              batch: pass.batch.batch, tokens: pass.batch.tokens, width: h, sink: sink)
        let b = pass.batch
        try sink.embedding(table: layout.slot("embeddings.word_embeddings.weight"), ids: b.inputIds, dOut: dSum,
                           batch: b.batch, tokens: b.tokens, excludedRow: Int32(config.padTokenId))
        try sink.embedding(table: layout.slot("embeddings.position_embeddings.weight"),
                           ids: (0..<rows).map { Int32($0 % b.tokens) }, dOut: dSum,
                           batch: b.batch, tokens: b.tokens, excludedRow: nil)
        try sink.embedding(table: layout.slot("embeddings.token_type_embeddings.weight"), ids: b.tokenTypeIds,
                           dOut: dSum, batch: b.batch, tokens: b.tokens, excludedRow: nil)
    }

    /// One layer's backward: `dOutput` (overwritten as scratch) → `dInput`.
    private func layerBackward(_ layer: Int, _ act: LayerActivations, dOutput: Tensor, dInput: Tensor,
                               pass: EncoderPass, sink: GradientSink) throws {
        let a = architecture, s = pass.attention, b = pass.batch.batch, t = pass.batch.tokens
        let rows = b * t, h = a.hidden, i = a.intermediate
        let p = "encoder.layer.\(layer)."
        let reg = pass.regularization

        // Output LayerNorm; its input was dropout(output dense) + hidden1.
        let dHidden1 = try ops.uninitialized(rows * h)
        try ops.layerNormBackward(p + "output.LayerNorm", dY: dOutput, x: act.residual2, saved: act.norm2, dx: dHidden1,
                              batch: b, tokens: t, width: h, sink: sink)
        let dDense = dOutput
        try backend.copy(dHidden1, to: dDense)
        try ops.regularizeBackward(dDense, site: a.site(.output(layer: layer)), reg)
        let dActivated = try ops.uninitialized(rows * i)
        try ops.linearBackward(p + "output.dense", x: act.activated, dY: dDense, dx: dActivated, batch: b, tokens: t,
                           inFeatures: i, outFeatures: h, sink: sink)
        try backend.geluBackward(act.intermediate, output: act.activated, dActivated, into: dActivated, form: a.geluForm)
        try ops.linearBackward(p + "intermediate.dense", x: act.hidden1, dY: dActivated, dx: dHidden1, batch: b, tokens: t,
                           inFeatures: h, outFeatures: i, sink: sink, accumulate: true)

        // Attention LayerNorm; its input was dropout(attention dense) + the layer input.
        try ops.layerNormBackward(p + "attention.output.LayerNorm", dY: dHidden1, x: act.residual1, saved: act.norm1,
                              dx: dInput, batch: b, tokens: t, width: h, sink: sink)
        let dAttended = dHidden1
        try backend.copy(dInput, to: dAttended)
        try ops.regularizeBackward(dAttended, site: a.site(.attentionOutput(layer: layer)), reg)
        let dContext = dOutput
        try ops.linearBackward(p + "attention.output.dense", x: act.context, dY: dAttended, dx: dContext, batch: b,
                           tokens: t, inFeatures: h, outFeatures: h, sink: sink)

        let dHeads = try ops.uninitialized(rows * h)
        try backend.permute0213(dContext, into: dHeads, s.batch, s.tokens, s.heads, s.headDim)
        let dq = try ops.uninitialized(rows * h), dk = try ops.uninitialized(rows * h), dv = try ops.uninitialized(rows * h)
        let dScores = try ops.uninitialized(s.scoresCount)
        let site = a.site(.attentionProbabilities(layer: layer))
        let noise = reg.flatMap { r in r.active(site).map { AttentionDropout(noise: $0, key: r.key(site)) } }
        try backend.attentionBackward(dOut: dHeads, q: act.qh, k: act.kh, v: act.vh, shape: s, dropout: noise,
                                      probs: act.probs, dropped: act.dropped, dScores: dScores, dq: dq, dk: dk, dv: dv)
        // Back to [rows, H] and through the three projections, each adding into dInput.
        for (name, dHead) in [("query", dq), ("key", dk), ("value", dv)] {
            try backend.permute0213(dHead, into: dHeads, s.batch, s.heads, s.tokens, s.headDim)
            try ops.linearBackward(p + "attention.self." + name, x: act.input, dY: dHeads, dx: dInput, batch: b, tokens: t,
                               inFeatures: h, outFeatures: h, sink: sink, accumulate: true)
        }
    }
}
