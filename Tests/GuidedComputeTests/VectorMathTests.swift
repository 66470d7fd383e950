import Foundation
import Testing
@testable import GuidedCompute

/// The eight-lane tanh and both GELU forms of the CPU backend, the derivatives as the backward
/// computes them (the erf form's from x and the forward's output), against the Double functions, over a sweep that
/// covers the polynomial branch (|x| < 0.625), the exp branch, saturation, 0 and tiny values.
@Suite struct VectorMathTests {
    static let sweep: [Float] = stride(from: -12.0, through: 12.0, by: 0.0137).map { Float($0) }
        + [0, 1e-30, -1e-20, 1e-7, -3e-4, 0.6249, 0.625, 0.6251, -0.625, 44, -90, 1e4]

    /// Applies a vector function to `xs`, eight at a time.
    static func apply(_ f: (SIMD8<Float>) -> SIMD8<Float>, _ xs: [Float]) -> [Float] {
        stride(from: 0, to: xs.count, by: 8).flatMap { start -> [Float] in
            var v = SIMD8<Float>()
            for j in 0..<min(8, xs.count - start) { v[j] = xs[start + j] }
            let r = f(v)
            return (0..<min(8, xs.count - start)).map { r[$0] }
        }
    }

    @Test func tanhIsWithinAFewUlp() {
        let ours = Self.apply(VectorMath.tanh, Self.sweep)
        for (x, y) in zip(Self.sweep, ours) {
            let exact = Foundation.tanh(Double(x))
            let ulp = Double(Float(exact).ulp)
            #expect(abs(Double(y) - exact) <= 3 * max(ulp, Double(Float.leastNormalMagnitude)), "tanh(\(x)) = \(y), exact \(exact)")
        }
    }

    @Test func tanhGeluAndItsDerivativeMatchTheDoubleFormula() {
        let c = (2.0 / Double.pi).squareRoot()
        let values = Self.apply(VectorMath.geluTanh, Self.sweep)
        let slopes = Self.apply(VectorMath.geluTanhDerivative, Self.sweep)
        for (i, x) in Self.sweep.enumerated() where abs(x) < 1000 {
            let d = Double(x), t = Foundation.tanh(c * (d + 0.044715 * d * d * d))
            let value = 0.5 * d * (1 + t)
            let slope = 0.5 * (1 + t) + 0.5 * d * (1 - t * t) * c * (1 + 3 * 0.044715 * d * d)
            #expect(abs(Double(values[i]) - value) <= 1e-6 * max(1, abs(value)), "gelu(\(x)) = \(values[i]), exact \(value)")
            #expect(abs(Double(slopes[i]) - slope) <= 2e-6 * max(1, abs(slope)), "gelu′(\(x)) = \(slopes[i]), exact \(slope)")
        }
    }

    @Test func erfGeluAndItsDerivativeFromTheOutputMatchTheDoubleFormula() {
        let values = Self.apply(VectorMath.gelu, Self.sweep)
        let slopes = Self.apply({ VectorMath.geluDerivative($0, output: VectorMath.gelu($0)) }, Self.sweep)
        for (i, x) in Self.sweep.enumerated() where abs(x) < 1000 {
            // Φ through erfc, which keeps its relative accuracy in the negative tail.
            let d = Double(x), cdf = 0.5 * Foundation.erfc(-d / 2.0.squareRoot())
            let value = d * cdf, slope = cdf + d * Foundation.exp(-0.5 * d * d) / (2 * Double.pi).squareRoot()
            #expect(abs(Double(values[i]) - value) <= 1e-6 * max(1, abs(value)), "gelu(\(x)) = \(values[i]), exact \(value)")
            #expect(abs(Double(slopes[i]) - slope) <= 2e-6 * max(1, abs(slope)), "gelu′(\(x)) = \(slopes[i]), exact \(slope)")
        }
    }
}
