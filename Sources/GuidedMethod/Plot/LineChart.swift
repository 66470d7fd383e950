import Foundation

/// A data point.
public struct PlotPoint: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public init(_ x: Double, _ y: Double) { self.x = x; self.y = y }
}

/// One series of a line chart (or the overlay of a bar chart).
public struct Series: Sendable {
    public enum Style: Sendable { case line, markers, lineAndMarkers }
    public var name: String
    public var points: [PlotPoint]
    public var style: Style
    /// A CSS colour; nil takes the palette colour of the series' position.
    public var color: String?
    /// Plot against the chart's second (right) y axis.
    public var onSecondaryAxis: Bool

    public init(_ name: String, _ points: [PlotPoint], style: Style = .line, color: String? = nil, onSecondaryAxis: Bool = false) {
        self.name = name
        self.points = points
        self.style = style
        self.color = color
        self.onSecondaryAxis = onSecondaryAxis
    }
}

/// A horizontal reference line across the plot, labelled at its right end.
public struct ReferenceLine: Sendable {
    public var y: Double
    public var label: String
    public var color: String
    public var onSecondaryAxis: Bool
    public init(y: Double, label: String, color: String = "#d62728", onSecondaryAxis: Bool = false) {
        self.y = y
        self.label = label
        self.color = color
        self.onSecondaryAxis = onSecondaryAxis
    }
}

/// Line and scatter charts with a linear or log10 y axis and an optional second y axis.
/// Points that cannot be drawn (non-finite, or non-positive on a log axis) are left out.
public struct LineChart: Sendable {
    public var title: String
    public var subtitle: String?
    public var x: Axis
    public var y: Axis
    /// The right-hand axis for series with `onSecondaryAxis`.
    public var y2: Axis?
    public var series: [Series]
    public var referenceLines: [ReferenceLine] = []
    public var width: Double = 860
    public var height: Double = 520

    public init(title: String, subtitle: String? = nil, x: Axis, y: Axis, y2: Axis? = nil, series: [Series]) {
        self.title = title
        self.subtitle = subtitle
        self.x = x
        self.y = y
        self.y2 = y2
        self.series = series
    }

    public func svg() -> String {
        let frame = ChartFrame(width: width, height: height, right: y2 == nil ? 30 : 85)
        func drawable(_ p: PlotPoint, _ axis: Axis) -> Bool {
            p.x.isFinite && p.y.isFinite && (axis.scale == .linear || p.y > 0) && (x.scale == .linear || p.x > 0)
        }
        let primary = series.filter { !$0.onSecondaryAxis }.flatMap { $0.points.filter { drawable($0, y) } }
        let secondary = series.filter(\.onSecondaryAxis).flatMap { $0.points.filter { drawable($0, y2 ?? y) } }
        let xScale = Scale(axis: x, values: (primary + secondary).map(\.x), from: frame.plotLeft, to: frame.plotRight)
        let yScale = Scale(axis: y, values: primary.map(\.y) + referenceLines.filter { !$0.onSecondaryAxis }.map(\.y),
                           from: frame.plotBottom, to: frame.plotTop)
        let y2Scale = y2.map { Scale(axis: $0, values: secondary.map(\.y) + referenceLines.filter(\.onSecondaryAxis).map(\.y),
                                     from: frame.plotBottom, to: frame.plotTop) }

        var svg = SVGDocument(width: width, height: height)
        frame.drawTitle(&svg, title, subtitle: subtitle)
        frame.drawYAxis(&svg, yScale, label: y.label)
        frame.drawXAxis(&svg, xScale, label: x.label)
        if let y2, let y2Scale { frame.drawYAxis(&svg, y2Scale, label: y2.label, secondary: true) }
        svg.beginClip(frame.plotLeft, frame.plotTop, frame.plotRight - frame.plotLeft, frame.plotBottom - frame.plotTop)
        for (i, s) in series.enumerated() {
            let scale = s.onSecondaryAxis ? (y2Scale ?? yScale) : yScale
            let points = s.points.filter { drawable($0, s.onSecondaryAxis ? (y2 ?? y) : y) }
                .map { (xScale($0.x), scale($0.y)) }
            let color = s.color ?? PlotColor.categorical(i)
            if s.style != .markers { svg.polyline(points, stroke: color, width: 1.8) }
            if s.style != .line { for p in points { svg.circle(p.0, p.1, r: 2.5, fill: color) } }
        }
        for rule in referenceLines {
            let scale = rule.onSecondaryAxis ? (y2Scale ?? yScale) : yScale
            let axis = rule.onSecondaryAxis ? (y2 ?? y) : y
            guard rule.y.isFinite, axis.scale == .linear || rule.y > 0 else { continue }
            let py = scale(rule.y)
            svg.line(frame.plotLeft, py, frame.plotRight, py, stroke: rule.color, width: 1.2, dash: "6 4")
            svg.text(rule.label, frame.plotRight - 6, py - 6, size: ChartFrame.tickSize, anchor: .end, fill: rule.color)
        }
        svg.endGroup()
        frame.drawBorder(&svg)
        if series.count > 1 {
            frame.drawLegend(&svg, series.enumerated().map { ($0.element.name, $0.element.color ?? PlotColor.categorical($0.offset)) })
        }
        return svg.render()
    }
}
