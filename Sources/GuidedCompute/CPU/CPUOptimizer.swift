// Twin of Kernels/cl/adam.cl.
extension CPUBackend {
    public func adamW(parameters: Tensor, gradients: Tensor, m: Tensor, v: Tensor, hyper: AdamHyper) throws {
        precondition(gradients.count == parameters.count && m.count == parameters.count && v.count == parameters.count,
                     "adamW: shape mismatch")
        let (bc1, bc2) = hyper.biasCorrections
        let pp = floats(parameters), pg = floats(gradients), pm = floats(m), pv = floats(v)
        let lr = hyper.learningRate, b1 = hyper.beta1, b2 = hyper.beta2
        let decay = 1 - lr * hyper.weightDecay, stepSize = lr / bc1, sqrtBC2 = bc2.squareRoot()
        parallelChunks(parameters.count, work: parameters.count * 8) { range in
            for i in range {
                let g = pg[i]
                pm[i] = b1 * pm[i] + (1 - b1) * g
                pv[i] = b2 * pv[i] + (1 - b2) * g * g
                let denominator = pv[i].squareRoot() / sqrtBC2 + hyper.eps
                pp[i] = pp[i] * decay - stepSize * pm[i] / denominator
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
        let p = floats(x)
        var n = 0
        for i in 0..<x.count where !p[i].isFinite { n += 1 }
        return n
    }
}
