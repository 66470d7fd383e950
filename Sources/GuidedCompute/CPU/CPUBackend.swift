import CBLAS
import Foundation

/// Host memory for the CPU backend: a block of 4-byte elements. When the last tensor over it goes
/// away it returns to its backend's pool, so a training loop that allocates the same activation
/// sizes every step reuses memory instead of faulting in fresh pages each time.
///
/// A block remembers how far into it anything may have been written (`written`): past that it is
/// still zero from `calloc`, so a new allocation clears only up to there, and the part of a
/// rounded-up block that no tensor uses is never touched (nor its pages faulted in).
final class CPUStorage: DeviceStorage, @unchecked Sendable {
    /// What tensors over this storage may span: the pool capacity of the count asked for, as on
    /// every backend, even where the block under it is larger.
    let capacity: Int
    let raw: UnsafeMutableRawPointer
    /// The block's own size, for the pool.
    let blockCapacity: Int
    /// Elements `written..<blockCapacity` are zero.
    let written: Int
    private weak var pool: HostPool?

    init(capacity: Int, raw: UnsafeMutableRawPointer, blockCapacity: Int, written: Int, pool: HostPool) {
        self.capacity = capacity
        self.raw = raw
        self.blockCapacity = blockCapacity
        self.written = written
        self.pool = pool
    }

    deinit {
        if let pool { pool.recycle(raw, capacity: blockCapacity, written: written) } else { free(raw) }
    }
}

/// Free host blocks by element count, up to a limit of idle bytes.
final class HostPool: @unchecked Sendable {
    /// How much larger than asked a recycled block may be. The Fisher runs batches longest first,
    /// so most batches are shorter than the last: taking only exact sizes, each shorter power of
    /// two had faulted in fresh pages (about 775 page faults a MiniLM sample) while the larger
    /// blocks sat idle in the pool.
    static let largerBlockFactor = 4

    private var free: [Int: [(block: UnsafeMutableRawPointer, written: Int)]] = [:]
    private var freeBytes = 0
    private let lock = NSLock()
    let limitBytes: Int

    init(limitBytes: Int) { self.limitBytes = limitBytes }

    /// A block of at least `capacity` elements (a pool capacity: a power of two past 4096): a free
    /// one of that size, else of up to `largerBlockFactor` times it, else a new one. Returns the
    /// block's own capacity and how many of its first elements may be nonzero.
    func take(capacity: Int) -> (block: UnsafeMutableRawPointer, capacity: Int, written: Int) {
        lock.lock()
        var size = capacity
        while size <= capacity * Self.largerBlockFactor {
            if let recycled = free[size]?.popLast() {
                freeBytes -= size * 4
                lock.unlock()
                return (recycled.block, size, recycled.written)
            }
            guard capacity > 4096 else { break }   // small sizes are exact, not powers of two
            size *= 2
        }
        lock.unlock()
        // calloc: large blocks come zeroed from mmap without being written. 16-byte aligned.
        guard let block = calloc(capacity, 4) else { fatalError("CPU backend: out of memory for \(capacity * 4) bytes") }
        return (block, capacity, 0)
    }

    func recycle(_ block: UnsafeMutableRawPointer, capacity: Int, written: Int) {
        lock.lock(); defer { lock.unlock() }
        if freeBytes + capacity * 4 > limitBytes {
            Foundation.free(block)
        } else {
            free[capacity, default: []].append((block, written))
            freeBytes += capacity * 4
        }
    }

    deinit {
        for blocks in free.values { for entry in blocks { Foundation.free(entry.block) } }
    }
}

/// What the Swift vector code was compiled for, on x86-64 (Package.swift: AVX2 where the build
/// machine has it, unless GUIDED_PORTABLE is set).
let vectorCodeLevel: String? = {
    #if arch(x86_64) && GUIDED_AVX2
    return "AVX2"
    #elseif arch(x86_64)
    return "baseline x86-64 (SSE2)"
    #else
    return nil
    #endif
}()

/// The reference backend: plain Swift loops that are easy to check by eye, GEMM through BLAS.
///
/// It is the oracle the OpenCL backend is tested against and what `--backend cpu` runs. Each op
/// family lives in its own file beside this one, named like its kernel file in `Kernels/cl/`.
/// Row reductions accumulate in Double so that the oracle is more accurate than what it checks.
public final class CPUBackend: Backend, @unchecked Sendable {
    public let name: String

    let pool = HostPool(limitBytes: 512 << 20)

    public init() {
        // One thread pool, not two: OpenBLAS's own threads spin-wait (sched_yield) while our
        // parallel loops run, and on few cores the two pools fight. Each sgemm call is single
        // threaded and `gemmStridedBatched` splits the work across cores itself.
        openblas_set_num_threads(1)
        name = "cpu (\(parallelChunkLimit) threads, OpenBLAS sgemm: \(OpenBLASCore.current) kernels"
            + (vectorCodeLevel.map { ", vector code: \($0)" } ?? "") + ")"
    }

    // MARK: Memory

    public func allocate(_ count: Int) throws -> Tensor {
        precondition(count >= 0, "negative allocation \(count)")
        let capacity = poolCapacity(count)
        let (raw, blockCapacity, written) = pool.take(capacity: capacity)
        // Zero what may be nonzero; a whole-storage tensor sees zeros past `count` too. Only the
        // tensor's own elements are written from here on (ops write inside their tensors).
        raw.initializeMemory(as: Float.self, repeating: 0, count: min(written, capacity))
        return Tensor(storage: CPUStorage(capacity: capacity, raw: raw, blockCapacity: blockCapacity,
                                          written: max(count, written), pool: pool),
                      offset: 0, count: count)
    }

    /// No zero fill: the block keeps what its last tensor left (the pool's `written` mark moves on).
    public func allocateUninitialized(_ count: Int) throws -> Tensor {
        precondition(count >= 0, "negative allocation \(count)")
        let capacity = poolCapacity(count)
        let (raw, blockCapacity, written) = pool.take(capacity: capacity)
        return Tensor(storage: CPUStorage(capacity: capacity, raw: raw, blockCapacity: blockCapacity,
                                          written: max(count, written), pool: pool),
                      offset: 0, count: count)
    }

    public func upload(_ values: [Float], to tensor: Tensor) throws {
        try checkCount(values.count, tensor, "upload")
        values.withUnsafeBufferPointer { src in
            floats(tensor).update(from: src.baseAddress!, count: values.count)
        }
    }

    public func upload(_ values: [Int32], to tensor: Tensor) throws {
        try checkCount(values.count, tensor, "upload")
        values.withUnsafeBytes { src in
            bytes(tensor).copyMemory(from: src.baseAddress!, byteCount: src.count)
        }
    }

    public func download(_ tensor: Tensor) throws -> [Float] {
        Array(UnsafeBufferPointer(start: floats(tensor), count: tensor.count))
    }

    public func downloadInt32(_ tensor: Tensor) throws -> [Int32] {
        ints(tensor)
    }

    public func synchronize() throws {}

    // MARK: Linear algebra

    public func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                     alpha: Float, a: Tensor, lda: Int, b: Tensor, ldb: Int,
                     beta: Float, c: Tensor, ldc: Int) throws {
        try gemmStridedBatched(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                               alpha: alpha, a: a, lda: lda, strideA: 0, b: b, ldb: ldb, strideB: 0,
                               beta: beta, c: c, ldc: ldc, strideC: 0, batch: 1)
    }

    public func gemmStridedBatched(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                                   alpha: Float, a: Tensor, lda: Int, strideA: Int,
                                   b: Tensor, ldb: Int, strideB: Int,
                                   beta: Float, c: Tensor, ldc: Int, strideC: Int, batch: Int) throws {
        guard m > 0, n > 0, batch > 0 else { return }
        let pa = floats(a), pb = floats(b), pc = floats(c)
        let ta = transposeA ? CblasTrans : CblasNoTrans, tb = transposeB ? CblasTrans : CblasNoTrans
        /// Block `rows` × `columns` of C for matrix `i`: op(A)'s rows and op(B)'s columns start that
        /// far in (a row of op(A) is a column of A where A is transposed, and likewise for B).
        func block(_ i: Int, _ rows: Range<Int>, _ columns: Range<Int>) {
            let aStart = pa + i * strideA + (transposeA ? rows.lowerBound : rows.lowerBound * lda)
            let bStart = pb + i * strideB + (transposeB ? columns.lowerBound * ldb : columns.lowerBound)
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(rows.count), Int32(columns.count), Int32(k), alpha,
                        aStart, Int32(lda), bStart, Int32(ldb),
                        beta, pc + i * strideC + rows.lowerBound * ldc + columns.lowerBound, Int32(ldc))
        }
        let work = batch * m * n * max(k, 1)
        let cores = parallelChunkLimit
        if batch >= cores {
            parallelChunks(batch, work: work) { range in for i in range { block(i, 0..<m, 0..<n) } }
        } else {
            for i in 0..<batch {
                // One matrix split across the cores, in blocks of at least 16 rows or columns so each
                // call stays efficient. Every block packs all of the operand it does not split, so
                // split the dimension whose other operand is the smaller: rows of C (each block packs
                // all of op(B), k × n) or columns (each packs all of op(A), m × k). A layer's weight
                // is most often the larger.
                let byColumns = m < n
                let length = byColumns ? n : m
                let blocks = max(1, min(cores, length / 16))
                parallelChunks(blocks, work: blocks > 1 ? work : 0) { range in
                    for j in range {
                        let part = (j * length / blocks)..<((j + 1) * length / blocks)
                        if byColumns { block(i, 0..<m, part) } else { block(i, part, 0..<n) }
                    }
                }
            }
        }
    }

    // MARK: Access helpers for the op files

    func floats(_ t: Tensor) -> UnsafeMutablePointer<Float> {
        (t.storage as! CPUStorage).raw.assumingMemoryBound(to: Float.self) + t.offset
    }

    func bytes(_ t: Tensor) -> UnsafeMutableRawPointer {
        (t.storage as! CPUStorage).raw + 4 * t.offset
    }

    /// A copy of an Int32 tensor (ids, labels, indices are small next to the activations).
    func ints(_ t: Tensor) -> [Int32] {
        let raw = bytes(t)
        return (0..<t.count).map { raw.load(fromByteOffset: 4 * $0, as: Int32.self) }
    }

    private func checkCount(_ n: Int, _ t: Tensor, _ op: String) throws {
        guard n == t.count else {
            throw ComputeError.shapeMismatch("\(op): \(n) values for a tensor of \(t.count)")
        }
    }
}

/// The capacity an allocation of `count` elements gets from a pool: large ones rounded up to a
/// power of two, so that the activations of batches padded to different lengths reuse the same
/// blocks instead of the pool keeping one block per distinct size.
func poolCapacity(_ count: Int) -> Int {
    guard count > 4096 else { return max(1, count) }
    return 1 << (Int.bitWidth - (count - 1).leadingZeroBitCount)
}

/// Runs `body` over `0..<count` split into one contiguous chunk per core when the work is large
/// enough to be worth the threads (`work` ≈ scalar operations in total).
@inline(__always)
func parallelChunks(_ count: Int, work: Int, _ body: (Range<Int>) -> Void) {
    parallelChunks(count, work: work) { _, range in body(range) }
}

/// `parallelChunks` that also gives each chunk its index, below `parallelChunkLimit`, so a chunk
/// can use scratch of its own allocated once by the caller.
@inline(__always)
func parallelChunks(_ count: Int, work: Int, _ body: (Int, Range<Int>) -> Void) {
    let cores = parallelChunkLimit
    guard cores > 1, count > 1, work >= 1 << 16 else {
        body(0, 0..<count)
        return
    }
    let chunks = min(cores, count)
    // The chunks write disjoint rows through raw pointers, which Swift cannot prove Sendable.
    withoutActuallyEscaping(body) { body in
        let shared = UncheckedSendable(body)
        let chunk: @Sendable (Int) -> Void = { c in
            let lo = c * count / chunks, hi = (c + 1) * count / chunks
            if lo < hi { shared.value(c, lo..<hi) }
        }
        // Dispatch runs the chunks where the workers are busy: another thread's job, or a chunk that
        // itself splits its work.
        if !ChunkWorkers.shared.run(chunks, chunk) {
            DispatchQueue.concurrentPerform(iterations: chunks, execute: chunk)
        }
    }
}

/// The most chunks `parallelChunks` makes: one per core.
let parallelChunkLimit = ProcessInfo.processInfo.activeProcessorCount

struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
