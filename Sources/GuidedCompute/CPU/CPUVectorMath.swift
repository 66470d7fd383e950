// Eight-lane Float math for the CPU backend's elementwise loops: loads and stores at any alignment,
// exp, and GELU with its derivative. Written with concrete SIMD8 operators only (the generic SIMD
// conversions and roundings compile to per-lane loops), so each function is a straight run of
// vector instructions.

typealias FloatVector = SIMD8<Float>
typealias Int32Vector = SIMD8<Int32>

extension UnsafeMutablePointer where Pointee == Float {
    @inline(__always)
    func loadVector(at i: Int) -> FloatVector {
        UnsafeRawPointer(self + i).loadUnaligned(as: FloatVector.self)
    }

    @inline(__always)
    func storeVector(_ v: FloatVector, at i: Int) {
        UnsafeMutableRawPointer(self + i).storeBytes(of: v, as: FloatVector.self)
    }

    /// Elements `i..<i+count` (count < 8) as a vector padded with zeros.
    @inline(__always)
    func loadPartial(at i: Int, count: Int) -> FloatVector {
        var v = FloatVector()
        for lane in 0..<count { v[lane] = self[i + lane] }
        return v
    }

    @inline(__always)
    func storePartial(_ v: FloatVector, at i: Int, count: Int) {
        for lane in 0..<count { self[i + lane] = v[lane] }
    }

    /// `count` ≤ 8 elements from `i`, zeros past them.
    @inline(__always)
    func loadLanes(at i: Int, count: Int) -> FloatVector {
        count == 8 ? loadVector(at: i) : loadPartial(at: i, count: count)
    }

    @inline(__always)
    func storeLanes(_ v: FloatVector, at i: Int, count: Int) {
        if count == 8 { storeVector(v, at: i) } else { storePartial(v, at: i, count: count) }
    }
}

/// Applies `f` to `count` elements eight at a time; the tail goes through the same vector code
/// (zero-padded), so every element gets bit-identical arithmetic wherever it sits.
@inline(__always)
func forEachVector(_ range: Range<Int>, _ f: (Int, Int) -> Void) {
    var i = range.lowerBound
    while i + 8 <= range.upperBound { f(i, 8); i += 8 }
    if i < range.upperBound { f(i, range.upperBound - i) }
}

enum VectorMath {
    /// eˣ per lane, within 1 ulp over the normal range (Cephes' expf: a degree-6 polynomial on
    /// the reduced argument, 2ⁿ put into the exponent bits). 0 below −87.3 (where expf goes
    /// subnormal), and for −∞ and −greatestFiniteMagnitude; +∞ is not expected (clamped at 88.4).
    @inline(__always)
    static func exp(_ x: FloatVector) -> FloatVector {
        let low: Float = -87.336_544_75, high: Float = 88.376_262_66
        let xc = x.replacing(with: high, where: x .> high).replacing(with: low, where: x .< low)
        // Adding 1.5·2²³ rounds to the nearest integer, which then sits in the low mantissa bits.
        let magic: Float = 12_582_912
        let shifted = xc * 1.442_695_040_888_963_4 + magic
        let n = shifted - magic
        let r = (xc - n * 0.693_359_375) + n * 2.121_944_4e-4
        var p = FloatVector(repeating: 1.987_569_150_0e-4)
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        let y = p * r * r + r + 1
        let exponent = (unsafeBitCast(shifted, to: Int32Vector.self) &- unsafeBitCast(FloatVector(repeating: magic), to: Int32Vector.self)
                        &+ 127) &<< 23
        return (y * unsafeBitCast(exponent, to: FloatVector.self)).replacing(with: 0, where: x .< low)
    }

    /// erfc(|z|)·e^{z²} is smooth; Numerical Recipes' `erfcc` Chebyshev fit gives erfc(|z|) with
    /// relative error below 1.2e−7 for every z, so Φ(x) = ½ erfc(−x/√2) keeps its relative accuracy
    /// in the negative tail, where 1 + erf(x/√2) cancels.
    @inline(__always)
    static func normalCDF(_ x: FloatVector) -> FloatVector {
        let ax = x.replacing(with: -x, where: x .< 0)
        let z = ax * 0.707_106_781_186_547_5
        let t = 1 / (1 + 0.5 * z)
        var p = FloatVector(repeating: 0.170_872_77)
        p = p * t - 0.822_152_23
        p = p * t + 1.488_515_87
        p = p * t - 1.135_203_98
        p = p * t + 0.278_868_07
        p = p * t - 0.186_288_06
        p = p * t + 0.096_784_18
        p = p * t + 0.374_091_96
        p = p * t + 1.000_023_68
        p = p * t - 1.265_512_23
        let z2 = z * z
        let halfErfc = 0.5 * t * exp(p - z2)
        return (1 - halfErfc).replacing(with: halfErfc, where: x .< 0)
    }

    static let inverseSqrt2Pi: Float = 0.398_942_280_401_432_7

    /// tanh per lane, within 2 ulp (Cephes' tanhf): an odd polynomial below |x| = 0.625, where
    /// 1 − 2/(e²ˣ + 1) would lose digits to cancellation, that expression above.
    @inline(__always)
    static func tanh(_ x: FloatVector) -> FloatVector {
        let z = x * x
        var p = FloatVector(repeating: -5.704_988_727_45e-3) * z + 2.063_908_879_54e-2
        p = p * z - 5.373_971_555_31e-2
        p = p * z + 1.333_144_220_36e-1
        p = p * z - 3.333_328_194_22e-1
        let small: FloatVector = p * z * x + x
        let negative = x .< 0
        var magnitude = x.replacing(with: -x, where: negative)
        let isSmall = magnitude .< 0.625
        magnitude.replace(with: 44, where: magnitude .> 44)
        let e: FloatVector = exp(magnitude + magnitude)
        let large: FloatVector = 1 - 2 / (e + 1)
        return large.replacing(with: -large, where: negative).replacing(with: small, where: isSmall)
    }

    static let sqrt2OverPi: Float = 0.797_884_560_802_865_4

    /// GELU (tanh form, `gelu_new`): ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
    @inline(__always)
    static func geluTanh(_ x: FloatVector) -> FloatVector {
        let cube: FloatVector = x * x * x
        let t = tanh(sqrt2OverPi * (x + 0.044715 * cube))
        return 0.5 * x * (1 + t)
    }

    /// GELU′ (tanh form). Not read off the output as the erf form's is: there 1 − t² = 4u(1 − u)
    /// would carry the forward's rounding of u, times 2x·√(2/π)(…), up to 25 ulps at x ≈ 3.
    @inline(__always)
    static func geluTanhDerivative(_ x: FloatVector) -> FloatVector {
        let square: FloatVector = x * x
        let t = tanh(sqrt2OverPi * (x + 0.044715 * square * x))
        let inner: FloatVector = sqrt2OverPi * (1 + 3 * 0.044715 * square)
        let outer: FloatVector = 0.5 * x * (1 - t * t)
        return 0.5 * (1 + t) + outer * inner
    }

    /// GELU (erf form): x·Φ(x).
    @inline(__always)
    static func gelu(_ x: FloatVector) -> FloatVector { x * normalCDF(x) }

    /// GELU′ (erf form) from x and the forward's output y = x·Φ(x): Φ(x) + x·φ(x), with Φ = y/x.
    /// One exponential (the density's), where computing Φ again would take the erfc's as well.
    @inline(__always)
    static func geluDerivative(_ x: FloatVector, output y: FloatVector) -> FloatVector {
        x * exp(-0.5 * x * x) * inverseSqrt2Pi + geluGate(x, output: y)
    }

    /// The gate Φ(x) of GELU's y = x·Φ(x) read off its output: y/x, within two roundings of the
    /// forward's own Φ; ½ (its limit) where |x| < 1e−20, too small to divide by.
    @inline(__always)
    static func geluGate(_ x: FloatVector, output y: FloatVector) -> FloatVector {
        let tiny = x .< 1e-20 .& x .> -1e-20
        return (y / x.replacing(with: 1, where: tiny)).replacing(with: 0.5, where: tiny)
    }
}

#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel
#endif

extension VectorMath {
    /// √x per lane (sqrtps: correctly rounded, as `Float.squareRoot`, whose SIMD form is a
    /// per-lane loop with a libm call).
    @inline(__always)
    static func squareRoot(_ x: FloatVector) -> FloatVector {
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
        return FloatVector(lowHalf: _mm_sqrt_ps(x.lowHalf), highHalf: _mm_sqrt_ps(x.highHalf))
        #else
        return x.squareRoot()
        #endif
    }

    /// The largest lane (the generic `max()` and `pointwiseMax` are out-of-line calls).
    @inline(__always)
    static func maximum(_ a: FloatVector, _ b: FloatVector) -> FloatVector { a.replacing(with: b, where: b .> a) }
}

extension SIMD8 where Scalar == Float {
    /// The lanes in Double (cvtps2pd; the generic conversion can end up an out-of-line call).
    @inline(__always)
    var widened: SIMD8<Double> {
        SIMD8<Double>(Double(self[0]), Double(self[1]), Double(self[2]), Double(self[3]),
                      Double(self[4]), Double(self[5]), Double(self[6]), Double(self[7]))
    }

    /// The sum of the lanes, in Double.
    @inline(__always)
    var laneSum: Double {
        let w = widened
        return ((w[0] + w[1]) + (w[2] + w[3])) + ((w[4] + w[5]) + (w[6] + w[7]))
    }
}

extension SIMD8 where Scalar == Double {
    @inline(__always)
    var laneSum: Double { ((self[0] + self[1]) + (self[2] + self[3])) + ((self[4] + self[5]) + (self[6] + self[7])) }
}
