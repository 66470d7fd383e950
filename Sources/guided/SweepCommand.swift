import ArgumentParser
import Foundation
import GuidedMethod
import GuidedModel
import GuidedTraining
import Logging

/// `guided sweep`: the paper's Table 2 and Figure 4 as a grid of independent fine-tuning jobs.
struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Regularizers × restart seeds × train fractions × tasks as independent fine-tuning jobs.",
        discussion: """
            guided sweep plan --model M --data glue_data --tasks rte,mrpc --schedule s.json --output S \
            [-- FINETUNE FLAGS]
            guided sweep run S --jobs 2          # here; or: sbatch S/sweep.sbatch (Slurm job array)
            guided sweep collect S               # S/results.md, results.json, plots/figure4-*.svg

            Each job is `guided finetune` into S/jobs/<task>-<regularizer>-f<fraction>-s<seed>/; a job is \
            finished when its metrics.json exists, so `run`, `job` and a resubmitted array skip finished \
            jobs and resume interrupted ones from their saved training state.
            """,
        subcommands: [SweepPlanCommand.self, SweepRunCommand.self, SweepJobCommand.self, SweepCollectCommand.self])
}

struct SweepPlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Write a sweep's plan, its job list and a Slurm array script into --output.",
        discussion: """
            Flags after `--` go to every `guided finetune` (e.g. -- --epochs 3 --backend opencl --p 0.1); \
            they are checked now. Writes OUTPUT/sweep.json (the plan), OUTPUT/jobs.txt (one command line \
            per job, for any scheduler) and OUTPUT/sweep.sbatch (a Slurm job array over the jobs; add \
            your cluster's partition and GPU lines before submitting).
            """)

    @Option(help: "The BERT or GPT-2 checkpoint folder every job fine-tunes.")
    var model: String

    @Option(help: "Task data: the GLUE root folder (glue_data/, holding MRPC/, RTE/, ...) for every task, or TASK=PATH for one; repeatable.")
    var data: [String] = []

    @Option(help: "Comma-separated GLUE tasks: cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli (or all).")
    var tasks: String

    @Option(help: "Comma-separated regularizers.")
    var regularizers = "dropout,gaussian,guided"

    @Option(help: "Restarts per cell: seeds 0 … N−1.")
    var restarts = 5

    @Option(help: "Comma-separated restart seeds (instead of --restarts).")
    var seeds: String?

    @Option(help: "Comma-separated train fractions in (0, 1] (the paper's Figure 4: 1,0.8,0.6,0.4,0.2,0.1).")
    var fractions = "1"

    @Option(help: "The schedule file from `guided schedule` (needed for the guided regularizer).")
    var schedule: String?

    @Option(help: "The sweep folder.")
    var output: String

    @Flag(help: "Replace a different plan already in --output.")
    var force = false

    @Argument(parsing: .postTerminator, help: "`guided finetune` flags for every job, after `--`.")
    var finetuneArguments: [String] = []

    func run() throws {
        let log = Logger(label: "guided.sweep")
        func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
        func list<T>(_ text: String, _ what: String, _ parse: (String) -> T?) throws -> [T] {
            try text.split(separator: ",").map { item in
                let trimmed = item.trimmingCharacters(in: .whitespaces)
                guard let value = parse(trimmed) else { throw ModelError("\(what): cannot read '\(trimmed)'") }
                return value
            }
        }
        let taskList: [GlueTask] = tasks == "all" ? GlueTask.allCases : try list(tasks, "--tasks") { try? GlueTask.named($0) }
        let seedList: [UInt64] = try seeds.map { try list($0, "--seeds") { UInt64($0) } } ?? (0..<UInt64(max(restarts, 0))).map { $0 }
        let fractionList: [Double] = try list(fractions, "--fractions") { Double($0) }
        let regularizerList: [String] = try list(regularizers, "--regularizers") { $0 }

        var dataPaths: [String: String] = [:]
        for item in data {
            if let equals = item.firstIndex(of: "="), let task = try? GlueTask.named(String(item[..<equals])) {
                dataPaths[task.rawValue] = absolute(String(item[item.index(after: equals)...]))
            } else {
                for task in taskList where dataPaths[task.rawValue] == nil { dataPaths[task.rawValue] = absolute(item) }
            }
        }
        for (name, path) in [("--model", model), ("--schedule", schedule ?? model)] + dataPaths.map({ ("--data", $0.value) })
            where !FileManager.default.fileExists(atPath: path)
        {
            throw ModelError("\(name) \(path): no such file or folder")
        }

        let plan = try SweepPlan(model: absolute(model), data: dataPaths, tasks: taskList, regularizers: regularizerList,
                                 seeds: seedList, fractions: fractionList, schedule: schedule.map(absolute),
                                 finetuneArguments: finetuneArguments)
        let folder = SweepFolder(URL(fileURLWithPath: output).standardizedFileURL)
        // The pass-through flags are checked now, not when the first job starts on a cluster.
        for job in plan.jobs.prefix(1) {
            _ = try Finetune.parse(Array(plan.finetuneArguments(for: job, folder: folder.folder(of: job)).dropFirst()))
        }
        try folder.write(plan, replace: force)
        try writeJobScripts(plan, folder)
        let finished = plan.jobs.filter(folder.isFinished).count
        log.info("""
            \(plan.jobs.count) jobs (\(plan.tasks.count) tasks × \(plan.fractions.count) fractions × \
            \(plan.regularizers.count) regularizers × \(plan.seeds.count) seeds), \(finished) already finished, in \(folder.url.path)
            """)
        print("""
            run here:        guided sweep run \(shellQuoted(folder.url.path)) --jobs 1
            or on Slurm:     sbatch \(shellQuoted(folder.url.appendingPathComponent("sweep.sbatch").path))
            then:            guided sweep collect \(shellQuoted(folder.url.path))
            """)
    }

    private func writeJobScripts(_ plan: SweepPlan, _ folder: SweepFolder) throws {
        let executable = shellQuoted(ChildProcess.currentExecutable)
        let sweepPath = shellQuoted(folder.url.path)
        let lines = plan.jobs.map { "\(executable) sweep job \(sweepPath) --index \($0.index)" }
        try writeFileAtomically(Data((lines.joined(separator: "\n") + "\n").utf8), to: folder.url.appendingPathComponent("jobs.txt"))
        let script = """
            #!/bin/bash
            # guided sweep: \(plan.jobs.count) fine-tuning jobs as a Slurm job array. Submit with
            #   sbatch \(folder.url.appendingPathComponent("sweep.sbatch").path)
            # Add your cluster's lines (partition, time, a GPU: #SBATCH --gres=gpu:1) below. Resubmitting runs
            # only what is unfinished: a finished job exits at once, an interrupted one resumes.
            #SBATCH --job-name=guided-sweep
            #SBATCH --array=0-\(plan.jobs.count - 1)
            #SBATCH --output=\(folder.url.path)/jobs/slurm-%A_%a.log
            #SBATCH --cpus-per-task=4

            exec \(executable) sweep job \(sweepPath) --index "$SLURM_ARRAY_TASK_ID"

            """
        let url = folder.url.appendingPathComponent("sweep.sbatch")
        try writeFileAtomically(Data(script.utf8), to: url)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
    }
}

struct SweepJobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job",
        abstract: "Run one job of a sweep (what each Slurm array task runs); a finished job exits at once.")

    @Argument(help: "The sweep folder.")
    var sweep: String

    @Option(help: "The job's index in the plan (0-based; $SLURM_ARRAY_TASK_ID).")
    var index: Int

    func run() throws {
        let log = Logger(label: "guided.sweep")
        let folder = SweepFolder(URL(fileURLWithPath: sweep).standardizedFileURL)
        let plan = try folder.readPlan()
        let jobs = plan.jobs
        guard jobs.indices.contains(index) else {
            throw ModelError("--index \(index): the sweep has jobs 0–\(jobs.count - 1)")
        }
        let job = jobs[index]
        if folder.isFinished(job) {
            log.info("\(job.name): already finished (\(folder.metricsURL(of: job).path))")
            return
        }
        try FileManager.default.createDirectory(at: folder.folder(of: job), withIntermediateDirectories: true)
        let arguments = plan.finetuneArguments(for: job, folder: folder.folder(of: job))
        log.info("\(job.name): guided \(arguments.map(shellQuoted).joined(separator: " "))")
        var finetune = try Finetune.parse(Array(arguments.dropFirst()))
        try finetune.run()
    }
}

struct SweepRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a sweep's unfinished jobs here, --jobs at a time, then collect the results.",
        discussion: """
            Each job runs as its own `guided sweep job` process with its log in jobs/<name>/log.txt. \
            Ctrl-C stops every running job after its current batch, with its state saved; running the \
            same command again resumes them. On the CPU backend each job uses every core: --jobs 1 is \
            fastest there; with several GPUs, give jobs different devices through separate sweeps or Slurm.
            """)

    @Argument(help: "The sweep folder (from `guided sweep plan`).")
    var sweep: String

    @Option(help: "Jobs running at once.")
    var jobs = 1

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let log = Logger(label: "guided.sweep")
        let folder = SweepFolder(URL(fileURLWithPath: sweep).standardizedFileURL)
        let plan = try folder.readPlan()
        var pending = plan.jobs.filter { !folder.isFinished($0) }
        let finishedBefore = plan.jobs.count - pending.count
        log.info("\(plan.jobs.count) jobs, \(finishedBefore) finished, \(pending.count) to run, \(jobs) at a time")

        let interrupt = InterruptFlag()
        let meter = ProgressMeter(label: "sweep", unit: "jobs", initial: finishedBefore, log: log)
        var running: [(job: SweepJob, process: ChildProcess)] = []
        var failed: [(job: SweepJob, status: Int32)] = []
        var done = finishedBefore, forwarded = false
        while !pending.isEmpty || !running.isEmpty {
            if interrupt.isSet && !forwarded {
                running.forEach { $0.process.interrupt() }
                forwarded = true
                pending.removeAll()
            }
            while running.count < jobs, !pending.isEmpty, !interrupt.isSet {
                let job = pending.removeFirst()
                let jobFolder = folder.folder(of: job)
                try FileManager.default.createDirectory(at: jobFolder, withIntermediateDirectories: true)
                let process = try ChildProcess(arguments: ["sweep", "job", folder.url.path, "--index", "\(job.index)"],
                                               log: jobFolder.appendingPathComponent("log.txt"))
                running.append((job, process))
            }
            var stillRunning: [(job: SweepJob, process: ChildProcess)] = []
            for entry in running {
                guard let status = entry.process.poll() else { stillRunning.append(entry); continue }
                if status == 0 && folder.isFinished(entry.job) {
                    done += 1
                } else if !(interrupt.isSet && status == 130) {
                    failed.append((entry.job, status))
                    log.error("\(entry.job.name) failed (exit \(status)); see \(folder.folder(of: entry.job).appendingPathComponent("log.txt").path)")
                }
            }
            running = stillRunning
            meter.update(done: done, total: plan.jobs.count, detail: "\(running.count) running, \(failed.count) failed")
            if !running.isEmpty || !pending.isEmpty { Thread.sleep(forTimeInterval: 0.2) }
        }
        meter.finish()

        let results = try SweepResults(folder: folder)
        try writeSweepResults(results, to: folder, log: log)
        print(results.markdown())
        if interrupt.isSet {
            log.warning("interrupted: running jobs saved their state; run `guided sweep run \(folder.url.path)` again to resume")
            throw ExitCode(130)
        }
        if !failed.isEmpty {
            throw ModelError("\(failed.count) of the sweep's jobs failed: " + failed.map { "\($0.job.name) (exit \($0.status))" }.joined(separator: ", "))
        }
    }
}

struct SweepCollectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collect",
        abstract: "Collect a sweep's finished jobs into the paper's Table 2 and Figure 4 forms.",
        discussion: """
            Writes SWEEP/results.md (Table 2: max / mean over restarts per regularizer and task at each \
            train fraction; with several fractions, Figure 4's mean and inter-quartile range per fraction), \
            SWEEP/results.json (every run, every cell: values, max, mean, std, median, quartiles) and \
            SWEEP/plots/figure4-<task>.svg (box plots over restarts per fraction and regularizer). \
            Unfinished jobs are listed, and cells missing restarts say so ("3 of 5").
            """)

    @Argument(help: "The sweep folder.")
    var sweep: String

    @Flag(help: "Print results.json on stdout instead of the Markdown.")
    var json = false

    func run() throws {
        let log = Logger(label: "guided.sweep")
        let folder = SweepFolder(URL(fileURLWithPath: sweep).standardizedFileURL)
        let results = try SweepResults(folder: folder)
        try writeSweepResults(results, to: folder, log: log)
        print(json ? String(decoding: try results.json(), as: UTF8.self) : results.markdown())
    }
}

/// results.md, results.json and the Figure 4 box plots of a sweep folder.
private func writeSweepResults(_ results: SweepResults, to folder: SweepFolder, log: Logger) throws {
    try writeFileAtomically(Data(results.markdown().utf8), to: folder.url.appendingPathComponent("results.md"))
    try writeFileAtomically(try results.json(), to: folder.url.appendingPathComponent("results.json"))
    let plots = folder.url.appendingPathComponent("plots")
    try FileManager.default.createDirectory(at: plots, withIntermediateDirectories: true)
    var written = 0
    for task in results.plan.tasks {
        for split in task.validationSplitNames {
            let name = "figure4-\(task.rawValue)" + (split == "validation_mismatched" ? "-mm" : "") + ".svg"
            try writeFileAtomically(Data(results.figure4(task: task, split: split).svg().utf8), to: plots.appendingPathComponent(name))
            written += 1
        }
    }
    if !results.missing.isEmpty { log.warning("\(results.missing.count) of \(results.plan.jobs.count) jobs not finished yet") }
    log.info("wrote \(folder.url.path)/results.md, results.json and \(written) plot(s) in plots/")
}

/// `text` quoted for a POSIX shell where it needs to be.
func shellQuoted(_ text: String) -> String {
    let safe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%")
    if !text.isEmpty && text.unicodeScalars.allSatisfy(safe.contains) { return text }
    return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
