import Foundation
import GuidedCompute

/// The forward of a loss, kept for its backward.
public protocol LossPass: AnyObject {
    /// Each sample's loss (mean over its predicted tokens); nil for a sample with none.
    var sampleLosses: [Float?] { get }
    /// The loss as `transformers` reduces it over the batch.
    var loss: Float { get }
    /// Samples with no predicted token.
    var skippedSamples: Int { get }
}

/// A sequence classifier's forward, kept for its backward.
public protocol ClassifierPass: AnyObject {
    /// [batch, labels] row-major.
    var logits: [Float] { get }
    var sampleLosses: [Float] { get }
    var loss: Float { get }
}

/// A model of any architecture on a compute backend, as the commands use it: one parameter buffer
/// with `architecture.layout`, the pretraining loss (for the Fisher and loss landscapes), the
/// classifier (for fine-tuning), and writing itself back as a `transformers` checkpoint.
///
/// Callers holding `any LanguageModel` use the `…Step` methods of the extension, which pair each
/// forward with its own backward.
public protocol LanguageModel: AnyObject {
    associatedtype Architecture: ModelArchitecture
    associatedtype PretrainingPass: LossPass
    associatedtype ClassificationPass: ClassifierPass

    var architecture: Architecture { get }
    var backend: Backend { get }
    var parameters: Tensor { get }
    /// Longest sequence the position embeddings allow.
    var maxPositions: Int { get }
    /// The id batches are padded with (masked out by the attention mask and labels).
    var paddingId: Int32 { get }
    /// Whether the Fisher keeps its batches full rather than cutting them where that saves
    /// padding. BERT's on packed rows: padding costs it only attention. Not GPT-2's, though it packs
    /// its rows too: it predicts every token, so a batch's vocabulary-wide logits grow with the
    /// batch, and the cut batches measured faster (GPT-2 small: 2.41 against 2.19 samples/s).
    /// Default: false.
    var fillsFisherBatches: Bool { get }
    /// The embedding table tied to the LM head, whose per-sample gradient has two parts (`FisherAccumulator`).
    var tiedTable: String? { get }
    /// The classifier's output count and whether it regresses, when the model has one.
    var classifier: (labels: Int, regression: Bool)? { get }

    /// The pretraining objective's loss; `labels` [batch, tokens] in the Hugging Face collator's
    /// form (−100 where nothing is predicted; for a causal LM, the ids, shifted inside).
    func pretrainingForward(_ batch: TokenBatch, labels: [Int32], regularization: Regularization?,
                            reduction: LossReduction) throws -> PretrainingPass
    func pretrainingBackward(_ pass: PretrainingPass, sink: GradientSink) throws
    func classifierForward(_ batch: TokenBatch, labels: [Float], regularization: Regularization?,
                           reduction: LossReduction) throws -> ClassificationPass
    func classifierBackward(_ pass: ClassificationPass, sink: GradientSink) throws

    /// Writes `config.json` (the source config with this head), `model.safetensors` and the
    /// tokenizer files of `tokenizerFrom`, each atomically.
    func save(to folder: URL, tokenizerFrom: URL?) throws
}

extension LanguageModel {
    public var fillsFisherBatches: Bool { false }
    public var layout: ParameterLayout { architecture.layout }
    public var family: ModelFamily { architecture.family }

    /// The pretraining loss, and its backward into `sink` unless every sample was skipped.
    @discardableResult
    public func pretrainingStep(_ batch: TokenBatch, labels: [Int32], regularization: Regularization?,
                                reduction: LossReduction, backwardInto sink: GradientSink?) throws -> any LossPass {
        let pass = try pretrainingForward(batch, labels: labels, regularization: regularization, reduction: reduction)
        if let sink, pass.skippedSamples < batch.batch { try pretrainingBackward(pass, sink: sink) }
        return pass
    }

    /// The classifier's loss, and its backward into `sink` when given.
    @discardableResult
    public func classifierStep(_ batch: TokenBatch, labels: [Float], regularization: Regularization?,
                               reduction: LossReduction, backwardInto sink: GradientSink?) throws -> any ClassifierPass {
        let pass = try classifierForward(batch, labels: labels, regularization: regularization, reduction: reduction)
        if let sink { try classifierBackward(pass, sink: sink) }
        return pass
    }

    /// Uploads one parameter's values (host Float32, as `transformers` stores them: [out, in] for a
    /// Linear weight, [in, out] for GPT-2's Conv1D).
    public func setParameter(_ name: String, _ values: [Float]) throws {
        guard let slot = layout[name] else { throw ModelError("\(architecture.className) has no parameter \(name)") }
        guard values.count == slot.count else {
            throw ModelError("\(name): \(values.count) values for shape \(slot.shape)")
        }
        try backend.upload(values, to: parameters.slice(slot))
    }

    public func parameter(_ name: String) throws -> [Float] {
        guard let slot = layout[name] else { throw ModelError("\(architecture.className) has no parameter \(name)") }
        return try backend.download(parameters.slice(slot))
    }
}
