import GuidedCompute

/// A batch's token rows packed without their trailing padding: sample n's positions 0..<length(n)
/// are the model's rows `samples[n]`, one sample after another (BERT's encoder, GPT-2's decoder).
///
/// A padded position changes nothing the loss sees: it is a key the mask hides (its attention
/// probability is exactly 0) and a query whose output nobody reads, so its gradient is exactly 0.
/// Only the attention needs the padded [batch, heads, tokens, headDim] layout, and it gets it from
/// `packedRowsToHeads` and back; every other op (the linear layers, GELU, LayerNorm, the per-sample
/// squares) runs on the packed rows. With dynamic padding of length-sorted samples about 6% of a
/// Fisher batch's rows were padding (MiniLM's corpus samples), more for unsorted fine-tuning batches.
///
/// Noise (dropout) is drawn per element of the packed tensors, so a sample's masks depend on the
/// lengths of the samples packed before it, as with padding they depended on the batch's longest:
/// each element's noise is independent either way, and both backends draw the same.
struct PackedTokens {
    /// Sample n owns packed rows `samples[n]`, its positions 0..<samples[n].count.
    let samples: SampleRows
    /// [packed rows]: the row of the padded batch (n · tokens + position) each packed row is.
    let paddedRows: [Int32]
    let tokens: Int

    /// A sample keeps every position up to its last attended one, and any position in `kept` (rows
    /// of the padded batch a head reads). A sample that attends to nothing keeps all its positions:
    /// its attention then spreads evenly over every key, padding included, as `transformers` computes.
    /// `trim` false keeps every position of every sample.
    init(_ batch: TokenBatch, kept: [Int32] = [], trim: Bool = true) {
        let t = batch.tokens
        var lengths = [Int](repeating: trim ? 0 : t, count: batch.batch)
        if trim {
            for n in 0..<batch.batch {
                let last = (0..<t).last { batch.attentionMask[n * t + $0] != 0 }
                lengths[n] = last.map { $0 + 1 } ?? t
            }
            for row in kept.map(Int.init) where row >= 0 && row < batch.rows {
                lengths[row / t] = max(lengths[row / t], row % t + 1)
            }
        }
        samples = SampleRows(counts: lengths)
        paddedRows = lengths.enumerated().flatMap { n, length in (0..<length).map { Int32(n * t + $0) } }
        tokens = t
    }

    /// Packed rows in all.
    var rows: Int { samples.total }

    /// The packed row of padded row `row` (n · tokens + position), which must be kept.
    func packedRow(_ row: Int32) -> Int32 {
        precondition(row >= 0 && Int(row) < samples.count * tokens, "padded row \(row) outside the batch")
        let n = Int(row) / tokens, position = Int(row) % tokens
        precondition(position < samples[n].count, "padded row \(row) was not kept")
        return Int32(samples[n].lowerBound + position)
    }

    /// [packed rows]: each packed row's position in its sample.
    var positions: [Int32] { paddedRows.map { $0 % Int32(tokens) } }

    /// `values` [batch · tokens] at the packed rows.
    func pack<T>(_ values: [T]) -> [T] { paddedRows.map { values[Int($0)] } }
}
