import Foundation

/// GPT-2's byte-level BPE tokenizer, giving what `transformers`' `GPT2Tokenizer` gives for the same
/// `vocab.json`, `merges.txt` and config: the slow Python reference (transformers 4.x) and the
/// Rust-backed one of transformers 5, which agree on every golden case.
///
/// Steps, in the reference's order:
/// 1. with `add_prefix_space`, a space is put before the whole text;
/// 2. the special tokens (`<|endoftext|>`, or what the config names, and its added tokens) are found
///    in the raw text, case-sensitively, and kept whole (leftmost, longest first);
/// 3. the text between them is cut by `GPT2PreTokenizer` (GPT-2's regex);
/// 4. each piece's UTF-8 bytes are merged by `ByteLevelBPE` (lowest merge rank first), the tokens
///    spelled in GPT-2's byte-to-unicode alphabet (`Ġ` for a space).
///
/// Nothing is added around a text (no BOS/EOS) unless `add_bos_token` is set; a pair is the two texts
/// one after the other. Decoding joins the tokens' bytes and reads them as UTF-8, each invalid
/// sequence becoming U+FFFD (`errors="replace"`), so `decode(ids(of: text)) == text` for any text.
public final class GPT2Tokenizer: Sendable {
    public let config: GPT2TokenizerConfig
    private let model: ByteLevelBPE
    /// Tokens kept whole in text: scalars and id, longest first.
    private let specials: SpecialTokenSplitter
    /// Text of the tokens that are not in vocab.json (added with ids after it), by id.
    private let addedText: [Int32: String]

    public let bosId: Int32?
    public let eosId: Int32?
    public let unkId: Int32?
    public let padId: Int32?
    /// The ids of the special and added tokens.
    public let specialIds: Set<Int32>

    /// Reads `vocab.json` and `merges.txt`; errors name the file (and the line of a bad merge). A
    /// special or added token that vocab.json lacks gets the next free id after it, as `transformers`
    /// adds it.
    public init(vocabURL: URL, mergesURL: URL, config: GPT2TokenizerConfig = GPT2TokenizerConfig()) throws {
        model = try ByteLevelBPE(vocabURL: vocabURL, mergesURL: mergesURL, unkToken: config.unkToken)
        self.config = config
        var next = Int32(model.tokens.count)
        var idOf: [String: Int32] = [:]
        var added: [Int32: String] = [:]
        for token in config.wholeTokens {
            if let id = model.ids[token] {
                idOf[token] = id
            } else {
                idOf[token] = next
                added[next] = token
                next += 1
            }
        }
        addedText = added
        specials = SpecialTokenSplitter(idOf.map { ($0.key, $0.value) })
        bosId = config.bosToken.flatMap { idOf[$0] }
        eosId = config.eosToken.flatMap { idOf[$0] }
        unkId = config.unkToken.flatMap { idOf[$0] }
        padId = config.padToken.flatMap { idOf[$0] }
        specialIds = Set(idOf.values)
    }

    /// A Hugging Face tokenizer folder: `vocab.json`, `merges.txt`, and `tokenizer_config.json` /
    /// `special_tokens_map.json` if there are (GPT-2 defaults otherwise).
    public convenience init(folder: URL) throws {
        for name in ["vocab.json", "merges.txt"]
        where !FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path) {
            throw ModelError(
                "\(folder.path): no \(name); a GPT-2 tokenizer needs the vocab.json and merges.txt of its checkpoint")
        }
        try self.init(
            vocabURL: folder.appendingPathComponent("vocab.json"),
            mergesURL: folder.appendingPathComponent("merges.txt"),
            config: GPT2TokenizerConfig(folder: folder))
    }

    // MARK: - Vocabulary

    /// The number of tokens, added ones included (`len(tokenizer)`).
    public var vocabularySize: Int { model.count + addedText.count }

    public func id(of token: String) -> Int32? {
        model.ids[token] ?? specials.id(of: token)
    }

    public func token(of id: Int32) -> String? { addedText[id] ?? model.token(of: id) }

    public var modelMaxLength: Int? { config.modelMaxLength }

    // MARK: - Tokenizing

    /// The tokens of `text`, in the byte-level alphabet (`tokenizer.tokenize(text)`).
    public func tokens(of text: String) -> [String] {
        ids(of: text).map { token(of: $0) ?? "" }
    }

    /// The token ids of `text`, without BOS.
    public func ids(of text: String) -> [Int32] {
        var scalars = Array(text.unicodeScalars)
        if config.addPrefixSpace { scalars.insert(" ", at: 0) }
        var ids: [Int32] = []
        ids.reserveCapacity(scalars.count / 3 + 1)
        specials.split(scalars, text: { range in
            let piece = Array(scalars[range])
            for word in GPT2PreTokenizer.split(piece) {
                var bytes: [UInt8] = []
                for scalar in piece[word] { bytes += UTF8.encode(scalar)! }
                model.appendTokens(ofWord: bytes[...], to: &ids)
            }
        }, special: { ids.append($0) })
        return ids
    }

    /// `tokenizer(text, pair, truncation=True, max_length=maxLength)`: the ids of `text` then of
    /// `pair` (BOS before each when `add_bos_token`), token type ids all 0, never padded.
    ///
    /// With `maxLength`, a single text keeps its first tokens; a pair is cut longest-first one token
    /// at a time, from the longer text (the second when they are equally long), as the Python
    /// reference does.
    public func encode(_ text: String, pair: String? = nil, maxLength: Int? = nil) -> Encoding {
        var first = ids(of: text)
        var second = pair.map { ids(of: $0) }
        let bos: [Int32] = config.addBosToken ? bosId.map { [$0] } ?? [] : []
        let specials = bos.count * (second == nil ? 1 : 2)
        if let maxLength {
            var excess = first.count + (second?.count ?? 0) + specials - maxLength
            if second == nil {
                first.removeLast(min(max(excess, 0), first.count))
            } else {
                while excess > 0 {
                    if first.count > second!.count { first.removeLast() } else if !second!.isEmpty { second!.removeLast() } else { break }
                    excess -= 1
                }
            }
        }
        var inputIds = bos + first
        if let second { inputIds += bos + second }
        return Encoding(
            tokens: inputIds.map { token(of: $0) ?? "" },
            inputIds: inputIds,
            tokenTypeIds: [Int32](repeating: 0, count: inputIds.count),
            attentionMask: [Int32](repeating: 1, count: inputIds.count))
    }

    /// `encoding` padded with the pad token to `length` (`padding="max_length"`); an error when the
    /// config names no pad token (GPT-2 names none), as in `transformers`.
    public func pad(_ encoding: Encoding, to length: Int) throws -> Encoding {
        guard let padId, let padToken = token(of: padId) else {
            throw ModelError("this GPT-2 tokenizer has no pad token; set pad_token in tokenizer_config.json")
        }
        return encoding.padded(to: length, padToken: padToken, padId: padId)
    }

    // MARK: - Decoding

    /// The text that `ids` spell (`tokenizer.decode(ids)`): the tokens' bytes as UTF-8, an invalid
    /// sequence replaced by U+FFFD; ids outside the vocabulary are skipped.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = false) -> String {
        let kept = skipSpecialTokens ? ids.filter { !specialIds.contains($0) } : ids
        return String(decoding: model.bytes(of: kept) { addedText[$0] }, as: UTF8.self)
    }
}
