// Kernels of Kernels/cl/dropout.cl, embedding.cl, fisher.cl, adam.cl and reduce.cl.
extension OpenCLBackend {
    // MARK: dropout.cl

    public func dropout(_ x: Tensor, into y: Tensor, probability p: Float, key: RandomKey) throws {
        precondition(x.count == y.count, "dropout: \(x.count) vs \(y.count)")
        let (lo, hi) = key.philoxKey
        try launch("dropout", global: [(x.count + 3) / 4],
                   [.tensor(x), .tensor(y), .int(x.count), .uint(dropoutThreshold(probability: p)),
                    .float(1 / (1 - p)), .uint(lo), .uint(hi), .uint(key.site), .uint(key.step)])
    }

    public func gaussianNoise(_ x: Tensor, into y: Tensor, std: Float, key: RandomKey) throws {
        precondition(x.count == y.count, "gaussianNoise: \(x.count) vs \(y.count)")
        let (lo, hi) = key.philoxKey
        try launch("gaussian_noise", global: [(x.count + 1) / 2],
                   [.tensor(x), .tensor(y), .int(x.count), .float(std),
                    .uint(lo), .uint(hi), .uint(key.site), .uint(key.step)])
    }

    // MARK: embedding.cl

    public func embeddingGather(_ table: Tensor, ids: Tensor, into out: Tensor, tokens: Int, width: Int) throws {
        precondition(ids.count == tokens && out.count == tokens * width && table.count % width == 0,
                     "embeddingGather: shape mismatch")
        try launch("embedding_gather", global: [tokens * width],
                   [.tensor(table), .tensor(ids), .tensor(out), .int(tokens), .int(width)])
    }

    public func scatterAddRows(_ src: Tensor, index: Tensor, into dst: Tensor,
                               rows: Int, width: Int, skip: Int32) throws {
        precondition(src.count == rows * width && index.count == rows && dst.count % width == 0,
                     "scatterAddRows: shape mismatch")
        try launch("scatter_add_rows", global: [width],
                   [.tensor(src), .tensor(index), .tensor(dst), .int(rows), .int(width), .int(Int(skip))])
    }

    public func accumulateSquaredRows(_ src: Tensor, index: Tensor, into fisher: Tensor,
                                      rows: Int, width: Int) throws {
        precondition(src.count == rows * width && index.count == rows && fisher.count % width == 0,
                     "accumulateSquaredRows: shape mismatch")
        try launch("accumulate_squared_rows", global: [width],
                   [.tensor(src), .tensor(index), .tensor(fisher), .int(rows), .int(width)])
    }

    // MARK: fisher.cl

    public func accumulateSquaredSum(_ perSample: Tensor, into fisher: Tensor, batch: Int, width: Int) throws {
        precondition(perSample.count >= batch * width && fisher.count == width, "accumulateSquaredSum: shape mismatch")
        try launch("accumulate_squared_sum", global: [width],
                   [.tensor(perSample), .tensor(fisher), .int(batch), .int(width)])
    }

    public func sumOverTokens(_ x: Tensor, into out: Tensor, samples: SampleRows, width: Int) throws {
        precondition(x.count == samples.total * width && out.count == samples.count * width, "sumOverTokens: shape mismatch")
        try launch("sum_over_tokens", global: [samples.count * width],
                   [.tensor(x), .tensor(out), .tensor(startsTensor(samples)), .int(samples.count), .int(width)])
    }

    public func layerNormGammaPerSample(_ dy: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, into out: Tensor,
                                        samples: SampleRows, width: Int) throws {
        precondition(dy.count == samples.total * width && x.count == dy.count && mean.count == samples.total
                     && rstd.count == mean.count && out.count == samples.count * width,
                     "layerNormGammaPerSample: shape mismatch")
        try launch("layernorm_gamma_per_sample", global: [samples.count * width],
                   [.tensor(dy), .tensor(x), .tensor(mean), .tensor(rstd), .tensor(out), .tensor(startsTensor(samples)),
                    .int(samples.count), .int(width)])
    }

    // MARK: adam.cl

    public func adamW(parameters: Tensor, gradients: Tensor, m: Tensor, v: Tensor, hyper: AdamHyper) throws {
        precondition(gradients.count == parameters.count && m.count == parameters.count && v.count == parameters.count,
                     "adamW: shape mismatch")
        let (bc1, bc2) = hyper.biasCorrections
        try launch("adamw", global: [parameters.count],
                   [.tensor(parameters), .tensor(gradients), .tensor(m), .tensor(v), .int(parameters.count),
                    .float(hyper.beta1), .float(hyper.beta2), .float(hyper.eps),
                    .float(1 - hyper.learningRate * hyper.weightDecay), .float(hyper.learningRate / bc1),
                    .float(bc2.squareRoot())])
    }

    // MARK: reduce.cl

    public func sum(_ x: Tensor) throws -> Float { Float(try reduce(x, mode: 0)) }
    public func sumOfSquares(_ x: Tensor) throws -> Float { Float(try reduce(x, mode: 1)) }
    public func countNonFinite(_ x: Tensor) throws -> Int { Int(try reduce(x, mode: 2)) }

    /// `REDUCE_SUM`, `REDUCE_SQUARES` or `REDUCE_NONFINITE` over `x`: a fixed number of
    /// work-groups each writes one partial, and the host adds them.
    private func reduce(_ x: Tensor, mode: Int) throws -> Double {
        guard x.count > 0 else { return 0 }
        let groups = min(64, (x.count + rowGroupSize - 1) / rowGroupSize)
        let partials = try allocate(groups)
        try launch("reduce_partials", global: [groups * rowGroupSize], local: [rowGroupSize],
                   [.tensor(x), .int(x.count), .int(mode), .tensor(partials), .local(bytes: rowGroupSize * 4)])
        return try download(partials).reduce(0.0) { $0 + Double($1) }
    }
}

extension OpenCLBackend {
    /// Raw Philox4x32-10 blocks computed on the device at counters `(c.0 + i, c.1, c.2, c.3)`, four
    /// words per block: for checking the device generator against known answers and the CPU.
    public func philoxBlocks(counter c: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32),
                             blocks: Int) throws -> [UInt32] {
        let out = try allocate(4 * blocks)
        try launch("philox_blocks", global: [blocks],
                   [.tensor(out), .int(blocks), .uint(c.0), .uint(c.1), .uint(c.2), .uint(c.3), .uint(key.0), .uint(key.1)])
        return try downloadInt32(out).map { UInt32(bitPattern: $0) }
    }
}
