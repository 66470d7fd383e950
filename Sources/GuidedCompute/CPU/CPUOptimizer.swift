// Twin of Kernels/cl/adam.cl.
extension CPUBackend {
    public func adamW(parameters: Tensor, gradients: Tensor, m: Tensor, v: Tensor, hyper: AdamHyper) throws {
        precondition(gradients.count == parameters.count && m.count == parameters.count && v.count == parameters.count,
                     "adamW: shape mismatch")
        let (bc1, bc2) = hyper.biasCorrections
        let pp = floats(parameters), pg = floats(gradients), pm = floats(m), pv = floats(v)
        let lr = hyper.learningRate, b1 = hyper.beta1, b2 = hyper.beta2
        let decay = 1 - lr * hyper.weightDecay, stepSize = lr / bc1, sqrtBC2 = bc2.squareRoot()
        let eps = hyper.eps
        parallelChunks(parameters.count, work: parameters.count * 8) { range in
            // The same arithmetic as the scalar statement below, eight lanes at a time.
            forEachVector(range) { i, n in
                guard n == 8 else {
                    for j in i..<(i + n) {
                        let g = pg[j]
                        pm[j] = b1 * pm[j] + (1 - b1) * g
                        pv[j] = b2 * pv[j] + (1 - b2) * g * g
                        let denominator = pv[j].squareRoot() / sqrtBC2 + eps
                        pp[j] = pp[j] * decay - stepSize * pm[j] / denominator
                    }
                    return
                }
                let g = pg.loadVector(at: i)
                let m = b1 * pm.loadVector(at: i) + (1 - b1) * g
                let v = b2 * pv.loadVector(at: i) + (1 - b2) * g * g
                let denominator = VectorMath.squareRoot(v) / sqrtBC2 + eps
                pm.storeVector(m, at: i)
                pv.storeVector(v, at: i)
                pp.storeVector(pp.loadVector(at: i) * decay - stepSize * m / denominator, at: i)
            }
        }
    }
}

// Twin of Kernels/cl/reduce.cl.
extension CPUBackend {
    public func sum(_ x: Tensor) throws -> Float {
        let p = floats(x)
        var s = 0.0
        for i in 0..<x.count { s += Double(p[i]) }
        return Float(s)
    }

    public func sumOfSquares(_ x: Tensor) throws -> Float {
        let p = floats(x)
        var s = 0.0
        for i in 0..<x.count { s += Double(p[i]) * Double(p[i]) }
        return Float(s)
    }

    public func countNonFinite(_ x: Tensor) throws -> Int {
        // A whole Fisher buffer at a time: in vectors (x − x is 0 unless x is ±∞ or NaN),
        // split across the cores.
        let p = floats(x)
        var counts = [Int](repeating: 0, count: parallelChunkLimit)
        counts.withUnsafeMutableBufferPointer { counts in
            let shared = UncheckedSendable(counts)
            parallelChunks((x.count + 4095) / 4096, work: x.count / 4) { chunk, pages in
                let lo = pages.lowerBound * 4096, hi = min(x.count, pages.upperBound * 4096)
                var bad = SIMD8<Int32>(), one = SIMD8<Int32>(repeating: 1)
                forEachVector(lo..<hi) { i, n in
                    let v = p.loadLanes(at: i, count: n)
                    bad &+= SIMD8<Int32>().replacing(with: one, where: v - v .!= 0)
                }
                shared.value[chunk] = Int(bad.wrappedSum())
            }
        }
        return counts.reduce(0, +)
    }
}
