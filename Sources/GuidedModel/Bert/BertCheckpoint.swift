import Foundation
import GuidedCompute

/// What loading a checkpoint found, for the user to read (`guided inspect` prints it).
public struct LoadReport: Sendable {
    /// Parameters read from the checkpoint (model names).
    public var found: [String] = []
    /// Parameters the checkpoint lacks, initialised as `transformers` initialises them.
    public var initialized: [String] = []
    /// Checkpoint tensors the model does not use (e.g. `embeddings.position_ids`, a pooler under an MLM head).
    public var unused: [String] = []
    /// The checkpoint's names carried the base prefix (`bert.`, `transformer.`).
    public var prefixed = false
    /// Other things a user should know about how the checkpoint was read.
    public var notes: [String] = []
}

/// Reading a BERT from a Hugging Face checkpoint folder, and writing one back.
public enum BertCheckpoint {
    /// The head a checkpoint's `architectures` names; `BertModel` (or none) is the bare encoder.
    public static func head(of config: BertConfig) -> BertHead {
        switch config.architectures?.first {
        case "BertForMaskedLM", "BertForPreTraining": return .maskedLM
        case "BertForSequenceClassification":
            return .sequenceClassification(labels: config.numLabels, regression: config.isRegression)
        default: return .encoder
        }
    }

    /// Loads `folder` with `head` on top (nil: the head the checkpoint was saved with). Tensors
    /// missing for that head are initialised as `transformers` does — normal(0, initializer_range)
    /// weights, zero biases, LayerNorm ones and zeros — from a generator seeded with `seed`.
    public static func load(_ folder: URL, head: BertHead? = nil, backend: Backend,
                            seed: UInt64 = 0) throws -> (model: BertModel, report: LoadReport) {
        let checkpoint = try CheckpointFolder(url: folder)
        let config = try checkpoint.bertConfig()
        let head = head ?? Self.head(of: config)
        let architecture = try BertArchitecture(config: config, head: head)
        let model = try BertModel(architecture: architecture, backend: backend)
        var random = InitRandom(seed: seed)
        // A stored decoder weight is the word embeddings (tied); older checkpoints name the bias after the decoder.
        let report = try model.read(checkpoint, aliases: ["cls.predictions.bias": ["cls.predictions.decoder.bias"]],
                                    tied: ["cls.predictions.decoder.weight"]) {
            initialValues($0, config: config, random: &random)
        }
        return (model, report)
    }

    /// `transformers`' `_init_weights` for BERT.
    static func initialValues(_ slot: ParameterSlot, config: BertConfig, random: inout InitRandom) -> [Float] {
        let name = slot.name
        if name.hasSuffix("LayerNorm.weight") { return Array(repeating: 1, count: slot.count) }
        if name.hasSuffix(".bias") || name == "cls.predictions.bias" { return Array(repeating: 0, count: slot.count) }
        var values = (0..<slot.count).map { _ in Float(random.normal() * config.initializerRange) }
        if name == "embeddings.word_embeddings.weight" {
            let pad = config.padTokenId, width = slot.shape[1]
            if pad >= 0 && pad < slot.shape[0] { for j in 0..<width { values[pad * width + j] = 0 } }
        }
        return values
    }

    /// Writes `model` as a `transformers` checkpoint: `config.json` (the original fields kept, the
    /// head's class and labels updated), `model.safetensors` (the head's names; the tied decoder
    /// omitted, as `save_pretrained` does), and the tokenizer files of `tokenizerFrom`.
    /// Each file is written to a temporary name and renamed into place.
    public static func save(_ model: BertModel, to folder: URL, configFrom source: BertConfig,
                            tokenizerFrom: URL?) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        let a = model.architecture
        var tensors: [(name: String, shape: [Int], values: [Float])] = []
        for slot in a.layout.slots {
            tensors.append((a.checkpointName(slot), slot.shape, try model.backend.download(model.parameters.slice(slot))))
        }
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: folder.appendingPathComponent("model.safetensors"))

        let updates = CheckpointWriting.configUpdates(className: a.className, modelType: "bert", classifier: model.classifier,
                                                      sourceLabelCount: source.id2label.count)
        try writeFileAtomically(source.jsonData(updating: updates), to: folder.appendingPathComponent("config.json"))
        try CheckpointWriting.copyTokenizerFiles(["vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"],
                                                 from: tokenizerFrom, to: folder)
    }
}

/// Normal deviates for initialising missing heads: SplitMix64 and Box–Muller, seeded. (PyTorch's
/// generator cannot be reproduced; what matters is the distribution, which is `transformers`'.)
struct InitRandom {
    private var generator: SplitMix64

    init(seed: UInt64) { generator = SplitMix64(seed: seed ^ 0x5DEE_CE66_D1CE_4E5B) }

    mutating func next() -> UInt64 { generator.next() }

    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }

    mutating func normal() -> Double {
        let u1 = 1 - uniform(), u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

extension BertModel {
    /// A model with every parameter initialised as `transformers` initialises a new one
    /// (normal(0, initializer_range) weights, zero biases, LayerNorm ones and zeros), from `seed`.
    public static func randomlyInitialized(_ architecture: BertArchitecture, backend: Backend, seed: UInt64) throws -> BertModel {
        let model = try BertModel(architecture: architecture, backend: backend)
        var random = InitRandom(seed: seed)
        for slot in architecture.layout.slots {
            try model.setParameter(slot.name, BertCheckpoint.initialValues(slot, config: architecture.config, random: &random))
        }
        return model
    }
}

extension CheckpointFolder {
    /// `config.json` read as a BERT config (an error names the file when it is not one).
    public func bertConfig() throws -> BertConfig { try BertConfig(data: configData, path: configPath) }
}
