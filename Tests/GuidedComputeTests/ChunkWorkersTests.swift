import Foundation
import Synchronization
import Testing
@testable import GuidedCompute

// The CPU backend's worker threads: every chunk of every job runs exactly once, whoever claims it;
// a sleeping worker wakes for the next job; callers that find the workers busy (another thread's
// job, a chunk that splits its own work) still get all their chunks run.

@Suite struct ChunkWorkersTests {
    /// A pool of this suite's own: the shared one may be running another test's job. Swift Testing
    /// makes a suite instance per test, so each test starts one worker thread that sleeps on
    /// after it (workers live as long as the process).
    let workers = ChunkWorkers(threads: 1)

    /// Runs `count` chunks through the workers and returns how often each ran.
    private func runCounting(_ count: Int) -> (accepted: Bool, runs: [Int]) {
        let runs = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: count)
        for i in 0..<count { (runs + i).initialize(to: Atomic(0)) }
        defer { runs.deallocate() }
        let shared = UncheckedSendable(runs)
        let accepted = workers.run(count) { c in shared.value[c].add(1, ordering: .relaxed) }
        return (accepted, (0..<count).map { runs[$0].load(ordering: .relaxed) })
    }

    @Test func everyChunkRunsExactlyOnceOverManyJobs() {
        for job in 0..<5000 {
            let count = 1 + job % 37
            let (accepted, runs) = runCounting(count)
            #expect(accepted)
            #expect(runs == [Int](repeating: 1, count: count), "job \(job) of \(count) chunks")
        }
    }

    @Test func jobNumbersWrapWithoutLosingAJob() {
        let nearWrap = ChunkWorkers(threads: 1, lastJob: .max - 3)
        for job in 0..<8 {
            let ran = Atomic<Int>(0)
            #expect(nearWrap.run(5) { _ in ran.add(1, ordering: .relaxed) })
            #expect(ran.load(ordering: .relaxed) == 5, "job \(job) past 2³² − 4")
        }
    }

    @Test func aSleepingWorkerWakesForTheNextJob() throws {
        // Past the workers' spin time, so they have gone to sleep; then two chunks that each wait
        // for the other to start: they finish only if a worker woke and took one.
        Thread.sleep(forTimeInterval: 0.01)
        let started = Atomic<Int>(0), together = Atomic<Int>(0)
        let accepted = workers.run(2) { _ in
            started.add(1, ordering: .sequentiallyConsistent)
            let deadline = Date().addingTimeInterval(5)
            while started.load(ordering: .sequentiallyConsistent) < 2 && Date() < deadline {}
            if started.load(ordering: .sequentiallyConsistent) == 2 { together.add(1, ordering: .relaxed) }
        }
        #expect(accepted)
        #expect(together.load(ordering: .relaxed) == 2)
    }

    @Test func aChunkThatSplitsItsOwnWorkIsToldTheWorkersAreBusy() {
        // Counted here and checked on the test's thread: a chunk may run on a worker thread,
        // where an #expect would not be attributed to this test.
        let inner = Atomic<Int>(0), nestedAccepted = Atomic<Int>(0), wrongRows = Atomic<Int>(0)
        let accepted = workers.run(2) { _ in
            if workers.run(3, { _ in inner.add(1, ordering: .relaxed) }) { nestedAccepted.add(1, ordering: .relaxed) }
            // parallelChunks inside parallelChunks: the inner one finds the shared workers busy
            // (or free, if this pool's job is the only one) and runs every row either way.
            let rows = Atomic<Int>(0)
            parallelChunks(2, work: 1 << 20) { _ in
                parallelChunks(100, work: 1 << 20) { range in rows.add(range.count, ordering: .relaxed) }
            }
            if rows.load(ordering: .relaxed) != 200 { wrongRows.add(1, ordering: .relaxed) }
        }
        #expect(accepted)
        #expect(nestedAccepted.load(ordering: .relaxed) == 0)
        #expect(inner.load(ordering: .relaxed) == 0)
        #expect(wrongRows.load(ordering: .relaxed) == 0)
    }

    @Test func callersOnSeveralThreadsEachGetEveryRow() {
        // Four threads at once: one holds the workers, the others fall back to Dispatch, turn by turn.
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 4) { caller in
            for round in 0..<500 {
                let count = 10 + (caller * 7 + round) % 50
                let total = Atomic<Int>(0)
                parallelChunks(count, work: 1 << 20) { range in
                    for i in range { total.add(i + 1, ordering: .relaxed) }
                }
                if total.load(ordering: .relaxed) != count * (count + 1) / 2 { failures.add(1, ordering: .relaxed) }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
    }
}
