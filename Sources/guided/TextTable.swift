/// A plain-text table with aligned columns; numbers right-aligned.
final class TextTable {
    private let columns: [String]
    private var rows: [[String]] = []

    init(columns: [String]) { self.columns = columns }

    func add(_ row: [String]) {
        precondition(row.count == columns.count, "table row of \(row.count) cells for \(columns.count) columns")
        rows.append(row)
    }

    func render() -> String {
        let widths = columns.indices.map { c in ([columns[c]] + rows.map { $0[c] }).map(\.count).max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return Double(cell.replacingOccurrences(of: "×", with: "")) != nil ? pad + cell : cell + pad
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(columns), rule] + rows.map(line)).joined(separator: "\n")
    }

    /// The same table as GitHub Markdown.
    func markdown() -> String {
        let header = "| " + columns.joined(separator: " | ") + " |"
        let rule = "|" + columns.map { _ in "---|" }.joined()
        return ([header, rule] + rows.map { "| " + $0.joined(separator: " | ") + " |" }).joined(separator: "\n")
    }
}

private extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
