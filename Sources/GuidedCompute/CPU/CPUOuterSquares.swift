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
    public func accumulateOuterSquares(a: Tensor, b: Tensor, samples: SampleRows, rows: Int, columns: Int,
                                       lookup: OuterSquaresLookup?, fisher: Tensor, scratch: Tensor) throws {
        let batch = samples.count
        precondition(a.count >= samples.total * rows && b.count >= samples.total * columns && fisher.count == rows * columns,
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
        // Blocks of at most 2¹⁶ elements (256 KB: the gradient block and the Fisher block it is
        // squared into both stay in L2), at most 512 columns wide: each block's GEMM packs its part
        // of both operands again, so a block of all 1536 or 3072 columns and a few rows would spend
        // more time packing than multiplying (packing ∝ 1/blockRows + 1/blockColumns).
        // A few blocks a call (a 384 × 384 weight makes three) are split into a multiple of the
        // cores' count, so that no core waits through the last block alone.
        let blockColumns = min(columns, 512)
        let columnBlocks = (columns + blockColumns - 1) / blockColumns
        let maxBlockRows = max(8, (1 << 16) / blockColumns)
        var rowBlocks = (rows + maxBlockRows - 1) / maxBlockRows
        while (rowBlocks * columnBlocks) % parallelChunkLimit != 0 && rowBlocks * columnBlocks < 8 * parallelChunkLimit
                && (rows + rowBlocks) / (rowBlocks + 1) >= 8 {
            rowBlocks += 1
        }
        let blockRows = (rows + rowBlocks - 1) / rowBlocks
        rowBlocks = (rows + blockRows - 1) / blockRows
        let blocks = rowBlocks * columnBlocks
        // One gradient block per chunk, from the backend's pool: fresh pages on every call fault on
        // first write (and the TLB shootdowns of returning them cost more than the work).
        let blockSize = blockRows * blockColumns
        let blocksTensor = try allocateUninitialized(min(parallelChunkLimit, blocks) * blockSize)
        let gradientBlocks = floats(blocksTensor)
        withExtendedLifetime(blocksTensor) {
        parallelChunks(blocks, work: rows * columns * max(samples.total, batch)) { chunk, range in
            let g = gradientBlocks + chunk * blockSize
            for block in range {
                let r0 = (block / columnBlocks) * blockRows, m = min(blockRows, rows - r0)
                let c0 = (block % columnBlocks) * blockColumns, width = min(blockColumns, columns - c0)
                for n in 0..<batch {
                    let own = samples[n]
                    if !own.isEmpty {
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(m), Int32(width), Int32(own.count), 1,
                                    pa + own.lowerBound * rows + r0, Int32(rows), pb + own.lowerBound * columns + c0,
                                    Int32(columns), 0, g, Int32(width))
                    } else {
                        g.update(repeating: 0, count: m * width)
                    }
                    if let pv {
                        for (row, value) in lookups[n] where row >= r0 && row < r0 + m {
                            let target = g + (row - r0) * width, source = pv + value * columns + c0
                            for c in 0..<width { target[c] += source[c] }
                        }
                    }
                    for i in 0..<m {
                        let f = pf + (r0 + i) * columns + c0, gi = g + i * width
                        for c in 0..<width { f[c] += gi[c] * gi[c] }
                    }
                }
            }
        }
        }
    }
}
