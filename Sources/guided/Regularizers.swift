import Foundation
import GuidedCompute
import GuidedMethod
import GuidedModel

/// The regularizers of DESIGN, as `guided finetune --regularizer` names them.
enum RegularizerArgument: String, CaseIterable {
    case dropout, gaussian, guided

    /// The noise at each of `architecture`'s dropout sites.
    /// - `dropout`: Bernoulli p everywhere;
    /// - `gaussian`: multiplicative N(1, α), α = p/(1−p) its variance (`stdAlpha`: its standard
    ///   deviation, as the paper's code);
    /// - `guided`: the schedule's per-site p, the classifier's dropout at p.
    func noise(p: Double, stdAlpha: Bool, schedule: URL?, architecture: any ModelArchitecture) throws -> [Noise?] {
        switch self {
        case .dropout:
            return architecture.sites.map { _ in .bernoulli(Float(p)) }
        case .gaussian:
            let alpha = p / (1 - p)
            let std = Float(stdAlpha ? alpha : alpha.squareRoot())
            return architecture.sites.map { _ in .gaussian(std: std) }
        case .guided:
            guard let schedule else { throw ModelError("the guided regularizer needs a schedule file") }
            let file = try DropoutScheduleFile(contentsOf: schedule)
            return try file.probabilities(for: architecture, classifier: p, path: schedule.path).map { .bernoulli(Float($0)) }
        }
    }
}
