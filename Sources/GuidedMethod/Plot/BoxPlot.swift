import Foundation

/// Box plots of several groups of values (e.g. a metric over random restarts, per setting): the
/// box spans the quartiles (linear interpolation, as numpy's default percentile), a line marks the
/// median, whiskers reach the most extreme values within 1.5 IQR of the box (matplotlib's default),
/// and every value is drawn as a dot.
public struct BoxPlot: Sendable {
    public struct Group: Sendable {
        public var label: String
        public var values: [Double]
        public var color: String?
        public init(_ label: String, _ values: [Double], color: String? = nil) {
            self.label = label
            self.values = values
            self.color = color
        }
    }

    /// Quartiles and whisker ends of `values` (finite ones); nil when there are none.
    public struct Summary: Sendable, Equatable {
        public let q1, median, q3, lowerWhisker, upperWhisker: Double
        public let outliers: [Double]
    }

    public var title: String
    public var subtitle: String?
    public var groups: [Group]
    public var xLabel: String
    public var y: Axis
    public var legend: [(name: String, color: String)] = []
    public var width: Double?
    public var height: Double = 520

    public init(title: String, subtitle: String? = nil, groups: [Group], xLabel: String, y: Axis) {
        self.title = title
        self.subtitle = subtitle
        self.groups = groups
        self.xLabel = xLabel
        self.y = y
    }

    public static func summary(_ values: [Double]) -> Summary? {
        let v = values.filter(\.isFinite).sorted()
        guard !v.isEmpty else { return nil }
        func quantile(_ q: Double) -> Double {
            let position = q * Double(v.count - 1)
            let i = Int(position.rounded(.down)), f = position - Double(i)
            return i + 1 < v.count ? v[i] + f * (v[i + 1] - v[i]) : v[i]
        }
        let q1 = quantile(0.25), q3 = quantile(0.75), iqr = q3 - q1
        let inside = v.filter { $0 >= q1 - 1.5 * iqr && $0 <= q3 + 1.5 * iqr }
        return Summary(q1: q1, median: quantile(0.5), q3: q3, lowerWhisker: inside.first ?? q1, upperWhisker: inside.last ?? q3,
                       outliers: v.filter { $0 < q1 - 1.5 * iqr || $0 > q3 + 1.5 * iqr })
    }

    public func svg() -> String {
        let n = groups.count
        let rotate = groups.contains { $0.label.count > 10 }
        let labelDepth = rotate ? min(260, Double(groups.map(\.label.count).max() ?? 0) * ChartFrame.tickSize * 0.48 + 16) : 20
        let frame = ChartFrame(width: width ?? max(700, 140 + Double(n) * 60), height: height + labelDepth, bottom: 45 + labelDepth)
        let all = groups.flatMap(\.values).filter { $0.isFinite && (y.scale == .linear || $0 > 0) }
        let yScale = Scale(axis: y, values: all, from: frame.plotBottom, to: frame.plotTop)
        let slot = (frame.plotRight - frame.plotLeft) / Double(max(n, 1))

        var svg = SVGDocument(width: frame.width, height: frame.height)
        frame.drawTitle(&svg, title, subtitle: subtitle)
        frame.drawYAxis(&svg, yScale, label: y.label)
        svg.beginClip(frame.plotLeft, frame.plotTop, frame.plotRight - frame.plotLeft, frame.plotBottom - frame.plotTop)
        for (g, group) in groups.enumerated() {
            let x = frame.plotLeft + (Double(g) + 0.5) * slot, half = min(40, slot * 0.3)
            let color = group.color ?? PlotColor.categorical(0)
            if let s = Self.summary(group.values) {
                svg.line(x, yScale(s.lowerWhisker), x, yScale(s.q1), stroke: "#444")
                svg.line(x, yScale(s.q3), x, yScale(s.upperWhisker), stroke: "#444")
                svg.line(x - half / 2, yScale(s.lowerWhisker), x + half / 2, yScale(s.lowerWhisker), stroke: "#444")
                svg.line(x - half / 2, yScale(s.upperWhisker), x + half / 2, yScale(s.upperWhisker), stroke: "#444")
                svg.rect(x - half, yScale(s.q3), 2 * half, yScale(s.q1) - yScale(s.q3), fill: color, fillOpacity: 0.3, stroke: color, strokeWidth: 1.5)
                svg.line(x - half, yScale(s.median), x + half, yScale(s.median), stroke: "#222", width: 2)
            }
            let points = group.values.filter { $0.isFinite && (y.scale == .linear || $0 > 0) }
            for (k, value) in points.enumerated() {
                // Deterministic horizontal spread so equal values stay visible.
                let dx = points.count > 1 ? (Double(k) / Double(points.count - 1) - 0.5) * half : 0
                svg.circle(x + dx, yScale(value), r: 3, fill: color, stroke: "#fff")
            }
        }
        svg.endGroup()
        for (g, group) in groups.enumerated() {
            let x = frame.plotLeft + (Double(g) + 0.5) * slot
            if rotate {
                svg.text(group.label, x + 4, frame.plotBottom + 12, size: ChartFrame.tickSize, anchor: .end, rotate: -45)
            } else {
                svg.text(group.label, x, frame.plotBottom + 18, size: ChartFrame.tickSize, anchor: .middle)
            }
        }
        frame.drawXLabel(&svg, xLabel)
        frame.drawBorder(&svg)
        frame.drawLegend(&svg, legend, atRight: true)
        return svg.render()
    }
}
