import Foundation
import GuidedModel
import Testing
@testable import GuidedTraining

struct SweepTests {
    static func plan(tasks: [GlueTask] = [.rte, .mnli], regularizers: [String] = ["dropout", "gaussian", "guided"],
                     seeds: [UInt64] = [0, 1], fractions: [Double] = [1, 0.5], schedule: String? = "/s.json",
                     extra: [String] = ["--epochs", "1"]) throws -> SweepPlan {
        try SweepPlan(model: "/m", data: Dictionary(uniqueKeysWithValues: tasks.map { ($0.rawValue, "/glue") }), tasks: tasks,
                      regularizers: regularizers, seeds: seeds, fractions: fractions, schedule: schedule, finetuneArguments: extra)
    }

    static func temporaryFolder() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("guided-sweep-\(UUID().uuidString)")
    }

    @Test func jobsCoverTheGridTaskMajorWithStableNames() throws {
        let plan = try Self.plan()
        let jobs = plan.jobs
        #expect(jobs.count == 2 * 2 * 3 * 2)
        #expect(jobs.map(\.index) == Array(0..<jobs.count))
        #expect(Set(jobs.map(\.name)).count == jobs.count)
        #expect(jobs[0].name == "rte-dropout-f1-s0")
        #expect(jobs[1].name == "rte-dropout-f1-s1")
        #expect(jobs[2].name == "rte-gaussian-f1-s0")
        #expect(jobs[6].name == "rte-dropout-f0.5-s0")
        #expect(jobs[12].task == .mnli)
    }

    @Test func finetuneArgumentsSetTheJobAndPassTheRestThrough() throws {
        let plan = try Self.plan()
        let folder = URL(fileURLWithPath: "/sweep/jobs/x")
        let guided = plan.finetuneArguments(for: plan.jobs.first { $0.regularizer == "guided" }!, folder: folder)
        #expect(guided.first == "finetune")
        #expect(guided.contains("--schedule") && guided.contains("/s.json"))
        #expect(guided.contains("--resume") && guided.contains("--no-save-model"))
        #expect(Array(guided.suffix(2)) == ["--epochs", "1"])
        let dropout = plan.finetuneArguments(for: plan.jobs[7], folder: folder)
        #expect(!dropout.contains("--schedule"))
        #expect(dropout[dropout.firstIndex(of: "--train-fraction")! + 1] == "0.5")
        #expect(dropout[dropout.firstIndex(of: "--seed")! + 1] == "1")
        let keeping = try Self.plan(extra: ["--save-model"])
        #expect(!keeping.finetuneArguments(for: keeping.jobs[0], folder: folder).contains("--no-save-model"))
    }

    @Test func badGridsAreRefusedWithTheReason() throws {
        func message(_ build: () throws -> SweepPlan) -> String {
            do { _ = try build(); return "" } catch { return "\(error)" }
        }
        #expect(message { try Self.plan(regularizers: ["dropout", "mixout"]) }.contains("unknown regularizer mixout"))
        #expect(message { try Self.plan(schedule: nil) }.contains("needs a schedule"))
        #expect(message { try Self.plan(fractions: [1, 0]) }.contains("outside (0, 1]"))
        #expect(message { try Self.plan(seeds: [1, 1]) }.contains("repeat"))
        #expect(message { try Self.plan(seeds: []) }.contains("at least one seed"))
        #expect(message { try Self.plan(extra: ["--seed", "3"]) }.contains("--seed is set by the sweep"))
        #expect(message { try Self.plan(extra: ["--output=x"]) }.contains("--output is set by the sweep"))
        #expect(message {
            try SweepPlan(model: "/m", data: [:], tasks: [.cola], regularizers: ["dropout"], seeds: [0], fractions: [1],
                          schedule: nil, finetuneArguments: [])
        }.contains("no data for CoLA"))
        // Without guided runs a schedule is not needed (and not kept).
        #expect(try Self.plan(regularizers: ["dropout"], schedule: "/s.json").schedule == nil)
    }

    @Test func aFolderKeepsOnePlanUnlessReplaced() throws {
        let folder = SweepFolder(Self.temporaryFolder())
        defer { try? FileManager.default.removeItem(at: folder.url) }
        #expect(throws: ModelError.self) { try folder.readPlan() }
        let plan = try Self.plan()
        try folder.write(plan)
        try folder.write(plan)   // the same plan again: fine
        #expect(try folder.readPlan() == plan)
        let other = try Self.plan(seeds: [0, 1, 2])
        #expect(throws: ModelError.self) { try folder.write(other) }
        try folder.write(other, replace: true)
        #expect(try folder.readPlan() == other)
    }

    /// Writes a finetune-style metrics.json for `job` with the given final scores.
    static func finish(_ job: SweepJob, in folder: SweepFolder, scores: [String: [String: Double?]]) throws {
        try FileManager.default.createDirectory(at: folder.folder(of: job), withIntermediateDirectories: true)
        let object: [String: Any] = ["final": scores.mapValues { $0.mapValues { $0 ?? NSNull() as Any } }, "task": job.task.rawValue]
        try JSONSerialization.data(withJSONObject: object).write(to: folder.metricsURL(of: job))
    }

    @Test func resultsGiveMaxMeanPerCellAndListWhatIsMissing() throws {
        let folder = SweepFolder(Self.temporaryFolder())
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let plan = try Self.plan(seeds: [0, 1, 2], fractions: [1, 0.5])
        try folder.write(plan)
        // RTE at fraction 1: dropout 0.6, 0.7, 0.8; guided 0.9 and one restart missing; gaussian one undefined score.
        let rte = plan.jobs.filter { $0.task == .rte && $0.fraction == 1 }
        for job in rte {
            switch (job.regularizer, job.seed) {
            case ("dropout", let s): try Self.finish(job, in: folder, scores: ["validation": ["accuracy": 0.6 + 0.1 * Double(s), "combined": 0.6 + 0.1 * Double(s)]])
            case ("guided", 0), ("guided", 1): try Self.finish(job, in: folder, scores: ["validation": ["accuracy": 0.9, "combined": 0.9]])
            case ("gaussian", 0): try Self.finish(job, in: folder, scores: ["validation": ["accuracy": nil, "combined": nil]])
            default: break
            }
        }
        let mnli = plan.jobs.first { $0.task == .mnli && $0.regularizer == "dropout" && $0.fraction == 1 && $0.seed == 0 }!
        try Self.finish(mnli, in: folder, scores: ["validation_matched": ["accuracy": 0.8, "combined": 0.8],
                                                    "validation_mismatched": ["accuracy": 0.75, "combined": 0.75]])

        let results = try SweepResults(folder: folder)
        #expect(results.missing.count == plan.jobs.count - 7)
        #expect(results.runs.count == 3 + 2 + 1 + 2)
        let cells = results.cells
        let dropout = try #require(cells.first { $0.task == .rte && $0.fraction == 1 && $0.regularizer == "dropout" })
        #expect(abs(dropout.max! - 0.8) < 1e-12 && abs(dropout.mean! - 0.7) < 1e-12)
        #expect(abs(dropout.std! - 0.1) < 1e-12)
        #expect(abs(dropout.q1! - 0.65) < 1e-12 && abs(dropout.q3! - 0.75) < 1e-12)
        let guided = try #require(cells.first { $0.task == .rte && $0.fraction == 1 && $0.regularizer == "guided" })
        #expect(guided.values == [0.9, 0.9] && guided.planned == 3)
        let gaussian = try #require(cells.first { $0.task == .rte && $0.fraction == 1 && $0.regularizer == "gaussian" })
        #expect(gaussian.values.isEmpty && gaussian.mean == nil)

        let table = results.table2(fraction: 1)
        #expect(table.columns == ["regularizer", "RTE", "MNLI", "MNLI (MM)"])
        #expect(table.rows[0] == ["dropout", "0.8000 / 0.7000", "0.8000 / 0.8000 (1 of 3)", "0.7500 / 0.7500 (1 of 3)"])
        #expect(table.rows[1][1] == "-")
        #expect(table.rows[2][1] == "0.9000 / 0.9000 (2 of 3)")
        #expect(results.figure4Table(task: .rte, split: "validation").rows[0][1] == "0.7000 [0.6500, 0.7500]")

        let markdown = results.markdown()
        #expect(markdown.contains("## Train fraction 0.5"))
        #expect(markdown.contains("- rte-guided-f1-s2"))
        let svg = results.figure4(task: .mnli, split: "validation_mismatched").svg()
        #expect(svg.contains("MNLI (MM)") && svg.contains("50% guided"))

        // JSON: undefined scores are null, and the document reads back.
        let json = try JSONSerialization.jsonObject(with: try results.json()) as! [String: Any]
        let runs = json["runs"] as! [[String: Any]]
        #expect(runs.contains { ($0["job"] as? String) == "rte-gaussian-f1-s0" && $0["combined"] == nil })
        #expect((json["missing"] as! [String]).count == results.missing.count)
    }

    @Test func aMetricsFileWithoutTheSplitsScoresIsAnError() throws {
        let folder = SweepFolder(Self.temporaryFolder())
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let plan = try Self.plan(tasks: [.mnli], regularizers: ["dropout"], seeds: [0], fractions: [1], schedule: nil)
        try folder.write(plan)
        try Self.finish(plan.jobs[0], in: folder, scores: ["validation": ["accuracy": 0.5, "combined": 0.5]])
        #expect(throws: ModelError.self) { try SweepResults(folder: folder) }
    }
}
