import Foundation
import GuidedCompute

/// Reading a GPT-2 from a Hugging Face checkpoint folder, and writing one back.
public enum GPT2Checkpoint {
    /// Tokenizer files copied with a saved model, those that exist in the source folder.
    public static let tokenizerFiles = ["vocab.json", "merges.txt", "tokenizer_config.json",
                                        "special_tokens_map.json", "tokenizer.json"]

    /// The head a checkpoint's `architectures` names; `GPT2Model` (or none) is the bare decoder.
    public static func head(of config: GPT2Config) -> GPT2Head {
        switch config.architectures?.first {
        case "GPT2LMHeadModel": return .languageModel
        case "GPT2ForSequenceClassification":
            return .sequenceClassification(labels: config.numLabels, regression: config.isRegression)
        default: return .base
        }
    }

    /// Loads `folder` with `head` on top (nil: the head the checkpoint was saved with). Names may
    /// carry `transformer.` or not; a stored `lm_head.weight` is the tied wte (counted as used); the
    /// old `h.i.attn.bias` / `h.i.attn.masked_bias` mask buffers are reported as unused. Tensors
    /// missing for that head are initialised as `transformers` does (see `initialValues`) from a
    /// generator seeded with `seed`, and listed in the report.
    public static func load(_ folder: URL, head: GPT2Head? = nil, backend: Backend,
                            seed: UInt64 = 0) throws -> (model: GPT2Model, report: LoadReport) {
        let checkpoint = try CheckpointFolder(url: folder)
        var config = try checkpoint.gpt2Config()
        let head = head ?? Self.head(of: config)
        var notes: [String] = []
        if case .sequenceClassification = head, config.padTokenId == nil {
            guard config.eosTokenId < config.vocabSize else {
                throw ModelError("\(config.path): a GPT-2 classifier finds each sequence's last token by pad_token_id, which is "
                    + "not set, and eos_token_id \(config.eosTokenId) is outside the vocabulary of \(config.vocabSize); "
                    + "set pad_token_id in config.json")
            }
            // GPT-2 has no pad token, and its classifier finds each sequence's last token by it:
            // the usual recipe (`config.pad_token_id = tokenizer.eos_token_id`), kept when saved.
            config = try GPT2Config(data: config.jsonData(updating: ["pad_token_id": config.eosTokenId]), path: config.path)
            notes.append("pad_token_id was not set: using eos_token_id \(config.eosTokenId), as the GPT-2 classification recipe does")
        }
        let architecture = try GPT2Architecture(config: config, head: head)
        let model = try GPT2Model(architecture: architecture, backend: backend)
        // A stored LM head is the word embeddings (tied); it is used, not a separate tensor.
        if let (entry, file) = checkpoint.entry("lm_head.weight"), entry.shape != [config.vocabSize, config.hiddenSize] {
            throw ModelError("\(file): tensor lm_head.weight has shape \(entry.shape), expected "
                + "\([config.vocabSize, config.hiddenSize]) (tied to wte)")
        }
        var random = InitRandom(seed: seed)
        var read = try model.read(checkpoint, tied: ["lm_head.weight"]) { initialValues($0, config: config, random: &random) }
        read.notes = notes
        return (model, read)
    }

    /// `transformers`' `_init_weights` for GPT-2: LayerNorm 1 and 0, biases 0, every weight
    /// normal(0, initializer_range) except the residual projections (`c_proj.weight`), whose std is
    /// divided by √(2·n_layer) (GPT-2's scaled initialisation).
    static func initialValues(_ slot: ParameterSlot, config: GPT2Config, random: inout InitRandom) -> [Float] {
        let name = slot.name
        let isLayerNorm = name.hasPrefix("ln_f.") || name.contains(".ln_1.") || name.contains(".ln_2.")
        if isLayerNorm && name.hasSuffix(".weight") { return Array(repeating: 1, count: slot.count) }
        if name.hasSuffix(".bias") { return Array(repeating: 0, count: slot.count) }
        let std = name.hasSuffix("c_proj.weight")
            ? config.initializerRange / (2 * Double(config.numLayers)).squareRoot()
            : config.initializerRange
        return (0..<slot.count).map { _ in Float(random.normal() * std) }
    }

    /// Writes `model` as a `transformers` checkpoint: `config.json` (the original fields kept, the
    /// head's class and labels updated), `model.safetensors` (the head's names, `transformer.` in head
    /// models; no `lm_head.weight`, as `save_pretrained` omits the tied weight), and the tokenizer
    /// files of `tokenizerFrom`. Each file is written to a temporary name and renamed into place.
    public static func save(_ model: GPT2Model, to folder: URL, configFrom source: GPT2Config,
                            tokenizerFrom: URL?) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        let a = model.architecture
        var tensors: [(name: String, shape: [Int], values: [Float])] = []
        for slot in a.layout.slots {
            tensors.append((a.checkpointName(slot), slot.shape, try model.backend.download(model.parameters.slice(slot))))
        }
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: folder.appendingPathComponent("model.safetensors"))

        let updates = CheckpointWriting.configUpdates(className: a.className, modelType: "gpt2", classifier: model.classifier,
                                                      sourceLabelCount: source.id2label.count)
        try writeFileAtomically(source.jsonData(updating: updates), to: folder.appendingPathComponent("config.json"))
        try CheckpointWriting.copyTokenizerFiles(tokenizerFiles, from: tokenizerFrom, to: folder)
    }
}

extension CheckpointFolder {
    /// `config.json` read as a GPT-2 config (an error names the file when it is not one).
    public func gpt2Config() throws -> GPT2Config { try GPT2Config(data: configData, path: configPath) }
}
