import Foundation

// Twin of Kernels/cl/dropout.cl. Both draw each element's bits from Philox at the same counter.
extension CPUBackend {
    public func dropout(_ x: Tensor, into y: Tensor, probability p: Float, key: RandomKey) throws {
        precondition(x.count == y.count, "dropout: \(x.count) vs \(y.count)")
        let px = floats(x), py = floats(y)
        let blocks = (x.count + 7) / 8
        parallelChunks(blocks, work: x.count * 16) { range in
            dropoutElements(px, into: py, range.lowerBound * 8..<min(x.count, range.upperBound * 8),
                            probability: p, key: key)
        }
    }

    public func gaussianNoise(_ x: Tensor, into y: Tensor, std: Float, key: RandomKey) throws {
        precondition(x.count == y.count, "gaussianNoise: \(x.count) vs \(y.count)")
        let px = floats(x), py = floats(y)
        let blocks = (x.count + 1) / 2
        parallelChunks(blocks, work: x.count * 32) { range in
            for block in range {
                let w = Philox.block(counter: (UInt32(truncatingIfNeeded: block), key.site, key.step,
                                               RandomKey.gaussianStream), key: key.philoxKey)
                let z = boxMuller(w)
                for lane in 0..<2 {
                    let i = block * 2 + lane
                    guard i < x.count else { break }
                    py[i] = px[i] * (1 + std * (lane == 0 ? z.0 : z.1))
                }
            }
        }
    }
}

/// Two standard normals from one Philox block, in Float as the kernel computes them:
/// u₁ ∈ (0, 1] from the top 24 bits of words 0 and 2, u₂ ∈ [0, 1) from words 1 and 3.
@inline(__always)
func boxMuller(_ w: (UInt32, UInt32, UInt32, UInt32)) -> (Float, Float) {
    let scale: Float = 1.0 / 16_777_216
    func normal(_ a: UInt32, _ b: UInt32) -> Float {
        let u1 = (Float(a >> 8) + 1) * scale
        let u2 = Float(b >> 8) * scale
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Float.pi * u2)
    }
    return (normal(w.0, w.1), normal(w.2, w.3))
}

/// `y[i] = keep(i) ? x[i] / (1 − p) : 0` for the elements `range` of a tensor whose element 0 is at
/// `x` and `y`: element `i` keeps when the top 24 bits of word `i % 4` of the Philox block at counter
/// `(i / 4, site, step, 0)` are at least `dropoutThreshold(p)`. Two blocks make eight lanes, kept or
/// zeroed with a vector select (no branch on the random bits).
@inline(__always)
func dropoutElements(_ x: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>, _ range: Range<Int>,
                     probability p: Float, key: RandomKey) {
    let threshold = dropoutThreshold(probability: p)
    let keepScale = 1 / (1 - p)
    let philoxKey = key.philoxKey
    @inline(__always) func block(_ b: Int) -> (UInt32, UInt32, UInt32, UInt32) {
        Philox.block(counter: (UInt32(truncatingIfNeeded: b), key.site, key.step, RandomKey.bernoulliStream),
                     key: philoxKey)
    }
    @inline(__always) func scalar(_ i: Int) {
        let w = block(i / 4)
        let lane = i % 4
        let word = lane == 0 ? w.0 : lane == 1 ? w.1 : lane == 2 ? w.2 : w.3
        y[i] = (word >> 8) >= threshold ? x[i] * keepScale : 0
    }
    var i = range.lowerBound
    // Up to the first element of a block, then eight at a time, then the tail.
    while i < range.upperBound && i % 4 != 0 { scalar(i); i += 1 }
    let limit = SIMD8<UInt32>(repeating: threshold)
    while i + 8 <= range.upperBound {
        let w = block(i / 4), v = block(i / 4 + 1)
        let words = SIMD8<UInt32>(w.0, w.1, w.2, w.3, v.0, v.1, v.2, v.3)
        let kept = x.loadVector(at: i) * keepScale
        y.storeVector(kept.replacing(with: 0, where: (words &>> 8) .< limit), at: i)
        i += 8
    }
    while i < range.upperBound { scalar(i); i += 1 }
}
