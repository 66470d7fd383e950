import Foundation

/// A WordPiece vocabulary read from `vocab.txt`: one token per line, the line number (from 0) is the id.
///
/// Lines end with `\n`, `\r\n` or `\r` (Python's universal newlines, as `transformers` reads the
/// file); nothing else is stripped, so an empty line is the empty token and a byte-order mark stays
/// part of the first token. A final line ending does not start another token.
struct Vocabulary: Sendable {
    /// Token text by id.
    let tokens: [String]
    /// Token id by exact spelling.
    let trie: TokenTrie

    /// Reads and checks a vocabulary file. Errors name the file and, where there is one, the line:
    /// an unreadable or empty file, a line that is not UTF-8, a token that repeats an earlier line.
    init(contentsOf url: URL) throws {
        let bytes: [UInt8]
        do {
            bytes = try [UInt8](Data(contentsOf: url))
        } catch {
            throw ModelError("\(url.path): cannot read the vocabulary (\(error.localizedDescription))")
        }
        try self.init(bytes: bytes, file: url.path)
    }

    init(bytes: [UInt8], file: String) throws {
        guard !bytes.isEmpty else {
            throw ModelError("\(file): the vocabulary is empty; expected one token per line")
        }
        var tokens: [String] = []
        var trie = TokenTrie()
        var lineStart = 0
        var index = 0
        func addLine(_ range: Range<Int>) throws {
            let line = tokens.count + 1
            guard tokens.count < Int(Int32.max) else {
                throw ModelError("\(file) line \(line): too many tokens; ids must fit in 32 bits")
            }
            guard let token = String(validating: bytes[range], as: UTF8.self) else {
                throw ModelError("\(file) line \(line): not valid UTF-8")
            }
            let id = Int32(tokens.count)
            if let earlier = trie.insert(token.unicodeScalars, id: id) {
                throw ModelError(
                    "\(file) line \(line): the token \(Self.quoted(token)) repeats line \(earlier + 1); "
                        + "each token must appear once")
            }
            tokens.append(token)
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x0A || byte == 0x0D {
                try addLine(lineStart..<index)
                index += (byte == 0x0D && index + 1 < bytes.count && bytes[index + 1] == 0x0A) ? 2 : 1
                lineStart = index
            } else {
                index += 1
            }
        }
        if lineStart < bytes.count { try addLine(lineStart..<bytes.count) }
        self.tokens = tokens
        self.trie = trie
    }

    var count: Int { tokens.count }

    func id(of token: String) -> Int32? { trie.lookup(token.unicodeScalars) }

    func token(of id: Int32) -> String? {
        id >= 0 && Int(id) < tokens.count ? tokens[Int(id)] : nil
    }

    /// A token shown in an error message: quoted, with invisible characters escaped.
    static func quoted(_ token: String) -> String {
        "\"" + token.unicodeScalars.map { $0.escaped(asASCII: false) }.joined() + "\""
    }
}
