import Foundation
import GuidedMethod
import GuidedModel

/// The architecture a Fisher file was estimated for, from the model folder's config (`fisher report`,
/// `schedule`). The file's names decide the head: an MLM head if it has `cls.predictions`, a
/// classifier if it has `classifier.weight` (labels from its shape), else the checkpoint's own head.
/// The file is not validated here (`FisherFile.validate(against:)` does that).
func fisherArchitecture(of file: FisherFile, model: String) throws -> BertArchitecture {
    let checkpoint = try CheckpointFolder(url: URL(fileURLWithPath: model))
    return try BertArchitecture(config: checkpoint.bertConfig(), head: fisherHead(of: file, config: checkpoint.bertConfig()))
}

/// The head a Fisher file's tensor names imply (see `fisherArchitecture(of:model:)`).
func fisherHead(of file: FisherFile, config: BertConfig) -> BertHead {
    if file.names.contains(where: { $0.hasPrefix("cls.predictions") }) { return .maskedLM }
    if let labels = file.shapes["classifier.weight"]?.first {
        return .sequenceClassification(labels: labels, regression: labels == 1)
    }
    return BertCheckpoint.head(of: config)
}
