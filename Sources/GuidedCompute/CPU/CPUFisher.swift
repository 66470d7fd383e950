// Twin of Kernels/cl/fisher.cl: the primitives of per-sample gradient squaring.
extension CPUBackend {
    public func accumulateSquaredSum(_ perSample: Tensor, into fisher: Tensor, batch: Int, width: Int) throws {
        precondition(perSample.count >= batch * width && fisher.count == width, "accumulateSquaredSum: shape mismatch")
        let pg = floats(perSample), pf = floats(fisher)
        parallelChunks(width, work: batch * width) { range in
            // In blocks whose sums stay in L1 while each sample's row adds into them, samples in
            // order (as batch size 1 adds them): contiguous inner loops the compiler vectorises.
            var start = range.lowerBound
            while start < range.upperBound {
                let end = min(start + 2048, range.upperBound)
                for n in 0..<batch {
                    let row = pg + n * width
                    for j in start..<end { pf[j] += row[j] * row[j] }
                }
                start = end
            }
        }
    }

    public func sumOverTokens(_ x: Tensor, into out: Tensor, batch: Int, tokens: Int, width: Int) throws {
        precondition(x.count == batch * tokens * width && out.count == batch * width, "sumOverTokens: shape mismatch")
        let px = floats(x), po = floats(out)
        // Samples split across the cores; each row by row into a Double accumulator: contiguous
        // reads, the same sums in the same order (t ascending) as a column walk.
        parallelChunks(batch, work: batch * tokens * width) { samples in
            var sums = [Double](repeating: 0, count: width)
            for n in samples {
                for j in 0..<width { sums[j] = 0 }
                for t in 0..<tokens {
                    let row = px + (n * tokens + t) * width
                    for j in 0..<width { sums[j] += Double(row[j]) }
                }
                for j in 0..<width { po[n * width + j] = Float(sums[j]) }
            }
        }
    }

    public func layerNormGammaPerSample(_ dy: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, into out: Tensor,
                                        batch: Int, tokens: Int, width: Int) throws {
        precondition(dy.count == batch * tokens * width && x.count == dy.count && mean.count == batch * tokens
                     && rstd.count == mean.count && out.count == batch * width, "layerNormGammaPerSample: shape mismatch")
        let pdy = floats(dy), px = floats(x), pm = floats(mean), pr = floats(rstd), po = floats(out)
        // As `sumOverTokens`: samples across the cores, rows into Double sums, t ascending.
        parallelChunks(batch, work: 3 * batch * tokens * width) { samples in
            var sums = [Double](repeating: 0, count: width)
            for n in samples {
                for j in 0..<width { sums[j] = 0 }
                for t in 0..<tokens {
                    let r = n * tokens + t, m = Double(pm[r]), rstd = Double(pr[r])
                    let dyRow = pdy + r * width, xRow = px + r * width
                    for j in 0..<width { sums[j] += Double(dyRow[j]) * (Double(xRow[j]) - m) * rstd }
                }
                for j in 0..<width { po[n * width + j] = Float(sums[j]) }
            }
        }
    }
}
