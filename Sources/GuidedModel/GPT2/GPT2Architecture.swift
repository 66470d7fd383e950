import GuidedCompute

/// Which `transformers` class a GPT-2 is: what sits on top of the decoder stack.
public enum GPT2Head: Sendable, Equatable, CustomStringConvertible {
    /// `GPT2Model`: the decoder stack and `ln_f`, names without a prefix.
    case base
    /// `GPT2LMHeadModel`: the LM head is the transposed `wte` (tied; no bias, no separate tensor).
    case languageModel
    /// `GPT2ForSequenceClassification`: `score` (no bias) on the last non-padding token;
    /// `regression`: MSE on one output instead of cross-entropy.
    case sequenceClassification(labels: Int, regression: Bool)

    public var description: String {
        switch self {
        case .base: return "GPT2Model"
        case .languageModel: return "GPT2LMHeadModel"
        case .sequenceClassification: return "GPT2ForSequenceClassification"
        }
    }

    /// Head models keep the decoder under `transformer.`; a bare `GPT2Model` has no prefix.
    public var transformerPrefix: String { self == .base ? "" : "transformer." }
}

/// Shapes, parameter names and dropout sites of one GPT-2, derived from its config and head.
///
/// Weights are stored as `transformers` stores them: the `Conv1D` layers (`c_attn`, `c_proj`, `c_fc`)
/// [in, out], `score` (an `nn.Linear`) [out, in].
public struct GPT2Architecture: Sendable {
    public let config: GPT2Config
    public let head: GPT2Head
    public let layout: ParameterLayout
    public let sites: [DropoutSite]
    public let geluForm: GeluForm

    public var hidden: Int { config.hiddenSize }
    public var heads: Int { config.numHeads }
    public var headDim: Int { config.hiddenSize / config.numHeads }
    public var intermediate: Int { config.innerSize }
    public var layers: Int { config.numLayers }
    public var vocabulary: Int { config.vocabSize }

    public init(config: GPT2Config, head: GPT2Head) throws {
        if case let .sequenceClassification(labels, _) = head, labels < 1 {
            throw ModelError("GPT2ForSequenceClassification needs at least one label, got \(labels)")
        }
        self.config = config
        self.head = head
        geluForm = config.geluForm
        layout = Self.layout(config, head)
        sites = Self.sites(config, head)
    }

    /// Parameters in `state_dict` order (the tied LM head omitted: it is `wte`).
    private static func layout(_ c: GPT2Config, _ head: GPT2Head) -> ParameterLayout {
        var l = ParameterLayout()
        let h = c.hiddenSize, i = c.innerSize
        l.add("wte.weight", [c.vocabSize, h])
        l.add("wpe.weight", [c.maxPositions, h])
        for layer in 0..<c.numLayers {
            let p = "h.\(layer)."
            l.add(p + "ln_1.weight", [h])
            l.add(p + "ln_1.bias", [h])
            l.add(p + "attn.c_attn.weight", [h, 3 * h])
            l.add(p + "attn.c_attn.bias", [3 * h])
            l.add(p + "attn.c_proj.weight", [h, h])
            l.add(p + "attn.c_proj.bias", [h])
            l.add(p + "ln_2.weight", [h])
            l.add(p + "ln_2.bias", [h])
            l.add(p + "mlp.c_fc.weight", [h, i])
            l.add(p + "mlp.c_fc.bias", [i])
            l.add(p + "mlp.c_proj.weight", [i, h])
            l.add(p + "mlp.c_proj.bias", [h])
        }
        l.add("ln_f.weight", [h])
        l.add("ln_f.bias", [h])
        if case let .sequenceClassification(labels, _) = head {
            l.add("score.weight", [labels, h])
        }
        return l
    }

    /// 1 + 3·L sites in network order; `GPT2ForSequenceClassification` has no classifier dropout.
    private static func sites(_ c: GPT2Config, _ head: GPT2Head) -> [DropoutSite] {
        let prefix = head.transformerPrefix
        var sites: [DropoutSite] = []
        func add(_ kind: DropoutSite.Kind, _ path: String, _ p: Double) {
            sites.append(DropoutSite(index: sites.count, kind: kind, modulePath: path, configuredProbability: p))
        }
        add(.embeddings, prefix + "drop", c.embdDropout)
        for layer in 0..<c.numLayers {
            let p = prefix + "h.\(layer)."
            add(.attentionProbabilities(layer: layer), p + "attn.attn_dropout", c.attnDropout)
            add(.attentionOutput(layer: layer), p + "attn.resid_dropout", c.residDropout)
            add(.output(layer: layer), p + "mlp.dropout", c.residDropout)
        }
        return sites
    }

    /// The name a parameter has in a checkpoint of this head (`transformer.`-prefixed in head models).
    public func checkpointName(_ slot: ParameterSlot) -> String {
        isHeadParameter(slot.name) ? slot.name : head.transformerPrefix + slot.name
    }

    /// Head tensors (`score.*`) keep their names in every checkpoint; decoder ones may carry `transformer.`.
    public func isHeadParameter(_ name: String) -> Bool { name.hasPrefix("score.") }
}
