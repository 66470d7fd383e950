import Foundation
import GuidedCompute

extension BertArchitecture: ModelArchitecture {
    public var family: ModelFamily { .bert }
    public var className: String { head.description }
    public var basePrefix: String { "bert." }
    public func isInputMajor(_ slot: ParameterSlot) -> Bool { false }
    public var isBase: Bool { head == .encoder }
    public var shapeSummary: String {
        "\(layers) layers, hidden \(hidden), \(heads) heads, FFN \(intermediate), vocabulary \(vocabulary), "
            + "\(config.maxPositionEmbeddings) positions, \(config.hiddenAct)"
    }

    /// BERT's layer groups (../shared/DESIGN.md, "Layer aggregation"):
    ///
    /// | group (names without `bert.`)       | dropout site it precedes                      |
    /// |-------------------------------------|-----------------------------------------------|
    /// | `embeddings`                        | `embeddings.dropout`                          |
    /// | `encoder.layer.i.attention.self`    | `encoder.layer.i.attention.self.dropout` (attention probabilities) |
    /// | `encoder.layer.i.attention.output`  | `encoder.layer.i.attention.output.dropout`    |
    /// | `encoder.layer.i.intermediate`      | none                                          |
    /// | `encoder.layer.i.output`            | `encoder.layer.i.output.dropout`              |
    /// | `pooler`, `cls`, `classifier`, ...  | none (the classifier's dropout is not scheduled) |
    public func layerGroup(of full: String) -> LayerGroupKey {
        let parts = bareName(full).split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if parts.first == "embeddings" { return LayerGroupKey(name: "embeddings", rank: [0], site: .embeddings) }
        if parts.count >= 4, parts[0] == "encoder", parts[1] == "layer", let layer = Int(parts[2]), layer >= 0 {
            let prefix = "encoder.layer.\(layer)."
            switch (parts[3], parts.count > 4 ? parts[4] : "") {
            case ("attention", "self"):
                return LayerGroupKey(name: prefix + "attention.self", rank: [1, layer, 0], site: .attentionProbabilities(layer: layer))
            case ("attention", "output"):
                return LayerGroupKey(name: prefix + "attention.output", rank: [1, layer, 1], site: .attentionOutput(layer: layer))
            case ("intermediate", _):
                return LayerGroupKey(name: prefix + "intermediate", rank: [1, layer, 2], site: nil)
            case ("output", _):
                return LayerGroupKey(name: prefix + "output", rank: [1, layer, 3], site: .output(layer: layer))
            default:
                return LayerGroupKey(name: prefix + parts[3], rank: [1, layer, 4], site: nil)
            }
        }
        let rank: Int
        switch parts[0] {
        case "pooler": rank = 2
        case "cls", "classifier": rank = 3
        default: rank = 4
        }
        return LayerGroupKey(name: parts[0], rank: [rank], site: nil)
    }
}

extension MaskedLMPass: LossPass {}
extension ClassificationPass: ClassifierPass {}

extension BertModel: LanguageModel {
    public var maxPositions: Int { config.maxPositionEmbeddings }
    public var paddingId: Int32 { Int32(config.padTokenId) }
    public var fillsFisherBatches: Bool { encoderPacksRows }
    public var tiedTable: String? { architecture.head == .maskedLM ? "embeddings.word_embeddings.weight" : nil }
    public var classifier: (labels: Int, regression: Bool)? {
        guard case let .sequenceClassification(labels, regression) = architecture.head else { return nil }
        return (labels, regression)
    }

    public func pretrainingForward(_ batch: TokenBatch, labels: [Int32], regularization: Regularization?,
                                   reduction: LossReduction) throws -> MaskedLMPass {
        try maskedLM(batch, labels: labels, regularization: regularization, reduction: reduction)
    }

    public func pretrainingBackward(_ pass: MaskedLMPass, sink: GradientSink) throws {
        try maskedLMBackward(pass, sink: sink)
    }

    public func classifierForward(_ batch: TokenBatch, labels: [Float], regularization: Regularization?,
                                  reduction: LossReduction) throws -> ClassificationPass {
        try classify(batch, labels: labels, regularization: regularization, reduction: reduction)
    }

    public func classifierBackward(_ pass: ClassificationPass, sink: GradientSink) throws {
        try classifyBackward(pass, sink: sink)
    }

    public func save(to folder: URL, tokenizerFrom: URL?) throws {
        try BertCheckpoint.save(self, to: folder, configFrom: config, tokenizerFrom: tokenizerFrom)
    }
}

extension BertCheckpoint {
    /// The head a role asks for, given the checkpoint's config.
    static func head(for role: ModelRole, config: BertConfig) -> BertHead {
        switch role {
        case .asSaved: return head(of: config)
        case .pretraining: return .maskedLM
        case .base: return .encoder
        case let .classification(labels, regression): return .sequenceClassification(labels: labels, regression: regression)
        }
    }
}
