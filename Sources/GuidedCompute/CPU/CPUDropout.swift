import Foundation

// Twin of Kernels/cl/dropout.cl. Both draw each element's bits from Philox at the same counter.
extension CPUBackend {
    public func dropout(_ x: Tensor, into y: Tensor, probability p: Float, key: RandomKey) throws {
        precondition(x.count == y.count, "dropout: \(x.count) vs \(y.count)")
        let threshold = dropoutThreshold(probability: p)
        let keepScale = 1 / (1 - p)
        let px = floats(x), py = floats(y)
        let blocks = (x.count + 3) / 4
        parallelChunks(blocks, work: x.count * 16) { range in
            for block in range {
                let w = Philox.block(counter: (UInt32(truncatingIfNeeded: block), key.site, key.step,
                                               RandomKey.bernoulliStream), key: key.philoxKey)
                for lane in 0..<4 {
                    let i = block * 4 + lane
                    guard i < x.count else { break }
                    let word = lane == 0 ? w.0 : lane == 1 ? w.1 : lane == 2 ? w.2 : w.3
                    py[i] = (word >> 8) >= threshold ? px[i] * keepScale : 0
                }
            }
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
