import Foundation
import GuidedModel

/// One fine-tuning run of a sweep: a task, a regularizer, a restart seed and a train fraction.
public struct SweepJob: Sendable, Equatable, Codable {
    /// The job's position in the plan (`guided sweep job --index`, `$SLURM_ARRAY_TASK_ID`).
    public var index: Int
    public var task: GlueTask
    public var regularizer: String
    public var seed: UInt64
    public var fraction: Double

    /// The job's folder name under `jobs/`: `rte-guided-f0.5-s3`.
    public var name: String { "\(task.rawValue)-\(regularizer)-f\(SweepPlan.label(fraction))-s\(seed)" }
}

/// A sweep: regularizers × restart seeds × train fractions × tasks, each an independent
/// `guided finetune` run. The plan is written once as `sweep.json` in the sweep folder; every job
/// writes its results to `jobs/<name>/metrics.json`, and a job is finished exactly when that file
/// exists (finetune writes it atomically, last), so rerunning a sweep reruns nothing that finished
/// and resumes the rest from their saved training state.
public struct SweepPlan: Sendable, Equatable, Codable {
    /// The checkpoint folder every job starts from (absolute).
    public var model: String
    /// Per task (its raw value), the data path given to `finetune --data` (absolute).
    public var data: [String: String]
    public var tasks: [GlueTask]
    /// `dropout`, `gaussian`, `guided`, in the order tables list them.
    public var regularizers: [String]
    public var seeds: [UInt64]
    public var fractions: [Double]
    /// The schedule file for `guided` (absolute), nil when the sweep has no guided runs.
    public var schedule: String?
    /// Further `guided finetune` flags given to every job (`--p 0.1`, `--epochs 3`, `--backend cpu`).
    public var finetuneArguments: [String]

    public static let regularizerNames = ["dropout", "gaussian", "guided"]
    /// Flags the sweep sets itself for each job; they cannot be among `finetuneArguments`.
    public static let reservedFlags = ["--model", "--task", "--data", "--regularizer", "--seed", "--train-fraction",
                                       "--output", "--schedule", "--resume", "--predictions", "--json"]

    /// Checks the grid: at least one of each axis, no repeats, known regularizers, fractions in
    /// (0, 1], a schedule exactly when `guided` is among the regularizers, data for every task, and
    /// no reserved flag among the pass-through arguments.
    public init(model: String, data: [String: String], tasks: [GlueTask], regularizers: [String], seeds: [UInt64],
                fractions: [Double], schedule: String?, finetuneArguments: [String]) throws
    {
        func requireDistinct<T: Hashable>(_ values: [T], _ axis: String) throws {
            guard !values.isEmpty else { throw ModelError("a sweep needs at least one \(axis)") }
            guard Set(values).count == values.count else { throw ModelError("the sweep's \(axis)s repeat: \(values)") }
        }
        try requireDistinct(tasks, "task")
        try requireDistinct(regularizers, "regularizer")
        try requireDistinct(seeds, "seed")
        try requireDistinct(fractions, "train fraction")
        for name in regularizers where !Self.regularizerNames.contains(name) {
            throw ModelError("unknown regularizer \(name); expected \(Self.regularizerNames.joined(separator: ", "))")
        }
        for fraction in fractions where !(fraction > 0 && fraction <= 1) {
            throw ModelError("train fraction \(fraction) is outside (0, 1]")
        }
        if regularizers.contains("guided") && schedule == nil {
            throw ModelError("the guided regularizer needs a schedule file (`guided schedule`)")
        }
        for task in tasks where data[task.rawValue] == nil {
            throw ModelError("no data for \(task.displayName); give --data \(task.rawValue)=PATH or the GLUE root folder")
        }
        for argument in finetuneArguments {
            let flag = String(argument.split(separator: "=", maxSplits: 1).first ?? "")
            if Self.reservedFlags.contains(flag) {
                throw ModelError("\(flag) is set by the sweep for each job; it cannot be passed through to finetune")
            }
        }
        self.model = model
        self.data = data.filter { key, _ in tasks.contains { $0.rawValue == key } }
        self.tasks = tasks
        self.regularizers = regularizers
        self.seeds = seeds
        self.fractions = fractions
        self.schedule = regularizers.contains("guided") ? schedule : nil
        self.finetuneArguments = finetuneArguments
    }

    /// Every job, task-major, then fraction, regularizer and seed, so that a partly finished sweep
    /// already holds whole table cells.
    public var jobs: [SweepJob] {
        var jobs: [SweepJob] = []
        for task in tasks {
            for fraction in fractions {
                for regularizer in regularizers {
                    for seed in seeds {
                        jobs.append(SweepJob(index: jobs.count, task: task, regularizer: regularizer, seed: seed, fraction: fraction))
                    }
                }
            }
        }
        return jobs
    }

    /// The `guided` arguments (after the executable) that run `job`, writing into `folder`.
    public func finetuneArguments(for job: SweepJob, folder: URL) -> [String] {
        var arguments = ["finetune", "--model", model, "--task", job.task.rawValue, "--data", data[job.task.rawValue] ?? "",
                         "--regularizer", job.regularizer, "--seed", "\(job.seed)", "--train-fraction", Self.label(job.fraction),
                         "--output", folder.path, "--predictions", folder.appendingPathComponent("predictions.jsonl").path,
                         "--resume"]
        if job.regularizer == "guided", let schedule { arguments += ["--schedule", schedule] }
        // A checkpoint per job would fill a disk (BERT-base: 440 MB × jobs); `-- --save-model` keeps them.
        if !finetuneArguments.contains("--save-model") { arguments.append("--no-save-model") }
        return arguments + finetuneArguments
    }

    /// A fraction as it appears in names and arguments: `1`, `0.5`, `0.125`.
    public static func label(_ fraction: Double) -> String { String(format: "%g", fraction) }
}

/// A sweep folder: `sweep.json` (the plan), `jobs/<name>/` per job, the collected results.
public struct SweepFolder: Sendable {
    public let url: URL

    public init(_ url: URL) { self.url = url }

    public var planURL: URL { url.appendingPathComponent("sweep.json") }
    public func folder(of job: SweepJob) -> URL { url.appendingPathComponent("jobs").appendingPathComponent(job.name) }
    public func metricsURL(of job: SweepJob) -> URL { folder(of: job).appendingPathComponent("metrics.json") }
    public func isFinished(_ job: SweepJob) -> Bool { FileManager.default.fileExists(atPath: metricsURL(of: job).path) }

    /// Reads the plan, or explains that this is not a sweep folder.
    public func readPlan() throws -> SweepPlan {
        guard let data = FileManager.default.contents(atPath: planURL.path) else {
            throw ModelError("\(planURL.path): no sweep plan here; create one with `guided sweep plan --output \(url.path) …`")
        }
        do {
            return try JSONDecoder().decode(SweepPlan.self, from: data)
        } catch {
            throw ModelError("\(planURL.path): not a sweep plan written by guided (\(error))")
        }
    }

    /// Writes the plan; an existing different plan is an error (its finished jobs would be mixed
    /// with the new grid's) unless `replace`.
    public func write(_ plan: SweepPlan, replace: Bool = false) throws {
        if !replace, FileManager.default.fileExists(atPath: planURL.path) {
            let existing = try readPlan()
            guard existing == plan else {
                throw ModelError("\(planURL.path) already holds a different sweep; use another --output, or --force to replace the plan "
                                 + "(finished jobs whose names recur are kept)")
            }
        }
        try FileManager.default.createDirectory(at: url.appendingPathComponent("jobs"), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try writeFileAtomically(try encoder.encode(plan), to: planURL)
    }
}

extension GlueTask: Codable {}
