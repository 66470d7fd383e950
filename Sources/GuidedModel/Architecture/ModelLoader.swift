import Foundation
import GuidedCompute

/// Reads a checkpoint folder of any supported family in the role a command needs. Adding an
/// architecture adds its case here; the commands only see `ModelArchitecture` and `LanguageModel`.
public enum ModelLoader {
    /// The architecture of `folder`'s checkpoint in `role`, without reading the weights.
    public static func architecture(_ folder: URL, role: ModelRole) throws -> any ModelArchitecture {
        let checkpoint = try CheckpointFolder(url: folder)
        switch try ModelFamily.of(checkpoint) {
        case .bert:
            let config = try checkpoint.bertConfig()
            return try BertArchitecture(config: config, head: BertCheckpoint.head(for: role, config: config))
        case .gpt2:
            let config = try checkpoint.gpt2Config()
            return try GPT2Architecture(config: config, head: GPT2Checkpoint.head(for: role, config: config))
        }
    }

    /// The classifier `config.json` describes: `num_labels` (from `id2label` when present) and
    /// whether it regresses (`problem_type` "regression", or one label).
    public static func configuredClassifier(_ folder: URL) throws -> (labels: Int, regression: Bool) {
        let checkpoint = try CheckpointFolder(url: folder)
        switch try ModelFamily.of(checkpoint) {
        case .bert:
            let c = try checkpoint.bertConfig()
            return (c.numLabels, c.isRegression)
        case .gpt2:
            let c = try checkpoint.gpt2Config()
            return (c.numLabels, c.isRegression)
        }
    }

    /// Loads `folder` in `role`; tensors the checkpoint lacks for that head are initialised as
    /// `transformers` does from `seed`, and the report lists them.
    public static func load(_ folder: URL, role: ModelRole, backend: Backend,
                            seed: UInt64 = 0) throws -> (model: any LanguageModel, report: LoadReport) {
        let checkpoint = try CheckpointFolder(url: folder)
        switch try ModelFamily.of(checkpoint) {
        case .bert:
            let head = BertCheckpoint.head(for: role, config: try checkpoint.bertConfig())
            let (model, report) = try BertCheckpoint.load(folder, head: head, backend: backend, seed: seed)
            return (model, report)
        case .gpt2:
            let head = GPT2Checkpoint.head(for: role, config: try checkpoint.gpt2Config())
            let (model, report) = try GPT2Checkpoint.load(folder, head: head, backend: backend, seed: seed)
            return (model, report)
        }
    }
}
