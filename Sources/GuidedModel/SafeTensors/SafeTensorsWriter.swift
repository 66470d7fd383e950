import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes F32 safetensors files as the reference implementation does: header
/// `{"__metadata__":{...},"name":{"dtype":"F32","shape":[...],"data_offsets":[b,e]},...}` in compact
/// JSON (metadata keys sorted; omitted when empty), padded with spaces to a multiple of 8 bytes,
/// then the tensors back to back, in the order given.
public enum SafeTensorsWriter {
    public typealias Tensor = (name: String, shape: [Int], values: [Float])

    /// Writes `tensors` (in the given order) with `metadata` to `url`, atomically: everything is
    /// checked first (unique names, non-negative dims, value count = shape product), then written
    /// to a temporary file in the same folder, flushed to disk, and renamed over `url`. On any
    /// error the temporary file is removed and an existing file at `url` is left untouched.
    public static func write(_ tensors: [Tensor], metadata: [String: String], to url: URL) throws {
        let path = url.path
        let header = try encodeHeader(tensors.map { ($0.name, $0.shape, $0.values.count) }, metadata: metadata, path: path)
        try AtomicFileWriter.write(to: url) { sink in
            try header.withUnsafeBytes { try sink($0) }
            for tensor in tensors where !tensor.values.isEmpty {
                #if _endian(little)
                try tensor.values.withUnsafeBytes { try sink($0) }
                #else
                try tensor.values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { try sink($0) }
                #endif
            }
        }
    }

    /// Writes tensors that lie back to back in one buffer (a model's parameter layout): `values`
    /// holds them in `entries` order, so the file is written without a copy per tensor. Atomic and
    /// checked as `write(_:metadata:to:)`; the counts must add up to `values.count`.
    public static func write(contiguous entries: [(name: String, shape: [Int])], values: [Float], metadata: [String: String],
                             to url: URL) throws {
        let counts = entries.map { $0.shape.reduce(1) { $0 &* max($1, 0) } }
        let header = try encodeHeader(zip(entries, counts).map { ($0.name, $0.shape, $1) }, metadata: metadata, path: url.path)
        let total = counts.reduce(0, +)
        guard total == values.count else {
            throw ModelError("\(url.path): the tensors' shapes hold \(total) values, the buffer \(values.count)")
        }
        try AtomicFileWriter.write(to: url) { sink in
            try header.withUnsafeBytes { try sink($0) }
            #if _endian(little)
            try values.withUnsafeBytes { try sink($0) }
            #else
            try values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { try sink($0) }
            #endif
        }
    }

    /// The whole file in memory — for small files (tests, fixtures); `write` streams instead.
    public static func encode(_ tensors: [Tensor], metadata: [String: String]) throws -> Data {
        var data = Data(try encodeHeader(tensors.map { ($0.name, $0.shape, $0.values.count) }, metadata: metadata, path: "<memory>"))
        for tensor in tensors {
            for value in tensor.values {
                withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
            }
        }
        return data
    }

    /// The 8-byte length followed by the padded header JSON; validates the tensors.
    static func encodeHeader(_ tensors: [(name: String, shape: [Int], count: Int)], metadata: [String: String], path: String)
        throws -> [UInt8]
    {
        var members: [(key: String, value: StrictJSON.Value)] = []
        if !metadata.isEmpty {
            let sorted = metadata.sorted { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) }
            members.append((key: "__metadata__", value: .object(sorted.map { (key: $0.key, value: .string($0.value)) })))
        }
        var seen = Set<String>()
        var offset = 0
        for tensor in tensors {
            func fail(_ message: String) -> ModelError { ModelError("\(path): tensor \"\(tensor.name)\": \(message)") }
            guard tensor.name != "__metadata__" else { throw fail("the name __metadata__ is reserved") }
            guard seen.insert(tensor.name).inserted else { throw fail("the name appears twice") }
            var count = 1
            for dim in tensor.shape {
                guard dim >= 0 else { throw fail("shape \(tensor.shape) has a negative dimension") }
                let (product, overflow) = count.multipliedReportingOverflow(by: dim)
                guard !overflow else { throw fail("shape \(tensor.shape) has too many elements") }
                count = product
            }
            guard count == tensor.count else {
                throw fail("shape \(tensor.shape) needs \(count) values, got \(tensor.count)")
            }
            let begin = offset
            let (end, overflow) = offset.addingReportingOverflow(count &* 4)
            guard !overflow, count <= Int.max / 4 else { throw fail("the file would be too large") }
            offset = end
            members.append((key: tensor.name, value: .object([
                (key: "dtype", value: .string("F32")),
                (key: "shape", value: .array(tensor.shape.map { .number(String($0)) })),
                (key: "data_offsets", value: .array([.number(String(begin)), .number(String(end))])),
            ])))
        }
        var json = StrictJSON.serialize(.object(members), pretty: false, sortKeys: false)
        json.append(contentsOf: repeatElement(0x20, count: (8 - json.count % 8) % 8))
        var out: [UInt8] = []
        out.reserveCapacity(8 + json.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: json)
        return out
    }
}

/// Writes a file by way of a temporary file in the same folder, renamed into place only after all
/// of it has been written and flushed; the temporary file never outlives a failure.
enum AtomicFileWriter {
    typealias Sink = (UnsafeRawBufferPointer) throws -> Void

    static func write(to url: URL, _ produce: (Sink) throws -> Void) throws {
        let path = url.path
        let folder = url.deletingLastPathComponent().path
        let temporaryPath = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp").path
        func systemError(_ what: String) -> ModelError {
            let code = errno
            return ModelError("\(path): \(what): \(String(cString: strerror(code)))")
        }

        let fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw systemError("cannot create a temporary file in \(folder)") }
        var isOpen = true
        var renamed = false
        defer {
            if isOpen { _ = close(fd) }
            if !renamed { _ = unlink(temporaryPath) }
        }

        try produce { buffer in
            guard var pointer = buffer.baseAddress else { return }
            var remaining = buffer.count
            while remaining > 0 {
                let written = posixWrite(fd, pointer, min(remaining, 1 << 30))
                if written < 0 {
                    if errno == EINTR { continue }
                    throw systemError("cannot write \(temporaryPath)")
                }
                remaining -= written
                pointer += written
            }
        }
        guard fsync(fd) == 0 else { throw systemError("cannot flush \(temporaryPath) to disk") }
        isOpen = false
        guard close(fd) == 0 else { throw systemError("cannot close \(temporaryPath)") }
        guard rename(temporaryPath, path) == 0 else { throw systemError("cannot rename \(temporaryPath) into place") }
        renamed = true
        // Make the rename itself durable; failure here does not undo a completed write.
        let folderFD = open(folder.isEmpty ? "." : folder, O_RDONLY | O_CLOEXEC)
        if folderFD >= 0 {
            _ = fsync(folderFD)
            _ = close(folderFD)
        }
    }

    private static func posixWrite(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.write(fd, pointer, count)
        #elseif canImport(Musl)
        return Musl.write(fd, pointer, count)
        #else
        return Darwin.write(fd, pointer, count)
        #endif
    }
}
