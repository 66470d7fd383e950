import Foundation

/// Writes `data` to `url` through a temporary file in the same folder, flushed and renamed into
/// place: readers see the old file or the new one, never a half-written one.
public func writeFileAtomically(_ data: Data, to url: URL) throws {
    try AtomicFileWriter.write(to: url) { sink in try data.withUnsafeBytes { try sink($0) } }
}
