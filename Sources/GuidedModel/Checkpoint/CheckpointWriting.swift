import Foundation

/// What writing a checkpoint back takes, whatever the architecture: the `config.json` fields a
/// head sets, and the tokenizer files copied beside the weights.
enum CheckpointWriting {
    /// The `config.json` updates for a model class (`architectures`, `model_type`) and, for a
    /// classifier, its labels: `num_labels`, `problem_type`, and generic `id2label`/`label2id`
    /// when the source config's do not have that many labels.
    static func configUpdates(className: String, modelType: String, classifier: (labels: Int, regression: Bool)?,
                              sourceLabelCount: Int) -> [String: Any] {
        var updates: [String: Any] = ["architectures": [className], "model_type": modelType]
        if let (labels, regression) = classifier {
            updates["num_labels"] = labels
            updates["problem_type"] = regression ? "regression" : "single_label_classification"
            if sourceLabelCount != labels {
                updates["id2label"] = Dictionary(uniqueKeysWithValues: (0..<labels).map { ("\($0)", "LABEL_\($0)") })
                updates["label2id"] = Dictionary(uniqueKeysWithValues: (0..<labels).map { ("LABEL_\($0)", $0) })
            }
        }
        return updates
    }

    /// Copies each of `names` that exists in `source` into `folder` atomically (not onto itself).
    static func copyTokenizerFiles(_ names: [String], from source: URL?, to folder: URL) throws {
        guard let source else { return }
        for name in names {
            let from = source.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: from.path),
                  from.standardizedFileURL != folder.appendingPathComponent(name).standardizedFileURL else { continue }
            try writeFileAtomically(Data(contentsOf: from), to: folder.appendingPathComponent(name))
        }
    }
}
