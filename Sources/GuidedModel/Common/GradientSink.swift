import GuidedCompute

/// Where the backward pass sends what parameter gradients are made of.
///
/// The model computes activation gradients itself and hands each parameterised op's inputs and
/// output gradient here. `GradientAccumulator` turns them into ordinary batch gradients; a Fisher
/// accumulator squares them per sample instead (`FisherSquaring.swift`), with the same backward.
public protocol GradientSink: AnyObject {
    /// `Y = X Wᵀ + b` over the rows `samples` gives each sample: X [rows, inFeatures], dY [rows,
    /// outFeatures]; W stored [out, in] (`nn.Linear`). No bias: GPT-2's `score` and tied LM head.
    /// Uniform layers call it through `linear(…, batch:, tokens:, …)` below; the LM heads' vocabulary
    /// projection, computed only where a token is scored, and BERT's encoder on packed rows give
    /// each sample its own count.
    func linear(weight: ParameterSlot, bias: ParameterSlot?, x: Tensor, dY: Tensor,
                samples: SampleRows, inFeatures: Int, outFeatures: Int) throws
    /// `Y = X W + b` with W stored [in, out] (GPT-2's `Conv1D`), otherwise as `linear`.
    func conv1D(weight: ParameterSlot, bias: ParameterSlot?, x: Tensor, dY: Tensor,
                samples: SampleRows, inFeatures: Int, outFeatures: Int) throws
    /// Where `layerNormBackward` should accumulate dγ and dβ of this LayerNorm.
    func layerNormTargets(gamma: ParameterSlot, beta: ParameterSlot) throws -> (dGamma: Tensor, dBeta: Tensor)
    /// Called after the LayerNorm's backward, with what it saw: sample n's rows are `samples[n]`.
    func layerNorm(gamma: ParameterSlot, beta: ParameterSlot, dY: Tensor, x: Tensor, mean: Tensor, rstd: Tensor,
                   samples: SampleRows, width: Int) throws
    /// An embedding lookup of `ids` [batch, tokens] whose output gradient is `dOut`; `excludedRow`
    /// (the pad token of `nn.Embedding(padding_idx=…)`) never receives a gradient.
    func embedding(table: ParameterSlot, ids: [Int32], dOut: Tensor, batch: Int, tokens: Int,
                   excludedRow: Int32?) throws
}

extension GradientSink {
    /// `linear` over `batch × tokens` rows, `tokens` per sample.
    public func linear(weight: ParameterSlot, bias: ParameterSlot?, x: Tensor, dY: Tensor,
                       batch: Int, tokens: Int, inFeatures: Int, outFeatures: Int) throws {
        try linear(weight: weight, bias: bias, x: x, dY: dY, samples: .uniform(batch: batch, tokens: tokens),
                   inFeatures: inFeatures, outFeatures: outFeatures)
    }
}

/// Accumulates ordinary gradients (summed over the batch) into one buffer with the model's
/// parameter layout.
public final class GradientAccumulator: GradientSink {
    public let backend: Backend
    public let gradients: Tensor

    public init(backend: Backend, layout: ParameterLayout) throws {
        self.backend = backend
        gradients = try backend.allocate(layout.totalCount)
    }

    public func zero() throws { try backend.fill(gradients, with: 0) }

    /// dW = dYᵀ X over all rows: the batch gradient does not care which sample a row is of.
    public func linear(weight: ParameterSlot, bias: ParameterSlot?, x: Tensor, dY: Tensor,
                       samples: SampleRows, inFeatures: Int, outFeatures: Int) throws {
        let rows = samples.total
        guard rows > 0 else { return }
        try backend.gemm(transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: rows,
                         alpha: 1, a: dY, lda: outFeatures, b: x, ldb: inFeatures,
                         beta: 1, c: gradients.slice(weight), ldc: inFeatures)
        if let bias { try backend.biasBackward(dY, dBias: gradients.slice(bias), rows: rows, columns: outFeatures) }
    }

    /// dW = Xᵀ dY ([in, out], as the weight is stored): one GEMM over all rows.
    public func conv1D(weight: ParameterSlot, bias: ParameterSlot?, x: Tensor, dY: Tensor,
                       samples: SampleRows, inFeatures: Int, outFeatures: Int) throws {
        let rows = samples.total
        guard rows > 0 else { return }
        try backend.gemm(transposeA: true, transposeB: false, m: inFeatures, n: outFeatures, k: rows,
                         alpha: 1, a: x, lda: inFeatures, b: dY, ldb: outFeatures,
                         beta: 1, c: gradients.slice(weight), ldc: outFeatures)
        if let bias { try backend.biasBackward(dY, dBias: gradients.slice(bias), rows: rows, columns: outFeatures) }
    }

    public func layerNormTargets(gamma: ParameterSlot, beta: ParameterSlot) throws -> (dGamma: Tensor, dBeta: Tensor) {
        (gradients.slice(gamma), gradients.slice(beta))
    }

    public func layerNorm(gamma: ParameterSlot, beta: ParameterSlot, dY: Tensor, x: Tensor, mean: Tensor, rstd: Tensor,
                          samples: SampleRows, width: Int) throws {}

    public func embedding(table: ParameterSlot, ids: [Int32], dOut: Tensor, batch: Int, tokens: Int,
                          excludedRow: Int32?) throws {
        let index = try backend.allocate(ids.count)
        try backend.upload(ids, to: index)
        try backend.scatterAddRows(dOut, index: index, into: gradients.slice(table), rows: ids.count,
                                   width: table.shape[1], skip: excludedRow ?? -1)
    }
}
