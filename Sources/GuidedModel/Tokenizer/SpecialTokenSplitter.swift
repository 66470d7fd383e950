/// Finds special tokens (`[CLS]`, `<|endoftext|>`, …) written out in a text, as the tokenizers of
/// `transformers` do before anything else: leftmost first, the longest where several start at the
/// same place, each kept whole as its own id; the stretches between them are tokenized normally.
struct SpecialTokenSplitter: Sendable {
    /// Longest first (ties: lower id first), so the first match at a position is the longest.
    private let patterns: [(scalars: [Unicode.Scalar], id: Int32)]

    init(_ tokens: [(text: String, id: Int32)]) {
        patterns = tokens.map { (Array($0.text.unicodeScalars), $0.id) }
            .filter { !$0.scalars.isEmpty }
            .sorted { $0.scalars.count != $1.scalars.count ? $0.scalars.count > $1.scalars.count : $0.id < $1.id }
    }

    /// The id of the special token written exactly as `text`, if there is one.
    func id(of text: String) -> Int32? {
        let scalars = Array(text.unicodeScalars)
        return patterns.first { $0.scalars == scalars }?.id
    }

    /// Walks `scalars`: `text(range)` for each stretch between special tokens (never empty), and
    /// `special(id)` for each special token, in order.
    func split(_ scalars: [Unicode.Scalar], text: (Range<Int>) -> Void, special: (Int32) -> Void) {
        var pieceStart = 0, index = 0
        while index < scalars.count {
            if let match = match(in: scalars, at: index) {
                if pieceStart < index { text(pieceStart..<index) }
                special(match.id)
                index += match.length
                pieceStart = index
            } else {
                index += 1
            }
        }
        if pieceStart < scalars.count { text(pieceStart..<scalars.count) }
    }

    private func match(in scalars: [Unicode.Scalar], at index: Int) -> (id: Int32, length: Int)? {
        for pattern in patterns
        where pattern.scalars.first == scalars[index] && index + pattern.scalars.count <= scalars.count {
            if scalars[index..<(index + pattern.scalars.count)].elementsEqual(pattern.scalars) {
                return (pattern.id, pattern.scalars.count)
            }
        }
        return nil
    }
}
