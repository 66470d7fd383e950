import Foundation

/// Exact top-k selection and the sorted-curve subsample shared by the report, the consistency
/// table and the plots.
public enum TopSelection {
    /// The number of elements in "the top `percent`%" of `count`: ⌈percent·count/100⌉, at least 1
    /// (for a non-empty tensor) and at most `count`. A tolerance of 1e-7 absorbs floating-point
    /// noise in the product, so 5% of 200 is exactly 10 (percentages with up to 4 decimals are exact).
    public static func elementCount(percent: Double, of count: Int) -> Int {
        guard count > 0 else { return 0 }
        let exact = percent * Double(count) / 100
        return min(count, max(1, Int((exact - 1e-7).rounded(.up))))
    }

    /// Indices of the `m` largest values, in order: value descending, ties by lower index first
    /// (what `np.argsort(-x, kind="stable")[:m]` gives). Sorts a copy of the candidate values once.
    public static func topIndices(_ values: [Float], _ m: Int) -> [Int] {
        let m = min(max(m, 0), values.count)
        guard m > 0 else { return [] }
        // The m-th largest value bounds the selection; find it on a sorted copy.
        var copy = values
        sortDescending(&copy)
        let threshold = copy[m - 1]
        var chosen: [Int] = []
        chosen.reserveCapacity(m)
        for i in values.indices where values[i] > threshold { chosen.append(i) }
        for i in values.indices where chosen.count < m && values[i] == threshold { chosen.append(i) }
        chosen.sort { values[$0] != values[$1] ? values[$0] > values[$1] : $0 < $1 }
        return chosen
    }

    /// Ascending ranks (0 = smallest of `count` sorted values) to draw a sorted curve with at most
    /// `limit` points while keeping its tail exactly. All ranks when `count ≤ limit`; otherwise the
    /// union of (1) the top 0.1% exactly, capped at 2/5 of `limit`; (2) half of the remaining budget
    /// geometrically spaced by distance from the top, so the steep tail keeps its shape on a log
    /// axis; (3) the rest evenly spaced from the minimum to the maximum. Both ends are always kept.
    public static func sortedCurveRanks(count: Int, limit: Int = 5000) -> [Int] {
        guard count > 0 else { return [] }
        guard count > limit else { return Array(0..<count) }
        let limit = max(limit, 4)
        let exact = min(max(1, elementCount(percent: 0.1, of: count)), limit * 2 / 5)
        var ranks = Set((count - exact)..<count)
        let remaining = limit - exact
        let geometric = remaining / 2, even = remaining - geometric
        if geometric > 0 {
            let lo = Double(exact), hi = Double(count - 1)
            for j in 0..<geometric {
                let distance = lo * pow(hi / lo, Double(j + 1) / Double(geometric))
                ranks.insert(count - 1 - min(count - 1, Int(distance.rounded())))
            }
        }
        for j in 0..<even {
            ranks.insert(Int((Double(j) * Double(count - 1) / Double(max(1, even - 1))).rounded()))
        }
        ranks.insert(0)
        ranks.insert(count - 1)
        var sorted = ranks.sorted()
        // Rounding never adds points beyond the budget, but be strict: thin the even spacing if so.
        while sorted.count > limit { sorted.remove(at: sorted.count / 2) }
        return sorted
    }
}

/// Sorts `values` descending (see `sortDescending(_: UnsafeMutableBufferPointer<Float>)`).
func sortDescending(_ values: inout [Float]) {
    values.withUnsafeMutableBufferPointer { sortDescending($0) }
}

/// Sorts `values` descending, in place. Fisher values are non-negative (and checked finite), and
/// the IEEE bit patterns of non-negative floats order as unsigned integers, so large buffers use an
/// LSD radix sort on the bits (four 8-bit passes, linear time, one scratch buffer; a pass whose
/// digit is the same for every value is skipped); −0 becomes +0. A buffer holding a negative value
/// or NaN falls back to the comparison sort, as do small ones.
func sortDescending(_ values: UnsafeMutableBufferPointer<Float>) {
    let n = values.count
    guard n >= 4096, values.allSatisfy({ $0 >= 0 }) else {
        var values = values  // the buffer's elements are sorted; the copy is of the pointer
        values.sort(by: >)
        return
    }
    let scratch = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: n)
    defer { scratch.deallocate() }
    let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: 257)
    defer { counts.deallocate() }
    values.withMemoryRebound(to: UInt32.self) { keys in
        // Keys ascending = values descending: complement the bit pattern (−0 mapped to +0 first).
        for i in 0..<n { keys[i] = ~(keys[i] & 0x7FFF_FFFF == 0 ? 0 : keys[i]) }
        var source = keys, target = scratch
        for shift: UInt32 in [0, 8, 16, 24] {
            for d in 0...256 { counts[d] = 0 }
            for i in 0..<n { counts[Int((source[i] >> shift) & 0xFF) + 1] += 1 }
            if counts[Int((source[0] >> shift) & 0xFF) + 1] == n { continue }
            for d in 1...256 { counts[d] += counts[d - 1] }
            for i in 0..<n {
                let key = source[i]
                let digit = Int((key >> shift) & 0xFF)
                target[counts[digit]] = key
                counts[digit] += 1
            }
            swap(&source, &target)
        }
        if source.baseAddress != keys.baseAddress {
            keys.baseAddress!.update(from: source.baseAddress!, count: n)
        }
        for i in 0..<n { keys[i] = ~keys[i] }
    }
}

/// `body(i)` for i in 0..<count on all cores, results in index order; the first error is rethrown.
func parallelMap<T: Sendable>(_ count: Int, _ body: @Sendable (Int) throws -> T) throws -> [T] {
    let results = ParallelResults<T>(count)
    DispatchQueue.concurrentPerform(iterations: count) { i in
        results.lock.lock()
        let failed = results.error != nil
        results.lock.unlock()
        if failed { return }
        do {
            let value = try body(i)
            results.lock.lock()
            results.values[i] = value
            results.lock.unlock()
        } catch {
            results.lock.lock()
            if results.error == nil { results.error = error }
            results.lock.unlock()
        }
    }
    if let error = results.error { throw error }
    return results.values.map { $0! }
}

/// Results of `parallelMap`, filled under a lock.
private final class ParallelResults<T>: @unchecked Sendable {
    let lock = NSLock()
    var values: [T?]
    var error: Error?
    init(_ count: Int) { values = Array(repeating: nil, count: count) }
}
