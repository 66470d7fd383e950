/// Backend-specific memory behind a `Tensor`. Each backend defines its own and downcasts.
public protocol DeviceStorage: AnyObject, Sendable {
    /// Number of 4-byte elements (Float32 or Int32) the allocation holds.
    var capacity: Int { get }
}

/// A window of `count` 4-byte elements starting at `offset` in one device allocation.
///
/// Tensors carry no shape: every op takes its shapes explicitly, as llm.c's functions do, so the
/// shape an op assumes is visible at the call. Parameters, gradients and Fisher sums each live in one
/// allocation, with every named tensor a slice of it (`slice(_:_:)`).
/// Elements are Float32 unless an op says Int32 (token ids, labels, row indices).
public struct Tensor: @unchecked Sendable {
    public let storage: DeviceStorage
    public let offset: Int
    public let count: Int

    public init(storage: DeviceStorage, offset: Int = 0, count: Int? = nil) {
        let count = count ?? storage.capacity - offset
        precondition(offset >= 0 && count >= 0 && offset + count <= storage.capacity,
                     "tensor window [\(offset), \(offset + count)) outside allocation of \(storage.capacity)")
        self.storage = storage
        self.offset = offset
        self.count = count
    }

    /// The sub-window `[start, start + length)` of this tensor.
    public func slice(_ start: Int, _ length: Int) -> Tensor {
        precondition(start >= 0 && length >= 0 && start + length <= count,
                     "slice [\(start), \(start + length)) outside tensor of \(count)")
        return Tensor(storage: storage, offset: offset + start, count: length)
    }
}
