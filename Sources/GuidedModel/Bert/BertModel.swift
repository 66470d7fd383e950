import GuidedCompute

/// Token ids of a padded batch, as a `transformers` tokenizer returns them ([batch, tokens] each).
public struct TokenBatch: Sendable, Equatable {
    public var batch: Int
    public var tokens: Int
    public var inputIds: [Int32]
    public var tokenTypeIds: [Int32]
    public var attentionMask: [Int32]

    public init(batch: Int, tokens: Int, inputIds: [Int32], tokenTypeIds: [Int32]? = nil, attentionMask: [Int32]? = nil) {
        precondition(inputIds.count == batch * tokens, "input_ids: \(inputIds.count) ids for \(batch)×\(tokens)")
        self.batch = batch
        self.tokens = tokens
        self.inputIds = inputIds
        self.tokenTypeIds = tokenTypeIds ?? Array(repeating: 0, count: inputIds.count)
        self.attentionMask = attentionMask ?? Array(repeating: 1, count: inputIds.count)
        precondition(self.tokenTypeIds.count == inputIds.count && self.attentionMask.count == inputIds.count,
                     "token_type_ids and attention_mask must match input_ids")
    }

    public var rows: Int { batch * tokens }
}

/// Which regulariser acts at each dropout site during one training step; nil (no regularization)
/// is evaluation mode, as `model.eval()`.
public struct Regularization: Sendable {
    /// Indexed by `DropoutSite.index`; nil or an inactive noise leaves the site as the identity.
    public var noise: [Noise?]
    public var seed: UInt64
    public var step: UInt32

    public init(noise: [Noise?], seed: UInt64, step: UInt32) {
        self.noise = noise
        self.seed = seed
        self.step = step
    }

    func key(_ site: DropoutSite) -> RandomKey { RandomKey(seed: seed, site: UInt32(site.index), step: step) }

    func active(_ site: DropoutSite) -> Noise? {
        guard site.index < noise.count, let n = noise[site.index], n.isActive else { return nil }
        return n
    }
}

/// A BERT on a compute backend: one parameter buffer with `architecture.layout`, and forward and
/// backward passes written once against the `Backend` protocol.
///
/// The backward computes activation gradients and sends each parameterised op's inputs and output
/// gradient to a `GradientSink`, so the same code produces batch gradients or per-sample Fisher sums.
public final class BertModel {
    public let architecture: BertArchitecture
    public let backend: Backend
    public let parameters: Tensor

    public var config: BertConfig { architecture.config }
    public var layout: ParameterLayout { architecture.layout }

    public init(architecture: BertArchitecture, backend: Backend) throws {
        self.architecture = architecture
        self.backend = backend
        parameters = try backend.allocate(architecture.layout.totalCount)
    }

    /// Uploads one parameter's values (host Float32, `transformers` layout: [out, in] for weights).
    public func setParameter(_ name: String, _ values: [Float]) throws {
        guard let slot = layout[name] else { throw ModelError("\(architecture.head) has no parameter \(name)") }
        guard values.count == slot.count else {
            throw ModelError("\(name): \(values.count) values for shape \(slot.shape)")
        }
        try backend.upload(values, to: parameters.slice(slot))
    }

    public func parameter(_ name: String) throws -> [Float] {
        guard let slot = layout[name] else { throw ModelError("\(architecture.head) has no parameter \(name)") }
        return try backend.download(parameters.slice(slot))
    }

    func weight(_ name: String) -> Tensor { parameters.slice(layout.slot(name)) }

    // MARK: Shared pieces

    /// `out = x Wᵀ + b` for `rows` rows.
    func linear(_ x: Tensor, _ name: String, into out: Tensor, rows: Int, inFeatures: Int, outFeatures: Int) throws {
        try backend.gemm(transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                         alpha: 1, a: x, lda: inFeatures, b: weight(name + ".weight"), ldb: inFeatures,
                         beta: 0, c: out, ldc: outFeatures)
        try backend.addBias(out, weight(name + ".bias"), rows: rows, columns: outFeatures)
    }

    /// Backward of `linear`: the sink gets the parameter part; `dx` gets `dY W` (added when `accumulate`).
    func linearBackward(_ name: String, x: Tensor, dY: Tensor, dx: Tensor?, batch: Int, tokens: Int,
                        inFeatures: Int, outFeatures: Int, sink: GradientSink, accumulate: Bool = false) throws {
        try sink.linear(weight: layout.slot(name + ".weight"), bias: layout.slot(name + ".bias"), x: x, dY: dY,
                        batch: batch, tokens: tokens, inFeatures: inFeatures, outFeatures: outFeatures)
        if let dx {
            try backend.gemm(transposeA: false, transposeB: false, m: batch * tokens, n: inFeatures, k: outFeatures,
                             alpha: 1, a: dY, lda: outFeatures, b: weight(name + ".weight"), ldb: inFeatures,
                             beta: accumulate ? 1 : 0, c: dx, ldc: inFeatures)
        }
    }

    func layerNorm(_ x: Tensor, _ name: String, into y: Tensor, saved: LayerNormSaved, rows: Int, width: Int) throws {
        try backend.layerNormForward(x, gamma: weight(name + ".weight"), beta: weight(name + ".bias"), into: y,
                                     mean: saved.mean, rstd: saved.rstd, rows: rows, columns: width,
                                     eps: Float(config.layerNormEps))
    }

    func layerNormBackward(_ name: String, dY: Tensor, x: Tensor, saved: LayerNormSaved, dx: Tensor,
                           batch: Int, tokens: Int, width: Int, sink: GradientSink) throws {
        let gamma = layout.slot(name + ".weight"), beta = layout.slot(name + ".bias")
        let (dGamma, dBeta) = try sink.layerNormTargets(gamma: gamma, beta: beta)
        try backend.layerNormBackward(dY, x: x, gamma: parameters.slice(gamma), mean: saved.mean, rstd: saved.rstd,
                                      dx: dx, dGamma: dGamma, dBeta: dBeta, rows: batch * tokens, columns: width)
        try sink.layerNorm(gamma: gamma, beta: beta, dY: dY, x: x, mean: saved.mean, rstd: saved.rstd,
                           batch: batch, tokens: tokens, width: width)
    }

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

    func allocate(_ count: Int) throws -> Tensor { try backend.allocate(count) }

    /// An allocation that the next op overwrites entirely (no zero fill where the backend can skip it).
    func uninitialized(_ count: Int) throws -> Tensor { try backend.allocateUninitialized(count) }

    func upload(_ values: [Int32]) throws -> Tensor {
        let t = try backend.allocate(values.count)
        try backend.upload(values, to: t)
        return t
    }
}

/// A LayerNorm's saved statistics, one per row.
struct LayerNormSaved {
    let mean: Tensor
    let rstd: Tensor

    init(_ model: BertModel, rows: Int) throws {
        mean = try model.allocate(rows)
        rstd = try model.allocate(rows)
    }
}
