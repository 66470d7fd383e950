import Foundation
import GuidedCompute
import Testing
@testable import GuidedModel

/// GPT-2's decoder runs on packed rows (each sample without its trailing padding, `PackedTokens`):
/// held to the padded batch here, on both backends — the same loss, gradients and per-sample
/// Fisher for the LM head, the same logits and gradients for the classifier.
@Suite(.serialized) struct GPT2PackedRowsTests {
    @Test(arguments: BackendKind.allCases)
    func languageModelOnPackedRowsEqualsThePaddedBatch(_ kind: BackendKind) throws {
        let batch = try GPT2GoldenTests.batch(), labels = try GPT2GoldenTests.labels()
        var runs: [(loss: Float, gradients: [Float], fisher: [Float], rows: Int)] = []
        for packs in [true, false] {
            let (model, _) = try GPT2Checkpoint.load(Fixtures.url("tiny-gpt2"), backend: kind.make())
            model.decoderPacksRows = packs
            let pass = try model.causalLM(batch, labels: labels, regularization: nil, reduction: .batchMean)
            let gradients = try GradientAccumulator(backend: model.backend, layout: model.layout)
            try model.causalLMBackward(pass, sink: gradients)
            let perSample = try model.causalLM(batch, labels: labels, regularization: nil, reduction: .perSampleMean)
            let fisher = try FisherAccumulator(backend: model.backend, layout: model.layout,
                                               tiedTable: GPT2Architecture.tiedTable)
            try model.causalLMBackward(perSample, sink: fisher)
            runs.append((pass.loss, try model.backend.download(gradients.gradients), try model.backend.download(fisher.fisher),
                         pass.decoder.packed.rows))
        }
        let (packed, padded) = (runs[0], runs[1])
        #expect(packed.rows == 12 + 9 + 5 && padded.rows == 3 * 12, "the golden batch is right-padded to 12")
        expectClose([packed.loss], [padded.loss], "loss", relative: 1e-6)
        expectClose(packed.gradients, padded.gradients, "gradients", relative: 1e-5)
        expectClose(packed.fisher, padded.fisher, "per-sample Fisher", relative: 1e-5)
    }

    @Test(arguments: BackendKind.allCases)
    func classifierOnPackedRowsEqualsThePaddedBatch(_ kind: BackendKind) throws {
        let g = try GPT2GoldenTests.golden.get()
        let batch = try GPT2GoldenTests.batch(), labels = try g.floats("cls_labels")
        var runs: [(logits: [Float], gradients: [Float], rows: Int)] = []
        for packs in [true, false] {
            let (model, _) = try GPT2Checkpoint.load(Fixtures.url("tiny-gpt2-cls"), backend: kind.make())
            model.decoderPacksRows = packs
            let pass = try model.classify(batch, labels: labels, regularization: nil, reduction: .batchMean)
            let gradients = try GradientAccumulator(backend: model.backend, layout: model.layout)
            try model.classifyBackward(pass, sink: gradients)
            runs.append((pass.logits, try model.backend.download(gradients.gradients), pass.decoder.packed.rows))
        }
        #expect(runs[0].rows < runs[1].rows)
        expectClose(runs[0].logits, runs[1].logits, "classifier logits", relative: 1e-6)
        expectClose(runs[0].gradients, runs[1].gradients, "classifier gradients", relative: 1e-5)
    }
}
