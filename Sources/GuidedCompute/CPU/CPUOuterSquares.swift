import CBLAS
import Foundation

// The fused form of `composedOuterSquares`: the per-sample gradients never exist whole.
extension CPUBackend {
    public var fusesOuterSquares: Bool { true }

    /// One block of rows at a time (a gradient block small enough to stay in L2), every sample's
    /// block is computed by one small GEMM, gets its lookup rows, and is squared into the Fisher
    /// rows while both are in cache; blocks are split across the cores. The composed form writes
    /// each sample's whole [rows, columns] gradient to memory and reads it back, which for a tied
    /// vocabulary × hidden head is most of the Fisher's time. Samples add in order, as batch size 1
    /// adds them.
    public func accumulateOuterSquares(a: Tensor, b: Tensor, batch: Int, tokens: Int, rows: Int, columns: Int,
                                       lookup: OuterSquaresLookup?, fisher: Tensor, scratch: Tensor) throws {
        precondition(a.count >= batch * tokens * rows && b.count >= batch * tokens * columns && fisher.count == rows * columns,
                     "outer squares: shape mismatch")
        guard rows > 0, columns > 0, batch > 0 else { return }
        let pa = floats(a), pb = floats(b), pf = floats(fisher)
        let pv = lookup.map { floats($0.values) }
        // Each sample's lookups, as (row, index of its value row).
        var lookups = [[(row: Int, value: Int)]](repeating: [], count: batch)
        if let lookup {
            for n in 0..<batch {
                for j in 0..<lookup.tokens where lookup.rows[n * lookup.tokens + j] >= 0 {
                    lookups[n].append((Int(lookup.rows[n * lookup.tokens + j]), n * lookup.tokens + j))
                }
            }
        }
        let blockRows = max(8, min(rows, (1 << 16) / columns))
        let blocks = (rows + blockRows - 1) / blockRows
        // One gradient block per chunk, from the backend's pool: fresh pages on every call fault on
        // first write (and the TLB shootdowns of returning them cost more than the work).
        let blockSize = blockRows * columns
        let blocksTensor = try allocateUninitialized(min(parallelChunkLimit, blocks) * blockSize)
        let gradientBlocks = floats(blocksTensor)
        withExtendedLifetime(blocksTensor) {
        parallelChunks(blocks, work: batch * rows * columns * max(tokens, 1)) { chunk, range in
            let g = gradientBlocks + chunk * blockSize
            for block in range {
                let r0 = block * blockRows, m = min(blockRows, rows - r0), count = m * columns
                let f = pf + r0 * columns
                for n in 0..<batch {
                    if tokens > 0 {
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(m), Int32(columns), Int32(tokens), 1,
                                    pa + n * tokens * rows + r0, Int32(rows), pb + n * tokens * columns, Int32(columns),
                                    0, g, Int32(columns))
                    } else {
                        g.update(repeating: 0, count: count)
                    }
                    if let pv {
                        for (row, value) in lookups[n] where row >= r0 && row < r0 + m {
                            let target = g + (row - r0) * columns, source = pv + value * columns
                            for c in 0..<columns { target[c] += source[c] }
                        }
                    }
                    for j in 0..<count { f[j] += g[j] * g[j] }
                }
            }
        }
        }
    }
}
