// Twin of Kernels/cl/layernorm.cl.
//
// Row statistics and the backward's row sums are accumulated eight lanes at a time in Float
// vectors and added across lanes in Double; the parameter gradients sum each column over the rows
// in Double, walking the rows in order (contiguous reads) with the columns split across threads.
extension CPUBackend {
    public func layerNormForward(_ x: Tensor, gamma: Tensor, beta: Tensor, into y: Tensor,
                                 mean: Tensor, rstd: Tensor, rows: Int, columns: Int, eps: Float) throws {
        precondition(x.count == rows * columns && y.count == x.count && gamma.count == columns
                     && beta.count == columns && mean.count == rows && rstd.count == rows,
                     "layerNormForward: shape mismatch")
        let px = floats(x), py = floats(y), pg = floats(gamma), pb = floats(beta)
        let pm = floats(mean), pr = floats(rstd)
        parallelChunks(rows, work: rows * columns) { range in
            for r in range {
                let row = px + r * columns, out = py + r * columns
                let mu = Float(rowSum(columns) { row.loadLanes(at: $0, count: $1) } / Double(columns))
                let variance = rowSum(columns) { j, n in
                    let d = (row.loadLanes(at: j, count: n) - mu).replacing(with: 0, where: lanesPast(n))
                    return d * d
                } / Double(columns)
                let inv = Float(1 / (variance + Double(eps)).squareRoot())
                pm[r] = mu
                pr[r] = inv
                forEachVector(0..<columns) { j, n in
                    let v = ((row.loadLanes(at: j, count: n) - mu) * inv) * pg.loadLanes(at: j, count: n)
                        + pb.loadLanes(at: j, count: n)
                    out.storeLanes(v, at: j, count: n)
                }
            }
        }
    }

    public func layerNormBackward(_ dy: Tensor, x: Tensor, gamma: Tensor, mean: Tensor, rstd: Tensor,
                                  dx: Tensor, dGamma: Tensor, dBeta: Tensor, rows: Int, columns: Int) throws {
        precondition(dy.count == rows * columns && x.count == dy.count && dx.count == dy.count
                     && gamma.count == columns && dGamma.count == columns && dBeta.count == columns
                     && mean.count == rows && rstd.count == rows, "layerNormBackward: shape mismatch")
        let pdy = floats(dy), px = floats(x), pg = floats(gamma), pm = floats(mean), pr = floats(rstd)
        let pdx = floats(dx), pdg = floats(dGamma), pdb = floats(dBeta)
        // The parameter gradients first: dx may alias dy.
        // dγ[j] += Σ_r dy[r, j] · x̂[r, j],  dβ[j] += Σ_r dy[r, j].
        let columnBlocks = (columns + 7) / 8
        parallelChunks(columnBlocks, work: rows * columns) { blocks in
            // Rows in order (contiguous reads), one Double accumulator vector per eight columns.
            var sums = [SIMD8<Double>](repeating: SIMD8<Double>(), count: 2 * blocks.count)
            sums.withUnsafeMutableBufferPointer { sums in
                for r in 0..<rows {
                    let mu = pm[r], inv = pr[r]
                    for (i, block) in blocks.enumerated() {
                        let j = block * 8, n = min(8, columns - j)
                        let d = pdy.loadLanes(at: r * columns + j, count: n)
                        let xhat = (px.loadLanes(at: r * columns + j, count: n) - mu) * inv
                        sums[2 * i] += (d * xhat).widened
                        sums[2 * i + 1] += d.widened
                    }
                }
                for (i, block) in blocks.enumerated() {
                    let j = block * 8
                    for lane in 0..<min(8, columns - j) {
                        pdg[j + lane] += Float(sums[2 * i][lane])
                        pdb[j + lane] += Float(sums[2 * i + 1][lane])
                    }
                }
            }
        }
        // dx = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ∘ x̂)), with dx̂ = dy ∘ γ.
        parallelChunks(rows, work: rows * columns) { range in
            for r in range {
                let mu = pm[r], inv = pr[r]
                let dyRow = pdy + r * columns, xRow = px + r * columns, dxRow = pdx + r * columns
                var sumD = FloatVector(), sumDX = FloatVector()
                forEachVector(0..<columns) { j, n in
                    let d = dyRow.loadLanes(at: j, count: n) * pg.loadLanes(at: j, count: n)
                    sumD += d
                    sumDX += d * ((xRow.loadLanes(at: j, count: n) - mu) * inv)
                }
                let meanD = Float(sumD.laneSum / Double(columns)), meanDX = Float(sumDX.laneSum / Double(columns))
                forEachVector(0..<columns) { j, n in
                    let xhat = (xRow.loadLanes(at: j, count: n) - mu) * inv
                    let d = dyRow.loadLanes(at: j, count: n) * pg.loadLanes(at: j, count: n)
                    dxRow.storeLanes(inv * (d - meanD - xhat * meanDX), at: j, count: n)
                }
            }
        }
    }
}

/// Σ over `columns` of `lanes(j, n)` (a vector whose lanes past `n` are 0), eight at a time.
@inline(__always)
private func rowSum(_ columns: Int, _ lanes: (Int, Int) -> FloatVector) -> Double {
    var acc = FloatVector()
    forEachVector(0..<columns) { j, n in acc += lanes(j, n) }
    return acc.laneSum
}

/// Lanes `n..<8`.
@inline(__always)
private func lanesPast(_ n: Int) -> SIMDMask<SIMD8<Int32>> {
    SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) .>= SIMD8<Int32>(repeating: Int32(n))
}
