import Foundation

// Twin of Kernels/cl/elementwise.cl.
extension CPUBackend {
    public func fill(_ tensor: Tensor, with value: Float) throws {
        let p = floats(tensor)
        // Split across cores: zeroing a whole gradient buffer is worth the threads.
        parallelChunks((tensor.count + 4095) / 4096, work: tensor.count / 4) { pages in
            let lo = pages.lowerBound * 4096, hi = min(tensor.count, pages.upperBound * 4096)
            (p + lo).update(repeating: value, count: hi - lo)
        }
    }

    public func copy(_ src: Tensor, to dst: Tensor) throws {
        precondition(dst.count >= src.count, "copy: destination \(dst.count) < source \(src.count)")
        let ps = floats(src), pd = floats(dst)
        parallelChunks((src.count + 4095) / 4096, work: src.count / 4) { pages in
            let lo = pages.lowerBound * 4096, hi = min(src.count, pages.upperBound * 4096)
            (pd + lo).update(from: ps + lo, count: hi - lo)
        }
    }

    public func scale(_ x: Tensor, by alpha: Float) throws {
        let p = floats(x)
        for i in 0..<x.count { p[i] *= alpha }
    }

    public func axpy(_ alpha: Float, _ x: Tensor, _ y: Tensor) throws {
        precondition(x.count == y.count, "axpy: \(x.count) vs \(y.count)")
        let px = floats(x), py = floats(y)
        for i in 0..<x.count { py[i] += alpha * px[i] }
    }

    public func add(_ a: Tensor, _ b: Tensor, into out: Tensor) throws {
        precondition(a.count == b.count && a.count == out.count, "add: \(a.count), \(b.count), \(out.count)")
        let pa = floats(a), pb = floats(b), po = floats(out)
        parallelChunks(a.count, work: a.count) { range in
            forEachVector(range) { i, n in
                po.storeLanes(pa.loadLanes(at: i, count: n) + pb.loadLanes(at: i, count: n), at: i, count: n)
            }
        }
    }

    public func permute0213(_ x: Tensor, into y: Tensor, _ d0: Int, _ d1: Int, _ d2: Int, _ d3: Int) throws {
        precondition(x.count == d0 * d1 * d2 * d3 && y.count == x.count, "permute0213: shape mismatch")
        let px = floats(x), py = floats(y)
        // Split over (a, b) across the cores: attention permutes every Q, K, V and context of a
        // batch twice a layer, each row a head's few dozen floats, which one core copied alone.
        parallelChunks(d0 * d1, work: x.count) { range in
            for ab in range {
                let a = ab / d1, b = ab % d1
                for c in 0..<d2 {
                    let src = px + (ab * d2 + c) * d3
                    let dst = py + ((a * d2 + c) * d1 + b) * d3
                    dst.update(from: src, count: d3)
                }
            }
        }
    }

    public func packedRowsToHeads(_ x: Tensor, into y: Tensor, samples: SampleRows, tokens: Int, heads: Int,
                                  headDim: Int) throws {
        precondition(x.count == samples.total * heads * headDim && y.count == samples.count * heads * tokens * headDim
                     && samples.longest <= tokens, "packedRowsToHeads: shape mismatch")
        let px = floats(x), py = floats(y)
        forEachPackedHead(samples, tokens: tokens, heads: heads, headDim: headDim) { packed, head, count in
            for t in 0..<count { (py + head(t)).update(from: px + packed(t), count: headDim) }
            (py + head(count)).update(repeating: 0, count: (tokens - count) * headDim)
        }
    }

    public func headsToPackedRows(_ x: Tensor, into y: Tensor, samples: SampleRows, tokens: Int, heads: Int,
                                  headDim: Int) throws {
        precondition(y.count == samples.total * heads * headDim && x.count == samples.count * heads * tokens * headDim
                     && samples.longest <= tokens, "headsToPackedRows: shape mismatch")
        let px = floats(x), py = floats(y)
        forEachPackedHead(samples, tokens: tokens, heads: heads, headDim: headDim) { packed, head, count in
            for t in 0..<count { (py + packed(t)).update(from: px + head(t), count: headDim) }
        }
    }

    /// Calls `body` once per (sample, head), split across the cores, with the offsets of position t
    /// in the packed rows ([rows, heads · headDim]) and in the heads ([batch, heads, tokens, headDim]),
    /// and the sample's row count.
    @inline(__always)
    private func forEachPackedHead(_ samples: SampleRows, tokens: Int, heads: Int, headDim: Int,
                                   _ body: (_ packed: (Int) -> Int, _ head: (Int) -> Int, _ count: Int) -> Void) {
        let width = heads * headDim
        parallelChunks(samples.count * heads, work: samples.count * heads * tokens * headDim) { range in
            for nh in range {
                let own = samples[nh / heads], h = nh % heads
                body({ (own.lowerBound + $0) * width + h * headDim }, { (nh * tokens + $0) * headDim }, own.count)
            }
        }
    }

    public func addBias(_ y: Tensor, _ bias: Tensor, rows: Int, columns: Int) throws {
        precondition(y.count == rows * columns && bias.count == columns, "addBias: shape mismatch")
        let py = floats(y), pb = floats(bias)
        parallelChunks(rows, work: rows * columns) { range in
            for r in range {
                let row = py + r * columns
                forEachVector(0..<columns) { j, n in
                    if n == 8 { row.storeVector(row.loadVector(at: j) + pb.loadVector(at: j), at: j) }
                    else { for l in j..<(j + n) { row[l] += pb[l] } }
                }
            }
        }
    }

    public func biasBackward(_ dy: Tensor, dBias: Tensor, rows: Int, columns: Int) throws {
        precondition(dy.count == rows * columns && dBias.count == columns, "biasBackward: shape mismatch")
        let pdy = floats(dy), pdb = floats(dBias)
        // Each column summed over the rows in Double, walking the rows in order (contiguous reads),
        // eight columns at a time, the columns split across threads.
        let columnBlocks = (columns + 7) / 8
        parallelChunks(columnBlocks, work: rows * columns) { blocks in
            var sums = [SIMD8<Double>](repeating: SIMD8<Double>(), count: blocks.count)
            sums.withUnsafeMutableBufferPointer { sums in
                for r in 0..<rows {
                    for (b, block) in blocks.enumerated() {
                        let j = block * 8
                        sums[b] += pdy.loadLanes(at: r * columns + j, count: min(8, columns - j)).widened
                    }
                }
                for (b, block) in blocks.enumerated() {
                    let j = block * 8
                    for lane in 0..<min(8, columns - j) { pdb[j + lane] += Float(sums[b][lane]) }
                }
            }
        }
    }

    public func tanhForward(_ x: Tensor, into y: Tensor) throws {
        precondition(x.count == y.count, "tanh: \(x.count) vs \(y.count)")
        let px = floats(x), py = floats(y)
        for i in 0..<x.count { py[i] = Float(Foundation.tanh(Double(px[i]))) }
    }

    public func tanhBackward(_ y: Tensor, _ dy: Tensor, into dx: Tensor) throws {
        precondition(y.count == dy.count && y.count == dx.count, "tanhBackward: shape mismatch")
        let py = floats(y), pdy = floats(dy), pdx = floats(dx)
        for i in 0..<y.count { pdx[i] = pdy[i] * (1 - py[i] * py[i]) }
    }

    public func geluForward(_ x: Tensor, into y: Tensor, form: GeluForm) throws {
        precondition(x.count == y.count, "gelu: \(x.count) vs \(y.count)")
        let px = floats(x), py = floats(y)
        parallelChunks(x.count, work: x.count * 16) { range in
            switch form {
            case .erf: mapVectors(range, px, into: py) { VectorMath.gelu($0) }
            case .tanh: mapVectors(range, px, into: py) { VectorMath.geluTanh($0) }
            }
        }
    }

    /// In the erf form, Φ read off the forward's output (y/x) spares the erfc and its exponential.
    public func geluBackward(_ x: Tensor, output y: Tensor, _ dy: Tensor, into dx: Tensor, form: GeluForm) throws {
        precondition(x.count == dy.count && x.count == dx.count && y.count == x.count, "geluBackward: shape mismatch")
        let px = floats(x), py = floats(y), pdy = floats(dy), pdx = floats(dx)
        parallelChunks(x.count, work: x.count * 16) { range in
            switch form {
            case .erf:
                mapVectors(range, px, py, pdy, into: pdx) { x, y, dy in dy * VectorMath.geluDerivative(x, output: y) }
            case .tanh:
                mapVectors(range, px, pdy, into: pdx) { x, dy in dy * VectorMath.geluTanhDerivative(x) }
            }
        }
    }
}

/// `y[i] = f(x[i])` over `range`, eight lanes at a time (the tail zero-padded through the same code).
@inline(__always)
private func mapVectors(_ range: Range<Int>, _ x: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>,
                        _ f: (FloatVector) -> FloatVector) {
    forEachVector(range) { i, n in
        if n == 8 { y.storeVector(f(x.loadVector(at: i)), at: i) }
        else { y.storePartial(f(x.loadPartial(at: i, count: n)), at: i, count: n) }
    }
}

/// `z[i] = f(x[i], y[i])` over `range`, eight lanes at a time.
@inline(__always)
private func mapVectors(_ range: Range<Int>, _ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                        into z: UnsafeMutablePointer<Float>, _ f: (FloatVector, FloatVector) -> FloatVector) {
    forEachVector(range) { i, n in
        if n == 8 { z.storeVector(f(x.loadVector(at: i), y.loadVector(at: i)), at: i) }
        else { z.storePartial(f(x.loadPartial(at: i, count: n), y.loadPartial(at: i, count: n)), at: i, count: n) }
    }
}

/// `w[i] = f(x[i], y[i], z[i])` over `range`, eight lanes at a time.
@inline(__always)
private func mapVectors(_ range: Range<Int>, _ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                        _ z: UnsafeMutablePointer<Float>, into w: UnsafeMutablePointer<Float>,
                        _ f: (FloatVector, FloatVector, FloatVector) -> FloatVector) {
    forEachVector(range) { i, n in
        if n == 8 { w.storeVector(f(x.loadVector(at: i), y.loadVector(at: i), z.loadVector(at: i)), at: i) }
        else {
            w.storePartial(f(x.loadPartial(at: i, count: n), y.loadPartial(at: i, count: n), z.loadPartial(at: i, count: n)),
                           at: i, count: n)
        }
    }
}
