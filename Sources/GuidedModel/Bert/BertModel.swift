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
    /// [batch · tokens]: each row's position in its sample, 0..<tokens.
    public var positions: [Int32] { (0..<rows).map { Int32($0 % tokens) } }
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

    public init(architecture: BertArchitecture, backend: Backend) throws {
        self.architecture = architecture
        self.backend = backend
        parameters = try backend.allocate(architecture.layout.totalCount)
        ops = ModelOps(backend: backend, parameters: parameters, layout: architecture.layout,
                       layerNormEps: Float(architecture.config.layerNormEps))
    }

    /// The shared parameterised ops over this model's parameters (`ModelOps`).
    let ops: ModelOps

    /// Whether the last layer may run its part after the attention on the rows a head reads only
    /// (`OutputRows`). Tests turn it off to compare with every row.
    var lastLayerRunsReadRowsOnly = true
    /// Whether the encoder drops each sample's trailing padding (`PackedTokens`). Tests turn it off
    /// to compare with the padded batch.
    var encoderPacksRows = true
}
