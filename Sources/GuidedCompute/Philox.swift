/// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011), the
/// counter-based generator behind every dropout mask and noise draw.
///
/// The same function is written in `Kernels/cl/philox.cl`; because an element's random bits depend
/// only on (key, counter), the CPU and OpenCL backends draw bit-identical masks for the same
/// element, which lets a whole training step with dropout be cross-checked between backends.
public enum Philox {
    static let multiplier0: UInt32 = 0xD251_1F53
    static let multiplier1: UInt32 = 0xCD9E_8D57
    static let weyl0: UInt32 = 0x9E37_79B9
    static let weyl1: UInt32 = 0xBB67_AE85

    /// Ten rounds on a 4×32-bit counter with a 2×32-bit key.
    @inline(__always)
    public static func block(counter: (UInt32, UInt32, UInt32, UInt32),
                             key: (UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        var c = counter
        var k = key
        for round in 0..<10 {
            if round > 0 {
                k.0 &+= weyl0
                k.1 &+= weyl1
            }
            let p0 = UInt64(multiplier0) &* UInt64(c.0)
            let p1 = UInt64(multiplier1) &* UInt64(c.2)
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            c = (hi1 ^ c.1 ^ k.0, lo1, hi0 ^ c.3 ^ k.1, lo0)
        }
        return c
    }
}

/// Which random stream an op draws from: the run's seed, the dropout site (one per place in the
/// network where dropout acts) and the step (training step or sample index).
///
/// Element `i` of a tensor takes word `i % 4` of the Philox block at counter
/// `(i / 4, site, step, stream)` under key `(seed low, seed high)`. `stream` separates the
/// Bernoulli (0) and Gaussian (1) draws of the same site and step.
public struct RandomKey: Sendable, Hashable {
    public var seed: UInt64
    public var site: UInt32
    public var step: UInt32

    public init(seed: UInt64, site: UInt32, step: UInt32) {
        self.seed = seed
        self.site = site
        self.step = step
    }

    var philoxKey: (UInt32, UInt32) {
        (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
    }

    static let bernoulliStream: UInt32 = 0
    static let gaussianStream: UInt32 = 1
}

/// Dropout keeps an element when its 24 random bits are at least `threshold = round(p · 2²⁴)`.
/// Comparing integers (never floats) is what makes the masks bit-identical across backends.
public func dropoutThreshold(probability p: Float) -> UInt32 {
    precondition(p >= 0 && p < 1, "dropout probability \(p) outside [0, 1)")
    return UInt32((Double(p) * 16_777_216).rounded())
}
