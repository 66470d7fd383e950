import Foundation

/// What every architecture's tokenizer gives: `transformers`' encoding of a text or a pair.
public protocol TextTokenizer: Sendable {
    func encode(_ text: String, pair: String?, maxLength: Int?) -> Encoding
}

extension BertTokenizer: TextTokenizer {}
extension GPT2Tokenizer: TextTokenizer {}

/// The tokenizer a checkpoint folder holds: GPT-2's byte-level BPE (`vocab.json` + `merges.txt`)
/// or BERT's WordPiece (`vocab.txt`); an error says what was looked for.
public func tokenizer(inFolder folder: URL) throws -> TextTokenizer {
    let has = { FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
    if has("vocab.json") && has("merges.txt") { return try GPT2Tokenizer(folder: folder) }
    if has("vocab.txt") { return try BertTokenizer(folder: folder) }
    throw ModelError("\(folder.path): no tokenizer: expected vocab.txt (BERT WordPiece) or vocab.json and merges.txt (GPT-2 byte-level BPE)")
}
