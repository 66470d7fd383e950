import Foundation

/// A BERT model's `config.json`, as `transformers.BertConfig` reads it: absent fields take
/// `BertConfig`'s defaults, and values the model code here cannot honour are errors that name the
/// file, the field and the value (`config.json: "num_attention_heads" must be a positive integer,
/// got "x"`) rather than silently wrong models.
///
/// The original file is kept (`json`) so that a fine-tuned model can be saved with every field it
/// came with, unknown ones included (`jsonData(updating:)`).
///
/// Equality compares the parsed fields below, not `json`: two files that differ only in fields
/// this type does not read, or in formatting, are equal.
public struct BertConfig: Sendable, Equatable {
    /// Activations accepted for `hidden_act`, those the model has kernels for: erf GELU (`gelu`) and
    /// the tanh approximation (`gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`: the same function).
    public static let supportedHiddenActs = ["gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast"]
    /// Values accepted for `problem_type` (besides absent / null).
    public static let problemTypes = ClassifierLabels.problemTypes

    public let vocabSize: Int
    public let hiddenSize: Int
    public let numHiddenLayers: Int
    public let numAttentionHeads: Int
    public let intermediateSize: Int
    public let hiddenAct: String
    public let hiddenDropoutProb: Double
    public let attentionProbsDropoutProb: Double
    public let maxPositionEmbeddings: Int
    public let typeVocabSize: Int
    public let initializerRange: Double
    public let layerNormEps: Double
    public let padTokenId: Int
    /// Dropout before the classifier; nil means "use `hiddenDropoutProb`", as in transformers.
    public let classifierDropout: Double?
    /// `id2label.count` when the file has `id2label`, else `num_labels`, else 2.
    public let numLabels: Int
    /// Keys are exactly `0..<numLabels`; `LABEL_i` when the file has none (as transformers).
    public let id2label: [Int: String]
    /// As in the file; the inverse of `id2label` when absent.
    public let label2id: [String: Int]
    public let problemType: String?
    public let modelType: String
    public let architectures: [String]?
    /// Always "absolute" (other position embeddings are rejected).
    public let positionEmbeddingType: String
    /// Whether the MLM decoder shares the word-embedding matrix (transformers' default: true).
    public let tieWordEmbeddings: Bool
    /// The file as read (UTF-8 JSON), for `jsonData(updating:)`.
    public let json: Data
    /// The file's path (or the name given to `init(data:path:)`), used in error messages.
    public let path: String

    /// Reads and validates `config.json` at `url`.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            if !FileManager.default.fileExists(atPath: url.path) {
                throw ModelError("\(url.path): no such file")
            }
            throw ModelError("\(url.path): cannot read the file: \(error.localizedDescription)")
        }
        try self.init(data: data, path: url.path)
    }

    /// Parses and validates config JSON; `path` names it in error messages.
    public init(data: Data, path: String = "config.json") throws {
        self.path = path
        self.json = data
        let root = try StrictJSON.parseObject(data, path: path)
        let reader = ModelConfigReader(path: path, root: root)

        modelType = try reader.string("model_type", default: "bert")
        guard modelType == "bert" else {
            throw ModelError("\(path): \"model_type\" is \"\(modelType)\"; only BERT checkpoints (\"bert\") are supported")
        }
        vocabSize = try reader.positiveInt("vocab_size", default: 30522)
        hiddenSize = try reader.positiveInt("hidden_size", default: 768)
        numHiddenLayers = try reader.positiveInt("num_hidden_layers", default: 12)
        numAttentionHeads = try reader.positiveInt("num_attention_heads", default: 12)
        guard hiddenSize % numAttentionHeads == 0 else {
            throw ModelError("\(path): \"hidden_size\" (\(hiddenSize)) must be a multiple of "
                + "\"num_attention_heads\" (\(numAttentionHeads))")
        }
        intermediateSize = try reader.positiveInt("intermediate_size", default: 3072)
        hiddenAct = try reader.string("hidden_act", default: "gelu")
        guard Self.supportedHiddenActs.contains(hiddenAct) else {
            throw ModelError("\(path): \"hidden_act\" is \"\(hiddenAct)\"; supported: "
                + Self.supportedHiddenActs.joined(separator: ", "))
        }
        hiddenDropoutProb = try reader.probability("hidden_dropout_prob", default: 0.1)
        attentionProbsDropoutProb = try reader.probability("attention_probs_dropout_prob", default: 0.1)
        maxPositionEmbeddings = try reader.positiveInt("max_position_embeddings", default: 512)
        typeVocabSize = try reader.positiveInt("type_vocab_size", default: 2)
        initializerRange = try reader.double("initializer_range", default: 0.02, requirement: "a non-negative number") { $0 >= 0 }
        layerNormEps = try reader.double("layer_norm_eps", default: 1e-12, requirement: "a positive number") { $0 > 0 }
        let vocabularySize = vocabSize
        padTokenId = try reader.int("pad_token_id", default: 0, requirement: "an integer in 0..<vocab_size (\(vocabSize))") {
            $0 >= 0 && $0 < vocabularySize
        }
        if reader.isNullOrAbsent("classifier_dropout") {
            classifierDropout = nil
        } else {
            classifierDropout = try reader.probability("classifier_dropout", default: 0)
        }
        positionEmbeddingType = try reader.string("position_embedding_type", default: "absolute")
        guard positionEmbeddingType == "absolute" else {
            throw ModelError("\(path): \"position_embedding_type\" is \"\(positionEmbeddingType)\"; "
                + "only \"absolute\" is supported")
        }
        tieWordEmbeddings = try reader.bool("tie_word_embeddings", default: true)

        if reader.isNullOrAbsent("architectures") {
            architectures = nil
        } else {
            architectures = try reader.stringArray("architectures")
        }

        let labels = try reader.classifierLabels()
        (numLabels, id2label, label2id, problemType) = (labels.numLabels, labels.id2label, labels.label2id, labels.problemType)
    }

    /// Whether a classification head regresses (MSE on one output), as `BertForSequenceClassification`
    /// decides: `problem_type` "regression", or one label and no problem type.
    public var isRegression: Bool { ClassifierLabels.isRegression(problemType: problemType, numLabels: numLabels) }

    /// Size of one attention head (`hiddenSize / numAttentionHeads`).
    public var headSize: Int { hiddenSize / numAttentionHeads }

    /// The dropout before the classifier: `classifierDropout`, or `hiddenDropoutProb` when nil.
    public var effectiveClassifierDropout: Double { classifierDropout ?? hiddenDropoutProb }

    /// The original file with `updates` applied (top-level keys replaced or added), as pretty-printed
    /// JSON with sorted keys, two-space indent and a final newline — the format transformers'
    /// `save_pretrained` writes. Fields not updated keep their original values exactly (numbers keep
    /// their literal text). Update values may be String, Bool, integers, finite Float/Double,
    /// NSNumber, NSNull, nil optionals, arrays and dictionaries (String or Int keys) of these.
    public func jsonData(updating updates: [String: Any] = [:]) throws -> Data {
        try updatedConfigJSON(json, path: path, updates: updates)
    }

    public static func == (lhs: BertConfig, rhs: BertConfig) -> Bool {
        lhs.vocabSize == rhs.vocabSize && lhs.hiddenSize == rhs.hiddenSize
            && lhs.numHiddenLayers == rhs.numHiddenLayers && lhs.numAttentionHeads == rhs.numAttentionHeads
            && lhs.intermediateSize == rhs.intermediateSize && lhs.hiddenAct == rhs.hiddenAct
            && lhs.hiddenDropoutProb == rhs.hiddenDropoutProb
            && lhs.attentionProbsDropoutProb == rhs.attentionProbsDropoutProb
            && lhs.maxPositionEmbeddings == rhs.maxPositionEmbeddings && lhs.typeVocabSize == rhs.typeVocabSize
            && lhs.initializerRange == rhs.initializerRange && lhs.layerNormEps == rhs.layerNormEps
            && lhs.padTokenId == rhs.padTokenId && lhs.classifierDropout == rhs.classifierDropout
            && lhs.numLabels == rhs.numLabels && lhs.id2label == rhs.id2label && lhs.label2id == rhs.label2id
            && lhs.problemType == rhs.problemType && lhs.modelType == rhs.modelType
            && lhs.architectures == rhs.architectures && lhs.positionEmbeddingType == rhs.positionEmbeddingType
            && lhs.tieWordEmbeddings == rhs.tieWordEmbeddings
    }

}
