import ArgumentParser
import Foundation
import GuidedCompute
import GuidedModel

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a Hugging Face BERT or GPT-2 checkpoint: architecture, parameters, tensors, dropout sites.",
        discussion: """
            Reads config.json and model.safetensors (or a sharded index) from --model. With --head the \
            checkpoint is read as that model class; tensors the checkpoint lacks are listed as \
            initialised (as transformers would initialise them), and tensors it has but the model does \
            not use are listed as unused.
            """)

    @Option(help: "A folder with config.json and model.safetensors.")
    var model: String

    @Option(help: "Read as: auto (the checkpoint's own architecture), base (also: encoder), lm (the pretraining head; also: mlm), or classifier.")
    var head: HeadArgument = .auto

    @Option(help: "Number of labels for --head classifier (1 means regression; default: the checkpoint's num_labels).")
    var numLabels: Int?

    @Flag(help: "Machine-readable output on stdout.")
    var json = false

    func run() throws {
        let folder = URL(fileURLWithPath: model)
        let checkpoint = try CheckpointFolder(url: folder)
        let role = try head.role(numLabels: numLabels, configured: { try ModelLoader.configuredClassifier(folder) })
        // Reading every tensor is what checks them; the CPU backend holds them without a device.
        let (loaded, report) = try ModelLoader.load(folder, role: role, backend: CPUBackend())
        let a = loaded.architecture
        let parameterCount = a.layout.totalCount
        if json {
            struct Site: Encodable { let index: Int; let path: String; let p: Double }
            struct Output: Encodable {
                let model: String, family: String, architecture: String, checkpointArchitecture: String?
                let layers: Int, shape: String, maxPositions: Int, parameters: Int, tensors: Int
                let found: [String], initialized: [String], unused: [String], dropoutSites: [Site]
            }
            let output = Output(model: folder.path, family: a.family.rawValue, architecture: a.className,
                                checkpointArchitecture: checkpoint.architectures?.first, layers: a.layers,
                                shape: a.shapeSummary, maxPositions: loaded.maxPositions, parameters: parameterCount, tensors: a.layout.slots.count,
                                found: report.found, initialized: report.initialized, unused: report.unused,
                                dropoutSites: a.sites.map { Site(index: $0.index, path: $0.modulePath, p: $0.configuredProbability) })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(output), as: UTF8.self))
            return
        }
        print("model:         \(folder.path)")
        print("architecture:  \(a.className) (checkpoint: \(checkpoint.architectures?.first ?? "not stated"))")
        print("shape:         \(a.shapeSummary)")
        print("parameters:    \(parameterCount.formatted()) (\(String(format: "%.1fM", Double(parameterCount) / 1e6))) "
              + "in \(a.layout.slots.count) tensors\(report.prefixed ? ", stored with the \(a.basePrefix) prefix" : "")")
        print("tensors:       \(report.found.count) found, \(report.initialized.count) initialised, \(report.unused.count) unused")
        for name in report.initialized { print("  initialised  \(name)") }
        for name in report.unused { print("  unused       \(name)") }
        for note in report.notes { print("note:          \(note)") }
        print("dropout sites: \(a.sites.count)")
        let table = TextTable(columns: ["#", "module path", "p"])
        for site in a.sites { table.add([String(site.index), site.modulePath, String(site.configuredProbability)]) }
        print(table.render())
    }
}

enum HeadArgument: String, ExpressibleByArgument, CaseIterable {
    case auto, base, encoder, mlm, lm, classifier

    /// `configured`: the checkpoint's own classifier, for `classifier` without `--num-labels`.
    func role(numLabels: Int?, configured: () throws -> (labels: Int, regression: Bool)) throws -> ModelRole {
        switch self {
        case .auto: return .asSaved
        case .base, .encoder: return .base
        case .mlm, .lm: return .pretraining
        case .classifier:
            guard let labels = numLabels else {
                let (labels, regression) = try configured()
                return .classification(labels: labels, regression: regression)
            }
            guard labels >= 1 else { throw ValidationError("--num-labels must be at least 1") }
            return .classification(labels: labels, regression: labels == 1)
        }
    }
}
