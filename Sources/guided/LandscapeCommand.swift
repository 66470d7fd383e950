import ArgumentParser
import Foundation
import GuidedCompute
import GuidedMethod
import GuidedModel
import Logging

struct Landscape: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The pretraining-loss landscape around a checkpoint, perturbing all, the top, bottom or random parameters by Fisher.",
        discussion: """
            f(α, β) = L(θ₀ + αδ + βη) on a --grid × --grid lattice over --range (a 1-D slice f(α) with \
            --1d), where L is the mean over --samples samples of each one's mean pretraining \
            cross-entropy (BERT: masked LM, the same masks at every point; GPT-2: causal LM), the model \
            in evaluation mode.

            δ and η are random normal (--seed), zero for vectors (biases, LayerNorm), each matrix scaled to \
            its weights' norm (--normalize layer, the paper code's) or each output unit to the unit's \
            (--normalize filter, Li et al.'s: rows, or columns of GPT-2's Conv1D weights); they are saved as OUTPUT/directions.safetensors and reused \
            with --directions.

            --perturb picks what moves (comma-separated for several surfaces in one run): all, or the \
            top, bottom or random --fraction of the matrices' parameters, by whole tensors ranked by mean \
            Fisher (--by tensor, the paper code's; the share reached is reported) or by element \
            (--by element, exact). --fractions 0.8,0.6,0.4,0.2,0.0025 gives the paper's Figure 2 series.
            The paper's Figure 1: --perturb all,top,bottom --fraction 0.5.

            Writes OUTPUT/landscape.json and .csv, SVG plots (a heatmap with contours per surface; in 1-D \
            one chart of all curves) and a sharpness summary: L(θ₀), the mean rise at radius --radius, \
            and the curvature at the centre. Points are appended to OUTPUT/points.jsonl as they finish; \
            --resume continues a killed run. A negative range needs the = form: --range=-1:1.
            """)

    @Option(help: "A BERT or GPT-2 checkpoint folder (a missing MLM head is initialised, as transformers does).")
    var model: String

    @OptionGroup var source: MaskedSampleSource

    @Option(help: "Masked samples in the evaluation set (the first of the corpus, or of --inputs).")
    var samples = 64

    @Option(help: "The model's Fisher file (for --perturb top or bottom).")
    var fisher: String?

    @Option(help: "Folder for the results, plots, directions and points.")
    var output: String

    @Option(help: "Points per axis.")
    var grid = 16

    @Option(help: "LOW:HIGH of α and β, in units of the normalised directions.")
    var range = "-1.5:1.5"

    @Flag(name: .customLong("1d"), help: "A 1-D slice f(α) = L(θ₀ + αδ) instead of a 2-D surface.")
    var oneDimensional = false

    @Option(help: "Direction scaling: layer (each tensor to its weights' norm) or filter (each row to its row's).")
    var normalize: DirectionNormalization = .layer

    @Option(help: "Read δ and η from this safetensors file (delta.<name>, eta.<name>) instead of drawing them.")
    var directions: String?

    @Option(help: "What moves, comma-separated: all, top, bottom, random.")
    var perturb = "all"

    @Option(help: "Share of the matrices' parameters that moves for top, bottom and random, in (0, 1].")
    var fraction = 0.5

    @Option(help: "Several shares at once (comma-separated), one surface each (the paper's Figure 2).")
    var fractions: String?

    @Option(help: "Select whole tensors by mean Fisher (tensor) or single elements (element).")
    var by: SelectionUnit = .tensor

    @Option(help: "Radius of the sharpness summary points.")
    var radius = 0.1

    @Option(help: "Seed of the directions, the masks and random selections.")
    var seed: UInt64 = 0

    @Option(help: "Samples per forward batch.")
    var batchSize = 8

    @Flag(help: "Continue from OUTPUT/points.jsonl (same settings) instead of starting over.")
    var resume = false

    @OptionGroup var compute: BackendOptions

    @Flag(help: "Print landscape.json on stdout.")
    var json = false

    func validate() throws {
        guard samples >= 1, batchSize >= 1 else { throw ValidationError("--samples and --batch-size must be at least 1") }
        guard radius > 0 && radius.isFinite else { throw ValidationError("--radius must be positive") }
        _ = try gridSpec()
        for share in try shares() where !(share > 0 && share <= 1) {
            throw ValidationError("--fraction(s) must be in (0, 1], got \(share)")
        }
        let sets = try perturbedSets()
        if sets.contains(where: { $0 == .top || $0 == .bottom }) && fisher == nil {
            throw ValidationError("--perturb top or bottom needs --fisher FILE (from `guided fisher`)")
        }
    }

    private func gridSpec() throws -> LandscapeGrid {
        let parts = range.split(separator: ":").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let low = parts[0], let high = parts[1] else {
            throw ValidationError("--range must be LOW:HIGH (e.g. --range=-1.5:1.5), got \(range)")
        }
        guard low < high else { throw ValidationError("--range \(range) is empty: LOW must be below HIGH") }
        do { return try LandscapeGrid(count: grid, range: low...high, oneDimensional: oneDimensional) }
        catch { throw ValidationError("\(error)") }
    }

    private func shares() throws -> [Double] {
        guard let fractions else { return [fraction] }
        return try fractions.split(separator: ",").map {
            guard let value = Double($0.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--fractions: cannot read '\($0)'") }
            return value
        }
    }

    private func perturbedSets() throws -> [PerturbedSet] {
        try perturb.split(separator: ",").map {
            guard let set = PerturbedSet(rawValue: $0.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--perturb: '\($0)' is not all, top, bottom or random")
            }
            return set
        }
    }

    func run() throws {
        let log = Logger(label: "guided.landscape")
        let folder = URL(fileURLWithPath: model)
        let out = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let computeBackend = try compute.make(log)
        let (network, report) = try ModelLoader.load(folder, role: .pretraining, backend: computeBackend, seed: seed)
        if !report.initialized.isEmpty {
            log.warning("the checkpoint has no \(report.initialized.joined(separator: ", ")): initialised as transformers does; the landscape is that of a random LM head")
        }
        let architecture = network.architecture
        let tokenizer = try tokenizer(inFolder: folder)
        let evaluationSet = try source.samples(for: network, tokenizer: tokenizer, seed: seed, limit: samples, log: log)
        let evaluator = try LandscapeEvaluator(model: network, samples: evaluationSet, batchSize: batchSize)
        log.info("evaluation set: \(evaluator.samples) samples (\(evaluator.skipped) without a predicted token left out)")

        // What moves.
        let fisherValues = try fisher.map {
            try FisherFile(contentsOf: URL(fileURLWithPath: $0)).layoutValues(for: architecture)
        }
        var selections: [ParameterSelection] = []
        for set in try perturbedSets() {
            for share in set == .all ? [1] : try shares() {
                let selection = try ParameterSelection.select(set, fraction: share, unit: by, layout: architecture.layout,
                                                              fisher: fisherValues, seed: seed)
                log.info("\(selection.name): \(selection.moved) of \(selection.movable) matrix parameters move (\(String(format: "%.3g%%", 100 * selection.share)))")
                selections.append(selection)
            }
        }

        // Directions: read, or drawn from the seed and saved for reuse.
        let directionsURL = out.appendingPathComponent("directions.safetensors")
        let chosen: LandscapeDirections
        if let directions {
            chosen = try LandscapeDirections(contentsOf: URL(fileURLWithPath: directions), architecture: architecture)
        } else {
            chosen = LandscapeDirections.random(layout: architecture.layout, parameters: try computeBackend.download(network.parameters),
                                                seed: seed, normalization: normalize, inputMajor: architecture.isInputMajor)
            try chosen.write(to: directionsURL, architecture: architecture)
        }

        // The run's settings: a resumed run must be the same run.
        let settings = LandscapeSettings(
            model: folder.standardizedFileURL.path, checkpointSHA256: try fileSHA256(checkpointWeights(folder)),
            inputs: source.inputs.map { [$0] } ?? source.corpus, seed: seed, samples: evaluator.samples,
            maxLength: source.maxLength, grid: try gridSpec(), normalization: directions == nil ? normalize : chosen.normalization,
            directions: directions.map { URL(fileURLWithPath: $0).standardizedFileURL.path }, fisher: fisher,
            selections: selections.map(\.name), radius: radius)
        let runURL = out.appendingPathComponent("run.json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let pointsURL = out.appendingPathComponent("points.jsonl")
        if resume, let saved = FileManager.default.contents(atPath: runURL.path) {
            guard (try? JSONDecoder().decode(LandscapeSettings.self, from: saved)) == settings else {
                throw ModelError("\(runURL.path): the saved run has other settings; rerun with its flags, or without --resume to start over")
            }
        } else if !resume && FileManager.default.fileExists(atPath: pointsURL.path) {
            log.info("starting over: \(pointsURL.path) replaced (--resume continues a run)")
        }
        try writeFileAtomically(try encoder.encode(settings), to: runURL)
        let points = try LandscapePoints(url: pointsURL, resume: resume)
        if resume { log.info("resuming: \(points.count) points already computed") }

        let interrupt = InterruptFlag()
        let meter = ProgressMeter(label: "landscape", unit: "points", initial: points.count, log: log)
        let started = Date(), knownBefore = points.count
        let surfaces = try LossLandscape.run(
            evaluator: evaluator, directions: chosen, selections: selections, grid: settings.grid, radius: radius,
            points: points, shouldStop: { interrupt.isSet }, progress: { meter.update(done: $0, total: $1) })
        meter.finish()
        let seconds = Date().timeIntervalSince(started), evaluated = points.count - knownBefore
        log.info("\(evaluated) points evaluated in \(String(format: "%.1f", seconds)) s: \(String(format: "%.3f", Double(evaluated) / max(seconds, 1e-9))) points/s of \(evaluator.samples) samples")
        guard let surfaces else {
            log.warning("interrupted: \(points.count) points saved in \(pointsURL.path); rerun with the same flags and --resume")
            throw ExitCode(130)
        }

        let document = try LandscapeOutput.json(settings: settings, surfaces: surfaces)
        try writeFileAtomically(document, to: out.appendingPathComponent("landscape.json"))
        try writeFileAtomically(Data(LandscapeOutput.csv(surfaces).utf8), to: out.appendingPathComponent("landscape.csv"))
        let plots = LandscapeOutput.plots(surfaces, lossName: network.family.objective == .causalLM ? "causal-LM loss" : "masked-LM loss")
        for plot in plots { try writeFileAtomically(Data(plot.svg.utf8), to: out.appendingPathComponent(plot.name)) }

        let table = TextTable(columns: ["surface", "moved", "L(θ₀)", "rise at r", "curvature α", "curvature β", "grid min", "grid max"])
        for s in surfaces {
            let h = s.sharpness
            table.add([s.name, String(format: "%.3g%%", 100 * Double(s.moved) / Double(max(s.movable, 1))), String(format: "%.4f", h.centre),
                       String(format: "%.4f", h.rise), String(format: "%.4g", h.curvatureAlpha),
                       h.curvatureBeta.map { String(format: "%.4g", $0) } ?? "-", String(format: "%.4f", h.gridMin), String(format: "%.4f", h.gridMax)])
        }
        FileHandle.standardError.write(Data((table.render() + "\n").utf8))
        log.info("wrote \(out.path): landscape.json, landscape.csv, \(plots.map(\.name).joined(separator: ", ")), directions and points")
        if json { print(String(decoding: document, as: UTF8.self)) }
    }
}

extension DirectionNormalization: ExpressibleByArgument {}
extension SelectionUnit: ExpressibleByArgument {}

/// The weights file whose hash identifies a checkpoint (single file or shard index).
func checkpointWeights(_ folder: URL) -> URL {
    let single = folder.appendingPathComponent("model.safetensors")
    return FileManager.default.fileExists(atPath: single.path) ? single : folder.appendingPathComponent("model.safetensors.index.json")
}
