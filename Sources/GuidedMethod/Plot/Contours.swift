import Foundation

/// Contour lines of a grid by marching squares.
public enum Contours {
    public struct Segment: Sendable, Equatable {
        public var a: PlotPoint
        public var b: PlotPoint
        public init(a: PlotPoint, b: PlotPoint) {
            self.a = a
            self.b = b
        }
    }

    /// Segments of the `level` contour of `values[j][i]` sampled at (`xs[i]`, `ys[j]`), with
    /// crossings placed by linear interpolation along cell edges. A cell with a non-finite corner is
    /// skipped; saddle cells are resolved by the mean of their four corners. A corner exactly at
    /// the level counts as above it.
    public static func segments(xs: [Double], ys: [Double], values: [[Double]], level: Double) -> [Segment] {
        guard xs.count >= 2, ys.count >= 2, values.count == ys.count, values.allSatisfy({ $0.count == xs.count }) else { return [] }
        var out: [Segment] = []
        for j in 0..<(ys.count - 1) {
            for i in 0..<(xs.count - 1) {
                // Corners counter-clockwise from bottom-left: 00, 10, 11, 01.
                let corners = [(xs[i], ys[j], values[j][i]), (xs[i + 1], ys[j], values[j][i + 1]),
                               (xs[i + 1], ys[j + 1], values[j + 1][i + 1]), (xs[i], ys[j + 1], values[j + 1][i])]
                guard corners.allSatisfy({ $0.2.isFinite }) else { continue }
                let above = corners.map { $0.2 >= level }
                // Edges: bottom (00–10), right (10–11), top (11–01), left (01–00).
                func crossing(_ e: Int) -> PlotPoint? {
                    let p = corners[e], q = corners[(e + 1) % 4]
                    guard above[e] != above[(e + 1) % 4] else { return nil }
                    let t = (level - p.2) / (q.2 - p.2)
                    return PlotPoint(p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1))
                }
                let points = (0..<4).map(crossing)
                let crossed = (0..<4).filter { points[$0] != nil }
                if crossed.count == 2 {
                    out.append(Segment(a: points[crossed[0]]!, b: points[crossed[1]]!))
                } else if crossed.count == 4 {
                    // Saddle: cut off the corners on the other side than the centre.
                    let centreAbove = corners.map(\.2).reduce(0, +) / 4 >= level
                    for c in 0..<4 where above[c] != centreAbove {
                        // Corner c lies between edge c-1 (before it) and edge c (after it).
                        out.append(Segment(a: points[(c + 3) % 4]!, b: points[c]!))
                    }
                }
            }
        }
        return out
    }

    /// `count` levels evenly spaced strictly inside (lower, upper).
    public static func levels(from lower: Double, to upper: Double, count: Int) -> [Double] {
        guard count > 0, lower.isFinite, upper.isFinite, upper > lower else { return [] }
        return (1...count).map { lower + (upper - lower) * Double($0) / Double(count + 1) }
    }
}
