import Foundation
import GuidedCompute
import GuidedModel

/// Documents read from the paths given to `guided fisher --corpus`.
///
/// - a plain text file: one document per line (empty lines skipped), as WikiText is distributed;
/// - a `.jsonl` file: one JSON object per line with a string field `text`;
/// - a folder: every `.txt` and `.jsonl` file in it (not recursive), in name order, read as above.
///
/// Bytes that are not UTF-8 are replaced (U+FFFD) and counted, never fatal.
public struct Corpus: Sendable {
    public private(set) var documents: [String] = []
    /// Lines whose bytes were not valid UTF-8 (repaired by replacement).
    public private(set) var repairedLines = 0
    public private(set) var files: [String] = []

    public init(paths: [URL]) throws {
        guard !paths.isEmpty else { throw ModelError("no corpus given: pass --corpus PATH (a text file, .jsonl, or folder)") }
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path.path, isDirectory: &isDirectory) else {
                throw ModelError("\(path.path): no such file or folder")
            }
            if isDirectory.boolValue {
                let names = try fm.contentsOfDirectory(atPath: path.path).filter { $0.hasSuffix(".txt") || $0.hasSuffix(".jsonl") }.sorted()
                guard !names.isEmpty else { throw ModelError("\(path.path): the folder has no .txt or .jsonl files") }
                for name in names { try read(path.appendingPathComponent(name)) }
            } else {
                try read(path)
            }
        }
        guard !documents.isEmpty else {
            throw ModelError("the corpus (\(files.joined(separator: ", "))) has no usable text: every line is empty")
        }
    }

    private mutating func read(_ url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelError("\(url.path): cannot read (\(error.localizedDescription))")
        }
        files.append(url.path)
        let isJSONLines = url.pathExtension == "jsonl"
        var lineNumber = 0
        for rawLine in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            var bytes = rawLine
            if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
            if let line = String(validating: bytes, as: UTF8.self) {
                try add(line, jsonLines: isJSONLines, url: url, lineNumber: lineNumber)
            } else {
                repairedLines += 1
                try add(String(decoding: bytes, as: UTF8.self), jsonLines: isJSONLines, url: url, lineNumber: lineNumber)
            }
        }
    }

    private mutating func add(_ line: String, jsonLines: Bool, url: URL, lineNumber: Int) throws {
        guard !line.allSatisfy(\.isWhitespace) else { return }
        guard jsonLines else {
            documents.append(line)
            return
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw ModelError("\(url.path):\(lineNumber): not a JSON object")
        }
        guard let text = object["text"] as? String else {
            throw ModelError("\(url.path):\(lineNumber): no string field \"text\"")
        }
        if !text.allSatisfy(\.isWhitespace) { documents.append(text) }
    }

    /// Indices of the documents a seeded subsample keeps, in corpus order: a Fisher–Yates shuffle
    /// of all indices (SplitMix64 seeded with `seed`), its first `round(fraction · N)` (at least 1).
    public static func subsample(count: Int, fraction: Double, seed: UInt64) throws -> [Int] {
        guard fraction > 0 && fraction <= 1 else { throw ModelError("--fraction must be in (0, 1], got \(fraction)") }
        if fraction == 1 { return Array(0..<count) }
        var indices = Array(0..<count)
        var random = SplitMix64(seed: seed)
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = Int(random.next(below: UInt64(i + 1)))
            indices.swapAt(i, j)
        }
        let keep = max(1, Int((fraction * Double(count)).rounded()))
        return indices.prefix(keep).sorted()
    }
}
