import Foundation

/// The parts every chart shares: size, margins, title, axes with ticks, grid and labels, legend.
struct ChartFrame {
    let width: Double, height: Double
    let left: Double, right: Double, top: Double, bottom: Double

    static let titleSize = 18.0, labelSize = 14.0, tickSize = 12.0

    init(width: Double, height: Double, left: Double = 85, right: Double = 30, top: Double = 60, bottom: Double = 65) {
        self.width = width
        self.height = height
        self.left = left
        self.right = right
        self.top = top
        self.bottom = bottom
    }

    var plotLeft: Double { left }
    var plotRight: Double { width - right }
    var plotTop: Double { top }
    var plotBottom: Double { height - bottom }

    /// Title (and an optional smaller subtitle) centred above the plot area.
    func drawTitle(_ svg: inout SVGDocument, _ title: String, subtitle: String?) {
        svg.text(title, width / 2, subtitle == nil ? 32 : 26, size: Self.titleSize, anchor: .middle, bold: true)
        if let subtitle { svg.text(subtitle, width / 2, 46, size: Self.tickSize, anchor: .middle, fill: "#555") }
    }

    /// The plot area's border.
    func drawBorder(_ svg: inout SVGDocument) {
        svg.rect(plotLeft, plotTop, plotRight - plotLeft, plotBottom - plotTop, fill: "none", stroke: "#444")
    }

    /// Left (or right, `secondary`) y axis: ticks, light grid lines (left axis only, unless `grid` is false), label.
    func drawYAxis(_ svg: inout SVGDocument, _ scale: Scale, label: String, secondary: Bool = false, grid: Bool = true) {
        let x = secondary ? plotRight : plotLeft
        for tick in scale.ticks() {
            let y = scale(tick.value)
            if grid && !secondary { svg.line(plotLeft, y, plotRight, y, stroke: "#e4e4e4") }
            svg.line(x, y, x + (secondary ? 5 : -5), y, stroke: "#444")
            svg.text(tick.label, x + (secondary ? 8 : -8), y + 4, size: Self.tickSize, anchor: secondary ? .start : .end)
        }
        let labelX = secondary ? width - 16 : 20
        let midY = (plotTop + plotBottom) / 2
        svg.text(label, labelX, midY, size: Self.labelSize, anchor: .middle, rotate: secondary ? 90 : -90)
    }

    /// Bottom x axis from a numeric scale: ticks, grid lines (unless `grid` is false), label.
    func drawXAxis(_ svg: inout SVGDocument, _ scale: Scale, label: String, grid: Bool = true) {
        for tick in scale.ticks() {
            let x = scale(tick.value)
            if grid { svg.line(x, plotTop, x, plotBottom, stroke: "#f0f0f0") }
            svg.line(x, plotBottom, x, plotBottom + 5, stroke: "#444")
            svg.text(tick.label, x, plotBottom + 20, size: Self.tickSize, anchor: .middle)
        }
        drawXLabel(&svg, label)
    }

    func drawXLabel(_ svg: inout SVGDocument, _ label: String) {
        svg.text(label, (plotLeft + plotRight) / 2, height - 14, size: Self.labelSize, anchor: .middle)
    }

    /// A legend box in the plot area's top-left (or top-right) corner: a swatch and a name per entry.
    func drawLegend(_ svg: inout SVGDocument, _ entries: [(name: String, color: String)], atRight: Bool = false) {
        guard !entries.isEmpty else { return }
        let rowHeight = 18.0
        let boxWidth = 34 + Double(entries.map(\.name.count).max() ?? 0) * Self.tickSize * 0.58
        let x = atRight ? plotRight - boxWidth - 10 : plotLeft + 10
        let y = plotTop + 10
        svg.rect(x, y, boxWidth, Double(entries.count) * rowHeight + 8, fill: "#fff", stroke: "#bbb")
        for (i, entry) in entries.enumerated() {
            let rowY = y + 4 + Double(i) * rowHeight + rowHeight / 2
            svg.rect(x + 8, rowY - 5, 16, 10, fill: entry.color)
            svg.text(entry.name, x + 30, rowY + 4, size: Self.tickSize)
        }
    }
}

/// Colours: a categorical palette (matplotlib's tab10) and the viridis colour map.
public enum PlotColor {
    public static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    public static func categorical(_ i: Int) -> String { palette[((i % palette.count) + palette.count) % palette.count] }

    /// Viridis at t ∈ [0, 1] (clamped), interpolated between nine anchors.
    public static func viridis(_ t: Double) -> String {
        let anchors: [(Double, Double, Double)] = [
            (68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141),
            (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37),
        ]
        let x = (t.isFinite ? min(1, max(0, t)) : 0) * Double(anchors.count - 1)
        let i = min(anchors.count - 2, Int(x)), f = x - Double(i)
        let a = anchors[i], b = anchors[i + 1]
        func mix(_ u: Double, _ v: Double) -> Int { Int((u + (v - u) * f).rounded()) }
        return String(format: "#%02x%02x%02x", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }
}
