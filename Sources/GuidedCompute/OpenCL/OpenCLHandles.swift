import COpenCL

// `cl_*` handles import as `OpaquePointer`, which is not `Sendable`. Each is owned by one of these
// wrappers, which releases it exactly once; only the wrappers are passed around.

final class CLContext: @unchecked Sendable {
    let handle: cl_context
    init(_ handle: cl_context) { self.handle = handle }
    deinit { clReleaseContext(handle) }
}

final class CLQueue: @unchecked Sendable {
    let handle: cl_command_queue
    init(_ handle: cl_command_queue) { self.handle = handle }
    deinit { clReleaseCommandQueue(handle) }
}

final class CLProgram: @unchecked Sendable {
    let handle: cl_program
    init(_ handle: cl_program) { self.handle = handle }
    deinit { clReleaseProgram(handle) }
}

final class CLKernel: @unchecked Sendable {
    let handle: cl_kernel
    init(_ handle: cl_kernel) { self.handle = handle }
    deinit { clReleaseKernel(handle) }
}

final class CLEvent: @unchecked Sendable {
    let handle: cl_event
    init(_ handle: cl_event) { self.handle = handle }
    deinit { clReleaseEvent(handle) }

    /// A profiling timestamp (`CL_PROFILING_COMMAND_START`, `_END`, ...) in nanoseconds.
    func timestamp(_ which: Int32) throws -> UInt64 {
        var value: cl_ulong = 0
        try check(clGetEventProfilingInfo(handle, cl_profiling_info(which), MemoryLayout<cl_ulong>.size, &value, nil),
                  "clGetEventProfilingInfo")
        return value
    }
}

/// A device allocation. When the last `Tensor` over it goes away the `cl_mem` goes back to its
/// backend's pool instead of being released, so training loops that allocate the same scratch
/// sizes every step do not call `clCreateBuffer` every step.
final class OpenCLStorage: DeviceStorage, @unchecked Sendable {
    let capacity: Int
    let memory: cl_mem
    private weak var pool: BufferPool?

    init(capacity: Int, memory: cl_mem, pool: BufferPool) {
        self.capacity = capacity
        self.memory = memory
        self.pool = pool
    }

    deinit {
        if let pool { pool.recycle(memory, capacity: capacity) } else { clReleaseMemObject(memory) }
    }
}

/// Free `cl_mem` objects by exact element count.
final class BufferPool: @unchecked Sendable {
    private var free: [Int: [cl_mem]] = [:]
    private var freeBytes = 0
    private let lock = NSLock()
    /// Beyond this much idle memory, returned buffers are released rather than kept.
    let limitBytes: Int

    init(limitBytes: Int) { self.limitBytes = limitBytes }

    func take(capacity: Int) -> cl_mem? {
        lock.lock(); defer { lock.unlock() }
        guard let memory = free[capacity]?.popLast() else { return nil }
        freeBytes -= capacity * 4
        return memory
    }

    func recycle(_ memory: cl_mem, capacity: Int) {
        lock.lock(); defer { lock.unlock() }
        if freeBytes + capacity * 4 > limitBytes {
            clReleaseMemObject(memory)
        } else {
            free[capacity, default: []].append(memory)
            freeBytes += capacity * 4
        }
    }

    deinit {
        for memories in free.values { for memory in memories { clReleaseMemObject(memory) } }
    }
}

/// Throws `ComputeError.openCL` naming the call when `status` is not `CL_SUCCESS`.
@inline(__always)
func check(_ status: cl_int, _ call: @autoclosure () -> String) throws {
    if status != CL_SUCCESS { throw ComputeError.openCL(call: call(), status: status) }
}

import Foundation
