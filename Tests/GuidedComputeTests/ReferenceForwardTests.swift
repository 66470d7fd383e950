import Foundation
import Testing
@testable import GuidedCompute

// The CPU reference's forward ops against their definitions, written again here as naive Double
// loops. The finite-difference tests only show that each backward matches its forward; these show
// that the forwards (the oracle for the OpenCL backend) compute what the protocol documents.
// Tolerance: relative 1e-6 of the largest output — the reference rounds to Float once per output
// (or, for BLAS sgemm, accumulates ≤ 13 Float products).

@Suite struct ReferenceForwardTests {
    let cpu = CPUBackend()
    static let tolerance = 1e-6

    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func gemmStridedBatchedMatchesNaiveLoops(transposeA ta: Bool, transposeB tb: Bool) throws {
        let m = 4, n = 5, k = 3, batch = 2, strideA = 13, strideB = 16, strideC = 21
        var rng = SplitMix64(seed: 61)
        let a = rng.uniform(strideA * batch), b = rng.uniform(strideB * batch), c0 = rng.uniform(strideC * batch)
        let lda = ta ? m : k, ldb = tb ? k : n, ldc = n
        let c = try cpu.tensor(c0)
        try cpu.gemmStridedBatched(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 0.5, a: cpu.tensor(a), lda: lda,
                                   strideA: strideA, b: cpu.tensor(b), ldb: ldb, strideB: strideB, beta: 2,
                                   c: c, ldc: ldc, strideC: strideC, batch: batch)
        var expected = c0
        for i in 0..<batch {
            for r in 0..<m {
                for col in 0..<n {
                    var s = 0.0
                    for p in 0..<k {
                        let av = a[i * strideA + (ta ? p * lda + r : r * lda + p)]
                        let bv = b[i * strideB + (tb ? col * ldb + p : p * ldb + col)]
                        s += Double(av) * Double(bv)
                    }
                    let at = i * strideC + r * ldc + col
                    expected[at] = Float(0.5 * s + 2 * Double(c0[at]))
                }
            }
        }
        // Elements between the matrices (the stride gaps) are untouched.
        #expect(relativeError(try cpu.download(c), expected) <= Self.tolerance)
    }

    /// Values from PyTorch: `F.gelu(x)` and `F.gelu(x, approximate="tanh")`.
    @Test func geluKnownValues() throws {
        let x: [Float] = [1, -1, 0.5, 3, 0]
        let erf: [Float] = [0.841_344_75, -0.158_655_25, 0.345_731_23, 2.995_950_3, 0]
        let tanh: [Float] = [0.841_191_99, -0.158_808_01, 0.345_714_01, 2.996_362_6, 0]
        for (form, expected) in [(GeluForm.erf, erf), (.tanh, tanh)] {
            let y = try cpu.allocate(x.count)
            try cpu.geluForward(cpu.tensor(x), into: y, form: form)
            #expect(maxAbsDiff(try cpu.download(y), expected) <= 1e-6, "\(form)")
        }
    }

    @Test func layerNormMatchesDefinitionWithBiasedVariance() throws {
        let rows = 3, columns = 5, eps: Float = 1e-5
        var rng = SplitMix64(seed: 62)
        let x = rng.normal(rows * columns, std: 2).map { $0 + 4 }, gamma = rng.uniform(columns), beta = rng.uniform(columns)
        let y = try cpu.allocate(rows * columns), mean = try cpu.allocate(rows), rstd = try cpu.allocate(rows)
        try cpu.layerNormForward(cpu.tensor(x), gamma: cpu.tensor(gamma), beta: cpu.tensor(beta), into: y, mean: mean,
                                 rstd: rstd, rows: rows, columns: columns, eps: eps)
        var expectedY = [Float](), expectedMean = [Float](), expectedRstd = [Float]()
        for r in 0..<rows {
            let row = x[(r * columns)..<((r + 1) * columns)].map(Double.init)
            let mu = row.reduce(0, +) / Double(columns)
            let variance = row.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(columns) // biased, as PyTorch
            let inv = 1 / (variance + Double(eps)).squareRoot()
            expectedMean.append(Float(mu))
            expectedRstd.append(Float(inv))
            for j in 0..<columns { expectedY.append(Float((row[j] - mu) * inv * Double(gamma[j]) + Double(beta[j]))) }
        }
        #expect(relativeError(try cpu.download(y), expectedY) <= Self.tolerance)
        #expect(relativeError(try cpu.download(mean), expectedMean) <= Self.tolerance)
        #expect(relativeError(try cpu.download(rstd), expectedRstd) <= Self.tolerance)
    }

    /// Softmax over keys after the additive mask, keys after the query excluded when causal; a row
    /// with every key at −inf is all zeros.
    @Test(arguments: [false, true])
    func attentionSoftmaxMatchesDefinition(causal: Bool) throws {
        let batch = 2, heads = 2, tokens = 4
        var rng = SplitMix64(seed: 63)
        let scores = rng.normal(batch * heads * tokens * tokens, std: 2)
        // Sample 0: key 3 is padding (−1e9); sample 1: every key is −inf.
        let mask: [Float] = [0, 0, 0, -1e9, -.infinity, -.infinity, -.infinity, -.infinity]
        let probs = try cpu.allocate(scores.count)
        try cpu.attentionSoftmaxForward(cpu.tensor(scores), mask: cpu.tensor(mask), into: probs, batch: batch,
                                        heads: heads, tokens: tokens, causal: causal)
        var expected = [Float](repeating: 0, count: scores.count)
        for b in 0..<batch {
            for h in 0..<heads {
                for q in 0..<tokens {
                    let base = ((b * heads + h) * tokens + q) * tokens
                    let keys = (0..<tokens).filter { !causal || $0 <= q }
                    let logits = keys.map { Double(scores[base + $0]) + Double(mask[b * tokens + $0]) }
                    guard let top = logits.max(), top > -.infinity else { continue } // all masked: zeros
                    let e = logits.map { Foundation.exp($0 - top) }
                    let total = e.reduce(0, +)
                    for (i, key) in keys.enumerated() { expected[base + key] = Float(e[i] / total) }
                }
            }
        }
        let got = try cpu.download(probs)
        #expect(relativeError(got, expected) <= Self.tolerance)
        #expect(got[(batch * heads * tokens * tokens / 2)...].allSatisfy { $0 == 0 }) // sample 1
    }

    @Test func softmaxCrossEntropyMatchesDefinition() throws {
        let rows = 3, classes = 4
        let logits: [Float] = [1, 2, 3, 4, 0, 0, 0, 0, 100, -100, 50, 0]
        let labels: [Int32] = [2, -100, 0]
        let weights: [Float] = [0.5, 1, 2]
        let losses = try cpu.filled(rows, with: 7), dLogits = try cpu.filled(rows * classes, with: 7)
        try cpu.softmaxCrossEntropy(cpu.tensor(logits), labels: cpu.int32Tensor(labels), weights: cpu.tensor(weights),
                                    losses: losses, dLogits: dLogits, rows: rows, classes: classes)
        // Row 0: log Σ e^j − 3 with logits 1…4; row 1 ignored; row 2: large logits, loss ≈ 0.
        let lse0 = Foundation.log([1.0, 2, 3, 4].reduce(0) { $0 + Foundation.exp($1) })
        let expectedLoss: [Float] = [Float(lse0 - 3), 0, Float(Foundation.log(1 + Foundation.exp(-50.0) + Foundation.exp(-100.0) + Foundation.exp(-200.0)))]
        #expect(maxAbsDiff(try cpu.download(losses), expectedLoss) <= 1e-6)
        var expectedGrad = [Float](repeating: 0, count: rows * classes)
        for j in 0..<classes {
            expectedGrad[j] = Float(0.5 * (Foundation.exp(Double(j + 1) - lse0) - (j == 2 ? 1 : 0)))
        }
        expectedGrad[8] = Float(2 * (1 / (1 + Foundation.exp(-50.0)) - 1)) // ≈ −2·e⁻⁵⁰
        expectedGrad[10] = Float(2 * Foundation.exp(-50.0))
        #expect(maxAbsDiff(try cpu.download(dLogits), expectedGrad) <= 1e-7)
    }

    @Test func embeddingGatherPermuteAndAddBiasMatchTheirIndexFormulas() throws {
        var rng = SplitMix64(seed: 64)
        let table = rng.uniform(6 * 3), ids: [Int32] = [5, 0, 5, 2]
        let out = try cpu.allocate(ids.count * 3)
        try cpu.embeddingGather(cpu.tensor(table), ids: cpu.int32Tensor(ids), into: out, tokens: ids.count, width: 3)
        #expect(try cpu.download(out) == ids.flatMap { table[(Int($0) * 3)..<(Int($0) * 3 + 3)] })

        let (d0, d1, d2, d3) = (2, 3, 4, 2)
        let x = rng.uniform(d0 * d1 * d2 * d3), y = try cpu.allocate(x.count)
        try cpu.permute0213(cpu.tensor(x), into: y, d0, d1, d2, d3)
        let got = try cpu.download(y)
        for a in 0..<d0 { for b in 0..<d1 { for c in 0..<d2 { for d in 0..<d3 {
            #expect(got[((a * d2 + c) * d1 + b) * d3 + d] == x[((a * d1 + b) * d2 + c) * d3 + d])
        } } } }

        let biased = try cpu.tensor(x), bias = rng.uniform(4)
        try cpu.addBias(biased, cpu.tensor(bias), rows: x.count / 4, columns: 4)
        #expect(try cpu.download(biased) == x.indices.map { x[$0] + bias[$0 % 4] })
    }

    /// Packed rows to heads and back against their index formulas: padding positions are zero, and
    /// the way back reads only the packed positions. Per-sample sums over uneven samples likewise.
    @Test func packedRowsAndUnevenSampleSumsMatchTheirIndexFormulas() throws {
        var rng = SplitMix64(seed: 65)
        let samples = SampleRows(counts: [2, 0, 3]), (tokens, heads, headDim) = (4, 2, 3), width = heads * headDim
        let x = rng.uniform(samples.total * width)
        let y = try cpu.tensor(rng.uniform(3 * heads * tokens * headDim)), back = try cpu.allocate(x.count)
        try cpu.packedRowsToHeads(cpu.tensor(x), into: y, samples: samples, tokens: tokens, heads: heads, headDim: headDim)
        let got = try cpu.download(y)
        for n in 0..<3 { for h in 0..<heads { for t in 0..<tokens { for d in 0..<headDim {
            let want = t < samples[n].count ? x[(samples[n].lowerBound + t) * width + h * headDim + d] : 0
            #expect(got[((n * heads + h) * tokens + t) * headDim + d] == want)
        } } } }
        try cpu.headsToPackedRows(y, into: back, samples: samples, tokens: tokens, heads: heads, headDim: headDim)
        #expect(try cpu.download(back) == x)

        let sums = try cpu.allocate(3 * width)
        try cpu.sumOverTokens(cpu.tensor(x), into: sums, samples: samples, width: width)
        let want = (0..<3).flatMap { n in
            (0..<width).map { j in samples[n].reduce(Float(0)) { $0 + x[$1 * width + j] } }
        }
        #expect(maxAbsDiff(try cpu.download(sums), want) <= 1e-6)
    }

    /// The attention composite against attention written out in Double: out = D(softmax(q kᵀ/√d + mask)) v,
    /// with D the dropout of the same key (its keep-mask and 1/(1−p) scale read off a dropout of ones).
    @Test(arguments: [Float(0), 0.25])
    func attentionForwardMatchesDefinition(dropoutProbability p: Float) throws {
        let s = AttentionShape(batch: 2, heads: 2, tokens: 5, headDim: 4), t = s.tokens, d = s.headDim
        var rng = SplitMix64(seed: 65)
        let q = rng.uniform(s.headsCount), k = rng.uniform(s.headsCount), v = rng.uniform(s.headsCount)
        let mask = OpCase.paddingMask(batch: s.batch, tokens: t)
        let key = RandomKey(seed: 8, site: 1, step: 1)
        let out = try cpu.allocate(s.headsCount)
        try cpu.attentionForward(q: cpu.tensor(q), k: cpu.tensor(k), v: cpu.tensor(v), mask: cpu.tensor(mask), shape: s,
                                 causal: true, dropout: p > 0 ? AttentionDropout(probability: p, key: key) : nil,
                                 scores: cpu.allocate(s.scoresCount), probs: cpu.allocate(s.scoresCount),
                                 dropped: cpu.allocate(s.scoresCount), out: out)
        let dropScale = try { () -> [Float] in
            let ones = try cpu.filled(s.scoresCount, with: 1), scaled = try cpu.allocate(s.scoresCount)
            if p > 0 { try cpu.dropout(ones, into: scaled, probability: p, key: key) } else { try cpu.copy(ones, to: scaled) }
            return try cpu.download(scaled)
        }()
        var expected = [Float](repeating: 0, count: s.headsCount)
        for m in 0..<(s.batch * s.heads) {
            let b = m / s.heads, base = m * t * d
            for i in 0..<t {
                var logits = [Double](repeating: -.infinity, count: t)
                for j in 0...i { // causal
                    var dotQK = 0.0
                    for c in 0..<d { dotQK += Double(q[base + i * d + c]) * Double(k[base + j * d + c]) }
                    logits[j] = dotQK / Double(d).squareRoot() + Double(mask[b * t + j])
                }
                let top = logits.max()!
                let e = logits.map { Foundation.exp($0 - top) }
                let total = e.reduce(0, +)
                for c in 0..<d {
                    var acc = 0.0
                    for j in 0..<t {
                        acc += e[j] / total * Double(dropScale[m * t * t + i * t + j]) * Double(v[base + j * d + c])
                    }
                    expected[base + i * d + c] = Float(acc)
                }
            }
        }
        #expect(relativeError(try cpu.download(out), expected) <= Self.tolerance)
    }
}
