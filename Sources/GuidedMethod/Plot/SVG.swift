import Foundation

/// A minimal SVG writer: shapes and text appended in drawing order, attribute and text values
/// XML-escaped, coordinates with at most two decimals. `render()` gives a standalone document
/// (XML declaration, `viewBox`, a white background, a sans-serif default font).
public struct SVGDocument: Sendable {
    public let width: Double
    public let height: Double
    private var elements: [String] = []
    private var clipCount = 0

    public init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    public mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double,
                              stroke: String = "#000", width: Double = 1, dash: String? = nil) {
        var attributes = [("x1", Self.number(x1)), ("y1", Self.number(y1)), ("x2", Self.number(x2)), ("y2", Self.number(y2)),
                          ("stroke", stroke), ("stroke-width", Self.number(width))]
        if let dash { attributes.append(("stroke-dasharray", dash)) }
        element("line", attributes)
    }

    public mutating func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double,
                              fill: String, fillOpacity: Double? = nil, stroke: String? = nil, strokeWidth: Double = 1,
                              title: String? = nil) {
        var attributes = [("x", Self.number(x)), ("y", Self.number(y)), ("width", Self.number(max(0, w))),
                          ("height", Self.number(max(0, h))), ("fill", fill)]
        if let fillOpacity { attributes.append(("fill-opacity", Self.number(fillOpacity))) }
        if let stroke { attributes += [("stroke", stroke), ("stroke-width", Self.number(strokeWidth))] }
        element("rect", attributes, title: title)
    }

    public mutating func circle(_ cx: Double, _ cy: Double, r: Double, fill: String, stroke: String? = nil) {
        var attributes = [("cx", Self.number(cx)), ("cy", Self.number(cy)), ("r", Self.number(r)), ("fill", fill)]
        if let stroke { attributes.append(("stroke", stroke)) }
        element("circle", attributes)
    }

    /// An open polyline through `points` (pixel coordinates).
    public mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double = 1.5, dash: String? = nil) {
        guard !points.isEmpty else { return }
        let list = points.map { "\(Self.number($0.0)),\(Self.number($0.1))" }.joined(separator: " ")
        var attributes = [("points", list), ("fill", "none"), ("stroke", stroke), ("stroke-width", Self.number(width)),
                          ("stroke-linejoin", "round")]
        if let dash { attributes.append(("stroke-dasharray", dash)) }
        element("polyline", attributes)
    }

    /// A path from SVG path data `d` (build it with `SVGDocument.number` for coordinates).
    public mutating func path(_ d: String, stroke: String, width: Double = 1, fill: String = "none") {
        guard !d.isEmpty else { return }
        element("path", [("d", d), ("fill", fill), ("stroke", stroke), ("stroke-width", Self.number(width))])
    }

    public enum Anchor: String, Sendable { case start, middle, end }

    /// Text at (x, y) (y is the baseline), optionally rotated by `rotate` degrees about (x, y).
    public mutating func text(_ string: String, _ x: Double, _ y: Double, size: Double = 12, anchor: Anchor = .start,
                              rotate: Double? = nil, bold: Bool = false, fill: String = "#222") {
        var attributes = [("x", Self.number(x)), ("y", Self.number(y)), ("font-size", Self.number(size)),
                          ("text-anchor", anchor.rawValue), ("fill", fill)]
        if bold { attributes.append(("font-weight", "bold")) }
        if let rotate { attributes.append(("transform", "rotate(\(Self.number(rotate)) \(Self.number(x)) \(Self.number(y)))")) }
        elements.append("<text" + Self.attributes(attributes) + ">" + Self.escape(string) + "</text>")
    }

    /// Starts a group clipped to a rectangle (close it with `endGroup`): keeps data inside a plot area.
    public mutating func beginClip(_ x: Double, _ y: Double, _ w: Double, _ h: Double) {
        clipCount += 1
        let id = "clip\(clipCount)"
        elements.append("<clipPath id=\"\(id)\"><rect" + Self.attributes([("x", Self.number(x)), ("y", Self.number(y)),
            ("width", Self.number(max(0, w))), ("height", Self.number(max(0, h)))]) + "/></clipPath>")
        elements.append("<g clip-path=\"url(#\(id))\">")
    }

    public mutating func endGroup() { elements.append("</g>") }

    /// The document as text.
    public func render() -> String {
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Self.number(width))\" height=\"\(Self.number(height))\" "
        out += "viewBox=\"0 0 \(Self.number(width)) \(Self.number(height))\" "
        out += "font-family=\"Helvetica, Arial, sans-serif\">\n"
        out += "<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
        out += elements.joined(separator: "\n")
        out += "\n</svg>\n"
        return out
    }

    /// Writes `render()` to `url` atomically.
    public func write(to url: URL) throws {
        try Data(render().utf8).write(to: url, options: .atomic)
    }

    // MARK: - Helpers

    private mutating func element(_ name: String, _ attributes: [(String, String)], title: String? = nil) {
        if let title {
            elements.append("<\(name)\(Self.attributes(attributes))><title>\(Self.escape(title))</title></\(name)>")
        } else {
            elements.append("<\(name)\(Self.attributes(attributes))/>")
        }
    }

    private static func attributes(_ list: [(String, String)]) -> String {
        list.map { " \($0.0)=\"\(escape($0.1))\"" }.joined()
    }

    /// Escapes XML's special characters and drops characters XML 1.0 does not allow.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                let v = scalar.value
                if v < 0x20 || v == 0xFFFE || v == 0xFFFF { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A coordinate with at most two decimals, no trailing zeros ("12", "3.5", "-0.25").
    public static func number(_ x: Double) -> String {
        guard x.isFinite else { return "0" }
        let rounded = (x * 100).rounded() / 100
        if rounded == rounded.rounded() && abs(rounded) < 1e15 { return String(Int(rounded)) }
        var text = String(format: "%.2f", rounded)
        while text.hasSuffix("0") { text.removeLast() }
        return text
    }
}
