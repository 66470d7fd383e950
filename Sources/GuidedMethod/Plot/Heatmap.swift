import Foundation

/// A heatmap of a grid (e.g. a loss surface f(α, β)) with a viridis colour bar and contour lines.
public struct Heatmap: Sendable {
    public var title: String
    public var subtitle: String?
    /// Column coordinates (x), increasing.
    public var xs: [Double]
    /// Row coordinates (y), increasing.
    public var ys: [Double]
    /// `values[j][i]` is the value at (`xs[i]`, `ys[j]`); non-finite cells are drawn grey.
    public var values: [[Double]]
    public var xLabel: String
    public var yLabel: String
    public var colorLabel: String
    /// Colour by log10 of the value (non-positive values drawn grey).
    public var logColor = false
    /// Contour levels; nil chooses 8 evenly spaced in the value range (in log space with
    /// `logColor`), [] draws none.
    public var contourLevels: [Double]?
    public var width: Double = 760
    public var height: Double = 640

    public init(title: String, subtitle: String? = nil, xs: [Double], ys: [Double], values: [[Double]],
                xLabel: String, yLabel: String, colorLabel: String) {
        self.title = title
        self.subtitle = subtitle
        self.xs = xs
        self.ys = ys
        self.values = values
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.colorLabel = colorLabel
    }

    public func svg() -> String {
        let frame = ChartFrame(width: width, height: height, right: 120)
        let xScale = Scale(axis: Axis(xLabel, range: Self.span(xs)), values: xs, from: frame.plotLeft, to: frame.plotRight)
        let yScale = Scale(axis: Axis(yLabel, range: Self.span(ys)), values: ys, from: frame.plotBottom, to: frame.plotTop)
        let colorable = values.joined().filter { $0.isFinite && (!logColor || $0 > 0) }
        let colorAxis = Axis(colorLabel, scale: logColor ? .log10 : .linear,
                             range: (colorable.min() ?? 0)...max(colorable.max() ?? 1, (colorable.min() ?? 0) + 1e-300))
        let barTop = frame.plotTop, barBottom = frame.plotBottom
        let colorScale = Scale(axis: colorAxis, values: colorable, from: 0, to: 1)
        func color(_ v: Double) -> String {
            guard v.isFinite, !logColor || v > 0 else { return "#bbbbbb" }
            return PlotColor.viridis(colorScale(v))
        }

        var svg = SVGDocument(width: width, height: height)
        frame.drawTitle(&svg, title, subtitle: subtitle)
        // Cells span half-way to their neighbours.
        func edges(_ c: [Double]) -> [Double] {
            guard c.count > 1 else { return c.isEmpty ? [] : [c[0] - 0.5, c[0] + 0.5] }
            var out: [Double] = [c[0] - (c[1] - c[0]) / 2]
            for k in 0..<(c.count - 1) { out.append((c[k] + c[k + 1]) / 2) }
            let last = c[c.count - 1], before = c[c.count - 2]
            out.append(last + (last - before) / 2)
            return out
        }
        let xe = edges(xs), ye = edges(ys)
        svg.beginClip(frame.plotLeft, frame.plotTop, frame.plotRight - frame.plotLeft, frame.plotBottom - frame.plotTop)
        for j in ys.indices where j < values.count {
            for i in xs.indices where i < values[j].count {
                let x0 = xScale(xe[i]), x1 = xScale(xe[i + 1]), y0 = yScale(ye[j]), y1 = yScale(ye[j + 1])
                // Slight overlap hides hairline seams between cells in most renderers.
                svg.rect(min(x0, x1), min(y0, y1), abs(x1 - x0) + 0.5, abs(y1 - y0) + 0.5, fill: color(values[j][i]))
            }
        }
        let levels = contourLevels ?? {
            guard logColor else { return Contours.levels(from: colorScale.lower, to: colorScale.upper, count: 8) }
            return Contours.levels(from: log10(colorScale.lower), to: log10(colorScale.upper), count: 8).map { pow(10, $0) }
        }()
        for level in levels {
            let d = Contours.segments(xs: xs, ys: ys, values: values, level: level).map { s in
                "M\(SVGDocument.number(xScale(s.a.x))) \(SVGDocument.number(yScale(s.a.y)))"
                    + "L\(SVGDocument.number(xScale(s.b.x))) \(SVGDocument.number(yScale(s.b.y)))"
            }.joined()
            svg.path(d, stroke: "#ffffff", width: 1)
        }
        svg.endGroup()
        frame.drawXAxis(&svg, xScale, label: xLabel, grid: false)
        frame.drawYAxis(&svg, yScale, label: yLabel, grid: false)
        frame.drawBorder(&svg)

        // Colour bar: 64 bands, ticks and the contour levels marked.
        let barX = frame.plotRight + 18, barWidth = 18.0
        let barScale = Scale(axis: colorAxis, values: colorable, from: barBottom, to: barTop)
        for k in 0..<64 {
            let y0 = barBottom + (barTop - barBottom) * Double(k) / 64, y1 = barBottom + (barTop - barBottom) * Double(k + 1) / 64
            svg.rect(barX, min(y0, y1), barWidth, abs(y1 - y0) + 0.5, fill: PlotColor.viridis((Double(k) + 0.5) / 64))
        }
        svg.rect(barX, barTop, barWidth, barBottom - barTop, fill: "none", stroke: "#444")
        for tick in barScale.ticks() {
            let y = barScale(tick.value)
            svg.line(barX + barWidth, y, barX + barWidth + 4, y, stroke: "#444")
            svg.text(tick.label, barX + barWidth + 7, y + 4, size: ChartFrame.tickSize)
        }
        for level in levels { svg.line(barX, barScale(level), barX + barWidth, barScale(level), stroke: "#fff") }
        svg.text(colorLabel, width - 12, (barTop + barBottom) / 2, size: ChartFrame.labelSize, anchor: .middle, rotate: 90)
        return svg.render()
    }

    private static func span(_ c: [Double]) -> ClosedRange<Double>? {
        guard let lo = c.first, let hi = c.last, hi > lo else { return nil }
        let pad = c.count > 1 ? (hi - lo) / Double(c.count - 1) / 2 : 0
        return (lo - pad)...(hi + pad)
    }
}
