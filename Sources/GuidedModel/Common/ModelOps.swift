import GuidedCompute

/// The parameterised ops every model here is built from — linear and Conv1D layers, LayerNorm, the
/// dropout sites — over one model's parameter buffer, forward and backward.
///
/// BERT and GPT-2 share these rather than each carrying a copy: a model holds one `ModelOps` and
/// writes its layers as calls on it. Backward functions send parameter parts to a `GradientSink`
/// and assign (or, with `accumulate`, add) the input gradient.
struct ModelOps {
    let backend: Backend
    /// The model's single parameter buffer, laid out as `layout`.
    let parameters: Tensor
    let layout: ParameterLayout
    /// The LayerNorm epsilon of the config (`layer_norm_eps`, `layer_norm_epsilon`).
    let layerNormEps: Float

    func weight(_ name: String) -> Tensor { parameters.slice(layout.slot(name)) }

    // MARK: Linear (`nn.Linear`, weight [out, in])

    /// `out = x Wᵀ + b` for `rows` rows (no `b` when `bias` is false: GPT-2's `score`).
    func linear(_ x: Tensor, _ name: String, into out: Tensor, rows: Int, inFeatures: Int, outFeatures: Int,
                bias: Bool = true) throws {
        try backend.gemm(transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                         alpha: 1, a: x, lda: inFeatures, b: weight(name + ".weight"), ldb: inFeatures,
                         beta: 0, c: out, ldc: outFeatures)
        if bias { try backend.addBias(out, weight(name + ".bias"), rows: rows, columns: outFeatures) }
    }

    /// Backward of `linear`: the sink gets the parameter part; `dx` gets `dY W` (added when `accumulate`).
    func linearBackward(_ name: String, x: Tensor, dY: Tensor, dx: Tensor?, batch: Int, tokens: Int,
                        inFeatures: Int, outFeatures: Int, sink: GradientSink, accumulate: Bool = false,
                        bias: Bool = true) throws {
        try linearBackward(name, x: x, dY: dY, dx: dx, samples: .uniform(batch: batch, tokens: tokens),
                           inFeatures: inFeatures, outFeatures: outFeatures, sink: sink, accumulate: accumulate, bias: bias)
    }

    /// `linearBackward` over rows that `samples` gives each sample (an encoder over packed rows).
    func linearBackward(_ name: String, x: Tensor, dY: Tensor, dx: Tensor?, samples: SampleRows,
                        inFeatures: Int, outFeatures: Int, sink: GradientSink, accumulate: Bool = false,
                        bias: Bool = true) throws {
        try sink.linear(weight: layout.slot(name + ".weight"), bias: bias ? layout.slot(name + ".bias") : nil, x: x, dY: dY,
                        samples: samples, inFeatures: inFeatures, outFeatures: outFeatures)
        if let dx {
            try backend.gemm(transposeA: false, transposeB: false, m: samples.total, n: inFeatures, k: outFeatures,
                             alpha: 1, a: dY, lda: outFeatures, b: weight(name + ".weight"), ldb: inFeatures,
                             beta: accumulate ? 1 : 0, c: dx, ldc: inFeatures)
        }
    }

    // MARK: Conv1D (GPT-2's `transformers.pytorch_utils.Conv1D`, weight [in, out])

    /// `out = x W + b` for `rows` rows, W stored [in, out] as GPT-2 stores it.
    func conv1D(_ x: Tensor, _ name: String, into out: Tensor, rows: Int, inFeatures: Int, outFeatures: Int) throws {
        try backend.gemm(transposeA: false, transposeB: false, m: rows, n: outFeatures, k: inFeatures,
                         alpha: 1, a: x, lda: inFeatures, b: weight(name + ".weight"), ldb: outFeatures,
                         beta: 0, c: out, ldc: outFeatures)
        try backend.addBias(out, weight(name + ".bias"), rows: rows, columns: outFeatures)
    }

    /// Backward of `conv1D` over rows that `samples` gives each sample: the sink gets the parameter
    /// part; `dx` gets `dY Wᵀ` (added when `accumulate`).
    func conv1DBackward(_ name: String, x: Tensor, dY: Tensor, dx: Tensor?, samples: SampleRows,
                        inFeatures: Int, outFeatures: Int, sink: GradientSink, accumulate: Bool = false) throws {
        try sink.conv1D(weight: layout.slot(name + ".weight"), bias: layout.slot(name + ".bias"), x: x, dY: dY,
                        samples: samples, inFeatures: inFeatures, outFeatures: outFeatures)
        if let dx {
            try backend.gemm(transposeA: false, transposeB: true, m: samples.total, n: inFeatures, k: outFeatures,
                             alpha: 1, a: dY, lda: outFeatures, b: weight(name + ".weight"), ldb: outFeatures,
                             beta: accumulate ? 1 : 0, c: dx, ldc: inFeatures)
        }
    }

    // MARK: LayerNorm

    func layerNorm(_ x: Tensor, _ name: String, into y: Tensor, saved: LayerNormSaved, rows: Int, width: Int) throws {
        try backend.layerNormForward(x, gamma: weight(name + ".weight"), beta: weight(name + ".bias"), into: y,
                                     mean: saved.mean, rstd: saved.rstd, rows: rows, columns: width,
                                     eps: layerNormEps)
    }

    func layerNormBackward(_ name: String, dY: Tensor, x: Tensor, saved: LayerNormSaved, dx: Tensor,
                           batch: Int, tokens: Int, width: Int, sink: GradientSink) throws {
        try layerNormBackward(name, dY: dY, x: x, saved: saved, dx: dx, samples: .uniform(batch: batch, tokens: tokens),
                              width: width, sink: sink)
    }

    /// `layerNormBackward` over rows that `samples` gives each sample (an encoder over packed rows).
    func layerNormBackward(_ name: String, dY: Tensor, x: Tensor, saved: LayerNormSaved, dx: Tensor,
                           samples: SampleRows, width: Int, sink: GradientSink) throws {
        let gamma = layout.slot(name + ".weight"), beta = layout.slot(name + ".bias")
        let (dGamma, dBeta) = try sink.layerNormTargets(gamma: gamma, beta: beta)
        try backend.layerNormBackward(dY, x: x, gamma: parameters.slice(gamma), mean: saved.mean, rstd: saved.rstd,
                                      dx: dx, dGamma: dGamma, dBeta: dBeta, rows: samples.total, columns: width)
        try sink.layerNorm(gamma: gamma, beta: beta, dY: dY, x: x, mean: saved.mean, rstd: saved.rstd,
                           samples: samples, width: width)
    }

    // MARK: Dropout sites

    /// `y = noise(x)` at `site` when the regularization makes it active; otherwise `x` itself.
    func regularize(_ x: Tensor, into y: Tensor, site: DropoutSite, _ regularization: Regularization?) throws -> Tensor {
        guard let regularization, let noise = regularization.active(site) else { return x }
        try backend.apply(noise, x, into: y, key: regularization.key(site))
        return y
    }

    /// The backward of `regularize`, in place on the gradient.
    func regularizeBackward(_ dy: Tensor, site: DropoutSite, _ regularization: Regularization?) throws {
        guard let regularization, let noise = regularization.active(site) else { return }
        try backend.apply(noise, dy, into: dy, key: regularization.key(site))
    }

    // MARK: Memory

    func allocate(_ count: Int) throws -> Tensor { try backend.allocate(count) }

    /// An allocation that the next op overwrites entirely (no zero fill where the backend can skip it).
    func uninitialized(_ count: Int) throws -> Tensor { try backend.allocateUninitialized(count) }

    /// `x` [packed rows, width] laid out as the padded batch [batch · tokens, width], zero at
    /// padding: what the embedding lookups' sinks, written for the padded batch, read.
    func padded(_ x: Tensor, _ packed: PackedTokens, width: Int) throws -> Tensor {
        let out = try allocate(packed.samples.count * packed.tokens * width)
        try backend.scatterAddRows(x, index: upload(packed.paddedRows), into: out, rows: packed.rows, width: width, skip: -1)
        return out
    }

    func upload(_ values: [Int32]) throws -> Tensor {
        let t = try backend.allocate(values.count)
        try backend.upload(values, to: t)
        return t
    }

    /// Stops with the row named when a loss or logit is NaN or Inf, before it spreads.
    func checkFinite(_ values: [Float], what: String) throws {
        if let i = values.firstIndex(where: { !$0.isFinite }) {
            throw ModelError("\(what) is \(values[i]) (row \(i)): stopping before a NaN or Inf spreads")
        }
    }
}

/// A LayerNorm's saved statistics, one per row.
struct LayerNormSaved {
    let mean: Tensor
    let rstd: Tensor

    init(_ ops: ModelOps, rows: Int) throws {
        mean = try ops.allocate(rows)
        rstd = try ops.allocate(rows)
    }
}

extension ModelOps {
    /// Checks a batch's length against the position embeddings (`positionsKey` names the config
    /// field) and its ids against the vocabulary, then uploads `transformers`' additive attention
    /// mask [batch · tokens]: 0 where attended, the most negative float at padding keys.
    func checkedAttentionMask(_ batch: TokenBatch, positions: Int, positionsKey: String, vocabulary: Int) throws -> Tensor {
        guard batch.tokens <= positions else {
            throw ModelError("sequence of \(batch.tokens) tokens is longer than \(positionsKey) \(positions)")
        }
        if let bad = batch.inputIds.first(where: { $0 < 0 || Int($0) >= vocabulary }) {
            throw ModelError("token id \(bad) outside the vocabulary of \(vocabulary)")
        }
        let mask = try allocate(batch.rows)
        try backend.upload(batch.attentionMask.map { $0 == 0 ? -Float.greatestFiniteMagnitude : 0 }, to: mask)
        return mask
    }
}
