/// Splits normalized text into words and words into WordPiece tokens, as the Rust
/// `BertPreTokenizer` and `WordPiece` model do.
struct WordPiece: Sendable {
    let vocabulary: Vocabulary
    let unkId: Int32
    /// Words longer than this many Unicode scalars become one `[UNK]` (`max_input_chars_per_word`).
    let maxInputCharsPerWord: Int
    /// The trie node after the continuation prefix `##`; `nil` when no vocabulary token starts with it.
    private let continuation: Int32?

    init(vocabulary: Vocabulary, unkId: Int32, maxInputCharsPerWord: Int = 100) {
        self.vocabulary = vocabulary
        self.unkId = unkId
        self.maxInputCharsPerWord = maxInputCharsPerWord
        continuation = vocabulary.trie.walk("##".unicodeScalars)
    }

    /// Appends the ids of the WordPiece tokens of normalized `text`. Words are separated by
    /// whitespace (which is dropped) and every punctuation character is a word of its own.
    func appendTokens(of text: [Unicode.Scalar], to ids: inout [Int32]) {
        text.withUnsafeBufferPointer { buffer in
            var wordStart = 0
            for index in 0..<buffer.count {
                let kind = BertCharacterClass.of(buffer[index])
                if kind.contains(.whitespace) {
                    appendWord(buffer, wordStart..<index, to: &ids)
                    wordStart = index + 1
                } else if kind.contains(.punctuation) {
                    appendWord(buffer, wordStart..<index, to: &ids)
                    appendWord(buffer, index..<(index + 1), to: &ids)
                    wordStart = index + 1
                }
            }
            appendWord(buffer, wordStart..<buffer.count, to: &ids)
        }
    }

    /// Greedy longest-match-first: the longest vocabulary token that starts the word, then the longest
    /// `##` token that starts the rest, and so on. A word with a part no token matches, or one over
    /// `maxInputCharsPerWord` scalars, is a single `[UNK]`.
    func appendWord(_ text: UnsafeBufferPointer<Unicode.Scalar>, _ word: Range<Int>, to ids: inout [Int32]) {
        guard !word.isEmpty else { return }
        guard word.count <= maxInputCharsPerWord else {
            ids.append(unkId)
            return
        }
        let mark = ids.count
        var start = word.lowerBound
        let scalars = UnsafeBufferPointer(rebasing: text[..<word.upperBound])
        while start < word.upperBound {
            let node = start == word.lowerBound ? TokenTrie.root : continuation
            guard let node, let match = vocabulary.trie.longestMatch(in: scalars, from: start, node: node)
            else {
                ids.removeSubrange(mark...)
                ids.append(unkId)
                return
            }
            ids.append(match.id)
            start = match.end
        }
    }
}
