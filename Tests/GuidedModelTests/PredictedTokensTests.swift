import Testing
@testable import GuidedCompute
@testable import GuidedModel

/// The LM heads' scored positions: packed sample after sample for the vocabulary projection,
/// padded per sample only for BERT's hidden-wide transform.
@Suite struct PredictedTokensTests {
    /// Sample 0 scores positions 1 and 3, sample 1 nothing, sample 2 positions 0, 2 and 3.
    static let targets: [[Int32?]] = [[nil, 11, nil, 13, nil], [nil, nil, nil, nil, nil], [20, nil, 22, 23, nil]]

    @Test func packsEachSamplesRowsWithoutPadding() {
        let p = PredictedTokens(batch: 3, tokens: 5, reduction: .perSampleMean) { n, t in Self.targets[n][t] }
        #expect(p.samples == SampleRows(counts: [2, 0, 3]))
        #expect(p.rows == [1, 3, 10, 12, 13])
        #expect(p.targets == [11, 13, 20, 22, 23])
        let third: Float = 1 / 3
        #expect(p.weights == [0.5, 0.5, third, third, third])
        #expect(p.total == 5 && p.skippedSamples == 1)
        // Padded per sample to the most (3): slot n·3 + k; padding slots read the sample's row 0.
        #expect(p.perSample == 3)
        #expect(p.slots == [0, 1, 6, 7, 8])
        #expect(p.slotRows == [1, 3, 0, 5, 5, 5, 10, 12, 13])
    }

    @Test func batchMeanWeighsEveryRowAlike() {
        let p = PredictedTokens(batch: 3, tokens: 5, reduction: .batchMean) { n, t in Self.targets[n][t] }
        let fifth: Float = 1 / 5
        #expect(p.weights == Array(repeating: fifth, count: 5))
    }

    @Test func aBatchWithNothingScoredKeepsOneUnweightedFillerRow() {
        let p = PredictedTokens(batch: 2, tokens: 4, reduction: .perSampleMean) { _, _ in nil }
        #expect(p.samples == SampleRows(counts: [0, 0]) && p.total == 0)
        #expect(p.rows == [0] && p.slots == [0] && p.targets == [-1] && p.weights == [0])
        #expect(p.skippedSamples == 2)
        // No samples at all: no rows, not even a filler (BERT's padded slots would have none to give).
        let empty = PredictedTokens(batch: 0, tokens: 4, reduction: .perSampleMean) { _, _ in nil }
        #expect(empty.rows.isEmpty && empty.slotRows.isEmpty && empty.samples.count == 0)
    }
}
