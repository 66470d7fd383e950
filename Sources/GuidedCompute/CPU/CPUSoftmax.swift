import Foundation

// Twin of Kernels/cl/softmax.cl: the attention softmax and softmax cross-entropy.
extension CPUBackend {
    public func attentionSoftmaxForward(_ scores: Tensor, mask: Tensor?, into probs: Tensor,
                                        batch: Int, heads: Int, tokens: Int, causal: Bool) throws {
        let rows = batch * heads * tokens
        precondition(scores.count == rows * tokens && probs.count == scores.count
                     && (mask == nil || mask!.count == batch * tokens), "attentionSoftmaxForward: shape mismatch")
        let ps = floats(scores), pp = floats(probs)
        let pmask = mask.map { floats($0) }
        parallelChunks(rows, work: rows * tokens * 4) { range in
            for r in range {
                let b = r / (heads * tokens), query = r % tokens
                softmaxRow(ps + r * tokens, mask: pmask.map { $0 + b * tokens }, keys: causal ? query + 1 : tokens,
                           tokens: tokens, into: pp + r * tokens)
            }
        }
    }

    public func softmaxBackward(_ probs: Tensor, _ dProbs: Tensor, into dScores: Tensor,
                                rows: Int, columns: Int) throws {
        precondition(probs.count == rows * columns && dProbs.count == probs.count && dScores.count == probs.count,
                     "softmaxBackward: shape mismatch")
        let pp = floats(probs), pdp = floats(dProbs), pds = floats(dScores)
        parallelChunks(rows, work: rows * columns * 2) { range in
            for r in range {
                softmaxBackwardRow(probs: pp + r * columns, weighted: pp + r * columns, dProbs: pdp + r * columns,
                                   columns: columns, into: pds + r * columns)
            }
        }
    }

    public func softmaxCrossEntropy(_ logits: Tensor, labels: Tensor, weights: Tensor,
                                    losses: Tensor, dLogits: Tensor, rows: Int, classes: Int) throws {
        precondition(logits.count == rows * classes && dLogits.count == logits.count && labels.count == rows
                     && weights.count == rows && losses.count == rows, "softmaxCrossEntropy: shape mismatch")
        let pl = floats(logits), pw = floats(weights), ploss = floats(losses), pd = floats(dLogits)
        let label = ints(labels)
        if let bad = (0..<rows).first(where: { Int(label[$0]) >= classes }) {
            preconditionFailure("softmaxCrossEntropy: label \(label[bad]) ≥ \(classes) classes in row \(bad)")
        }
        // Rows in parallel (a vocabulary-wide row is 30–50 k classes); each row in two vector passes.
        parallelChunks(rows, work: rows * classes * 8) { range in
            for r in range {
                ploss[r] = crossEntropyRow(pl + r * classes, target: Int(label[r]), weight: pw[r], classes: classes,
                                           gradient: pd + r * classes)
            }
        }
    }
}

/// One row of softmax cross-entropy: returns `log Σ_j e^(x_j) − x_target` and writes
/// `weight · (softmax(x) − onehot(target))`; a row with target < 0 scores nothing (0, zero gradient).
/// The exponentials are `VectorMath.exp` of `x − max` (within 1 ulp of expf), kept in `gradient`
/// between the passes; the sum and the log are in Double.
@inline(__always)
func crossEntropyRow(_ row: UnsafeMutablePointer<Float>, target: Int, weight: Float, classes: Int,
                     gradient: UnsafeMutablePointer<Float>) -> Float {
    guard target >= 0 else {
        gradient.update(repeating: 0, count: classes)
        return 0
    }
    var maxima = FloatVector(repeating: -.infinity)
    forEachVector(0..<classes) { j, n in
        let v = n == 8 ? row.loadVector(at: j) : row.loadPartial(at: j, count: n).replacing(with: -.infinity, where: lanesFrom(n))
        maxima = VectorMath.maximum(maxima, v)
    }
    let maxValue = maxima.max()
    var total = SIMD8<Double>()
    forEachVector(0..<classes) { j, n in
        let e = VectorMath.exp(row.loadLanes(at: j, count: n) - maxValue)
        if n == 8 { total += e.widened } else { total += e.replacing(with: 0, where: lanesFrom(n)).widened }
        gradient.storeLanes(e, at: j, count: n)
    }
    let sum = total.laneSum
    let scale = Float(Double(weight) / sum)
    forEachVector(0..<classes) { j, n in gradient.storeLanes(gradient.loadLanes(at: j, count: n) * scale, at: j, count: n) }
    gradient[target] -= weight
    return Float(Foundation.log(sum) - Double(row[target] - maxValue))
}

/// Lanes `n..<8` of a vector (true there): the padding of a partial load.
@inline(__always)
func lanesFrom(_ n: Int) -> SIMDMask<SIMD8<Int32>> {
    SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) .>= SIMD8<Int32>(repeating: Int32(n))
}

/// One row of the attention softmax: `out[j] = softmax(row + mask)[j]` over the first `keys`
/// columns, 0 for the rest (`tokens`); a row whose every key is −∞ gives zeros. The exponentials
/// are `VectorMath.exp` (within 1 ulp of expf), the sum is in Double.
@inline(__always)
func softmaxRow(_ row: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>?, keys: Int, tokens: Int,
                into out: UnsafeMutablePointer<Float>) {
    let minusInfinity = FloatVector(repeating: -.infinity)
    /// Scores plus mask for lanes `j..<j+n`, −∞ in the lanes past `n`.
    @inline(__always) func scores(_ j: Int, _ n: Int) -> FloatVector {
        if n == 8 { return row.loadVector(at: j) + (mask?.loadVector(at: j) ?? FloatVector()) }
        var v = minusInfinity
        for lane in 0..<n { v[lane] = row[j + lane] + (mask?[j + lane] ?? 0) }
        return v
    }
    var maxima = minusInfinity
    forEachVector(0..<keys) { j, n in maxima = VectorMath.maximum(maxima, scores(j, n)) }
    var maxValue = -Float.infinity
    for lane in 0..<8 { maxValue = max(maxValue, maxima[lane]) }
    guard maxValue > -Float.infinity else {
        out.update(repeating: 0, count: tokens)
        return
    }
    var total = SIMD8<Double>()
    forEachVector(0..<keys) { j, n in
        let e = VectorMath.exp(scores(j, n) - maxValue)
        total += e.widened
        if n == 8 { out.storeVector(e, at: j) } else { out.storePartial(e, at: j, count: n) }
    }
    let inverse = Float(1 / total.laneSum)
    forEachVector(0..<keys) { j, n in
        if n == 8 { out.storeVector(out.loadVector(at: j) * inverse, at: j) }
        else { for l in j..<(j + n) { out[l] *= inverse } }
    }
    if keys < tokens { (out + keys).update(repeating: 0, count: tokens - keys) }
}

/// One row of the softmax backward through multiplicative noise: with `weighted = P ∘ m` (the
/// noised probabilities the forward used; `probs` itself when there is no noise) and `dProbs` the
/// gradient of the noised probabilities, `dScores = weighted ∘ dProbs − P · Σ_j weighted_j dProbs_j`,
/// which is `P ∘ (m ∘ dProbs − Σ_j P_j m_j dProbs_j)`: the noise's backward needs no random draws.
/// The dot product is in Double. `into` may alias `dProbs`.
@inline(__always)
func softmaxBackwardRow(probs: UnsafeMutablePointer<Float>, weighted: UnsafeMutablePointer<Float>,
                        dProbs: UnsafeMutablePointer<Float>, columns: Int, into dScores: UnsafeMutablePointer<Float>) {
    var dot = SIMD8<Double>()
    forEachVector(0..<columns) { j, n in
        if n == 8 {
            dot += weighted.loadVector(at: j).widened * dProbs.loadVector(at: j).widened
        } else {
            dot += weighted.loadPartial(at: j, count: n).widened * dProbs.loadPartial(at: j, count: n).widened
        }
    }
    let total = Float(dot.laneSum)
    forEachVector(0..<columns) { j, n in
        if n == 8 {
            dScores.storeVector(weighted.loadVector(at: j) * dProbs.loadVector(at: j) - probs.loadVector(at: j) * total, at: j)
        } else {
            for l in j..<(j + n) { dScores[l] = weighted[l] * dProbs[l] - probs[l] * total }
        }
    }
}
