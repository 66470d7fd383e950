import Foundation
import Testing
@testable import GuidedCompute

// Shared helpers for the compute tests: seeded test data, host ↔ backend transfers, error
// measures, and a finite-difference gradient checker.

// MARK: Seeded test data

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, fast, well-mixed generator, so that every test
/// input is a pure function of its seed and a failure reproduces exactly.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 random bits (every value exactly representable in Float).
    mutating func unit() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216)
    }

    /// `count` uniform Floats in `range`.
    mutating func uniform(_ count: Int, in range: ClosedRange<Float> = -1...1) -> [Float] {
        (0..<count).map { _ in range.lowerBound + (range.upperBound - range.lowerBound) * unit() }
    }

    /// `count` Floats whose magnitude is in [low, high] with a random sign: never zero, so a zero
    /// in an op's output can only come from the op (a dropped element, a masked key).
    mutating func nonZero(_ count: Int, magnitude: ClosedRange<Float> = 0.5...1.5) -> [Float] {
        uniform(count, in: magnitude).map { next() & 1 == 0 ? $0 : -$0 }
    }

    /// `count` normal draws (Box–Muller in Double) with the given standard deviation.
    mutating func normal(_ count: Int, std: Float = 1) -> [Float] {
        (0..<count).map { _ in
            let u1 = (Double(next() >> 11) + 1) / 9_007_199_254_740_992
            let u2 = Double(next() >> 11) / 9_007_199_254_740_992
            return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)) * std
        }
    }

    /// `count` ids uniform in `0..<bound`.
    mutating func ids(_ count: Int, below bound: Int) -> [Int32] {
        (0..<count).map { _ in Int32(next() % UInt64(bound)) }
    }
}

/// A stable 64-bit hash (FNV-1a) of a string: seeds derived from a test case's name stay the same
/// from run to run, unlike `Hasher`.
func stableSeed(_ text: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in text.utf8 {
        h ^= UInt64(byte)
        h &*= 0x0000_0100_0000_01B3
    }
    return h
}

// MARK: Host ↔ backend

extension Backend {
    /// A new tensor holding `values`. With `offset > 0` the tensor is a window that starts `offset`
    /// elements into a larger allocation (filled with `padding`), which exercises offset handling.
    func tensor(_ values: [Float], offset: Int = 0, padding: Float = 0) throws -> Tensor {
        let storage = try allocate(offset + values.count + (offset > 0 ? 3 : 0))
        if offset > 0 || padding != 0 {
            try fill(storage, with: padding)
        }
        let window = storage.slice(offset, values.count)
        try upload(values, to: window)
        return window
    }

    /// A new Int32 tensor holding `values`.
    func int32Tensor(_ values: [Int32]) throws -> Tensor {
        let t = try allocate(values.count)
        try upload(values, to: t)
        return t
    }

    /// A new tensor of `count` elements, all `value` (e.g. NaN-free garbage an op must overwrite).
    func filled(_ count: Int, with value: Float) throws -> Tensor {
        let t = try allocate(count)
        try fill(t, with: value)
        return t
    }
}

// MARK: Error measures

/// The largest `|a[i] − b[i]|`; infinite when the lengths differ or a NaN appears in one only.
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Double {
    guard a.count == b.count else { return .infinity }
    var worst = 0.0
    for (x, y) in zip(a, b) {
        if x.isNaN != y.isNaN { return .infinity }
        if x.isNaN { continue }
        if x == y { continue } // also equal infinities
        worst = max(worst, abs(Double(x) - Double(y)))
    }
    return worst
}

/// The largest magnitude in `values` (NaN ignored).
func maxAbs(_ values: [Float]) -> Double {
    values.reduce(0.0) { $1.isNaN ? $0 : max($0, abs(Double($1))) }
}

/// `max|a − reference| / max|reference|`: the error relative to the reference's scale, so one bad
/// element anywhere fails. An all-zero reference makes it an absolute error.
func relativeError(_ a: [Float], _ reference: [Float]) -> Double {
    let scale = maxAbs(reference)
    return maxAbsDiff(a, reference) / (scale > 0 ? scale : 1)
}

/// ggml's normalised mean squared error `Σ(a − b)² / Σ b²` (absolute when `b` is all zero).
func nmse(_ a: [Float], _ reference: [Float]) -> Double {
    guard a.count == reference.count else { return .infinity }
    var num = 0.0, den = 0.0
    for (x, y) in zip(a, reference) {
        let d = Double(x) - Double(y)
        num += d * d
        den += Double(y) * Double(y)
    }
    return num / (den > 0 ? den : 1)
}

/// `Σ a[i] · b[i]` accumulated in Double: the scalar loss `⟨output, cotangent⟩` of a gradient check.
func dot(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "dot: \(a.count) vs \(b.count)")
    var s = 0.0
    for (x, y) in zip(a, b) { s += Double(x) * Double(y) }
    return s
}

// MARK: Finite differences

/// Checks analytic gradients against central differences of a scalar loss.
///
/// `loss` maps named inputs to a Double (typically: run forward ops on the CPU backend, download the
/// output, `dot` it with a fixed random cotangent). For every input named in `analytic` and every
/// element `i`, the numerical derivative is `(L(x + h eᵢ) − L(x − h eᵢ)) / (x₊ − x₋)`, where `x₊`, `x₋`
/// are the perturbed values as actually stored in Float (so rounding of `x ± h` does not bias it).
///
/// An element passes when `|analytic − numerical| ≤ absoluteTolerance + relativeTolerance · |numerical|`
/// (numpy's `allclose`). The defaults suit Float32 forwards: with `h = 1e-3` the O(h²) truncation
/// error is ~1e-6, while the Float rounding of the outputs (~6e-8 relative each, summed over a few
/// hundred outputs) divided by 2h gives ~1e-4 of noise, comfortably inside `1e-3 + 1e-2·|g|`.
func expectGradientsMatchFiniteDifferences(
    inputs: [String: [Float]],
    analytic: [String: [Float]],
    step h: Float = 1e-3,
    relativeTolerance: Double = 1e-2,
    absoluteTolerance: Double = 1e-3,
    sourceLocation: SourceLocation = #_sourceLocation,
    loss: ([String: [Float]]) throws -> Double
) throws {
    let failures = try finiteDifferenceFailures(inputs: inputs, analytic: analytic, step: h,
                                                relativeTolerance: relativeTolerance,
                                                absoluteTolerance: absoluteTolerance, loss: loss)
    #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))", sourceLocation: sourceLocation)
}

/// The disagreements `expectGradientsMatchFiniteDifferences` reports, one line per gradient tensor
/// that fails (empty when every element passes).
func finiteDifferenceFailures(
    inputs: [String: [Float]],
    analytic: [String: [Float]],
    step h: Float = 1e-3,
    relativeTolerance: Double = 1e-2,
    absoluteTolerance: Double = 1e-3,
    loss: ([String: [Float]]) throws -> Double
) throws -> [String] {
    var report: [String] = []
    for name in analytic.keys.sorted() {
        guard let x = inputs[name], let g = analytic[name] else {
            report.append("no input or gradient named \(name)")
            continue
        }
        guard x.count == g.count else {
            report.append("\(name): \(x.count) inputs but \(g.count) gradients")
            continue
        }
        var failures: [String] = []
        var worst = 0.0
        for i in x.indices {
            var plus = inputs, minus = inputs
            var xp = x, xm = x
            xp[i] = x[i] + h
            xm[i] = x[i] - h
            plus[name] = xp
            minus[name] = xm
            let numerical = (try loss(plus) - loss(minus)) / (Double(xp[i]) - Double(xm[i]))
            let error = abs(Double(g[i]) - numerical)
            worst = max(worst, error)
            if !(error <= absoluteTolerance + relativeTolerance * abs(numerical)) {
                failures.append("\(name)[\(i)]: analytic \(g[i]), numerical \(numerical)")
            }
        }
        if !failures.isEmpty {
            report.append("\(failures.count) of \(x.count) gradients of \(name) disagree with finite differences (largest error \(worst)); first: \(failures.prefix(5).joined(separator: "; "))")
        }
    }
    return report
}

/// Softmax of each row of `columns` values, in Double: probabilities for softmax-backward inputs.
func softmaxRows(_ x: [Float], columns: Int) -> [Float] {
    var p = [Float](repeating: 0, count: x.count)
    for start in stride(from: 0, to: x.count, by: columns) {
        let row = x[start..<(start + columns)]
        let m = row.max()!
        let e = row.map { Foundation.exp(Double($0 - m)) }
        let total = e.reduce(0, +)
        for j in 0..<columns { p[start + j] = Float(e[j] / total) }
    }
    return p
}
