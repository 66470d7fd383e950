import Foundation

/// GPT-2's byte-to-unicode alphabet: every byte is spelled by one printable scalar, so that a
/// byte-level BPE vocabulary is plain text. The printable bytes `!`–`~`, `¡`–`¬` and `®`–`ÿ` stand
/// for themselves; the other 68 (controls, space, U+00AD) become U+0100, U+0101, … in byte order
/// (so a space is `Ġ`, a newline `Ċ`). This is `bytes_to_unicode()` of `transformers`.
enum ByteLevelAlphabet {
    /// The scalar that spells each byte.
    static let scalarOfByte: [Unicode.Scalar] = {
        var result = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            if printable {
                result[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                result[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return result
    }()

    /// The byte a scalar spells, `nil` for a scalar outside the alphabet.
    static func byte(of scalar: Unicode.Scalar) -> UInt8? {
        let value = scalar.value
        if value < 256 {
            let byte = UInt8(value)
            return scalarOfByte[Int(byte)] == scalar ? byte : nil
        }
        guard value < 256 + 68 else { return nil }
        return byteOfExtraScalar[Int(value - 256)]
    }

    private static let byteOfExtraScalar: [UInt8] = {
        var result = [UInt8](repeating: 0, count: 68)
        for byte in 0..<256 where scalarOfByte[byte].value >= 256 {
            result[Int(scalarOfByte[byte].value - 256)] = UInt8(byte)
        }
        return result
    }()
}

/// A byte-level BPE model read from `vocab.json` (token → id) and `merges.txt` (one merge per line,
/// by rank): the vocabulary, the merge table, and a cache of words already split.
final class ByteLevelBPE: @unchecked Sendable {
    /// Token text by id (`nil` where the ids of vocab.json skip a number).
    let tokens: [String?]
    let ids: [String: Int32]
    /// (left id, right id) → (rank, id of the merged token).
    private let merges: [UInt64: (rank: Int32, id: Int32)]
    /// The id of the token spelling each byte, -1 where the vocabulary has none.
    private let byteIds: [Int32]
    private let unkId: Int32?

    private let lock = NSLock()
    private var cache: [[UInt8]: [Int32]] = [:]
    /// Words longer than this many bytes are not cached (the cache keeps memory bounded by vocabulary
    /// use rather than by input).
    private static let longestCachedWord = 64
    private static let cacheLimit = 100_000

    init(vocabURL: URL, mergesURL: URL, unkToken: String?) throws {
        let ids = try Self.readVocabulary(vocabURL)
        var tokens = [String?](repeating: nil, count: (ids.values.max().map { Int($0) + 1 }) ?? 0)
        for (token, id) in ids { tokens[Int(id)] = token }
        self.tokens = tokens
        self.ids = ids
        merges = try Self.readMerges(mergesURL, ids: ids, vocabFile: vocabURL.lastPathComponent)
        byteIds = ByteLevelAlphabet.scalarOfByte.map { ids[String($0)] ?? -1 }
        unkId = unkToken.flatMap { ids[$0] }
    }

    var count: Int { ids.count }

    func token(of id: Int32) -> String? {
        id >= 0 && Int(id) < tokens.count ? tokens[Int(id)] : nil
    }

    // MARK: - Reading

    static func readVocabulary(_ url: URL) throws -> [String: Int32] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ModelError("\(url.path): cannot read the vocabulary (\(error.localizedDescription))")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ModelError("\(url.path): not valid JSON (\(error.localizedDescription))")
        }
        guard let json = object as? [String: Any] else {
            throw ModelError("\(url.path): expected a JSON object mapping each token to its id")
        }
        guard !json.isEmpty else { throw ModelError("\(url.path): the vocabulary is empty") }
        var ids: [String: Int32] = [:]
        var tokenOfId: [Int32: String] = [:]
        for (token, value) in json {
            guard let number = value as? NSNumber,
                let id = Int32(exactly: number.doubleValue), id >= 0
            else {
                throw ModelError(
                    "\(url.path): the id of \(Vocabulary.quoted(token)) should be a non-negative integer, "
                        + "found \(value)")
            }
            if let other = tokenOfId[id] {
                throw ModelError(
                    "\(url.path): \(Vocabulary.quoted(token)) and \(Vocabulary.quoted(other)) share the id \(id)")
            }
            tokenOfId[id] = token
            ids[token] = id
        }
        return ids
    }

    /// Reads `merges.txt` as the Rust `tokenizers` BPE does: lines starting with `#version` and empty
    /// lines are skipped; every other line is two tokens separated by one space, both in the vocabulary
    /// and so is their concatenation. Each is an error naming the file and line. (The slow Python
    /// tokenizer instead drops the first and the last line whatever they hold, and ignores malformed
    /// merges; on a file as `tokenizers` writes it, with a `#version` header and a final newline,
    /// both read the same merges.)
    static func readMerges(_ url: URL, ids: [String: Int32], vocabFile: String) throws -> [UInt64: (rank: Int32, id: Int32)] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ModelError("\(url.path): cannot read the merges (\(error.localizedDescription))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ModelError("\(url.path): not valid UTF-8")
        }
        var merges: [UInt64: (rank: Int32, id: Int32)] = [:]
        var rank: Int32 = 0
        var number = 0
        // "\r\n" is one Character in Swift, so both line ends are separators here.
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            number += 1
            if line.isEmpty || line.hasPrefix("#version") { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ModelError(
                    "\(url.path) line \(number): expected two tokens separated by one space, found "
                        + Vocabulary.quoted(String(line)))
            }
            let left = String(parts[0])
            let right = String(parts[1])
            for token in [left, right, left + right] where ids[token] == nil {
                throw ModelError(
                    "\(url.path) line \(number): \(Vocabulary.quoted(token)) is not in \(vocabFile); "
                        + "every merge, and what it makes, must be in the vocabulary")
            }
            // A merge listed twice keeps its later rank, as both reference tokenizers do.
            merges[Self.key(ids[left]!, ids[right]!)] = (rank, ids[left + right]!)
            rank += 1
        }
        return merges
    }

    @inline(__always)
    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    // MARK: - Encoding

    /// Appends the ids of one pre-tokenized word, given as its UTF-8 bytes.
    func appendTokens(ofWord bytes: ArraySlice<UInt8>, to output: inout [Int32]) {
        guard !bytes.isEmpty else { return }
        let cacheable = bytes.count <= Self.longestCachedWord
        let key = Array(bytes)
        if cacheable {
            lock.lock()
            let cached = cache[key]
            lock.unlock()
            if let cached {
                output += cached
                return
            }
        }
        let result = merge(key)
        if cacheable {
            lock.lock()
            if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[key] = result
            lock.unlock()
        }
        output += result
    }

    /// BPE as the reference `bpe()`: start from one symbol per byte; while some adjacent pair is a
    /// merge, take the pair of lowest rank and merge every occurrence of it, left to right without
    /// overlap. A byte the vocabulary lacks becomes the unknown token (`unk_token`), or is dropped
    /// when there is none.
    func merge(_ bytes: [UInt8]) -> [Int32] {
        var word = bytes.map { byteIds[Int($0)] }
        while word.count > 1 {
            var best: (rank: Int32, left: Int32, right: Int32, id: Int32)?
            for index in 0..<(word.count - 1) {
                if let merge = merges[Self.key(word[index], word[index + 1])],
                    merge.rank < (best?.rank ?? .max)
                {
                    best = (merge.rank, word[index], word[index + 1], merge.id)
                }
            }
            guard let best else { break }
            var merged: [Int32] = []
            merged.reserveCapacity(word.count)
            var index = 0
            while index < word.count {
                if index + 1 < word.count && word[index] == best.left && word[index + 1] == best.right {
                    merged.append(best.id)
                    index += 2
                } else {
                    merged.append(word[index])
                    index += 1
                }
            }
            word = merged
        }
        if word.contains(-1) {
            word = word.compactMap { $0 >= 0 ? $0 : unkId }
        }
        return word
    }

    // MARK: - Decoding

    /// The bytes that `ids` spell (special tokens spell their own text's bytes); unknown ids add nothing.
    func bytes(of ids: [Int32], specialText: (Int32) -> String?) -> [UInt8] {
        var bytes: [UInt8] = []
        for id in ids {
            if let text = specialText(id) {
                bytes += Array(text.utf8)
                continue
            }
            guard let token = token(of: id) else { continue }
            for scalar in token.unicodeScalars {
                if let byte = ByteLevelAlphabet.byte(of: scalar) {
                    bytes.append(byte)
                } else {
                    bytes += Array(String(scalar).utf8)
                }
            }
        }
        return bytes
    }
}
