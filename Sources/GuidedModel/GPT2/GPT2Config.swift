import Foundation
import GuidedCompute

/// A GPT-2 model's `config.json`, as `transformers.GPT2Config` reads it: absent fields take
/// `GPT2Config`'s defaults, and values the model code here cannot honour are errors that name the
/// file, the field and the value, rather than silently wrong models (as `BertConfig`).
///
/// The original file is kept (`json`) so that a fine-tuned model is saved with every field it came
/// with, unknown ones included (`jsonData(updating:)`).
public struct GPT2Config: Sendable, Equatable {
    /// `activation_function` values with a kernel: the tanh approximation (`gelu_new`,
    /// `gelu_pytorch_tanh`, `gelu_fast`: the same function) and erf GELU (`gelu`).
    public static let supportedActivations = ["gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu"]

    public let vocabSize: Int
    /// `n_positions`: rows of `wpe`, the longest sequence.
    public let maxPositions: Int
    /// `n_embd`.
    public let hiddenSize: Int
    /// `n_layer`.
    public let numLayers: Int
    /// `n_head`.
    public let numHeads: Int
    /// `n_inner`, or 4·n_embd when null or absent (as `GPT2MLP`).
    public let innerSize: Int
    public let activationFunction: String
    public let layerNormEpsilon: Double
    public let residDropout: Double
    public let embdDropout: Double
    public let attnDropout: Double
    public let initializerRange: Double
    public let bosTokenId: Int
    public let eosTokenId: Int
    /// GPT-2 has none by default; sequence classification over a batch needs one (to find each
    /// sample's last token), as in `transformers`.
    public let padTokenId: Int?
    /// `id2label.count` when the file has `id2label`, else `num_labels`, else 2.
    public let numLabels: Int
    public let id2label: [Int: String]
    public let label2id: [String: Int]
    public let problemType: String?
    public let architectures: [String]?
    /// The file as read (UTF-8 JSON), for `jsonData(updating:)`.
    public let json: Data
    public let path: String

    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ModelError("\(url.path): cannot read the file: \(error.localizedDescription)")
        }
        try self.init(data: data, path: url.path)
    }

    /// Parses and validates config JSON; `path` names it in error messages.
    public init(data: Data, path: String = "config.json") throws {
        self.path = path
        json = data
        let root = try StrictJSON.parseObject(data, path: path)
        let reader = ModelConfigReader(path: path, root: root)
        func unsupported(_ message: String) -> ModelError { ModelError("\(path): \(message)") }

        let modelType = try reader.string("model_type", default: "")
        guard modelType == "gpt2" else {
            throw unsupported("\"model_type\" is \"\(modelType)\"; a GPT-2 checkpoint has \"gpt2\"")
        }
        vocabSize = try reader.positiveInt("vocab_size", default: 50257)
        maxPositions = try reader.positiveInt("n_positions", default: 1024)
        hiddenSize = try reader.positiveInt("n_embd", default: 768)
        numLayers = try reader.positiveInt("n_layer", default: 12)
        numHeads = try reader.positiveInt("n_head", default: 12)
        guard hiddenSize % numHeads == 0 else {
            throw unsupported("\"n_embd\" (\(hiddenSize)) must be a multiple of \"n_head\" (\(numHeads))")
        }
        innerSize = reader.isNullOrAbsent("n_inner") ? 4 * hiddenSize : try reader.positiveInt("n_inner", default: 0)
        activationFunction = try reader.string("activation_function", default: "gelu_new")
        guard Self.supportedActivations.contains(activationFunction) else {
            throw unsupported("\"activation_function\" is \"\(activationFunction)\"; supported: "
                + Self.supportedActivations.joined(separator: ", "))
        }
        layerNormEpsilon = try reader.double("layer_norm_epsilon", default: 1e-5, requirement: "a positive number") { $0 > 0 }
        residDropout = try reader.probability("resid_pdrop", default: 0.1)
        embdDropout = try reader.probability("embd_pdrop", default: 0.1)
        attnDropout = try reader.probability("attn_pdrop", default: 0.1)
        initializerRange = try reader.double("initializer_range", default: 0.02, requirement: "a non-negative number") { $0 >= 0 }

        guard try reader.bool("scale_attn_weights", default: true) else {
            throw unsupported("\"scale_attn_weights\" is false; only attention scaled by 1/√head_dim is supported")
        }
        guard try !reader.bool("scale_attn_by_inverse_layer_idx", default: false) else {
            throw unsupported("\"scale_attn_by_inverse_layer_idx\" is true; it is not supported")
        }
        guard try !reader.bool("add_cross_attention", default: false) else {
            throw unsupported("\"add_cross_attention\" is true; cross-attention (an encoder-decoder GPT-2) is not supported")
        }
        guard try reader.bool("tie_word_embeddings", default: true) else {
            throw unsupported("\"tie_word_embeddings\" is false; an untied lm_head is not supported "
                + "(the LM head here is the transposed wte, as in every released GPT-2)")
        }

        let vocabulary = vocabSize
        let tokenRequirement = "an integer in 0..<vocab_size (\(vocabSize))"
        let inVocabulary: (Int) -> Bool = { $0 >= 0 && $0 < vocabulary }
        bosTokenId = reader.isNullOrAbsent("bos_token_id") ? 50256
            : try reader.int("bos_token_id", default: 50256, requirement: tokenRequirement, inVocabulary)
        eosTokenId = reader.isNullOrAbsent("eos_token_id") ? 50256
            : try reader.int("eos_token_id", default: 50256, requirement: tokenRequirement, inVocabulary)
        padTokenId = reader.isNullOrAbsent("pad_token_id") ? nil
            : try reader.int("pad_token_id", default: 0, requirement: tokenRequirement, inVocabulary)

        architectures = reader.isNullOrAbsent("architectures") ? nil : try reader.stringArray("architectures")

        let labels = try reader.classifierLabels()
        (numLabels, id2label, label2id, problemType) = (labels.numLabels, labels.id2label, labels.label2id, labels.problemType)
    }

    /// Size of one attention head.

    /// The GELU form `activation_function` names.
    public var geluForm: GeluForm { activationFunction == "gelu" ? .erf : .tanh }

    /// Whether a classification head regresses (MSE on one output), as `GPT2ForSequenceClassification`
    /// decides: `problem_type` "regression", or one label and no problem type.
    public var isRegression: Bool { ClassifierLabels.isRegression(problemType: problemType, numLabels: numLabels) }

    /// The original file with `updates` applied, formatted as `save_pretrained` writes it
    /// (see `BertConfig.jsonData(updating:)`).
    public func jsonData(updating updates: [String: Any] = [:]) throws -> Data {
        try updatedConfigJSON(json, path: path, updates: updates)
    }

    public static func == (lhs: GPT2Config, rhs: GPT2Config) -> Bool {
        lhs.vocabSize == rhs.vocabSize && lhs.maxPositions == rhs.maxPositions && lhs.hiddenSize == rhs.hiddenSize
            && lhs.numLayers == rhs.numLayers && lhs.numHeads == rhs.numHeads && lhs.innerSize == rhs.innerSize
            && lhs.activationFunction == rhs.activationFunction && lhs.layerNormEpsilon == rhs.layerNormEpsilon
            && lhs.residDropout == rhs.residDropout && lhs.embdDropout == rhs.embdDropout
            && lhs.attnDropout == rhs.attnDropout && lhs.initializerRange == rhs.initializerRange
            && lhs.bosTokenId == rhs.bosTokenId && lhs.eosTokenId == rhs.eosTokenId && lhs.padTokenId == rhs.padTokenId
            && lhs.numLabels == rhs.numLabels && lhs.id2label == rhs.id2label && lhs.label2id == rhs.label2id
            && lhs.problemType == rhs.problemType && lhs.architectures == rhs.architectures
    }
}
