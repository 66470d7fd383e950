import Foundation

/// Model sizes the kernel benchmarks run at: 8 sequences × 128 tokens, 12 heads.
public struct BenchShape: Sendable, CustomStringConvertible {
    public let name: String
    public let hidden: Int
    public let ffn: Int
    public let heads = 12
    public let batch = 8
    public let tokens = 128
    public var vocab = 30522
    public var layers = 12
    /// The architecture `guided bench --models/--fisher` builds: "bert" or "gpt2".
    public var family = "bert"

    public static let miniLM = BenchShape(name: "MiniLM", hidden: 384, ffn: 1536, layers: 6)
    public static let bertBase = BenchShape(name: "BERT-base", hidden: 768, ffn: 3072)
    public static let gpt2Small = BenchShape(name: "GPT-2 small", hidden: 768, ffn: 3072, vocab: 50257, family: "gpt2")
    /// GPT-2 at MiniLM's width and depth (tools/bench_torch.py's `gpt2-tiny-6l`): quick, and
    /// small enough for PoCL.
    public static let gpt2Tiny6L = BenchShape(name: "GPT-2 6L-384", hidden: 384, ffn: 1536, vocab: 50257, layers: 6,
                                              family: "gpt2")

    init(name: String, hidden: Int, ffn: Int, vocab: Int = 30522, layers: Int = 12, family: String = "bert") {
        self.name = name
        self.hidden = hidden
        self.ffn = ffn
        self.vocab = vocab
        self.layers = layers
        self.family = family
    }

    public var rows: Int { batch * tokens }
    public var description: String { "\(name) (hidden \(hidden), FFN \(ffn))" }
}

/// One op at one shape: how to set it up on a backend, and how much memory traffic and
/// arithmetic it does (for GB/s and GFLOP/s; traffic counts each tensor read or written once).
public struct KernelBenchCase: Sendable {
    public let family: String
    public let op: String
    public let shape: String
    public let bytes: Double
    public let flops: Double
    /// Allocates inputs on the backend and returns the work to time.
    let prepare: @Sendable (Backend) throws -> () throws -> Void
}

/// One measured row of `guided bench`.
public struct KernelBenchResult: Codable, Sendable {
    public let family: String
    public let op: String
    public let shape: String
    public let backend: String
    /// Median seconds per run (device time from OpenCL events on the OpenCL backend, wall time on the CPU).
    public let seconds: Double
    public let gigabytesPerSecond: Double
    public let gigaflopsPerSecond: Double
}

public enum KernelBenchmarks {
    /// Every kernel family at one shape, plus the two baselines (`copy` bandwidth, a large GEMM).
    public static func cases(_ s: BenchShape) -> [KernelBenchCase] {
        let h = s.hidden, f = s.ffn, r = s.rows, d = h / s.heads
        let attention = AttentionShape(batch: s.batch, heads: s.heads, tokens: s.tokens, headDim: d)
        let masked = max(1, r * 15 / 100)
        let fl = { (n: Int) in Double(n) }
        let by = { (n: Int) in Double(n) * 4 }
        var list: [KernelBenchCase] = []
        func add(_ family: String, _ op: String, _ shape: String, bytes: Double, flops: Double,
                 _ prepare: @escaping @Sendable (Backend) throws -> () throws -> Void) {
            list.append(KernelBenchCase(family: family, op: op, shape: shape, bytes: bytes, flops: flops, prepare: prepare))
        }

        add("baseline", "copy", "\(r)×\(f)", bytes: by(2 * r * f), flops: 0) { b in
            let x = try random(b, r * f), y = try b.allocate(r * f)
            return { try b.copy(x, to: y) }
        }
        add("baseline", "gemm", "\(r)×\(h) · \(h)×\(f)", bytes: by(r * h + h * f + r * f), flops: fl(2 * r * h * f)) { b in
            let x = try random(b, r * h), w = try random(b, f * h), y = try b.allocate(r * f)
            return { try b.gemm(transposeA: false, transposeB: true, m: r, n: f, k: h, alpha: 1, a: x, lda: h,
                                b: w, ldb: h, beta: 0, c: y, ldc: f) }
        }
        add("gemm", "strided-batched", "96×128×\(d)·\(d)×128", bytes: by(2 * attention.headsCount + attention.scoresCount),
            flops: fl(2 * attention.scoresCount * d)) { b in
            let q = try random(b, attention.headsCount), k = try random(b, attention.headsCount)
            let sc = try b.allocate(attention.scoresCount), t = s.tokens
            return { try b.gemmStridedBatched(transposeA: false, transposeB: true, m: t, n: t, k: d, alpha: 1,
                                              a: q, lda: d, strideA: t * d, b: k, ldb: d, strideB: t * d,
                                              beta: 0, c: sc, ldc: t, strideC: t * t, batch: s.batch * s.heads) }
        }
        add("elementwise", "bias add", "\(r)×\(f)", bytes: by(2 * r * f + f), flops: fl(r * f)) { b in
            let y = try random(b, r * f), bias = try random(b, f)
            return { try b.addBias(y, bias, rows: r, columns: f) }
        }
        add("elementwise", "bias backward", "\(r)×\(f)", bytes: by(r * f + 2 * f), flops: fl(r * f)) { b in
            let dy = try random(b, r * f), db = try b.allocate(f)
            return { try b.biasBackward(dy, dBias: db, rows: r, columns: f) }
        }
        for form in GeluForm.allCases {
            add("gelu", "forward \(form)", "\(r)×\(f)", bytes: by(2 * r * f), flops: fl(20 * r * f)) { b in
                let x = try random(b, r * f), y = try b.allocate(r * f)
                return { try b.geluForward(x, into: y, form: form) }
            }
            // Bytes as the CPU's erf form moves them (x, y, dy, dx); OpenCL's kernel reads no y.
            add("gelu", "backward \(form)", "\(r)×\(f)", bytes: by(4 * r * f), flops: fl(30 * r * f)) { b in
                let x = try random(b, r * f), y = try b.allocate(r * f), dy = try random(b, r * f), dx = try b.allocate(r * f)
                try b.geluForward(x, into: y, form: form)
                return { try b.geluBackward(x, output: y, dy, into: dx, form: form) }
            }
        }
        add("elementwise", "permute0213", "8×128×12×\(d)", bytes: by(2 * r * h), flops: 0) { b in
            let x = try random(b, r * h), y = try b.allocate(r * h)
            return { try b.permute0213(x, into: y, s.batch, s.tokens, s.heads, d) }
        }
        add("layernorm", "forward", "\(r)×\(h)", bytes: by(2 * r * h + 2 * h + 2 * r), flops: fl(8 * r * h)) { b in
            let x = try random(b, r * h), g = try random(b, h), be = try random(b, h)
            let y = try b.allocate(r * h), m = try b.allocate(r), rs = try b.allocate(r)
            return { try b.layerNormForward(x, gamma: g, beta: be, into: y, mean: m, rstd: rs, rows: r, columns: h, eps: 1e-12) }
        }
        add("layernorm", "backward", "\(r)×\(h)", bytes: by(4 * r * h + 3 * h + 2 * r), flops: fl(16 * r * h)) { b in
            let x = try random(b, r * h), g = try random(b, h), be = try random(b, h)
            let y = try b.allocate(r * h), m = try b.allocate(r), rs = try b.allocate(r)
            try b.layerNormForward(x, gamma: g, beta: be, into: y, mean: m, rstd: rs, rows: r, columns: h, eps: 1e-12)
            let dy = try random(b, r * h), dx = try b.allocate(r * h), dg = try b.allocate(h), db = try b.allocate(h)
            return { try b.layerNormBackward(dy, x: x, gamma: g, mean: m, rstd: rs, dx: dx, dGamma: dg, dBeta: db,
                                             rows: r, columns: h) }
        }
        let scores = attention.scoresCount, heads = attention.headsCount
        add("attention", "softmax forward", "96×128×128", bytes: by(2 * scores + r), flops: fl(5 * scores)) { b in
            let sc = try random(b, scores), mask = try b.allocate(r), p = try b.allocate(scores)
            return { try b.attentionSoftmaxForward(sc, mask: mask, into: p, batch: s.batch, heads: s.heads,
                                                   tokens: s.tokens, causal: false) }
        }
        add("attention", "forward (p=0.1)", "8×12×128×\(d)",
            bytes: by(4 * heads + 4 * scores), flops: fl(4 * scores * d + 8 * scores)) { b in
            let q = try random(b, heads), k = try random(b, heads), v = try random(b, heads), out = try b.allocate(heads)
            let mask = try b.allocate(r), sc = try b.allocate(scores), p = try b.allocate(scores), dr = try b.allocate(scores)
            let drop = AttentionDropout(probability: 0.1, key: RandomKey(seed: 1, site: 1, step: 1))
            return { try b.attentionForward(q: q, k: k, v: v, mask: mask, shape: attention, causal: false, dropout: drop,
                                            scores: sc, probs: p, dropped: dr, out: out) }
        }
        add("attention", "backward (p=0.1)", "8×12×128×\(d)",
            bytes: by(7 * heads + 4 * scores), flops: fl(8 * scores * d + 6 * scores)) { b in
            let q = try random(b, heads), k = try random(b, heads), v = try random(b, heads), out = try b.allocate(heads)
            let mask = try b.allocate(r), sc = try b.allocate(scores), p = try b.allocate(scores), dr = try b.allocate(scores)
            let drop = AttentionDropout(probability: 0.1, key: RandomKey(seed: 1, site: 1, step: 1))
            try b.attentionForward(q: q, k: k, v: v, mask: mask, shape: attention, causal: false, dropout: drop,
                                   scores: sc, probs: p, dropped: dr, out: out)
            let dOut = try random(b, heads), ds = try b.allocate(scores)
            let dq = try b.allocate(heads), dk = try b.allocate(heads), dv = try b.allocate(heads)
            return { try b.attentionBackward(dOut: dOut, q: q, k: k, v: v, shape: attention, dropout: drop,
                                             probs: p, dropped: dr, dScores: ds, dq: dq, dk: dk, dv: dv) }
        }
        add("dropout", "bernoulli p=0.1", "\(r)×\(h)", bytes: by(2 * r * h), flops: fl(r * h)) { b in
            let x = try random(b, r * h), y = try b.allocate(r * h)
            return { try b.dropout(x, into: y, probability: 0.1, key: RandomKey(seed: 7, site: 3, step: 1)) }
        }
        add("dropout", "gaussian", "\(r)×\(h)", bytes: by(2 * r * h), flops: fl(20 * r * h)) { b in
            let x = try random(b, r * h), y = try b.allocate(r * h)
            return { try b.gaussianNoise(x, into: y, std: 0.33, key: RandomKey(seed: 7, site: 3, step: 1)) }
        }
        add("embedding", "gather", "\(r) of \(s.vocab)×\(h)", bytes: by(2 * r * h + r), flops: 0) { b in
            let table = try random(b, s.vocab * h), ids = try randomIDs(b, r, below: s.vocab), out = try b.allocate(r * h)
            return { try b.embeddingGather(table, ids: ids, into: out, tokens: r, width: h) }
        }
        add("embedding", "scatter-add", "\(r) into \(s.vocab)×\(h)", bytes: by(3 * r * h + r), flops: fl(r * h)) { b in
            let table = try b.allocate(s.vocab * h), ids = try randomIDs(b, r, below: s.vocab), dOut = try random(b, r * h)
            return { try b.scatterAddRows(dOut, index: ids, into: table, rows: r, width: h, skip: 0) }
        }
        add("loss", "softmax cross-entropy", "\(masked)×\(s.vocab)", bytes: by(2 * masked * s.vocab), flops: fl(6 * masked * s.vocab)) { b in
            let logits = try random(b, masked * s.vocab), labels = try randomIDs(b, masked, below: s.vocab)
            let w = try b.allocate(masked), losses = try b.allocate(masked), d = try b.allocate(masked * s.vocab)
            try b.fill(w, with: 1 / Float(masked))
            return { try b.softmaxCrossEntropy(logits, labels: labels, weights: w, losses: losses, dLogits: d,
                                               rows: masked, classes: s.vocab) }
        }
        add("fisher", "linear (per-sample squares)", "8×128, \(h)→\(f)",
            bytes: by(r * h + r * f + 2 * s.batch * h * f + 2 * h * f), flops: fl(2 * r * h * f + 2 * s.batch * h * f)) { b in
            let x = try random(b, r * h), dY = try random(b, r * f)
            let fw = try b.allocate(f * h), fb = try b.allocate(f), scratch = try b.allocate(s.batch * f * h)
            return { try b.accumulateLinearFisher(dY: dY, x: x, batch: s.batch, tokens: s.tokens, inFeatures: h,
                                                  outFeatures: f, fisherWeight: fw, fisherBias: fb, scratch: scratch) }
        }
        add("fisher", "layernorm (per-sample squares)", "8×128×\(h)", bytes: by(4 * r * h), flops: fl(6 * r * h)) { b in
            let x = try random(b, r * h), dY = try random(b, r * h), m = try random(b, r), rs = try random(b, r)
            let fg = try b.allocate(h), fb = try b.allocate(h), scratch = try b.allocate(s.batch * h)
            return { try b.accumulateLayerNormFisher(dY: dY, x: x, mean: m, rstd: rs, batch: s.batch, tokens: s.tokens,
                                                     width: h, fisherGamma: fg, fisherBeta: fb, scratch: scratch) }
        }
        add("fisher", "embedding rows (per-sample squares)", "8×128 of \(s.vocab)×\(h)", bytes: by(4 * r * h), flops: fl(3 * r * h)) { b in
            var generator = SplitMix64(seed: 5)
            let ids = (0..<r).map { _ in Int32(generator.next() % UInt64(s.vocab)) }
            let slots = EmbeddingSlots(ids: ids, valid: Array(repeating: true, count: r), batch: s.batch,
                                       tokens: s.tokens, excludedRow: 0)
            let onDevice = try slots.upload(to: b)
            let dOut = try random(b, r * h), fisher = try b.allocate(s.vocab * h), scratch = try b.allocate(r * h)
            return { try b.accumulateEmbeddingFisher(dOut: dOut, slots: onDevice, width: h, fisher: fisher, scratch: scratch) }
        }
        // The tied MLM head's per-sample squares (decoder dense part + lookup rows), 15% of 128
        // tokens predicted: the composed form against the backend's own (fused on the CPU).
        let predicted = max(1, s.tokens * 15 / 100), v = s.vocab
        for (op, fused) in [("tied head, composed", false), ("tied head", true)] {
            add("fisher", op, "8×\(predicted) · \(v)×\(h) + lookups",
                bytes: by(2 * v * h + s.batch * predicted * (v + h) + r * h), flops: fl(2 * s.batch * predicted * v * h + 2 * s.batch * v * h)) { b in
                var generator = SplitMix64(seed: 7)
                let rows = (0..<r).map { _ in Int32(generator.next() % UInt64(v)) }
                let dLogits = try random(b, s.batch * predicted * v), hidden = try random(b, s.batch * predicted * h)
                let lookup = OuterSquaresLookup(rows: rows, values: try random(b, r * h), tokens: s.tokens)
                let samples = SampleRows.uniform(batch: s.batch, tokens: predicted)
                let fisher = try b.allocate(v * h), scratch = try b.allocate(v * h)
                return {
                    if fused {
                        try b.accumulateOuterSquares(a: dLogits, b: hidden, samples: samples, rows: v,
                                                     columns: h, lookup: lookup, fisher: fisher, scratch: scratch)
                    } else {
                        try b.composedOuterSquares(a: dLogits, b: hidden, samples: samples, rows: v,
                                                   columns: h, lookup: lookup, fisher: fisher, scratch: scratch)
                    }
                }
            }
        }
        let params = 12 * h * h + 2 * h * f
        add("optimizer", "adamw", "\(params) params", bytes: by(7 * params), flops: fl(12 * params)) { b in
            let p = try random(b, params), g = try random(b, params), m = try b.allocate(params), v = try b.allocate(params)
            return { try b.adamW(parameters: p, gradients: g, m: m, v: v, hyper: AdamHyper(learningRate: 2e-5, step: 3)) }
        }
        add("reduce", "sum of squares", "\(params)", bytes: by(params), flops: fl(2 * params)) { b in
            let x = try random(b, params)
            return { _ = try b.sumOfSquares(x) }
        }
        add("reduce", "non-finite count", "\(params)", bytes: by(params), flops: fl(params)) { b in
            let x = try random(b, params)
            return { _ = try b.countNonFinite(x) }
        }
        return list
    }

    /// Times `work` on `backend`: `warmup` untimed runs, then the median of `repeats`.
    public static func measure(_ c: KernelBenchCase, on backend: Backend, repeats: Int, warmup: Int = 1) throws -> KernelBenchResult {
        let work = try c.prepare(backend)
        for _ in 0..<warmup { try work() }
        try backend.synchronize()
        var times: [Double] = []
        for _ in 0..<max(1, repeats) {
            if let cl = backend as? OpenCLBackend {
                times.append(Double(try cl.deviceTime(work)) * 1e-9)
            } else {
                let start = DispatchTime.now().uptimeNanoseconds
                try work()
                try backend.synchronize()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
            }
        }
        let median = times.sorted()[times.count / 2]
        return KernelBenchResult(family: c.family, op: c.op, shape: c.shape,
                                 backend: backend is OpenCLBackend ? "opencl" : "cpu", seconds: median,
                                 gigabytesPerSecond: c.bytes / median / 1e9, gigaflopsPerSecond: c.flops / median / 1e9)
    }

    private static func random(_ b: Backend, _ count: Int) throws -> Tensor {
        var generator = SplitMix64(seed: UInt64(count))
        let t = try b.allocate(count)
        try b.upload((0..<count).map { _ in Float(generator.next() >> 40) / Float(1 << 24) * 2 - 1 }, to: t)
        return t
    }

    private static func randomIDs(_ b: Backend, _ count: Int, below: Int) throws -> Tensor {
        var generator = SplitMix64(seed: 99)
        let t = try b.allocate(count)
        try b.upload((0..<count).map { _ in Int32(generator.next() % UInt64(below)) }, to: t)
        return t
    }
}
