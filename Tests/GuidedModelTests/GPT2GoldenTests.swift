import Foundation
import GuidedCompute
import Testing
@testable import GuidedModel

/// The tiny GPT-2 of `tools/make_gpt2_fixture.py` against the golden values `transformers` computed
/// for it in float64, on both backends: LM logits at the predicted positions, loss and every
/// gradient (wte's including the tied head); classification and regression logits, losses and
/// gradients; the per-sample empirical Fisher.
///
/// Tolerances, as in `BertGoldenTests`: we compute in float32, so each tensor may differ from the
/// float64 reference by a few float32 roundings of its largest values accumulated over the depth:
/// `5e-5 · max|reference| + 1e-6`. Fisher values (squares, which double the relative error of the
/// gradients) get `1e-4 · max|reference| + 1e-9`.
@Suite(.serialized) struct GPT2GoldenTests {
    static let golden = Result { try SafeTensorsFile(contentsOf: Fixtures.url("tiny-gpt2-golden.safetensors")) }

    /// The right-padded batch of three texts, as transformers' GPT2Tokenizer gave it.
    static func batch() throws -> TokenBatch {
        let g = try golden.get()
        let shape = try #require(g["input_ids"]?.shape)
        return TokenBatch(batch: shape[0], tokens: shape[1], inputIds: try g.int64s("input_ids").map(Int32.init),
                          attentionMask: try g.int64s("attention_mask").map(Int32.init))
    }

    static func labels() throws -> [Int32] { try golden.get().int64s("lm_labels").map(Int32.init) }

    @Test(arguments: BackendKind.allCases)
    func languageModelMatchesTransformers(_ kind: BackendKind) throws {
        let g = try Self.golden.get()
        let (model, report) = try GPT2Checkpoint.load(Fixtures.url("tiny-gpt2"), backend: kind.make())
        #expect(model.architecture.head == .languageModel)
        #expect(report.initialized.isEmpty && !report.prefixed, "every parameter, stored with bare names")
        let pass = try model.causalLM(Self.batch(), labels: Self.labels(), regularization: nil, reduction: .batchMean)
        expectClose(try model.predictedLogits(pass), try g.floats("lm_logits"), "LM logits")
        expectClose([pass.loss], try g.floats("lm_loss"), "LM loss")
        #expect(pass.skippedSamples == 0)

        let sink = try GradientAccumulator(backend: model.backend, layout: model.layout)
        try model.causalLMBackward(pass, sink: sink)
        try expectGradients(model, sink, golden: g, prefix: "lm_grad.")
    }

    /// The batched per-sample squaring through `FisherAccumulator` (the tied head held until the wte
    /// lookup, with no bias) equals `transformers`' Fisher computed one unpadded sample at a time; with
    /// scratch so small that every chunk is one sample too.
    @Test(arguments: BackendKind.allCases, [1 << 26, 1])
    func perSampleFisherMatchesTransformers(_ kind: BackendKind, scratchLimit: Int) throws {
        let g = try Self.golden.get()
        let (model, _) = try GPT2Checkpoint.load(Fixtures.url("tiny-gpt2"), backend: kind.make())
        let pass = try model.causalLM(Self.batch(), labels: Self.labels(), regularization: nil, reduction: .perSampleMean)
        let sink = try FisherAccumulator(backend: model.backend, layout: model.layout, scratchLimit: scratchLimit,
                                         tiedTable: GPT2Architecture.tiedTable)
        try model.causalLMBackward(pass, sink: sink)
        try expectFisher(model, sink, samples: pass.sampleLosses.compactMap { $0 }.count, golden: g, key: "lm")
    }

    /// A batched Fisher equals the sum of batch-of-one Fishers (each sample trimmed to its tokens).
    @Test(arguments: BackendKind.allCases)
    func batchedFisherEqualsBatchOfOne(_ kind: BackendKind) throws {
        let (model, _) = try GPT2Checkpoint.load(Fixtures.url("tiny-gpt2"), backend: kind.make())
        let batch = try Self.batch(), labels = try Self.labels()
        func fisher(_ batches: [(TokenBatch, [Int32])]) throws -> [Float] {
            let sink = try FisherAccumulator(backend: model.backend, layout: model.layout,
                                             tiedTable: GPT2Architecture.tiedTable)
            for (b, l) in batches {
                let pass = try model.causalLM(b, labels: l, regularization: nil, reduction: .perSampleMean)
                try model.causalLMBackward(pass, sink: sink)
            }
            return try model.backend.download(sink.fisher)
        }
        var single: [(TokenBatch, [Int32])] = []
        for n in 0..<batch.batch {
            let t = batch.attentionMask[(n * batch.tokens)..<((n + 1) * batch.tokens)].filter { $0 != 0 }.count
            let range = (n * batch.tokens)..<(n * batch.tokens + t)
            single.append((TokenBatch(batch: 1, tokens: t, inputIds: Array(batch.inputIds[range])), Array(labels[range])))
        }
        let batched = try fisher([(batch, labels)]), one = try fisher(single)
        expectClose(batched, one, "batched vs batch-of-one Fisher", relative: 1e-4, absolute: 1e-9)
        #expect(batched.contains { $0 != 0 })
    }

    @Test(arguments: BackendKind.allCases)
    func classificationMatchesTransformers(_ kind: BackendKind) throws {
        try checkClassification(kind, folder: "tiny-gpt2-cls", key: "cls", expectedHead: .sequenceClassification(labels: 3, regression: false))
    }

    @Test(arguments: BackendKind.allCases)
    func regressionMatchesTransformers(_ kind: BackendKind) throws {
        try checkClassification(kind, folder: "tiny-gpt2-reg", key: "reg", expectedHead: .sequenceClassification(labels: 1, regression: true))
    }

    private func checkClassification(_ kind: BackendKind, folder: String, key: String, expectedHead: GPT2Head) throws {
        let g = try Self.golden.get()
        let (model, report) = try GPT2Checkpoint.load(Fixtures.url(folder), backend: kind.make())
        #expect(model.architecture.head == expectedHead)
        #expect(report.initialized.isEmpty && report.unused.isEmpty && report.prefixed)
        let pass = try model.classify(Self.batch(), labels: try g.floats(key + "_labels"), regularization: nil,
                                      reduction: .batchMean)
        expectClose(pass.logits, try g.floats(key + "_logits"), "\(key) logits")
        expectClose([pass.loss], try g.floats(key + "_loss"), "\(key) loss")
        let sink = try GradientAccumulator(backend: model.backend, layout: model.layout)
        try model.classifyBackward(pass, sink: sink)
        // wte's golden gradient is stored as the rows the batch looks up; every other row must be zero.
        let rows = try g.int64s(key + "_grad_wte_rows").map(Int.init)
        try expectGradients(model, sink, golden: g, prefix: key + "_grad.", sparseWTE: rows)
    }

    /// Every parameter's gradient, by its `transformers` name; with `sparseWTE`, wte's golden
    /// gradient holds only those rows, and every other row must be zero.
    private func expectGradients(_ model: GPT2Model, _ sink: GradientAccumulator, golden g: SafeTensorsFile,
                                 prefix: String, sparseWTE: [Int]? = nil) throws {
        try GuidedModelTests.expectGradients(model, sink, golden: g, prefix: prefix) { slot, name, got in
            guard slot.name == "wte.weight", let rows = sparseWTE else { return got }
            let width = slot.shape[1], used = Set(rows)
            let others = (0..<slot.shape[0]).filter { !used.contains($0) }.flatMap { got[($0 * width)..<(($0 + 1) * width)] }
            #expect(others.allSatisfy { $0 == 0 }, "\(name): rows the batch does not look up")
            return rows.flatMap { got[($0 * width)..<(($0 + 1) * width)] }
        }
    }
}
