import Foundation
import Testing
@testable import GuidedCompute

// Every backward of the CPU reference against central differences of its forward: the loss is
// `⟨forward(inputs), c⟩` for a fixed random cotangent `c`, so its gradient is the backward applied
// to `c`. Tolerances are those of `expectGradientsMatchFiniteDifferences` (|Δ| ≤ 1e-3 + 1e-2·|g|)
// unless a test says otherwise. Shapes are small: every element is perturbed.

@Suite struct FiniteDifferenceTests {
    let cpu = CPUBackend()

    @Test(arguments: GeluForm.allCases)
    func geluBackward(form: GeluForm) throws {
        var rng = SplitMix64(seed: 11)
        let x = rng.uniform(37, in: -4...4), c = rng.uniform(37)
        let xt = try cpu.tensor(x), y = try cpu.allocate(37), dx = try cpu.allocate(37)
        try cpu.geluForward(xt, into: y, form: form)
        try cpu.geluBackward(xt, output: y, cpu.tensor(c), into: dx, form: form)
        try expectGradientsMatchFiniteDifferences(inputs: ["x": x], analytic: ["x": cpu.download(dx)]) { inputs in
            let y = try cpu.allocate(37)
            try cpu.geluForward(cpu.tensor(inputs["x"]!), into: y, form: form)
            return dot(try cpu.download(y), c)
        }
    }

    @Test func tanhBackward() throws {
        var rng = SplitMix64(seed: 10)
        let x = rng.uniform(37, in: -3...3), c = rng.uniform(37)
        let y = try cpu.allocate(37), dx = try cpu.allocate(37)
        try cpu.tanhForward(cpu.tensor(x), into: y)
        try cpu.tanhBackward(y, cpu.tensor(c), into: dx)
        try expectGradientsMatchFiniteDifferences(inputs: ["x": x], analytic: ["x": cpu.download(dx)]) { inputs in
            let out = try cpu.allocate(37)
            try cpu.tanhForward(cpu.tensor(inputs["x"]!), into: out)
            return dot(try cpu.download(out), c)
        }
    }

    @Test func layerNormBackward() throws {
        let rows = 3, columns = 7
        var rng = SplitMix64(seed: 12)
        let x = rng.normal(rows * columns).map { $0 + 0.5 }, gamma = rng.uniform(columns, in: 0.5...1.5)
        let beta = rng.uniform(columns), c = rng.uniform(rows * columns)
        func forward(_ x: [Float], _ gamma: [Float], _ beta: [Float]) throws -> (y: Tensor, mean: Tensor, rstd: Tensor) {
            let y = try cpu.allocate(rows * columns), mean = try cpu.allocate(rows), rstd = try cpu.allocate(rows)
            try cpu.layerNormForward(cpu.tensor(x), gamma: cpu.tensor(gamma), beta: cpu.tensor(beta), into: y,
                                     mean: mean, rstd: rstd, rows: rows, columns: columns, eps: 1e-5)
            return (y, mean, rstd)
        }
        let saved = try forward(x, gamma, beta)
        let dx = try cpu.filled(rows * columns, with: 42) // assigned: the garbage must go
        let dGamma = try cpu.allocate(columns), dBeta = try cpu.allocate(columns)
        try cpu.layerNormBackward(cpu.tensor(c), x: cpu.tensor(x), gamma: cpu.tensor(gamma), mean: saved.mean,
                                  rstd: saved.rstd, dx: dx, dGamma: dGamma, dBeta: dBeta, rows: rows, columns: columns)
        try expectGradientsMatchFiniteDifferences(
            inputs: ["x": x, "gamma": gamma, "beta": beta],
            analytic: ["x": cpu.download(dx), "gamma": cpu.download(dGamma), "beta": cpu.download(dBeta)]
        ) { inputs in
            dot(try cpu.download(forward(inputs["x"]!, inputs["gamma"]!, inputs["beta"]!).y), c)
        }
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func softmaxBackwardThroughAttentionSoftmax(masked: Bool, causal: Bool) throws {
        let batch = 2, heads = 2, tokens = 5, count = batch * heads * tokens * tokens
        var rng = SplitMix64(seed: 13)
        let scores = rng.normal(count), c = rng.uniform(count)
        let mask = masked ? try cpu.tensor(OpCase.paddingMask(batch: batch, tokens: tokens)) : nil
        func probs(_ scores: [Float]) throws -> Tensor {
            let p = try cpu.allocate(count)
            try cpu.attentionSoftmaxForward(cpu.tensor(scores), mask: mask, into: p, batch: batch, heads: heads,
                                            tokens: tokens, causal: causal)
            return p
        }
        let dScores = try cpu.allocate(count)
        try cpu.softmaxBackward(probs(scores), cpu.tensor(c), into: dScores, rows: count / tokens, columns: tokens)
        try expectGradientsMatchFiniteDifferences(inputs: ["scores": scores], analytic: ["scores": cpu.download(dScores)]) {
            dot(try cpu.download(probs($0["scores"]!)), c)
        }
    }

    @Test(arguments: [(false, false, Float(0)), (true, false, 0), (false, true, 0), (true, true, 0.3)])
    func attentionBackward(masked: Bool, causal: Bool, dropoutProbability: Float) throws {
        let s = AttentionShape(batch: 2, heads: 2, tokens: 5, headDim: 3)
        var rng = SplitMix64(seed: 14)
        let q = rng.uniform(s.headsCount), k = rng.uniform(s.headsCount), v = rng.uniform(s.headsCount)
        let c = rng.uniform(s.headsCount)
        let mask = masked ? try cpu.tensor(OpCase.paddingMask(batch: s.batch, tokens: s.tokens)) : nil
        // A fixed key: the mask is the same at every evaluation, so the loss is smooth in q, k, v.
        let dropout = dropoutProbability > 0
            ? AttentionDropout(probability: dropoutProbability, key: RandomKey(seed: 7, site: 1, step: 2)) : nil
        let probs = try cpu.allocate(s.scoresCount), dropped = try cpu.allocate(s.scoresCount)
        func forward(_ q: [Float], _ k: [Float], _ v: [Float]) throws -> [Float] {
            let out = try cpu.allocate(s.headsCount)
            try cpu.attentionForward(q: cpu.tensor(q), k: cpu.tensor(k), v: cpu.tensor(v), mask: mask, shape: s,
                                     causal: causal, dropout: dropout, scores: cpu.allocate(s.scoresCount),
                                     probs: probs, dropped: dropped, out: out)
            return try cpu.download(out)
        }
        _ = try forward(q, k, v) // leaves probs and dropped of the unperturbed inputs
        let dq = try cpu.filled(s.headsCount, with: 9), dk = try cpu.filled(s.headsCount, with: 9)
        let dv = try cpu.filled(s.headsCount, with: 9)
        try cpu.attentionBackward(dOut: cpu.tensor(c), q: cpu.tensor(q), k: cpu.tensor(k), v: cpu.tensor(v), shape: s,
                                  dropout: dropout, probs: probs, dropped: dropped,
                                  dScores: cpu.allocate(s.scoresCount), dq: dq, dk: dk, dv: dv)
        if dropout != nil {
            // The dropout really dropped something, or this would only test the no-dropout path.
            let zerosAfter = try cpu.download(dropped).filter { $0 == 0 }.count
            let zerosBefore = try cpu.download(probs).filter { $0 == 0 }.count
            #expect(zerosAfter > zerosBefore)
        }
        try expectGradientsMatchFiniteDifferences(
            inputs: ["q": q, "k": k, "v": v],
            analytic: ["q": cpu.download(dq), "k": cpu.download(dk), "v": cpu.download(dv)]
        ) { inputs in
            dot(try forward(inputs["q"]!, inputs["k"]!, inputs["v"]!), c)
        }
    }

    /// Dropout and Gaussian noise are linear in x for a fixed key: the backward is the same call on dy.
    @Test(arguments: ["dropout", "gaussianNoise"])
    func regulariserBackwardIsTheSameCall(op: String) throws {
        let n = 37
        var rng = SplitMix64(seed: 15)
        let x = rng.uniform(n), c = rng.uniform(n)
        let key = RandomKey(seed: 123, site: 4, step: 9)
        func apply(_ values: [Float]) throws -> [Float] {
            let y = try cpu.allocate(n)
            if op == "dropout" {
                try cpu.dropout(cpu.tensor(values), into: y, probability: 0.4, key: key)
            } else {
                try cpu.gaussianNoise(cpu.tensor(values), into: y, std: 0.5, key: key)
            }
            return try cpu.download(y)
        }
        try expectGradientsMatchFiniteDifferences(inputs: ["x": x], analytic: ["x": apply(c)]) {
            dot(try apply($0["x"]!), c)
        }
    }

    @Test func biasBackwardIsTheAdjointOfAddBias() throws {
        let rows = 5, columns = 7
        var rng = SplitMix64(seed: 16)
        let y0 = rng.uniform(rows * columns), bias = rng.uniform(columns), c = rng.uniform(rows * columns)
        let dBias = try cpu.allocate(columns)
        try cpu.biasBackward(cpu.tensor(c), dBias: dBias, rows: rows, columns: columns)
        try expectGradientsMatchFiniteDifferences(inputs: ["y": y0, "bias": bias],
                                                  analytic: ["y": c, "bias": cpu.download(dBias)]) { inputs in
            let y = try cpu.tensor(inputs["y"]!)
            try cpu.addBias(y, cpu.tensor(inputs["bias"]!), rows: rows, columns: columns)
            return dot(try cpu.download(y), c)
        }
    }

    /// `C = op(A) op(B)`; the gradients are themselves GEMMs with transposes:
    /// d op(A) = dC op(B)ᵀ and d op(B) = op(A)ᵀ dC, transposed back when A or B is stored transposed.
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func gemmGradientsAreTransposedGemms(transposeA ta: Bool, transposeB tb: Bool) throws {
        let m = 3, n = 4, k = 5
        var rng = SplitMix64(seed: 17)
        let a = rng.uniform(m * k), b = rng.uniform(k * n), c = rng.uniform(m * n)
        let lda = ta ? m : k, ldb = tb ? k : n
        func forward(_ a: [Float], _ b: [Float]) throws -> [Float] {
            let out = try cpu.allocate(m * n)
            try cpu.gemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 1, a: cpu.tensor(a), lda: lda,
                         b: cpu.tensor(b), ldb: ldb, beta: 0, c: out, ldc: n)
            return try cpu.download(out)
        }
        let (A, B, dC) = (try cpu.tensor(a), try cpu.tensor(b), try cpu.tensor(c))
        let dA = try cpu.allocate(m * k), dB = try cpu.allocate(k * n)
        if !ta { // dA [m×k] = dC · op(B)ᵀ
            try cpu.gemm(transposeA: false, transposeB: !tb, m: m, n: k, k: n, alpha: 1, a: dC, lda: n,
                         b: B, ldb: ldb, beta: 0, c: dA, ldc: k)
        } else { // A stored k×m: dA = op(B) · dCᵀ
            try cpu.gemm(transposeA: tb, transposeB: true, m: k, n: m, k: n, alpha: 1, a: B, lda: ldb,
                         b: dC, ldb: n, beta: 0, c: dA, ldc: m)
        }
        if !tb { // dB [k×n] = op(A)ᵀ · dC
            try cpu.gemm(transposeA: !ta, transposeB: false, m: k, n: n, k: m, alpha: 1, a: A, lda: lda,
                         b: dC, ldb: n, beta: 0, c: dB, ldc: n)
        } else { // B stored n×k: dB = dCᵀ · op(A)
            try cpu.gemm(transposeA: true, transposeB: ta, m: n, n: k, k: m, alpha: 1, a: dC, lda: n,
                         b: A, ldb: lda, beta: 0, c: dB, ldc: k)
        }
        try expectGradientsMatchFiniteDifferences(inputs: ["a": a, "b": b],
                                                  analytic: ["a": cpu.download(dA), "b": cpu.download(dB)]) {
            dot(try forward($0["a"]!, $0["b"]!), c)
        }
    }

    @Test func scatterAddRowsIsTheAdjointOfEmbeddingGather() throws {
        let rows = 6, width = 4
        let ids: [Int32] = [2, 5, 2, 0, 3, 2, 5, 1, 0] // repeats; row 4 unused
        var rng = SplitMix64(seed: 18)
        let table = rng.uniform(rows * width), c = rng.uniform(ids.count * width)
        let idTensor = try cpu.int32Tensor(ids)
        let dTable = try cpu.allocate(rows * width)
        try cpu.scatterAddRows(cpu.tensor(c), index: idTensor, into: dTable, rows: ids.count, width: width, skip: -1)
        let gradient = try cpu.download(dTable)
        try expectGradientsMatchFiniteDifferences(inputs: ["table": table], analytic: ["table": gradient]) { inputs in
            let out = try cpu.allocate(ids.count * width)
            try cpu.embeddingGather(cpu.tensor(inputs["table"]!), ids: idTensor, into: out, tokens: ids.count, width: width)
            return dot(try cpu.download(out), c)
        }
        // `skip` drops exactly the skipped row's gradient (nn.Embedding's padding_idx), bit for bit.
        let skipped = try cpu.allocate(rows * width)
        try cpu.scatterAddRows(cpu.tensor(c), index: idTensor, into: skipped, rows: ids.count, width: width, skip: 2)
        var expected = gradient
        for j in 0..<width { expected[2 * width + j] = 0 }
        #expect(try cpu.download(skipped) == expected)
    }

    /// dLogits is the gradient of the weighted loss Σ_r w_r · loss_r; ignored rows get 0.
    @Test func softmaxCrossEntropyGradientIsOfTheWeightedLoss() throws {
        let rows = 4, classes = 6
        var rng = SplitMix64(seed: 19)
        let logits = rng.normal(rows * classes, std: 2)
        let labels = try cpu.int32Tensor([3, 0, -100, 5])
        let weights = rng.uniform(rows, in: 0.2...1)
        let weightTensor = try cpu.tensor(weights)
        func run(_ logits: [Float]) throws -> (losses: [Float], dLogits: [Float]) {
            let losses = try cpu.allocate(rows), dLogits = try cpu.filled(rows * classes, with: 5)
            try cpu.softmaxCrossEntropy(cpu.tensor(logits), labels: labels, weights: weightTensor, losses: losses,
                                        dLogits: dLogits, rows: rows, classes: classes)
            return (try cpu.download(losses), try cpu.download(dLogits))
        }
        try expectGradientsMatchFiniteDifferences(inputs: ["logits": logits], analytic: ["logits": run(logits).dLogits]) {
            dot(try run($0["logits"]!).losses, weights)
        }
    }

    /// The backward of a [d0, d1, d2, d3] → [d0, d2, d1, d3] permutation is the permutation back.
    @Test func permute0213AdjointIsThePermutationBack() throws {
        let (d0, d1, d2, d3) = (2, 3, 4, 5), n = 2 * 3 * 4 * 5
        var rng = SplitMix64(seed: 20)
        let x = rng.uniform(n), c = rng.uniform(n)
        let dx = try cpu.allocate(n)
        try cpu.permute0213(cpu.tensor(c), into: dx, d0, d2, d1, d3)
        try expectGradientsMatchFiniteDifferences(inputs: ["x": x], analytic: ["x": cpu.download(dx)]) { inputs in
            let y = try cpu.allocate(n)
            try cpu.permute0213(cpu.tensor(inputs["x"]!), into: y, d0, d1, d2, d3)
            return dot(try cpu.download(y), c)
        }
    }

    /// The backward of packed rows → heads is heads → packed rows (padding positions drop out).
    @Test func packedRowsToHeadsAdjointIsTheWayBack() throws {
        let samples = SampleRows(counts: [3, 1, 0, 4]), (tokens, heads, headDim) = (4, 2, 3)
        var rng = SplitMix64(seed: 21)
        let x = rng.uniform(samples.total * heads * headDim), c = rng.uniform(4 * heads * tokens * headDim)
        let dx = try cpu.allocate(x.count)
        try cpu.headsToPackedRows(cpu.tensor(c), into: dx, samples: samples, tokens: tokens, heads: heads, headDim: headDim)
        try expectGradientsMatchFiniteDifferences(inputs: ["x": x], analytic: ["x": cpu.download(dx)]) { inputs in
            let y = try cpu.allocate(c.count)
            try cpu.packedRowsToHeads(cpu.tensor(inputs["x"]!), into: y, samples: samples, tokens: tokens, heads: heads,
                                      headDim: headDim)
            return dot(try cpu.download(y), c)
        }
    }

    /// The checker itself must reject a wrong gradient (else every test above would pass vacuously).
    @Test func checkerRejectsAWrongGradient() throws {
        let x: [Float] = [0.3, -0.7, 1.1]
        let loss: ([String: [Float]]) throws -> Double = { inputs in
            inputs["x"]!.reduce(0.0) { $0 + Double($1) * Double($1) } // gradient 2x
        }
        try expectGradientsMatchFiniteDifferences(inputs: ["x": x], analytic: ["x": x.map { 2 * $0 }], loss: loss)
        let failures = try finiteDifferenceFailures(inputs: ["x": x], analytic: ["x": x.map { 2.1 * $0 }], loss: loss)
        #expect(failures.count == 1 && failures[0].contains("3 of 3 gradients of x"), "a gradient off by 5% must be reported")
    }
}
