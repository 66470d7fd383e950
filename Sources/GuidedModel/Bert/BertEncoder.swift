import GuidedCompute

/// What one layer keeps from its forward for its backward. Rows are the encoder's packed rows
/// (`PackedTokens`), or after the attention the rows read (`read`).
struct LayerActivations {
    let input: Tensor              // [rows, H]: the previous layer's output
    let qh, kh, vh: Tensor         // [B, heads, T, D]
    let probs, dropped: Tensor     // [B, heads, T, T]
    /// Where the part after the attention ran on only the rows a head reads (the last layer, see
    /// `OutputRows`); the tensors below are then at those rows, [read rows, ·], not [rows, ·].
    let read: OutputRows?
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

/// The rows of the encoder output a head reads, when it reads only some (the masked-LM head reads
/// the predicted positions, the classifier each sample's first), padded per sample: `perSample`
/// slots for each sample of the batch. A padding slot repeats one of its sample's rows and must
/// receive no gradient.
///
/// Only these rows of the last layer reach the loss. Its keys and values need every row, so its
/// attention runs in full; everything after (attention dense, LayerNorm, feed-forward, LayerNorm:
/// three quarters of a layer's weights) runs on these rows only. The rows left out would get zero
/// gradient, so per-sample gradients and squares are unchanged; MiniLM's masked LM predicts about
/// 7 of 50 positions, which saves about a tenth of the Fisher's arithmetic. Noise there (training)
/// is drawn for the rows computed only: each element's is independent, so the rows left out would
/// have drawn numbers that nothing reads.
public struct OutputRows: Sendable {
    /// [batch · perSample]: the row of the padded batch (n · tokens + position) each slot reads.
    public let rows: [Int32]
    public let perSample: Int
    public var count: Int { rows.count }

    public init(rows: [Int32], perSample: Int) {
        precondition(perSample > 0 && rows.count % perSample == 0, "OutputRows: \(rows.count) rows, \(perSample) per sample")
        self.rows = rows
        self.perSample = perSample
    }
}

/// One forward pass of the encoder over a batch: its activations, kept for the backward.
public final class EncoderPass {
    public let batch: TokenBatch
    /// The batch's rows without their padding: the tensors below (but the attention's, and the
    /// last layer's after a trim to `read`) are over these.
    let packed: PackedTokens
    let regularization: Regularization?
    let attention: AttentionShape
    let mask: Tensor                // [B, T] additive
    let embeddingSum: Tensor        // [rows, H]: word + position + type
    let embeddingNorm: LayerNormSaved
    var layers: [LayerActivations] = []
    /// The rows the head reads, when it reads only some, and [read.count] their packed rows.
    let read: OutputRows?
    let readIndex: Tensor?
    /// The last layer's output: [packed rows, H], or [read.count, H] at the rows read.
    public internal(set) var output: Tensor
    /// The row of the padded batch (n · tokens + position) that each row of `output` is.
    public var outputRows: [Int32] { read?.rows ?? packed.paddedRows }

    init(batch: TokenBatch, packed: PackedTokens, regularization: Regularization?, attention: AttentionShape,
         mask: Tensor, embeddingSum: Tensor, embeddingNorm: LayerNormSaved, read: OutputRows?, readIndex: Tensor?,
         output: Tensor) {
        self.batch = batch
        self.packed = packed
        self.regularization = regularization
        self.attention = attention
        self.mask = mask
        self.embeddingSum = embeddingSum
        self.embeddingNorm = embeddingNorm
        self.read = read
        self.readIndex = readIndex
        self.output = output
    }
}

extension BertModel {
    /// The encoder forward: embeddings, then every layer, keeping activations for `encoderBackward`.
    /// Its rows are the batch's packed without padding (`PackedTokens`); with `read`, the output is
    /// only at those rows.
    public func encode(_ batch: TokenBatch, regularization: Regularization?, read: OutputRows? = nil) throws -> EncoderPass {
        let a = architecture, h = a.hidden
        let mask = try ops.checkedAttentionMask(batch, positions: config.maxPositionEmbeddings,
                                                positionsKey: "max_position_embeddings", vocabulary: config.vocabSize)
        if let bad = batch.tokenTypeIds.first(where: { $0 < 0 || Int($0) >= config.typeVocabSize }) {
            throw ModelError("token type id \(bad) outside type_vocab_size \(config.typeVocabSize)")
        }
        let shape = AttentionShape(batch: batch.batch, heads: a.heads, tokens: batch.tokens, headDim: a.headDim)
        let packed = PackedTokens(batch, kept: read?.rows ?? [], trim: encoderPacksRows)
        let rows = packed.rows

        let sum = try ops.uninitialized(rows * h), scratch = try ops.uninitialized(rows * h)
        try backend.embeddingGather(ops.weight("embeddings.word_embeddings.weight"), ids: ops.upload(packed.pack(batch.inputIds)),
                                    into: sum, tokens: rows, width: h)
        try backend.embeddingGather(ops.weight("embeddings.position_embeddings.weight"), ids: ops.upload(packed.positions),
                                    into: scratch, tokens: rows, width: h)
        try backend.add(sum, scratch, into: sum)
        try backend.embeddingGather(ops.weight("embeddings.token_type_embeddings.weight"),
                                    ids: ops.upload(packed.pack(batch.tokenTypeIds)), into: scratch, tokens: rows, width: h)
        try backend.add(sum, scratch, into: sum)
        let norm = try LayerNormSaved(ops, rows: rows)
        let normalized = try ops.uninitialized(rows * h)
        try ops.layerNorm(sum, "embeddings.LayerNorm", into: normalized, saved: norm, rows: rows, width: h)
        var x = try ops.regularize(normalized, into: scratch, site: a.site(.embeddings), regularization)

        let readIndex = try read.map { try ops.upload($0.rows.map(packed.packedRow)) }
        let pass = EncoderPass(batch: batch, packed: packed, regularization: regularization, attention: shape, mask: mask,
                               embeddingSum: sum, embeddingNorm: norm, read: read, readIndex: readIndex, output: x)
        for layer in 0..<a.layers {
            let rowsAfterAttention = layer == a.layers - 1 && lastLayerRunsReadRowsOnly ? read : nil
            let activations = try layerForward(layer, input: x, read: rowsAfterAttention, pass: pass)
            pass.layers.append(activations)
            x = activations.output
        }
        if let read, let readIndex, pass.layers.last?.read == nil {
            let gathered = try ops.uninitialized(read.count * h)
            try backend.embeddingGather(x, ids: readIndex, into: gathered, tokens: read.count, width: h)
            x = gathered
        }
        pass.output = x
        return pass
    }

    /// One layer; with `read`, everything after the attention runs on those rows only.
    private func layerForward(_ layer: Int, input x: Tensor, read: OutputRows?, pass: EncoderPass) throws -> LayerActivations {
        let a = architecture, s = pass.attention, h = a.hidden, i = a.intermediate
        let packed = pass.packed.samples, rows = packed.total
        let p = "encoder.layer.\(layer)."
        let reg = pass.regularization
        let flat = try ops.uninitialized(rows * h)
        func projectHeads(_ name: String) throws -> Tensor {
            try ops.linear(x, p + "attention.self." + name, into: flat, rows: rows, inFeatures: h, outFeatures: h)
            let heads = try ops.uninitialized(s.batch * s.tokens * h)
            try backend.packedRowsToHeads(flat, into: heads, samples: packed, tokens: s.tokens, heads: s.heads,
                                          headDim: s.headDim)
            return heads
        }
        let qh = try projectHeads("query"), kh = try projectHeads("key"), vh = try projectHeads("value")
        let scores = try ops.uninitialized(s.scoresCount), probs = try ops.uninitialized(s.scoresCount)
        let noise = reg.flatMap { r in r.active(a.site(.attentionProbabilities(layer: layer))).map { ($0, r) } }
        let dropped = noise == nil ? probs : try ops.uninitialized(s.scoresCount)
        let site = a.site(.attentionProbabilities(layer: layer))
        let headsOut = try ops.uninitialized(s.batch * s.tokens * h)
        try backend.attentionForward(q: qh, k: kh, v: vh, mask: pass.mask, shape: s, causal: false,
                                     dropout: noise.map { AttentionDropout(noise: $0.0, key: $0.1.key(site)) },
                                     scores: scores, probs: probs, dropped: dropped, out: headsOut)
        // The packed context reuses `flat`, free once the projections are in head layout.
        var context = flat, residualInput = x
        try backend.headsToPackedRows(headsOut, into: context, samples: packed, tokens: s.tokens, heads: s.heads,
                                      headDim: s.headDim)
        // The part after the attention: every packed row, or only the rows read.
        var partRows = rows
        if let read, let index = pass.readIndex {
            partRows = read.count
            (context, residualInput) = (try ops.uninitialized(partRows * h), try ops.uninitialized(partRows * h))
            try backend.embeddingGather(flat, ids: index, into: context, tokens: partRows, width: h)
            try backend.embeddingGather(x, ids: index, into: residualInput, tokens: partRows, width: h)
        }

        let dense = try ops.uninitialized(partRows * h), residual1 = try ops.uninitialized(partRows * h)
        try ops.linear(context, p + "attention.output.dense", into: dense, rows: partRows, inFeatures: h, outFeatures: h)
        let attended = try ops.regularize(dense, into: dense, site: a.site(.attentionOutput(layer: layer)), reg)
        try backend.add(attended, residualInput, into: residual1)
        let norm1 = try LayerNormSaved(ops, rows: partRows), hidden1 = try ops.uninitialized(partRows * h)
        try ops.layerNorm(residual1, p + "attention.output.LayerNorm", into: hidden1, saved: norm1, rows: partRows, width: h)

        let intermediate = try ops.uninitialized(partRows * i), activated = try ops.uninitialized(partRows * i)
        try ops.linear(hidden1, p + "intermediate.dense", into: intermediate, rows: partRows, inFeatures: h, outFeatures: i)
        try backend.geluForward(intermediate, into: activated, form: a.geluForm)
        let out = try ops.uninitialized(partRows * h), residual2 = try ops.uninitialized(partRows * h)
        try ops.linear(activated, p + "output.dense", into: out, rows: partRows, inFeatures: i, outFeatures: h)
        let regularized = try ops.regularize(out, into: out, site: a.site(.output(layer: layer)), reg)
        try backend.add(regularized, hidden1, into: residual2)
        let norm2 = try LayerNormSaved(ops, rows: partRows)
        try ops.layerNorm(residual2, p + "output.LayerNorm", into: out, saved: norm2, rows: partRows, width: h)
        return LayerActivations(input: x, qh: qh, kh: kh, vh: vh, probs: probs, dropped: dropped, read: read, context: context,
                                residual1: residual1, norm1: norm1, hidden1: hidden1, intermediate: intermediate,
                                activated: activated, residual2: residual2, norm2: norm2, output: out)
    }

    /// The encoder backward from `dOutput` (the gradient of the encoder's output: [packed rows, H],
    /// or [read.count, H] when it was read at some rows only; overwritten), down to the embedding
    /// tables. Parameter gradients go to `sink`.
    public func encoderBackward(_ pass: EncoderPass, dOutput: Tensor, sink: GradientSink) throws {
        let a = architecture, rows = pass.packed.rows, h = a.hidden
        var dy = dOutput
        if let read = pass.read, let index = pass.readIndex, pass.layers.last?.read == nil {
            dy = try ops.allocate(rows * h)
            try backend.scatterAddRows(dOutput, index: index, into: dy, rows: read.count, width: h, skip: -1)
        }
        var spare = try ops.uninitialized(rows * h)
        for layer in (0..<a.layers).reversed() {
            try layerBackward(layer, pass.layers[layer], dOutput: dy, dInput: spare, pass: pass, sink: sink)
            swap(&dy, &spare)
            // After a trimmed last layer, `spare` is the caller's [read.count, H]: not a layer's size.
            if spare.count != rows * h { spare = try ops.uninitialized(rows * h) }
        }
        // Embeddings: dropout, LayerNorm, then the three lookups.
        try ops.regularizeBackward(dy, site: a.site(.embeddings), pass.regularization)
        let dSum = spare
        try ops.layerNormBackward("embeddings.LayerNorm", dY: dy, x: pass.embeddingSum, saved: pass.embeddingNorm, dx: dSum,
                                  samples: pass.packed.samples, width: h, sink: sink)
        // The lookups' sinks see the padded batch; padding rows have no gradient.
        let b = pass.batch
        let dPadded = try ops.padded(dSum, pass.packed, width: h)
        try sink.embedding(table: layout.slot("embeddings.word_embeddings.weight"), ids: b.inputIds, dOut: dPadded,
                           batch: b.batch, tokens: b.tokens, excludedRow: Int32(config.padTokenId))
        try sink.embedding(table: layout.slot("embeddings.position_embeddings.weight"),
                           ids: b.positions, dOut: dPadded,
                           batch: b.batch, tokens: b.tokens, excludedRow: nil)
        try sink.embedding(table: layout.slot("embeddings.token_type_embeddings.weight"), ids: b.tokenTypeIds,
                           dOut: dPadded, batch: b.batch, tokens: b.tokens, excludedRow: nil)
    }

    /// One layer's backward: `dOutput` (overwritten as scratch; [read.count, H] when the layer ran
    /// its part after the attention on the read rows only) → `dInput` [packed rows, H].
    private func layerBackward(_ layer: Int, _ act: LayerActivations, dOutput: Tensor, dInput: Tensor,
                               pass: EncoderPass, sink: GradientSink) throws {
        let a = architecture, s = pass.attention, packed = pass.packed.samples
        let rows = packed.total, h = a.hidden, i = a.intermediate
        let p = "encoder.layer.\(layer)."
        let reg = pass.regularization
        // Each sample's rows in the part after the attention.
        let part = act.read.map { SampleRows.uniform(batch: s.batch, tokens: $0.perSample) } ?? packed
        let partRows = part.total

        // Output LayerNorm; its input was dropout(output dense) + hidden1.
        let dHidden1 = try ops.uninitialized(partRows * h)
        try ops.layerNormBackward(p + "output.LayerNorm", dY: dOutput, x: act.residual2, saved: act.norm2, dx: dHidden1,
                                  samples: part, width: h, sink: sink)
        let dDense = dOutput
        try backend.copy(dHidden1, to: dDense)
        try ops.regularizeBackward(dDense, site: a.site(.output(layer: layer)), reg)
        let dActivated = try ops.uninitialized(partRows * i)
        try ops.linearBackward(p + "output.dense", x: act.activated, dY: dDense, dx: dActivated, samples: part,
                               inFeatures: i, outFeatures: h, sink: sink)
        try backend.geluBackward(act.intermediate, output: act.activated, dActivated, into: dActivated, form: a.geluForm)
        try ops.linearBackward(p + "intermediate.dense", x: act.hidden1, dY: dActivated, dx: dHidden1, samples: part,
                               inFeatures: h, outFeatures: i, sink: sink, accumulate: true)

        // Attention LayerNorm; its input was dropout(attention dense) + the layer input.
        let dResidual = act.read == nil ? dInput : try ops.uninitialized(partRows * h)
        try ops.layerNormBackward(p + "attention.output.LayerNorm", dY: dHidden1, x: act.residual1, saved: act.norm1,
                                  dx: dResidual, samples: part, width: h, sink: sink)
        let dAttended = dHidden1
        try backend.copy(dResidual, to: dAttended)
        try ops.regularizeBackward(dAttended, site: a.site(.attentionOutput(layer: layer)), reg)
        var dContext = dOutput
        try ops.linearBackward(p + "attention.output.dense", x: act.context, dY: dAttended, dx: dContext, samples: part,
                               inFeatures: h, outFeatures: h, sink: sink)
        if let read = act.read, let index = pass.readIndex {
            // Back to every row; the rows left out had no gradient.
            let dReadContext = dContext
            dContext = try ops.allocate(rows * h)
            try backend.scatterAddRows(dReadContext, index: index, into: dContext, rows: read.count, width: h, skip: -1)
            try backend.fill(dInput, with: 0)
            try backend.scatterAddRows(dResidual, index: index, into: dInput, rows: read.count, width: h, skip: -1)
        }

        // Padding positions get zero gradient as queries; as keys the mask gave them none.
        let headsCount = s.batch * s.tokens * h
        let dHeads = try ops.uninitialized(headsCount)
        try backend.packedRowsToHeads(dContext, into: dHeads, samples: packed, tokens: s.tokens, heads: s.heads,
                                      headDim: s.headDim)
        let dq = try ops.uninitialized(headsCount), dk = try ops.uninitialized(headsCount)
        let dv = try ops.uninitialized(headsCount)
        let dScores = try ops.uninitialized(s.scoresCount)
        let site = a.site(.attentionProbabilities(layer: layer))
        let noise = reg.flatMap { r in r.active(site).map { AttentionDropout(noise: $0, key: r.key(site)) } }
        try backend.attentionBackward(dOut: dHeads, q: act.qh, k: act.kh, v: act.vh, shape: s, dropout: noise,
                                      probs: act.probs, dropped: act.dropped, dScores: dScores, dq: dq, dk: dk, dv: dv)
        // Back to the packed rows and through the three projections, each adding into dInput.
        let dProjection = try ops.uninitialized(rows * h)
        for (name, dHead) in [("query", dq), ("key", dk), ("value", dv)] {
            try backend.headsToPackedRows(dHead, into: dProjection, samples: packed, tokens: s.tokens, heads: s.heads,
                                          headDim: s.headDim)
            try ops.linearBackward(p + "attention.self." + name, x: act.input, dY: dProjection, dx: dInput, samples: packed,
                                   inFeatures: h, outFeatures: h, sink: sink, accumulate: true)
        }
    }
}
