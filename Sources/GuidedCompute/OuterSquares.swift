/// Embedding lookups that add into per-sample outer-product gradients before they are squared:
/// the word-embedding table tied to an LM head gets, per sample, the head's dense gradient plus
/// the rows its tokens looked up (../shared/DESIGN.md, "Per-sample gradient squaring").
public struct OuterSquaresLookup {
    /// [batch, tokens] table row of each token, −1 where it adds nothing (padding, the pad row).
    public let rows: [Int32]
    /// [batch · tokens, columns]: each token's gradient row.
    public let values: Tensor
    public let tokens: Int

    public init(rows: [Int32], values: Tensor, tokens: Int) {
        self.rows = rows
        self.values = values
        self.tokens = tokens
    }
}

extension Backend {
    public var fusesOuterSquares: Bool { false }

    public func accumulateOuterSquares(a: Tensor, b: Tensor, samples: SampleRows, rows: Int, columns: Int,
                                       lookup: OuterSquaresLookup?, fisher: Tensor, scratch: Tensor) throws {
        try composedOuterSquares(a: a, b: b, samples: samples, rows: rows, columns: columns,
                                 lookup: lookup, fisher: fisher, scratch: scratch)
    }

    /// `accumulateOuterSquares` from the protocol's primitives: as many samples' [rows, columns]
    /// gradients as `scratch` holds, by one strided-batched GEMM, the lookup rows scattered in, then
    /// squared and added, samples in order. Uneven samples (the models' packed rows) are copied
    /// zero-padded to the chunk's longest first (`packedRowsToHeads` with one head): zero rows add
    /// nothing, and one launch beats a small GEMM a sample. Only gradients of `largeGradient`
    /// elements or more (the LM heads' vocabulary × hidden) go one GEMM a sample over their own
    /// rows: each fills a device, and padding would multiply their work.
    /// Per-sample gradients at least this large (elements) are one GEMM each rather than padded
    /// into a batch: 2²² is far above an encoder weight's (hidden × FFN: 2.4M for BERT-base) and
    /// below a vocabulary-wide head's (30522 × 384 = 11.7M for MiniLM).
    static var largeGradient: Int { 1 << 22 }

    public func composedOuterSquares(a: Tensor, b: Tensor, samples: SampleRows, rows: Int, columns: Int,
                                     lookup: OuterSquaresLookup?, fisher: Tensor, scratch: Tensor) throws {
        let perSample = rows * columns, batch = samples.count
        precondition(scratch.count >= perSample, "outer squares: scratch holds \(scratch.count) < one gradient \(perSample)")
        precondition(a.count >= samples.total * rows && b.count >= samples.total * columns && fisher.count == perSample,
                     "outer squares: shape mismatch")
        let chunk = max(1, min(batch, scratch.count / perSample))
        let uniformTokens = samples.uniformTokens.flatMap { $0 > 0 ? $0 : nil }
        // Uneven samples below `largeGradient` go through zero-padded copies, allocated once for
        // the largest chunk and the longest sample.
        let longest = samples.longest
        let padsUneven = uniformTokens == nil && perSample < Self.largeGradient && longest > 0
        let paddedA = padsUneven ? try allocateUninitialized(chunk * longest * rows) : nil
        let paddedB = padsUneven ? try allocateUninitialized(chunk * longest * columns) : nil
        var start = 0
        while start < batch {
            let n = min(chunk, batch - start)
            if let tokens = uniformTokens {
                try gemmStridedBatched(transposeA: true, transposeB: false, m: rows, n: columns, k: tokens, alpha: 1,
                                       a: a.slice(start * tokens * rows, n * tokens * rows), lda: rows, strideA: tokens * rows,
                                       b: b.slice(start * tokens * columns, n * tokens * columns), ldb: columns,
                                       strideB: tokens * columns, beta: 0, c: scratch, ldc: columns, strideC: perSample, batch: n)
            } else if let paddedA, let paddedB,
                      case let chunkRows = SampleRows(counts: (start..<(start + n)).map { samples[$0].count }),
                      chunkRows.longest > 0 {
                let first = samples[start].lowerBound, k = chunkRows.longest
                let chunkA = paddedA.slice(0, n * k * rows), chunkB = paddedB.slice(0, n * k * columns)
                try packedRowsToHeads(a.slice(first * rows, chunkRows.total * rows), into: chunkA, samples: chunkRows,
                                      tokens: k, heads: 1, headDim: rows)
                try packedRowsToHeads(b.slice(first * columns, chunkRows.total * columns), into: chunkB,
                                      samples: chunkRows, tokens: k, heads: 1, headDim: columns)
                try gemmStridedBatched(transposeA: true, transposeB: false, m: rows, n: columns, k: k, alpha: 1,
                                       a: chunkA, lda: rows, strideA: k * rows, b: chunkB, ldb: columns,
                                       strideB: k * columns, beta: 0, c: scratch, ldc: columns, strideC: perSample,
                                       batch: n)
            } else {
                for s in 0..<n {
                    let own = samples[start + s], gradient = scratch.slice(s * perSample, perSample)
                    guard !own.isEmpty else {
                        try fill(gradient, with: 0)
                        continue
                    }
                    try gemm(transposeA: true, transposeB: false, m: rows, n: columns, k: own.count, alpha: 1,
                             a: a.slice(own.lowerBound * rows, own.count * rows), lda: rows,
                             b: b.slice(own.lowerBound * columns, own.count * columns), ldb: columns,
                             beta: 0, c: gradient, ldc: columns)
                }
            }
            if let lookup {
                // Each looked-up row into its own sample's block of the scratch.
                let t = lookup.tokens
                var index = [Int32](repeating: -1, count: n * t)
                for s in 0..<n {
                    for j in 0..<t where lookup.rows[(start + s) * t + j] >= 0 {
                        index[s * t + j] = Int32(s * rows) + lookup.rows[(start + s) * t + j]
                    }
                }
                let indexTensor = try allocate(max(1, index.count))
                try upload(index, to: indexTensor.slice(0, index.count))
                try scatterAddRows(lookup.values.slice(start * t * columns, n * t * columns), index: indexTensor,
                                   into: scratch.slice(0, n * perSample), rows: n * t, width: columns, skip: -1)
            }
            try accumulateSquaredSum(scratch, into: fisher, batch: n, width: perSample)
            start += n
        }
    }
}
