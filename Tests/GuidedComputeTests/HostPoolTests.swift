import Foundation
import Testing
@testable import GuidedCompute

// The CPU backend's pool of host blocks: a shorter batch reuses a larger free block instead of
// faulting in a fresh one, while its tensors still span only their own pool capacity, and a zeroed
// allocation is zero over all of that even where the block held another tensor's values.

@Suite struct HostPoolTests {
    @Test func aSmallerRequestTakesTheSmallestFreeBlockUpToFourTimesItsSize() {
        let pool = HostPool(limitBytes: 1 << 30)
        let (a, b) = (pool.take(capacity: 32768), pool.take(capacity: 65536))
        pool.recycle(a.block, capacity: a.capacity, written: 100)
        pool.recycle(b.block, capacity: b.capacity, written: 0)
        // 16384 is served by the 32768 block (the smallest that fits), keeping what it had written.
        let reused = pool.take(capacity: 16384)
        #expect(reused.block == a.block && reused.capacity == 32768 && reused.written == 100)
        // 8192 would need the 65536 block, eight times larger: a new block instead.
        let fresh = pool.take(capacity: 8192)
        #expect(fresh.block != b.block && fresh.capacity == 8192 && fresh.written == 0)
        // Small sizes are exact (not powers of two): the 65536 block does not serve 100 elements.
        let small = pool.take(capacity: 100)
        #expect(small.block != b.block && small.capacity == 100)
        for block in [reused.block, fresh.block, small.block] { free(block) }
    }

    @Test func aTensorOverALargerBlockSpansOnlyItsOwnCapacityAndStartsAtZero() throws {
        let cpu = CPUBackend()
        let count = 10_000, capacity = poolCapacity(count)
        // Dirty a block four times larger, give it back, then take a zeroed and an uninitialised tensor.
        var big: Tensor? = try cpu.allocateUninitialized(4 * capacity)
        try cpu.fill(big!, with: 7)
        let bigStart = cpu.floats(big!)
        big = nil
        let zeroed = try cpu.allocate(count)
        #expect(cpu.floats(zeroed) == bigStart, "the free larger block is reused")
        let whole = Tensor(storage: zeroed.storage, offset: 0)
        #expect(whole.count == capacity)
        #expect(try cpu.download(whole).allSatisfy { $0 == 0 })
    }
}
