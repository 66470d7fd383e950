import Foundation
import GuidedCompute
import Testing
@testable import GuidedModel

/// The tiny BERT of `tools/make_bert_fixture.py` against the golden values `transformers` computed
/// for it in float64, on both backends: MLM logits, loss and every gradient; classification and
/// regression logits, losses and gradients.
///
/// Tolerances: we compute in float32, so each tensor may differ from the float64 reference by a
/// few float32 roundings of its largest values accumulated over the network's depth: we allow
/// `5e-5 · max|reference| + 1e-6` (the absolute part covers tensors that are zero in exact
/// arithmetic, such as the attention key bias gradient).
@Suite(.serialized) struct BertGoldenTests {
    static let golden = Result { try SafeTensorsFile(contentsOf: Fixtures.url("tiny-bert-golden.safetensors")) }

    static func batch(idsKey: String = "input_ids") throws -> TokenBatch {
        let g = try golden.get()
        let ids = try g.int64s(idsKey).map(Int32.init)
        let shape = try #require(g[idsKey]?.shape)
        return TokenBatch(batch: shape[0], tokens: shape[1], inputIds: ids,
                          tokenTypeIds: try g.int64s("token_type_ids").map(Int32.init),
                          attentionMask: try g.int64s("attention_mask").map(Int32.init))
    }

    @Test(arguments: BackendKind.allCases)
    func maskedLMMatchesTransformers(_ kind: BackendKind) throws {
        let g = try Self.golden.get()
        let (model, report) = try BertCheckpoint.load(Fixtures.url("tiny-bert"), backend: kind.make())
        #expect(report.initialized.isEmpty, "every MLM parameter is in the checkpoint")
        #expect(model.architecture.head == .maskedLM)
        let labels = try g.int64s("mlm_labels").map(Int32.init)
        let pass = try model.maskedLM(Self.batch(), labels: labels, regularization: nil, reduction: .batchMean)
        expectClose(try model.predictedLogits(pass), try g.floats("mlm_logits"), "MLM logits")
        expectClose([pass.loss], try g.floats("mlm_loss"), "MLM loss")

        let sink = try GradientAccumulator(backend: model.backend, layout: model.layout)
        try model.maskedLMBackward(pass, sink: sink)
        try expectGradients(model, sink, golden: g, prefix: "mlm_grad.")
    }

    /// The batched per-sample squaring equals `transformers`' Fisher computed one sample at a time
    /// (each sample's loss the mean over its own predicted tokens), on a padded batch with a [PAD] id
    /// inside a sequence and the tied decoder; with scratch so small that every chunk is one sample.
    @Test(arguments: BackendKind.allCases, [1 << 26, 1])
    func perSampleFisherMatchesTransformers(_ kind: BackendKind, scratchLimit: Int) throws {
        let g = try Self.golden.get()
        let (model, _) = try BertCheckpoint.load(Fixtures.url("tiny-bert"), backend: kind.make())
        let labels = try g.int64s("mlm_labels").map(Int32.init)
        let pass = try model.maskedLM(Self.batch(), labels: labels, regularization: nil, reduction: .perSampleMean)
        let sink = try FisherAccumulator(backend: model.backend, layout: model.layout, scratchLimit: scratchLimit,
                                         tiedTable: model.tiedTable)
        try model.maskedLMBackward(pass, sink: sink)
        try expectFisher(model, sink, samples: pass.sampleLosses.compactMap { $0 }.count, golden: g, key: "mlm")
    }

    @Test(arguments: BackendKind.allCases)
    func classificationMatchesTransformers(_ kind: BackendKind) throws {
        try checkClassification(kind, folder: "tiny-bert-cls", key: "cls", expectedHead: .sequenceClassification(labels: 3, regression: false))
    }

    @Test(arguments: BackendKind.allCases)
    func regressionMatchesTransformers(_ kind: BackendKind) throws {
        try checkClassification(kind, folder: "tiny-bert-reg", key: "reg", expectedHead: .sequenceClassification(labels: 1, regression: true))
    }

    private func checkClassification(_ kind: BackendKind, folder: String, key: String, expectedHead: BertHead) throws {
        let g = try Self.golden.get()
        let (model, report) = try BertCheckpoint.load(Fixtures.url(folder), backend: kind.make())
        #expect(model.architecture.head == expectedHead)
        #expect(report.initialized.isEmpty && report.prefixed)
        var batch = try Self.batch()
        batch.inputIds = try g.int64s(key + "_input_ids").map(Int32.init)
        let pass = try model.classify(batch, labels: try g.floats(key + "_labels"), regularization: nil, reduction: .batchMean)
        expectClose(pass.logits, try g.floats(key + "_logits"), "\(key) logits")
        expectClose([pass.loss], try g.floats(key + "_loss"), "\(key) loss")
        let sink = try GradientAccumulator(backend: model.backend, layout: model.layout)
        try model.classifyBackward(pass, sink: sink)
        try expectGradients(model, sink, golden: g, prefix: key + "_grad.")
    }
}
