import Foundation

/// Shapes of one multi-head attention call: q, k, v and the output are [batch, heads, tokens, headDim].
public struct AttentionShape: Sendable, Hashable {
    public var batch: Int
    public var heads: Int
    public var tokens: Int
    public var headDim: Int

    public init(batch: Int, heads: Int, tokens: Int, headDim: Int) {
        self.batch = batch
        self.heads = heads
        self.tokens = tokens
        self.headDim = headDim
    }

    /// Elements of q, k, v or the output.
    public var headsCount: Int { batch * heads * tokens * headDim }
    /// Elements of a scores or probabilities tensor [batch, heads, tokens, tokens].
    public var scoresCount: Int { batch * heads * tokens * tokens }
    var matrices: Int { batch * heads }
}

/// The regulariser on the attention probabilities of one call, and its random stream.
public struct AttentionDropout: Sendable {
    public var noise: Noise
    public var key: RandomKey

    public init(noise: Noise, key: RandomKey) {
        self.noise = noise
        self.key = key
    }

    /// Bernoulli dropout with probability `p`.
    public init(probability p: Float, key: RandomKey) {
        self.init(noise: .bernoulli(p), key: key)
    }
}

/// Scaled dot-product attention, written once over the protocol's primitives (strided-batched GEMM,
/// masked softmax, dropout) so both backends run exactly the same sequence of ops.
extension Backend {
    /// `out = dropout(softmax(q kᵀ / sqrt(headDim) + mask [+ causal])) · v`.
    ///
    /// Keeps `probs` (after softmax) and `dropped` (after the noise) for the backward; with no noise
    /// `dropped` is not written and the backward reads `probs` in its place. `scores` is scratch.
    public func attentionForward(q: Tensor, k: Tensor, v: Tensor, mask: Tensor?, shape s: AttentionShape,
                                 causal: Bool, dropout: AttentionDropout?,
                                 scores: Tensor, probs: Tensor, dropped: Tensor, out: Tensor) throws {
        try composedAttentionForward(q: q, k: k, v: v, mask: mask, shape: s, causal: causal, dropout: dropout,
                                     scores: scores, probs: probs, dropped: dropped, out: out)
    }

    /// Assigns `dq`, `dk`, `dv` from `dOut`; `dScores` is scratch of `shape.scoresCount`.
    public func attentionBackward(dOut: Tensor, q: Tensor, k: Tensor, v: Tensor, shape s: AttentionShape,
                                  dropout: AttentionDropout?, probs: Tensor, dropped: Tensor,
                                  dScores: Tensor, dq: Tensor, dk: Tensor, dv: Tensor) throws {
        try composedAttentionBackward(dOut: dOut, q: q, k: k, v: v, shape: s, dropout: dropout, probs: probs,
                                      dropped: dropped, dScores: dScores, dq: dq, dk: dk, dv: dv)
    }

    /// `attentionForward` as a sequence of the protocol's ops (strided-batched GEMM, masked softmax,
    /// noise, strided-batched GEMM).
    public func composedAttentionForward(q: Tensor, k: Tensor, v: Tensor, mask: Tensor?, shape s: AttentionShape,
                                 causal: Bool, dropout: AttentionDropout?,
                                 scores: Tensor, probs: Tensor, dropped: Tensor, out: Tensor) throws {
        let t = s.tokens, d = s.headDim
        try gemmStridedBatched(transposeA: false, transposeB: true, m: t, n: t, k: d,
                               alpha: 1 / Float(d).squareRoot(), a: q, lda: d, strideA: t * d,
                               b: k, ldb: d, strideB: t * d, beta: 0, c: scores, ldc: t, strideC: t * t,
                               batch: s.matrices)
        try attentionSoftmaxForward(scores, mask: mask, into: probs, batch: s.batch, heads: s.heads,
                                    tokens: t, causal: causal)
        var weights = probs
        if let dropout, dropout.noise.isActive {
            try apply(dropout.noise, probs, into: dropped, key: dropout.key)
            weights = dropped
        }
        try gemmStridedBatched(transposeA: false, transposeB: false, m: t, n: d, k: t,
                               alpha: 1, a: weights, lda: t, strideA: t * t,
                               b: v, ldb: d, strideB: t * d, beta: 0, c: out, ldc: d, strideC: t * d,
                               batch: s.matrices)
    }

    /// `attentionBackward` as a sequence of the protocol's ops.
    public func composedAttentionBackward(dOut: Tensor, q: Tensor, k: Tensor, v: Tensor, shape s: AttentionShape,
                                          dropout: AttentionDropout?, probs: Tensor, dropped: Tensor,
                                          dScores: Tensor, dq: Tensor, dk: Tensor, dv: Tensor) throws {
        let t = s.tokens, d = s.headDim
        let dropping = dropout?.noise.isActive ?? false
        let weights = dropping ? dropped : probs
        // dv = weightsᵀ · dOut
        try gemmStridedBatched(transposeA: true, transposeB: false, m: t, n: d, k: t,
                               alpha: 1, a: weights, lda: t, strideA: t * t,
                               b: dOut, ldb: d, strideB: t * d, beta: 0, c: dv, ldc: d, strideC: t * d,
                               batch: s.matrices)
        // dWeights = dOut · vᵀ, then back through dropout and softmax, in place in dScores.
        try gemmStridedBatched(transposeA: false, transposeB: true, m: t, n: t, k: d,
                               alpha: 1, a: dOut, lda: d, strideA: t * d,
                               b: v, ldb: d, strideB: t * d, beta: 0, c: dScores, ldc: t, strideC: t * t,
                               batch: s.matrices)
        if dropping, let dropout {
            try apply(dropout.noise, dScores, into: dScores, key: dropout.key)
        }
        try softmaxBackward(probs, dScores, into: dScores, rows: s.matrices * t, columns: t)
        let scale = 1 / Float(d).squareRoot()
        // dq = scale · dScores · k;  dk = scale · dScoresᵀ · q
        try gemmStridedBatched(transposeA: false, transposeB: false, m: t, n: d, k: t,
                               alpha: scale, a: dScores, lda: t, strideA: t * t,
                               b: k, ldb: d, strideB: t * d, beta: 0, c: dq, ldc: d, strideC: t * d,
                               batch: s.matrices)
        try gemmStridedBatched(transposeA: true, transposeB: false, m: t, n: d, k: t,
                               alpha: scale, a: dScores, lda: t, strideA: t * t,
                               b: q, ldb: d, strideB: t * d, beta: 0, c: dk, ldc: d, strideC: t * d,
                               batch: s.matrices)
    }
}
