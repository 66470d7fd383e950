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
        let px = floats(x)
        sumRowsPerSample(into: out, batch: batch, tokens: tokens, width: width, work: batch * tokens * width) { r, sums in
            let row = px + r * width
            for j in 0..<width { sums[j] += Double(row[j]) }
        }
    }

    public func layerNormGammaPerSample(_ dy: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, into out: Tensor,
                                        batch: Int, tokens: Int, width: Int) throws {
        precondition(dy.count == batch * tokens * width && x.count == dy.count && mean.count == batch * tokens
                     && rstd.count == mean.count && out.count == batch * width, "layerNormGammaPerSample: shape mismatch")
        let pdy = floats(dy), px = floats(x), pm = floats(mean), pr = floats(rstd)
        sumRowsPerSample(into: out, batch: batch, tokens: tokens, width: width, work: 3 * batch * tokens * width) { r, sums in
            let m = Double(pm[r]), rstd = Double(pr[r]), dyRow = pdy + r * width, xRow = px + r * width
            for j in 0..<width { sums[j] += Double(dyRow[j]) * (Double(xRow[j]) - m) * rstd }
        }
    }

    /// `out[n] = Σₜ` of what `addRow` adds for row n · tokens + t, per sample: samples split across
    /// the cores, each row into Double sums (contiguous reads, t ascending, as a column walk adds).
    @inline(__always)
    private func sumRowsPerSample(into out: Tensor, batch: Int, tokens: Int, width: Int, work: Int,
                                  _ addRow: (Int, UnsafeMutablePointer<Double>) -> Void) {
        let po = floats(out)
        parallelChunks(batch, work: work) { samples in
            let sums = UnsafeMutablePointer<Double>.allocate(capacity: width)
            defer { sums.deallocate() }
            for n in samples {
                sums.update(repeating: 0, count: width)
                for t in 0..<tokens { addRow(n * tokens + t, sums) }
                for j in 0..<width { po[n * width + j] = Float(sums[j]) }
            }
        }
    }
}
