import Foundation
import GuidedCompute
import GuidedModel

/// Evaluates f(α, β) = L(θ₀ + αδ + βη) for a model's pretraining loss (masked LM for BERT,
/// causal LM for GPT-2) on a fixed set of samples (the same masks at every point), forward only,
/// in evaluation mode, on the model's device.
///
/// The parameters are perturbed in place, always recomputed from a device copy of θ₀ (never by
/// adding to the previous point), so nothing drifts over a grid; `restore()` copies θ₀ back
/// bit for bit.
public final class LandscapeEvaluator {
    public let model: any LanguageModel
    /// Samples with at least one predicted token, and those skipped for having none.
    public let samples: Int
    public let skipped: Int
    private let batches: [(batch: TokenBatch, labels: [Int32])]
    private let origin: Tensor
    private let delta: Tensor
    private let eta: Tensor

    /// `model` in its pretraining role (`ModelRole.pretraining`).
    public init(model: any LanguageModel, samples: [MaskedSample], batchSize: Int) throws {
        let usable = samples.filter { $0.predicted > 0 }
        guard !usable.isEmpty else {
            throw ModelError("none of the \(samples.count) samples has a predicted token; use longer texts or more samples")
        }
        self.model = model
        self.samples = usable.count
        skipped = samples.count - usable.count
        // Longest first (as the Fisher takes them), so that batches pad little; the mean does not
        // depend on the order but for float rounding.
        let ordered = FisherEstimator.processingOrder(usable).map { usable[$0] }
        let padId = model.paddingId
        batches = stride(from: 0, to: ordered.count, by: max(1, batchSize)).map { start in
            TokenBatch.padded(Array(ordered[start..<min(ordered.count, start + batchSize)]), padId: padId)
        }
        let backend = model.backend
        origin = try backend.allocate(model.layout.totalCount)
        try backend.copy(model.parameters, to: origin)
        delta = try backend.allocate(model.layout.totalCount)
        eta = try backend.allocate(model.layout.totalCount)
        try backend.fill(delta, with: 0)
        try backend.fill(eta, with: 0)
    }

    /// Sets the directions the next evaluations move along (already masked to the selection).
    public func setDirections(delta: [Float], eta: [Float]) throws {
        try model.backend.upload(delta, to: self.delta)
        try model.backend.upload(eta, to: self.eta)
    }

    /// The mean over samples of each sample's mean pretraining cross-entropy at θ₀ + αδ + βη.
    public func loss(alpha: Double, beta: Double) throws -> Double {
        let backend = model.backend
        try backend.copy(origin, to: model.parameters)
        if alpha != 0 { try backend.axpy(Float(alpha), delta, model.parameters) }
        if beta != 0 { try backend.axpy(Float(beta), eta, model.parameters) }
        var sum = 0.0
        for (batch, labels) in batches {
            let pass = try model.pretrainingStep(batch, labels: labels, regularization: nil, reduction: .perSampleMean,
                                                 backwardInto: nil)
            sum += pass.sampleLosses.reduce(0.0) { $0 + Double($1 ?? 0) }
        }
        return sum / Double(samples)
    }

    /// Puts θ₀ back into the model.
    public func restore() throws {
        try model.backend.copy(origin, to: model.parameters)
        try model.backend.synchronize()
    }
}
