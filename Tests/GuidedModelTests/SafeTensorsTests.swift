import Foundation
import Testing
@testable import GuidedModel

/// Building safetensors files byte by byte, temporary folders, and error checks, shared by the
/// safetensors and checkpoint tests.
enum SafeTensorsTestSupport {
    /// An 8-byte little-endian length, `header` as UTF-8 bytes, then `data`.
    static func file(header: String, data: [UInt8] = []) -> Data {
        file(headerBytes: Array(header.utf8), data: data)
    }

    static func file(headerBytes: [UInt8], data: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: (declaredLength ?? UInt64(headerBytes.count)).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: headerBytes)
        bytes.append(contentsOf: data)
        return Data(bytes)
    }

    /// Little-endian bytes of each value.
    static func bytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        var out: [UInt8] = []
        for value in values { withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    static func floatBytes(_ values: [Float]) -> [UInt8] { bytes(values.map(\.bitPattern)) }

    /// A new empty folder under the temporary directory.
    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("guided-ckpt-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs `body`, expects a `ModelError`, and checks its message contains every fragment.
    static func expectError(
        _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
    ) {
        do {
            try body()
            Issue.record("expected a ModelError containing \(fragments), but nothing was thrown",
                         sourceLocation: sourceLocation)
        } catch let error as ModelError {
            for fragment in fragments where !error.description.contains(fragment) {
                Issue.record("error \"\(error.description)\" does not contain \"\(fragment)\"",
                             sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("expected a ModelError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        }
    }
}

private typealias Support = SafeTensorsTestSupport

/// One malformed file and what its error must say (besides the file name).
struct MalformedSafeTensorsCase: Sendable, CustomStringConvertible {
    let description: String
    let data: Data
    let fragments: [String]

    init(_ description: String, _ data: Data, _ fragments: [String]) {
        self.description = description
        self.data = data
        self.fragments = fragments
    }

    init(_ description: String, header: String, data: [UInt8] = [], _ fragments: [String]) {
        self.init(description, Support.file(header: header, data: data), fragments)
    }

    static let all: [MalformedSafeTensorsCase] = {
        let eight = [UInt8](repeating: 0, count: 8)
        func tensor(_ body: String, name: String = "w") -> String { "{\"\(name)\":\(body)}" }
        var cases: [MalformedSafeTensorsCase] = [
            .init("empty file", Data(), ["0 bytes", "8-byte header length"]),
            .init("shorter than 8 bytes", Data([1, 2, 3]), ["3 bytes", "8-byte header length"]),
            .init("header length beyond the file", Support.file(headerBytes: Array("{}".utf8), declaredLength: 100),
                  ["header length 100 extends beyond the end of the file"]),
            .init("absurd header length", Support.file(headerBytes: Array("{}".utf8), declaredLength: UInt64.max),
                  ["header length 18446744073709551615", "100000000-byte limit"]),
            .init("header just over the limit", Support.file(headerBytes: [], declaredLength: 100_000_001),
                  ["100000000-byte limit"]),
            .init("empty header", header: "", ["not valid JSON", "expected a value"]),
            .init("invalid UTF-8", Support.file(headerBytes: Array("{\"w".utf8) + [0xFF] + Array("\":{}}".utf8)),
                  ["not valid JSON", "invalid UTF-8", "at byte 11"]),
            .init("overlong UTF-8", Support.file(headerBytes: Array("{\"".utf8) + [0xC0, 0xAF] + Array("\":{}}".utf8)),
                  ["invalid UTF-8"]),
            .init("invalid JSON", header: "{\"w\": }", ["not valid JSON"]),
            .init("trailing garbage", header: "{} x", ["not valid JSON", "after the JSON value"]),
            .init("header is an array", header: "[1, 2]", ["must be a JSON object", "an array"]),
            .init("header is a string", header: "\"hello\"", ["must be a JSON object", "a string"]),
            .init("deep nesting", header: "{\"w\":" + String(repeating: "[", count: 100_000) + "}",
                  ["not valid JSON", "nesting deeper"]),
            .init("entry not an object", header: tensor("[1,2]"), ["tensor \"w\"", "expected an object"]),
            .init("missing dtype", header: tensor("{\"shape\":[2],\"data_offsets\":[0,8]}"),
                  ["tensor \"w\"", "missing \"dtype\""]),
            .init("missing shape", header: tensor("{\"dtype\":\"F32\",\"data_offsets\":[0,8]}"), data: eight,
                  ["tensor \"w\"", "missing \"shape\""]),
            .init("missing data_offsets", header: tensor("{\"dtype\":\"F32\",\"shape\":[2]}"), data: eight,
                  ["tensor \"w\"", "missing \"data_offsets\""]),
            .init("dtype not a string", header: tensor("{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}"),
                  ["tensor \"w\"", "\"dtype\" must be a string", "a number 4"]),
            .init("unknown dtype", header: tensor("{\"dtype\":\"F17\",\"shape\":[2],\"data_offsets\":[0,8]}"),
                  data: eight, ["tensor \"w\"", "unknown dtype \"F17\"", "expected one of F64, F32"]),
            .init("shape not an array", header: tensor("{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}"),
                  data: eight, ["tensor \"w\"", "\"shape\" must be an array of non-negative integers"]),
            .init("negative dimension", header: tensor("{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]}"),
                  data: eight, ["tensor \"w\"", "dimension 1 of \"shape\" is -1", "non-negative integer"]),
            .init("fractional dimension", header: tensor("{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}"),
                  data: eight, ["tensor \"w\"", "dimension 0 of \"shape\" is 2.5"]),
            .init("integral float dimension", header: tensor("{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}"),
                  data: eight, ["tensor \"w\"", "dimension 0 of \"shape\" is 2.0"]),
            .init("string dimension", header: tensor("{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}"),
                  data: eight, ["tensor \"w\"", "dimension 0 of \"shape\" is \"2\""]),
            .init("huge dimension", header: tensor("{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,8]}"),
                  data: eight, ["tensor \"w\"", "dimension 0 of \"shape\" is too large"]),
            .init("shape product overflow",
                  header: tensor("{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}"),
                  data: eight, ["tensor \"w\"", "more elements than fit"]),
            // Found while writing the fuzz target's re-encode check: the product overflows before the
            // 0 is reached. Rejected, as the reference implementation (and SafeTensorsWriter) do.
            .init("shape product overflow before a zero dimension",
                  header: tensor("{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,0],\"data_offsets\":[0,0]}"),
                  ["tensor \"w\"", "more elements than fit"]),
            .init("byte count overflow",
                  header: tensor("{\"dtype\":\"F32\",\"shape\":[2147483648,2147483648],\"data_offsets\":[0,8]}"),
                  data: eight, ["tensor \"w\"", "needs more bytes than fit"]),
            .init("data_offsets one number", header: tensor("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}"),
                  data: eight, ["tensor \"w\"", "\"data_offsets\" must be two non-negative integers", "got [0]"]),
            .init("data_offsets three numbers", header: tensor("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,9]}"),
                  data: eight, ["tensor \"w\"", "must be two non-negative integers"]),
            .init("data_offsets with a string", header: tensor("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,\"8\"]}"),
                  data: eight, ["tensor \"w\"", "must be two non-negative integers"]),
            .init("data_offsets fractional", header: tensor("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8.5]}"),
                  data: eight, ["tensor \"w\"", "must be two non-negative integers"]),
            .init("data_offsets negative", header: tensor("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}"),
                  data: eight, ["tensor \"w\"", "must be two non-negative integers"]),
            .init("data_offsets an object", header: tensor("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":{}}"),
                  data: eight, ["tensor \"w\"", "must be two non-negative integers"]),
            .init("begin after end", header: tensor("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}"),
                  data: eight, ["tensor \"w\"", "data_offsets [8, 0] begin after they end"]),
            .init("end beyond the data block", header: tensor("{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}"),
                  data: eight, ["tensor \"w\"", "end beyond the data block, which is 8 bytes"]),
            .init("byte length mismatch", header: tensor("{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}"),
                  data: eight, ["tensor \"w\"", "span 8 bytes", "3 × 4 = 12 bytes"]),
            .init("overlapping tensors",
                  header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                  data: [UInt8](repeating: 0, count: 12), ["tensor \"b\"", "overlap tensor \"a\""]),
            .init("identical ranges",
                  header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      + "\"b\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                  data: eight, ["tensor \"b\"", "overlap tensor \"a\""]),
            .init("hole between tensors",
                  header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                  data: [UInt8](repeating: 0, count: 12),
                  ["tensor \"b\"", "hole", "bytes 4..<8", "after tensor \"a\"", "contiguously"]),
            .init("hole at the start", header: tensor("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}"),
                  data: eight, ["tensor \"w\"", "hole", "bytes 0..<4", "at the start of the data block"]),
            .init("trailing bytes", header: tensor("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"),
                  data: eight, ["data block is 8 bytes", "bytes 4..<8", "last tensor, \"w\"", "belong to no tensor"]),
            .init("data but no tensors", header: "{}", data: eight, ["header lists no tensors", "bytes 0..<8"]),
            .init("metadata value not a string", header: "{\"__metadata__\":{\"format\":\"pt\",\"step\":3}}",
                  ["__metadata__ value \"step\" must be a string", "a number 3"]),
            .init("metadata not an object", header: "{\"__metadata__\":[\"pt\"]}",
                  ["__metadata__ must be an object", "an array"]),
            .init("duplicate tensor names",
                  header: "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                  data: eight, ["not valid JSON", "duplicate key \"w\""]),
            .init("lone surrogate", header: "{\"\\ud800\":{}}", ["not valid JSON", "lone surrogate"]),
            .init("control character in a name", header: "{\"a\u{01}\":{}}", ["not valid JSON", "control character"]),
        ]
        // A header longer than the limit but within the file is rejected before it is read.
        cases.append(.init("header length over the limit inside a small file",
                           Support.file(headerBytes: Array("{}".utf8), declaredLength: 200_000_000),
                           ["100000000-byte limit"]))
        return cases
    }()
}

@Suite("SafeTensors reader")
struct SafeTensorsReaderTests {
    static let path = "bad.safetensors"

    @Test("a malformed file is a ModelError naming the file (and tensor)", arguments: MalformedSafeTensorsCase.all)
    func malformed(_ testCase: MalformedSafeTensorsCase) {
        Support.expectError(["\(Self.path): "] + testCase.fragments) {
            _ = try SafeTensorsFile(data: testCase.data, path: Self.path)
        }
    }

    @Test func minimalFilesAreValid() throws {
        let empty = try SafeTensorsFile(data: Support.file(header: "{}"), path: "empty.safetensors")
        #expect(empty.names.isEmpty)
        #expect(empty.metadata.isEmpty)
        #expect(empty.dataBlockOffset == 10)
        let nullMetadata = try SafeTensorsFile(data: Support.file(header: "  {\"__metadata__\": null}  "), path: "m")
        #expect(nullMetadata.metadata.isEmpty)
    }

    @Test func namesAreInDataOrderAndEntriesDescribeTheHeader() throws {
        // Header order differs from data order; an unaligned F32 after a 1-byte U8 tensor;
        // a zero-size tensor and a scalar; unknown entry keys are ignored (as the reference).
        let header = """
            {"__metadata__":{"format":"pt","note":"\\u00e9\\n"},
             "late":{"dtype":"F32","shape":[2],"data_offsets":[1,9],"extra":true},
             "byte":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},
             "empty":{"dtype":"F32","shape":[0,3],"data_offsets":[9,9]},
             "scalar":{"dtype":"F32","shape":[],"data_offsets":[9,13]}}
            """
        let data: [UInt8] = [7] + Support.floatBytes([1.5, -2.25]) + Support.floatBytes([42])
        let file = try SafeTensorsFile(data: Support.file(header: header, data: data), path: "order.safetensors")
        #expect(file.names == ["byte", "late", "empty", "scalar"])
        #expect(file.metadata == ["format": "pt", "note": "é\n"])
        let late = try #require(file["late"])
        #expect(late.dtype == .F32)
        #expect(late.shape == [2])
        #expect(late.dataRange == 1..<9)
        #expect(late.elementCount == 2)
        #expect(file["empty"]?.elementCount == 0)
        #expect(file["scalar"]?.elementCount == 1)
        #expect(file["missing"] == nil)
        #expect(try file.floats("late") == [1.5, -2.25])
        #expect(try file.floats("empty") == [])
        #expect(try file.floats("scalar") == [42])
        #expect(try file.int64s("byte") == [7])
        #expect(file.entries.map(\.name) == file.names)
    }

    @Test func readsFromADataSliceWithANonZeroStartIndex() throws {
        let whole = Data([9, 9, 9]) + Support.file(header: "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                                                   data: Support.floatBytes([3.5]))
        let slice = whole[3...]
        #expect(slice.startIndex == 3)
        let file = try SafeTensorsFile(data: slice, path: "slice")
        #expect(try file.floats("x") == [3.5])
    }

    @Test func missingTensorNamesTheTensorAndTheFileAndSuggestsThePrefix() throws {
        let file = try SafeTensorsFile(
            data: Support.file(header: "{\"bert.pooler.dense.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                               data: Support.floatBytes([1])),
            path: "m.safetensors")
        Support.expectError(["m.safetensors", "no tensor named \"pooler.dense.bias\"", "it has \"bert.pooler.dense.bias\""]) {
            _ = try file.floats("pooler.dense.bias")
        }
        Support.expectError(["m.safetensors", "no tensor named \"nothing\""]) { _ = try file.int64s("nothing") }
    }

    @Test func floatsOfAnIntegerTensorAndInt64sOfAFloatTensorAreErrors() throws {
        let header = "{\"ids\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},"
            + "\"w\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[8,10]}}"
        let file = try SafeTensorsFile(data: Support.file(header: header, data: Support.bytes([Int64(5)]) + [0x80, 0x3F]),
                                       path: "t.safetensors")
        Support.expectError(["t.safetensors", "tensor \"ids\"", "I64", "not a floating-point type", "int64s"]) {
            _ = try file.floats("ids")
        }
        Support.expectError(["t.safetensors", "tensor \"w\"", "BF16", "not an integer type", "floats"]) {
            _ = try file.int64s("w")
        }
        #expect(try file.int64s("ids") == [5])
        #expect(try file.floats("w") == [1])
    }

    /// A file with one tensor of `dtype` holding `bytes`, one element per `width` bytes.
    private func single(_ dtype: String, _ bytes: [UInt8], width: Int) throws -> SafeTensorsFile {
        let header = "{\"t\":{\"dtype\":\"\(dtype)\",\"shape\":[\(bytes.count / width)],\"data_offsets\":[0,\(bytes.count)]}}"
        return try SafeTensorsFile(data: Support.file(header: header, data: bytes), path: "\(dtype).safetensors")
    }

    @Test func f16DecodesKnownBitPatternsExactly() throws {
        let patterns: [(UInt16, Float)] = [
            (0x3C00, 1.0), (0xC000, -2.0), (0x7BFF, 65504), (0xFBFF, -65504),
            (0x0001, Float(sign: .plus, exponent: -24, significand: 1)),      // smallest subnormal
            (0x03FF, Float(1023) * Float(sign: .plus, exponent: -24, significand: 1)),  // largest subnormal
            (0x0400, Float(sign: .plus, exponent: -14, significand: 1)),      // smallest normal
            (0x8001, -Float(sign: .plus, exponent: -24, significand: 1)),
            (0x3555, 0.333251953125), (0x7C00, .infinity), (0xFC00, -.infinity), (0x0000, 0),
        ]
        let file = try single("F16", Support.bytes(patterns.map(\.0) + [0x8000, 0x7E00, 0xFE01]), width: 2)
        let values = try file.floats("t")
        for (index, (bits, expected)) in patterns.enumerated() {
            #expect(values[index].bitPattern == expected.bitPattern, "F16 0x\(String(bits, radix: 16))")
        }
        #expect(values[patterns.count].bitPattern == 0x8000_0000)  // -0
        #expect(values[patterns.count + 1].isNaN)
        #expect(values[patterns.count + 2].isNaN && values[patterns.count + 2].sign == .minus)
    }

    #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
    @Test func f16DecodingMatchesFloat16ForEveryBitPattern() throws {
        let all = (0...UInt16.max).map { $0 }
        let values = try single("F16", Support.bytes(all), width: 2).floats("t")
        var mismatches = 0
        for bits in all {
            let expected = Float(Float16(bitPattern: bits))
            let got = values[Int(bits)]
            if expected.isNaN ? !got.isNaN : got.bitPattern != expected.bitPattern { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }
    #endif

    @Test func bf16DecodesKnownBitPatternsExactly() throws {
        let patterns: [(UInt16, UInt32)] = [
            (0x3F80, Float(1).bitPattern), (0xC000, Float(-2).bitPattern), (0x7F80, Float.infinity.bitPattern),
            (0xFF80, (-Float.infinity).bitPattern), (0x0001, 0x0001_0000 /* subnormal 2^-133 */),
            (0x8000, 0x8000_0000), (0x7F7F, 0x7F7F_0000 /* largest finite */), (0x3EAB, 0x3EAB_0000),
        ]
        let values = try single("BF16", Support.bytes(patterns.map(\.0) + [0x7FC0]), width: 2).floats("t")
        for (index, (bits, expected)) in patterns.enumerated() {
            #expect(values[index].bitPattern == expected, "BF16 0x\(String(bits, radix: 16))")
        }
        #expect(values[0] == 1.0)
        #expect(values[4] == Float(sign: .plus, exponent: -133, significand: 1))
        #expect(values[patterns.count].isNaN)
    }

    @Test func f64AndF8AreConverted() throws {
        let doubles = try single("F64", Support.bytes([1.5, -1e300, 0.1, 1e-50].map(\.bitPattern)), width: 8).floats("t")
        #expect(doubles[0] == 1.5)
        #expect(doubles[1] == -.infinity)
        #expect(doubles[2] == Float(0.1))
        #expect(doubles[3] == 0)
        let e4m3 = try single("F8_E4M3", [0x38, 0xB8, 0x7E, 0x01, 0x08, 0x7F, 0x00], width: 1).floats("t")
        #expect(Array(e4m3[0..<5]) == [1, -1, 448, Float(sign: .plus, exponent: -9, significand: 1),
                                       Float(sign: .plus, exponent: -6, significand: 1)])
        #expect(e4m3[5].isNaN)
        #expect(e4m3[6] == 0)
        let e5m2 = try single("F8_E5M2", [0x3C, 0xC0, 0x7C, 0x01, 0x7E], width: 1).floats("t")
        #expect(Array(e5m2[0..<4]) == [1, -2, .infinity, Float(sign: .plus, exponent: -16, significand: 1)])
        #expect(e5m2[4].isNaN)
    }

    @Test func integerTypesAreReadAsInt64() throws {
        #expect(try single("I64", Support.bytes([Int64.min, -1, Int64.max]), width: 8).int64s("t") == [Int64.min, -1, Int64.max])
        #expect(try single("I32", Support.bytes([Int32.min, 7]), width: 4).int64s("t") == [Int64(Int32.min), 7])
        #expect(try single("I16", Support.bytes([Int16(-300)]), width: 2).int64s("t") == [-300])
        #expect(try single("I8", [0x80, 0x7F], width: 1).int64s("t") == [-128, 127])
        #expect(try single("U8", [0xFF], width: 1).int64s("t") == [255])
        #expect(try single("U16", Support.bytes([UInt16.max]), width: 2).int64s("t") == [65535])
        #expect(try single("U32", Support.bytes([UInt32.max]), width: 4).int64s("t") == [Int64(UInt32.max)])
        #expect(try single("BOOL", [0, 1, 2], width: 1).int64s("t") == [0, 1, 1])
        #expect(try single("U64", Support.bytes([UInt64(12)]), width: 8).int64s("t") == [12])
        let big = try single("U64", Support.bytes([UInt64(1), UInt64.max]), width: 8)
        Support.expectError(["U64.safetensors", "tensor \"t\"", "element 1 is 18446744073709551615"]) {
            _ = try big.int64s("t")
        }
    }

    @Test func readsAFileFromDiskAndReportsMissingFiles() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("a.safetensors")
        try Support.file(header: "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                         data: Support.floatBytes([1, 2])).write(to: url)
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.path == url.path)
        #expect(try file.floats("x") == [1, 2])

        let missing = folder.appendingPathComponent("none.safetensors")
        Support.expectError([missing.path, "no such file"]) { _ = try SafeTensorsFile(contentsOf: missing) }
        Support.expectError([folder.path, "is a directory"]) { _ = try SafeTensorsFile(contentsOf: folder) }

        let empty = folder.appendingPathComponent("empty.safetensors")
        try Data().write(to: empty)
        Support.expectError([empty.path, "0 bytes"]) { _ = try SafeTensorsFile(contentsOf: empty) }
    }

    @Test func strictJSONKeepsOrderLiteralsAndEscapes() throws {
        let text = #"{"b": [1, 2.50, -0, 1e-12], "a": {"x": "q\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}, "c": null, "d": false}"#
        let value = try StrictJSON.parse(Array(text.utf8))
        guard case let .object(members) = value else {
            Issue.record("not an object")
            return
        }
        #expect(members.map(\.key) == ["b", "a", "c", "d"])
        #expect(value["b"] == .array([.number("1"), .number("2.50"), .number("-0"), .number("1e-12")]))
        #expect(value["a"]?["x"] == .string("q\"\\/\u{08}\u{0C}\n\r\té😀"))
        guard case let .array(numbers) = value["b"] ?? .null else {
            Issue.record("b is not an array")
            return
        }
        #expect(numbers.map(\.intValue) == [1, nil, 0, nil])
        #expect(numbers.map(\.doubleValue) == [1, 2.5, 0, 1e-12])
        // Written back compactly and re-read: the same value.
        let written = StrictJSON.serialize(value, pretty: false, sortKeys: false)
        #expect(try StrictJSON.parse(written) == value)
        for bad in ["01", "1.", "-", "1e", ".5", "+1", "tru", "[1,]", "{\"a\":1,}", "\"\\x\"", "\"\\u12\"", "NaN"] {
            #expect(throws: StrictJSON.SyntaxError.self, "\(bad)") { _ = try StrictJSON.parse(Array(bad.utf8)) }
        }
    }
}

@Suite("SafeTensors writer")
struct SafeTensorsWriterTests {
    static let tensors: [SafeTensorsWriter.Tensor] = [
        (name: "bert.encoder.layer.0.attention.self.query.weight", shape: [2, 3], values: [1, -2, 3.5, 0, -0.0, Float(bitPattern: 0x0000_0123)]),
        (name: "scalar", shape: [], values: [7]),
        (name: "zero", shape: [0, 4], values: []),
        (name: "special", shape: [3], values: [.infinity, -.infinity, .nan]),
        (name: "quote\"d", shape: [1, 1, 1], values: [0.1]),
    ]

    private func contents(of folder: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    }

    @Test func roundTripKeepsNamesOrderShapesValuesAndMetadata() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("model.safetensors")
        let metadata = ["format": "pt", "samples": "1024", "note": "é \"quoted\"\n"]
        try SafeTensorsWriter.write(Self.tensors, metadata: metadata, to: url)
        #expect(try contents(of: folder) == ["model.safetensors"])

        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.names == Self.tensors.map(\.name))
        #expect(file.metadata == metadata)
        #expect(file.dataBlockOffset % 8 == 0)
        for tensor in Self.tensors {
            let entry = try #require(file[tensor.name])
            #expect(entry.dtype == .F32)
            #expect(entry.shape == tensor.shape)
            let values = try file.floats(tensor.name)
            #expect(values.map(\.bitPattern) == tensor.values.map(\.bitPattern), "\(tensor.name)")
        }
        #expect(file["scalar"]?.dataRange == 24..<28)
        #expect(file["zero"]?.dataRange == 28..<28)

        // encode() produces the same bytes as write().
        let onDisk = try Data(contentsOf: url)
        #expect(try SafeTensorsWriter.encode(Self.tensors, metadata: metadata) == onDisk)
        // The header is padded with spaces, as the reference implementation pads it.
        let header = onDisk[8..<file.dataBlockOffset]
        #expect(header.first == UInt8(ascii: "{"))
        let trimmed = header.reversed().drop(while: { $0 == 0x20 })
        #expect(trimmed.first == UInt8(ascii: "}"))
    }

    /// Tensors lying back to back in one buffer are written as the per-tensor writer writes them.
    @Test func aContiguousBufferWritesTheSameFile() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let single = folder.appendingPathComponent("a.safetensors"), contiguous = folder.appendingPathComponent("b.safetensors")
        try SafeTensorsWriter.write(Self.tensors, metadata: ["k": "v"], to: single)
        try SafeTensorsWriter.write(contiguous: Self.tensors.map { ($0.name, $0.shape) }, values: Self.tensors.flatMap(\.values),
                                    metadata: ["k": "v"], to: contiguous)
        #expect(try Data(contentsOf: single) == Data(contentsOf: contiguous))
        let short = #expect(throws: ModelError.self) {
            try SafeTensorsWriter.write(contiguous: [("w", [2, 3])], values: [1, 2, 3], metadata: [:], to: contiguous)
        }
        #expect(short?.description.contains("shapes hold 6 values, the buffer 3") == true)
        #expect(try SafeTensorsFile(contentsOf: contiguous).names == Self.tensors.map(\.name))
    }

    @Test func headerBytesMatchTheReferenceLayout() throws {
        let data = try SafeTensorsWriter.encode([(name: "a", shape: [2], values: [1, 2])], metadata: ["format": "pt"])
        let json = #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let padded = json + String(repeating: " ", count: (8 - json.utf8.count % 8) % 8)
        let expected = Support.file(header: padded, data: Support.floatBytes([1, 2]))
        #expect(data == expected)
        #expect(padded.utf8.count == 88)
        // Without metadata there is no __metadata__ key.
        let bare = try SafeTensorsWriter.encode([(name: "a", shape: [], values: [1])], metadata: [:])
        #expect(String(decoding: bare[8..<(bare.count - 4)], as: UTF8.self)
                == #"{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}   "#)
    }

    @Test func invalidTensorsAreRejectedBeforeTheTargetIsTouched() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("model.safetensors")
        let original = Data("precious".utf8)
        try original.write(to: url)

        Support.expectError([url.path, "tensor \"w\"", "shape [2, 2] needs 4 values, got 3"]) {
            try SafeTensorsWriter.write([(name: "w", shape: [2, 2], values: [1, 2, 3])], metadata: [:], to: url)
        }
        Support.expectError([url.path, "tensor \"w\"", "appears twice"]) {
            try SafeTensorsWriter.write([(name: "w", shape: [], values: [1]), (name: "w", shape: [], values: [2])],
                                        metadata: [:], to: url)
        }
        Support.expectError([url.path, "tensor \"n\"", "negative dimension"]) {
            try SafeTensorsWriter.write([(name: "n", shape: [-1], values: [])], metadata: [:], to: url)
        }
        Support.expectError([url.path, "__metadata__ is reserved"]) {
            try SafeTensorsWriter.write([(name: "__metadata__", shape: [], values: [1])], metadata: [:], to: url)
        }
        Support.expectError([url.path, "tensor \"o\"", "too many elements"]) {
            try SafeTensorsWriter.write([(name: "o", shape: [Int.max, 2], values: [])], metadata: [:], to: url)
        }
        #expect(try Data(contentsOf: url) == original)
        #expect(try contents(of: folder) == ["model.safetensors"])
    }

    @Test func aFailedRenameLeavesNoTemporaryFileAndTheTargetIntact() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // The target is a non-empty directory: the temporary file is written, the rename fails.
        let target = folder.appendingPathComponent("model.safetensors")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
        try Data("keep".utf8).write(to: target.appendingPathComponent("inside"))
        Support.expectError([target.path, "cannot rename"]) {
            try SafeTensorsWriter.write(Self.tensors, metadata: [:], to: target)
        }
        #expect(try contents(of: folder) == ["model.safetensors"])
        #expect(try Data(contentsOf: target.appendingPathComponent("inside")) == Data("keep".utf8))
    }

    @Test func aMissingFolderIsAnError() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("absent/model.safetensors")
        Support.expectError([url.path, "cannot create a temporary file", "No such file or directory"]) {
            try SafeTensorsWriter.write(Self.tensors, metadata: [:], to: url)
        }
        #expect(try contents(of: folder).isEmpty)
    }

    @Test func overwritingReplacesTheFileWhole() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("fisher.safetensors")
        try Data(repeating: 0xAB, count: 10_000).write(to: url)
        try SafeTensorsWriter.write([(name: "f", shape: [2], values: [0.5, 0.25])], metadata: ["samples": "3"], to: url)
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(try file.floats("f") == [0.5, 0.25])
        #expect(file.metadata == ["samples": "3"])
        #expect(try contents(of: folder) == ["fisher.safetensors"])
    }
}
