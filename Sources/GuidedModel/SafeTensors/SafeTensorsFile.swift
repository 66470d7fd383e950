import Foundation

/// Element types of the safetensors format (the `dtype` strings of the header).
///
/// Besides the types models here use, the byte-sized integer and 8-bit float types of the
/// reference implementation are known, so a file that holds such a tensor still opens; sub-byte
/// and complex types are reported as unknown.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL
    case U64, U32, U16
    /// torch.float8_e4m3fn: bias 7, no infinities, NaN only at S.1111.111.
    case F8_E4M3
    /// torch.float8_e5m2: the top byte of an IEEE binary16.
    case F8_E5M2

    public var bytesPerElement: Int {
        switch self {
        case .F64, .I64, .U64: return 8
        case .F32, .I32, .U32: return 4
        case .F16, .BF16, .I16, .U16: return 2
        case .I8, .U8, .BOOL, .F8_E4M3, .F8_E5M2: return 1
        }
    }

    /// Whether `SafeTensorsFile.floats` reads this type.
    public var isFloatingPoint: Bool {
        switch self {
        case .F64, .F32, .F16, .BF16, .F8_E4M3, .F8_E5M2: return true
        default: return false
        }
    }
}

/// One tensor's description in a safetensors header.
public struct SafeTensorsEntry: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    /// Dimensions, outermost first; `[]` for a scalar (one element).
    public let shape: [Int]
    /// The tensor's bytes within the data block, i.e. the header's `data_offsets` (relative to the
    /// start of the data block, which is `SafeTensorsFile.dataBlockOffset` bytes into the file).
    public let dataRange: Range<Int>
    /// Product of `shape` (1 for a scalar, 0 if any dimension is 0); checked not to overflow.
    public let elementCount: Int

    public var byteCount: Int { dataRange.count }
}

/// A safetensors file, read and validated up front.
///
/// The layout is an 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the data
/// block. Validation follows the reference implementation (huggingface/safetensors): the header
/// is at most 100 MB; every tensor has a known dtype, non-negative integer dims, and
/// `data_offsets` `[begin, end]` whose length is elements × dtype size; tensors cover the data
/// block back to back, with no overlap, no hole and nothing after the last one. In addition,
/// duplicate names in the header (which JSON parsers usually resolve silently) are an error.
/// Every problem is a `ModelError` naming the file and, where there is one, the tensor.
///
/// `init(contentsOf:)` memory-maps the file, so tensors are read only when asked for. As with
/// any memory map, truncating the file while it is open is undefined; files are replaced by
/// rename (as `SafeTensorsWriter` does), which is safe.
public struct SafeTensorsFile: Sendable {
    /// The largest header accepted, as the reference implementation (100,000,000 bytes).
    public static let maxHeaderBytes = 100_000_000

    /// The file's path, used in error messages.
    public let path: String
    /// The `__metadata__` map (empty when absent).
    public let metadata: [String: String]
    /// Tensor names in the order of their data in the file.
    public let names: [String]
    /// Where the data block starts in the file (8 + header length).
    public let dataBlockOffset: Int

    private let data: Data
    private let entriesByName: [String: SafeTensorsEntry]

    public subscript(name: String) -> SafeTensorsEntry? { entriesByName[name] }

    /// All entries in file order.
    public var entries: [SafeTensorsEntry] { names.compactMap { entriesByName[$0] } }

    /// Opens and validates the file at `url`, memory-mapping it.
    public init(contentsOf url: URL) throws {
        let path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelError("\(path): no such file")
        }
        guard !isDirectory.boolValue else {
            throw ModelError("\(path): is a directory, expected a .safetensors file")
        }
        let data: Data
        if let mapped = try? Data(contentsOf: url, options: [.alwaysMapped]) {
            data = mapped
        } else {
            do {
                data = try Data(contentsOf: url)
            } catch {
                throw ModelError("\(path): cannot read the file: \(error.localizedDescription)")
            }
        }
        try self.init(data: data, path: path)
    }

    /// Validates `data` as a safetensors file; `path` names it in error messages.
    public init(data: Data, path: String) throws {
        self.path = path
        self.data = data
        func fail(_ message: String) -> ModelError { ModelError("\(path): \(message)") }

        let fileSize = data.count
        guard fileSize >= 8 else {
            throw fail("the file is \(fileSize) bytes; a safetensors file starts with an 8-byte header length")
        }
        var headerLength64: UInt64 = 0
        for i in 0..<8 {
            headerLength64 |= UInt64(data[data.startIndex + i]) << UInt64(8 * i)
        }
        guard headerLength64 <= UInt64(Self.maxHeaderBytes) else {
            throw fail("header length \(headerLength64) is larger than the \(Self.maxHeaderBytes)-byte limit; "
                + "this is not a safetensors file or it is corrupt")
        }
        let headerLength = Int(headerLength64)
        guard headerLength <= fileSize - 8 else {
            throw fail("header length \(headerLength) extends beyond the end of the file "
                + "(\(fileSize) bytes, so at most \(fileSize - 8) for the header); the file may be truncated")
        }
        let headerStart = data.startIndex + 8
        let headerBytes = [UInt8](data[headerStart..<(headerStart + headerLength)])
        let header: StrictJSON.Value
        do {
            header = try StrictJSON.parse(headerBytes)
        } catch {
            throw fail("the header is not valid JSON: \(error.message) at byte \(error.offset + 8) of the file")
        }
        guard case let .object(members) = header else {
            throw fail("the header must be a JSON object, got \(header.kindDescription)")
        }
        let dataBlockOffset = 8 + headerLength
        let dataLength = fileSize - dataBlockOffset
        self.dataBlockOffset = dataBlockOffset

        var metadata: [String: String] = [:]
        var parsed: [SafeTensorsEntry] = []
        parsed.reserveCapacity(members.count)
        for (key, value) in members {
            if key == "__metadata__" {
                metadata = try Self.parseMetadata(value, fail: fail)
            } else {
                parsed.append(try Self.parseEntry(name: key, value, dataLength: dataLength, fail: fail))
            }
        }

        // Data order; ties (zero-size tensors sharing an offset) keep header order.
        let order = parsed.indices.sorted {
            let a = parsed[$0].dataRange, b = parsed[$1].dataRange
            if a.lowerBound != b.lowerBound { return a.lowerBound < b.lowerBound }
            if a.upperBound != b.upperBound { return a.upperBound < b.upperBound }
            return $0 < $1
        }
        var covered = 0
        var previous: SafeTensorsEntry?
        for index in order {
            let entry = parsed[index]
            let range = entry.dataRange
            if range.lowerBound < covered, let previous {
                throw fail("tensor \"\(entry.name)\": data_offsets [\(range.lowerBound), \(range.upperBound)] overlap "
                    + "tensor \"\(previous.name)\" (data_offsets [\(previous.dataRange.lowerBound), "
                    + "\(previous.dataRange.upperBound)]); tensors must not share bytes")
            }
            if range.lowerBound > covered {
                let after = previous.map { " after tensor \"\($0.name)\"" } ?? " at the start of the data block"
                throw fail("tensor \"\(entry.name)\": data_offsets [\(range.lowerBound), \(range.upperBound)] leave a "
                    + "hole: bytes \(covered)..<\(range.lowerBound) of the data block\(after) belong to no tensor; "
                    + "safetensors requires the tensors to cover the data block contiguously")
            }
            covered = range.upperBound
            previous = entry
        }
        if covered != dataLength {
            let which = previous.map { " after the last tensor, \"\($0.name)\"" } ?? " (the header lists no tensors)"
            throw fail("the data block is \(dataLength) bytes but its tensors cover \(covered); "
                + "bytes \(covered)..<\(dataLength)\(which) belong to no tensor")
        }

        self.metadata = metadata
        self.names = order.map { parsed[$0].name }
        var byName: [String: SafeTensorsEntry] = [:]
        byName.reserveCapacity(parsed.count)
        for entry in parsed { byName[entry.name] = entry }
        self.entriesByName = byName
    }

    private static func parseMetadata(_ value: StrictJSON.Value, fail: (String) -> ModelError) throws -> [String: String] {
        switch value {
        case .null:
            return [:]
        case let .object(members):
            var result: [String: String] = [:]
            for (key, item) in members {
                guard case let .string(text) = item else {
                    throw fail("__metadata__ value \"\(key)\" must be a string, got \(item.kindDescription) "
                        + "\(item.excerpt())")
                }
                result[key] = text
            }
            return result
        default:
            throw fail("__metadata__ must be an object of string values, got \(value.kindDescription)")
        }
    }

    private static func parseEntry(
        name: String, _ value: StrictJSON.Value, dataLength: Int, fail: (String) -> ModelError
    ) throws -> SafeTensorsEntry {
        func tensorFail(_ message: String) -> ModelError { fail("tensor \"\(name)\": \(message)") }
        guard case .object = value else {
            throw tensorFail("expected an object with \"dtype\", \"shape\" and \"data_offsets\", "
                + "got \(value.kindDescription) \(value.excerpt())")
        }

        guard let dtypeValue = value["dtype"] else { throw tensorFail("missing \"dtype\"") }
        guard case let .string(dtypeName) = dtypeValue else {
            throw tensorFail("\"dtype\" must be a string, got \(dtypeValue.kindDescription) \(dtypeValue.excerpt())")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            let known = SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
            throw tensorFail("unknown dtype \"\(dtypeName)\"; expected one of \(known)")
        }

        guard let shapeValue = value["shape"] else { throw tensorFail("missing \"shape\"") }
        guard case let .array(dimValues) = shapeValue else {
            throw tensorFail("\"shape\" must be an array of non-negative integers, got \(shapeValue.kindDescription) "
                + "\(shapeValue.excerpt())")
        }
        var shape: [Int] = []
        shape.reserveCapacity(dimValues.count)
        var elementCount = 1
        var overflowed = false
        for (axis, dimValue) in dimValues.enumerated() {
            guard let dim = dimValue.intValue, dim >= 0 else {
                let why: String
                if case let .number(text) = dimValue, dimValue.intValue == nil,
                   !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
                    why = "is too large"
                } else {
                    why = "is \(dimValue.excerpt())"
                }
                throw tensorFail("dimension \(axis) of \"shape\" \(why); expected a non-negative integer "
                    + "(shape \(shapeValue.excerpt()))")
            }
            shape.append(dim)
            let (product, overflow) = elementCount.multipliedReportingOverflow(by: dim)
            overflowed = overflowed || overflow
            elementCount = product
        }
        // As the reference implementation, a product that overflows on the way is an error even
        // if a later dimension is 0.
        guard !overflowed else {
            throw tensorFail("shape \(shapeValue.excerpt()) has more elements than fit in a 64-bit integer")
        }
        let (byteCount, byteOverflow) = elementCount.multipliedReportingOverflow(by: dtype.bytesPerElement)
        guard !byteOverflow else {
            throw tensorFail("shape \(shapeValue.excerpt()) of \(dtype.rawValue) needs more bytes than fit in a 64-bit integer")
        }

        guard let offsetsValue = value["data_offsets"] else { throw tensorFail("missing \"data_offsets\"") }
        guard case let .array(offsetValues) = offsetsValue, offsetValues.count == 2,
              let begin = offsetValues[0].intValue, let end = offsetValues[1].intValue, begin >= 0, end >= 0
        else {
            throw tensorFail("\"data_offsets\" must be two non-negative integers [begin, end], got "
                + "\(offsetsValue.excerpt())")
        }
        guard begin <= end else {
            throw tensorFail("data_offsets [\(begin), \(end)] begin after they end")
        }
        guard end <= dataLength else {
            throw tensorFail("data_offsets [\(begin), \(end)] end beyond the data block, which is \(dataLength) bytes; "
                + "the file may be truncated")
        }
        guard end - begin == byteCount else {
            throw tensorFail("data_offsets [\(begin), \(end)] span \(end - begin) bytes, but shape "
                + "\(shapeValue.excerpt()) of \(dtype.rawValue) needs \(elementCount) × \(dtype.bytesPerElement) = "
                + "\(byteCount) bytes")
        }
        return SafeTensorsEntry(name: name, dtype: dtype, shape: shape, dataRange: begin..<end, elementCount: elementCount)
    }

    // MARK: - Reading tensors

    private func missing(_ name: String) -> ModelError {
        var message = "\(path): no tensor named \"\(name)\" (the file has \(names.count) tensors)"
        let prefix = "bert."
        let alternative = name.hasPrefix(prefix) ? String(name.dropFirst(prefix.count)) : prefix + name
        if entriesByName[alternative] != nil {
            message += "; it has \"\(alternative)\""
        }
        return ModelError(message)
    }

    /// The entry named `name`, or an error naming the tensor and the file.
    public func entry(_ name: String) throws -> SafeTensorsEntry {
        guard let entry = entriesByName[name] else { throw missing(name) }
        return entry
    }

    /// Calls `body` with the tensor's raw little-endian bytes (valid only during the call).
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let entry = try entry(name)
        return try withBytes(of: entry, body)
    }

    private func withBytes<R>(of entry: SafeTensorsEntry, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try data.withUnsafeBytes { (all: UnsafeRawBufferPointer) in
            let start = dataBlockOffset + entry.dataRange.lowerBound
            return try body(UnsafeRawBufferPointer(rebasing: all[start..<(start + entry.byteCount)]))
        }
    }

    /// The tensor's values as Float32, row-major. F32 is copied; F16, BF16 and the F8 types are
    /// converted exactly (subnormals, infinities and NaN included); F64 is rounded to nearest.
    /// Integer and boolean tensors are an error (use `int64s`).
    public func floats(_ name: String) throws -> [Float] {
        let entry = try entry(name)
        guard entry.dtype.isFloatingPoint else {
            throw ModelError("\(path): tensor \"\(name)\" is \(entry.dtype.rawValue), not a floating-point type "
                + "(F32, F16, BF16, F64); read it with int64s")
        }
        let count = entry.elementCount
        guard count > 0 else { return [] }
        return withBytes(of: entry) { raw in
            [Float](unsafeUninitializedCapacity: count) { out, initialized in
                switch entry.dtype {
                case .F32:
                    #if _endian(little)
                    UnsafeMutableRawBufferPointer(out).copyMemory(from: raw)
                    #else
                    for i in 0..<count {
                        out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    }
                    #endif
                case .F64:
                    for i in 0..<count {
                        let bits = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                        out[i] = Float(Double(bitPattern: bits))
                    }
                case .F16:
                    for i in 0..<count {
                        let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                        out[i] = SafeTensorsConversion.floatFromHalf(bits)
                    }
                case .BF16:
                    for i in 0..<count {
                        let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                        out[i] = Float(bitPattern: UInt32(bits) << 16)
                    }
                case .F8_E4M3:
                    for i in 0..<count { out[i] = SafeTensorsConversion.floatFromE4M3(raw[i]) }
                case .F8_E5M2:
                    for i in 0..<count { out[i] = SafeTensorsConversion.floatFromHalf(UInt16(raw[i]) << 8) }
                default:
                    // Unreachable: integer types were rejected above. Fill rather than trap.
                    for i in 0..<count { out[i] = .nan }
                }
                initialized = count
            }
        }
    }

    /// The tensor's values as Int64, row-major, for integer tensors (I64, I32, I16, I8, U64, U32,
    /// U16, U8) and BOOL (0 or 1) — e.g. BERT's `embeddings.position_ids`. Floating-point tensors
    /// are an error, and so is a U64 value above Int64.max.
    public func int64s(_ name: String) throws -> [Int64] {
        let entry = try entry(name)
        guard !entry.dtype.isFloatingPoint else {
            throw ModelError("\(path): tensor \"\(name)\" is \(entry.dtype.rawValue), not an integer type "
                + "(I64, I32, ...); read it with floats")
        }
        let count = entry.elementCount
        guard count > 0 else { return [] }
        return try withBytes(of: entry) { raw in
            var out = [Int64](repeating: 0, count: count)
            switch entry.dtype {
            case .I64:
                for i in 0..<count { out[i] = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
            case .U64:
                for i in 0..<count {
                    let value = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                    guard let exact = Int64(exactly: value) else {
                        throw ModelError("\(path): tensor \"\(name)\": element \(i) is \(value), larger than Int64 can hold")
                    }
                    out[i] = exact
                }
            case .I32:
                for i in 0..<count { out[i] = Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
            case .U32:
                for i in 0..<count { out[i] = Int64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            case .I16:
                for i in 0..<count { out[i] = Int64(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) }
            case .U16:
                for i in 0..<count { out[i] = Int64(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            case .I8:
                for i in 0..<count { out[i] = Int64(Int8(bitPattern: raw[i])) }
            case .U8:
                for i in 0..<count { out[i] = Int64(raw[i]) }
            case .BOOL:
                for i in 0..<count { out[i] = raw[i] == 0 ? 0 : 1 }
            default:
                break  // Unreachable: floating-point types were rejected above.
            }
            return out
        }
    }
}

/// Exact conversions from the narrow float formats to Float32.
enum SafeTensorsConversion {
    /// IEEE binary16 → binary32, exact for every input (every half is a float).
    static func floatFromHalf(_ bits: UInt16) -> Float {
        let sign = UInt32(bits >> 15) << 31
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits) & 0x3FF
        if exponent == 0 {
            // Zero or subnormal: mantissa × 2^-24, exact in Float32.
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -magnitude : magnitude
        }
        if exponent == 0x1F {
            // Infinity (mantissa 0) or NaN with its payload kept in the top mantissa bits.
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        }
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }

    /// float8_e4m3fn → binary32, exact: bias 7, subnormals, no infinities, NaN at S.1111.111.
    static func floatFromE4M3(_ bits: UInt8) -> Float {
        let negative = bits & 0x80 != 0
        let exponent = Int(bits >> 3) & 0xF
        let mantissa = Int(bits) & 0x7
        let magnitude: Float
        if exponent == 0xF && mantissa == 0x7 {
            return negative ? -Float.nan : .nan
        } else if exponent == 0 {
            magnitude = Float(mantissa) * Float(sign: .plus, exponent: -9, significand: 1)
        } else {
            magnitude = Float(sign: .plus, exponent: exponent - 7, significand: 1 + Float(mantissa) / 8)
        }
        return negative ? -magnitude : magnitude
    }
}
