import GuidedCompute
import GuidedModel

// Random restarts and data paucity (DESIGN.md, "Fine-tuning recipe"): a restart is a different
// seeded split of the data, and paucity keeps a prefix of that split's training part.
//
// How a split is made, so that anyone can reproduce it (README text):
//
//   For seed s (an unsigned 64-bit integer) and training fraction f in (0, 1]:
//   1. Pool the examples: the training file's rows in file order, then the validation file's rows in
//      file order (rows skipped as malformed are not in the pool). MNLI pools nothing: its training
//      rows alone are shuffled, and its official validation_matched and validation_mismatched sets
//      are kept as they are.
//   2. Shuffle the pool of n examples with a Fisher–Yates shuffle driven by SplitMix64 seeded with s:
//        state = s
//        next():  state = (state + 0x9E3779B97F4A7C15) mod 2^64
//                 z = state
//                 z = ((z xor (z >> 30)) * 0xBF58476D1CE4E5B9) mod 2^64
//                 z = ((z xor (z >> 27)) * 0x94D049BB133111EB) mod 2^64
//                 return z xor (z >> 31)
//        below(m): t = (2^64 − m) mod m; repeat r = next() until r ≥ t; return r mod m
//        for i = n−1 down to 1: j = below(i + 1); swap pool[i] and pool[j]
//   3. Split 80/20: the last ⌈n/5⌉ shuffled examples are the validation set, the first n − ⌈n/5⌉ the
//      training set (as scikit-learn's train_test_split(test_size=0.2) sizes them). MNLI: the whole
//      shuffled training set.
//   4. Data paucity keeps the first ⌊f·m⌋ examples of that training set of m examples (at least one);
//      f·m is taken to be an integer when it is within rounding error of one, so f = 0.29 of 100
//      keeps 29. The validation set is never reduced.
//
// In Python:
//   M = 2**64 - 1
//   def splitmix64(state):
//       while True:
//           state = (state + 0x9E3779B97F4A7C15) & M
//           z = state
//           z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
//           z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
//           yield z ^ (z >> 31)
//   def permutation(n, seed):
//       g, p = splitmix64(seed), list(range(n))
//       for i in range(n - 1, 0, -1):
//           m = i + 1; t = (2**64 - m) % m
//           r = next(g)
//           while r < t: r = next(g)
//           j = r % m
//           p[i], p[j] = p[j], p[i]
//       return p   # pool[p[0]], pool[p[1]], ... is the shuffled pool

/// Seeded Fisher–Yates shuffles, the same on every machine (see the procedure above).
public enum SeededShuffle {
    /// The shuffled order of `0..<count`: element k of the shuffle is the original element
    /// `permutation(count:seed:)[k]`.
    public static func permutation(count: Int, seed: UInt64) -> [Int] {
        var order = Array(0..<max(count, 0))
        var generator = SplitMix64(seed: seed)
        var index = order.count - 1
        while index > 0 {
            let other = Int(generator.next(below: UInt64(index + 1)))
            order.swapAt(index, other)
            index -= 1
        }
        return order
    }

    /// `items` in the order `permutation(count: items.count, seed: seed)` gives.
    public static func shuffled<Element>(_ items: [Element], seed: UInt64) -> [Element] {
        permutation(count: items.count, seed: seed).map { items[$0] }
    }
}

/// The data of one random restart: a seeded split, with data paucity applied to its training part.
public struct RestartSplit: Sendable, Equatable {
    public var task: GlueTask
    public var seed: UInt64
    public var trainFraction: Double
    /// The training examples kept (the first ⌊fraction·m⌋ of the shuffled training split).
    public var train: [GlueExample]
    /// The validation sets: one `validation` split of ⌈n/5⌉ examples, or MNLI's two official sets.
    public var validation: [GlueSplit]
    /// m, the size of the shuffled training split before paucity.
    public var fullTrainCount: Int
}

extension GlueData {
    /// The split of random restart `seed` with the first `trainFraction` of its training examples
    /// (see the procedure at the top of `Splits.swift`). `trainFraction` must be in (0, 1]; the pool
    /// needs at least two examples (one for each side); MNLI needs its validation sets.
    public func restartSplit(seed: UInt64, trainFraction: Double = 1) throws -> RestartSplit {
        let trainSplit: [GlueExample]
        let validationSplits: [GlueSplit]
        if task == .mnli {
            guard validation.count == 2, !train.isEmpty else {
                throw ModelError(
                    "MNLI keeps its official validation_matched and validation_mismatched sets; load the MNLI "
                        + "folder (train, dev_matched and dev_mismatched files), not a single file")
            }
            trainSplit = SeededShuffle.shuffled(train, seed: seed)
            validationSplits = validation
        } else {
            let pool = train + validation.flatMap(\.examples)
            guard pool.count >= 2 else {
                throw ModelError(
                    "\(task.displayName): \(pool.count) example(s) in train and validation together; "
                        + "an 80/20 split needs at least 2")
            }
            let shuffled = SeededShuffle.shuffled(pool, seed: seed)
            let validationCount = (pool.count + 4) / 5
            trainSplit = Array(shuffled[..<(pool.count - validationCount)])
            validationSplits = [GlueSplit(name: "validation", examples: Array(shuffled[(pool.count - validationCount)...]))]
        }
        let kept = try paucityCount(fraction: trainFraction, of: trainSplit.count)
        return RestartSplit(
            task: task, seed: seed, trainFraction: trainFraction, train: Array(trainSplit.prefix(kept)),
            validation: validationSplits, fullTrainCount: trainSplit.count)
    }
}

/// How many of `count` training examples data paucity keeps: ⌊fraction·count⌋, at least 1, with
/// fraction·count taken as an integer when it is within rounding error of one (0.29 of 100 is 29,
/// though 0.29 × 100 is 28.999999999999996 in Double). An error unless `fraction` is in (0, 1] and
/// `count` ≥ 1.
public func paucityCount(fraction: Double, of count: Int) throws -> Int {
    guard fraction.isFinite, fraction > 0, fraction <= 1 else {
        throw ModelError("train fraction \(fraction): expected a number in (0, 1], e.g. 0.1 to keep 10%")
    }
    guard count >= 1 else {
        throw ModelError("no training examples to keep a fraction of")
    }
    let exact = fraction * Double(count)
    let nearest = exact.rounded()
    let kept = abs(exact - nearest) <= 8 * Double.ulpOfOne * max(exact, 1) ? nearest : exact.rounded(.down)
    return min(max(Int(kept), 1), count)
}
