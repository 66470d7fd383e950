import ArgumentParser
import Foundation
import GuidedCompute
import GuidedModel

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a Hugging Face BERT checkpoint: architecture, parameters, tensors, dropout sites.",
        discussion: """
            Reads config.json and model.safetensors (or a sharded index) from --model. With --head the \
            checkpoint is read as that model class; tensors the checkpoint lacks are listed as \
            initialised (as transformers would initialise them), and tensors it has but the model does \
            not use are listed as unused.
            """)

    @Option(help: "A folder with config.json and model.safetensors.")
    var model: String

    @Option(help: "Read as: auto (the checkpoint's own architecture), encoder, mlm, or classifier.")
    var head: HeadArgument = .auto

    @Option(help: "Number of labels for --head classifier (1 means regression).")
    var numLabels: Int?

    @Flag(help: "Machine-readable output on stdout.")
    var json = false

    func run() throws {
        let folder = URL(fileURLWithPath: model)
        let checkpoint = try CheckpointFolder(url: folder)
        let chosen = try head.resolve(checkpoint.bertConfig(), numLabels: numLabels)
        // Reading every tensor is what checks them; the CPU backend holds them without a device.
        let (loaded, report) = try BertCheckpoint.load(folder, head: chosen, backend: CPUBackend())
        let a = loaded.architecture, c = a.config
        let parameterCount = a.layout.totalCount
        if json {
            struct Site: Encodable { let index: Int; let path: String; let p: Double }
            struct Output: Encodable {
                let model: String, architecture: String, checkpointArchitecture: String?
                let layers: Int, hidden: Int, heads: Int, intermediate: Int, vocabulary: Int, maxPositions: Int
                let activation: String, parameters: Int, tensors: Int
                let found: [String], initialized: [String], unused: [String], dropoutSites: [Site]
            }
            let output = Output(model: folder.path, architecture: a.head.description,
                                checkpointArchitecture: c.architectures?.first, layers: a.layers, hidden: a.hidden,
                                heads: a.heads, intermediate: a.intermediate, vocabulary: a.vocabulary,
                                maxPositions: c.maxPositionEmbeddings, activation: c.hiddenAct,
                                parameters: parameterCount, tensors: a.layout.slots.count,
                                found: report.found, initialized: report.initialized, unused: report.unused,
                                dropoutSites: a.sites.map { Site(index: $0.index, path: $0.modulePath, p: $0.configuredProbability) })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(output), as: UTF8.self))
            return
        }
        print("model:         \(folder.path)")
        print("architecture:  \(a.head) (checkpoint: \(c.architectures?.first ?? "not stated"))")
        print("shape:         \(a.layers) layers, hidden \(a.hidden), \(a.heads) heads, FFN \(a.intermediate), "
              + "vocabulary \(a.vocabulary), \(c.maxPositionEmbeddings) positions, \(c.hiddenAct)")
        print("parameters:    \(parameterCount.formatted()) (\(String(format: "%.1fM", Double(parameterCount) / 1e6))) "
              + "in \(a.layout.slots.count) tensors\(report.prefixed ? ", stored with the bert. prefix" : "")")
        print("tensors:       \(report.found.count) found, \(report.initialized.count) initialised, \(report.unused.count) unused")
        for name in report.initialized { print("  initialised  \(name)") }
        for name in report.unused { print("  unused       \(name)") }
        print("dropout sites: \(a.sites.count)")
        let table = TextTable(columns: ["#", "module path", "p"])
        for site in a.sites { table.add([String(site.index), site.modulePath, String(site.configuredProbability)]) }
        print(table.render())
    }
}

enum HeadArgument: String, ExpressibleByArgument, CaseIterable {
    case auto, encoder, mlm, classifier

    func resolve(_ config: BertConfig, numLabels: Int?) throws -> BertHead {
        switch self {
        case .auto:
            return BertCheckpoint.head(of: config)
        case .encoder:
            return .encoder
        case .mlm:
            return .maskedLM
        case .classifier:
            let labels = numLabels ?? config.numLabels
            guard labels >= 1 else { throw ValidationError("--num-labels must be at least 1") }
            return .sequenceClassification(labels: labels, regression: labels == 1)
        }
    }
}
