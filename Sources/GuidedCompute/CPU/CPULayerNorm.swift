// Twin of Kernels/cl/layernorm.cl.
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
                let row = px + r * columns
                var s = 0.0
                for j in 0..<columns { s += Double(row[j]) }
                let mu = s / Double(columns)
                var v = 0.0
                for j in 0..<columns { let d = Double(row[j]) - mu; v += d * d }
                let inv = 1 / (v / Double(columns) + Double(eps)).squareRoot()
                pm[r] = Float(mu)
                pr[r] = Float(inv)
                for j in 0..<columns {
                    py[r * columns + j] = Float((Double(row[j]) - mu) * inv) * pg[j] + pb[j]
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
        // dx = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ∘ x̂)), with dx̂ = dy ∘ γ.
        parallelChunks(rows, work: rows * columns) { range in
            for r in range {
                let mu = Double(pm[r]), inv = Double(pr[r])
                var sumD = 0.0, sumDX = 0.0
                for j in 0..<columns {
                    let i = r * columns + j
                    let d = Double(pdy[i]) * Double(pg[j])
                    sumD += d
                    sumDX += d * (Double(px[i]) - mu) * inv
                }
                let meanD = sumD / Double(columns), meanDX = sumDX / Double(columns)
                for j in 0..<columns {
                    let i = r * columns + j
                    let xhat = (Double(px[i]) - mu) * inv
                    let d = Double(pdy[i]) * Double(pg[j])
                    pdx[i] = Float(inv * (d - meanD - xhat * meanDX))
                }
            }
        }
        for j in 0..<columns {
            var g = 0.0, b = 0.0
            for r in 0..<rows {
                let i = r * columns + j
                let xhat = (Double(px[i]) - Double(pm[r])) * Double(pr[r])
                g += Double(pdy[i]) * xhat
                b += Double(pdy[i])
            }
            pdg[j] += Float(g)
            pdb[j] += Float(b)
        }
    }
}
