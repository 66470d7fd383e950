import Foundation

/// The options of a GPT-2 tokenizer, from `tokenizer_config.json` and then `special_tokens_map.json`
/// (whose entries win, as in `transformers`).
///
/// Keys read: `bos_token`, `eos_token`, `unk_token`, `pad_token` (a string, or an object with a
/// `content` string as `transformers` saves an `AddedToken`), `add_prefix_space`, `add_bos_token`,
/// `model_max_length`, and the `content` of each `added_tokens_decoder` entry (kept whole in text like
/// the special tokens). Other keys are ignored; an absent key, or `null`, keeps the GPT-2 default.
public struct GPT2TokenizerConfig: Sendable, Equatable {
    public var bosToken: String? = "<|endoftext|>"
    public var eosToken: String? = "<|endoftext|>"
    public var unkToken: String? = "<|endoftext|>"
    /// GPT-2 has no padding token; `pad` then pads with `eosToken`'s id, as models usually configure it.
    public var padToken: String?
    /// Put a space before the text, so that its first word is spelled as any other. Default false.
    public var addPrefixSpace = false
    /// Start each text with `bosToken`. Default false (GPT-2 adds nothing).
    public var addBosToken = false
    /// `model_max_length` (1024 for GPT-2), `nil` when absent or `transformers`' "no limit" (1e30).
    public var modelMaxLength: Int?
    /// Further tokens that are kept whole when they appear in text (`added_tokens_decoder`).
    public var addedTokens: [String] = []

    /// The GPT-2 defaults.
    public init() {}

    /// Reads the two files in `folder` that exist; neither is required.
    public init(folder: URL) throws {
        self.init()
        for name in ["tokenizer_config.json", "special_tokens_map.json"] {
            let url = folder.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            try read(url, full: name == "tokenizer_config.json")
        }
    }

    /// Every token kept whole in text: the special tokens and the added ones, without repeats.
    var wholeTokens: [String] {
        var seen: Set<String> = []
        return ([bosToken, eosToken, unkToken, padToken].compactMap { $0 } + addedTokens)
            .filter { !$0.isEmpty && seen.insert($0).inserted }
    }

    private mutating func read(_ url: URL, full: Bool) throws {
        let file = url.path
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        } catch {
            throw ModelError("\(file): not valid JSON (\(error.localizedDescription))")
        }
        guard let json = object as? [String: Any] else {
            throw ModelError("\(file): expected a JSON object at the top level")
        }
        func present(_ key: String) -> Any? {
            guard let value = json[key], !(value is NSNull) else { return nil }
            return value
        }
        func wrongType(_ key: String, _ expected: String) -> ModelError {
            ModelError("\(file): \"\(key)\" should be \(expected), found \(String(describing: json[key]!))")
        }
        func token(_ value: Any, _ key: String) throws -> String {
            if let text = value as? String { return text }
            if let object = value as? [String: Any], let text = object["content"] as? String { return text }
            throw wrongType(key, "a string or an object with a \"content\" string")
        }
        func bool(_ key: String) throws -> Bool? {
            guard let value = present(key) else { return nil }
            guard let flag = value as? Bool else { throw wrongType(key, "true, false or null") }
            return flag
        }
        if let value = present("bos_token") { bosToken = try token(value, "bos_token") }
        if let value = present("eos_token") { eosToken = try token(value, "eos_token") }
        if let value = present("unk_token") { unkToken = try token(value, "unk_token") }
        if let value = present("pad_token") { padToken = try token(value, "pad_token") }
        guard full else { return }
        if let value = try bool("add_prefix_space") { addPrefixSpace = value }
        if let value = try bool("add_bos_token") { addBosToken = value }
        if let value = present("model_max_length") {
            guard let number = value as? NSNumber, number.doubleValue >= 1 else {
                throw wrongType("model_max_length", "a positive number or null")
            }
            modelMaxLength = number.doubleValue >= 9.0e15 ? nil : Int(number.doubleValue)
        }
        if let value = present("added_tokens_decoder") {
            guard let entries = value as? [String: Any] else {
                throw wrongType("added_tokens_decoder", "an object of added tokens")
            }
            addedTokens = try entries.keys.sorted { (Int($0) ?? 0) < (Int($1) ?? 0) }.map {
                try token(entries[$0]!, "added_tokens_decoder")
            }
        }
    }
}
