import ArgumentParser
import Foundation
import GuidedMethod
import GuidedModel

/// `guided schedule`: a guided-dropout schedule from a Fisher file (paper §2.3, appendix A.4).
struct Schedule: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Turn a Fisher file into a per-site dropout schedule (JSON keyed by transformers module path).",
        discussion: """
            The Fisher file is checked against the model in --model. Each dropout site gets the score of \
            the layer group that precedes it: embeddings → embeddings.dropout; per layer attention.self \
            (query, key, value) → the attention-probabilities dropout, attention.output → \
            attention.output.dropout, output → output.dropout — 1 + 3·L sites, 37 for BERT-base. A group's \
            score is the mean of its tensors' mean Fisher (--aggregate weighted: total over count).

            Sites are sorted by score, ascending; ties go in network order (the earlier site first, so it \
            gets the higher p). p falls from --p-upper at the least informative site to --p-lower at the \
            most informative one: linear (the paper's) p_i = p_upper − i·(p_upper − p_lower)/(n − 1); \
            cosine p_i = p_lower + (p_upper − p_lower)·(1 + cos(π·i/(n − 1)))/2; power \
            p_i = p_lower + (p_upper − p_lower)·(1 − i/(n − 1))^γ with γ = --power. p is rounded to 12 \
            decimals, so --p-upper 0.099 --p-lower 0 on BERT-base gives the paper code's 0.099, 0.09625, \
            …, 0.00275, 0.

            The classifier's dropout is NOT in the schedule (no layer group precedes it): fine-tuning \
            keeps its configured p (classifier_dropout, else hidden_dropout_prob) unless told otherwise.

            Apply a schedule to a transformers model with tools/apply_schedule.py \
            (model.get_submodule(path).p = p for each site).
            """)

    @Option(help: "The Fisher file (.safetensors) written by `guided fisher estimate` or `merge`.")
    var fisher: String

    @Option(help: "The model folder (config.json, model.safetensors) the Fisher was estimated for.")
    var model: String

    @Option(help: "Write the schedule (JSON) to this file.")
    var output: String?

    @Option(help: "p of the least informative site (lowest Fisher score).")
    var pUpper: Double = 0.1

    @Option(help: "p of the most informative site (highest Fisher score).")
    var pLower: Double = 0

    @Option(help: "How p falls from --p-upper to --p-lower along the sorted sites: linear (the paper's), cosine or power.")
    var shape: ShapeArgument = .linear

    @Option(help: "Exponent γ of --shape power (> 0; 1 is linear, > 1 drops faster at first; default 2).")
    var power: Double?

    @Option(help: "Group score: mean-of-means (the paper's) or weighted (parameter-weighted mean).")
    var aggregate: GroupAggregateArgument = .meanOfMeans

    @Option(help: "Also draw the sorted scores (log scale) with the assigned p as SVG to this file.")
    var plot: String?

    @Flag(help: "Print the schedule file's JSON on stdout; the table goes to stderr.")
    var json = false

    var scheduleShape: ScheduleShape {
        switch shape {
        case .linear: return .linear
        case .cosine: return .cosine
        case .power: return .power(power ?? 2)
        }
    }

    func validate() throws {
        guard output != nil || json else { throw ValidationError("give --output FILE (or --json for stdout)") }
        if power != nil && shape != .power { throw ValidationError("--power is the exponent of --shape power") }
        do {
            try DropoutSchedule.validate(pUpper: pUpper, pLower: pLower, shape: scheduleShape)
        } catch let error as ModelError {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        let file = try FisherFile(contentsOf: URL(fileURLWithPath: fisher))
        let architecture = try fisherArchitecture(of: file, model: model)
        let schedule = try DropoutSchedule(fisher: file, architecture: architecture, aggregate: aggregate.value,
                                           shape: scheduleShape, pUpper: pUpper, pLower: pLower)
        let scheduleFile = schedule.file(model: model, fisher: fisher)
        let text = json ? FileHandle.standardError : FileHandle.standardOutput
        func say(_ line: String) { text.write(Data((line + "\n").utf8)) }

        let table = schedule.table()
        let rendered = TextTable(columns: table.columns)
        for row in table.rows { rendered.add(row) }
        say(table.title + "\n" + rendered.render())
        if architecture.sites.contains(where: { $0.kind == .classifier }) {
            say("the classifier's dropout is not scheduled: it keeps its configured p")
        }
        if let output {
            let url = URL(fileURLWithPath: output)
            try scheduleFile.write(to: url)
            say("wrote \(url.path)")
        }
        if let plot {
            let url = URL(fileURLWithPath: plot)
            try Data(schedule.chart().svg().utf8).write(to: url, options: .atomic)
            say("wrote \(url.path)")
        }
        if json { FileHandle.standardOutput.write(try scheduleFile.encoded() + Data("\n".utf8)) }
    }
}

/// `--shape` as a command-line value.
enum ShapeArgument: String, ExpressibleByArgument, CaseIterable {
    case linear, cosine, power
}
