import GuidedCompute

/// The architectures `guided` reads, by the `model_type` of their `config.json`.
public enum ModelFamily: String, Sendable, Codable, CaseIterable {
    case bert
    case gpt2

    /// The family of a checkpoint; an error lists the supported `model_type`s.
    public static func of(_ checkpoint: CheckpointFolder) throws -> ModelFamily {
        guard let family = ModelFamily(rawValue: checkpoint.modelType) else {
            let supported = allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw ModelError("\(checkpoint.configPath): \"model_type\" is \"\(checkpoint.modelType)\"; "
                + "guided reads \(supported) checkpoints")
        }
        return family
    }

    /// The pretraining objective the Fisher is estimated with (../shared/DESIGN.md, "The method").
    public var objective: PretrainingObjective {
        switch self {
        case .bert: return .maskedLM
        case .gpt2: return .causalLM
        }
    }
}

/// The loss a model was pretrained with, which the empirical Fisher differentiates.
public enum PretrainingObjective: String, Sendable, Codable {
    /// BERT: 15% of tokens selected, 80/10/10 masked, cross-entropy on the selected ones.
    case maskedLM = "mlm"
    /// GPT-2: next-token cross-entropy at every non-padding position.
    case causalLM = "clm"
}

/// What a command asks a checkpoint to be read as; each family maps it to its own head.
public enum ModelRole: Sendable, Equatable {
    /// The class the checkpoint was saved from (`architectures` in config.json).
    case asSaved
    /// The pretraining head, for the Fisher and loss landscapes (`BertForMaskedLM`, `GPT2LMHeadModel`).
    case pretraining
    /// A sequence classifier with `labels` outputs; `regression` for one output under MSE.
    case classification(labels: Int, regression: Bool)
    /// The bare base model, no head (`BertModel`, `GPT2Model`).
    case base
}

/// Where a parameter tensor belongs for the per-layer Fisher (../shared/DESIGN.md, "Layer
/// aggregation"): its group, the group's rank in network order, and the dropout site it precedes.
public struct LayerGroupKey: Sendable, Equatable {
    public let name: String
    public let rank: [Int]
    public let site: DropoutSite.Kind?

    public init(name: String, rank: [Int], site: DropoutSite.Kind?) {
        self.name = name
        self.rank = rank
        self.site = site
    }
}

/// Shapes, parameter names, dropout sites and layer groups of one model, derived from its config
/// and head: everything the Fisher, its analyses and the schedule need, without the weights.
/// An architecture is one conforming type (`BertArchitecture`, `GPT2Architecture`).
public protocol ModelArchitecture: Sendable {
    var family: ModelFamily { get }
    /// The `transformers` class, e.g. `BertForMaskedLM`.
    var className: String { get }
    var layout: ParameterLayout { get }
    /// Dropout sites in network order; `DropoutSite.index` is the position here.
    var sites: [DropoutSite] { get }
    var layers: Int { get }
    /// The prefix the base model's tensors carry in a head model's checkpoint (`bert.`, `transformer.`).
    var basePrefix: String { get }
    /// Whether this is the bare base model (its checkpoint names carry no prefix).
    var isBase: Bool { get }
    /// The name a parameter has in a checkpoint of this head.
    func checkpointName(_ slot: ParameterSlot) -> String
    /// Head tensors keep their names in every checkpoint; the others may carry `basePrefix`.
    func isHeadParameter(_ name: String) -> Bool
    /// The layer group of a parameter name given with or without `basePrefix`.
    func layerGroup(of name: String) -> LayerGroupKey
    /// One line on the shapes for people (`guided inspect`).
    var shapeSummary: String { get }
    /// Whether a matrix parameter is stored [in, out] (GPT-2's `Conv1D`) rather than [out, in]:
    /// its output units are columns, not rows.
    func isInputMajor(_ slot: ParameterSlot) -> Bool
}

extension ModelArchitecture {
    public func site(_ kind: DropoutSite.Kind) -> DropoutSite {
        guard let site = sites.first(where: { $0.kind == kind }) else { preconditionFailure("no dropout site \(kind)") }
        return site
    }

    /// `name` without `basePrefix`.
    public func bareName(_ name: String) -> String {
        name.hasPrefix(basePrefix) ? String(name.dropFirst(basePrefix.count)) : name
    }
}
