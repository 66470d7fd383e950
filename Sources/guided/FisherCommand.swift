import ArgumentParser
import Foundation
import GuidedCompute
import GuidedMethod
import GuidedModel
import Logging

struct Fisher: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Estimate the empirical Fisher information of a BERT or GPT-2 (and merge, report, compare Fisher files).",
        subcommands: [FisherEstimate.self, FisherMerge.self, FisherReportCommand.self, FisherCompareCommand.self],
        defaultSubcommand: FisherEstimate.self)
}

struct FisherEstimate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estimate",
        abstract: "Estimate the empirical Fisher of a model's pretraining objective on a corpus subsample.",
        discussion: """
            The Fisher is the mean over samples of each sample's squared gradient (not the square of a \
            batch gradient), where a sample's loss is the mean cross-entropy over its own predicted \
            tokens. BERT: the masked-LM objective, masked as DataCollatorForLanguageModeling does (15%; \
            80% [MASK], 10% random, 10% kept), drawn from --seed, so a run is reproducible. GPT-2: the \
            causal-LM objective, every token after the first predicted from the ones before it. Samples \
            without a predicted token are skipped and counted. The model runs in evaluation mode (no dropout).

            Corpus (--corpus, several allowed): a plain text file with one document per line, a .jsonl \
            file with a "text" field per line, or a folder of such files. Each document is one sample, \
            truncated to --max-length tokens (as the paper's code does), or split into several with --chunk.

            The result is a safetensors file with one F32 tensor per parameter, under the checkpoint's \
            names, plus metadata (samples, skipped, seed, fraction, max length, objective, model, SHA-256 \
            of the weights). Progress is checkpointed to OUTPUT.partial every --checkpoint-every samples \
            and on Ctrl-C; --resume continues to the same result as an uninterrupted run.
            """)

    @Option(help: "A BERT or GPT-2 checkpoint folder (config.json, model.safetensors, tokenizer files). A missing BERT MLM head is initialised.")
    var model: String

    @Option(help: "The Fisher file to write (.safetensors).")
    var output: String

    @OptionGroup var source: MaskedSampleSource

    @Option(help: "Fraction of the corpus's documents to use, chosen with --seed; in (0, 1].")
    var fraction: Double = 1

    @Option(help: "Use at most this many samples.")
    var maxSamples: Int?

    @Option(help: "Seed for the subsample and the masks.")
    var seed: UInt64 = 0

    @Option(help: "Samples per batch (the result does not depend on it, up to float rounding).")
    var batchSize = 8

    @Option(help: "Compute shard I of N (\"I/N\", 0-based): every N-th sample starting at I. Merge with `guided fisher merge`.")
    var shard: String = "0/1"

    @Option(help: "Write the exact masked samples used, one JSON object per line (the HF collator's form).")
    var dumpInputs: String?

    @Option(help: "Checkpoint the running sums every this many samples.")
    var checkpointEvery = 1000

    @Flag(help: "Continue from OUTPUT.partial if it exists (else start from the beginning).")
    var resume = false

    @OptionGroup var compute: BackendOptions

    @Flag(help: "Print a JSON summary on stdout.")
    var json = false

    func validate() throws {
        guard fraction > 0 && fraction <= 1 else { throw ValidationError("--fraction must be in (0, 1], got \(fraction)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard checkpointEvery >= 1 else { throw ValidationError("--checkpoint-every must be at least 1") }
        if let maxSamples, maxSamples < 1 { throw ValidationError("--max-samples must be at least 1") }
        _ = try shardParts()
    }

    private func shardParts() throws -> (Int, Int) {
        let parts = shard.split(separator: "/").compactMap { Int($0) }
        guard parts.count == 2, parts[1] >= 1, parts[0] >= 0, parts[0] < parts[1] else {
            throw ValidationError("--shard must be I/N with 0 ≤ I < N, got \(shard)")
        }
        return (parts[0], parts[1])
    }

    func run() throws {
        let log = Logger(label: "guided.fisher")
        let folder = URL(fileURLWithPath: model)
        let outputURL = URL(fileURLWithPath: output)
        let checkpointURL = URL(fileURLWithPath: output + ".partial")
        let (shardIndex, shardCount) = try shardParts()

        let computeBackend = try compute.make(log)
        let (network, report) = try ModelLoader.load(folder, role: .pretraining, backend: computeBackend, seed: seed)
        if !report.initialized.isEmpty {
            let missing = report.initialized.joined(separator: ", ")
            log.warning("the checkpoint has no \(missing): initialised as transformers does; the Fisher of those tensors describes a random head")
        }
        let tokenizer = try tokenizer(inFolder: folder)
        let all = try source.samples(for: network, tokenizer: tokenizer, seed: seed, fraction: fraction, limit: maxSamples, log: log)
        let mine = all.shard(shardIndex, of: shardCount)
        if let dumpInputs { try writeMaskedSamples(mine, to: URL(fileURLWithPath: dumpInputs)) }
        log.info("\(mine.count) samples\(shardCount > 1 ? " in shard \(shardIndex)/\(shardCount) of \(all.count)" : ""), batches of at most \(batchSize), max length \(source.maxLength)")

        let settings = FisherSettings(
            model: folder.standardizedFileURL.path,
            checkpointSHA256: try fileSHA256(checkpointWeights(folder)),
            inputs: source.inputs.map { [$0] } ?? source.corpus, seed: seed, fraction: fraction, maxSamples: maxSamples,
            maxLength: source.maxLength, chunk: source.chunk, batchSize: batchSize, shardIndex: shardIndex, shardCount: shardCount,
            objective: network.family.objective.rawValue)
        let estimator = try FisherEstimator(model: network, settings: settings, samples: mine, checkpoint: checkpointURL)
        estimator.checkpointEvery = checkpointEvery
        if resume && FileManager.default.fileExists(atPath: checkpointURL.path) {
            try estimator.resume()
            log.info("resumed from \(checkpointURL.path) at sample \(estimator.position) of \(mine.count)")
        } else if resume {
            log.info("--resume: no checkpoint at \(checkpointURL.path) yet; starting from the beginning")
        }

        let interrupt = InterruptFlag()
        let meter = ProgressMeter(label: "fisher", unit: "samples", initial: estimator.position, log: log)
        let finished = try estimator.run(progress: { p in
            meter.update(done: p.done, total: p.total, detail: p.lastLoss.map { String(format: "loss %.3f", $0) } ?? "")
        }, shouldStop: { interrupt.isSet })
        meter.finish()
        guard finished else {
            log.warning("interrupted: progress saved to \(checkpointURL.path); rerun with the same flags and --resume")
            throw ExitCode(130)
        }
        try estimator.writeResult(to: outputURL, prefixed: report.prefixed)
        try? FileManager.default.removeItem(at: checkpointURL)
        log.info("wrote \(outputURL.path): \(estimator.samplesCounted) samples, \(estimator.samplesSkipped) skipped (no predicted token)")
        if json {
            let summary: [String: Any] = ["output": outputURL.path, "samples": estimator.samplesCounted,
                                          "skipped": estimator.samplesSkipped, "backend": network.backend.name]
            print(String(decoding: try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys]), as: UTF8.self))
        }
    }

}

struct FisherMerge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Combine Fisher files of shards (--shard I/N) into one, by count-weighted mean.",
        discussion: """
            Each file's `samples` metadata weighs its mean, so the result equals the unsharded run up to \
            float rounding. The files must hold the same tensors with the same shapes.
            """)

    @Argument(help: "The Fisher files of the shards.")
    var files: [String]

    @Option(help: "The merged Fisher file to write.")
    var output: String

    @Flag(help: "Merge even when the files' weights, objective, max length or seed differ.")
    var force = false

    func validate() throws {
        guard files.count >= 1 else { throw ValidationError("give at least one Fisher file") }
    }

    func run() throws {
        let log = Logger(label: "guided.fisher.merge")
        let shards = try files.map { try FisherFile(contentsOf: URL(fileURLWithPath: $0)) }
        // Shards of one estimate share the weights, objective and sample length; anything else
        // would average Fishers of different things.
        for key in ["checkpoint_sha256", "objective", "max_length", "seed"] {
            let values = Set(shards.map { $0.metadata[key] ?? "?" })
            if values.count > 1 && !force {
                throw ValidationError("the files disagree on \(key) (\(values.sorted().joined(separator: ", "))): "
                                      + "they are not shards of one estimate; --force merges them anyway")
            }
        }
        let merged = try FisherFile.merge(shards)
        try FisherFile.write(merged, to: URL(fileURLWithPath: output))
        log.info("wrote \(output): \(merged.samples ?? 0) samples from \(files.count) file(s)")
    }
}
