import Foundation
import Synchronization

/// The threads that run `parallelChunks`' chunks beside the calling thread.
///
/// Why not Dispatch's `concurrentPerform`: its workers park between calls, and a Fisher step makes
/// thousands of calls of a few hundred microseconds each, with a little serial work between them.
/// Waking a parked thread took about 35 µs on a 2-core VM, so the second core started late and the
/// caller waited on it again at the end: 7% of the step's wall time (measured, every call
/// instrumented). These threads spin for a while after each job, so the next job finds them awake,
/// and only then sleep; while nothing runs (loading, writing) they cost nothing.
///
/// A job is `count` chunks, each run exactly once by whichever thread claims it. Claims are
/// compare-and-swaps on one word that holds the job's number, its chunk count and the next chunk,
/// so a thread that wakes late cannot claim a chunk of a later job. The caller takes chunks too and
/// returns once every claimed chunk has finished. One job at a time: a caller that finds the
/// workers busy (another thread's job, or a chunk that itself calls `parallelChunks`) is told so and
/// runs its chunks another way.
final class ChunkWorkers: @unchecked Sendable {
    static let shared = ChunkWorkers(threads: parallelChunkLimit - 1)

    /// How long a worker spins for the next job before it sleeps.
    private static let spinNanoseconds: UInt64 = 500_000

    // The job word: number (high 32 bits) | chunk count (16) | next chunk to claim (16).
    private let word = Atomic<UInt64>(0)
    private let unfinished = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let sleepers = Atomic<Int>(0)
    private let condition = NSCondition()
    /// The job's body: written only while no chunk can be claimed (before the job is published and
    /// after all its chunks have finished), read only by a thread that holds a claimed chunk.
    private var body: ((Int) -> Void)?

    /// Starts `threads` workers; they live as long as the process (tests make small pools of their
    /// own). Jobs are numbered from `lastJob` + 1 (a test starts near the wrap).
    init(threads: Int, lastJob: UInt32 = 0) {
        word.store(UInt64(lastJob) << 32, ordering: .relaxed)
        for index in 0..<threads {
            let thread = Thread { self.work() }
            thread.name = "guided-cpu-\(index + 1)"
            thread.start()
        }
    }

    /// Runs `body(0..<count)` across the workers and the calling thread; false (nothing run) when the
    /// workers are already running a job.
    func run(_ count: Int, _ body: (Int) -> Void) -> Bool {
        precondition(count > 0 && count < 1 << 16)
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        defer { busy.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { body in
            self.body = body
            unfinished.store(count, ordering: .relaxed)
            // The number wraps at 2³² (a month of Fisher steps): `number << 32` must not drop bits
            // that `runChunks` would then never find in the word.
            let number = ((word.load(ordering: .relaxed) >> 32) &+ 1) & 0xFFFF_FFFF
            word.store(number << 32 | UInt64(count) << 16, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                condition.lock()
                condition.broadcast()
                condition.unlock()
            }
            runChunks(of: number)
            // Spin for the other chunks (yielding here as the workers do cost 3%); past a
            // millisecond (more threads than cores) nap rather than hold a core the worker needs.
            let start = DispatchTime.now().uptimeNanoseconds
            var spins = 0
            while unfinished.load(ordering: .acquiring) > 0 {
                spins += 1
                if spins & 0xFFF == 0 && DispatchTime.now().uptimeNanoseconds - start > 1_000_000 { usleep(50) }
            }
            self.body = nil
        }
        return true
    }

    /// Claims and runs chunks of job `number` until none is left (or a later job has replaced it).
    private func runChunks(of number: UInt64) {
        while true {
            let current = word.load(ordering: .acquiring)
            let count = (current >> 16) & 0xFFFF, next = current & 0xFFFF
            guard current >> 32 == number, next < count else { return }
            guard word.compareExchange(expected: current, desired: current + 1, ordering: .acquiring).exchanged else { continue }
            // Holding an unfinished chunk keeps the job, and so `body`, in place until it is done.
            body!(Int(next))
            unfinished.subtract(1, ordering: .releasing)
        }
    }

    private func work() {
        var seen: UInt64 = 0
        while true {
            // Spin for the next job, then sleep until one is published. The spin yields every 128
            // looks: alone on its core that returns at once, but where other processes want the
            // cores (`sweep run --jobs 2` on two cores) a pure spin had held a core from them,
            // and two Fisher runs side by side took 15% longer than with Dispatch (now the same).
            let start = DispatchTime.now().uptimeNanoseconds
            var spins = 0
            while word.load(ordering: .acquiring) >> 32 == seen {
                spins += 1
                if spins & 0x7F == 0 { sched_yield() }
                guard spins & 0x3FF != 0 || DispatchTime.now().uptimeNanoseconds - start < Self.spinNanoseconds else {
                    condition.lock()
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while word.load(ordering: .sequentiallyConsistent) >> 32 == seen { condition.wait() }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    condition.unlock()
                    break
                }
            }
            seen = word.load(ordering: .acquiring) >> 32
            runChunks(of: seen)
        }
    }
}
