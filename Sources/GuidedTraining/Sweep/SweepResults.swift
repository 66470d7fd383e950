import Foundation
import GuidedMethod
import GuidedModel

/// One finished job's final score on one validation split.
public struct SweepRun: Sendable, Equatable, Codable {
    public var job: String
    public var task: GlueTask
    public var regularizer: String
    public var seed: UInt64
    public var fraction: Double
    /// `validation`, or MNLI's `validation_matched` / `validation_mismatched`.
    public var split: String
    /// The task's combined score (CoLA Matthews; STS-B mean of Pearson and Spearman; MRPC, QQP mean
    /// of accuracy and F1; the others accuracy); nil where it is undefined (NaN).
    public var combined: Double?
    public var metrics: [String: Double?]
}

/// The restarts of one (task split, regularizer, train fraction): a cell of the paper's Table 2 and
/// a box of its Figure 4.
public struct SweepCell: Sendable, Equatable, Codable {
    public var task: GlueTask
    public var split: String
    public var column: String
    public var regularizer: String
    public var fraction: Double
    /// Restarts planned, and those with a (defined) score.
    public var planned: Int
    public var values: [Double]
    public var max: Double?
    public var mean: Double?
    public var std: Double?
    public var median: Double?
    public var q1: Double?
    public var q3: Double?
}

/// The collected results of a sweep folder: every finished job's scores, the jobs still missing,
/// and the paper's summaries of them.
public struct SweepResults: Sendable {
    public let plan: SweepPlan
    public let runs: [SweepRun]
    public let missing: [SweepJob]

    /// Reads `metrics.json` of every finished job of the folder's plan.
    public init(folder: SweepFolder) throws {
        plan = try folder.readPlan()
        var runs: [SweepRun] = [], missing: [SweepJob] = []
        struct Metrics: Decodable { let final: [String: [String: Double?]] }
        for job in plan.jobs {
            guard let data = FileManager.default.contents(atPath: folder.metricsURL(of: job).path) else {
                missing.append(job)
                continue
            }
            let metrics: Metrics
            do {
                metrics = try JSONDecoder().decode(Metrics.self, from: data)
            } catch {
                throw ModelError("\(folder.metricsURL(of: job).path): not a finetune metrics file (\(error))")
            }
            for split in job.task.validationSplitNames {
                guard let values = metrics.final[split] else {
                    throw ModelError("\(folder.metricsURL(of: job).path): no final scores for \(split)")
                }
                runs.append(SweepRun(job: job.name, task: job.task, regularizer: job.regularizer, seed: job.seed,
                                     fraction: job.fraction, split: split, combined: values["combined"] ?? nil,
                                     metrics: values.filter { $0.key != "combined" }))
            }
        }
        self.runs = runs
        self.missing = missing
    }

    /// The column a split has in Table 2: the task's GLUE name, MNLI's mismatched set as `MNLI (MM)`.
    public static func column(task: GlueTask, split: String) -> String {
        split == "validation_mismatched" ? "\(task.displayName) (MM)" : task.displayName
    }

    /// Every (task split, train fraction, regularizer) in plan order, with its restarts summarised.
    public var cells: [SweepCell] {
        var cells: [SweepCell] = []
        for task in plan.tasks {
            for split in task.validationSplitNames {
                for fraction in plan.fractions {
                    for regularizer in plan.regularizers {
                        let values = runs.filter {
                            $0.task == task && $0.split == split && $0.fraction == fraction && $0.regularizer == regularizer
                        }.compactMap(\.combined)
                        cells.append(Self.cell(task: task, split: split, regularizer: regularizer, fraction: fraction,
                                               planned: plan.seeds.count, values: values))
                    }
                }
            }
        }
        return cells
    }

    static func cell(task: GlueTask, split: String, regularizer: String, fraction: Double, planned: Int, values: [Double])
        -> SweepCell
    {
        let n = Double(values.count)
        let mean = values.isEmpty ? nil : values.reduce(0, +) / n
        // The sample standard deviation (n − 1), as numpy's std(ddof=1) and pandas give it.
        let std = values.count < 2 || mean == nil ? nil
            : (values.map { ($0 - mean!) * ($0 - mean!) }.reduce(0, +) / (n - 1)).squareRoot()
        let summary = BoxPlot.summary(values)
        return SweepCell(task: task, split: split, column: column(task: task, split: split), regularizer: regularizer,
                         fraction: fraction, planned: planned, values: values, max: values.max(), mean: mean, std: std,
                         median: summary?.median, q1: summary?.q1, q3: summary?.q3)
    }

    /// The paper's Table 2 at one train fraction: a row per regularizer, a column per task split,
    /// each cell `max / mean` over restarts (with `(k of n)` while restarts are missing).
    public func table2(fraction: Double) -> ReportTable {
        let cells = self.cells.filter { $0.fraction == fraction }
        var columns: [String] = []
        for cell in cells where !columns.contains(cell.column) { columns.append(cell.column) }
        var table = ReportTable(title: "Train fraction \(SweepPlan.label(fraction)): max / mean of the combined score over "
                                + "\(plan.seeds.count) restarts", columns: ["regularizer"] + columns)
        for regularizer in plan.regularizers {
            table.rows.append([regularizer] + columns.map { column in
                guard let cell = cells.first(where: { $0.column == column && $0.regularizer == regularizer }) else { return "-" }
                return Self.maxMean(cell)
            })
        }
        return table
    }

    /// The paper's Figure 4 in numbers for one task split: a row per regularizer, a column per train
    /// fraction, each cell the mean and the inter-quartile range over restarts.
    public func figure4Table(task: GlueTask, split: String) -> ReportTable {
        let cells = self.cells.filter { $0.task == task && $0.split == split }
        var table = ReportTable(title: "\(Self.column(task: task, split: split)): mean [q1, q3] of the combined score against the train fraction",
                                columns: ["regularizer"] + plan.fractions.map { SweepPlan.label($0) })
        for regularizer in plan.regularizers {
            table.rows.append([regularizer] + plan.fractions.map { fraction in
                guard let cell = cells.first(where: { $0.fraction == fraction && $0.regularizer == regularizer }),
                      let mean = cell.mean, let q1 = cell.q1, let q3 = cell.q3 else { return "-" }
                return String(format: "%.4f [%.4f, %.4f]", mean, q1, q3) + Self.incomplete(cell)
            })
        }
        return table
    }

    /// Box plots over restarts for one task split: per train fraction (largest first) a box per
    /// regularizer, coloured by regularizer.
    public func figure4(task: GlueTask, split: String) -> BoxPlot {
        let colors = Dictionary(uniqueKeysWithValues: plan.regularizers.enumerated().map { ($1, PlotColor.categorical($0)) })
        let cells = self.cells.filter { $0.task == task && $0.split == split }
        var groups: [BoxPlot.Group] = []
        for fraction in plan.fractions.sorted(by: >) {
            for regularizer in plan.regularizers {
                let values = cells.first { $0.fraction == fraction && $0.regularizer == regularizer }?.values ?? []
                groups.append(BoxPlot.Group("\(SweepPlan.label(fraction * 100))% \(regularizer)", values, color: colors[regularizer]))
            }
        }
        var plot = BoxPlot(title: "\(Self.column(task: task, split: split)): \(Self.scoreName(task)) over restarts",
                           subtitle: "\(plan.seeds.count) restarts per box; train fraction largest first",
                           groups: groups, xLabel: "share of the training split · regularizer", y: Axis(Self.scoreName(task)))
        plot.legend = plan.regularizers.map { ($0, colors[$0]!) }
        return plot
    }

    /// Table 2 for every train fraction (largest first), then the Figure 4 tables when the sweep has
    /// several fractions, and the missing jobs.
    public func markdown() -> String {
        var parts = ["# guided sweep: \(plan.tasks.map(\.displayName).joined(separator: ", "))", "",
                     "Combined score per task (CoLA Matthews correlation; STS-B mean of Pearson and Spearman; "
                        + "MRPC, QQP mean of accuracy and F1; the others accuracy), on the validation split of each restart, "
                        + "after the last epoch. \(runs.count) scores from \(plan.jobs.count - missing.count) of "
                        + "\(plan.jobs.count) jobs.", ""]
        for fraction in plan.fractions.sorted(by: >) {
            let table = table2(fraction: fraction)
            parts += ["## \(table.title)", "", table.markdown(), ""]
        }
        if plan.fractions.count > 1 {
            for task in plan.tasks {
                for split in task.validationSplitNames {
                    let table = figure4Table(task: task, split: split)
                    parts += ["## \(table.title)", "", table.markdown(), ""]
                }
            }
        }
        if !missing.isEmpty {
            parts += ["## Not finished (\(missing.count))", "", missing.map { "- \($0.name)" }.joined(separator: "\n"), ""]
        }
        return parts.joined(separator: "\n")
    }

    /// Everything as JSON: the plan, every run's scores, every cell's summary, the missing jobs.
    /// Undefined scores are null.
    public func json() throws -> Data {
        struct Document: Encodable {
            let plan: SweepPlan, runs: [SweepRun], cells: [SweepCell], missing: [String]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(Document(plan: plan, runs: runs, cells: cells, missing: missing.map(\.name)))
    }

    /// The combined score's name on an axis.
    static func scoreName(_ task: GlueTask) -> String {
        switch task {
        case .cola: "Matthews correlation"
        case .stsb: "(Pearson + Spearman) / 2"
        case .mrpc, .qqp: "(accuracy + F1) / 2"
        case .sst2, .mnli, .qnli, .rte, .wnli: "accuracy"
        }
    }

    private static func maxMean(_ cell: SweepCell) -> String {
        guard let max = cell.max, let mean = cell.mean else { return "-" }
        return String(format: "%.4f / %.4f", max, mean) + incomplete(cell)
    }

    private static func incomplete(_ cell: SweepCell) -> String {
        cell.values.count < cell.planned ? " (\(cell.values.count) of \(cell.planned))" : ""
    }
}
