/// Per-sample gradient squaring: the empirical Fisher (paper eq. 3) is the mean over samples of the
/// *squared per-sample gradient*. These compose the protocol's primitives so that a batch of B
/// samples gives exactly Σₙ Gₙ∘Gₙ without ever running one backward per sample
/// (../shared/DESIGN.md, "Per-sample gradient squaring"). Callers divide by the sample count at the end.
extension Backend {
    /// Linear `Y = X Wᵀ + b` with X: [batch, tokens, inFeatures], dY: [batch, tokens, outFeatures]:
    /// `fisherWeight += Σₙ (dYₙᵀ Xₙ)∘²` and `fisherBias += Σₙ (Σₜ dYₙₜ)²`.
    ///
    /// `scratch` bounds memory: on a backend that composes `accumulateOuterSquares` it holds as many
    /// per-sample [out, in] gradients as fit (at least one); it must hold batch × outFeatures for the bias.
    public func accumulateLinearFisher(dY: Tensor, x: Tensor, batch: Int, tokens: Int,
                                       inFeatures: Int, outFeatures: Int,
                                       fisherWeight: Tensor, fisherBias: Tensor?, scratch: Tensor) throws {
        try accumulateLinearFisher(dY: dY, x: x, samples: .uniform(batch: batch, tokens: tokens), inFeatures: inFeatures,
                                   outFeatures: outFeatures, fisherWeight: fisherWeight, fisherBias: fisherBias,
                                   scratch: scratch)
    }

    /// `accumulateLinearFisher` where sample n owns rows `samples[n]` of X and dY (the LM heads'
    /// vocabulary projection, computed only at each sample's predicted positions; BERT's encoder
    /// on packed rows).
    public func accumulateLinearFisher(dY: Tensor, x: Tensor, samples: SampleRows, inFeatures: Int, outFeatures: Int,
                                       fisherWeight: Tensor, fisherBias: Tensor?, scratch: Tensor) throws {
        try accumulateOuterSquares(a: dY, b: x, samples: samples, rows: outFeatures, columns: inFeatures,
                                   lookup: nil, fisher: fisherWeight, scratch: scratch)
        if let fisherBias { try accumulateBiasFisher(dY: dY, samples: samples, width: outFeatures,
                                                     fisherBias: fisherBias, scratch: scratch) }
    }

    /// GPT-2's `Conv1D` `Y = X W + b`, W stored [in, out], with X: [batch, tokens, inFeatures],
    /// dY: [batch, tokens, outFeatures]: `fisherWeight += Σₙ (Xₙᵀ dYₙ)∘²` (each per-sample gradient
    /// laid out [in, out] like the weight) and `fisherBias += Σₙ (Σₜ dYₙₜ)²`; `scratch` as for
    /// `accumulateLinearFisher`.
    public func accumulateConv1DFisher(dY: Tensor, x: Tensor, batch: Int, tokens: Int,
                                       inFeatures: Int, outFeatures: Int,
                                       fisherWeight: Tensor, fisherBias: Tensor?, scratch: Tensor) throws {
        try accumulateConv1DFisher(dY: dY, x: x, samples: .uniform(batch: batch, tokens: tokens), inFeatures: inFeatures,
                                   outFeatures: outFeatures, fisherWeight: fisherWeight, fisherBias: fisherBias,
                                   scratch: scratch)
    }

    /// `accumulateConv1DFisher` where sample n owns rows `samples[n]` of X and dY (GPT-2's decoder
    /// on packed rows).
    public func accumulateConv1DFisher(dY: Tensor, x: Tensor, samples: SampleRows, inFeatures: Int, outFeatures: Int,
                                       fisherWeight: Tensor, fisherBias: Tensor?, scratch: Tensor) throws {
        try accumulateOuterSquares(a: x, b: dY, samples: samples, rows: inFeatures, columns: outFeatures, lookup: nil,
                                   fisher: fisherWeight, scratch: scratch)
        if let fisherBias { try accumulateBiasFisher(dY: dY, samples: samples, width: outFeatures,
                                                     fisherBias: fisherBias, scratch: scratch) }
    }

    /// A bias: `fisherBias += Σₙ (Σ_{r ∈ samples[n]} dY_r)²`; `scratch`: samples × width.
    public func accumulateBiasFisher(dY: Tensor, samples: SampleRows, width: Int, fisherBias: Tensor,
                                     scratch: Tensor) throws {
        precondition(dY.count >= samples.total * width, "accumulateBiasFisher: dY holds \(dY.count) < \(samples.total) rows")
        precondition(scratch.count >= samples.count * width, "Fisher scratch too small for the bias")
        let sums = scratch.slice(0, samples.count * width)
        try sumOverTokens(dY.slice(0, samples.total * width), into: sums, samples: samples, width: width)
        try accumulateSquaredSum(sums, into: fisherBias, batch: samples.count, width: width)
    }

    /// LayerNorm over [batch, tokens, width] with its saved `mean`/`rstd`:
    /// `fisherGamma += Σₙ (Σₜ dYₙₜ ∘ x̂ₙₜ)²`, `fisherBeta += Σₙ (Σₜ dYₙₜ)²`. `scratch`: batch × width.
    public func accumulateLayerNormFisher(dY: Tensor, x: Tensor, mean: Tensor, rstd: Tensor,
                                          batch: Int, tokens: Int, width: Int,
                                          fisherGamma: Tensor, fisherBeta: Tensor, scratch: Tensor) throws {
        try accumulateLayerNormFisher(dY: dY, x: x, mean: mean, rstd: rstd, samples: .uniform(batch: batch, tokens: tokens),
                                      width: width, fisherGamma: fisherGamma, fisherBeta: fisherBeta, scratch: scratch)
    }

    /// `accumulateLayerNormFisher` where sample n owns rows `samples[n]` (an encoder over packed
    /// rows); `scratch`: samples × width.
    public func accumulateLayerNormFisher(dY: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, samples: SampleRows,
                                          width: Int, fisherGamma: Tensor, fisherBeta: Tensor, scratch: Tensor) throws {
        let sums = scratch.slice(0, samples.count * width)
        try layerNormGammaPerSample(dY, x: x, mean: mean, rstd: rstd, into: sums, samples: samples, width: width)
        try accumulateSquaredSum(sums, into: fisherGamma, batch: samples.count, width: width)
        try sumOverTokens(dY, into: sums, samples: samples, width: width)
        try accumulateSquaredSum(sums, into: fisherBeta, batch: samples.count, width: width)
    }

    /// Embedding table rows: per sample, the gradients of a row are summed over the tokens that
    /// use it (a token may repeat in a sample), then squared and added to that row.
    /// `slots` maps tokens to per-sample distinct rows (see `EmbeddingSlots`); `scratch`: slots × width.
    public func accumulateEmbeddingFisher(dOut: Tensor, slots: EmbeddingSlots.OnDevice, width: Int,
                                          fisher: Tensor, scratch: Tensor) throws {
        // No slot (every token padding or the pad row): nothing to add. The uploaded index tensors
        // hold at least one element, so going on would pass a 1-element index for 0 rows.
        guard slots.slotCount > 0 else { return }
        let sums = scratch.slice(0, slots.slotCount * width)
        try fill(sums, with: 0)
        try scatterAddRows(dOut, index: slots.slotOfToken, into: sums, rows: slots.tokenCount,
                           width: width, skip: -1)
        try accumulateSquaredRows(sums, index: slots.rowOfSlot, into: fisher, rows: slots.slotCount, width: width)
    }
}

/// The per-sample distinct rows an embedding lookup touches, built on the host from the ids.
///
/// Token `t` adds its gradient into slot `slotOfToken[t]` (−1: contributes nothing: padding, or the
/// pad row that `nn.Embedding(padding_idx=…)` never updates); slot `u` belongs to one sample and one
/// table row, `rowOfSlot[u]`.
public struct EmbeddingSlots: Sendable, Equatable {
    public var slotOfToken: [Int32]
    public var rowOfSlot: [Int32]

    /// - Parameters:
    ///   - ids: [batch, tokens] row ids.
    ///   - valid: [batch, tokens], false for padding positions.
    ///   - excludedRow: a row that never receives a gradient (the pad token's), or nil.
    public init(ids: [Int32], valid: [Bool], batch: Int, tokens: Int, excludedRow: Int32?) {
        precondition(ids.count == batch * tokens && valid.count == ids.count)
        slotOfToken = Array(repeating: -1, count: ids.count)
        rowOfSlot = []
        for n in 0..<batch {
            var slotOfRow: [Int32: Int32] = [:]
            for t in 0..<tokens {
                let i = n * tokens + t
                let row = ids[i]
                guard valid[i], row != excludedRow else { continue }
                if let slot = slotOfRow[row] {
                    slotOfToken[i] = slot
                } else {
                    let slot = Int32(rowOfSlot.count)
                    slotOfRow[row] = slot
                    rowOfSlot.append(row)
                    slotOfToken[i] = slot
                }
            }
        }
    }

    public var tokenCount: Int { slotOfToken.count }
    public var slotCount: Int { rowOfSlot.count }

    /// The index tensors uploaded to a backend.
    public struct OnDevice {
        public let slotOfToken: Tensor
        public let rowOfSlot: Tensor
        public let tokenCount: Int
        public let slotCount: Int
    }

    public func upload(to backend: Backend) throws -> OnDevice {
        let tokens = try backend.allocate(max(1, slotOfToken.count))
        try backend.upload(slotOfToken, to: tokens.slice(0, slotOfToken.count))
        let rows = try backend.allocate(max(1, rowOfSlot.count))
        try backend.upload(rowOfSlot, to: rows.slice(0, rowOfSlot.count))
        return OnDevice(slotOfToken: tokens, rowOfSlot: rows, tokenCount: slotOfToken.count, slotCount: rowOfSlot.count)
    }
}
