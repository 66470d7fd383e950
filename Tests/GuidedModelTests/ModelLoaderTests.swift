import Foundation
import GuidedCompute
import Testing
@testable import GuidedModel

/// The architecture-neutral layer over BERT: roles map to heads, and the protocol's steps are the
/// model's own forward and backward.
@Suite struct ModelLoaderTests {
    @Test func rolesMapToBertHeads() throws {
        let folder = Fixtures.url("tiny-bert-cls")
        let asSaved = try ModelLoader.architecture(folder, role: .asSaved)
        #expect(asSaved.className == "BertForSequenceClassification")
        #expect(asSaved.family == .bert && asSaved.family.objective == .maskedLM)
        #expect(try ModelLoader.architecture(folder, role: .pretraining).className == "BertForMaskedLM")
        let base = try ModelLoader.architecture(folder, role: .base)
        #expect(base.className == "BertModel" && base.isBase)
        let regression = try ModelLoader.architecture(folder, role: .classification(labels: 1, regression: true))
        #expect(regression.layout["classifier.weight"]?.shape == [1, 32])
    }

    @Test func configuredClassifierIsTheCheckpoints() throws {
        #expect(try ModelLoader.configuredClassifier(Fixtures.url("tiny-bert-cls")) == (3, false))
        #expect(try ModelLoader.configuredClassifier(Fixtures.url("tiny-bert-reg")) == (1, true))
        #expect(try ModelLoader.configuredClassifier(Fixtures.url("tiny-gpt2-cls")) == (3, false))
        #expect(try ModelLoader.configuredClassifier(Fixtures.url("tiny-gpt2-reg")) == (1, true))
    }

    @Test func bertLayerGroupsFollowTheNetwork() throws {
        let a = try ModelLoader.architecture(Fixtures.url("tiny-bert"), role: .pretraining)
        #expect(a.layerGroup(of: "bert.embeddings.LayerNorm.weight") == LayerGroupKey(name: "embeddings", rank: [0], site: .embeddings))
        #expect(a.layerGroup(of: "encoder.layer.1.attention.self.key.bias").site == .attentionProbabilities(layer: 1))
        #expect(a.layerGroup(of: "bert.encoder.layer.0.intermediate.dense.weight").site == nil)
        #expect(a.layerGroup(of: "cls.predictions.bias").rank == [3])
    }

    @Test func pretrainingStepIsTheMaskedLMForwardAndBackward() throws {
        let (loaded, _) = try ModelLoader.load(Fixtures.url("tiny-bert"), role: .pretraining, backend: CPUBackend())
        let model = try #require(loaded as? BertModel)
        let batch = try BertGoldenTests.batch()
        let labels = try BertGoldenTests.golden.get().int64s("mlm_labels").map(Int32.init)
        let direct = try GradientAccumulator(backend: model.backend, layout: model.layout)
        let pass = try model.maskedLM(batch, labels: labels, regularization: nil, reduction: .batchMean)
        try model.maskedLMBackward(pass, sink: direct)
        let viaProtocol = try GradientAccumulator(backend: model.backend, layout: model.layout)
        let step = try loaded.pretrainingStep(batch, labels: labels, regularization: nil, reduction: .batchMean,
                                              backwardInto: viaProtocol)
        #expect(step.loss == pass.loss)
        #expect(try model.backend.download(direct.gradients) == model.backend.download(viaProtocol.gradients))
        #expect(loaded.tiedTable == "embeddings.word_embeddings.weight")
        #expect(loaded.classifier == nil)
    }
}
