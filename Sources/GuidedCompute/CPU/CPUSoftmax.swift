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
                let keys = causal ? query + 1 : tokens
                let row = ps + r * tokens, out = pp + r * tokens
                var maxValue = -Float.infinity
                for j in 0..<keys {
                    let s = row[j] + (pmask?[b * tokens + j] ?? 0)
                    out[j] = s
                    maxValue = max(maxValue, s)
                }
                for j in keys..<tokens { out[j] = 0 }
                guard maxValue > -Float.infinity else {
                    for j in 0..<keys { out[j] = 0 }
                    continue
                }
                // expf on each element, the sum in Double.
                var total = 0.0
                for j in 0..<keys {
                    let e = expf(out[j] - maxValue)
                    out[j] = e
                    total += Double(e)
                }
                let inverse = Float(1 / total)
                for j in 0..<keys { out[j] *= inverse }
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
                var dot = 0.0
                for j in 0..<columns { dot += Double(pp[r * columns + j]) * Double(pdp[r * columns + j]) }
                for j in 0..<columns {
                    let i = r * columns + j
                    pds[i] = Float(Double(pp[i]) * (Double(pdp[i]) - dot))
                }
            }
        }
    }

    public func softmaxCrossEntropy(_ logits: Tensor, labels: Tensor, weights: Tensor,
                                    losses: Tensor, dLogits: Tensor, rows: Int, classes: Int) throws {
        precondition(logits.count == rows * classes && dLogits.count == logits.count && labels.count == rows
                     && weights.count == rows && losses.count == rows, "softmaxCrossEntropy: shape mismatch")
        let pl = floats(logits), pw = floats(weights), ploss = floats(losses), pd = floats(dLogits)
        let label = ints(labels)
        for r in 0..<rows {
            let row = pl + r * classes, grad = pd + r * classes
            let target = Int(label[r])
            guard target >= 0 else {
                ploss[r] = 0
                grad.update(repeating: 0, count: classes)
                continue
            }
            precondition(target < classes, "softmaxCrossEntropy: label \(target) ≥ \(classes) classes in row \(r)")
            var maxValue = -Float.infinity
            for j in 0..<classes { maxValue = max(maxValue, row[j]) }
            var total = 0.0
            for j in 0..<classes { total += Foundation.exp(Double(row[j] - maxValue)) }
            let logTotal = Foundation.log(total)
            ploss[r] = Float(logTotal - Double(row[target] - maxValue))
            let w = Double(pw[r])
            for j in 0..<classes {
                let p = Foundation.exp(Double(row[j] - maxValue) - logTotal)
                grad[j] = Float(w * (p - (j == target ? 1 : 0)))
            }
        }
    }
}
