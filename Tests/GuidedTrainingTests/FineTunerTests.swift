import Foundation
import GuidedCompute
import GuidedModel
import Testing
@testable import GuidedTraining

@Suite(.serialized) struct FineTunerTests {
    static let tinyBert = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../GuidedModelTests/Fixtures/tiny-bert").standardizedFileURL

    /// `get_linear_schedule_with_warmup`: 0 at step 0, base at the end of warm-up, 0 at the end.
    @Test func learningRateScheduleMatchesTransformers() {
        let base: Float = 2e-5
        #expect(linearWarmupLearningRate(step: 0, total: 100, warmup: 10, base: base) == 0)
        #expect(linearWarmupLearningRate(step: 5, total: 100, warmup: 10, base: base) == base / 2)
        #expect(linearWarmupLearningRate(step: 10, total: 100, warmup: 10, base: base) == base)
        #expect(abs(linearWarmupLearningRate(step: 55, total: 100, warmup: 10, base: base) - base / 2) < 1e-12)
        #expect(linearWarmupLearningRate(step: 100, total: 100, warmup: 10, base: base) == 0)
        #expect(linearWarmupLearningRate(step: 0, total: 10, warmup: 0, base: base) == base)
    }

    @Test func recipeDefaultsAreThePapers() {
        let r = FineTuneRecipe()
        #expect(r.learningRate == 2e-5 && r.beta1 == 0.9 && r.beta2 == 0.999 && r.eps == 1e-6 && r.weightDecay == 0)
        #expect(r.warmupRatio == 0.1 && r.epochs == 3 && r.batchSize == 8 && r.maxLength == 128)
    }

    /// A sentiment-like task the tiny random BERT can learn: the label is whether "good" or "bad"
    /// appears (a learning rate far above the recipe's, as the model starts from random weights). Training with dropout reaches high validation accuracy, and
    /// the same seed gives the same numbers.
    static func task() -> RestartSplit {
        let subjects = ["the cat", "a dog", "the house", "my time", "the city", "a river", "the people", "his war"]
        let verbs = ["was", "is", "seems", "looked"]
        var examples: [GlueExample] = []
        for (i, s) in subjects.enumerated() {
            for (j, v) in verbs.enumerated() {
                let positive = (i + j) % 2 == 0
                examples.append(GlueExample(text: "\(s) \(v) \(positive ? "good" : "bad") today", label: positive ? 1 : 0, idx: examples.count))
            }
        }
        let data = GlueData(task: .sst2, train: Array(examples.prefix(24)), validation: [GlueSplit(name: "validation", examples: Array(examples.suffix(8)))])
        return RestartSplit(task: .sst2, seed: 1, trainFraction: 1, train: data.train, validation: data.validation, fullTrainCount: 24)
    }

    static func tune(_ backend: Backend) throws -> [EpochResult] {
        let (model, _) = try BertCheckpoint.load(tinyBert, head: .sequenceClassification(labels: 2, regression: false), backend: backend, seed: 3)
        var recipe = FineTuneRecipe()
        recipe.learningRate = 3e-3
        recipe.epochs = 12
        recipe.batchSize = 4
        recipe.maxLength = 16
        let tuner = try FineTuner(model: model, task: .sst2, tokenizer: try BertTokenizer(folder: tinyBert), recipe: recipe,
                                  noise: model.architecture.sites.map { _ in Noise.bernoulli(0.1) }, seed: 7)
        var steps = 0
        let results = try #require(try tuner.run(task(), progress: { step, total, loss in
            steps = step
            #expect(total == 72 && loss.isFinite)
        }))
        #expect(steps == 72)
        return results
    }

    /// The same task through the architecture-neutral loader with a GPT-2 (its classifier reads the
    /// last non-padding token, so the keyword must reach it through causal attention).
    @Test func gpt2LearnsTheTaskToo() throws {
        let folder = Self.tinyBert.deletingLastPathComponent().appendingPathComponent("tiny-gpt2")
        let (model, report) = try ModelLoader.load(folder, role: .classification(labels: 2, regression: false),
                                                   backend: CPUBackend(), seed: 3)
        #expect(report.initialized == ["score.weight"])
        var recipe = FineTuneRecipe()
        recipe.learningRate = 3e-3
        recipe.epochs = 12
        recipe.batchSize = 4
        recipe.maxLength = 16
        let tuner = try FineTuner(model: model, task: .sst2, tokenizer: try tokenizer(inFolder: folder), recipe: recipe,
                                  noise: model.architecture.sites.map { _ in Noise.bernoulli(0.1) }, seed: 7)
        let results = try #require(try tuner.run(Self.task(), progress: { _, _, loss in #expect(loss.isFinite) }))
        #expect(results.last!.trainLoss < 0.2 && results.first!.trainLoss > 0.5, "loss \(results.map(\.trainLoss))")
        let accuracy = try #require(results.last!.scores["validation"]?["accuracy"])
        #expect(accuracy >= 0.875, "validation accuracy \(accuracy)")
    }

    @Test func learnsASimpleTaskDeterministically() throws {
        let first = try Self.tune(CPUBackend())
        #expect(first.count == 12)
        // A random tiny model sits at ln 2 for a few epochs, then learns the keyword.
        #expect(first.last!.trainLoss < 0.2 && first.first!.trainLoss > 0.6, "loss \(first.map(\.trainLoss))")
        let accuracy = try #require(first.last!.scores["validation"]?["accuracy"])
        #expect(accuracy >= 0.875, "validation accuracy \(accuracy)")
        let second = try Self.tune(CPUBackend())
        #expect(second.map(\.trainLoss) == first.map(\.trainLoss), "the same seed gives the same run")
    }

    /// Stopped mid-epoch, saved, and resumed in a fresh model: the same parameters and results as
    /// one uninterrupted run.
    @Test func resumeGivesTheUninterruptedRun() throws {
        func tuner(_ checkpoint: URL?) throws -> FineTuner {
            let (model, _) = try BertCheckpoint.load(Self.tinyBert, head: .sequenceClassification(labels: 2, regression: false),
                                                     backend: CPUBackend(), seed: 3)
            var recipe = FineTuneRecipe()
            recipe.learningRate = 3e-3
            recipe.epochs = 2
            recipe.batchSize = 4
            recipe.maxLength = 16
            let t = try FineTuner(model: model, task: .sst2, tokenizer: try BertTokenizer(folder: Self.tinyBert), recipe: recipe,
                                  noise: model.architecture.sites.map { _ in Noise.bernoulli(0.1) }, seed: 7)
            t.checkpoint = checkpoint
            t.fingerprint = "test"
            return t
        }
        let whole = try tuner(nil)
        let expected = try #require(try whole.run(Self.task(), progress: { _, _, _ in }))

        let state = FileManager.default.temporaryDirectory.appendingPathComponent("guided-ft-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: state) }
        var steps = 0
        let first = try tuner(state)
        let stopped = try first.run(Self.task(), shouldStop: { steps >= 9 }, progress: { step, _, _ in steps = step })
        #expect(stopped == nil && steps == 9, "stopped in the middle of epoch 2")
        let second = try tuner(state)
        let resumed = try #require(try second.run(Self.task(), resume: true, progress: { _, _, _ in }))
        #expect(resumed.map(\.trainLoss) == expected.map(\.trainLoss))
        #expect(try second.model.backend.download(second.model.parameters) == whole.model.backend.download(whole.model.parameters))

        let other = try tuner(state)
        other.fingerprint = "other"
        #expect { _ = try other.run(Self.task(), resume: true, progress: { _, _, _ in }) } throws: { "\($0)".contains("other settings") }
    }

    @Test func wrongHeadIsAnError() throws {
        let (model, _) = try BertCheckpoint.load(Self.tinyBert, head: .sequenceClassification(labels: 3, regression: false), backend: CPUBackend())
        #expect {
            _ = try FineTuner(model: model, task: .sst2, tokenizer: try BertTokenizer(folder: Self.tinyBert), recipe: FineTuneRecipe(),
                              noise: model.architecture.sites.map { _ in nil }, seed: 1)
        } throws: { "\($0)".contains("SST-2") }
    }
}
