import Foundation
import GuidedModel

// Shared machinery of the TSV and JSON Lines readers: the file's bytes split into lines, fields
// decoded from UTF-8 lossily with the replacements counted, and the bookkeeping of bad rows.

/// A malformed row: what was wrong with it, without the file and line (the reader adds them).
struct BadRow: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Reads a whole file, with an error naming it when it cannot be read.
func readFileBytes(_ url: URL) throws -> Data {
    do {
        return try Data(contentsOf: url, options: .mappedIfSafe)
    } catch {
        throw ModelError("\(url.path): cannot read the file (\(error.localizedDescription))")
    }
}

/// The lines of a byte buffer: split at `\n`, `\r\n` and a lone `\r` (Python's universal newlines,
/// which the `datasets` readers use), the line ends excluded, a leading UTF-8 byte-order mark dropped.
/// Line numbers count from 1 and include blank lines.
struct LineScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    private var position: Int
    private(set) var lineNumber = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        position = bytes.count >= 3 && bytes.prefix(3).elementsEqual(bom) ? 3 : 0
    }

    /// The next line's byte range, or nil at the end. A final line end does not start a new line.
    mutating func next() -> Range<Int>? {
        guard position < bytes.count else { return nil }
        let start = position
        var end = start
        while end < bytes.count, bytes[end] != 0x0A, bytes[end] != 0x0D { end += 1 }
        position = end
        if position < bytes.count {
            if bytes[position] == 0x0D, position + 1 < bytes.count, bytes[position + 1] == 0x0A {
                position += 2
            } else {
                position += 1
            }
        }
        lineNumber += 1
        return start..<end
    }
}

/// Splits `range` of `bytes` at tabs, without quoting rules (GLUE's TSV files are read with
/// `quoting=csv.QUOTE_NONE`: a `"` is an ordinary character).
func tabFields(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into fields: inout [Range<Int>]) {
    fields.removeAll(keepingCapacity: true)
    var start = range.lowerBound
    for index in range where bytes[index] == 0x09 {
        fields.append(start..<index)
        start = index + 1
    }
    fields.append(start..<range.upperBound)
}

/// Decodes byte ranges as UTF-8, replacing invalid sequences with U+FFFD and counting them.
struct LossyDecoder {
    private(set) var replaced = 0
    private(set) var firstReplacedLine = 0

    mutating func string(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, line: Int) -> String {
        let slice = UnsafeBufferPointer(rebasing: bytes[range])
        let text = String(decoding: slice, as: UTF8.self)
        if slice.contains(where: { $0 >= 0x80 }) {
            // Each invalid sequence became one U+FFFD; a U+FFFD spelled in the input (EF BF BD) is
            // not a replacement.
            let produced = text.unicodeScalars.reduce(0) { $0 + ($1 == "\u{FFFD}" ? 1 : 0) }
            var spelled = 0
            if produced > 0, slice.count >= 3 {
                for index in 0..<(slice.count - 2)
                where slice[index] == 0xEF && slice[index + 1] == 0xBF && slice[index + 2] == 0xBD {
                    spelled += 1
                }
            }
            if produced > spelled {
                replaced += produced - spelled
                if firstReplacedLine == 0 { firstReplacedLine = line }
            }
        }
        return text
    }
}

/// Collects the examples of one file and deals with bad rows: an error naming `file:line`, or, when
/// skipping, a count and the first few messages.
struct ExampleCollector {
    let path: String
    let options: GlueReadOptions
    var examples: [GlueExample] = []
    var summary: GlueFileSummary

    init(path: String, options: GlueReadOptions) {
        self.path = path
        self.options = options
        summary = GlueFileSummary(file: path)
    }

    mutating func add(_ example: GlueExample) {
        if !example.isLabeled { summary.unlabeled += 1 }
        examples.append(example)
    }

    mutating func reject(_ bad: BadRow, line: Int) throws {
        let message = "\(path):\(line): \(bad.message)"
        guard options.skipBadRows else {
            throw ModelError(message + " (to skip and count malformed rows instead, use skipBadRows, "
                + "the CLI's --skip-bad-rows)")
        }
        summary.skippedRows += 1
        if summary.skipped.count < options.describedSkips { summary.skipped.append(message) }
    }

    func finish(_ decoder: LossyDecoder) -> GlueFile {
        var summary = summary
        summary.examples = examples.count
        summary.replacedSequences = decoder.replaced
        summary.firstReplacedLine = decoder.firstReplacedLine
        return GlueFile(examples: examples, summary: summary)
    }
}

// MARK: - Labels and texts

extension GlueTask {
    /// A label as a TSV file (or a JSON string) spells it: a class name, or the class id in decimal
    /// (`datasets`' `glue` script: a value that is not a class name is passed to `int`); for STS-B a
    /// decimal number from 0 to 5.
    func parseLabel(_ text: String, column: String) throws(BadRow) -> Float {
        if isRegression {
            guard let value = Double(text), value.isFinite, labelRange.contains(Float(value)) else {
                throw BadRow("the \(column) column holds \(quoted(text)), expected a number from 0 to 5")
            }
            return Float(value)
        }
        if let index = labelNames.firstIndex(of: text) { return Float(index) }
        if let id = Int(text), labelNames.indices.contains(id) { return Float(id) }
        throw BadRow(
            "the \(column) column holds \(quoted(text)), expected "
                + labelNames.joined(separator: ", ") + " or a class id 0–\(labelNames.count - 1)")
    }

    /// A label given as a JSON number: a class id (an integral number), an STS-B score, or −1 for
    /// unlabeled data.
    func checkLabel(_ value: Double, field: String) throws(BadRow) -> Float {
        if value == -1 { return -1 }
        if isRegression {
            guard value.isFinite, labelRange.contains(Float(value)) else {
                throw BadRow("\(field) is \(numberText(value)), expected a score from 0 to 5 (or -1 for no label)")
            }
            return Float(value)
        }
        guard value.rounded() == value, value >= 0, value < Double(labelNames.count) else {
            throw BadRow(
                "\(field) is \(numberText(value)), expected a class id 0–\(labelNames.count - 1) ("
                    + labelNames.joined(separator: ", ") + ") or -1 for no label")
        }
        return Float(value)
    }
}

/// A JSON number as JSON would spell it: integral values without a fraction.
func numberText(_ value: Double) -> String {
    value.rounded() == value && abs(value) < 1e15 ? String(Int(value)) : String(value)
}

/// Whether a text is empty or only whitespace.
func isBlank(_ text: String) -> Bool {
    text.unicodeScalars.allSatisfy { $0.properties.isWhitespace }
}

/// `"text"`, shortened to 60 characters, for messages.
func quoted(_ text: String) -> String {
    let shown = text.count > 60 ? String(text.prefix(57)) + "..." : text
    return "\"" + shown + "\""
}
