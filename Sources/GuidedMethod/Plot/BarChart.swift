import Foundation

/// A bar chart over named categories (e.g. layer groups in network order), category names rotated
/// below the bars, with an optional line series on a second y axis (x = bar index, 0-based).
public struct BarChart: Sendable {
    public var title: String
    public var subtitle: String?
    public var categories: [String]
    public var values: [Double]
    /// A colour per bar; nil uses the first palette colour for all.
    public var colors: [String]?
    public var xLabel: String
    public var y: Axis
    public var y2: Axis?
    /// Drawn against `y2` (or `y` when there is none) at bar centres.
    public var overlay: Series?
    /// Legend entries (e.g. what the bar colours mean).
    public var legend: [(name: String, color: String)] = []
    public var height: Double = 560
    /// Default: wide enough for every label (at least 860).
    public var width: Double?

    public init(title: String, subtitle: String? = nil, categories: [String], values: [Double], colors: [String]? = nil,
                xLabel: String, y: Axis, y2: Axis? = nil, overlay: Series? = nil) {
        precondition(categories.count == values.count, "one value per category")
        self.title = title
        self.subtitle = subtitle
        self.categories = categories
        self.values = values
        self.colors = colors
        self.xLabel = xLabel
        self.y = y
        self.y2 = y2
        self.overlay = overlay
    }

    public func svg() -> String {
        let n = categories.count
        let longest = Double(categories.map(\.count).max() ?? 0)
        // Labels are rotated 60°: their vertical extent is about 0.87 × length × character width.
        let labelDepth = min(320, longest * ChartFrame.tickSize * 0.55 * 0.87 + 16)
        let frame = ChartFrame(width: width ?? max(860, 140 + Double(n) * 22), height: height + labelDepth,
                               right: y2 == nil ? 30 : 85, bottom: 45 + labelDepth)
        let drawable: (Double) -> Bool = { $0.isFinite && (y.scale == .linear || $0 > 0) }
        var yAxis = y
        if yAxis.scale == .linear && yAxis.range == nil {
            // Bars start at zero.
            let probe = Scale(axis: y, values: values.filter(\.isFinite) + [0], from: 0, to: 1)
            yAxis.range = probe.lower...probe.upper
        }
        let yScale = Scale(axis: yAxis, values: values.filter(drawable), from: frame.plotBottom, to: frame.plotTop)
        let slot = (frame.plotRight - frame.plotLeft) / Double(max(n, 1))
        func centre(_ i: Double) -> Double { frame.plotLeft + (i + 0.5) * slot }

        var svg = SVGDocument(width: frame.width, height: frame.height)
        frame.drawTitle(&svg, title, subtitle: subtitle)
        frame.drawYAxis(&svg, yScale, label: y.label)
        let base = y.scale == .linear ? yScale(max(yScale.lower, min(0, yScale.upper))) : frame.plotBottom
        svg.beginClip(frame.plotLeft, frame.plotTop, frame.plotRight - frame.plotLeft, frame.plotBottom - frame.plotTop)
        for (i, value) in values.enumerated() where drawable(value) {
            let top = yScale(value)
            svg.rect(centre(Double(i)) - slot * 0.4, min(top, base), slot * 0.8, abs(base - top),
                     fill: colors?[i] ?? PlotColor.categorical(0), title: "\(categories[i]): \(value)")
        }
        var y2Scale: Scale?
        if let overlay {
            let scale = y2.map { Scale(axis: $0, values: overlay.points.map(\.y), from: frame.plotBottom, to: frame.plotTop) } ?? yScale
            y2Scale = y2 == nil ? nil : scale
            let points = overlay.points.filter { $0.y.isFinite && ((y2 ?? y).scale == .linear || $0.y > 0) }
                .map { (centre($0.x), scale($0.y)) }
            let color = overlay.color ?? PlotColor.categorical(3)
            if overlay.style != .markers { svg.polyline(points, stroke: color, width: 2) }
            if overlay.style != .line { for p in points { svg.circle(p.0, p.1, r: 3, fill: color) } }
        }
        svg.endGroup()
        if let y2, let y2Scale { frame.drawYAxis(&svg, y2Scale, label: y2.label, secondary: true) }
        for (i, name) in categories.enumerated() {
            let x = centre(Double(i))
            svg.line(x, frame.plotBottom, x, frame.plotBottom + 4, stroke: "#444")
            svg.text(name, x + 4, frame.plotBottom + 12, size: ChartFrame.tickSize - 1, anchor: .end, rotate: -60)
        }
        frame.drawXLabel(&svg, xLabel)
        frame.drawBorder(&svg)
        var entries = legend
        if let overlay, !overlay.name.isEmpty { entries.append((overlay.name, overlay.color ?? PlotColor.categorical(3))) }
        frame.drawLegend(&svg, entries)
        return svg.render()
    }
}
