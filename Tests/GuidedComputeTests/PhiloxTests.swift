import Foundation
import Testing
@testable import GuidedCompute

// Philox4x32-10 against Random123's known answers, the element ↔ counter mapping every backend must
// follow, and the statistics of the dropout masks and Gaussian noise drawn from it.

@Suite struct PhiloxTests {
    let cpu = CPUBackend()

    // MARK: Known answers (Random123 kat_vectors, philox4x32 with 10 rounds)

    @Test func knownAnswerZeros() {
        let r = Philox.block(counter: (0, 0, 0, 0), key: (0, 0))
        #expect([r.0, r.1, r.2, r.3] == [0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8])
    }

    @Test func knownAnswerAllOnes() {
        let r = Philox.block(counter: (0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF), key: (0xFFFF_FFFF, 0xFFFF_FFFF))
        #expect([r.0, r.1, r.2, r.3] == [0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD])
    }

    @Test func knownAnswerPiDigits() {
        let r = Philox.block(counter: (0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344), key: (0xA409_3822, 0x299F_31D0))
        #expect([r.0, r.1, r.2, r.3] == [0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1])
    }

    // MARK: The stream layout every backend shares

    /// Element i keeps iff the top 24 bits of word i % 4 of the block at counter
    /// (i / 4, site, step, 0) under key (seed low, seed high) are ≥ round(p · 2²⁴).
    @Test func dropoutMaskFollowsTheDocumentedCounterLayout() throws {
        let n = 1031, p: Float = 0.3
        let key = RandomKey(seed: 0xDEAD_BEEF_0000_0042, site: 7, step: 1234)
        let y = try cpu.allocate(n)
        try cpu.dropout(cpu.tensor([Float](repeating: 1, count: n)), into: y, probability: p, key: key)
        let threshold = UInt32((Double(p) * 16_777_216).rounded())
        #expect(threshold == dropoutThreshold(probability: p))
        let expected = (0..<n).map { i -> Bool in
            let w = Philox.block(counter: (UInt32(i / 4), 7, 1234, 0), key: (0x0000_0042, 0xDEAD_BEEF))
            return ([w.0, w.1, w.2, w.3][i % 4] >> 8) >= threshold
        }
        #expect(try cpu.download(y).map { $0 != 0 } == expected)
    }

    /// Element i takes normal i % 2 of `boxMuller` on the block at counter (i / 2, site, step, 1).
    @Test func gaussianNoiseFollowsTheDocumentedCounterLayout() throws {
        let n = 37, std: Float = 0.25
        let key = RandomKey(seed: 5, site: 3, step: 8)
        let y = try cpu.allocate(n)
        try cpu.gaussianNoise(cpu.tensor([Float](repeating: 1, count: n)), into: y, std: std, key: key)
        let expected = (0..<n).map { i -> Float in
            let z = boxMuller(Philox.block(counter: (UInt32(i / 2), 3, 8, 1), key: (5, 0)))
            return 1 * (1 + std * (i % 2 == 0 ? z.0 : z.1))
        }
        #expect(try cpu.download(y) == expected)
    }

    // MARK: Dropout

    /// The kept fraction is Binomial(n, 1 − p)/n: within 5 standard deviations of 1 − p
    /// (a false alarm about once in 3.5 million runs; the seeds are fixed, so never in practice).
    @Test(arguments: [Float(0.1), 0.5, 0.9, 0.99])
    func keptFractionIsOneMinusP(p: Float) throws {
        let n = 200_003
        let x = try cpu.filled(n, with: 1), y = try cpu.allocate(n)
        try cpu.dropout(x, into: y, probability: p, key: RandomKey(seed: 2024, site: 1, step: 1))
        let kept = try cpu.download(y).filter { $0 != 0 }.count
        let q = 1 - Double(p)
        let sigma = (q * (1 - q) / Double(n)).squareRoot()
        #expect(abs(Double(kept) / Double(n) - q) <= 5 * sigma, "kept \(kept) of \(n) at p = \(p)")
    }

    /// Kept elements are x / (1 − p), to within the one rounding of the Float scale (≤ 2 ulps).
    @Test(arguments: [Float(0.1), 0.5, 0.9, 0.99])
    func keptValuesAreScaledByOneOverOneMinusP(p: Float) throws {
        var rng = SplitMix64(seed: 31)
        let values = rng.nonZero(1031)
        let y = try cpu.allocate(values.count)
        try cpu.dropout(cpu.tensor(values), into: y, probability: p, key: RandomKey(seed: 1, site: 2, step: 3))
        let out = try cpu.download(y)
        #expect(out.contains { $0 != 0 } && out.contains { $0 == 0 })
        for (x, v) in zip(values, out) where v != 0 {
            let exact = Double(x) / (1 - Double(p))
            #expect(abs(Double(v) - exact) <= 2 * Double(abs(v).ulp), "x \(x) → \(v), expected \(exact)")
        }
    }

    @Test func probabilityZeroKeepsEverythingExactly() throws {
        var rng = SplitMix64(seed: 32)
        let values = rng.normal(1031)
        let y = try cpu.allocate(values.count)
        try cpu.dropout(cpu.tensor(values), into: y, probability: 0, key: RandomKey(seed: 1, site: 0, step: 0))
        #expect(try cpu.download(y) == values)
    }

    @Test func sameKeySameMaskAndAnyChangedPartAnotherMask() throws {
        let n = 4099
        func mask(_ key: RandomKey) throws -> [Bool] {
            let y = try cpu.allocate(n)
            try cpu.dropout(cpu.filled(n, with: 1), into: y, probability: 0.5, key: key)
            return try cpu.download(y).map { $0 != 0 }
        }
        let base = RandomKey(seed: 0x0000_0001_0000_0001, site: 3, step: 10)
        #expect(try mask(base) == mask(base))
        let variants = [
            RandomKey(seed: 0x0000_0001_0000_0002, site: 3, step: 10), // seed, low word
            RandomKey(seed: 0x0000_0002_0000_0001, site: 3, step: 10), // seed, high word
            RandomKey(seed: base.seed, site: 4, step: 10),
            RandomKey(seed: base.seed, site: 3, step: 11),
        ]
        let reference = try mask(base)
        for key in variants {
            // Independent masks agree on about half the elements; identical or complementary ones
            // (a key word ignored or misplaced) would agree on all or none.
            let agree = zip(reference, try mask(key)).filter { $0 == $1 }.count
            #expect(abs(Double(agree) / Double(n) - 0.5) < 0.05, "\(key): \(agree) of \(n) agree")
        }
    }

    /// Bernoulli and Gaussian draws of one key use different streams (counter word 3).
    @Test func bernoulliAndGaussianStreamsDiffer() {
        let bernoulli = Philox.block(counter: (0, 1, 2, RandomKey.bernoulliStream), key: (9, 0))
        let gaussian = Philox.block(counter: (0, 1, 2, RandomKey.gaussianStream), key: (9, 0))
        #expect(bernoulli.0 != gaussian.0 && RandomKey.bernoulliStream != RandomKey.gaussianStream)
    }

    // MARK: Gaussian noise

    /// ε = y / x over 200k elements: mean within 5 standard errors of 1, standard deviation within
    /// 5 of its standard errors (≈ std/√(2n)) of the request, and the share within one σ that of a
    /// normal (68.27%), which a uniform or badly transformed draw would miss.
    @Test(arguments: [Float(0.1), 0.5, 1.0])
    func gaussianNoiseHasMeanOneAndTheRequestedStd(std: Float) throws {
        let n = 200_000
        let y = try cpu.allocate(n)
        try cpu.gaussianNoise(cpu.filled(n, with: 1), into: y, std: std, key: RandomKey(seed: 77, site: 2, step: 5))
        let eps = try cpu.download(y).map(Double.init)
        let mean = eps.reduce(0, +) / Double(n)
        let sd = (eps.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)).squareRoot()
        let s = Double(std)
        #expect(abs(mean - 1) <= 5 * s / Double(n).squareRoot(), "mean \(mean)")
        #expect(abs(sd - s) <= 5 * s / (2 * Double(n)).squareRoot(), "std \(sd) for \(s)")
        let withinOne = Double(eps.filter { abs($0 - 1) <= s }.count) / Double(n)
        #expect(abs(withinOne - 0.682_69) <= 5 * (0.6827 * 0.3173 / Double(n)).squareRoot(), "within 1σ: \(withinOne)")
    }

    @Test func gaussianNoiseWithZeroStdIsTheIdentity() throws {
        var rng = SplitMix64(seed: 33)
        let values = rng.normal(1031)
        let y = try cpu.allocate(values.count)
        try cpu.gaussianNoise(cpu.tensor(values), into: y, std: 0, key: RandomKey(seed: 3, site: 3, step: 3))
        #expect(try cpu.download(y) == values)
    }
}
