import Foundation
@testable import GuidedCompute

// The cases of the cross-backend harness (CrossCheckHarness.swift): every op of `Backend` and every
// composite over it, each at awkward sizes — 1, odd, prime (7, 13, 37) and more than a typical
// 256-wide work-group (300, 1031). Several cases work on windows that start a few elements into an
// allocation and return the whole allocation, so that a write outside the window shows up.
// Accumulating outputs start from non-zero values and assigned outputs from garbage, so that
// "accumulate" and "assign" are both checked.

extension OpCase {
    static let all: [OpCase] = [
        memory, elementwise, permutes, packedHeads, linearAlgebra, gemmOverwrite, gemmBatched, biases, activations,
        tanhs, layerNorms, attentionPieces, softmaxFullyMasked, softmaxBackwards, regularisers, gaussianNoises,
        embeddings, loss, fisherPrimitives, unevenSampleSums, optimiser, reductions, attentionComposites, linearFishers,
        raggedLinearFishers, layerNormFishers, embeddingFishers, embeddingFisherEmpty,
    ].flatMap { $0 }

    /// The whole allocation behind `t` (to see writes outside the window).
    private static func whole(_ t: Tensor) -> Tensor { Tensor(storage: t.storage) }

    // MARK: Memory

    static let memory: [OpCase] = [1, 7, 1031].flatMap { n -> [OpCase] in
        [
            OpCase("upload+download n=\(n)", tolerance: Tolerance.exact, exact: ["values"]) { b, rng in
                var values = rng.normal(n)
                let specials: [Float] = [-0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, .infinity, .nan]
                for (i, s) in specials.enumerated() where i < n { values[(i * 5) % n] = s }
                let t = try b.tensor(values, offset: n % 3)
                return ["values": try b.download(t)]
            },
            OpCase("upload+downloadInt32 n=\(n)", tolerance: Tolerance.exact, exact: ["bits"]) { b, rng in
                var values = (0..<n).map { _ in Int32(truncatingIfNeeded: rng.next()) }
                for (i, s) in [Int32.min, Int32.max, -1, 0].enumerated() where i < n { values[(i * 3) % n] = s }
                let t = try b.int32Tensor(values)
                try b.synchronize()
                return ["bits": try b.downloadInt32(t).map { Float(bitPattern: UInt32(bitPattern: $0)) }]
            },
            OpCase("allocate zero-filled n=\(n)", tolerance: Tolerance.exact, exact: ["fresh"]) { b, _ in
                // A released allocation filled with garbage must not come back dirty from a pool.
                do {
                    let used = try b.allocate(n)
                    try b.fill(used, with: 7)
                    try b.synchronize()
                }
                return ["fresh": try b.download(b.allocate(n))]
            },
        ]
    }

    // MARK: Elementwise

    static let elementwise: [OpCase] = [1, 7, 300, 1031].flatMap { n -> [OpCase] in
        [
            OpCase("fill n=\(n)", tolerance: Tolerance.exact, exact: ["whole"]) { b, _ in
                let t = try b.tensor([Float](repeating: 0, count: n), offset: 2, padding: -3)
                try b.fill(t, with: 1.25)
                return ["whole": try b.download(whole(t))]
            },
            OpCase("copy n=\(n)", tolerance: Tolerance.exact, exact: ["whole"]) { b, rng in
                let src = try b.tensor(rng.uniform(n), offset: 1)
                let dst = try b.tensor(rng.uniform(n + 5), offset: 3) // longer: the tail must stay
                try b.copy(src, to: dst)
                return ["whole": try b.download(whole(dst))]
            },
            OpCase("scale n=\(n)", tolerance: Tolerance.rounding) { b, rng in
                let x = try b.tensor(rng.uniform(n), offset: n % 4)
                try b.scale(x, by: -1.7)
                return ["whole": try b.download(whole(x))]
            },
            OpCase("axpy n=\(n)", tolerance: Tolerance.rounding) { b, rng in
                let x = try b.tensor(rng.uniform(n))
                let y = try b.tensor(rng.uniform(n), offset: 5)
                try b.axpy(0.3, x, y)
                return ["whole": try b.download(whole(y))]
            },
            OpCase("add n=\(n)", tolerance: Tolerance.rounding) { b, rng in
                let x = try b.tensor(rng.uniform(n), offset: 1)
                let y = try b.tensor(rng.uniform(n))
                let out = try b.tensor(rng.uniform(n), offset: 2) // garbage to overwrite
                try b.add(x, y, into: out)
                return ["whole": try b.download(whole(out))]
            },
            OpCase("add in place n=\(n)", tolerance: Tolerance.rounding) { b, rng in
                let x = try b.tensor(rng.uniform(n))
                let y = try b.tensor(rng.uniform(n))
                try b.add(x, y, into: x) // a residual connection: out aliases a
                try b.add(y, x, into: x) // and out aliases b
                return ["x": try b.download(x)]
            },
        ]
    }

    static let permutes: [OpCase] = [(1, 1, 1, 1), (2, 3, 5, 7), (1, 7, 1, 13), (3, 13, 7, 5), (2, 37, 2, 4)].map { s in
        OpCase("permute0213 \(s.0)x\(s.1)x\(s.2)x\(s.3)", tolerance: Tolerance.exact, exact: ["y", "back"]) { b, rng in
            let n = s.0 * s.1 * s.2 * s.3
            let x = try b.tensor(rng.uniform(n), offset: 1)
            let y = try b.tensor(rng.uniform(n)) // garbage
            let back = try b.tensor(rng.uniform(n))
            try b.permute0213(x, into: y, s.0, s.1, s.2, s.3)
            try b.permute0213(y, into: back, s.0, s.2, s.1, s.3)
            return ["y": try b.download(y), "back": try b.download(back)]
        }
    }

    /// Packed rows ↔ heads over uneven samples: (per-sample lengths, tokens, heads, headDim); a
    /// sample may have no rows or all `tokens`.
    static let packedHeads: [OpCase] = ([([1], 1, 1, 1), ([3, 0, 5], 5, 2, 3), ([7, 7], 7, 3, 4), ([2, 13, 1, 9], 16, 4, 8)]
                                        as [([Int], Int, Int, Int)]).map { s in
        let (lengths, tokens, heads, headDim) = s
        let samples = SampleRows(counts: lengths), width = heads * headDim
        return OpCase("packedRowsToHeads lengths=\(lengths) tokens=\(tokens) heads=\(heads) headDim=\(headDim)",
                      tolerance: Tolerance.exact, exact: ["heads", "back"]) { b, rng in
            let x = try b.tensor(rng.uniform(samples.total * width), offset: 1)
            // y starts as garbage: its padding must be zeroed.
            let y = try b.tensor(rng.uniform(lengths.count * heads * tokens * headDim), offset: 2)
            let back = try b.tensor(rng.uniform(samples.total * width), offset: 3)
            try b.packedRowsToHeads(x, into: y, samples: samples, tokens: tokens, heads: heads, headDim: headDim)
            try b.headsToPackedRows(y, into: back, samples: samples, tokens: tokens, heads: heads, headDim: headDim)
            return ["heads": try b.download(y), "back": try b.download(back)]
        }
    }

    // MARK: Linear algebra

    /// (m, n, k, extra leading-dimension padding)
    // The CPU backend splits one GEMM across cores by rows of C (m ≥ n) or by columns (m < n).
    private static let gemmShapes = [(1, 1, 1, 0), (7, 13, 5, 3), (37, 3, 300, 0), (13, 37, 1, 2), (20, 301, 33, 1)]

    static let linearAlgebra: [OpCase] = gemmShapes.flatMap { s in
        [(false, false), (false, true), (true, false), (true, true)].map { ta, tb in
            OpCase("gemm \(ta ? "T" : "N")\(tb ? "T" : "N") m=\(s.0) n=\(s.1) k=\(s.2) pad=\(s.3)",
                   tolerance: Tolerance.accumulation) { b, rng in
                let (m, n, k, pad) = s
                // A is stored m×k (k×m when transposed) with a padded leading dimension; so is B.
                let (aRows, aCols) = ta ? (k, m) : (m, k)
                let (bRows, bCols) = tb ? (n, k) : (k, n)
                let lda = aCols + pad, ldb = bCols + pad, ldc = n + pad
                let a = try b.tensor(rng.uniform(aRows * lda), offset: 1)
                let bm = try b.tensor(rng.uniform(bRows * ldb))
                let c = try b.tensor(rng.uniform(m * ldc), offset: 3)
                try b.gemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 0.75, a: a, lda: lda,
                           b: bm, ldb: ldb, beta: 0.5, c: c, ldc: ldc)
                return ["c": try b.download(whole(c))]
            }
        }
    }

    static let gemmOverwrite: [OpCase] = [
        OpCase("gemm beta=0 overwrites C m=7 n=13 k=5", tolerance: Tolerance.accumulation) { b, rng in
            let a = try b.tensor(rng.uniform(7 * 5)), bm = try b.tensor(rng.uniform(5 * 13))
            let c = try b.filled(7 * 13, with: 1e30)
            try b.gemm(transposeA: false, transposeB: false, m: 7, n: 13, k: 5, alpha: 1, a: a, lda: 5,
                       b: bm, ldb: 13, beta: 0, c: c, ldc: 13)
            return ["c": try b.download(c)]
        },
    ]

    static let gemmBatched: [OpCase] = [(1, 1, 1, 1, false, false), (7, 5, 13, 3, false, true), (13, 7, 5, 2, true, false),
         (37, 37, 16, 3, false, true), (37, 16, 37, 2, false, false)].map { s in
        let (m, n, k, batch, ta, tb) = s
        return OpCase("gemmStridedBatched \(ta ? "T" : "N")\(tb ? "T" : "N") m=\(m) n=\(n) k=\(k) batch=\(batch)",
                      tolerance: Tolerance.accumulation) { b, rng in
            // Strides leave a gap of 3 (A), 1 (B) and 2 (C) elements between the matrices.
            let lda = ta ? m : k, ldb = tb ? k : n
            let strideA = m * k + 3, strideB = k * n + 1, strideC = m * n + 2
            let a = try b.tensor(rng.uniform(strideA * batch))
            let bm = try b.tensor(rng.uniform(strideB * batch), offset: 1)
            let c = try b.tensor(rng.uniform(strideC * batch))
            try b.gemmStridedBatched(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 1.5,
                                     a: a, lda: lda, strideA: strideA, b: bm, ldb: ldb, strideB: strideB,
                                     beta: -0.5, c: c, ldc: n, strideC: strideC, batch: batch)
            return ["c": try b.download(c)]
        }
    }

    static let biases: [OpCase] = [(1, 1), (7, 13), (37, 300), (300, 7)].flatMap { s in
        let (rows, columns) = s
        return [
            OpCase("addBias rows=\(rows) columns=\(columns)", tolerance: Tolerance.rounding) { b, rng in
                let y = try b.tensor(rng.uniform(rows * columns), offset: 1)
                let bias = try b.tensor(rng.uniform(columns))
                try b.addBias(y, bias, rows: rows, columns: columns)
                return ["whole": try b.download(whole(y))]
            },
            OpCase("biasBackward rows=\(rows) columns=\(columns)", tolerance: Tolerance.accumulation) { b, rng in
                let dy = try b.tensor(rng.uniform(rows * columns))
                let dBias = try b.tensor(rng.uniform(columns), offset: 2) // accumulates onto this
                try b.biasBackward(dy, dBias: dBias, rows: rows, columns: columns)
                return ["whole": try b.download(whole(dBias))]
            },
        ]
    }

    // MARK: Activations and normalisation

    static let activations: [OpCase] = GeluForm.allCases.flatMap { form in
        [1, 13, 1031].flatMap { n -> [OpCase] in
            /// x over [−6, 6] with 0 and large magnitudes planted where they fit.
            @Sendable func inputs(_ rng: inout SplitMix64) -> [Float] {
                var x = rng.uniform(n, in: -6...6)
                for (i, v) in [Float(0), 10, -10, 1e-4].enumerated() where i < n { x[(i * 7) % n] = v }
                return x
            }
            return [
                OpCase("geluForward \(form) n=\(n)", tolerance: Tolerance.transcendental) { b, rng in
                    let x = try b.tensor(inputs(&rng))
                    let y = try b.tensor(rng.uniform(n), offset: 1)
                    try b.geluForward(x, into: y, form: form)
                    return ["whole": try b.download(whole(y))]
                },
                OpCase("geluBackward \(form) n=\(n)", tolerance: Tolerance.geluDerivative) { b, rng in
                    let x = try b.tensor(inputs(&rng)), y = try b.allocate(n)
                    try b.geluForward(x, into: y, form: form)
                    let dy = try b.tensor(rng.uniform(n))
                    let dx = try b.tensor(rng.uniform(n), offset: 2)
                    try b.geluBackward(x, output: y, dy, into: dx, form: form)
                    return ["whole": try b.download(whole(dx))]
                },
            ]
        }
    }

    static let tanhs: [OpCase] = [1, 13, 1031].flatMap { n -> [OpCase] in
        [
            OpCase("tanhForward n=\(n)", tolerance: Tolerance.transcendental) { b, rng in
                let x = try b.tensor(rng.uniform(n, in: -5...5))
                let y = try b.tensor(rng.uniform(n), offset: 1)
                try b.tanhForward(x, into: y)
                return ["whole": try b.download(whole(y))]
            },
            OpCase("tanhBackward n=\(n)", tolerance: Tolerance.rounding) { b, rng in
                let y = try b.tensor(rng.uniform(n, in: -1...1))
                let dy = try b.tensor(rng.uniform(n))
                let dx = try b.tensor(rng.uniform(n), offset: 2)
                try b.tanhBackward(y, dy, into: dx)
                return ["whole": try b.download(whole(dx))]
            },
        ]
    }

    static let layerNorms: [OpCase] = [(1, 1), (7, 13), (3, 300), (37, 37), (1, 1031)].flatMap { s in
        let (rows, columns) = s
        /// Rows with an offset mean (LayerNorm inputs are rarely centred) and unit-ish spread.
        @Sendable func layerNormInputs(_ b: Backend, _ rng: inout SplitMix64)
            throws -> (x: Tensor, gamma: Tensor, beta: Tensor, y: Tensor, mean: Tensor, rstd: Tensor) {
            let x = try b.tensor(rng.normal(rows * columns, std: 2).map { $0 + 3 }, offset: 1)
            let gamma = try b.tensor(rng.uniform(columns, in: 0.5...1.5))
            let beta = try b.tensor(rng.uniform(columns))
            let y = try b.tensor(rng.uniform(rows * columns), offset: 2)
            let mean = try b.tensor(rng.uniform(rows)), rstd = try b.tensor(rng.uniform(rows))
            try b.layerNormForward(x, gamma: gamma, beta: beta, into: y, mean: mean, rstd: rstd,
                                   rows: rows, columns: columns, eps: 1e-5)
            return (x, gamma, beta, y, mean, rstd)
        }
        return [
            OpCase("layerNormForward rows=\(rows) columns=\(columns)", tolerance: Tolerance.accumulation) { b, rng in
                let t = try layerNormInputs(b, &rng)
                return ["y": try b.download(whole(t.y)), "mean": try b.download(t.mean), "rstd": try b.download(t.rstd)]
            },
            OpCase("layerNormBackward rows=\(rows) columns=\(columns)", tolerance: Tolerance.accumulation) { b, rng in
                let t = try layerNormInputs(b, &rng)
                let dy = try b.tensor(rng.uniform(rows * columns))
                let dx = try b.tensor(rng.uniform(rows * columns), offset: 1) // garbage: assigned
                let dGamma = try b.tensor(rng.uniform(columns)), dBeta = try b.tensor(rng.uniform(columns)) // accumulated
                try b.layerNormBackward(dy, x: t.x, gamma: t.gamma, mean: t.mean, rstd: t.rstd,
                                        dx: dx, dGamma: dGamma, dBeta: dBeta, rows: rows, columns: columns)
                return ["dx": try b.download(whole(dx)), "dGamma": try b.download(dGamma), "dBeta": try b.download(dBeta)]
            },
        ]
    }

    // MARK: Attention pieces

    /// An additive padding mask [batch, tokens]: sample `n` has its last `n · tokens / (batch + 1)`
    /// keys masked with `value` (at least one key stays visible).
    static func paddingMask(batch: Int, tokens: Int, value: Float = -1e9) -> [Float] {
        (0..<batch).flatMap { n -> [Float] in
            let masked = n * tokens / (batch + 1)
            return (0..<tokens).map { $0 >= tokens - masked ? value : 0 }
        }
    }

    static let attentionPieces: [OpCase] = [(1, 1, 1), (2, 3, 7), (3, 2, 13), (1, 2, 37), (2, 1, 300)].flatMap { s in
        let (batch, heads, tokens) = s
        return [(false, false), (true, false), (false, true), (true, true)].map { masked, causal in
            OpCase("attentionSoftmaxForward b=\(batch) h=\(heads) t=\(tokens)\(masked ? " mask" : "")\(causal ? " causal" : "")",
                   tolerance: Tolerance.transcendental) { b, rng in
                let count = batch * heads * tokens * tokens
                let scores = try b.tensor(rng.normal(count, std: 3))
                let mask = masked ? try b.tensor(paddingMask(batch: batch, tokens: tokens)) : nil
                let probs = try b.tensor(rng.uniform(count), offset: 1) // garbage, incl. after the causal diagonal
                try b.attentionSoftmaxForward(scores, mask: mask, into: probs, batch: batch, heads: heads,
                                              tokens: tokens, causal: causal)
                return ["whole": try b.download(whole(probs))]
            }
        }
    }

    static let softmaxFullyMasked: [OpCase] = [
        OpCase("attentionSoftmaxForward fully masked rows (-inf) b=3 h=2 t=5 causal",
               tolerance: Tolerance.transcendental) { b, rng in
            // Sample 1 masks every key; sample 2 masks key 0, so its query 0 sees nothing under the
            // causal mask. Those rows must come out all zero (not NaN).
            var mask = [Float](repeating: 0, count: 3 * 5)
            for j in 0..<5 { mask[5 + j] = -.infinity }
            mask[10] = -.infinity
            let count = 3 * 2 * 5 * 5
            let scores = try b.tensor(rng.normal(count))
            let probs = try b.tensor(rng.uniform(count))
            try b.attentionSoftmaxForward(scores, mask: b.tensor(mask), into: probs, batch: 3, heads: 2,
                                          tokens: 5, causal: true)
            return ["probs": try b.download(probs)]
        },
    ]

    static let softmaxBackwards: [OpCase] = [(1, 1), (7, 13), (37, 300), (3, 1031)].flatMap { s in
        let (rows, columns) = s
        return [false, true].map { inPlace in
            OpCase("softmaxBackward rows=\(rows) columns=\(columns)\(inPlace ? " in place" : "")",
                   tolerance: Tolerance.accumulation) { b, rng in
                // Real probabilities (rows summing to 1), computed on the host.
                let probs = try b.tensor(softmaxRows(rng.normal(rows * columns, std: 2), columns: columns))
                let dProbs = try b.tensor(rng.uniform(rows * columns))
                let dScores = inPlace ? dProbs : try b.tensor(rng.uniform(rows * columns))
                try b.softmaxBackward(probs, dProbs, into: dScores, rows: rows, columns: columns)
                return ["dScores": try b.download(dScores)]
            }
        }
    }

    // MARK: Regularisers

    static let regularisers: [OpCase] = ([
        (1, 0.1), (7, 0.5), (13, 0.1), (37, 0.5), (1031, 0.0), (1031, 0.1), (1031, 0.5), (1031, 0.9), (300, 0.99),
    ] as [(Int, Float)]).flatMap { s -> [OpCase] in
        let (n, p) = s
        // A seed above 2³² (both key words matter), a site and a step that are not 0.
        let key = RandomKey(seed: 0x1234_5678_9ABC_DEF0 &+ UInt64(n), site: 5, step: 17)
        return [false, true].map { inPlace in
            OpCase("dropout n=\(n) p=\(p)\(inPlace ? " in place" : "")", tolerance: Tolerance.rounding,
                   exact: ["kept"]) { b, rng in
                let x = try b.tensor(rng.nonZero(n), offset: inPlace ? 0 : 3)
                let y = inPlace ? x : try b.tensor(rng.uniform(n), offset: 1)
                try b.dropout(x, into: y, probability: p, key: key)
                let out = try b.download(y)
                // Which elements survive must be identical on every backend (Philox + integer compare).
                return ["y": out, "kept": out.map { $0 == 0 ? 0 : 1 }]
            }
        }
    }

    static let gaussianNoises: [OpCase] = ([(1, 0.1), (7, 1.0), (13, 0.1), (1031, 0.5), (1031, 1.0)] as [(Int, Float)]).map { s in
        let (n, std) = s
        let key = RandomKey(seed: 0xFEDC_BA98_7654_3210, site: 2, step: UInt32(n))
        return OpCase("gaussianNoise n=\(n) std=\(std)", tolerance: Tolerance.transcendental) { b, rng in
            let x = try b.tensor(rng.nonZero(n), offset: 1)
            let y = try b.tensor(rng.uniform(n))
            try b.gaussianNoise(x, into: y, std: std, key: key)
            return ["y": try b.download(y)]
        }
    }

    // MARK: Embeddings and sparse rows

    static let embeddings: [OpCase] = [(1, 1, 1), (13, 7, 5), (37, 13, 300), (5, 300, 7)].flatMap { s in
        let (tableRows, width, tokens) = s
        return [
            OpCase("embeddingGather rows=\(tableRows) width=\(width) tokens=\(tokens)",
                   tolerance: Tolerance.exact, exact: ["whole"]) { b, rng in
                let table = try b.tensor(rng.uniform(tableRows * width), offset: 1)
                var ids = rng.ids(tokens, below: tableRows)
                ids[tokens - 1] = Int32(tableRows - 1) // the last row too
                let out = try b.tensor(rng.uniform(tokens * width), offset: 2)
                try b.embeddingGather(table, ids: b.int32Tensor(ids), into: out, tokens: tokens, width: width)
                return ["whole": try b.download(whole(out))]
            },
            OpCase("scatterAddRows rows=\(tokens) width=\(width) into=\(tableRows)",
                   tolerance: Tolerance.accumulation) { b, rng in
                // Repeated targets, negative indices (ignored) and the skipped row 0.
                let index = rng.ids(tokens, below: tableRows + 2).map { $0 - 2 }
                let src = try b.tensor(rng.uniform(tokens * width))
                let dst = try b.tensor(rng.uniform(tableRows * width), offset: 1)
                try b.scatterAddRows(src, index: b.int32Tensor(index), into: dst, rows: tokens, width: width,
                                     skip: tableRows > 1 ? 0 : -7)
                return ["whole": try b.download(whole(dst))]
            },
            OpCase("accumulateSquaredRows rows=\(tokens) width=\(width) into=\(tableRows)",
                   tolerance: Tolerance.accumulation) { b, rng in
                // Repeated targets occur in the Fisher: one row used by several samples.
                let index = rng.ids(tokens, below: tableRows + 1).map { $0 - 1 }
                let src = try b.tensor(rng.uniform(tokens * width))
                let fisher = try b.tensor(rng.uniform(tableRows * width, in: 0...1), offset: 2)
                try b.accumulateSquaredRows(src, index: b.int32Tensor(index), into: fisher, rows: tokens, width: width)
                return ["whole": try b.download(whole(fisher))]
            },
        ]
    }

    // MARK: Loss

    static let loss: [OpCase] = [(1, 1), (1, 2), (7, 13), (37, 300), (3, 1031)].map { s in
        let (rows, classes) = s
        return OpCase("softmaxCrossEntropy rows=\(rows) classes=\(classes)", tolerance: Tolerance.transcendental) { b, rng in
            let logits = try b.tensor(rng.normal(rows * classes, std: 3))
            var labels = rng.ids(rows, below: classes)
            if rows > 1 { labels[1] = -100 } // ignored (transformers' ignore index)
            labels[rows - 1] = Int32(classes - 1)
            let weights = try b.tensor(rng.uniform(rows, in: 0.1...1))
            let losses = try b.tensor(rng.uniform(rows))
            let dLogits = try b.tensor(rng.uniform(rows * classes), offset: 1) // garbage, incl. ignored rows
            try b.softmaxCrossEntropy(logits, labels: b.int32Tensor(labels), weights: weights, losses: losses,
                                      dLogits: dLogits, rows: rows, classes: classes)
            return ["losses": try b.download(losses), "dLogits": try b.download(whole(dLogits))]
        }
    }

    // MARK: Fisher primitives

    static let fisherPrimitives: [OpCase] = [(1, 1, 1), (3, 7, 13), (2, 37, 300), (7, 1, 1031)].flatMap { s in
        let (batch, tokens, width) = s
        return [
            OpCase("accumulateSquaredSum batch=\(batch * tokens) width=\(width)", tolerance: Tolerance.accumulation) { b, rng in
                // perSample may be longer than batch × width (a scratch buffer); the tail is unused.
                let rows = batch * tokens
                let perSample = try b.tensor(rng.uniform(rows * width + 5), offset: 1)
                let fisher = try b.tensor(rng.uniform(width, in: 0...1), offset: 1)
                try b.accumulateSquaredSum(perSample, into: fisher, batch: rows, width: width)
                return ["whole": try b.download(whole(fisher))]
            },
            OpCase("sumOverTokens batch=\(batch) tokens=\(tokens) width=\(width)", tolerance: Tolerance.accumulation) { b, rng in
                let x = try b.tensor(rng.uniform(batch * tokens * width), offset: 2)
                let out = try b.tensor(rng.uniform(batch * width), offset: 1)
                try b.sumOverTokens(x, into: out, samples: .uniform(batch: batch, tokens: tokens), width: width)
                return ["whole": try b.download(whole(out))]
            },
            OpCase("layerNormGammaPerSample batch=\(batch) tokens=\(tokens) width=\(width)", tolerance: Tolerance.accumulation) { b, rng in
                let rows = batch * tokens
                let x = try b.tensor(rng.normal(rows * width).map { $0 - 1 })
                let dy = try b.tensor(rng.uniform(rows * width), offset: 1)
                let mean = try b.tensor(rng.uniform(rows)), rstd = try b.tensor(rng.uniform(rows, in: 0.5...2))
                let out = try b.tensor(rng.uniform(batch * width), offset: 1)
                try b.layerNormGammaPerSample(dy, x: x, mean: mean, rstd: rstd, into: out,
                                              samples: .uniform(batch: batch, tokens: tokens), width: width)
                return ["whole": try b.download(whole(out))]
            },
        ]
    }

    /// The per-sample sums over uneven samples (packed rows; one sample has none).
    static let unevenSampleSums: [OpCase] = ([[2], [3, 0, 5], [1, 37, 4], [13, 13, 0, 7]] as [[Int]]).flatMap { lengths in
        let samples = SampleRows(counts: lengths), width = 11
        return [
            OpCase("sumOverTokens lengths=\(lengths) width=\(width)", tolerance: Tolerance.accumulation) { b, rng in
                let x = try b.tensor(rng.uniform(samples.total * width), offset: 2)
                let out = try b.tensor(rng.uniform(samples.count * width), offset: 1)
                try b.sumOverTokens(x, into: out, samples: samples, width: width)
                return ["whole": try b.download(whole(out))]
            },
            OpCase("layerNormGammaPerSample lengths=\(lengths) width=\(width)", tolerance: Tolerance.accumulation) { b, rng in
                let rows = samples.total
                let x = try b.tensor(rng.normal(rows * width).map { $0 - 1 })
                let dy = try b.tensor(rng.uniform(rows * width), offset: 1)
                let mean = try b.tensor(rng.uniform(rows)), rstd = try b.tensor(rng.uniform(rows, in: 0.5...2))
                let out = try b.tensor(rng.uniform(samples.count * width), offset: 1)
                try b.layerNormGammaPerSample(dy, x: x, mean: mean, rstd: rstd, into: out, samples: samples, width: width)
                return ["whole": try b.download(whole(out))]
            },
        ]
    }

    // MARK: Optimiser

    static let optimiser: [OpCase] = ([(1, 0), (13, 0.01), (1031, 0.01), (300, 0)] as [(Int, Float)]).map { s -> OpCase in
        let (n, decay) = s
        return OpCase("adamW n=\(n) weightDecay=\(decay) 3 steps", tolerance: Tolerance.transcendental) { b, rng in
            let p = try b.tensor(rng.uniform(n), offset: 1)
            let g = try b.allocate(n)
            let m = try b.allocate(n), v = try b.allocate(n)
            for step in 1...3 {
                // Gradients across magnitudes, down to where eps matters.
                try b.upload(rng.uniform(n).map { $0 * Float(pow(10.0, -Double(step * 2))) }, to: g)
                try b.adamW(parameters: p, gradients: g, m: m, v: v,
                            hyper: AdamHyper(learningRate: 1e-3, eps: 1e-6, weightDecay: decay, step: step))
            }
            return ["p": try b.download(whole(p)), "m": try b.download(m), "v": try b.download(v)]
        }
    }

    // MARK: Reductions

    static let reductions: [OpCase] = [1, 7, 37, 1031].map { n in
        OpCase("sum+sumOfSquares+countNonFinite n=\(n)", tolerance: Tolerance.accumulation,
               exact: ["countNonFinite", "countFinite"]) { b, rng in
            // Positive values: the relative error of a sum is then meaningful (no cancellation).
            let x = try b.tensor(rng.uniform(n, in: 0...1), offset: n % 3, padding: .nan)
            var bad = rng.uniform(n)
            for (i, v) in [Float.nan, .infinity, -.infinity].enumerated() where i < n { bad[(i * 3 + 1) % n] = v }
            bad[0] = .greatestFiniteMagnitude // finite, must not count
            let badTensor = try b.tensor(bad, offset: 1, padding: .infinity)
            return [
                "sum": [try b.sum(x)],
                "sumOfSquares": [try b.sumOfSquares(x)],
                "countFinite": [Float(try b.countNonFinite(x))],
                "countNonFinite": [Float(try b.countNonFinite(badTensor))],
            ]
        }
    }

    // MARK: Composites: attention

    static let attentionComposites: [OpCase] = [
        AttentionShape(batch: 1, heads: 1, tokens: 1, headDim: 1),
        AttentionShape(batch: 2, heads: 3, tokens: 7, headDim: 5),
        AttentionShape(batch: 2, heads: 2, tokens: 37, headDim: 16),
    ].flatMap { s in
        ([(false, false, 0), (true, false, 0), (false, true, 0), (true, true, 0), (true, false, 0.1), (false, true, 0.5)]
            as [(Bool, Bool, Float)]).map { masked, causal, p -> OpCase in
                OpCase("attentionForward+attentionBackward b=\(s.batch) h=\(s.heads) t=\(s.tokens) d=\(s.headDim)"
                       + "\(masked ? " mask" : "")\(causal ? " causal" : "")\(p > 0 ? " dropout=\(p)" : "")",
                       tolerance: Tolerance.accumulation, exact: p > 0 ? ["keptProbs"] : []) { b, rng in
                    let dropout = p > 0 ? AttentionDropout(probability: p, key: RandomKey(seed: 99, site: 3, step: 4)) : nil
                    let q = try b.tensor(rng.uniform(s.headsCount)), k = try b.tensor(rng.uniform(s.headsCount))
                    let v = try b.tensor(rng.uniform(s.headsCount))
                    let mask = masked ? try b.tensor(paddingMask(batch: s.batch, tokens: s.tokens)) : nil
                    let scores = try b.tensor(rng.uniform(s.scoresCount)), probs = try b.tensor(rng.uniform(s.scoresCount))
                    let dropped = try b.tensor(rng.uniform(s.scoresCount)), dScores = try b.tensor(rng.uniform(s.scoresCount))
                    let out = try b.tensor(rng.uniform(s.headsCount))
                    try b.attentionForward(q: q, k: k, v: v, mask: mask, shape: s, causal: causal, dropout: dropout,
                                           scores: scores, probs: probs, dropped: dropped, out: out)
                    let dOut = try b.tensor(rng.uniform(s.headsCount))
                    let dq = try b.tensor(rng.uniform(s.headsCount)), dk = try b.tensor(rng.uniform(s.headsCount))
                    let dv = try b.tensor(rng.uniform(s.headsCount))
                    try b.attentionBackward(dOut: dOut, q: q, k: k, v: v, shape: s, dropout: dropout, probs: probs,
                                            dropped: dropped, dScores: dScores, dq: dq, dk: dk, dv: dv)
                    var outputs = ["out": try b.download(out), "probs": try b.download(probs),
                                   "dq": try b.download(dq), "dk": try b.download(dk), "dv": try b.download(dv)]
                    if p > 0 {
                        let d = try b.download(dropped)
                        outputs["dropped"] = d
                        outputs["keptProbs"] = d.map { $0 == 0 ? 0 : 1 }
                    }
                    return outputs
                }
            }
    }

    // MARK: Composites: Fisher

    static let linearFishers: [OpCase] = [
        // (batch, tokens, in, out, samples the scratch holds, bias)
        (1, 1, 1, 1, 1, true), (3, 5, 7, 4, 1, true), (3, 5, 7, 4, 2, true), (3, 5, 7, 4, 3, false),
        (2, 37, 13, 31, 2, true),
    ].map { s in
        let (batch, tokens, inF, outF, fit, bias) = s
        return OpCase("accumulateLinearFisher b=\(batch) t=\(tokens) in=\(inF) out=\(outF) scratch=\(fit)\(bias ? " bias" : "")",
                      tolerance: Tolerance.accumulation) { b, rng in
            let dY = try b.tensor(rng.uniform(batch * tokens * outF))
            let x = try b.tensor(rng.uniform(batch * tokens * inF))
            let fisherW = try b.tensor(rng.uniform(outF * inF, in: 0...1))
            let fisherB = bias ? try b.tensor(rng.uniform(outF, in: 0...1)) : nil
            let scratch = try b.allocate(max(fit * outF * inF, batch * outF))
            try b.accumulateLinearFisher(dY: dY, x: x, batch: batch, tokens: tokens, inFeatures: inF,
                                         outFeatures: outF, fisherWeight: fisherW, fisherBias: fisherB, scratch: scratch)
            var outputs = ["fisherWeight": try b.download(fisherW)]
            if let fisherB { outputs["fisherBias"] = try b.download(fisherB) }
            return outputs
        }
    }

    /// Packed LM-head rows: samples own different row counts, one owns none (one GEMM a sample in
    /// the composed form, per-sample sums for the bias).
    static let raggedLinearFishers: [OpCase] = [
        // (rows per sample, in, out, samples the scratch holds)
        ([3, 0, 5, 1], 7, 31, 1), ([3, 0, 5, 1], 7, 31, 3), ([2, 2, 2], 13, 4, 2), ([0, 4], 5, 300, 1),
        // Large enough (2²² elements) that the composed squares take one GEMM a sample, not padding.
        ([2, 0, 3], 2048, 2048, 2),
    ].map { s in
        let (counts, inF, outF, fit) = s
        return OpCase("accumulateLinearFisher samples of \(counts) rows in=\(inF) out=\(outF) scratch=\(fit) bias",
                      tolerance: Tolerance.accumulation) { b, rng in
            let samples = SampleRows(counts: counts)
            let dY = try b.tensor(rng.uniform(samples.total * outF))
            let x = try b.tensor(rng.uniform(samples.total * inF))
            let fisherW = try b.tensor(rng.uniform(outF * inF, in: 0...1))
            let fisherB = try b.tensor(rng.uniform(outF, in: 0...1))
            let scratch = try b.allocate(max(fit * outF * inF, samples.count * outF))
            try b.accumulateLinearFisher(dY: dY, x: x, samples: samples, inFeatures: inF, outFeatures: outF,
                                         fisherWeight: fisherW, fisherBias: fisherB, scratch: scratch)
            return ["fisherWeight": try b.download(fisherW), "fisherBias": try b.download(fisherB)]
        }
    }

    static let layerNormFishers: [OpCase] = [(1, 1, 1), (3, 7, 13), (2, 37, 300)].map { s in
        let (batch, tokens, width) = s
        return OpCase("accumulateLayerNormFisher b=\(batch) t=\(tokens) width=\(width)", tolerance: Tolerance.accumulation) { b, rng in
            let rows = batch * tokens
            let x = try b.tensor(rng.normal(rows * width).map { $0 + 0.5 })
            let gamma = try b.tensor(rng.uniform(width)), beta = try b.tensor(rng.uniform(width))
            let y = try b.allocate(rows * width), mean = try b.allocate(rows), rstd = try b.allocate(rows)
            try b.layerNormForward(x, gamma: gamma, beta: beta, into: y, mean: mean, rstd: rstd,
                                   rows: rows, columns: width, eps: 1e-12)
            let dY = try b.tensor(rng.uniform(rows * width))
            let fisherGamma = try b.tensor(rng.uniform(width, in: 0...1)), fisherBeta = try b.tensor(rng.uniform(width, in: 0...1))
            let scratch = try b.tensor(rng.uniform(batch * width + 3))
            try b.accumulateLayerNormFisher(dY: dY, x: x, mean: mean, rstd: rstd, batch: batch, tokens: tokens,
                                            width: width, fisherGamma: fisherGamma, fisherBeta: fisherBeta, scratch: scratch)
            return ["fisherGamma": try b.download(fisherGamma), "fisherBeta": try b.download(fisherBeta)]
        }
    }

    static let embeddingFishers: [OpCase] = [(1, 1, 2, 1), (3, 7, 11, 5), (4, 37, 37, 13), (2, 13, 7, 300)].map { s in
        let (batch, tokens, vocabulary, width) = s
        return OpCase("accumulateEmbeddingFisher b=\(batch) t=\(tokens) vocabulary=\(vocabulary) width=\(width)",
                      tolerance: Tolerance.accumulation) { b, rng in
            // Few distinct ids, so they repeat within and across samples; id 0 is the pad row;
            // sample n's last n tokens are padding.
            let ids = rng.ids(batch * tokens, below: vocabulary)
            let valid = (0..<batch * tokens).map { i in i % tokens < tokens - i / tokens }
            let slots = EmbeddingSlots(ids: ids, valid: valid, batch: batch, tokens: tokens, excludedRow: 0)
            let dOut = try b.tensor(rng.uniform(batch * tokens * width))
            let fisher = try b.tensor(rng.uniform(vocabulary * width, in: 0...1))
            let scratch = try b.tensor(rng.uniform(max(1, slots.slotCount) * width))
            try b.accumulateEmbeddingFisher(dOut: dOut, slots: slots.upload(to: b), width: width,
                                            fisher: fisher, scratch: scratch)
            return ["fisher": try b.download(fisher)]
        }
    }

    static let embeddingFisherEmpty: [OpCase] = [
        OpCase("accumulateEmbeddingFisher nothing to add: all padding or the pad row", tolerance: Tolerance.exact,
               exact: ["fisher"]) { b, rng in
            // No slot at all: the Fisher must stay as it was (and nothing may be launched out of bounds).
            let ids: [Int32] = [0, 0, 3, 4, 0, 0]
            let valid = [true, true, false, false, true, true]
            let slots = EmbeddingSlots(ids: ids, valid: valid, batch: 2, tokens: 3, excludedRow: 0)
            let dOut = try b.tensor(rng.uniform(6 * 4))
            let fisher = try b.tensor(rng.uniform(5 * 4, in: 0...1))
            try b.accumulateEmbeddingFisher(dOut: dOut, slots: slots.upload(to: b), width: 4,
                                            fisher: fisher, scratch: b.allocate(4))
            return ["fisher": try b.download(fisher)]
        },
    ]
}
