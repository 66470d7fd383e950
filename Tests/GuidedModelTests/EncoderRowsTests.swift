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
    static func labels(_ batch: TokenBatch, predicted: [[Int]] = [[1, 2, 4], [], [3]]) -> [Int32] {
        var labels = [Int32](repeating: -100, count: batch.rows)
        for (n, positions) in predicted.enumerated() where n < batch.batch {
            for t in positions { labels[n * batch.tokens + t] = Int32((17 + 31 * t + n) % 400) }
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
        #expect(pass.encoder.output.count == 3 * pass.perSample * model.architecture.hidden
                    && pass.encoder.outputRows.count == 3 * pass.perSample,
                "the encoder's output is at the read rows, whichever path ran")
        return Run(loss: pass.loss, gradients: try model.backend.download(gradients.gradients),
                   fisher: try model.backend.download(fisher.fisher), lastLayerRead: last.read,
                   lastLayerIntermediate: last.intermediate.count, packedRows: pass.encoder.packed.rows)
    }

    /// The same loss, batch gradients and per-sample Fisher, up to float rounding.
    static func expectSame(_ got: Run, _ want: Run, sourceLocation: SourceLocation = #_sourceLocation) {
        expectClose([got.loss], [want.loss], "loss", relative: 1e-6, sourceLocation: sourceLocation)
        expectClose(got.gradients, want.gradients, "gradients", relative: 1e-5, sourceLocation: sourceLocation)
        expectClose(got.fisher, want.fisher, "per-sample Fisher", relative: 1e-5, sourceLocation: sourceLocation)
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

        Self.expectSame(trimmed, full)
        #expect(trimmed.fisher.contains { $0 > 0 })
    }

    /// Packed rows (no trailing padding) against the padded batch, with the last layer in full in
    /// both, so that only the packing differs.
    @Test(arguments: BackendKind.allCases)
    func packedRowsEqualThePaddedBatch(_ kind: BackendKind) throws {
        let batch = try BertGoldenTests.batch()
        let packed = try Self.run(kind, readRowsOnly: false), padded = try Self.run(kind, readRowsOnly: false, packs: false)
        let lengths = (0..<batch.batch).map { n in
            1 + (0..<batch.tokens).last { batch.attentionMask[n * batch.tokens + $0] != 0 }!
        }
        #expect(packed.packedRows == lengths.reduce(0, +) && packed.packedRows < batch.rows, "the golden batch has padding")
        #expect(padded.packedRows == batch.rows)
        Self.expectSame(packed, padded)
    }

    /// What packing must keep: a label on a position the mask hides (the head reads it), and a
    /// sample that attends to nothing (its attention spreads over every key, padding included).
    @Test(arguments: BackendKind.allCases)
    func packingKeepsReadPaddingAndFullyMaskedSamples(_ kind: BackendKind) throws {
        var batch = try BertGoldenTests.batch()
        let t = batch.tokens
        #expect(t == 32 && batch.attentionMask[t + 12] == 1 && batch.attentionMask[t + 13] == 0, "sample 1 attends to 13")
        for position in 0..<t { batch.attentionMask[2 * t + position] = 0 }   // sample 2 attends to nothing
        var labels = Self.labels(batch)
        labels[t + 20] = 42                                                   // sample 1 predicts a padding position
        let packed = try Self.run(kind, readRowsOnly: true, batch: batch, labels: labels)
        let padded = try Self.run(kind, readRowsOnly: false, packs: false, batch: batch, labels: labels)
        #expect(packed.packedRows == 32 + 21 + 32)
        Self.expectSame(packed, padded)
    }

    /// More rows read than the packed encoder has (3 samples × 20 predicted slots against 32 + 13 + 6
    /// packed rows): the backward's buffers must still be the layers' own size.
    @Test(arguments: BackendKind.allCases)
    func moreRowsReadThanPacked(_ kind: BackendKind) throws {
        let batch = try BertGoldenTests.batch()
        let labels = Self.labels(batch, predicted: [Array(0..<20), [2], [1, 5]])
        let trimmed = try Self.run(kind, readRowsOnly: true, batch: batch, labels: labels)
        let padded = try Self.run(kind, readRowsOnly: false, packs: false, batch: batch, labels: labels)
        #expect(trimmed.lastLayerRead?.count == 60 && trimmed.packedRows == 51)
        Self.expectSame(trimmed, padded)
    }

    /// The classifier reads each sample's first row: trimmed and packed against the padded, full
    /// encoder, batch gradients and per-sample Fisher.
    @Test(arguments: BackendKind.allCases)
    func classifierOnItsReadRowsEqualsThePaddedEncoder(_ kind: BackendKind) throws {
        var results: [(gradients: [Float], fisher: [Float], intermediate: Int)] = []
        for trimmed in [true, false] {
            let (model, _) = try BertCheckpoint.load(Fixtures.url("tiny-bert-cls"), backend: kind.make())
            model.lastLayerRunsReadRowsOnly = trimmed
            model.encoderPacksRows = trimmed
            let batch = try BertGoldenTests.batch(), labels: [Float] = [2, 0, 1]
            let pass = try model.classify(batch, labels: labels, regularization: nil, reduction: .batchMean)
            let gradients = try GradientAccumulator(backend: model.backend, layout: model.layout)
            try model.classifyBackward(pass, sink: gradients)
            let perSample = try model.classify(batch, labels: labels, regularization: nil, reduction: .perSampleMean)
            let fisher = try FisherAccumulator(backend: model.backend, layout: model.layout, tiedTable: nil)
            try model.classifyBackward(perSample, sink: fisher)
            results.append((try model.backend.download(gradients.gradients), try model.backend.download(fisher.fisher),
                            try #require(pass.encoder.layers.last).intermediate.count))
        }
        #expect(results[0].intermediate * 32 == results[1].intermediate, "3 [CLS] rows against 3 × 32")
        expectClose(results[0].gradients, results[1].gradients, "classifier gradients", relative: 1e-5)
        expectClose(results[0].fisher, results[1].fisher, "classifier per-sample Fisher", relative: 1e-5)
    }

    /// Under noise the trimmed path draws other masks than the full one, from the same distribution:
    /// over 120 noise seeds (dropout 0.3 at every site), the classifier's mean loss and its spread
    /// agree within four standard errors.
    @Test func noiseOnTheTrimmedRowsHasTheFullPathsDistribution() throws {
        let (model, _) = try BertCheckpoint.load(Fixtures.url("tiny-bert-cls"), backend: CPUBackend())
        let batch = try BertGoldenTests.batch(), labels: [Float] = [2, 0, 1]
        func losses(trimmed: Bool) throws -> [Double] {
            model.lastLayerRunsReadRowsOnly = trimmed
            return try (0..<120).map { seed in
                let noise = model.architecture.sites.map { _ in Noise.bernoulli(0.3) as Noise? }
                let regularization = Regularization(noise: noise, seed: UInt64(seed), step: 0)
                return Double(try model.classify(batch, labels: labels, regularization: regularization,
                                                 reduction: .batchMean).loss)
            }
        }
        let trimmed = try losses(trimmed: true), full = try losses(trimmed: false)
        func meanAndVariance(_ x: [Double]) -> (Double, Double) {
            let mean = x.reduce(0, +) / Double(x.count)
            return (mean, x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(x.count - 1))
        }
        let (m1, v1) = meanAndVariance(trimmed), (m2, v2) = meanAndVariance(full)
        let standardError = ((v1 + v2) / 120).squareRoot()
        #expect(trimmed != full, "the masks differ")
        #expect(abs(m1 - m2) < 4 * standardError, "mean loss \(m1) trimmed vs \(m2) full (standard error \(standardError))")
        #expect(abs(v1.squareRoot() - v2.squareRoot()) < 0.3 * v2.squareRoot(), "spread \(v1.squareRoot()) vs \(v2.squareRoot())")
    }

    /// With the masks held fixed (one seed), the trimmed path's backward is the derivative of its
    /// forward: the gradient along a random direction of every parameter against a central
    /// difference of the loss, dropout 0.3 at every site.
    @Test func trimmedBackwardUnderNoiseMatchesFiniteDifferences() throws {
        let (model, _) = try BertCheckpoint.load(Fixtures.url("tiny-bert-cls"), backend: CPUBackend())
        let batch = try BertGoldenTests.batch(), labels: [Float] = [2, 0, 1]
        let regularization = Regularization(noise: model.architecture.sites.map { _ in Noise.bernoulli(0.3) as Noise? },
                                            seed: 11, step: 3)
        let pass = try model.classify(batch, labels: labels, regularization: regularization, reduction: .batchMean)
        #expect(pass.encoder.layers.last?.read != nil)
        let sink = try GradientAccumulator(backend: model.backend, layout: model.layout)
        try model.classifyBackward(pass, sink: sink)
        let gradient = try model.backend.download(sink.gradients), theta = try model.backend.download(model.parameters)
        var random = SplitMix64(seed: 5)
        let direction = theta.indices.map { _ in Float(Int(random.next(below: 2001)) - 1000) / 1000 }
        let analytic = zip(gradient, direction).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        func loss(_ step: Float) throws -> Double {
            try model.backend.upload(zip(theta, direction).map { $0 + step * $1 }, to: model.parameters)
            return Double(try model.classify(batch, labels: labels, regularization: regularization, reduction: .batchMean).loss)
        }
        let epsilon: Float = 1e-3
        let numeric = (try loss(epsilon) - loss(-epsilon)) / Double(2 * epsilon)
        #expect(abs(numeric - analytic) <= 2e-2 * abs(analytic) + 1e-3, "directional derivative \(numeric) vs \(analytic)")
    }

    /// Noise in the trimmed part of the last layer is drawn for the rows computed only, so the last
    /// layer stays trimmed in training; noise elsewhere draws the same masks either way.
    @Test func noiseKeepsTheTrim() throws {
        let architecture = try BertCheckpoint.load(Fixtures.url("tiny-bert"), backend: CPUBackend()).model.architecture
        let last = architecture.layers - 1
        func regularization(_ active: (DropoutSite.Kind) -> Bool) -> Regularization {
            Regularization(noise: architecture.sites.map { active($0.kind) ? Noise.bernoulli(0.2) : nil }, seed: 3, step: 1)
        }
        let everywhere = try Self.run(.cpu, readRowsOnly: true, regularization: regularization { _ in true })
        #expect(everywhere.lastLayerRead != nil)

        let elsewhere = regularization { $0 != .attentionOutput(layer: last) && $0 != .output(layer: last) }
        let trimmed = try Self.run(.cpu, readRowsOnly: true, regularization: elsewhere)
        let full = try Self.run(.cpu, readRowsOnly: false, regularization: elsewhere)
        expectClose(trimmed.gradients, full.gradients, "gradients with noise before the last layer's dense", relative: 1e-5)
        let clean = try Self.run(.cpu, readRowsOnly: true)
        #expect(abs(clean.loss - trimmed.loss) > 1e-4 && abs(clean.loss - everywhere.loss) > 1e-4, "the noise acted")
    }
}
