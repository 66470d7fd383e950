import Foundation
import GuidedMethod
import GuidedModel

/// The architecture a Fisher file was estimated for, from the model folder's config (`fisher report`,
/// `schedule`): the first of the checkpoint's own head, the pretraining head, the bare base model,
/// and a classifier (labels from the file's `classifier.weight` or `score.weight`) whose tensors
/// the file holds exactly. When none does, the checkpoint's own head, so that validation names
/// what differs.
func fisherArchitecture(of file: FisherFile, model: String) throws -> any ModelArchitecture {
    let folder = URL(fileURLWithPath: model)
    var roles: [ModelRole] = [.asSaved, .pretraining, .base]
    for head in ["classifier.weight", "score.weight"] {
        if let labels = file.shapes[head]?.first { roles.append(.classification(labels: labels, regression: labels == 1)) }
    }
    // A role the checkpoint cannot take (a head shape from the file that fits no config) is no candidate.
    let candidates = roles.dropFirst().compactMap { try? ModelLoader.architecture(folder, role: $0) }
    let asSaved = try ModelLoader.architecture(folder, role: .asSaved)
    return ([asSaved] + candidates).first { (try? file.validate(against: $0)) != nil } ?? asSaved
}
