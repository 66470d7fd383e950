import ArgumentParser
import Foundation
import GuidedMethod
import GuidedModel

/// `guided fisher report`: where a Fisher file's mass sits, per tensor and per layer group, and the
/// paper's Fisher plots.
struct FisherReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Summarise a Fisher file per tensor and per layer group; optionally draw the Fisher plots.",
        discussion: """
            The file is checked against the model in --model (names and shapes). Layer groups are the \
            sub-modules whose output goes through a dropout site (embeddings; per layer attention.self, \
            attention.output, output) plus those that precede none (intermediate, pooler, the head); a \
            group's score is the mean of its tensors' mean Fisher (--aggregate weighted: total over count).

            Normalised scores divide by the largest Fisher value over all parameters; "≥ 0.01·max" is the \
            share of parameters whose normalised score is at least 0.01 (--threshold). "top k% mass" is \
            the share of the total Fisher held by the ⌈k·n/100⌉ largest values (at least one).

            --plots DIR writes fisher-parameters-sorted.svg (every parameter, sorted, log scale), \
            fisher-groups-sorted.svg and fisher-groups-network-order.svg.
            """)

    @Argument(help: "The Fisher file (.safetensors) written by `guided fisher estimate` or `merge`.")
    var fisher: String

    @Option(help: "The model folder (config.json, model.safetensors) the Fisher was estimated for.")
    var model: String

    @Option(help: "Write the Fisher plots (SVG) into this folder.")
    var plots: String?

    @Option(help: "Y axis of the layer-group plots: linear (as the paper) or log.")
    var groupAxis: GroupAxisArgument = .linear

    @Option(help: "Group score: mean-of-means (the paper's) or weighted (parameter-weighted mean).")
    var aggregate: GroupAggregateArgument = .meanOfMeans

    @Option(help: "Normalised-score threshold for the share of parameters above it.")
    var threshold: Double = 0.01

    @Option(help: "Comma-separated top-k percentages for the mass shares.")
    var top: String = "0.25,1,5"

    @Flag(help: "Machine-readable output (the report as JSON) on stdout; the tables go to stderr.")
    var json = false

    @Option(help: "Also write the report as Markdown to this file.")
    var markdown: String?

    func validate() throws {
        _ = try parsePercentages(top, option: "--top")
        guard threshold > 0 && threshold <= 1 else { throw ValidationError("--threshold must be in (0, 1], got \(threshold)") }
    }

    func run() throws {
        let fisherURL = URL(fileURLWithPath: fisher)
        let file = try FisherFile(contentsOf: fisherURL)
        let architecture = try fisherArchitecture(of: file, model: model)
        let report = try FisherReport(fisher: file, architecture: architecture, aggregate: aggregate.value,
                                      threshold: threshold, topPercents: try parsePercentages(top, option: "--top"))
        var text = FileHandleOutput(json ? .standardError : .standardOutput)
        let tables = report.tables()
        // Terminal order: the long per-tensor table first, the ranking last where it stays in view.
        for table in [tables[0], tables[3], tables[1], tables[2]] { text.print(table) }
        if let markdown {
            let url = URL(fileURLWithPath: markdown)
            try Data(report.markdown().utf8).write(to: url, options: .atomic)
            text.line("wrote \(url.path)")
        }
        if let plots {
            for url in try writeFisherPlots(report: report, to: URL(fileURLWithPath: plots), groupScale: groupAxis.scale) { text.line("wrote \(url.path)") }
        }
        if json { FileHandle.standardOutput.write(try report.json() + Data("\n".utf8)) }
    }
}

/// `guided fisher compare`: the consistency of subsampled Fisher estimates (paper Table 1).
struct FisherCompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare subsampled Fisher files with a reference (paper Table 1): correlation and KL on top-k% elements.",
        discussion: """
            For each tensor, the top-k% elements of the reference (⌈k·n/100⌉, at least one) are compared \
            with the same elements of each subsample: the Pearson correlation, and D_KL(reference‖subsample) \
            of the two normalised to sum 1 (ε = 1e-12 × max added to each, so zeros stay finite). Mean and \
            population standard deviation over tensors. Tensors where the correlation is undefined (fewer \
            than two elements, or a constant side) or the KL is (all zero) are skipped and counted.
            """)

    @Option(help: "The reference Fisher file (e.g. estimated on the whole corpus).")
    var reference: String

    @Argument(help: "Subsampled Fisher files, each with the reference's tensors and shapes.")
    var subsamples: [String]

    @Option(help: "Comma-separated top-k percentages.")
    var top: String = "5,1,0.5,0.25"

    @Flag(help: "Machine-readable output (the table as JSON) on stdout; the tables go to stderr.")
    var json = false

    @Option(help: "Also write the table (the paper's layout) as Markdown to this file.")
    var markdown: String?

    func validate() throws {
        _ = try parsePercentages(top, option: "--top")
        guard !subsamples.isEmpty else { throw ValidationError("give at least one subsampled Fisher file") }
    }

    func run() throws {
        let referenceFile = try FisherFile(contentsOf: URL(fileURLWithPath: reference))
        let subs = try subsamples.map { path in
            (label: URL(fileURLWithPath: path).lastPathComponent, fisher: try FisherFile(contentsOf: URL(fileURLWithPath: path)))
        }
        let table = try ConsistencyTable(reference: referenceFile, subsamples: subs, percents: try parsePercentages(top, option: "--top"))
        var text = FileHandleOutput(json ? .standardError : .standardOutput)
        text.line("reference: \(referenceFile.path) (\(referenceFile.metadata["samples"].map { "\($0) samples, " } ?? "")\(table.tensors) tensors)")
        for perK in table.tablesPerPercent() { text.print(perK) }
        text.line("corr: Pearson on the reference's top-k% elements per tensor; KL: D_KL(reference‖subsample), "
            + "normalised, ε = 1e-12·max; μ, σ (population) over tensors")
        if let markdown {
            let url = URL(fileURLWithPath: markdown)
            try Data(table.markdown().utf8).write(to: url, options: .atomic)
            text.line("wrote \(url.path)")
        }
        if json { FileHandle.standardOutput.write(try table.json() + Data("\n".utf8)) }
    }
}

/// `--aggregate` as a command-line value.
enum GroupAggregateArgument: String, ExpressibleByArgument, CaseIterable {
    case meanOfMeans = "mean-of-means", weighted
    var value: GroupAggregate { GroupAggregate(rawValue: rawValue)! }
}

/// `--group-axis` as a command-line value.
enum GroupAxisArgument: String, ExpressibleByArgument, CaseIterable {
    case linear, log
    var scale: AxisScale { self == .log ? .log10 : .linear }
}

/// "5,1,0.5" → [5, 1, 0.5]; each in (0, 100].
private func parsePercentages(_ text: String, option: String) throws -> [Double] {
    let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    var values: [Double] = []
    for part in parts {
        guard let value = Double(part), value > 0, value <= 100 else {
            throw ValidationError("\(option): \"\(part)\" is not a percentage in (0, 100]")
        }
        values.append(value)
    }
    guard !values.isEmpty else { throw ValidationError("\(option): give at least one percentage") }
    return values
}

/// Human-readable output to stdout or stderr: tables through `TextTable`.
private struct FileHandleOutput {
    let handle: FileHandle
    init(_ handle: FileHandle) { self.handle = handle }

    mutating func line(_ text: String) { handle.write(Data((text + "\n").utf8)) }

    mutating func print(_ table: ReportTable) {
        let rendered = TextTable(columns: table.columns)
        for row in table.rows { rendered.add(row) }
        line("\n\(table.title)\n" + rendered.render())
    }
}
