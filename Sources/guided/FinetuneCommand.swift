import ArgumentParser
import Foundation
import GuidedCompute
import GuidedMethod
import GuidedModel
import GuidedTraining
import Logging

struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a BERT or GPT-2 on a GLUE task with standard, Gaussian or guided dropout.",
        discussion: """
            The paper's recipe (§3), every value a flag: AdamW (lr 2e-5, β 0.9/0.999, ε 1e-6, no weight \
            decay), linear warm-up over the first 10% of steps then linear decay, 3 epochs, batch 8, \
            max length 128, the classifier initialised N(0, 0.02²).

            A restart is a seeded split (--seed): train and validation pooled, shuffled and split 80/20 \
            (MNLI keeps its official matched/mismatched sets); --train-fraction keeps the first part of \
            the shuffled training split (data paucity). --data is the task's GLUE folder (train.tsv, \
            dev.tsv; MNLI dev_matched/dev_mismatched), a folder of JSON Lines with datasets' field names, \
            or one file.

            Regularizers act at every dropout site, attention probabilities included: `dropout` \
            (Bernoulli, --p), `gaussian` (multiplicative N(1, α), α = p/(1−p) the variance; \
            --gaussian-std-alpha uses α as the standard deviation, as the paper's code did), `guided` \
            (Bernoulli with the per-site p of --schedule, from `guided schedule`; the classifier's \
            dropout keeps --p).

            Writes OUTPUT/metrics.json (per-epoch scores), the fine-tuned model as a transformers \
            checkpoint in OUTPUT, and with --predictions one {"label", "prediction"} per evaluation example.
            """)

    @Option(help: "A BERT or GPT-2 checkpoint folder (config.json, model.safetensors, tokenizer files).")
    var model: String

    @Option(help: "GLUE task: cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli.")
    var task: String

    @Option(help: "The task's data: a GLUE folder, a folder of .jsonl files, or one file.")
    var data: String

    @Option(help: "dropout, gaussian or guided.")
    var regularizer: RegularizerArgument = .dropout

    @Option(help: "Dropout probability for `dropout` and `gaussian` (and the classifier's under `guided`).")
    var p: Double = 0.1

    @Option(help: "A schedule file from `guided schedule` (for --regularizer guided).")
    var schedule: String?

    @Flag(help: "Gaussian noise with α = p/(1−p) as its standard deviation, not its variance (the paper's code).")
    var gaussianStdAlpha = false

    @Option(help: "Restart seed: the split, the batch order, the classifier initialisation and the dropout masks.")
    var seed: UInt64 = 0

    @Option(help: "Share of the shuffled training split to train on, in (0, 1].")
    var trainFraction: Double = 1

    @Option(help: "Peak learning rate.") var lr: Float = 2e-5
    @Option(help: "Adam β1.") var beta1: Float = 0.9
    @Option(help: "Adam β2.") var beta2: Float = 0.999
    @Option(help: "Adam ε.") var eps: Float = 1e-6
    @Option(help: "Decoupled weight decay.") var weightDecay: Float = 0
    @Option(help: "Share of the steps spent warming up.") var warmupRatio: Double = 0.1
    @Option(help: "Epochs.") var epochs = 3
    @Option(help: "Batch size.") var batchSize = 8
    @Option(help: "Tokens per example, specials included.") var maxLength = 128

    @Option(help: "Folder for metrics.json and the fine-tuned checkpoint.")
    var output: String

    @Option(help: "Write one {\"label\", \"prediction\"} JSON object per evaluation example here.")
    var predictions: String?

    @Flag(help: "Continue from OUTPUT/training-state.safetensors (saved after every epoch and on Ctrl-C) if it exists.")
    var resume = false

    @Flag(help: "Skip malformed data rows (counted in metrics.json and reported) instead of stopping.")
    var skipBadRows = false

    @Flag(inversion: .prefixedNo, help: "Save the fine-tuned model as a transformers checkpoint in OUTPUT (sweeps pass --no-save-model).")
    var saveModel = true

    @OptionGroup var compute: BackendOptions

    @Flag(help: "Print the final metrics as JSON on stdout.")
    var json = false


    func validate() throws {
        guard p >= 0 && p < 1 else { throw ValidationError("--p must be in [0, 1), got \(p)") }
        guard trainFraction > 0 && trainFraction <= 1 else { throw ValidationError("--train-fraction must be in (0, 1]") }
        guard epochs >= 1, batchSize >= 1, maxLength >= 3 else { throw ValidationError("--epochs, --batch-size ≥ 1 and --max-length ≥ 3") }
        guard warmupRatio >= 0 && warmupRatio <= 1 else { throw ValidationError("--warmup-ratio must be in [0, 1]") }
        if regularizer == .guided && schedule == nil { throw ValidationError("--regularizer guided needs --schedule FILE") }
        if regularizer != .guided && schedule != nil { throw ValidationError("--schedule is for --regularizer guided") }
    }

    func run() throws {
        let log = Logger(label: "guided.finetune")
        let glueTask = try GlueTask.named(task)
        let data = try GlueData.load(glueTask, from: URL(fileURLWithPath: data), options: GlueReadOptions(skipBadRows: skipBadRows))
        for file in data.files { log.info("\(file)") }
        let split = try data.restartSplit(seed: seed, trainFraction: trainFraction)
        let validationSizes = split.validation.map { "\($0.examples.count) in \($0.name)" }.joined(separator: ", ")
        log.info("\(glueTask.displayName): \(split.train.count) training examples (of \(split.fullTrainCount)), validation examples: \(validationSizes)")

        let computeBackend = try compute.make(log)
        let folder = URL(fileURLWithPath: model)
        let role = ModelRole.classification(labels: glueTask.numLabels, regression: glueTask.isRegression)
        let (network, report) = try ModelLoader.load(folder, role: role, backend: computeBackend, seed: seed)
        if !report.initialized.isEmpty { log.info("initialised (as transformers does): \(report.initialized.joined(separator: ", "))") }
        for note in report.notes { log.info("\(note)") }

        guard maxLength <= network.maxPositions else {
            throw ValidationError("--max-length \(maxLength) exceeds the model's \(network.maxPositions) positions")
        }
        let noise = try regularizer.noise(p: p, stdAlpha: gaussianStdAlpha, schedule: schedule.map { URL(fileURLWithPath: $0) },
                                          architecture: network.architecture)
        var recipe = FineTuneRecipe()
        (recipe.learningRate, recipe.beta1, recipe.beta2, recipe.eps, recipe.weightDecay) = (lr, beta1, beta2, eps, weightDecay)
        (recipe.warmupRatio, recipe.epochs, recipe.batchSize, recipe.maxLength) = (warmupRatio, epochs, batchSize, maxLength)
        let tuner = try FineTuner(model: network, task: glueTask, tokenizer: try tokenizer(inFolder: folder), recipe: recipe,
                                  noise: noise, seed: seed)
        let outputURL = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: outputURL, withIntermediateDirectories: true)
        let stateURL = outputURL.appendingPathComponent("training-state.safetensors")
        tuner.checkpoint = stateURL
        tuner.fingerprint = fingerprint(folder)
        if resume && !FileManager.default.fileExists(atPath: stateURL.path) {
            log.info("--resume: no saved state at \(stateURL.path) yet; starting from the beginning")
        }
        let interrupt = InterruptFlag()
        let meter = ProgressMeter(label: "finetune", unit: "steps", log: log)
        let started = Date()
        let finished = try tuner.run(split, resume: resume, shouldStop: { interrupt.isSet }) { step, total, loss in
            meter.update(done: step, total: total, detail: String(format: "loss %.4f", loss))
        }
        meter.finish()
        let seconds = Date().timeIntervalSince(started)
        if tuner.trainedSamples > 0 {
            let rate = Double(tuner.trainedSamples) / tuner.trainingSeconds
            let line = String(format: "training: %d samples in %.1f s of optimizer steps, %.2f samples/s",
                              tuner.trainedSamples, tuner.trainingSeconds, rate)
            log.info("\(line)")
        }
        guard let results = finished else {
            log.warning("interrupted: state saved to \(stateURL.path); rerun with the same flags and --resume")
            throw ExitCode(130)
        }

        if saveModel { try network.save(to: outputURL, tokenizerFrom: folder) }
        struct Epoch: Encodable { let epoch: Int, trainLoss: Double, scores: [String: [String: Double?]] }
        struct Metrics: Encodable {
            let task: String, regularizer: String, p: Double, seed: UInt64, trainFraction: Double, trainExamples: Int
            let epochs: [Epoch], final: [String: [String: Double?]]
            let data: [GlueFileSummary]
            /// This invocation's wall time (a resumed run counts only its own part), and its training
            /// throughput: samples per second spent in optimizer steps (evaluation and checkpoints excluded).
            let seconds: Double, trainingSamplesPerSecond: Double
        }
        // JSON has no NaN: an undefined score (constant STS-B predictions) is null.
        func defined(_ scores: [String: [String: Double]]) -> [String: [String: Double?]] {
            scores.mapValues { $0.mapValues { $0.isFinite ? $0 : nil } }
        }
        let epochs = results.map { Epoch(epoch: $0.epoch, trainLoss: $0.trainLoss, scores: defined($0.scores)) }
        let metrics = Metrics(task: glueTask.rawValue, regularizer: regularizer.rawValue, p: p, seed: seed,
                              trainFraction: trainFraction, trainExamples: split.train.count,
                              epochs: epochs, final: defined(results.last?.scores ?? [:]), data: data.files,
                              seconds: seconds, trainingSamplesPerSecond: Double(tuner.trainedSamples) / max(tuner.trainingSeconds, 1e-9))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let metricsData = try encoder.encode(metrics)
        try writeFileAtomically(metricsData, to: outputURL.appendingPathComponent("metrics.json"))
        for (name, scores) in (results.last?.scores ?? [:]).sorted(by: { $0.key < $1.key }) {
            let line = scores.sorted { $0.key < $1.key }.map { String(format: "%@ %.4f", $0.key, $0.value) }.joined(separator: ", ")
            log.info("\(name): \(line)")
        }
        if let predictions {
            var lines = Data()
            for validation in split.validation {
                // The final epoch's evaluation (a resumed run that had finished training has none yet).
                let predicted = try tuner.lastPredictions[validation.name]
                    ?? tuner.evaluate(validation.examples, split: validation.name).predictions
                for (example, prediction) in zip(validation.examples, predicted) {
                    let object: [String: Any] = ["split": validation.name, "label": example.label, "prediction": prediction]
                    lines.append(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
                    lines.append(UInt8(ascii: "\n"))
                }
            }
            try writeFileAtomically(lines, to: URL(fileURLWithPath: predictions))
        }
        try? FileManager.default.removeItem(at: stateURL)
        log.info("wrote \(outputURL.path) (\(saveModel ? "checkpoint and " : "")metrics.json)")
        if json { print(String(decoding: metricsData, as: UTF8.self)) }
    }

    /// Everything that determines the run, so a saved state resumes only into the same run.
    private func fingerprint(_ folder: URL) -> String {
        [folder.standardizedFileURL.path, task, URL(fileURLWithPath: data).standardizedFileURL.path, regularizer.rawValue,
         "\(p)", schedule ?? "", "\(gaussianStdAlpha)", "\(seed)", "\(trainFraction)", "\(lr)", "\(beta1)", "\(beta2)",
         "\(eps)", "\(weightDecay)", "\(warmupRatio)", "\(epochs)", "\(batchSize)", "\(maxLength)"].joined(separator: "|")
    }
}

extension RegularizerArgument: ExpressibleByArgument {}
