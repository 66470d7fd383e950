import GuidedCompute

/// What one GPT-2 block keeps from its forward for its backward. Rows are the decoder's packed
/// rows (`PackedTokens`: each sample's positions without its trailing padding).
struct GPT2BlockActivations {
    let input: Tensor              // [rows, H]: the residual stream entering the block
    let norm1: LayerNormSaved
    let ln1: Tensor                // [rows, H]: ln_1 output, c_attn's input
    let qh, kh, vh: Tensor         // [B, heads, T, D]
    let probs, dropped: Tensor     // [B, heads, T, T]
    let context: Tensor            // [rows, H]: attention output, c_proj's input
    let residual1: Tensor          // [rows, H]: input + dropout(attn.c_proj)
    let norm2: LayerNormSaved
    let ln2: Tensor                // [rows, H]: ln_2 output, c_fc's input
    let fc: Tensor                 // [rows, I]: before GELU
    let activated: Tensor          // [rows, I]: after GELU, mlp.c_proj's input
    let output: Tensor             // [rows, H]: residual1 + dropout(mlp.c_proj)
}

/// One forward pass of the decoder stack over a batch: its activations, kept for the backward.
public final class GPT2DecoderPass {
    public let batch: TokenBatch
    /// The batch's rows without their trailing padding: every tensor but the attention's is over these.
    let packed: PackedTokens
    let regularization: Regularization?
    let attention: AttentionShape
    let mask: Tensor               // [B, T] additive padding mask
    var blocks: [GPT2BlockActivations] = []
    let finalInput: Tensor         // [rows, H]: the last block's output, ln_f's input
    let finalNorm: LayerNormSaved
    /// ln_f's output [packed rows, H]: what the heads read.
    public let output: Tensor
    /// The row of the padded batch (n · tokens + position) that each row of `output` is.
    public var outputRows: [Int32] { packed.paddedRows }

    init(batch: TokenBatch, packed: PackedTokens, regularization: Regularization?, attention: AttentionShape,
         mask: Tensor, blocks: [GPT2BlockActivations], finalInput: Tensor, finalNorm: LayerNormSaved, output: Tensor) {
        self.batch = batch
        self.packed = packed
        self.regularization = regularization
        self.attention = attention
        self.mask = mask
        self.blocks = blocks
        self.finalInput = finalInput
        self.finalNorm = finalNorm
        self.output = output
    }
}

extension GPT2Model {
    /// The decoder forward: wte + wpe (positions 0..<T), dropout, every block, ln_f. Token type ids
    /// are ignored (GPT-2 tokenizers give none). Padding is masked by `attentionMask` on top of the
    /// causal mask, as `transformers` does for a right-padded batch. The blocks run on the batch's
    /// rows packed without trailing padding (`PackedTokens`), keeping `kept` (rows of the padded
    /// batch a head reads).
    public func decode(_ batch: TokenBatch, regularization: Regularization?, kept: [Int32] = []) throws -> GPT2DecoderPass {
        let a = architecture, h = a.hidden
        let mask = try ops.checkedAttentionMask(batch, positions: config.maxPositions, positionsKey: "n_positions",
                                                vocabulary: config.vocabSize)
        let shape = AttentionShape(batch: batch.batch, heads: a.heads, tokens: batch.tokens, headDim: a.headDim)
        let packed = PackedTokens(batch, kept: kept, trim: decoderPacksRows)
        let rows = packed.rows

        let sum = try ops.uninitialized(rows * h), positions = try ops.uninitialized(rows * h)
        try backend.embeddingGather(ops.weight("wte.weight"), ids: ops.upload(packed.pack(batch.inputIds)), into: sum,
                                    tokens: rows, width: h)
        try backend.embeddingGather(ops.weight("wpe.weight"), ids: ops.upload(packed.positions),
                                    into: positions, tokens: rows, width: h)
        try backend.add(sum, positions, into: sum)
        var x = try ops.regularize(sum, into: positions, site: a.site(.embeddings), regularization)

        var blocks: [GPT2BlockActivations] = []
        for layer in 0..<a.layers {
            let block = try blockForward(layer, input: x, packed: packed.samples, shape: shape, mask: mask, regularization)
            blocks.append(block)
            x = block.output
        }
        let norm = try LayerNormSaved(ops, rows: rows), output = try ops.uninitialized(rows * h)
        try ops.layerNorm(x, "ln_f", into: output, saved: norm, rows: rows, width: h)
        return GPT2DecoderPass(batch: batch, packed: packed, regularization: regularization, attention: shape, mask: mask,
                               blocks: blocks, finalInput: x, finalNorm: norm, output: output)
    }

    private func blockForward(_ layer: Int, input x: Tensor, packed: SampleRows, shape s: AttentionShape, mask: Tensor,
                              _ reg: Regularization?) throws -> GPT2BlockActivations {
        let a = architecture, rows = packed.total, h = a.hidden, i = a.intermediate
        let headsCount = s.batch * s.tokens * h
        let p = "h.\(layer)."
        let norm1 = try LayerNormSaved(ops, rows: rows), ln1 = try ops.uninitialized(rows * h)
        try ops.layerNorm(x, p + "ln_1", into: ln1, saved: norm1, rows: rows, width: h)
        let qkv = try ops.uninitialized(rows * 3 * h)
        try ops.conv1D(ln1, p + "attn.c_attn", into: qkv, rows: rows, inFeatures: h, outFeatures: 3 * h)
        // [rows, 3, H] → [3, rows, H]: q, k and v each contiguous, then each to [B, heads, T, D].
        let split = try ops.uninitialized(rows * 3 * h)
        try backend.permute0213(qkv, into: split, 1, rows, 3, h)
        var heads: [Tensor] = []
        for part in 0..<3 {
            let t = try ops.uninitialized(headsCount)
            try backend.packedRowsToHeads(split.slice(part * rows * h, rows * h), into: t, samples: packed, tokens: s.tokens,
                                          heads: s.heads, headDim: s.headDim)
            heads.append(t)
        }
        let scores = try ops.uninitialized(s.scoresCount), probs = try ops.uninitialized(s.scoresCount)
        let site = a.site(.attentionProbabilities(layer: layer))
        let dropout = reg.flatMap { r in r.active(site).map { AttentionDropout(noise: $0, key: r.key(site)) } }
        let dropped = dropout == nil ? probs : try ops.uninitialized(s.scoresCount)
        let attended = try ops.uninitialized(headsCount)
        try backend.attentionForward(q: heads[0], k: heads[1], v: heads[2], mask: mask, shape: s, causal: true,
                                     dropout: dropout, scores: scores, probs: probs, dropped: dropped, out: attended)
        let context = try ops.uninitialized(rows * h)
        try backend.headsToPackedRows(attended, into: context, samples: packed, tokens: s.tokens, heads: s.heads,
                                      headDim: s.headDim)

        let projected = try ops.uninitialized(rows * h), residual1 = try ops.uninitialized(rows * h)
        try ops.conv1D(context, p + "attn.c_proj", into: projected, rows: rows, inFeatures: h, outFeatures: h)
        let dropped1 = try ops.regularize(projected, into: projected, site: a.site(.attentionOutput(layer: layer)), reg)
        try backend.add(dropped1, x, into: residual1)

        let norm2 = try LayerNormSaved(ops, rows: rows), ln2 = try ops.uninitialized(rows * h)
        try ops.layerNorm(residual1, p + "ln_2", into: ln2, saved: norm2, rows: rows, width: h)
        let fc = try ops.uninitialized(rows * i), activated = try ops.uninitialized(rows * i)
        try ops.conv1D(ln2, p + "mlp.c_fc", into: fc, rows: rows, inFeatures: h, outFeatures: i)
        try backend.geluForward(fc, into: activated, form: a.geluForm)
        let mlp = try ops.uninitialized(rows * h), output = try ops.uninitialized(rows * h)
        try ops.conv1D(activated, p + "mlp.c_proj", into: mlp, rows: rows, inFeatures: i, outFeatures: h)
        let dropped2 = try ops.regularize(mlp, into: mlp, site: a.site(.output(layer: layer)), reg)
        try backend.add(dropped2, residual1, into: output)
        return GPT2BlockActivations(input: x, norm1: norm1, ln1: ln1, qh: heads[0], kh: heads[1], vh: heads[2],
                                    probs: probs, dropped: dropped, context: context, residual1: residual1,
                                    norm2: norm2, ln2: ln2, fc: fc, activated: activated, output: output)
    }

    /// The decoder backward from `dOutput` (the gradient of ln_f's output, [rows, H]) down to the
    /// embedding tables. Parameter gradients go to `sink`; the wte lookup is its last call, after any
    /// tied-head call the caller made (what `FisherAccumulator` needs to square their sum).
    public func decoderBackward(_ pass: GPT2DecoderPass, dOutput: Tensor, sink: GradientSink) throws {
        let a = architecture, b = pass.batch, rows = pass.packed.rows, h = a.hidden
        var dy = try ops.uninitialized(rows * h)
        try ops.layerNormBackward("ln_f", dY: dOutput, x: pass.finalInput, saved: pass.finalNorm, dx: dy,
                                  samples: pass.packed.samples, width: h, sink: sink)
        for layer in (0..<a.layers).reversed() {
            dy = try blockBackward(layer, pass.blocks[layer], dOutput: dy, pass: pass, sink: sink)
        }
        try ops.regularizeBackward(dy, site: a.site(.embeddings), pass.regularization)
        // The lookups' sinks see the padded batch; padding rows have no gradient.
        let dPadded = try ops.padded(dy, pass.packed, width: h)
        try sink.embedding(table: layout.slot("wpe.weight"), ids: b.positions, dOut: dPadded,
                           batch: b.batch, tokens: b.tokens, excludedRow: nil)
        // GPT-2's wte has no padding_idx: every looked-up row gets its gradient.
        try sink.embedding(table: layout.slot("wte.weight"), ids: b.inputIds, dOut: dPadded,
                           batch: b.batch, tokens: b.tokens, excludedRow: nil)
    }

    /// One block's backward: `dOutput` (the gradient of the block's output) → the gradient of its input.
    private func blockBackward(_ layer: Int, _ act: GPT2BlockActivations, dOutput: Tensor, pass: GPT2DecoderPass,
                               sink: GradientSink) throws -> Tensor {
        let a = architecture, s = pass.attention, packed = pass.packed.samples
        let rows = packed.total, h = a.hidden, i = a.intermediate, headsCount = s.batch * s.tokens * h
        let p = "h.\(layer)."
        let reg = pass.regularization

        // output = residual1 + dropout(mlp.c_proj(gelu(c_fc(ln_2(residual1))))).
        let dMLP = try ops.uninitialized(rows * h)
        try backend.copy(dOutput, to: dMLP)
        try ops.regularizeBackward(dMLP, site: a.site(.output(layer: layer)), reg)
        let dActivated = try ops.uninitialized(rows * i)
        try ops.conv1DBackward(p + "mlp.c_proj", x: act.activated, dY: dMLP, dx: dActivated, samples: packed,
                               inFeatures: i, outFeatures: h, sink: sink)
        try backend.geluBackward(act.fc, output: act.activated, dActivated, into: dActivated, form: a.geluForm)
        let dLN2 = try ops.uninitialized(rows * h)
        try ops.conv1DBackward(p + "mlp.c_fc", x: act.ln2, dY: dActivated, dx: dLN2, samples: packed,
                               inFeatures: h, outFeatures: i, sink: sink)
        let dResidual1 = try ops.uninitialized(rows * h), through = try ops.uninitialized(rows * h)
        try ops.layerNormBackward(p + "ln_2", dY: dLN2, x: act.residual1, saved: act.norm2, dx: through,
                                  samples: packed, width: h, sink: sink)
        try backend.add(dOutput, through, into: dResidual1)

        // residual1 = input + dropout(attn.c_proj(attention(c_attn(ln_1(input))))).
        let dProjected = dMLP
        try backend.copy(dResidual1, to: dProjected)
        try ops.regularizeBackward(dProjected, site: a.site(.attentionOutput(layer: layer)), reg)
        let dContext = dLN2
        try ops.conv1DBackward(p + "attn.c_proj", x: act.context, dY: dProjected, dx: dContext, samples: packed,
                               inFeatures: h, outFeatures: h, sink: sink)
        let dHeads = try ops.uninitialized(headsCount)
        try backend.packedRowsToHeads(dContext, into: dHeads, samples: packed, tokens: s.tokens, heads: s.heads,
                                      headDim: s.headDim)
        let dSplit = try ops.uninitialized(rows * 3 * h)
        let dq = try ops.uninitialized(headsCount), dk = try ops.uninitialized(headsCount)
        let dv = try ops.uninitialized(headsCount)
        let dScores = try ops.uninitialized(s.scoresCount)
        let site = a.site(.attentionProbabilities(layer: layer))
        let dropout = reg.flatMap { r in r.active(site).map { AttentionDropout(noise: $0, key: r.key(site)) } }
        try backend.attentionBackward(dOut: dHeads, q: act.qh, k: act.kh, v: act.vh, shape: s, dropout: dropout,
                                      probs: act.probs, dropped: act.dropped, dScores: dScores, dq: dq, dk: dk, dv: dv)
        for (part, dHead) in [dq, dk, dv].enumerated() {
            try backend.headsToPackedRows(dHead, into: dSplit.slice(part * rows * h, rows * h), samples: packed,
                                          tokens: s.tokens, heads: s.heads, headDim: s.headDim)
        }
        // [3, rows, H] → [rows, 3H], c_attn's output layout.
        let dQKV = try ops.uninitialized(rows * 3 * h)
        try backend.permute0213(dSplit, into: dQKV, 1, 3, rows, h)
        let dLN1 = dContext
        try ops.conv1DBackward(p + "attn.c_attn", x: act.ln1, dY: dQKV, dx: dLN1, samples: packed,
                               inFeatures: h, outFeatures: 3 * h, sink: sink)
        try ops.layerNormBackward(p + "ln_1", dY: dLN1, x: act.input, saved: act.norm1, dx: through,
                                  samples: packed, width: h, sink: sink)
        let dInput = dResidual1
        try backend.add(dResidual1, through, into: dInput)
        return dInput
    }
}
