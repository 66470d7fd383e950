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

    public func sumOverTokens(_ x: Tensor, into out: Tensor, samples: SampleRows, width: Int) throws {
        precondition(x.count == samples.total * width && out.count == samples.count * width, "sumOverTokens: shape mismatch")
        let px = floats(x)
        sumRowsPerSample(into: out, samples: samples, width: width, work: samples.total * width) { r, sums in
            let row = px + r * width
            for j in 0..<width { sums[j] += Double(row[j]) }
        }
    }

    public func layerNormGammaPerSample(_ dy: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, into out: Tensor,
                                        samples: SampleRows, width: Int) throws {
        precondition(dy.count == samples.total * width && x.count == dy.count && mean.count == samples.total
                     && rstd.count == mean.count && out.count == samples.count * width,
                     "layerNormGammaPerSample: shape mismatch")
        let pdy = floats(dy), px = floats(x), pm = floats(mean), pr = floats(rstd)
        sumRowsPerSample(into: out, samples: samples, width: width, work: 3 * samples.total * width) { r, sums in
            let m = Double(pm[r]), rstd = Double(pr[r]), dyRow = pdy + r * width, xRow = px + r * width
            for j in 0..<width { sums[j] += Double(dyRow[j]) * (Double(xRow[j]) - m) * rstd }
        }
    }

    /// `out[n] = Σ` of what `addRow` adds for each row r of sample n, per sample: samples split
    /// across the cores, each row into Double sums (contiguous reads, rows ascending, as a column
    /// walk adds).
    @inline(__always)
    private func sumRowsPerSample(into out: Tensor, samples: SampleRows, width: Int, work: Int,
                                  _ addRow: (Int, UnsafeMutablePointer<Double>) -> Void) {
        let po = floats(out)
        parallelChunks(samples.count, work: work) { chunk in
            let sums = UnsafeMutablePointer<Double>.allocate(capacity: width)
            defer { sums.deallocate() }
            for n in chunk {
                sums.update(repeating: 0, count: width)
                for r in samples[n] { addRow(r, sums) }
                for j in 0..<width { po[n * width + j] = Float(sums[j]) }
            }
        }
    }
}
