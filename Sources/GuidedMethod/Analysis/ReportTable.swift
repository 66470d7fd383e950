import Foundation

/// A table of already formatted cells, rendered as Markdown here and as aligned terminal text by
/// the CLI. Cells that parse as numbers (optionally ending in `%`) are right-aligned.
public struct ReportTable: Sendable, Equatable {
    public var title: String
    public var columns: [String]
    public var rows: [[String]]

    public init(title: String, columns: [String], rows: [[String]] = []) {
        self.title = title
        self.columns = columns
        self.rows = rows
    }

    /// GitHub Markdown with columns padded to a common width, so it also reads well as plain text.
    public func markdown() -> String {
        let widths = columns.indices.map { c in ([columns[c]] + rows.map { $0[c] }).map(\.count).max() ?? 0 }
        let numeric = columns.indices.map { c in !rows.isEmpty && rows.allSatisfy { Self.isNumber($0[c]) || $0[c].isEmpty || $0[c] == "-" } }
        func pad(_ cell: String, _ c: Int) -> String {
            let fill = String(repeating: " ", count: max(0, widths[c] - cell.count))
            return numeric[c] ? fill + cell : cell + fill
        }
        let header = "| " + columns.indices.map { pad(Self.escape(columns[$0]), $0) }.joined(separator: " | ") + " |"
        let rule = "|" + columns.indices.map { c in
            let dashes = String(repeating: "-", count: max(3, widths[c]))
            return numeric[c] ? " " + dashes.dropLast() + ": " : " " + dashes + " "
        }.joined(separator: "|") + "|"
        let body = rows.map { row in "| " + row.indices.map { pad(Self.escape(row[$0]), $0) }.joined(separator: " | ") + " |" }
        return ([header, rule] + body).joined(separator: "\n")
    }

    static func isNumber(_ cell: String) -> Bool {
        let trimmed = cell.hasSuffix("%") ? String(cell.dropLast()) : cell
        return Double(trimmed) != nil
    }

    static func escape(_ cell: String) -> String { cell.replacingOccurrences(of: "|", with: "\\|") }
}

/// Number formatting shared by the analyses' tables.
enum Format {
    /// Scientific with 4 significant digits after the point: `1.2345e-05`.
    static func sci(_ x: Double) -> String { String(format: "%.4e", x) }
    /// Fixed with `digits` decimals.
    static func fixed(_ x: Double, _ digits: Int = 4) -> String { String(format: "%.\(digits)f", x) }
    /// A share in [0, 1] as a percentage with 3 significant digits: `0.00123%`, `12.5%`.
    static func percent(_ share: Double) -> String { share == 0 ? "0%" : String(format: "%.3g%%", share * 100) }
    /// A percentage given in percent (`0.25` → `0.25%`).
    static func percentLabel(_ percent: Double) -> String {
        percent == percent.rounded() ? String(format: "%.0f%%", percent) : "\(percent)%"
    }
    static func optional(_ x: Double?, _ render: (Double) -> String) -> String { x.map(render) ?? "-" }
}
