/// Which rows of a batch's [rows, width] operands belong to which sample: sample n owns rows
/// `starts[n]..<starts[n + 1]`, in order.
///
/// Most ops see uniform batches, every sample `tokens` rows. The language-model heads project only
/// the predicted positions onto the vocabulary, packed without padding, so their samples own
/// different numbers of rows (none, for a sample with nothing predicted): padding each sample to
/// the batch's most would add that many vocabulary-wide rows to three GEMMs and the squares. BERT's
/// encoder runs on its samples' rows packed without trailing padding likewise.
public struct SampleRows: Sendable, Equatable {
    /// `count + 1` offsets, from 0 to `total`, never decreasing.
    public let starts: [Int]

    public init(counts: [Int]) {
        precondition(counts.allSatisfy { $0 >= 0 }, "negative row count")
        var starts = [0]
        for c in counts { starts.append(starts.last! + c) }
        self.starts = starts
    }

    public static func uniform(batch: Int, tokens: Int) -> SampleRows {
        SampleRows(counts: Array(repeating: tokens, count: batch))
    }

    /// Samples.
    public var count: Int { starts.count - 1 }
    /// Rows of all samples together.
    public var total: Int { starts[starts.count - 1] }
    /// The most rows any sample owns (0 for no samples).
    public var longest: Int {
        var most = 0
        for n in 0..<count { most = max(most, starts[n + 1] - starts[n]) }
        return most
    }
    /// Sample n's rows.
    public subscript(n: Int) -> Range<Int> { starts[n]..<starts[n + 1] }
    /// The rows each sample owns, where every sample owns as many (nil for none at all).
    public var uniformTokens: Int? {
        guard count > 0 else { return nil }
        let first = starts[1]
        return (0..<count).allSatisfy { self[$0].count == first } ? first : nil
    }
}
