import CCLBlast
import COpenCL
import Foundation
import GuidedKernels

/// The OpenCL backend: kernels from `Kernels/cl/*.cl` built at run time, GEMM through CLBlast.
///
/// One in-order queue with profiling enabled. The op families live in the files beside this one,
/// each named like its kernel file. Not thread-safe: `clSetKernelArg` on a shared kernel object is
/// not, so a backend (like a CUDA stream) belongs to one thread at a time.
public final class OpenCLBackend: Backend, @unchecked Sendable {
    public let device: OpenCLDeviceInfo
    public var name: String { "opencl: \(device.name)" }
    /// A GPU runs a few samples in about the time of a full batch: keep batches full. A CPU device
    /// (PoCL) works per token, as the CPU backend does.
    public var batchOverheadTokens: Int { device.isGPU ? 1 << 20 : 32 }

    let context: CLContext
    let queue: CLQueue
    let program: CLProgram
    private var kernels: [String: CLKernel] = [:]
    /// The last few `SampleRows` uploaded as Int32 starts, most recent last: an encoder's layers pass
    /// the same few (its packed rows, the rows read, the LM head's) many times a batch.
    private var uploadedStarts: [(samples: SampleRows, tensor: Tensor)] = []
    let pool: BufferPool
    /// Work-group size used by the one-group-per-row kernels (LayerNorm, softmax, reductions).
    let rowGroupSize: Int

    /// - Parameters:
    ///   - selector: device index or name substring (`--device`); nil takes the first GPU, else the first device.
    ///   - sourcesDirectory: a folder of `.cl` files to build instead of the shipped ones.
    public init(device selector: String? = nil, sourcesDirectory: URL? = nil) throws {
        device = try OpenCLDevices.select(selector, from: OpenCLDevices.all())
        let directory: URL
        if let sourcesDirectory {
            directory = sourcesDirectory
        } else {
            switch KernelSources.directory() {
            case .success(let url): directory = url
            case .failure(let error): throw ComputeError.kernelSources(error.message)
            }
        }
        (context, program) = try ProgramCache.shared.program(for: device, sources: directory)
        var status: cl_int = 0
        let properties = cl_command_queue_properties(CL_QUEUE_PROFILING_ENABLE)
        guard let queue = clCreateCommandQueue(context.handle, device.id.value, properties, &status) else {
            throw ComputeError.openCL(call: "clCreateCommandQueue", status: status)
        }
        try check(status, "clCreateCommandQueue")
        self.queue = CLQueue(queue)
        pool = BufferPool(limitBytes: Int(min(device.globalMemoryBytes / 8, 1 << 30)))
        var group = 1
        while group * 2 <= min(256, device.maxWorkGroupSize) { group *= 2 }
        rowGroupSize = group
    }

    // MARK: Memory

    public func allocate(_ count: Int) throws -> Tensor {
        precondition(count >= 0, "negative allocation \(count)")
        let capacity = poolCapacity(count)
        let memory: cl_mem
        if let recycled = pool.take(capacity: capacity) {
            memory = recycled
        } else {
            var status: cl_int = 0
            guard let created = clCreateBuffer(context.handle, cl_mem_flags(CL_MEM_READ_WRITE), capacity * 4, nil, &status),
                  status == CL_SUCCESS else {
                throw ComputeError.openCL(call: "clCreateBuffer(\(capacity * 4) bytes)", status: status)
            }
            memory = created
        }
        let storage = OpenCLStorage(capacity: capacity, memory: memory, pool: pool)
        // The whole block, not just the window: a recycled block's slack must not hold old data.
        try fill(Tensor(storage: storage), with: 0)
        return Tensor(storage: storage, offset: 0, count: count)
    }

    public func upload(_ values: [Float], to tensor: Tensor) throws {
        try write(values, to: tensor)
    }

    /// `samples.starts` as an Int32 tensor on the device.
    func startsTensor(_ samples: SampleRows) throws -> Tensor {
        if let hit = uploadedStarts.firstIndex(where: { $0.samples == samples }) {
            uploadedStarts.append(uploadedStarts.remove(at: hit))
            return uploadedStarts[uploadedStarts.count - 1].tensor
        }
        let tensor = try allocate(samples.starts.count)
        try upload(samples.starts.map { Int32($0) }, to: tensor)
        if uploadedStarts.count == 4 { uploadedStarts.removeFirst() }
        uploadedStarts.append((samples, tensor))
        return tensor
    }

    public func upload(_ values: [Int32], to tensor: Tensor) throws {
        try write(values, to: tensor)
    }

    private func write<T>(_ values: [T], to tensor: Tensor) throws {
        guard values.count == tensor.count else {
            throw ComputeError.shapeMismatch("upload: \(values.count) values for a tensor of \(tensor.count)")
        }
        guard !values.isEmpty else { return }
        try values.withUnsafeBytes { bytes in
            try check(clEnqueueWriteBuffer(queue.handle, mem(tensor), cl_bool(CL_TRUE), tensor.offset * 4,
                                           bytes.count, bytes.baseAddress, 0, nil, nil), "clEnqueueWriteBuffer")
        }
    }

    public func download(_ tensor: Tensor) throws -> [Float] {
        try read(tensor, as: Float.self)
    }

    public func downloadInt32(_ tensor: Tensor) throws -> [Int32] {
        try read(tensor, as: Int32.self)
    }

    private func read<T>(_ tensor: Tensor, as: T.Type) throws -> [T] {
        guard tensor.count > 0 else { return [] }
        return try [T](unsafeUninitializedCapacity: tensor.count) { buffer, initialized in
            try check(clEnqueueReadBuffer(queue.handle, mem(tensor), cl_bool(CL_TRUE), tensor.offset * 4,
                                          tensor.count * 4, buffer.baseAddress, 0, nil, nil), "clEnqueueReadBuffer")
            initialized = tensor.count
        }
    }

    public func synchronize() throws {
        try check(clFinish(queue.handle), "clFinish")
    }

    // MARK: Linear algebra (CLBlast)

    public func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                     alpha: Float, a: Tensor, lda: Int, b: Tensor, ldb: Int,
                     beta: Float, c: Tensor, ldc: Int) throws {
        guard m > 0, n > 0 else { return }
        var q: cl_command_queue? = queue.handle
        let status = CLBlastSgemm(CLBlastLayoutRowMajor, transpose(transposeA), transpose(transposeB),
                                  m, n, k, alpha, mem(a), a.offset, lda, mem(b), b.offset, ldb,
                                  beta, mem(c), c.offset, ldc, &q, nil)
        try checkBlast(status, "CLBlastSgemm(\(m)×\(n)×\(k))")
    }

    public func gemmStridedBatched(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                                   alpha: Float, a: Tensor, lda: Int, strideA: Int,
                                   b: Tensor, ldb: Int, strideB: Int,
                                   beta: Float, c: Tensor, ldc: Int, strideC: Int, batch: Int) throws {
        guard m > 0, n > 0, batch > 0 else { return }
        var q: cl_command_queue? = queue.handle
        let status = CLBlastSgemmStridedBatched(
            CLBlastLayoutRowMajor, transpose(transposeA), transpose(transposeB), m, n, k, alpha,
            mem(a), a.offset, lda, strideA, mem(b), b.offset, ldb, strideB,
            beta, mem(c), c.offset, ldc, strideC, batch, &q, nil)
        try checkBlast(status, "CLBlastSgemmStridedBatched(\(batch)×\(m)×\(n)×\(k))")
    }

    private func transpose(_ t: Bool) -> CLBlastTranspose { t ? CLBlastTransposeYes : CLBlastTransposeNo }

    private func checkBlast(_ status: CLBlastStatusCode, _ routine: String) throws {
        if status != CLBlastSuccess { throw ComputeError.clblast(routine: routine, status: status.rawValue) }
    }

    // MARK: Kernel launches

    /// One argument of a kernel launch. A tensor becomes two kernel arguments: the buffer and the
    /// element offset of its window (OpenCL 1.2 sub-buffers need aligned offsets; this does not).
    enum Argument {
        case tensor(Tensor)
        case int(Int)
        case uint(UInt32)
        case float(Float)
        /// `__local` scratch of this many bytes.
        case local(bytes: Int)
    }

    /// Sets the arguments of `kernel` and enqueues it over `global` work-items, rounded up to a
    /// multiple of the work-group size (`local`, or `rowGroupSize` along the first dimension);
    /// kernels bound-check their own indices.
    func launch(_ kernel: String, global: [Int], local: [Int]? = nil, _ arguments: [Argument]) throws {
        guard global.allSatisfy({ $0 > 0 }) else { return }
        let handle = try kernelHandle(kernel).handle
        var index: cl_uint = 0
        func set<T: BitwiseCopyable>(_ value: T) throws {
            try withUnsafeBytes(of: value) { bytes in
                try check(clSetKernelArg(handle, index, bytes.count, bytes.baseAddress),
                          "clSetKernelArg(\(kernel), \(index))")
            }
            index += 1
        }
        for argument in arguments {
            switch argument {
            case .tensor(let t):
                try set(mem(t) as cl_mem?)
                try set(cl_int(t.offset))
            case .int(let v): try set(cl_int(v))
            case .uint(let v): try set(cl_uint(v))
            case .float(let v): try set(cl_float(v))
            case .local(let bytes):
                try check(clSetKernelArg(handle, index, bytes, nil), "clSetKernelArg(\(kernel), \(index))")
                index += 1
            }
        }
        // Without an explicit size some drivers (PoCL) pick tiny work-groups for 1-D ranges.
        let localSize = local ?? [rowGroupSize] + Array(repeating: 1, count: global.count - 1)
        var globalSize = global
        for d in global.indices { globalSize[d] = (global[d] + localSize[d] - 1) / localSize[d] * localSize[d] }
        let status = globalSize.withUnsafeBufferPointer { g in
            localSize.withUnsafeBufferPointer { l in
                clEnqueueNDRangeKernel(queue.handle, handle, cl_uint(g.count), nil, g.baseAddress, l.baseAddress,
                                       0, nil, nil)
            }
        }
        try check(status, "clEnqueueNDRangeKernel(\(kernel))")
    }

    private func kernelHandle(_ name: String) throws -> CLKernel {
        if let kernel = kernels[name] { return kernel }
        var status: cl_int = 0
        guard let created = clCreateKernel(program.handle, name, &status), status == CL_SUCCESS else {
            throw ComputeError.openCL(call: "clCreateKernel(\(name))", status: status)
        }
        let kernel = CLKernel(created)
        kernels[name] = kernel
        return kernel
    }

    func mem(_ t: Tensor) -> cl_mem {
        guard let storage = t.storage as? OpenCLStorage else {
            preconditionFailure("a tensor of another backend was passed to \(name)")
        }
        return storage.memory
    }

    // MARK: Profiling

    /// Runs `body`, waits for it, and returns its device time in nanoseconds: from the end of a
    /// marker enqueued before it to the end of one enqueued after it (the queue is in order), so
    /// commands that libraries enqueue internally (CLBlast's padding and transpose kernels, whose
    /// events it does not hand back) are counted too.
    public func deviceTime(_ body: () throws -> Void) throws -> UInt64 {
        let start = try marker()
        try body()
        let end = try marker()
        try synchronize()
        return try end.timestamp(CL_PROFILING_COMMAND_END) &- start.timestamp(CL_PROFILING_COMMAND_END)
    }

    private func marker() throws -> CLEvent {
        var event: cl_event?
        try check(clEnqueueMarkerWithWaitList(queue.handle, 0, nil, &event), "clEnqueueMarkerWithWaitList")
        guard let event else { throw ComputeError.openCL(call: "clEnqueueMarkerWithWaitList", status: CL_INVALID_EVENT) }
        return CLEvent(event)
    }
}

/// Built programs, one per (device, source folder), shared by every backend in the process: the
/// kernels compile once per run (and PoCL or the vendor driver also caches binaries on disk).
final class ProgramCache: @unchecked Sendable {
    static let shared = ProgramCache()
    private var programs: [String: (CLContext, CLProgram)] = [:]
    private let lock = NSLock()

    /// Files the others call into, built first.
    static let prelude = ["common.cl", "philox.cl"]

    /// The `.cl` files of `directory`: the prelude first, then the rest by name.
    static func sources(in directory: URL) throws -> [(name: String, text: String)] {
        let names: [String]
        do {
            let rank = { (name: String) in prelude.firstIndex(of: name) ?? prelude.count }
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
                .filter { $0.hasSuffix(".cl") }
                .sorted { (rank($0), $0) < (rank($1), $1) }
        } catch {
            throw ComputeError.kernelSources("cannot read the kernel folder \(directory.path): \(error.localizedDescription)")
        }
        guard !names.isEmpty else { throw ComputeError.kernelSources("no .cl files in \(directory.path)") }
        return try names.map { name in
            let url = directory.appendingPathComponent(name)
            do {
                return (name, try String(contentsOf: url, encoding: .utf8))
            } catch {
                throw ComputeError.kernelSources("cannot read \(url.path): \(error.localizedDescription)")
            }
        }
    }

    func program(for device: OpenCLDeviceInfo, sources directory: URL) throws -> (CLContext, CLProgram) {
        lock.lock(); defer { lock.unlock() }
        let key = "\(device.index)|\(device.name)|\(directory.standardizedFileURL.path)"
        if let built = programs[key] { return built }
        let files = try Self.sources(in: directory)
        var status: cl_int = 0
        var deviceID: cl_device_id? = device.id.value
        guard let context = clCreateContext(nil, 1, &deviceID, nil, nil, &status), status == CL_SUCCESS else {
            throw ComputeError.openCL(call: "clCreateContext", status: status)
        }
        let ownedContext = CLContext(context)
        // One program from all files: each starts with a `#line` so compiler messages name the file.
        let text = files.map { "#line 1 \"\($0.name)\"\n\($0.text)\n" }.joined()
        let program: cl_program? = text.withCString { pointer in
            var source: UnsafePointer<CChar>? = pointer
            return clCreateProgramWithSource(context, 1, &source, nil, &status)
        }
        guard let program, status == CL_SUCCESS else {
            throw ComputeError.openCL(call: "clCreateProgramWithSource", status: status)
        }
        let ownedProgram = CLProgram(program)
        let buildStatus = clBuildProgram(program, 1, &deviceID, "-cl-std=CL1.2", nil, nil)
        if buildStatus != CL_SUCCESS {
            throw ComputeError.buildFailed(device: device.name, log: buildLog(program, device.id.value))
        }
        programs[key] = (ownedContext, ownedProgram)
        return (ownedContext, ownedProgram)
    }

    private func buildLog(_ program: cl_program, _ device: cl_device_id) -> String {
        var size = 0
        clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size)
        var bytes = [CChar](repeating: 0, count: max(1, size))
        clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &bytes, nil)
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
