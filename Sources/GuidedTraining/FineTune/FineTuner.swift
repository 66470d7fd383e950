import Foundation
import GuidedCompute
import GuidedModel

/// The paper's fine-tuning recipe (§3), every value a flag in `guided finetune`.
public struct FineTuneRecipe: Sendable, Equatable {
    public var learningRate: Float = 2e-5
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var eps: Float = 1e-6
    public var weightDecay: Float = 0
    /// Linear warm-up over this share of all optimizer steps, then linear decay to 0.
    public var warmupRatio: Double = 0.1
    public var epochs = 3
    public var batchSize = 8
    public var maxLength = 128

    public init() {}
}

/// The learning rate of `transformers`' `get_linear_schedule_with_warmup`: at optimizer step `s`
/// (0-based) the rate is `base · s / warmup` during warm-up, then `base · (total − s) / (total − warmup)`.
/// As there, the first step of a run with warm-up uses rate 0.
public func linearWarmupLearningRate(step s: Int, total: Int, warmup: Int, base: Float) -> Float {
    if s < warmup { return base * Float(s) / Float(max(1, warmup)) }
    return base * Float(max(0, total - s)) / Float(max(1, total - warmup))
}

/// What one epoch's evaluation found.
public struct EpochResult: Sendable, Codable {
    public var epoch: Int
    public var trainLoss: Double
    public var scores: [String: [String: Double]]   // split → metric → value ("combined" included)
}

/// Fine-tunes a sequence classifier (`BertForSequenceClassification`, `GPT2ForSequenceClassification`) on a restart split: shuffled batches per epoch
/// (seeded), a regulariser at every dropout site drawn from Philox keyed by (seed, site, step),
/// AdamW with the warm-up/decay schedule, evaluation on every validation split after each epoch.
public final class FineTuner {
    public let model: any LanguageModel
    public let task: GlueTask
    public let recipe: FineTuneRecipe
    /// Per dropout site (indexed like `model.architecture.sites`): the regulariser, or nil for none.
    public let noise: [Noise?]
    public let seed: UInt64
    private let tokenizer: TextTokenizer

    public init(model: any LanguageModel, task: GlueTask, tokenizer: TextTokenizer, recipe: FineTuneRecipe,
                noise: [Noise?], seed: UInt64) throws {
        guard let classifier = model.classifier, classifier.labels == task.numLabels,
              classifier.regression == task.isRegression else {
            throw ModelError("\(task.displayName) needs a classifier with \(task.numLabels) output(s), the model is \(model.architecture.className)")
        }
        guard noise.count == model.architecture.sites.count else {
            throw ModelError("\(noise.count) regularisers for \(model.architecture.sites.count) dropout sites")
        }
        self.model = model
        self.task = task
        self.tokenizer = tokenizer
        self.recipe = recipe
        self.noise = noise
        self.seed = seed
    }

    /// Where the training state is saved after every epoch and when `shouldStop` says so; nil: never.
    public var checkpoint: URL?
    /// Identifies the run's settings; a checkpoint resumes only into the same fingerprint.
    public var fingerprint = ""
    /// The last evaluation's predictions per validation split (class index or regression value).
    public private(set) var lastPredictions: [String: [Float]] = [:]
    /// Validation encodings by split name, tokenised once per run.
    private var validationEncodings: [String: [Encoding]] = [:]

    /// Trains for `recipe.epochs` and returns one result per epoch, or nil when `shouldStop` asked to
    /// stop (the state is then in `checkpoint`). With `resume`, continues from `checkpoint`: batch
    /// order and dropout masks depend only on (seed, epoch, step), so the result is the one an
    /// uninterrupted run gives. `progress(step, total, loss)` is called after every optimizer step.
    /// Wall time spent in optimizer steps (forward, backward, AdamW; not evaluation or
    /// checkpoints) by this object's `run` calls, and the training samples they processed.
    public private(set) var trainingSeconds = 0.0
    public private(set) var trainedSamples = 0

    public func run(_ split: RestartSplit, resume: Bool = false, shouldStop: () -> Bool = { false },
                    progress: (Int, Int, Float) -> Void) throws -> [EpochResult]? {
        let encodings = encode(split.train, tokenizer: tokenizer, maxLength: recipe.maxLength)
        let stepsPerEpoch = (split.train.count + recipe.batchSize - 1) / recipe.batchSize
        let total = stepsPerEpoch * recipe.epochs
        let warmup = Int((recipe.warmupRatio * Double(total)).rounded(.up))
        let backend = model.backend
        let gradients = try GradientAccumulator(backend: backend, layout: model.layout)
        let m = try backend.allocate(model.layout.totalCount), v = try backend.allocate(model.layout.totalCount)
        var state = TrainingState()
        if resume, let checkpoint, FileManager.default.fileExists(atPath: checkpoint.path) {
            state = try TrainingState.read(checkpoint, fingerprint: fingerprint, parameters: model.parameters, m: m, v: v,
                                           backend: backend)
        }
        while state.step < total {
            let epoch = state.step / stepsPerEpoch
            let order = SeededShuffle.permutation(count: split.train.count, seed: seed &+ UInt64(epoch) &* 0x9E37_79B9)
            let batches = try GlueBatches(encodings: encodings, labels: split.train.map(\.label), order: order,
                                          batchSize: recipe.batchSize, padId: model.paddingId)
            for index in (state.step % stepsPerEpoch)..<batches.count {
                if shouldStop() {
                    try save(state, m: m, v: v)
                    return nil
                }
                let batch = batches[index]
                let stepStarted = Date()
                try gradients.zero()
                let tokens = TokenBatch(batch: batch.batch, tokens: batch.tokens, inputIds: batch.inputIds,
                                        tokenTypeIds: batch.tokenTypeIds, attentionMask: batch.attentionMask)
                let pass = try model.classifierStep(tokens, labels: batch.labels,
                                                    regularization: Regularization(noise: noise, seed: seed, step: UInt32(state.step)),
                                                    reduction: .batchMean, backwardInto: gradients)
                if try backend.countNonFinite(gradients.gradients) > 0 {
                    throw ModelError("a gradient became NaN or Inf at step \(state.step) (epoch \(epoch + 1)); loss \(pass.loss)")
                }
                let rate = linearWarmupLearningRate(step: state.step, total: total, warmup: warmup, base: recipe.learningRate)
                try backend.adamW(parameters: model.parameters, gradients: gradients.gradients, m: m, v: v,
                                  hyper: AdamHyper(learningRate: rate, beta1: recipe.beta1, beta2: recipe.beta2,
                                                   eps: recipe.eps, weightDecay: recipe.weightDecay, step: state.step + 1))
                state.epochLossSum += Double(pass.loss) * Double(batch.batch)
                state.step += 1
                trainingSeconds += Date().timeIntervalSince(stepStarted)
                trainedSamples += batch.batch
                progress(state.step, total, pass.loss)
            }
            var scores: [String: [String: Double]] = [:]
            for validation in split.validation {
                let evaluated = try evaluate(validation.examples, split: validation.name)
                lastPredictions[validation.name] = evaluated.predictions
                let s = evaluated.scores
                scores[validation.name] = s.values.merging(["combined": s.combined]) { a, _ in a }
            }
            state.results.append(EpochResult(epoch: epoch + 1, trainLoss: state.epochLossSum / Double(max(1, split.train.count)),
                                             scores: scores))
            state.epochLossSum = 0
            try save(state, m: m, v: v)
        }
        return state.results
    }

    private func save(_ state: TrainingState, m: Tensor, v: Tensor) throws {
        guard let checkpoint else { return }
        try state.write(checkpoint, fingerprint: fingerprint, parameters: model.parameters, m: m, v: v, backend: model.backend)
    }

    /// Evaluation-mode predictions (class index, or the regression value) and their scores.
    /// `split` names the examples: their encodings are kept for later calls with the same name.
    public func evaluate(_ examples: [GlueExample], split: String) throws -> (predictions: [Float], scores: GlueScores) {
        let encodings = validationEncodings[split] ?? encode(examples, tokenizer: tokenizer, maxLength: recipe.maxLength)
        validationEncodings[split] = encodings
        let batches = try GlueBatches(encodings: encodings, labels: examples.map(\.label), order: nil,
                                      batchSize: max(recipe.batchSize, 32), padId: model.paddingId)
        let classes = task.numLabels
        var predictions: [Float] = []
        for batch in batches {
            let tokens = TokenBatch(batch: batch.batch, tokens: batch.tokens, inputIds: batch.inputIds,
                                    tokenTypeIds: batch.tokenTypeIds, attentionMask: batch.attentionMask)
            // Labels only feed the loss, which evaluation ignores; unlabeled rows (−1) become 0.
            let labels = batch.labels.map { task.isRegression ? $0 : max(0, $0) }
            let pass = try model.classifierStep(tokens, labels: labels, regularization: nil, reduction: .batchMean,
                                                backwardInto: nil)
            let logits: [Float] = pass.logits
            for n in 0..<batch.batch {
                let row = logits[(n * classes)..<((n + 1) * classes)]
                if task.isRegression {
                    predictions.append(row.first!)
                } else {
                    let best = row.indices.max { row[$0] < row[$1] }!
                    predictions.append(Float(best - row.startIndex))
                }
            }
        }
        return (predictions, try task.evaluate(predictions: predictions, examples: examples, split: split))
    }
}

/// What a fine-tuning run needs to continue: the step, the epochs' results so far, the running loss
/// of the current epoch, and (in the file) parameters and Adam moments.
struct TrainingState {
    var step = 0
    var results: [EpochResult] = []
    var epochLossSum = 0.0

    func write(_ url: URL, fingerprint: String, parameters: Tensor, m: Tensor, v: Tensor, backend: Backend) throws {
        let n = parameters.count
        try SafeTensorsWriter.write([("parameters", [n], try backend.download(parameters)), ("adam_m", [n], try backend.download(m)),
                                     ("adam_v", [n], try backend.download(v))], metadata: [
            "fingerprint": fingerprint, "step": String(step), "epoch_loss_sum": String(epochLossSum),
            "results": String(decoding: try JSONEncoder().encode(results), as: UTF8.self),
        ], to: url)
    }

    static func read(_ url: URL, fingerprint: String, parameters: Tensor, m: Tensor, v: Tensor, backend: Backend) throws -> TrainingState {
        let file = try SafeTensorsFile(contentsOf: url)
        guard file.metadata["fingerprint"] == fingerprint else {
            throw ModelError("\(url.path) was written by a run with other settings; rerun without --resume or with the same flags")
        }
        guard let step = Int(file.metadata["step"] ?? ""), let loss = Double(file.metadata["epoch_loss_sum"] ?? ""),
              let results = try? JSONDecoder().decode([EpochResult].self, from: Data((file.metadata["results"] ?? "").utf8)) else {
            throw ModelError("\(url.path): damaged training checkpoint")
        }
        for (name, tensor) in [("parameters", parameters), ("adam_m", m), ("adam_v", v)] {
            let values = try file.floats(name)
            guard values.count == tensor.count else { throw ModelError("\(url.path): \(name) does not fit the model") }
            try backend.upload(values, to: tensor)
        }
        return TrainingState(step: step, results: results, epochLossSum: loss)
    }
}
