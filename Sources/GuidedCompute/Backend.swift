/// GELU's two forms: `erf` is BERT's exact `gelu`; `tanh` is GPT-2's `gelu_new` /
/// `gelu_pytorch_tanh` approximation.
public enum GeluForm: String, Sendable, CaseIterable {
    case erf
    case tanh
}

/// The compute contract: device memory and every op the models need, forward and backward.
///
/// Model code is written once against this protocol. The CPU backend (`CPUBackend`) is the
/// readable reference; the OpenCL backend (`OpenCLBackend`) runs the same ops as kernels in
/// `Kernels/cl/` and is cross-checked against it op by op in the tests.
///
/// Conventions, as in llm.c:
/// - Matrices are row-major; every shape is passed explicitly.
/// - Backward ops **accumulate** into parameter gradients (`dWeight`, `dBias`, `dGamma`, `dBeta`,
///   embedding tables) and **assign** activation gradients (`dx`). Zeroing is an explicit `fill`.
/// - Int32 tensors (ids, labels, indices) are named so; every other tensor is Float32.
/// - Ops enqueue work and may return before it finishes; `download`, the reductions that return
///   a value, and `synchronize` wait for it.
public protocol Backend: AnyObject {
    /// A short description, e.g. `cpu (OpenBLAS)` or `opencl: NVIDIA H100 80GB HBM3`.
    var name: String { get }
    /// What one more batch costs, in tokens of work: where samples of mixed lengths are batched,
    /// a batch is worth splitting when that saves more padded tokens than this. On a CPU the work
    /// is the token count (small: 32); a GPU runs a small batch in about the time of a full one
    /// (large: batches stay full).
    var batchOverheadTokens: Int { get }

    // MARK: Memory

    /// A new zero-filled allocation of `count` 4-byte elements.
    func allocate(_ count: Int) throws -> Tensor
    /// A new allocation of `count` 4-byte elements whose contents are unspecified, for a tensor
    /// that an op overwrites entirely before anything reads it (activations, their gradients).
    /// A backend may skip the zero fill; the default is `allocate`.
    func allocateUninitialized(_ count: Int) throws -> Tensor
    func upload(_ values: [Float], to tensor: Tensor) throws
    func upload(_ values: [Int32], to tensor: Tensor) throws
    func download(_ tensor: Tensor) throws -> [Float]
    func downloadInt32(_ tensor: Tensor) throws -> [Int32]
    func synchronize() throws

    // MARK: Elementwise

    func fill(_ tensor: Tensor, with value: Float) throws
    /// `dst = src`, elementwise over `src.count` elements.
    func copy(_ src: Tensor, to dst: Tensor) throws
    /// `x *= alpha`.
    func scale(_ x: Tensor, by alpha: Float) throws
    /// `y += alpha · x`.
    func axpy(_ alpha: Float, _ x: Tensor, _ y: Tensor) throws
    /// `out = a + b` (residual connections; `out` may alias `a` or `b`).
    func add(_ a: Tensor, _ b: Tensor, into out: Tensor) throws
    /// `y[a, c, b, d] = x[a, b, c, d]`: [B, T, H, D] ↔ [B, H, T, D] for attention heads.
    /// The backward is the same op with `d1` and `d2` swapped.
    func permute0213(_ x: Tensor, into y: Tensor, _ d0: Int, _ d1: Int, _ d2: Int, _ d3: Int) throws
    /// Packed token rows to attention heads: `y[n, h, t, :] = x[samples[n].lowerBound + t, h·D ..< (h+1)·D]`
    /// for `t < samples[n].count`, zero for the rest of the `tokens` (padding: keys the mask hides,
    /// queries nothing reads). x: [samples.total, heads · headDim], y: [samples.count, heads, tokens, headDim].
    /// An encoder over packed rows (no padding) runs its attention through this and its reverse.
    func packedRowsToHeads(_ x: Tensor, into y: Tensor, samples: SampleRows, tokens: Int, heads: Int,
                           headDim: Int) throws
    /// The reverse of `packedRowsToHeads`, reading only the packed positions; each is the other's backward.
    func headsToPackedRows(_ x: Tensor, into y: Tensor, samples: SampleRows, tokens: Int, heads: Int,
                           headDim: Int) throws

    // MARK: Linear algebra

    /// `C = alpha · op(A) · op(B) + beta · C`, op(A): m×k, op(B): k×n, C: m×n, row-major.
    func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
              alpha: Float, a: Tensor, lda: Int, b: Tensor, ldb: Int,
              beta: Float, c: Tensor, ldc: Int) throws
    /// `batch` independent GEMMs; matrix `i` of each operand starts `i · stride` elements in.
    func gemmStridedBatched(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                            alpha: Float, a: Tensor, lda: Int, strideA: Int,
                            b: Tensor, ldb: Int, strideB: Int,
                            beta: Float, c: Tensor, ldc: Int, strideC: Int, batch: Int) throws
    /// `y[r, j] += bias[j]` for `rows` rows of `columns`.
    func addBias(_ y: Tensor, _ bias: Tensor, rows: Int, columns: Int) throws
    /// `dBias[j] += Σ_r dy[r, j]`.
    func biasBackward(_ dy: Tensor, dBias: Tensor, rows: Int, columns: Int) throws

    // MARK: Activations and normalisation

    func geluForward(_ x: Tensor, into y: Tensor, form: GeluForm) throws
    /// `dx = dy · gelu'(x)`, given also the forward's output `y = gelu(x)`: a backend may read
    /// gelu′'s gate Φ(x) off it as y/x instead of computing it again (the CPU backend does, in the
    /// erf form).
    func geluBackward(_ x: Tensor, output y: Tensor, _ dy: Tensor, into dx: Tensor, form: GeluForm) throws
    /// `y = tanh(x)` (BERT's pooler).
    func tanhForward(_ x: Tensor, into y: Tensor) throws
    /// `dx = dy · (1 − y²)` from the forward's output `y`.
    func tanhBackward(_ y: Tensor, _ dy: Tensor, into dx: Tensor) throws
    /// Per row: `y = (x − mean) · rstd · gamma + beta`; saves `mean` and `rstd = 1/sqrt(var + eps)`
    /// (biased variance, as PyTorch) for the backward.
    func layerNormForward(_ x: Tensor, gamma: Tensor, beta: Tensor, into y: Tensor,
                          mean: Tensor, rstd: Tensor, rows: Int, columns: Int, eps: Float) throws
    /// Assigns `dx`; accumulates `dGamma` and `dBeta`.
    func layerNormBackward(_ dy: Tensor, x: Tensor, gamma: Tensor, mean: Tensor, rstd: Tensor,
                           dx: Tensor, dGamma: Tensor, dBeta: Tensor, rows: Int, columns: Int) throws

    // MARK: Attention pieces (the composite `attentionForward`/`attentionBackward` is in Attention.swift)

    /// Row-wise softmax of `scores` [batch, heads, tokens, tokens] after adding `mask[b, key]`
    /// (additive, e.g. 0 and −1e9 for padding; nil for none) and, when `causal`, masking keys after
    /// the query. A row whose every key is masked gives all zeros.
    func attentionSoftmaxForward(_ scores: Tensor, mask: Tensor?, into probs: Tensor,
                                 batch: Int, heads: Int, tokens: Int, causal: Bool) throws
    /// `dScores = P ∘ (dP − Σ_j P dP)` per row of `columns`.
    func softmaxBackward(_ probs: Tensor, _ dProbs: Tensor, into dScores: Tensor,
                         rows: Int, columns: Int) throws

    // MARK: Attention (composites over the pieces above, in Attention.swift; a backend may fuse them)

    /// `out = dropout(softmax(q kᵀ / sqrt(headDim) + mask [+ causal])) · v`; see Attention.swift.
    /// The default is `composedAttentionForward`; the CPU backend runs the same steps one
    /// [tokens, tokens] matrix at a time.
    func attentionForward(q: Tensor, k: Tensor, v: Tensor, mask: Tensor?, shape: AttentionShape,
                          causal: Bool, dropout: AttentionDropout?,
                          scores: Tensor, probs: Tensor, dropped: Tensor, out: Tensor) throws
    /// Assigns `dq`, `dk`, `dv` from `dOut`; see Attention.swift. The default is
    /// `composedAttentionBackward`.
    func attentionBackward(dOut: Tensor, q: Tensor, k: Tensor, v: Tensor, shape: AttentionShape,
                           dropout: AttentionDropout?, probs: Tensor, dropped: Tensor,
                           dScores: Tensor, dq: Tensor, dk: Tensor, dv: Tensor) throws

    // MARK: Regularisers (forward and backward are the same call: the mask depends only on `key`)

    /// `y = x · m / (1 − p)` with `m` Bernoulli(1 − p) from Philox; `p` in [0, 1).
    /// Backward: call it on `dy` with the same `key` and `p`.
    func dropout(_ x: Tensor, into y: Tensor, probability p: Float, key: RandomKey) throws
    /// `y = x · ε`, `ε ~ N(1, std²)` from Philox (Box–Muller). Backward: the same call on `dy`.
    func gaussianNoise(_ x: Tensor, into y: Tensor, std: Float, key: RandomKey) throws

    // MARK: Embeddings and sparse rows

    /// `out[t, :] = table[ids[t], :]`; `ids` Int32.
    func embeddingGather(_ table: Tensor, ids: Tensor, into out: Tensor, tokens: Int, width: Int) throws
    /// `dst[index[r], :] += src[r, :]` for every `r` with `index[r] ≥ 0` and `index[r] != skip`;
    /// `index` Int32. Deterministic (no float atomics): the embedding backward, and the per-sample
    /// row sums of the embedding Fisher.
    func scatterAddRows(_ src: Tensor, index: Tensor, into dst: Tensor,
                        rows: Int, width: Int, skip: Int32) throws
    /// `fisher[index[u], :] += src[u, :]²` for every `u` with `index[u] ≥ 0`; `index` Int32.
    func accumulateSquaredRows(_ src: Tensor, index: Tensor, into fisher: Tensor,
                               rows: Int, width: Int) throws

    // MARK: Loss

    /// Per row `r` of `logits` [rows, classes] with Int32 `labels[r]` (negative: ignored):
    /// `losses[r] = −log softmax(logits[r])[labels[r]]` (0 when ignored) and
    /// `dLogits[r] = weights[r] · (softmax(logits[r]) − onehot(labels[r]))` (0 when ignored).
    /// The caller chooses `weights`: 1/N for a batch mean, 1/count-in-sample for per-sample means.
    func softmaxCrossEntropy(_ logits: Tensor, labels: Tensor, weights: Tensor,
                             losses: Tensor, dLogits: Tensor, rows: Int, classes: Int) throws

    // MARK: Per-sample gradient squaring (the Fisher)

    /// `fisher[j] += Σ_n perSample[n, j]²` for `batch` rows of `width`.
    func accumulateSquaredSum(_ perSample: Tensor, into fisher: Tensor, batch: Int, width: Int) throws
    /// Squared per-sample outer products, the weight part of the Fisher of a linear layer:
    /// for every sample n, `fisher[r, c] += (Σₜ a[t, r] · b[t, c] + lookups)²` over the rows t that
    /// `samples` gives sample n, with a: [samples.total, rows], b: [samples.total, columns], fisher:
    /// [rows, columns]. The optional `lookup` adds embedding rows to sample n's gradient before
    /// squaring (a tied LM head). `scratch` is the caller's buffer for per-sample gradients (at
    /// least rows × columns; unused, and may be smaller, where `fusesOuterSquares`).
    /// The default is `composedOuterSquares`; the CPU backend fuses it one block of rows at a time.
    func accumulateOuterSquares(a: Tensor, b: Tensor, samples: SampleRows, rows: Int, columns: Int,
                                lookup: OuterSquaresLookup?, fisher: Tensor, scratch: Tensor) throws
    /// Whether `accumulateOuterSquares` needs no scratch (it never holds a whole per-sample gradient).
    var fusesOuterSquares: Bool { get }
    /// `out[n, j] = Σ_{r ∈ samples[n]} x[r, j]` (0 for a sample with no rows): per-sample bias (and
    /// LayerNorm β) gradients. x: [samples.total, width], out: [samples.count, width].
    func sumOverTokens(_ x: Tensor, into out: Tensor, samples: SampleRows, width: Int) throws
    /// `out[n, j] = Σ_{r ∈ samples[n]} dy[r, j] · x̂[r, j]` with `x̂ = (x − mean) · rstd`: per-sample
    /// LayerNorm γ gradients.
    func layerNormGammaPerSample(_ dy: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, into out: Tensor,
                                 samples: SampleRows, width: Int) throws

    // MARK: Optimiser

    /// One AdamW step exactly as `torch.optim.AdamW`: decoupled weight decay
    /// `p −= lr · weightDecay · p`, then `m = β1 m + (1−β1) g`, `v = β2 v + (1−β2) g²`,
    /// `p −= lr · (m / (1 − β1^step)) / (sqrt(v / (1 − β2^step)) + eps)`. `step` counts from 1.
    func adamW(parameters: Tensor, gradients: Tensor, m: Tensor, v: Tensor, hyper: AdamHyper) throws

    // MARK: Reductions

    func sum(_ x: Tensor) throws -> Float
    func sumOfSquares(_ x: Tensor) throws -> Float
    /// How many elements are NaN or ±Inf.
    func countNonFinite(_ x: Tensor) throws -> Int
}

/// AdamW hyperparameters for one step.
public struct AdamHyper: Sendable {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var eps: Float
    public var weightDecay: Float
    public var step: Int

    public init(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-6,
                weightDecay: Float = 0, step: Int) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.step = step
    }

    /// `1 − β1^step` and `1 − β2^step`, computed once on the host in double precision.
    public var biasCorrections: (Float, Float) {
        (Float(1 - pow(Double(beta1), Double(step))), Float(1 - pow(Double(beta2), Double(step))))
    }
}

import Foundation

extension Backend {
    public func allocateUninitialized(_ count: Int) throws -> Tensor { try allocate(count) }
    public var batchOverheadTokens: Int { 32 }
}
