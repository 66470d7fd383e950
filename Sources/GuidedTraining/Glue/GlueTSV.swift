import Foundation
import GuidedModel

/// Reads the GLUE distribution's TSV files (`glue_data/<TASK>/train.tsv`, `dev.tsv`,
/// `dev_matched.tsv`, `test.tsv`, ...) as `datasets`' `glue` script reads them.
///
/// Layouts:
/// - CoLA `train.tsv`/`dev.tsv`: no header, 4 columns — source, label (0/1), original label
///   (`*` or empty), sentence. CoLA `test.tsv` has a header (`index`, `sentence`); a CoLA file is taken
///   to have a header when its first line's first field is `index` or `sentence`.
/// - Every other file has a header, and columns are found by name (`GlueTask.tsvColumns`): SST-2
///   `sentence label`; MRPC `Quality #1 ID #2 ID #1 String #2 String`; STS-B 10 columns with
///   `sentence1`, `sentence2`, `score`; QQP `id qid1 qid2 question1 question2 is_duplicate`; MNLI
///   (12 columns in train, 16 in dev) with `sentence1`, `sentence2`, `gold_label`; QNLI
///   `index question sentence label`; RTE and WNLI `index sentence1 sentence2 label`. A file whose
///   header has no label column (the test files) gives unlabeled examples (label −1).
///
/// Fields are split at tabs only, with no quoting (`csv.QUOTE_NONE`): a `"` is part of the text.
/// Lines end at `\n`, `\r\n` or `\r`; a UTF-8 byte-order mark at the start (MRPC's files have one)
/// is dropped; blank lines are ignored. Every row must have as many fields as the header (4 for
/// CoLA's header-less files), a label that parses (a class name or id, or an STS-B score from 0 to
/// 5) and non-blank texts; a row that does not is an error naming `file:line`, or is skipped and
/// counted with `GlueReadOptions.skipBadRows` (`datasets` drops short rows silently; the real QQP
/// `train.tsv` has a few, where a question holds a line break).
public enum GlueTSV {
    /// The columns of CoLA's header-less train and dev files.
    public static let colaColumns = ["source", "label", "original label", "sentence"]

    public static func read(_ url: URL, task: GlueTask, options: GlueReadOptions = GlueReadOptions()) throws
        -> GlueFile
    {
        let data = try readFileBytes(url)
        return try data.withUnsafeBytes { raw in
            try read(raw.bindMemory(to: UInt8.self), path: url.path, task: task, options: options)
        }
    }

    /// Where a row's text, pair and label are.
    private struct Layout {
        var columnCount: Int
        var text: Int
        var pair: Int?
        var label: Int?
        var names: GlueFields
        var expectation: String
    }

    static func read(_ bytes: UnsafeBufferPointer<UInt8>, path: String, task: GlueTask, options: GlueReadOptions)
        throws -> GlueFile
    {
        var lines = LineScanner(bytes)
        var decoder = LossyDecoder()
        var collector = ExampleCollector(path: path, options: options)
        var fields: [Range<Int>] = []

        // The first non-blank line: a header, or CoLA's first data row.
        var first: Range<Int>?
        while let line = lines.next() {
            if !line.isEmpty { first = line; break }
        }
        guard let first else {
            throw ModelError("\(path): the file is empty; expected \(task.displayName)'s TSV layout")
        }
        tabFields(bytes, first, into: &fields)
        let firstNames = fields.map { decoder.string(bytes, $0, line: lines.lineNumber) }
        let layout: Layout
        var pendingFirstRow: Range<Int>?
        if task == .cola && firstNames.first != "index" && firstNames.first != "sentence" {
            layout = Layout(
                columnCount: 4, text: 3, pair: nil, label: 1,
                names: GlueFields(text: "sentence", pair: nil, label: "label"),
                expectation: "4 tab-separated columns (" + colaColumns.joined(separator: ", ")
                    + ") as in CoLA's train.tsv and dev.tsv")
            pendingFirstRow = first
        } else {
            layout = try headerLayout(firstNames, task: task, path: path, line: lines.lineNumber)
        }

        var dataRow = 0
        func parse(_ line: Range<Int>, number: Int) throws {
            defer { dataRow += 1 }
            tabFields(bytes, line, into: &fields)
            do throws(BadRow) {
                guard fields.count == layout.columnCount else {
                    throw BadRow("expected \(layout.expectation), found \(fields.count)")
                }
                let text = decoder.string(bytes, fields[layout.text], line: number)
                if isBlank(text) { throw BadRow("the \(layout.names.text) column is empty") }
                var pair: String?
                if let index = layout.pair {
                    let second = decoder.string(bytes, fields[index], line: number)
                    if isBlank(second) { throw BadRow("the \(layout.names.pair ?? "") column is empty") }
                    pair = second
                }
                var label: Float = -1
                if let index = layout.label {
                    label = try task.parseLabel(
                        decoder.string(bytes, fields[index], line: number), column: layout.names.label)
                }
                collector.add(
                    GlueExample(text: text, pair: pair, label: label, idx: dataRow, file: path, line: number))
            } catch {
                try collector.reject(error, line: number)
            }
        }

        if let row = pendingFirstRow { try parse(row, number: lines.lineNumber) }
        while let line = lines.next() {
            guard !line.isEmpty else { continue }
            try parse(line, number: lines.lineNumber)
        }
        return collector.finish(decoder)
    }

    /// The layout given by a header line: the task's columns found by name.
    private static func headerLayout(_ header: [String], task: GlueTask, path: String, line: Int) throws -> Layout {
        let names = task.tsvColumns
        func column(_ name: String) throws -> Int {
            guard let index = header.firstIndex(of: name) else {
                throw ModelError(
                    "\(path):\(line): the header has no \(quoted(name)) column (it has "
                        + header.map { quoted($0) }.joined(separator: ", ")
                        + "); expected \(task.displayName)'s GLUE TSV layout with columns "
                        + ([names.text] + (names.pair.map { [$0] } ?? []) + [names.label])
                        .map { quoted($0) }.joined(separator: ", ")
                        + " (the label column only in labeled files)")
            }
            return index
        }
        return Layout(
            columnCount: header.count,
            text: try column(names.text),
            pair: try names.pair.map(column),
            label: header.firstIndex(of: names.label),
            names: names,
            expectation: "\(header.count) tab-separated columns as the header has")
    }
}
