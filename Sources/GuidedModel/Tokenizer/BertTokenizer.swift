import Foundation

/// BERT's WordPiece tokenizer, giving exactly what `transformers.AutoTokenizer` (the Rust "fast"
/// `BertTokenizer`) gives for the same `vocab.txt` and `tokenizer_config.json`.
///
/// Steps, in the Rust tokenizer's order:
/// 1. the special tokens (`[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`, `[MASK]` or what the config names)
///    are found in the raw text, case-sensitively, and kept as they are;
/// 2. the text between them is normalized (`BertNormalizer`: cleaning, CJK spacing, accents,
///    lower-casing per the config);
/// 3. split into words at whitespace and around each punctuation character;
/// 4. each word becomes WordPiece tokens (greedy longest match, `##` continuations, `[UNK]` for a
///    word with an unknown part or over 100 scalars).
///
/// Where the legacy Python tokenizer (`BertTokenizerLegacy`, formerly the slow `BertTokenizer`)
/// differs, this one follows the Rust one: lower-casing has no final-sigma rule; Unicode
/// noncharacters and unassigned code points are kept (so a word holding one is `[UNK]`), while
/// the Python one drops them; control, punctuation and combining-mark classes follow the Rust
/// tokenizer's older Unicode tables; CJK Extension E from U+2B820 to U+2B91F is not split off;
/// `never_split` is ignored; an empty second text is no second text; and longest-first truncation
/// splits the budget as `Truncation.longestFirst` describes.
public final class BertTokenizer: Sendable {
    public let config: TokenizerConfig
    private let vocabulary: Vocabulary
    private let normalizer: BertNormalizer
    private let wordPiece: WordPiece
    /// Special tokens matched in raw text: their scalars and id, longest first.
    private let specials: SpecialTokenSplitter

    public let padId: Int32
    public let clsId: Int32
    public let sepId: Int32
    public let maskId: Int32
    public let unkId: Int32
    /// The ids of the five special tokens.
    public let specialIds: Set<Int32>

    /// Reads `vocab.txt` and checks that every special token the config names is in it; errors name
    /// the file and line (an empty file, a line that is not UTF-8, a repeated token, a missing special).
    public init(vocabURL: URL, config: TokenizerConfig) throws {
        let vocabulary = try Vocabulary(contentsOf: vocabURL)
        var ids: [String: Int32] = [:]
        for (key, token) in config.specialTokens {
            guard let id = vocabulary.id(of: token) else {
                throw ModelError(
                    "\(vocabURL.path): no line holds \(Vocabulary.quoted(token)), the \(key) of the "
                        + "tokenizer config; the vocabulary must contain every special token")
            }
            ids[key] = id
        }
        self.config = config
        self.vocabulary = vocabulary
        normalizer = BertNormalizer(config: config)
        unkId = ids["unk_token"]!
        sepId = ids["sep_token"]!
        padId = ids["pad_token"]!
        clsId = ids["cls_token"]!
        maskId = ids["mask_token"]!
        specialIds = Set(ids.values)
        wordPiece = WordPiece(vocabulary: vocabulary, unkId: unkId)
        specials = SpecialTokenSplitter(config.specialTokens.map { ($0.token, ids[$0.key]!) })
    }

    /// A Hugging Face tokenizer folder: `vocab.txt`, and `tokenizer_config.json` if there is one
    /// (BERT defaults otherwise).
    public convenience init(folder: URL) throws {
        let vocabURL = folder.appendingPathComponent("vocab.txt")
        guard FileManager.default.fileExists(atPath: vocabURL.path) else {
            throw ModelError(
                "\(folder.path): no vocab.txt; a BERT tokenizer needs the vocabulary file of its checkpoint")
        }
        let config = try TokenizerConfig(contentsOf: folder.appendingPathComponent("tokenizer_config.json"))
        try self.init(vocabURL: vocabURL, config: config)
    }

    // MARK: - Vocabulary

    public var vocabularySize: Int { vocabulary.count }

    /// The id of the token spelled exactly `token` (scalar for scalar, no Unicode equivalence).
    public func id(of token: String) -> Int32? { vocabulary.id(of: token) }

    public func token(of id: Int32) -> String? { vocabulary.token(of: id) }

    /// `model_max_length` from the config, if it gives one.
    public var modelMaxLength: Int? { config.modelMaxLength }

    // MARK: - Tokenizing

    /// The WordPiece tokens of `text`, without `[CLS]`/`[SEP]` (`tokenizer.tokenize(text)`).
    public func tokenize(_ text: String) -> [String] {
        ids(of: text).map { vocabulary.tokens[Int($0)] }
    }

    /// The token ids of `text`, without `[CLS]`/`[SEP]`.
    public func ids(of text: String) -> [Int32] {
        let scalars = Array(text.unicodeScalars)
        var ids: [Int32] = []
        ids.reserveCapacity(scalars.count / 3 + 1)
        var normalized: [Unicode.Scalar] = []
        specials.split(scalars, text: { range in
            normalizer.normalize(scalars[range], into: &normalized)
            wordPiece.appendTokens(of: normalized, to: &ids)
        }, special: { ids.append($0) })
        return ids
    }

    /// `[CLS] text [SEP]`, or `[CLS] text [SEP] pair [SEP]` with token type ids 0 then 1, as
    /// `tokenizer(text, pair, truncation=True, max_length=maxLength)` gives it; never padded
    /// (see `pad`).
    ///
    /// An empty `pair` counts as no pair, as in a single call `tokenizer(text, "")`, which tests
    /// `if text_pair` (a batched call with lists keeps the empty segment: `[CLS] a [SEP] [SEP]`;
    /// the legacy Python tokenizer does that in both). With `maxLength`,
    /// the texts are cut longest-first so that the whole encoding, special tokens included, fits;
    /// a `maxLength` smaller than the number of special tokens (2, or 3 for a pair) truncates
    /// nothing, as in `transformers`.
    public func encode(_ text: String, pair: String? = nil, maxLength: Int? = nil) -> Encoding {
        var first = ids(of: text)
        var second = pair.flatMap { $0.isEmpty ? nil : ids(of: $0) }
        let specials = second == nil ? 2 : 3
        if let maxLength, maxLength >= specials {
            let keep = Truncation.longestFirst(
                first: first.count, second: second?.count, budget: maxLength - specials)
            first.removeSubrange(keep.first...)
            if let keepSecond = keep.second { second?.removeSubrange(keepSecond...) }
        }
        var inputIds: [Int32] = [clsId]
        inputIds.reserveCapacity(first.count + (second?.count ?? 0) + specials)
        inputIds += first
        inputIds.append(sepId)
        var tokenTypeIds = [Int32](repeating: 0, count: inputIds.count)
        if let second {
            inputIds += second
            inputIds.append(sepId)
            tokenTypeIds += repeatElement(1, count: second.count + 1)
        }
        return Encoding(
            tokens: inputIds.map { vocabulary.tokens[Int($0)] },
            inputIds: inputIds,
            tokenTypeIds: tokenTypeIds,
            attentionMask: [Int32](repeating: 1, count: inputIds.count))
    }

    // MARK: - Padding

    /// `encoding` padded with `[PAD]` to `length` (`padding="max_length"`); unchanged if not shorter.
    public func pad(_ encoding: Encoding, to length: Int) -> Encoding {
        encoding.padded(to: length, padToken: vocabulary.tokens[Int(padId)], padId: padId)
    }

    /// A batch padded to `length`, or to its longest encoding when `length` is nil (`padding=True`).
    public func pad(_ batch: [Encoding], to length: Int? = nil) -> [Encoding] {
        let target = length ?? batch.map(\.count).max() ?? 0
        return batch.map { pad($0, to: target) }
    }
}
