import Foundation
import Testing
@testable import GuidedCompute

// The Fisher composites against the per-sample definition (DESIGN.md, "Per-sample gradient
// squaring"): for each sample alone, compute its gradient with the ordinary backward ops on a batch
// of one, square it, add. The batched composites must give the same sums.
//
// Tolerance: both sides square the same Float gradients (computed by the same CPU ops, in another
// grouping) and add in Double, so they agree to a few Float roundings: relative 1e-5 of the largest
// Fisher value. Exact zeros (the pad row, unused rows) are checked exactly.

@Suite struct FisherSquaringTests {
    let cpu = CPUBackend()
    static let tolerance = 1e-5

    /// Adds `g ∘ g` into `fisher` in Double.
    private func addSquares(_ g: [Float], to fisher: inout [Double]) {
        for i in g.indices { fisher[i] += Double(g[i]) * Double(g[i]) }
    }

    // MARK: Linear

    /// Per sample: G_n = dY_nᵀ X_n through `gemm` on that sample's rows, b_n through `biasBackward`.
    private func perSampleLinearFisher(dY: [Float], x: [Float], batch: Int, tokens: Int, inF: Int, outF: Int)
        throws -> (weight: [Double], bias: [Double]) {
        var weight = [Double](repeating: 0, count: outF * inF), bias = [Double](repeating: 0, count: outF)
        for n in 0..<batch {
            let dYn = try cpu.tensor(Array(dY[(n * tokens * outF)..<((n + 1) * tokens * outF)]))
            let xn = try cpu.tensor(Array(x[(n * tokens * inF)..<((n + 1) * tokens * inF)]))
            let g = try cpu.allocate(outF * inF), gb = try cpu.allocate(outF)
            try cpu.gemm(transposeA: true, transposeB: false, m: outF, n: inF, k: tokens, alpha: 1, a: dYn, lda: outF,
                         b: xn, ldb: inF, beta: 0, c: g, ldc: inF)
            try cpu.biasBackward(dYn, dBias: gb, rows: tokens, columns: outF)
            addSquares(try cpu.download(g), to: &weight)
            addSquares(try cpu.download(gb), to: &bias)
        }
        return (weight, bias)
    }

    /// Packed rows (the LM heads' vocabulary projection: samples own different counts, one none)
    /// give what the same samples padded with zero-gradient rows give, sample by sample.
    @Test(arguments: [1, 4])
    func packedLinearFisherEqualsPaddedPerSampleSquares(samplesInScratch: Int) throws {
        let counts = [3, 0, 5, 1], tokens = 5, inF = 7, outF = 4
        let samples = SampleRows(counts: counts), batch = counts.count
        var rng = SplitMix64(seed: 43)
        let dY = rng.uniform(samples.total * outF), x = rng.uniform(samples.total * inF)
        // The padded layout: each sample's rows first, then zero output gradients (any input).
        var paddedDY = [Float](repeating: 0, count: batch * tokens * outF), paddedX = rng.uniform(batch * tokens * inF)
        for n in 0..<batch {
            for (k, row) in samples[n].enumerated() {
                for j in 0..<outF { paddedDY[(n * tokens + k) * outF + j] = dY[row * outF + j] }
                for j in 0..<inF { paddedX[(n * tokens + k) * inF + j] = x[row * inF + j] }
            }
        }
        let start = rng.uniform(outF * inF, in: 0...1), startBias = rng.uniform(outF, in: 0...1)
        let fisherW = try cpu.tensor(start), fisherB = try cpu.tensor(startBias)
        try cpu.accumulateLinearFisher(dY: cpu.tensor(dY), x: cpu.tensor(x), samples: samples, inFeatures: inF,
                                       outFeatures: outF, fisherWeight: fisherW, fisherBias: fisherB,
                                       scratch: cpu.allocate(max(samplesInScratch * outF * inF, batch * outF)))
        let reference = try perSampleLinearFisher(dY: paddedDY, x: paddedX, batch: batch, tokens: tokens, inF: inF, outF: outF)
        let expectedW = zip(start, reference.weight).map { Float(Double($0) + $1) }
        let expectedB = zip(startBias, reference.bias).map { Float(Double($0) + $1) }
        #expect(relativeError(try cpu.download(fisherW), expectedW) <= Self.tolerance)
        #expect(relativeError(try cpu.download(fisherB), expectedB) <= Self.tolerance)
    }

    /// Scratch sizes: exactly 1 sample's gradient, 2 samples' (+ a few, not 3), and the whole batch.
    @Test(arguments: [1, 2, 3])
    func linearFisherEqualsPerSampleSquares(samplesInScratch: Int) throws {
        let batch = 3, tokens = 5, inF = 7, outF = 4 // inF ≥ batch: the bias sums fit a 1-sample scratch
        var rng = SplitMix64(seed: 41)
        let dY = rng.uniform(batch * tokens * outF), x = rng.uniform(batch * tokens * inF)
        let start = rng.uniform(outF * inF, in: 0...1), startBias = rng.uniform(outF, in: 0...1)
        let fisherW = try cpu.tensor(start), fisherB = try cpu.tensor(startBias)
        let scratch = try cpu.allocate(samplesInScratch * outF * inF + (samplesInScratch == 2 ? 5 : 0))
        try cpu.accumulateLinearFisher(dY: cpu.tensor(dY), x: cpu.tensor(x), batch: batch, tokens: tokens,
                                       inFeatures: inF, outFeatures: outF, fisherWeight: fisherW, fisherBias: fisherB,
                                       scratch: scratch)
        let reference = try perSampleLinearFisher(dY: dY, x: x, batch: batch, tokens: tokens, inF: inF, outF: outF)
        // The composite accumulates onto what the Fisher held.
        let expectedW = zip(start, reference.weight).map { Float(Double($0) + $1) }
        let expectedB = zip(startBias, reference.bias).map { Float(Double($0) + $1) }
        #expect(relativeError(try cpu.download(fisherW), expectedW) <= Self.tolerance)
        #expect(relativeError(try cpu.download(fisherB), expectedB) <= Self.tolerance)
    }

    /// A batched run gives the Fisher of B runs with batch size 1; without a bias only the weight moves.
    @Test func linearFisherBatchedEqualsBatchOfOneRuns() throws {
        let batch = 4, tokens = 6, inF = 5, outF = 3
        var rng = SplitMix64(seed: 42)
        let dY = rng.uniform(batch * tokens * outF), x = rng.uniform(batch * tokens * inF)
        let batched = try cpu.allocate(outF * inF), oneByOne = try cpu.allocate(outF * inF)
        try cpu.accumulateLinearFisher(dY: cpu.tensor(dY), x: cpu.tensor(x), batch: batch, tokens: tokens,
                                       inFeatures: inF, outFeatures: outF, fisherWeight: batched, fisherBias: nil,
                                       scratch: cpu.allocate(batch * outF * inF))
        for n in 0..<batch {
            try cpu.accumulateLinearFisher(
                dY: cpu.tensor(Array(dY[(n * tokens * outF)..<((n + 1) * tokens * outF)])),
                x: cpu.tensor(Array(x[(n * tokens * inF)..<((n + 1) * tokens * inF)])), batch: 1, tokens: tokens,
                inFeatures: inF, outFeatures: outF, fisherWeight: oneByOne, fisherBias: nil, scratch: cpu.allocate(outF * inF))
        }
        #expect(relativeError(try cpu.download(batched), try cpu.download(oneByOne)) <= Self.tolerance)
        // And it is not the square of the batch gradient (the mistake this kernel exists to avoid).
        let batchGradient = try cpu.allocate(outF * inF)
        try cpu.gemm(transposeA: true, transposeB: false, m: outF, n: inF, k: batch * tokens, alpha: 1,
                     a: cpu.tensor(dY), lda: outF, b: cpu.tensor(x), ldb: inF, beta: 0, c: batchGradient, ldc: inF)
        #expect(relativeError(try cpu.download(batched), try cpu.download(batchGradient).map { $0 * $0 }) > 0.1)
    }

    // MARK: Conv1D (GPT-2, weight stored [in, out])

    /// The backends the Conv1D composite runs on; OpenCL runs on PoCL where there is no GPU.
    enum Kind: String, CaseIterable { case cpu, opencl }
    func backend(_ kind: Kind) throws -> Backend { kind == .cpu ? cpu : try OpenCLBackend() }

    /// `accumulateConv1DFisher` against the definition computed naively on the host in Double: per
    /// sample `Gₙ[i, o] = Σₜ Xₙₜᵢ dYₙₜₒ` (laid out [in, out] like the weight), bias `Σₜ dYₙₜ`, each
    /// squared and summed over samples. Scratch for one sample (chunks of one), for two (a partial last
    /// chunk), and for the whole batch; without a bias only the weight moves.
    @Test(arguments: Kind.allCases, [1, 2, 3])
    func conv1DFisherEqualsNaivePerSampleSquares(_ kind: Kind, samplesInScratch: Int) throws {
        let backend = try backend(kind)
        let batch = 3, tokens = 5, inF = 6, outF = 4 // inF·outF ≥ batch·outF: the bias sums fit a 1-sample scratch
        var rng = SplitMix64(seed: 45)
        let dY = rng.uniform(batch * tokens * outF), x = rng.uniform(batch * tokens * inF)
        var weight = [Double](repeating: 0, count: inF * outF), bias = [Double](repeating: 0, count: outF)
        for n in 0..<batch {
            var g = [Double](repeating: 0, count: inF * outF), gb = [Double](repeating: 0, count: outF)
            for t in 0..<tokens {
                let row = n * tokens + t
                for o in 0..<outF {
                    let d = Double(dY[row * outF + o])
                    gb[o] += d
                    for i in 0..<inF { g[i * outF + o] += Double(x[row * inF + i]) * d }
                }
            }
            for j in g.indices { weight[j] += g[j] * g[j] }
            for j in gb.indices { bias[j] += gb[j] * gb[j] }
        }
        let fisherW = try backend.allocate(inF * outF), fisherB = try backend.allocate(outF)
        let scratch = try backend.allocate(samplesInScratch * inF * outF)
        try backend.accumulateConv1DFisher(dY: backend.tensor(dY), x: backend.tensor(x), batch: batch, tokens: tokens,
                                           inFeatures: inF, outFeatures: outF, fisherWeight: fisherW,
                                           fisherBias: fisherB, scratch: scratch)
        #expect(relativeError(try backend.download(fisherW), weight.map(Float.init)) <= Self.tolerance)
        #expect(relativeError(try backend.download(fisherB), bias.map(Float.init)) <= Self.tolerance)

        let weightOnly = try backend.allocate(inF * outF)
        try backend.accumulateConv1DFisher(dY: backend.tensor(dY), x: backend.tensor(x), batch: batch, tokens: tokens,
                                           inFeatures: inF, outFeatures: outF, fisherWeight: weightOnly,
                                           fisherBias: nil, scratch: scratch)
        #expect(try backend.download(weightOnly) == backend.download(fisherW))
        // The [out, in] layout of a Linear would put these values elsewhere: the layout is checked.
        let transposed = (0..<(inF * outF)).map { weight[($0 % inF) * outF + $0 / inF] }
        #expect(relativeError(try backend.download(fisherW), transposed.map(Float.init)) > 0.1)
    }

    // MARK: LayerNorm

    @Test func layerNormFisherEqualsPerSampleSquares() throws {
        let batch = 3, tokens = 4, width = 7, rows = batch * tokens
        var rng = SplitMix64(seed: 43)
        let x = rng.normal(rows * width).map { $0 + 1 }, gamma = rng.uniform(width, in: 0.5...1.5)
        let dY = rng.uniform(rows * width)
        let mean = try cpu.allocate(rows), rstd = try cpu.allocate(rows)
        try cpu.layerNormForward(cpu.tensor(x), gamma: cpu.tensor(gamma), beta: cpu.tensor(rng.uniform(width)),
                                 into: cpu.allocate(rows * width), mean: mean, rstd: rstd, rows: rows, columns: width, eps: 1e-5)
        let fisherGamma = try cpu.allocate(width), fisherBeta = try cpu.allocate(width)
        try cpu.accumulateLayerNormFisher(dY: cpu.tensor(dY), x: cpu.tensor(x), mean: mean, rstd: rstd, batch: batch,
                                          tokens: tokens, width: width, fisherGamma: fisherGamma, fisherBeta: fisherBeta,
                                          scratch: cpu.allocate(batch * width))
        // Reference: layerNormBackward on each sample's rows alone, its dGamma and dBeta squared.
        let means = try cpu.download(mean), rstds = try cpu.download(rstd)
        var refGamma = [Double](repeating: 0, count: width), refBeta = refGamma
        for n in 0..<batch {
            let r = (n * tokens * width)..<((n + 1) * tokens * width), t = (n * tokens)..<((n + 1) * tokens)
            let dGamma = try cpu.allocate(width), dBeta = try cpu.allocate(width)
            try cpu.layerNormBackward(cpu.tensor(Array(dY[r])), x: cpu.tensor(Array(x[r])), gamma: cpu.tensor(gamma),
                                      mean: cpu.tensor(Array(means[t])), rstd: cpu.tensor(Array(rstds[t])),
                                      dx: cpu.allocate(tokens * width), dGamma: dGamma, dBeta: dBeta,
                                      rows: tokens, columns: width)
            addSquares(try cpu.download(dGamma), to: &refGamma)
            addSquares(try cpu.download(dBeta), to: &refBeta)
        }
        #expect(relativeError(try cpu.download(fisherGamma), refGamma.map(Float.init)) <= Self.tolerance)
        #expect(relativeError(try cpu.download(fisherBeta), refBeta.map(Float.init)) <= Self.tolerance)
    }

    // MARK: Embeddings

    // Sample 0 repeats id 5 three times and has the pad id 0 in the middle; sample 1 ends in padding
    // positions; sample 2 has the pad id inside and an id (6) that occurs only at a padding position.
    static let ids: [Int32] = [5, 3, 5, 0, 5, 2, 0,
                               3, 3, 7, 1, 0, 0, 0,
                               10, 4, 0, 4, 9, 9, 6]
    static let valid: [Bool] = [true, true, true, true, true, true, true,
                                true, true, true, true, false, false, false,
                                true, true, true, true, true, true, false]

    @Test func embeddingSlotsNumberDistinctRowsPerSample() {
        let slots = EmbeddingSlots(ids: Self.ids, valid: Self.valid, batch: 3, tokens: 7, excludedRow: 0)
        #expect(slots.slotOfToken == [0, 1, 0, -1, 0, 2, -1,
                                      3, 3, 4, 5, -1, -1, -1,
                                      6, 7, -1, 7, 8, 8, -1])
        #expect(slots.rowOfSlot == [5, 3, 2, 3, 7, 1, 10, 4, 9]) // row 3 has a slot in samples 0 and 1
        #expect(slots.tokenCount == 21 && slots.slotCount == 9)

        // Without an excluded row, the pad id is an ordinary row (but padding positions still count for nothing).
        let all = EmbeddingSlots(ids: Self.ids, valid: Self.valid, batch: 3, tokens: 7, excludedRow: nil)
        #expect(all.slotOfToken == [0, 1, 0, 2, 0, 3, 2,
                                    4, 4, 5, 6, -1, -1, -1,
                                    7, 8, 9, 8, 10, 10, -1])
        #expect(all.rowOfSlot == [5, 3, 0, 2, 3, 7, 1, 10, 4, 0, 9])

        let none = EmbeddingSlots(ids: [0, 0, 4], valid: [true, true, false], batch: 1, tokens: 3, excludedRow: 0)
        #expect(none.slotOfToken == [-1, -1, -1] && none.rowOfSlot.isEmpty)
    }

    @Test func embeddingFisherEqualsPerSampleSquares() throws {
        let batch = 3, tokens = 7, vocabulary = 11, width = 5
        var rng = SplitMix64(seed: 44)
        let dOut = rng.uniform(batch * tokens * width)
        let slots = EmbeddingSlots(ids: Self.ids, valid: Self.valid, batch: batch, tokens: tokens, excludedRow: 0)
        let fisher = try cpu.allocate(vocabulary * width)
        try cpu.accumulateEmbeddingFisher(dOut: cpu.tensor(dOut), slots: slots.upload(to: cpu), width: width,
                                          fisher: fisher, scratch: cpu.allocate(slots.slotCount * width))
        let got = try cpu.download(fisher)

        // Reference: per sample, the embedding backward (scatterAddRows skipping the pad id, padding
        // positions indexed −1) into a zero table gradient, squared and added.
        var reference = [Double](repeating: 0, count: vocabulary * width)
        for n in 0..<batch {
            let t = (n * tokens)..<((n + 1) * tokens)
            let index = t.map { Self.valid[$0] ? Self.ids[$0] : -1 }
            let gradient = try cpu.allocate(vocabulary * width)
            try cpu.scatterAddRows(cpu.tensor(Array(dOut[(n * tokens * width)..<((n + 1) * tokens * width)])),
                                   index: cpu.int32Tensor(index), into: gradient, rows: tokens, width: width, skip: 0)
            addSquares(try cpu.download(gradient), to: &reference)
        }
        #expect(relativeError(got, reference.map(Float.init)) <= Self.tolerance)

        // Rows that must stay exactly zero: the pad row (it sits inside samples 0 and 2), row 6 (only at a
        // padding position) and row 8 (never used).
        for row in [0, 6, 8] {
            #expect(got[(row * width)..<((row + 1) * width)].allSatisfy { $0 == 0 }, "row \(row)")
        }
        // Repeats are summed before squaring: row 5 (three times in sample 0) is (g₁ + g₂ + g₃)², not Σgᵢ².
        let row5 = (0..<width).map { j in [0, 2, 4].reduce(0.0) { $0 + Double(dOut[$1 * width + j]) } }
        for j in 0..<width {
            #expect(abs(Double(got[5 * width + j]) - row5[j] * row5[j]) <= 1e-5 * max(1, row5[j] * row5[j]))
        }
    }

    @Test func embeddingFisherWithNothingToAddLeavesTheFisherUnchanged() throws {
        let slots = EmbeddingSlots(ids: [0, 0, 4, 2], valid: [true, true, false, false], batch: 2, tokens: 2, excludedRow: 0)
        #expect(slots.slotCount == 0)
        let start: [Float] = (0..<(5 * 3)).map { Float($0) }
        let fisher = try cpu.tensor(start)
        try cpu.accumulateEmbeddingFisher(dOut: cpu.filled(4 * 3, with: 1), slots: slots.upload(to: cpu), width: 3,
                                          fisher: fisher, scratch: cpu.allocate(3))
        #expect(try cpu.download(fisher) == start)
    }
}

/// The CPU backend's fused `accumulateOuterSquares` against the composed form (one strided GEMM,
/// scatter, square; one GEMM a sample where samples own different row counts) and against squares
/// of per-sample gradients computed in Double: row counts that are not a multiple of its block,
/// lookups (repeated rows, the excluded pad row), no tokens at all, samples of different lengths.
@Suite struct OuterSquaresTests {
    let cpu = CPUBackend()

    /// Σₙ (Σₜ aₜ bₜᵀ over sample n's rows + its lookup rows)² in Double.
    static func reference(a: [Float], b: [Float], samples: SampleRows, rows: Int, columns: Int,
                          lookupRows: [Int32], values: [Float], lookupTokens: Int) -> [Double] {
        var fisher = [Double](repeating: 0, count: rows * columns)
        for n in 0..<samples.count {
            var g = [Double](repeating: 0, count: rows * columns)
            for t in samples[n] {
                for r in 0..<rows {
                    let ar = Double(a[t * rows + r])
                    for c in 0..<columns { g[r * columns + c] += ar * Double(b[t * columns + c]) }
                }
            }
            for t in 0..<lookupTokens where lookupRows[n * lookupTokens + t] >= 0 {
                let r = Int(lookupRows[n * lookupTokens + t])
                for c in 0..<columns { g[r * columns + c] += Double(values[(n * lookupTokens + t) * columns + c]) }
            }
            for i in g.indices { fisher[i] += g[i] * g[i] }
        }
        return fisher
    }

    @Test(arguments: [(counts: [5, 5, 5], rows: 1000, columns: 70), (counts: [1, 1], rows: 9, columns: 4),
                      (counts: [0, 0, 0, 0], rows: 300, columns: 16),
                      // Wider than a block (512 columns): blocks in both directions, ragged at the ends.
                      (counts: [3, 3], rows: 300, columns: 1100),
                      // Packed LM-head rows: samples own different counts, one owns none.
                      (counts: [3, 0, 7, 1], rows: 1000, columns: 70), (counts: [2, 5], rows: 300, columns: 1100)])
    func fusedEqualsComposedAndTheDefinition(_ shape: (counts: [Int], rows: Int, columns: Int)) throws {
        let (rows, columns) = (shape.rows, shape.columns)
        let samples = SampleRows(counts: shape.counts), batch = samples.count
        var random = SplitMix64(seed: 11)
        let a = random.uniform(samples.total * rows), b = random.uniform(samples.total * columns)
        let lookupTokens = 6
        // Rows repeat within a sample, one sample uses the last row, −1 marks padding / the pad row.
        let lookupRows: [Int32] = (0..<(batch * lookupTokens)).map { i in
            i % lookupTokens == 5 ? -1 : (i % lookupTokens == 4 ? Int32(rows - 1) : Int32((i * 7) % min(rows, 5)))
        }
        let values = random.uniform(batch * lookupTokens * columns)
        let expected = Self.reference(a: a, b: b, samples: samples, rows: rows, columns: columns,
                                      lookupRows: lookupRows, values: values, lookupTokens: lookupTokens)
        let start = random.uniform(rows * columns, in: 0...1)
        var results: [[Float]] = []
        // The composed form with scratch for two samples: chunks, and a sample with no rows inside one.
        for (fused, scratchSamples) in [(true, 1), (false, 2), (false, batch)] {
            let lookup = OuterSquaresLookup(rows: lookupRows, values: try cpu.tensor(values), tokens: lookupTokens)
            let fisher = try cpu.tensor(start), scratch = try cpu.allocate(max(1, scratchSamples) * rows * columns)
            let ta = try cpu.tensor(a.isEmpty ? [0] : a), tb = try cpu.tensor(b.isEmpty ? [0] : b)
            if fused {
                try cpu.accumulateOuterSquares(a: ta, b: tb, samples: samples, rows: rows, columns: columns,
                                               lookup: lookup, fisher: fisher, scratch: scratch)
            } else {
                try cpu.composedOuterSquares(a: ta, b: tb, samples: samples, rows: rows, columns: columns,
                                             lookup: lookup, fisher: fisher, scratch: scratch)
            }
            results.append(try cpu.download(fisher))
        }
        let scale = expected.map(abs).max() ?? 0
        for (name, result) in zip(["fused", "composed, scratch of 2", "composed, scratch of all"], results) {
            let worst = zip(result, zip(start, expected)).map { abs(Double($0) - Double($1.0) - $1.1) }.max() ?? 0
            #expect(worst <= 1e-5 * max(scale, 1), "\(name): |Δ| \(worst) vs max \(scale)")
        }
        #expect(cpu.fusesOuterSquares)
    }

    @Test func sampleRowsGiveEachSampleItsRows() {
        let samples = SampleRows(counts: [2, 0, 3])
        #expect(samples.count == 3 && samples.total == 5)
        #expect(samples[0] == 0..<2 && samples[1] == 2..<2 && samples[2] == 2..<5)
        #expect(samples.uniformTokens == nil)
        #expect(SampleRows.uniform(batch: 4, tokens: 7).uniformTokens == 7)
        #expect(SampleRows.uniform(batch: 4, tokens: 7).total == 28)
        #expect(SampleRows(counts: []).uniformTokens == nil && SampleRows(counts: []).total == 0)
    }
}
