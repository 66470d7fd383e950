import GuidedCompute

/// A `GradientSink` that adds each sample's **squared** gradient to a Fisher buffer with the
/// model's parameter layout: after a backward with `LossReduction.perSampleMean`, the buffer has
/// grown by `Σₙ (∇Lₙ)∘²` over the batch's samples (../shared/DESIGN.md, "Per-sample gradient squaring").
/// Divide by the number of samples at the end for the empirical Fisher.
///
/// The tied MLM decoder is the one subtle case: a sample's word-embedding gradient is the decoder's
/// dense part `dLogitsₙᵀ hₙ` *plus* the rows its tokens looked up, and the square must be of the
/// sum. The decoder call is held until the word-embedding lookup's, and both are added per sample
/// in scratch before squaring. `tiedTable` names that table (`LanguageModel.tiedTable`:
/// `embeddings.word_embeddings.weight` for BERT's MLM head, `wte.weight` for GPT-2's LM head, which
/// has no bias; nil when no head is tied); a model calls the sink for the decoder before the lookup.
public final class FisherAccumulator: GradientSink {
    public let backend: Backend
    public let layout: ParameterLayout
    public let fisher: Tensor
    /// Upper bound on the scratch the per-sample [out, in] gradients may use, in elements;
    /// batches are processed in chunks of as many samples as fit (at least one).
    public let scratchLimit: Int
    private var scratch: Tensor?
    private var layerNormScratch: [Int: (Tensor, Tensor)] = [:]
    private var heldDecoder: (bias: ParameterSlot?, x: Tensor, dY: Tensor, samples: SampleRows)?
    private let tiedTable: String?

    public init(backend: Backend, layout: ParameterLayout, scratchLimit: Int = 1 << 24, tiedTable: String?) throws {
        self.backend = backend
        self.layout = layout
        self.scratchLimit = scratchLimit
        self.tiedTable = tiedTable
        fisher = try backend.allocate(layout.totalCount)
        // Written once now, so that every page is faulted in by a write. The squares read each
        // Fisher element before writing it; on fresh host memory that first read maps the shared
        // zero page, and the write after it copies the page and flushes every core's TLB.
        try backend.fill(fisher, with: 0)
    }

    private func scratch(atLeast count: Int) throws -> Tensor {
        if let scratch, scratch.count >= count { return scratch }
        let fresh = try backend.allocate(count)
        scratch = fresh
        return fresh
    }

    /// Scratch for `samples` per-sample gradients of `perSample` elements, within the limit (only
    /// `extra` where the backend fuses the squares and never holds a whole per-sample gradient).
    private func chunkScratch(samples: Int, perSample: Int, extra: Int = 0) throws -> Tensor {
        if backend.fusesOuterSquares { return try scratch(atLeast: max(1, extra)) }
        let fit = max(1, min(samples, scratchLimit / max(1, perSample)))
        return try scratch(atLeast: max(fit * perSample, extra))
    }

    public func linear(weight: ParameterSlot, bias: ParameterSlot?, x: Tensor, dY: Tensor,
                       samples: SampleRows, inFeatures: Int, outFeatures: Int) throws {
        if weight.name == tiedTable {
            heldDecoder = (bias, x, dY, samples)
            return
        }
        let batch = samples.count
        let buffer = try chunkScratch(samples: batch, perSample: outFeatures * inFeatures, extra: batch * outFeatures)
        try backend.accumulateLinearFisher(dY: dY, x: x, samples: samples, inFeatures: inFeatures,
                                           outFeatures: outFeatures, fisherWeight: fisher.slice(weight),
                                           fisherBias: bias.map { fisher.slice($0) }, scratch: buffer)
    }

    public func conv1D(weight: ParameterSlot, bias: ParameterSlot?, x: Tensor, dY: Tensor,
                       samples: SampleRows, inFeatures: Int, outFeatures: Int) throws {
        let batch = samples.count
        let buffer = try chunkScratch(samples: batch, perSample: outFeatures * inFeatures, extra: batch * outFeatures)
        try backend.accumulateConv1DFisher(dY: dY, x: x, samples: samples, inFeatures: inFeatures,
                                           outFeatures: outFeatures, fisherWeight: fisher.slice(weight),
                                           fisherBias: bias.map { fisher.slice($0) }, scratch: buffer)
    }

    public func layerNormTargets(gamma: ParameterSlot, beta: ParameterSlot) throws -> (dGamma: Tensor, dBeta: Tensor) {
        // The batch gradients of γ and β are not needed: they land in scratch that is never read.
        let width = gamma.count
        if let pair = layerNormScratch[width] { return pair }
        let pair = (try backend.allocate(width), try backend.allocate(width))
        layerNormScratch[width] = pair
        return pair
    }

    public func layerNorm(gamma: ParameterSlot, beta: ParameterSlot, dY: Tensor, x: Tensor, mean: Tensor, rstd: Tensor,
                          samples: SampleRows, width: Int) throws {
        try backend.accumulateLayerNormFisher(dY: dY, x: x, mean: mean, rstd: rstd, samples: samples, width: width,
                                              fisherGamma: fisher.slice(gamma), fisherBeta: fisher.slice(beta),
                                              scratch: scratch(atLeast: samples.count * width))
    }

    public func embedding(table: ParameterSlot, ids: [Int32], dOut: Tensor, batch: Int, tokens: Int,
                          excludedRow: Int32?) throws {
        let width = table.shape[1]
        if table.name == tiedTable, let decoder = heldDecoder {
            heldDecoder = nil
            try tiedEmbedding(table: table, decoder: decoder, ids: ids, dOut: dOut, batch: batch, tokens: tokens,
                              excludedRow: excludedRow)
            return
        }
        let slots = EmbeddingSlots(ids: ids, valid: Array(repeating: true, count: ids.count), batch: batch,
                                   tokens: tokens, excludedRow: excludedRow)
        try backend.accumulateEmbeddingFisher(dOut: dOut, slots: slots.upload(to: backend), width: width,
                                              fisher: fisher.slice(table), scratch: scratch(atLeast: max(1, slots.slotCount) * width))
    }

    /// Per sample: `G = dLogitsₙᵀ hₙ` (the decoder, [V, H]) plus the rows its tokens looked up,
    /// squared and added; the decoder bias as an ordinary per-sample bias.
    private func tiedEmbedding(table: ParameterSlot, decoder: (bias: ParameterSlot?, x: Tensor, dY: Tensor, samples: SampleRows),
                               ids: [Int32], dOut: Tensor, batch: Int, tokens: Int, excludedRow: Int32?) throws {
        let vocabulary = table.shape[0], width = table.shape[1]
        let buffer = try chunkScratch(samples: batch, perSample: vocabulary * width, extra: batch * vocabulary)
        let lookup = OuterSquaresLookup(rows: ids.map { $0 == excludedRow ? -1 : $0 }, values: dOut, tokens: tokens)
        precondition(decoder.samples.count == batch, "tied head: \(decoder.samples.count) samples, lookups of \(batch)")
        try backend.accumulateOuterSquares(a: decoder.dY, b: decoder.x, samples: decoder.samples, rows: vocabulary,
                                           columns: width, lookup: lookup, fisher: fisher.slice(table), scratch: buffer)
        guard let bias = decoder.bias else { return }
        try backend.accumulateBiasFisher(dY: decoder.dY, samples: decoder.samples, width: vocabulary,
                                         fisherBias: fisher.slice(bias), scratch: buffer)
    }
}
