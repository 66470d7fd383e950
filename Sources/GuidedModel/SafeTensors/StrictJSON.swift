import Foundation

/// A small, strict JSON reader and writer for the files this module reads and writes
/// (safetensors headers, `config.json`, sharded-checkpoint indexes).
///
/// Written here instead of using `JSONSerialization` because the readers need what it does not
/// give: objects keep their key order and reject duplicate keys (JSONSerialization silently keeps
/// one), numbers keep their literal text (so `12` and `12.0` and `true` are told apart, and a
/// number written back is byte-for-byte what was read), nesting depth is bounded (hostile input
/// cannot exhaust the stack), and every error says where in the text it is.
enum StrictJSON {
    indirect enum Value: Sendable, Equatable {
        case object([(key: String, value: Value)])
        case array([Value])
        case string(String)
        /// The number's literal text, exactly as in the input (validated against the JSON grammar).
        case number(String)
        case bool(Bool)
        case null

        static func == (lhs: Value, rhs: Value) -> Bool {
            switch (lhs, rhs) {
            case let (.object(a), .object(b)):
                return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
            case let (.array(a), .array(b)): return a == b
            case let (.string(a), .string(b)): return a == b
            case let (.number(a), .number(b)): return a == b
            case let (.bool(a), .bool(b)): return a == b
            case (.null, .null): return true
            default: return false
            }
        }

        /// The member named `key` of an object, nil if absent or if this is not an object.
        subscript(key: String) -> Value? {
            guard case let .object(members) = self else { return nil }
            return members.first(where: { $0.key == key })?.value
        }

        /// The number as an `Int` if its literal is an integer (no fraction, no exponent) that fits.
        var intValue: Int? {
            guard case let .number(text) = self, !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" })
            else { return nil }
            return Int(text)
        }

        /// The number as a finite `Double` (integer or not).
        var doubleValue: Double? {
            guard case let .number(text) = self, let value = Double(text), value.isFinite else { return nil }
            return value
        }

        /// What kind of value this is, for error messages ("a string", "an array", ...).
        var kindDescription: String {
            switch self {
            case .object: return "an object"
            case .array: return "an array"
            case .string: return "a string"
            case .number: return "a number"
            case .bool: return "a boolean"
            case .null: return "null"
            }
        }

        /// Compact JSON text, cut to `limit` characters with "…" — for quoting a value in an error.
        func excerpt(limit: Int = 60) -> String {
            let text = String(decoding: StrictJSON.serialize(self, pretty: false, sortKeys: false), as: UTF8.self)
            return text.count <= limit ? text : String(text.prefix(limit)) + "…"
        }
    }

    /// Why a text is not acceptable JSON, and the byte offset where that was found.
    struct SyntaxError: Error {
        let message: String
        let offset: Int
    }

    /// Deepest nesting accepted. Valid safetensors headers nest 3 deep and configs a few more.
    static let maxDepth = 64

    /// Parses one JSON value from `bytes`, allowing surrounding whitespace only.
    /// Parses a file's contents that must be one JSON object; errors name `path` and say what
    /// the object was meant to be (`expected`, e.g. "a JSON object with \"weight_map\"").
    static func parseObject(_ data: Data, path: String, expected: String = "a JSON object") throws -> Value {
        let root: Value
        do {
            root = try parse([UInt8](data))
        } catch {
            throw ModelError("\(path): not valid JSON: \(error.message) at byte \(error.offset)")
        }
        guard case .object = root else {
            throw ModelError("\(path): expected \(expected), got \(root.kindDescription)")
        }
        return root
    }

    static func parse(_ bytes: [UInt8]) throws(SyntaxError) -> Value {
        if let bad = firstInvalidUTF8Offset(bytes) {
            throw SyntaxError(message: "invalid UTF-8", offset: bad)
        }
        var parser = Parser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.index != bytes.count {
            throw SyntaxError(message: "unexpected text after the JSON value", offset: parser.index)
        }
        return value
    }

    /// Offset of the first byte that is not part of well-formed UTF-8 (no overlongs, no surrogates,
    /// nothing above U+10FFFF), or nil if all of it is well formed.
    static func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int? {
        var i = 0
        let n = bytes.count
        while i < n {
            let b0 = bytes[i]
            if b0 < 0x80 { i += 1; continue }
            let length: Int
            var lower: UInt8 = 0x80
            var upper: UInt8 = 0xBF
            switch b0 {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; upper = 0x9F
            case 0xF0: length = 4; lower = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; upper = 0x8F
            default: return i
            }
            if n - i < length { return i }
            let b1 = bytes[i + 1]
            if b1 < lower || b1 > upper { return i }
            var k = 2
            while k < length {
                if bytes[i + k] & 0xC0 != 0x80 { return i }
                k += 1
            }
            i += length
        }
        return nil
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        func error(_ message: String, at offset: Int? = nil) -> SyntaxError {
            SyntaxError(message: message, offset: offset ?? index)
        }

        mutating func parseValue(depth: Int) throws(SyntaxError) -> Value {
            guard index < bytes.count else { throw error("unexpected end of text, expected a value") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
            case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
            case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
            case UInt8(ascii: "n"): try expectLiteral("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
            default: throw error("unexpected character, expected a value")
            }
        }

        mutating func expectLiteral(_ literal: StaticString) throws(SyntaxError) {
            let start = index
            let count = literal.utf8CodeUnitCount
            guard bytes.count - index >= count else { throw error("invalid literal", at: start) }
            let matches = literal.withUTF8Buffer { expected in
                (0..<count).allSatisfy { bytes[start + $0] == expected[$0] }
            }
            guard matches else { throw error("invalid literal", at: start) }
            index += count
        }

        mutating func parseObject(depth: Int) throws(SyntaxError) -> Value {
            if depth > StrictJSON.maxDepth { throw error("nesting deeper than \(StrictJSON.maxDepth) levels") }
            index += 1  // "{"
            var members: [(key: String, value: Value)] = []
            var seen = Set<String>()
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                    throw error("expected a string key in object")
                }
                let keyOffset = index
                let key = try parseString()
                if !seen.insert(key).inserted {
                    throw error("duplicate key \"\(key)\"", at: keyOffset)
                }
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                    throw error("expected ':' after object key")
                }
                index += 1
                skipWhitespace()
                let value = try parseValue(depth: depth)
                members.append((key: key, value: value))
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of text inside an object") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
                throw error("expected ',' or '}' in object")
            }
        }

        mutating func parseArray(depth: Int) throws(SyntaxError) -> Value {
            if depth > StrictJSON.maxDepth { throw error("nesting deeper than \(StrictJSON.maxDepth) levels") }
            index += 1  // "["
            var elements: [Value] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                elements.append(try parseValue(depth: depth))
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of text inside an array") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
                throw error("expected ',' or ']' in array")
            }
        }

        mutating func parseHex4() throws(SyntaxError) -> UInt32 {
            guard bytes.count - index >= 4 else { throw error("truncated \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[index]
                let digit: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw error("invalid hex digit in \\u escape")
                }
                value = value << 4 | digit
                index += 1
            }
            return value
        }

        /// Parses a string starting at its opening quote. The bytes are already known to be UTF-8.
        mutating func parseString() throws(SyntaxError) -> String {
            let start = index
            index += 1  // opening quote
            var out: [UInt8] = []
            var runStart = index
            while true {
                guard index < bytes.count else { throw error("unterminated string", at: start) }
                let c = bytes[index]
                if c == UInt8(ascii: "\"") {
                    out.append(contentsOf: bytes[runStart..<index])
                    index += 1
                    return String(decoding: out, as: UTF8.self)
                }
                if c < 0x20 { throw error("unescaped control character in string") }
                if c != UInt8(ascii: "\\") { index += 1; continue }
                out.append(contentsOf: bytes[runStart..<index])
                let escapeOffset = index
                index += 1
                guard index < bytes.count else { throw error("unterminated string", at: start) }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"),
                              bytes[index + 1] == UInt8(ascii: "u")
                        else { throw error("lone surrogate in \\u escape", at: escapeOffset) }
                        index += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else {
                            throw error("lone surrogate in \\u escape", at: escapeOffset)
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw error("lone surrogate in \\u escape", at: escapeOffset)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else {
                        throw error("invalid \\u escape", at: escapeOffset)
                    }
                    out.append(contentsOf: Array(String(Character(unicode)).utf8))
                default:
                    throw error("invalid escape sequence in string", at: escapeOffset)
                }
                runStart = index
            }
        }

        /// Parses a number per the JSON grammar and returns its literal text.
        mutating func parseNumber() throws(SyntaxError) -> String {
            let start = index
            func isDigit(_ i: Int) -> Bool {
                i < bytes.count && bytes[i] >= UInt8(ascii: "0") && bytes[i] <= UInt8(ascii: "9")
            }
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard isDigit(index) else { throw error("invalid number", at: start) }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
                if isDigit(index) { throw error("invalid number (leading zero)", at: start) }
            } else {
                while isDigit(index) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard isDigit(index) else { throw error("invalid number (no digits after '.')", at: start) }
                while isDigit(index) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    index += 1
                }
                guard isDigit(index) else { throw error("invalid number (no digits in exponent)", at: start) }
                while isDigit(index) { index += 1 }
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
    }

    // MARK: - Writing

    /// JSON text for `value`. `pretty` indents by two spaces with `": "` and `","` separators, as
    /// Python's `json.dumps(indent=2)` (what `transformers` writes); otherwise compact (`{"a":1}`).
    /// Non-ASCII characters are written as UTF-8, not escaped.
    static func serialize(_ value: Value, pretty: Bool, sortKeys: Bool) -> [UInt8] {
        var out: [UInt8] = []
        write(value, into: &out, pretty: pretty, sortKeys: sortKeys, indent: 0)
        return out
    }

    private static func write(_ value: Value, into out: inout [UInt8], pretty: Bool, sortKeys: Bool, indent: Int) {
        func newline(_ level: Int) {
            guard pretty else { return }
            out.append(0x0A)
            out.append(contentsOf: repeatElement(0x20, count: 2 * level))
        }
        switch value {
        case let .object(members):
            if members.isEmpty { out.append(contentsOf: Array("{}".utf8)); return }
            let ordered = sortKeys ? members.sorted { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) } : members
            out.append(UInt8(ascii: "{"))
            for (i, member) in ordered.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                writeString(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                if pretty { out.append(0x20) }
                write(member.value, into: &out, pretty: pretty, sortKeys: sortKeys, indent: indent + 1)
            }
            newline(indent)
            out.append(UInt8(ascii: "}"))
        case let .array(elements):
            if elements.isEmpty { out.append(contentsOf: Array("[]".utf8)); return }
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                write(element, into: &out, pretty: pretty, sortKeys: sortKeys, indent: indent + 1)
            }
            newline(indent)
            out.append(UInt8(ascii: "]"))
        case let .string(text): writeString(text, into: &out)
        case let .number(text): out.append(contentsOf: Array(text.utf8))
        case let .bool(flag): out.append(contentsOf: Array((flag ? "true" : "false").utf8))
        case .null: out.append(contentsOf: Array("null".utf8))
        }
    }

    static func writeString(_ text: String, into out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
