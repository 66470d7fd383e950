import GuidedCompute

/// Which `transformers` class a BERT is: what sits on top of the encoder.
public enum BertHead: Sendable, Equatable, CustomStringConvertible {
    /// `BertModel`: the encoder and its pooler, names without a prefix (e.g. all-MiniLM-L6-v2).
    case encoder
    /// `BertForMaskedLM`: no pooler; `cls.predictions.transform` (dense, GELU, LayerNorm) and a
    /// decoder tied to the word embeddings with its own bias.
    case maskedLM
    /// `BertForSequenceClassification`: pooler, dropout, `classifier`; `regression` when
    /// `problem_type` is `regression` (MSE on one output) instead of cross-entropy.
    case sequenceClassification(labels: Int, regression: Bool)

    public var description: String {
        switch self {
        case .encoder: return "BertModel"
        case .maskedLM: return "BertForMaskedLM"
        case .sequenceClassification: return "BertForSequenceClassification"
        }
    }

    /// Head models keep the encoder under `bert.`; a bare `BertModel` has no prefix.
    public var encoderPrefix: String { self == .encoder ? "" : "bert." }
    var hasPooler: Bool { self != .maskedLM }
}

/// A place in the network where dropout acts (one `nn.Dropout` module in `transformers`).
public struct DropoutSite: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case embeddings
        case attentionProbabilities(layer: Int)
        case attentionOutput(layer: Int)
        case output(layer: Int)
        case classifier
    }

    /// Position in `BertArchitecture.sites`; also the Philox site number of its random stream.
    public let index: Int
    public let kind: Kind
    /// The module path in the `transformers` model, so `model.get_submodule(path).p = p` reaches it.
    public let modulePath: String
    /// The probability the config gives this site.
    public let configuredProbability: Double
}

/// Shapes, parameter names and dropout sites of one BERT, derived from its config and head.
public struct BertArchitecture: Sendable {
    public let config: BertConfig
    public let head: BertHead
    public let layout: ParameterLayout
    public let sites: [DropoutSite]
    public let geluForm: GeluForm

    public var hidden: Int { config.hiddenSize }
    public var heads: Int { config.numAttentionHeads }
    public var headDim: Int { config.hiddenSize / config.numAttentionHeads }
    public var intermediate: Int { config.intermediateSize }
    public var layers: Int { config.numHiddenLayers }
    public var vocabulary: Int { config.vocabSize }

    public init(config: BertConfig, head: BertHead) throws {
        self.config = config
        self.head = head
        // BertConfig has already rejected activations without a kernel.
        geluForm = config.hiddenAct == "gelu" ? .erf : .tanh
        layout = Self.layout(config, head)
        sites = Self.sites(config, head)
    }

    /// Parameters in `state_dict` order (tied decoder weight omitted: it is the word embeddings).
    private static func layout(_ c: BertConfig, _ head: BertHead) -> ParameterLayout {
        var l = ParameterLayout()
        let h = c.hiddenSize, i = c.intermediateSize
        l.add("embeddings.word_embeddings.weight", [c.vocabSize, h])
        l.add("embeddings.position_embeddings.weight", [c.maxPositionEmbeddings, h])
        l.add("embeddings.token_type_embeddings.weight", [c.typeVocabSize, h])
        l.add("embeddings.LayerNorm.weight", [h])
        l.add("embeddings.LayerNorm.bias", [h])
        for layer in 0..<c.numHiddenLayers {
            let p = "encoder.layer.\(layer)."
            for name in ["query", "key", "value"] {
                l.add(p + "attention.self.\(name).weight", [h, h])
                l.add(p + "attention.self.\(name).bias", [h])
            }
            l.add(p + "attention.output.dense.weight", [h, h])
            l.add(p + "attention.output.dense.bias", [h])
            l.add(p + "attention.output.LayerNorm.weight", [h])
            l.add(p + "attention.output.LayerNorm.bias", [h])
            l.add(p + "intermediate.dense.weight", [i, h])
            l.add(p + "intermediate.dense.bias", [i])
            l.add(p + "output.dense.weight", [h, i])
            l.add(p + "output.dense.bias", [h])
            l.add(p + "output.LayerNorm.weight", [h])
            l.add(p + "output.LayerNorm.bias", [h])
        }
        if head.hasPooler {
            l.add("pooler.dense.weight", [h, h])
            l.add("pooler.dense.bias", [h])
        }
        switch head {
        case .encoder:
            break
        case .maskedLM:
            l.add("cls.predictions.bias", [c.vocabSize])
            l.add("cls.predictions.transform.dense.weight", [h, h])
            l.add("cls.predictions.transform.dense.bias", [h])
            l.add("cls.predictions.transform.LayerNorm.weight", [h])
            l.add("cls.predictions.transform.LayerNorm.bias", [h])
        case .sequenceClassification(let labels, _):
            l.add("classifier.weight", [labels, h])
            l.add("classifier.bias", [labels])
        }
        return l
    }

    /// 1 + 3·L sites in network order, plus the classifier's for a classification head.
    private static func sites(_ c: BertConfig, _ head: BertHead) -> [DropoutSite] {
        let prefix = head.encoderPrefix
        var sites: [DropoutSite] = []
        func add(_ kind: DropoutSite.Kind, _ path: String, _ p: Double) {
            sites.append(DropoutSite(index: sites.count, kind: kind, modulePath: path, configuredProbability: p))
        }
        add(.embeddings, prefix + "embeddings.dropout", c.hiddenDropoutProb)
        for layer in 0..<c.numHiddenLayers {
            let p = prefix + "encoder.layer.\(layer)."
            add(.attentionProbabilities(layer: layer), p + "attention.self.dropout", c.attentionProbsDropoutProb)
            add(.attentionOutput(layer: layer), p + "attention.output.dropout", c.hiddenDropoutProb)
            add(.output(layer: layer), p + "output.dropout", c.hiddenDropoutProb)
        }
        if case .sequenceClassification = head {
            add(.classifier, "dropout", c.classifierDropout ?? c.hiddenDropoutProb)
        }
        return sites
    }

    /// The name a parameter has in a checkpoint of this head (`bert.`-prefixed encoder in head models).
    public func checkpointName(_ slot: ParameterSlot) -> String {
        isHeadParameter(slot.name) ? slot.name : head.encoderPrefix + slot.name
    }

    /// Head tensors (`cls.*`, `classifier.*`) keep their names in every checkpoint; encoder ones may carry `bert.`.
    public func isHeadParameter(_ name: String) -> Bool {
        name.hasPrefix("cls.") || name.hasPrefix("classifier.")
    }
}
