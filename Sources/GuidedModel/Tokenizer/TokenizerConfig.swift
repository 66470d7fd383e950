import Foundation

/// The options of a BERT WordPiece tokenizer, as `tokenizer_config.json` gives them.
///
/// Keys read: `do_lower_case`, `strip_accents`, `tokenize_chinese_chars`, `model_max_length`,
/// `unk_token`, `sep_token`, `pad_token`, `cls_token`, `mask_token` (a string, or an object with a
/// `content` string as `transformers` saves an `AddedToken`) and `never_split`. Other keys are ignored.
/// An absent key, or `null`, keeps the BERT default.
public struct TokenizerConfig: Sendable, Equatable {
    /// Lower-case the text (per character, without context: `Σ` always becomes `σ`). Default true.
    public var doLowerCase: Bool = true
    /// Strip accents (NFD, then drop nonspacing marks); `nil` follows `doLowerCase`, as in BERT.
    public var stripAccents: Bool?
    /// Put spaces around CJK ideographs so that each is a word of its own. Default true.
    public var tokenizeChineseChars: Bool = true
    /// The longest input the model takes (`model_max_length`), `nil` when the file gives none or gives
    /// `transformers`' "no limit" value (1e30). `BertTokenizer.encode` only truncates when asked to.
    public var modelMaxLength: Int?
    public var unkToken: String = "[UNK]"
    public var sepToken: String = "[SEP]"
    public var padToken: String = "[PAD]"
    public var clsToken: String = "[CLS]"
    public var maskToken: String = "[MASK]"
    /// Words the legacy Python tokenizer would neither split nor lower-case. Read for completeness but
    /// not applied: `transformers.AutoTokenizer` (the Rust tokenizer, which this one matches) ignores it.
    public var neverSplit: [String] = []

    /// Whether accents are stripped: `stripAccents`, or `doLowerCase` when that is `nil`.
    public var effectiveStripAccents: Bool { stripAccents ?? doLowerCase }

    /// The BERT defaults (bert-base-uncased).
    public init() {}

    /// Reads `tokenizer_config.json`. A `nil` URL, or a file that does not exist, gives the BERT
    /// defaults; a file that is not a JSON object, or a key of the wrong type, is an error naming both.
    public init(contentsOf url: URL?) throws {
        self.init()
        guard let url, FileManager.default.fileExists(atPath: url.path) else { return }
        let name = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ModelError("\(name): cannot read the tokenizer config (\(error.localizedDescription))")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ModelError("\(name): not valid JSON (\(error.localizedDescription))")
        }
        guard let json = object as? [String: Any] else {
            throw ModelError("\(name): expected a JSON object at the top level")
        }
        let reader = ConfigReader(json: json, file: name)
        if let value = try reader.bool("do_lower_case") { doLowerCase = value }
        stripAccents = try reader.bool("strip_accents")
        if let value = try reader.bool("tokenize_chinese_chars") { tokenizeChineseChars = value }
        modelMaxLength = try reader.maxLength("model_max_length")
        if let value = try reader.token("unk_token") { unkToken = value }
        if let value = try reader.token("sep_token") { sepToken = value }
        if let value = try reader.token("pad_token") { padToken = value }
        if let value = try reader.token("cls_token") { clsToken = value }
        if let value = try reader.token("mask_token") { maskToken = value }
        neverSplit = try reader.strings("never_split") ?? []
    }

    /// The special tokens in a fixed order, with the config key that names each (for error messages).
    var specialTokens: [(key: String, token: String)] {
        [("unk_token", unkToken), ("sep_token", sepToken), ("pad_token", padToken),
         ("cls_token", clsToken), ("mask_token", maskToken)]
    }
}

/// Typed access to the keys of a decoded `tokenizer_config.json`, with errors that name file and key.
private struct ConfigReader {
    let json: [String: Any]
    let file: String

    private func value(_ key: String) -> Any? {
        guard let value = json[key], !(value is NSNull) else { return nil }
        return value
    }

    private func wrongType(_ key: String, _ expected: String) -> ModelError {
        ModelError("\(file): \"\(key)\" should be \(expected), found \(String(describing: json[key]!))")
    }

    func bool(_ key: String) throws -> Bool? {
        guard let value = value(key) else { return nil }
        guard let flag = value as? Bool else { throw wrongType(key, "true, false or null") }
        return flag
    }

    func token(_ key: String) throws -> String? {
        guard let value = value(key) else { return nil }
        if let text = value as? String { return text }
        if let object = value as? [String: Any], let text = object["content"] as? String { return text }
        throw wrongType(key, "a string or an object with a \"content\" string")
    }

    func strings(_ key: String) throws -> [String]? {
        guard let value = value(key) else { return nil }
        guard let list = value as? [Any] else { throw wrongType(key, "a list of strings or null") }
        return try list.map { item in
            guard let text = item as? String else { throw wrongType(key, "a list of strings or null") }
            return text
        }
    }

    /// A positive length; values beyond `Int` (transformers writes 1e30 for "no limit") give nil.
    func maxLength(_ key: String) throws -> Int? {
        guard let value = value(key) else { return nil }
        guard let number = value as? NSNumber else {
            throw wrongType(key, "a number or null")
        }
        let double = number.doubleValue
        guard double.isFinite, double >= 1 else { throw wrongType(key, "a positive number or null") }
        if double >= 9.0e15 { return nil }
        return Int(double)
    }
}
