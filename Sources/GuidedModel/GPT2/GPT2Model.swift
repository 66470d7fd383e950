import GuidedCompute

/// A GPT-2 on a compute backend: one parameter buffer with `architecture.layout`, and forward and
/// backward passes written once against the `Backend` protocol, as `BertModel`.
///
/// The backward sends each parameterised op's inputs and output gradient to a `GradientSink`, so
/// the same code gives batch gradients (`GradientAccumulator`) or per-sample Fisher sums
/// (`FisherAccumulator` with `tiedTable: GPT2Architecture.tiedTable`).
public final class GPT2Model {
    public let architecture: GPT2Architecture
    public let backend: Backend
    public let parameters: Tensor
    /// The shared parameterised ops over this model's parameters.
    let ops: ModelOps

    public var config: GPT2Config { architecture.config }

    public init(architecture: GPT2Architecture, backend: Backend) throws {
        self.architecture = architecture
        self.backend = backend
        parameters = try backend.allocate(architecture.layout.totalCount)
        ops = ModelOps(backend: backend, parameters: parameters, layout: architecture.layout,
                       layerNormEps: Float(architecture.config.layerNormEpsilon))
    }

    /// Whether the decoder drops each sample's trailing padding (`PackedTokens`). Tests turn it off
    /// to compare with the padded batch.
    var decoderPacksRows = true

    /// A model with every parameter initialised as `transformers`' GPT-2 `_init_weights` does, from `seed`.
    public static func randomlyInitialized(_ architecture: GPT2Architecture, backend: Backend, seed: UInt64) throws -> GPT2Model {
        let model = try GPT2Model(architecture: architecture, backend: backend)
        var random = InitRandom(seed: seed)
        for slot in architecture.layout.slots {
            try model.setParameter(slot.name, GPT2Checkpoint.initialValues(slot, config: architecture.config, random: &random))
        }
        return model
    }
}

extension GPT2Architecture {
    /// The table the LM head is tied to: the name a `FisherAccumulator` must hold the head's call for.
    public static let tiedTable = "wte.weight"
}
