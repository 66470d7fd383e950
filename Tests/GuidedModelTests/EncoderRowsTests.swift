import Foundation
import GuidedCompute
import Testing
@testable import GuidedModel

/// The encoder runs on fewer rows than the padded batch: without each sample's trailing padding
/// (`PackedTokens`), and in the last layer after its attention only at the rows the head reads
/// (`OutputRows`). These tests hold both to the padded, every-row encoder: the same loss,
/// gradients and per-sample Fisher, on both backends.
@Suite(.serialized) struct EncoderRowsTests {
    /// Uneven counts: sample 0 predicts three positions, sample 1 none, sample 2 one, so the
    /// per-sample slots have padding and one sample has nothing but padding.
    static func labels(_ batch: TokenBatch) -> [Int32] {
        let predicted: [[Int]] = [[1, 2, 4], [], [3]]
        var labels = [Int32](repeating: -100, count: batch.rows)
        for (n, positions) in predicted.enumerated() where n < batch.batch {
            for t in positions { labels[n * batch.tokens + t] = Int32(17 + 31 * t + n) }
        }
        return labels
    }

    struct Run {
        let loss: Float
        let gradients: [Float]
        let fisher: [Float]
        let lastLayerRead: OutputRows?
        let lastLayerIntermediate: Int
        let packedRows: Int
    }

    static func run(_ kind: BackendKind, readRowsOnly: Bool, packs: Bool = true, regularization: Regularization? = nil,
                    batch: TokenBatch? = nil, labels: [Int32]? = nil) throws -> Run {
        let (model, _) = try BertCheckpoint.load(Fixtures.url("tiny-bert"), backend: kind.make())
        model.lastLayerRunsReadRowsOnly = readRowsOnly
        model.encoderPacksRows = packs
        let batch = try batch ?? BertGoldenTests.batch()
        let labels = labels ?? Self.labels(batch)
        let pass = try model.maskedLM(batch, labels: labels, regularization: regularization, reduction: .batchMean)
        let gradients = try GradientAccumulator(backend: model.backend, layout: model.layout)
        try model.maskedLMBackward(pass, sink: gradients)
        let perSample = try model.maskedLM(batch, labels: labels, regularization: regularization, reduction: .perSampleMean)
        let fisher = try FisherAccumulator(backend: model.backend, layout: model.layout, tiedTable: model.tiedTable)
        try model.maskedLMBackward(perSample, sink: fisher)
        let last = try #require(pass.encoder.layers.last)
        #expect(pass.encoder.output.count == 3 * pass.perSample * model.architecture.hidden,
                "the encoder's output is at the read rows, whichever path ran")
        return Run(loss: pass.loss, gradients: try model.backend.download(gradients.gradients),
                   fisher: try model.backend.download(fisher.fisher), lastLayerRead: last.read,
                   lastLayerIntermediate: last.intermediate.count, packedRows: pass.encoder.packed.rows)
    }

    @Test(arguments: BackendKind.allCases)
    func lastLayerOnReadRowsEqualsEveryRow(_ kind: BackendKind) throws {
        let batch = try BertGoldenTests.batch()
        #expect(batch.batch == 3)
        let trimmed = try Self.run(kind, readRowsOnly: true), full = try Self.run(kind, readRowsOnly: false)
        let read = try #require(trimmed.lastLayerRead, "no noise: the last layer runs the read rows only")
        #expect(read.perSample == 3 && read.count == 9)
        #expect(trimmed.lastLayerIntermediate == 9 * 64, "the feed-forward saw 9 rows, not \(batch.rows)")
        #expect(full.lastLayerRead == nil && full.lastLayerIntermediate == full.packedRows * 64)

        expectClose([trimmed.loss], [full.loss], "loss", relative: 1e-6)
        expectClose(trimmed.gradients, full.gradients, "gradients", relative: 1e-5)
        expectClose(trimmed.fisher, full.fisher, "per-sample Fisher", relative: 1e-5)
        #expect(trimmed.fisher.contains { $0 > 0 })
    }

    /// Packed rows (no trailing padding) against the padded batch, with the last layer in full in
    /// both, so that only the packing differs.
    @Test(arguments: BackendKind.allCases)
    func packedRowsEqualThePaddedBatch(_ kind: BackendKind) throws {
        let batch = try BertGoldenTests.batch()
        let packed = try Self.run(kind, readRowsOnly: false), padded = try Self.run(kind, readRowsOnly: false, packs: false)
        let lengths = (0..<batch.batch).map { n in 1 + (0..<batch.tokens).last { batch.attentionMask[n * batch.tokens + $0] != 0 }! }
        #expect(packed.packedRows == lengths.reduce(0, +) && packed.packedRows < batch.rows, "the golden batch has padding")
        #expect(padded.packedRows == batch.rows)
        expectClose([packed.loss], [padded.loss], "loss", relative: 1e-6)
        expectClose(packed.gradients, padded.gradients, "gradients", relative: 1e-5)
        expectClose(packed.fisher, padded.fisher, "per-sample Fisher", relative: 1e-5)
    }

    /// What packing must keep: a label on a position the mask hides (the head reads it), and a
    /// sample that attends to nothing (its attention spreads over every key, padding included).
    @Test func packingKeepsReadPaddingAndFullyMaskedSamples() throws {
        var batch = try BertGoldenTests.batch()
        let t = batch.tokens
        #expect(t == 32 && batch.attentionMask[t + 12] == 1 && batch.attentionMask[t + 13] == 0, "sample 1 attends to 13")
        for position in 0..<t { batch.attentionMask[2 * t + position] = 0 }   // sample 2 attends to nothing
        var labels = Self.labels(batch)
        labels[t + 20] = 42                                                   // sample 1 predicts a padding position
        let packed = try Self.run(.cpu, readRowsOnly: true, batch: batch, labels: labels)
        let padded = try Self.run(.cpu, readRowsOnly: false, packs: false, batch: batch, labels: labels)
        #expect(packed.packedRows == 32 + 21 + 32)
        expectClose([packed.loss], [padded.loss], "loss", relative: 1e-6)
        expectClose(packed.gradients, padded.gradients, "gradients", relative: 1e-5)
        expectClose(packed.fisher, padded.fisher, "per-sample Fisher", relative: 1e-5)
    }

    /// Noise in the last layer after its attention keeps every row (a mask is drawn per element of
    /// the full tensor); noise elsewhere does not stop the trimmed path, and draws the same masks.
    @Test func noiseInTheLastLayerKeepsEveryRow() throws {
        let architecture = try BertCheckpoint.load(Fixtures.url("tiny-bert"), backend: CPUBackend()).model.architecture
        let last = architecture.layers - 1
        func regularization(_ active: (DropoutSite.Kind) -> Bool) -> Regularization {
            Regularization(noise: architecture.sites.map { active($0.kind) ? Noise.bernoulli(0.2) : nil }, seed: 3, step: 1)
        }
        let inLastLayer = regularization { $0 == .output(layer: last) }
        let noisyRun = try Self.run(.cpu, readRowsOnly: true, regularization: inLastLayer)
        #expect(noisyRun.lastLayerRead == nil)
        let noisyFull = try Self.run(.cpu, readRowsOnly: false, regularization: inLastLayer)
        #expect(noisyRun.gradients == noisyFull.gradients)

        let elsewhere = regularization { $0 != .attentionOutput(layer: last) && $0 != .output(layer: last) }
        let trimmed = try Self.run(.cpu, readRowsOnly: true, regularization: elsewhere)
        let full = try Self.run(.cpu, readRowsOnly: false, regularization: elsewhere)
        #expect(trimmed.lastLayerRead != nil)
        expectClose(trimmed.gradients, full.gradients, "gradients with noise before the last layer's dense", relative: 1e-5)
        let clean = try Self.run(.cpu, readRowsOnly: true)
        #expect(abs(clean.loss - trimmed.loss) > 1e-4, "the noise acted")
    }
}
