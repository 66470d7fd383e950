import Foundation
import GuidedModel

/// Reads GLUE data as JSON Lines with `datasets`' field names (what `dataset.to_json(path)` writes):
/// one JSON object per line with the task's text fields (`GlueTask.textFields`: `sentence`;
/// `sentence1`/`sentence2`; `question`/`sentence` for QNLI; `question1`/`question2` for QQP;
/// `premise`/`hypothesis` for MNLI), `label` and optionally `idx`.
///
/// `label` is a class id (an integral number; a class name as a string is accepted too), an STS-B
/// score from 0 to 5, or −1 for unlabeled data (`datasets`' test splits); a missing or null `label`
/// also means unlabeled. Other fields are ignored. Blank lines are ignored. A line that is not a JSON
/// object, lacks a text field, has a text that is not a string or is blank, or has a label out of
/// range is an error naming `file:line`, or is skipped and counted with `GlueReadOptions.skipBadRows`.
public enum GlueJSONLines {
    public static func read(_ url: URL, task: GlueTask, options: GlueReadOptions = GlueReadOptions()) throws
        -> GlueFile
    {
        let data = try readFileBytes(url)
        return try data.withUnsafeBytes { raw in
            try read(raw.bindMemory(to: UInt8.self), path: url.path, task: task, options: options)
        }
    }

    static func read(_ bytes: UnsafeBufferPointer<UInt8>, path: String, task: GlueTask, options: GlueReadOptions)
        throws -> GlueFile
    {
        var lines = LineScanner(bytes)
        var decoder = LossyDecoder()
        var collector = ExampleCollector(path: path, options: options)
        let json = JSONDecoder()
        let fields = task.textFields
        let expected = "\(task.displayName)'s fields: " + ([fields.text] + (fields.pair.map { [$0] } ?? []))
            .map { "\"\($0)\"" }.joined(separator: ", ") + ", \"label\""
        let wanted = [fields.text] + (fields.pair.map { [$0] } ?? []) + ["label", "idx"]
        json.userInfo[JSONRow.wantedKey] = wanted
        var nonBlank = 0
        while let range = lines.next() {
            let number = lines.lineNumber
            let lineText = decoder.string(bytes, range, line: number)
            guard !isBlank(lineText) else { continue }
            defer { nonBlank += 1 }
            do throws(BadRow) {
                let object: [String: JSONScalar]
                do {
                    object = try json.decode(JSONRow.self, from: Data(lineText.utf8)).values
                } catch {
                    throw BadRow("not a JSON object (\(describe(error)))")
                }
                let text = try string(object, fields.text, expected: expected)
                var pair: String?
                if let name = fields.pair { pair = try string(object, name, expected: expected) }
                let label = try label(object["label"], task: task)
                var idx = nonBlank
                switch object["idx"] {
                case nil, .null?: break
                case .number(let value)? where value.rounded() == value && abs(value) < 1e15:
                    idx = Int(value)
                case let other?:
                    throw BadRow("\"idx\" is \(other), expected an integer")
                }
                collector.add(GlueExample(text: text, pair: pair, label: label, idx: idx, file: path, line: number))
            } catch {
                try collector.reject(error, line: number)
            }
        }
        return collector.finish(decoder)
    }

    private static func string(_ object: [String: JSONScalar], _ field: String, expected: String) throws(BadRow)
        -> String
    {
        switch object[field] {
        case .string(let text)?:
            if isBlank(text) { throw BadRow("\"\(field)\" is empty") }
            return text
        case nil:
            throw BadRow("no \"\(field)\" field; expected \(expected)")
        case let other?:
            throw BadRow("\"\(field)\" is \(other), expected a string")
        }
    }

    private static func label(_ value: JSONScalar?, task: GlueTask) throws(BadRow) -> Float {
        switch value {
        case nil, .null?: return -1
        case .number(let number)?: return try task.checkLabel(number, field: "\"label\"")
        case .string(let text)?: return try task.parseLabel(text, column: "\"label\"")
        case let other?: throw BadRow("\"label\" is \(other), expected a number")
        }
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context):
            return context.underlyingError.map { "\($0)" } ?? context.debugDescription
        case DecodingError.typeMismatch(_, let context):
            return context.debugDescription
        default:
            return "\(error)"
        }
    }
}

/// The fields of a JSON object that the reader wants (`JSONRow.wantedKey` in the decoder's
/// `userInfo`); the others are not decoded.
struct JSONRow: Decodable {
    static let wantedKey = CodingUserInfoKey(rawValue: "glueWantedFields")!

    private struct Key: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    var values: [String: JSONScalar] = [:]

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        for name in decoder.userInfo[Self.wantedKey] as? [String] ?? [] {
            let key = Key(stringValue: name)
            guard container.contains(key) else { continue }
            // Decoding tries the expected type first, so that a well-formed row throws no errors
            // (each thrown error costs, in a test run a backtrace).
            values[name] =
                name == "label" || name == "idx"
                ? try container.decode(NumberFirst.self, forKey: key).value
                : try container.decode(JSONScalar.self, forKey: key)
        }
    }
}

/// A `JSONScalar` decoded trying a number first.
private struct NumberFirst: Decodable {
    let value: JSONScalar

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) {
            value = .number(number)
        } else {
            value = try JSONScalar(from: decoder)
        }
    }
}

/// A JSON value, as far as the readers care: scalars, and "something else" for arrays and objects.
enum JSONScalar: Decodable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case composite

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        // A text is the most likely.
        if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else {
            self = .composite
        }
    }

    var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .number(let value): numberText(value)
        case .string(let value): quoted(value)
        case .composite: "an array or object"
        }
    }
}
