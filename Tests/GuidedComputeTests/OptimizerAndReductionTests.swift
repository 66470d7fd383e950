import Foundation
import Testing
@testable import GuidedCompute

// AdamW against a scalar Double transcription of torch.optim.AdamW, and the small reductions and
// elementwise helpers training needs, against plain Swift.

@Suite struct OptimizerAndReductionTests {
    let cpu = CPUBackend()

    /// torch.optim.AdamW's `_single_tensor_adamw` (amsgrad off, maximize off), in Double.
    struct TorchAdamW {
        var p: Double, m = 0.0, v = 0.0
        mutating func step(_ g: Double, t: Int, lr: Double, beta1: Double, beta2: Double, eps: Double, weightDecay: Double) {
            p *= 1 - lr * weightDecay                          // param.mul_(1 - lr * weight_decay)
            m += (g - m) * (1 - beta1)                         // exp_avg.lerp_(grad, 1 - beta1)
            v = v * beta2 + (1 - beta2) * g * g                // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            let bc1 = 1 - pow(beta1, Double(t)), bc2 = 1 - pow(beta2, Double(t))
            let denom = v.squareRoot() / bc2.squareRoot() + eps // (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
            p -= lr / bc1 * m / denom                           // param.addcdiv_(exp_avg, denom, value=-step_size)
        }
    }

    /// Three steps with gradients of decreasing size (down to where eps matters). Tolerance: the change
    /// of each parameter (not the parameter, which would hide the update) to relative 1e-4, and m, v
    /// to relative 1e-5 — a handful of Float roundings per step compound over three steps.
    @Test(arguments: [Float(0), 0.01])
    func adamWMatchesTorchForThreeSteps(weightDecay: Float) throws {
        let n = 37, lr: Float = 1e-2, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-6
        var rng = SplitMix64(seed: 51)
        let p0 = rng.uniform(n)
        let gradients = (1...3).map { step in rng.uniform(n).map { $0 * Float(pow(10.0, -2.0 * Double(step - 1))) } }
        let p = try cpu.tensor(p0), g = try cpu.allocate(n), m = try cpu.allocate(n), v = try cpu.allocate(n)
        var reference = p0.map { TorchAdamW(p: Double($0)) }
        for step in 1...3 {
            try cpu.upload(gradients[step - 1], to: g)
            try cpu.adamW(parameters: p, gradients: g, m: m, v: v,
                          hyper: AdamHyper(learningRate: lr, beta1: beta1, beta2: beta2, eps: eps,
                                           weightDecay: weightDecay, step: step))
            for i in 0..<n {
                reference[i].step(Double(gradients[step - 1][i]), t: step, lr: Double(lr), beta1: Double(beta1),
                                  beta2: Double(beta2), eps: Double(eps), weightDecay: Double(weightDecay))
            }
        }
        let got = try cpu.download(p)
        let change = zip(got, p0).map { Double($0) - Double($1) }
        let expectedChange = zip(reference, p0).map { $0.p - Double($1) }
        let changeError = zip(change, expectedChange).map { abs($0 - $1) }.max()!
        #expect(changeError <= 1e-4 * expectedChange.map(abs).max()!, "parameter change off by \(changeError)")
        #expect(relativeError(try cpu.download(m), reference.map { Float($0.m) }) <= 1e-5)
        #expect(relativeError(try cpu.download(v), reference.map { Float($0.v) }) <= 1e-5)
        // Every step moves against the sign of the (first, largest) gradient by about lr.
        #expect(expectedChange.map(abs).max()! > 2 * Double(lr))
    }

    @Test func adamWWithZeroGradientOnlyDecays() throws {
        let p = try cpu.tensor([2, -4]), zeros = try cpu.allocate(2)
        try cpu.adamW(parameters: p, gradients: zeros, m: cpu.allocate(2), v: cpu.allocate(2),
                      hyper: AdamHyper(learningRate: 0.1, weightDecay: 0.5, step: 1))
        // p · (1 − lr · wd) = p · 0.95 (to a rounding of the Float factor); the Adam term is 0 / (0 + eps) = 0.
        #expect(relativeError(try cpu.download(p), [2 * 0.95, -4 * 0.95]) <= 2e-7)
    }

    // MARK: Reductions

    /// Sums accumulate in Double, so they match a Double sum to the final Float rounding (half an ulp).
    @Test(arguments: [1, 13, 1031])
    func sumAndSumOfSquares(n: Int) throws {
        var rng = SplitMix64(seed: 52 + UInt64(n))
        let x = rng.uniform(n)
        let t = try cpu.tensor(x)
        let sum = x.reduce(0.0) { $0 + Double($1) }
        let squares = x.reduce(0.0) { $0 + Double($1) * Double($1) }
        #expect(abs(Double(try cpu.sum(t)) - sum) <= Double(Float(sum).ulp))
        #expect(abs(Double(try cpu.sumOfSquares(t)) - squares) <= Double(Float(squares).ulp))
        // A window sums only itself.
        #expect(try cpu.sum(t.slice(1, n - 1)) == Float(x.dropFirst().reduce(0.0) { $0 + Double($1) }))
    }

    @Test func countNonFiniteCountsNaNAndBothInfinities() throws {
        var x = [Float](repeating: 1, count: 300)
        x[0] = .nan
        x[17] = .infinity
        x[299] = -.infinity
        x[5] = .greatestFiniteMagnitude      // finite
        x[6] = .leastNonzeroMagnitude        // finite (subnormal)
        x[7] = -0.0
        x[8] = Float(bitPattern: 0x7FC0_0001) // another NaN payload
        let t = try cpu.tensor(x)
        #expect(try cpu.countNonFinite(t) == 4)
        #expect(try cpu.countNonFinite(t.slice(1, 16)) == 1)
        #expect(try cpu.countNonFinite(cpu.tensor([1, 2, 3])) == 0)
        // Large enough to be split across the cores, with non-finite values in every part and in
        // the unaligned tail.
        var big = [Float](repeating: 0.5, count: 1_000_003)
        let bad = [0, 4095, 4096, 333_333, 600_001, 999_999, 1_000_002]
        for (k, i) in bad.enumerated() { big[i] = [Float.nan, .infinity, -.infinity][k % 3] }
        #expect(try cpu.countNonFinite(cpu.tensor(big)) == bad.count)
        #expect(try cpu.countNonFinite(cpu.tensor(big).slice(1, 1_000_000)) == bad.count - 2)
    }

    // MARK: Elementwise

    @Test func fillCopyScaleAxpyAdd() throws {
        var rng = SplitMix64(seed: 53)
        let a = rng.uniform(13), b = rng.uniform(13)

        let buffer = try cpu.allocate(20)
        try cpu.fill(buffer.slice(3, 13), with: 2.5)
        #expect(try cpu.download(buffer) == [0, 0, 0] + [Float](repeating: 2.5, count: 13) + [0, 0, 0, 0])

        let dst = try cpu.filled(16, with: -1)
        try cpu.copy(cpu.tensor(a), to: dst) // dst longer than src: its tail stays
        #expect(try cpu.download(dst) == a + [-1, -1, -1])

        let scaled = try cpu.tensor(a)
        try cpu.scale(scaled, by: -0.5)
        #expect(try cpu.download(scaled) == a.map { $0 * -0.5 })

        let y = try cpu.tensor(b)
        try cpu.axpy(0.25, cpu.tensor(a), y)
        #expect(relativeError(try cpu.download(y), zip(a, b).map { 0.25 * $0 + $1 }) <= 1e-7) // FMA or not: 1 rounding

        let out = try cpu.filled(13, with: 9)
        try cpu.add(cpu.tensor(a), cpu.tensor(b), into: out)
        #expect(try cpu.download(out) == zip(a, b).map { $0 + $1 })
        let aliased = try cpu.tensor(a)
        try cpu.add(aliased, cpu.tensor(b), into: aliased)
        #expect(try cpu.download(aliased) == zip(a, b).map { $0 + $1 })
    }
}
