/// SplitMix64 (Steele, Lea and Flood, 2014; Vigna's `splitmix64.c`): a small, fast, platform-independent
/// 64-bit generator. It is deliberately not a `RandomNumberGenerator`: the standard library's
/// `shuffled(using:)` and `random(in:using:)` may change between Swift versions, and a split must not.
public struct SplitMix64: Sendable, Equatable {
    public private(set) var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `0..<bound` (`bound` > 0), without modulo bias: outputs below
    /// `2^64 mod bound` are rejected.
    public mutating func next(below bound: UInt64) -> UInt64 {
        precondition(bound > 0, "SplitMix64.next(below:) needs a positive bound")
        let threshold = (0 &- bound) % bound
        while true {
            let value = next()
            if value >= threshold { return value % bound }
        }
    }
}
