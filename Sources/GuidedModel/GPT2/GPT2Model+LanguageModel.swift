import Foundation
import GuidedCompute

extension GPT2Architecture: ModelArchitecture {
    public var family: ModelFamily { .gpt2 }
    public var className: String { head.description }
    public var basePrefix: String { "transformer." }
    /// `c_attn`, `c_proj` and `c_fc` are `Conv1D`s, stored [in, out].
    public func isInputMajor(_ slot: ParameterSlot) -> Bool {
        slot.shape.count == 2 && slot.name.hasPrefix("h.") && slot.name.hasSuffix(".weight") && !slot.name.contains(".ln_")
    }
    public var isBase: Bool { head == .base }
    public var shapeSummary: String {
        "\(layers) layers, hidden \(hidden), \(heads) heads, MLP \(intermediate), vocabulary \(vocabulary), "
            + "\(config.maxPositions) positions, \(config.activationFunction)"
    }

    /// GPT-2's layer groups: each group is the tensors whose output the next dropout site acts on.
    ///
    /// | group (names without `transformer.`) | tensors                          | dropout site it precedes            |
    /// |---------------------------------------|----------------------------------|-------------------------------------|
    /// | `embeddings`                          | `wte`, `wpe`                     | `transformer.drop`                  |
    /// | `h.i.ln_1+attn.c_attn`                | `h.i.ln_1`, `h.i.attn.c_attn`    | `h.i.attn.attn_dropout` (attention probabilities) |
    /// | `h.i.attn.c_proj`                     | `h.i.attn.c_proj`                | `h.i.attn.resid_dropout`            |
    /// | `h.i.ln_2+mlp`                        | `h.i.ln_2`, `h.i.mlp.c_fc`, `h.i.mlp.c_proj` | `h.i.mlp.dropout`       |
    /// | `ln_f`, `score`, ...                  |                                  | none                                |
    public func layerGroup(of full: String) -> LayerGroupKey {
        let parts = bareName(full).split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if parts[0] == "wte" || parts[0] == "wpe" { return LayerGroupKey(name: "embeddings", rank: [0], site: .embeddings) }
        if parts.count >= 3, parts[0] == "h", let layer = Int(parts[1]), layer >= 0 {
            let prefix = "h.\(layer)."
            switch (parts[2], parts.count > 3 ? parts[3] : "") {
            case ("ln_1", _), ("attn", "c_attn"):
                return LayerGroupKey(name: prefix + "ln_1+attn.c_attn", rank: [1, layer, 0], site: .attentionProbabilities(layer: layer))
            case ("attn", "c_proj"):
                return LayerGroupKey(name: prefix + "attn.c_proj", rank: [1, layer, 1], site: .attentionOutput(layer: layer))
            case ("ln_2", _), ("mlp", _):
                return LayerGroupKey(name: prefix + "ln_2+mlp", rank: [1, layer, 2], site: .output(layer: layer))
            default:
                return LayerGroupKey(name: prefix + parts[2], rank: [1, layer, 3], site: nil)
            }
        }
        let rank: Int
        switch parts[0] {
        case "ln_f": rank = 2
        case "score", "lm_head": rank = 3
        default: rank = 4
        }
        return LayerGroupKey(name: parts[0], rank: [rank], site: nil)
    }
}

extension CausalLMPass: LossPass {}
extension GPT2ClassificationPass: ClassifierPass {}

extension GPT2Model: LanguageModel {
    public var maxPositions: Int { config.maxPositions }
    /// The pad token when the config names one, else end-of-text, else 0 (GPT-2 has no pad token;
    /// padded positions are masked out and carry no label, so the id only has to be a valid one).
    public var paddingId: Int32 {
        Int32(config.padTokenId ?? (config.eosTokenId < config.vocabSize ? config.eosTokenId : 0))
    }
    public var tiedTable: String? { architecture.head == .languageModel ? GPT2Architecture.tiedTable : nil }
    public var classifier: (labels: Int, regression: Bool)? {
        guard case let .sequenceClassification(labels, regression) = architecture.head else { return nil }
        return (labels, regression)
    }

    public func pretrainingForward(_ batch: TokenBatch, labels: [Int32], regularization: Regularization?,
                                   reduction: LossReduction) throws -> CausalLMPass {
        try causalLM(batch, labels: labels, regularization: regularization, reduction: reduction)
    }

    public func pretrainingBackward(_ pass: CausalLMPass, sink: GradientSink) throws {
        try causalLMBackward(pass, sink: sink)
    }

    public func classifierForward(_ batch: TokenBatch, labels: [Float], regularization: Regularization?,
                                  reduction: LossReduction) throws -> GPT2ClassificationPass {
        try classify(batch, labels: labels, regularization: regularization, reduction: reduction)
    }

    public func classifierBackward(_ pass: GPT2ClassificationPass, sink: GradientSink) throws {
        try classifyBackward(pass, sink: sink)
    }

    public func save(to folder: URL, tokenizerFrom: URL?) throws {
        try GPT2Checkpoint.save(self, to: folder, configFrom: config, tokenizerFrom: tokenizerFrom)
    }
}

extension GPT2Checkpoint {
    /// The head a role asks for, given the checkpoint's config.
    static func head(for role: ModelRole, config: GPT2Config) -> GPT2Head {
        switch role {
        case .asSaved: return head(of: config)
        case .pretraining: return .languageModel
        case .base: return .base
        case let .classification(labels, regression): return .sequenceClassification(labels: labels, regression: regression)
        }
    }
}
