import Foundation
import GuidedCompute
import Testing
@testable import GuidedModel

/// GPT-2's decoder runs on packed rows (each sample without its trailing padding, `PackedTokens`):
/// held to the padded batch here, on both backends — the same loss, gradients and per-sample
/// Fisher for the LM head, the same logits and gradients for the classifier.
@Suite(.serialized) struct GPT2PackedRowsTests {
    /// The golden batch (right-padded to 12: lengths 12, 9, 5), and one that makes packing keep more:
    /// sample 0 left-padded (nothing to trim), sample 1 scoring a masked position (position 9, against
    /// the label at 10), sample 2 attending to nothing (it keeps every position).
    static func cases() throws -> [(batch: TokenBatch, labels: [Int32], packedRows: Int)] {
        let golden = try GPT2GoldenTests.batch(), labels = try GPT2GoldenTests.labels()
        var edge = golden, edgeLabels = labels
        let t = golden.tokens
        for position in 0..<2 { edge.attentionMask[position] = 0 }
        edgeLabels[t + 10] = 42
        for position in 0..<t { edge.attentionMask[2 * t + position] = 0 }
        return [(golden, labels, 12 + 9 + 5), (edge, edgeLabels, 12 + 10 + 12)]
    }

    @Test(arguments: BackendKind.allCases, [0, 1])
    func languageModelOnPackedRowsEqualsThePaddedBatch(_ kind: BackendKind, caseIndex: Int) throws {
        let (batch, labels, packedRows) = try Self.cases()[caseIndex]
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
        #expect(packed.rows == packedRows && padded.rows == 3 * 12)
        expectClose([packed.loss], [padded.loss], "loss", relative: 1e-6)
        expectClose(packed.gradients, padded.gradients, "gradients", relative: 1e-5)
        expectClose(packed.fisher, padded.fisher, "per-sample Fisher", relative: 1e-5)
    }

    /// Also with sample 1's mask ending before its last non-pad token (position 8), which the
    /// classifier reads: packing keeps it.
    @Test(arguments: BackendKind.allCases, [false, true])
    func classifierOnPackedRowsEqualsThePaddedBatch(_ kind: BackendKind, maskEndsEarly: Bool) throws {
        let g = try GPT2GoldenTests.golden.get()
        var batch = try GPT2GoldenTests.batch()
        let labels = try g.floats("cls_labels")
        if maskEndsEarly { for position in 6..<batch.tokens { batch.attentionMask[batch.tokens + position] = 0 } }
        var runs: [(logits: [Float], gradients: [Float], rows: Int)] = []
        for packs in [true, false] {
            let (model, _) = try GPT2Checkpoint.load(Fixtures.url("tiny-gpt2-cls"), backend: kind.make())
            model.decoderPacksRows = packs
            let pass = try model.classify(batch, labels: labels, regularization: nil, reduction: .batchMean)
            let gradients = try GradientAccumulator(backend: model.backend, layout: model.layout)
            try model.classifyBackward(pass, sink: gradients)
            runs.append((pass.logits, try model.backend.download(gradients.gradients), pass.decoder.packed.rows))
        }
        #expect(runs[0].rows == 12 + 9 + 5 && runs[1].rows == 36, "sample 1 keeps its read position either way")
        expectClose(runs[0].logits, runs[1].logits, "classifier logits", relative: 1e-6)
        expectClose(runs[0].gradients, runs[1].gradients, "classifier gradients", relative: 1e-5)
    }
}
