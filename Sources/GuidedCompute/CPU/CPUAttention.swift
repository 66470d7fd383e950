import CBLAS

// The attention composite (Attention.swift) fused for the CPU: the same steps, one
// [tokens, tokens] matrix at a time, so that its scores, probabilities and noised probabilities
// are still in cache for the next step, with one parallel loop over the matrices.
extension CPUBackend {
    public func attentionForward(q: Tensor, k: Tensor, v: Tensor, mask: Tensor?, shape s: AttentionShape,
                                 causal: Bool, dropout: AttentionDropout?,
                                 scores: Tensor, probs: Tensor, dropped: Tensor, out: Tensor) throws {
        var dropProbability: Float?
        if let dropout, dropout.noise.isActive {
            guard case .bernoulli(let p) = dropout.noise else {
                // Gaussian noise on the probabilities: the composite (its backward below is general).
                return try composedAttentionForward(q: q, k: k, v: v, mask: mask, shape: s, causal: causal,
                                                    dropout: dropout, scores: scores, probs: probs,
                                                    dropped: dropped, out: out)
            }
            dropProbability = p
        }
        precondition(q.count == s.headsCount && k.count == s.headsCount && v.count == s.headsCount
                     && out.count >= s.headsCount && scores.count >= s.scoresCount && probs.count >= s.scoresCount
                     && (dropProbability == nil || dropped.count >= s.scoresCount)
                     && (mask == nil || mask!.count == s.batch * s.tokens), "attentionForward: shape mismatch")
        let t = s.tokens, d = s.headDim, tt = t * t, td = t * d
        guard t > 0, d > 0 else { return }
        let pq = floats(q), pk = floats(k), pv = floats(v), pmask = mask.map { floats($0) }
        let ps = floats(scores), pp = floats(probs), pdropped = floats(dropped), po = floats(out)
        let key = dropout?.key
        let alpha = 1 / Float(d).squareRoot()
        parallelChunks(s.matrices, work: s.matrices * tt * d) { range in
            for i in range {
                let scoresI = ps + i * tt, probsI = pp + i * tt
                // scores = alpha · q kᵀ
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(t), Int32(t), Int32(d), alpha,
                            pq + i * td, Int32(d), pk + i * td, Int32(d), 0, scoresI, Int32(t))
                let rowMask = pmask.map { $0 + (i / s.heads) * t }
                for r in 0..<t {
                    softmaxRow(scoresI + r * t, mask: rowMask, keys: causal ? r + 1 : t, tokens: t, into: probsI + r * t)
                }
                var weights = probsI
                if let p = dropProbability, let key {
                    dropoutElements(pp, into: pdropped, i * tt..<(i + 1) * tt, probability: p, key: key)
                    weights = pdropped + i * tt
                }
                // out = weights · v
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(t), Int32(d), Int32(t), 1,
                            weights, Int32(t), pv + i * td, Int32(d), 0, po + i * td, Int32(d))
            }
        }
    }

    /// The backward through the noise and the softmax in one step per row (`softmaxBackwardRow`),
    /// from the kept `dropped = probs ∘ noise`: no random bits are drawn again.
    public func attentionBackward(dOut: Tensor, q: Tensor, k: Tensor, v: Tensor, shape s: AttentionShape,
                                  dropout: AttentionDropout?, probs: Tensor, dropped: Tensor,
                                  dScores: Tensor, dq: Tensor, dk: Tensor, dv: Tensor) throws {
        let dropping = dropout?.noise.isActive ?? false
        precondition(q.count == s.headsCount && k.count == s.headsCount && v.count == s.headsCount
                     && dOut.count >= s.headsCount && dq.count >= s.headsCount && dk.count >= s.headsCount
                     && dv.count >= s.headsCount && probs.count >= s.scoresCount && dScores.count >= s.scoresCount
                     && (!dropping || dropped.count >= s.scoresCount), "attentionBackward: shape mismatch")
        let t = s.tokens, d = s.headDim, tt = t * t, td = t * d
        guard t > 0, d > 0 else { return }
        let pq = floats(q), pk = floats(k), pv = floats(v), pdOut = floats(dOut)
        let pp = floats(probs), pw = dropping ? floats(dropped) : pp, pds = floats(dScores)
        let pdq = floats(dq), pdk = floats(dk), pdv = floats(dv)
        let scale = 1 / Float(d).squareRoot()
        parallelChunks(s.matrices, work: s.matrices * tt * d) { range in
            for i in range {
                let weights = pw + i * tt, dS = pds + i * tt, dOutI = pdOut + i * td
                // dv = weightsᵀ · dOut
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(t), Int32(d), Int32(t), 1,
                            weights, Int32(t), dOutI, Int32(d), 0, pdv + i * td, Int32(d))
                // dWeights = dOut · vᵀ, then back through the noise and the softmax in place.
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(t), Int32(t), Int32(d), 1,
                            dOutI, Int32(d), pv + i * td, Int32(d), 0, dS, Int32(t))
                for r in 0..<t {
                    softmaxBackwardRow(probs: pp + i * tt + r * t, weighted: weights + r * t, dProbs: dS + r * t,
                                       columns: t, into: dS + r * t)
                }
                // dq = scale · dScores · k;  dk = scale · dScoresᵀ · q
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(t), Int32(d), Int32(t), scale,
                            dS, Int32(t), pk + i * td, Int32(d), 0, pdq + i * td, Int32(d))
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(t), Int32(d), Int32(t), scale,
                            dS, Int32(t), pq + i * td, Int32(d), 0, pdk + i * td, Int32(d))
            }
        }
    }
}
