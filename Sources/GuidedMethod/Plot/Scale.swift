import Foundation

/// How an axis maps values: linearly or by their base-10 logarithm (non-positive values are not
/// drawable on a log axis and are left out by the charts).
public enum AxisScale: String, Sendable, Codable {
    case linear, log10
}

/// An axis: its label, scale, and optionally a fixed range (otherwise fitted to the data and
/// widened to round tick values).
public struct Axis: Sendable {
    public var label: String
    public var scale: AxisScale
    public var range: ClosedRange<Double>?

    public init(_ label: String, scale: AxisScale = .linear, range: ClosedRange<Double>? = nil) {
        self.label = label
        self.scale = scale
        self.range = range
    }
}

/// Maps a data domain onto a pixel interval, and places ticks.
struct Scale {
    let kind: AxisScale
    /// Data domain (for log10, positive).
    let lower: Double, upper: Double
    /// Pixel interval the domain maps onto (`from` ↔ lower); may be decreasing (y axes).
    let from: Double, to: Double

    /// A scale for `axis` over `values` (the axis' fixed range wins), mapped onto `from…to`.
    init(axis: Axis, values: [Double], from: Double, to: Double) {
        kind = axis.scale
        self.from = from
        self.to = to
        if let range = axis.range, range.upperBound > range.lowerBound, axis.scale == .linear || range.lowerBound > 0 {
            (lower, upper) = (range.lowerBound, range.upperBound)
            return
        }
        switch axis.scale {
        case .linear:
            let finite = values.filter(\.isFinite)
            var lo = finite.min() ?? 0, hi = finite.max() ?? 1
            if lo == hi { (lo, hi) = lo == 0 ? (0, 1) : (lo - abs(lo) * 0.1, hi + abs(hi) * 0.1) }
            // 4% headroom so points do not sit on the frame; non-negative data keeps its zero.
            let margin = (hi - lo) * 0.04
            (lo, hi) = (lo >= 0 ? max(0, lo - margin) : lo - margin, hi <= 0 ? min(0, hi + margin) : hi + margin)
            let step = Self.niceStep((hi - lo) / 6)
            (lower, upper) = ((lo / step).rounded(.down) * step, (hi / step).rounded(.up) * step)
        case .log10:
            let positive = values.filter { $0 > 0 && $0.isFinite }
            let lo = positive.min() ?? 1, hi = positive.max() ?? 10
            var a = Foundation.log10(lo).rounded(.down), b = Foundation.log10(hi).rounded(.up)
            if a == b { b += 1 }
            if b - a > 300 { a = b - 300 }
            (lower, upper) = (Foundation.pow(10, a), Foundation.pow(10, b))
        }
    }

    /// The pixel position of `value` (clamped into the domain for log scales' non-positive values).
    func callAsFunction(_ value: Double) -> Double {
        let t: Double
        switch kind {
        case .linear: t = (value - lower) / (upper - lower)
        case .log10:
            t = (Foundation.log10(max(value, lower * 1e-3)) - Foundation.log10(lower))
                / (Foundation.log10(upper) - Foundation.log10(lower))
        }
        return from + t * (to - from)
    }

    /// Tick values and labels: 1-2-5 steps (about six ticks) for linear scales, whole decades
    /// (thinned to at most about eight) for log scales.
    func ticks() -> [(value: Double, label: String)] {
        switch kind {
        case .linear:
            let step = Self.niceStep((upper - lower) / 6)
            var values: [Double] = []
            var v = (lower / step).rounded(.up) * step
            while v <= upper + step * 1e-9 {
                values.append(abs(v) < step * 1e-9 ? 0 : v)
                v += step
            }
            return values.map { ($0, Self.label($0, step: step)) }
        case .log10:
            let a = Int(Foundation.log10(lower).rounded(.up)), b = Int(Foundation.log10(upper).rounded(.down))
            guard a <= b else { return [] }
            let stride = max(1, (b - a + 7) / 8)
            return Swift.stride(from: b, through: a, by: -stride).reversed().map { e in (Foundation.pow(10, Double(e)), "1e\(e)") }
        }
    }

    /// The 1, 2 or 5 × 10ⁿ at or above `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let magnitude = Foundation.pow(10, Foundation.log10(raw).rounded(.down))
        let fraction = raw / magnitude
        return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude
    }

    /// A tick label: plain decimals suited to `step`, or scientific for very small or large values.
    static func label(_ value: Double, step: Double) -> String {
        if value == 0 { return "0" }
        if step < 1e-3 || abs(value) >= 1e6 { return String(format: "%.3g", value) }
        let decimals = max(0, Int(-Foundation.log10(step).rounded(.down)))
        return String(format: "%.\(decimals)f", value)
    }
}
