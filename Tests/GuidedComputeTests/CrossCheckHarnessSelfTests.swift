import Foundation
import Testing
@testable import GuidedCompute

// Tests of the cross-check harness itself: that it covers every op of the protocol, that its cases
// are deterministic, and that it catches a backend with a planted bug.

/// A backend that forwards every op to `inner` and records which protocol requirements were called.
class RecordingBackend: Backend {
    let inner: Backend
    private(set) var called: Set<String> = []

    init(_ inner: Backend) { self.inner = inner }

    private func note(_ op: String) { called.insert(op) }

    var name: String { "recording(\(inner.name))" }

    func allocate(_ count: Int) throws -> Tensor { note("allocate"); return try inner.allocate(count) }
    func upload(_ values: [Float], to tensor: Tensor) throws { note("upload(Float)"); try inner.upload(values, to: tensor) }
    func upload(_ values: [Int32], to tensor: Tensor) throws { note("upload(Int32)"); try inner.upload(values, to: tensor) }
    func download(_ tensor: Tensor) throws -> [Float] { note("download"); return try inner.download(tensor) }
    func downloadInt32(_ tensor: Tensor) throws -> [Int32] { note("downloadInt32"); return try inner.downloadInt32(tensor) }
    func synchronize() throws { note("synchronize"); try inner.synchronize() }

    func fill(_ tensor: Tensor, with value: Float) throws { note("fill"); try inner.fill(tensor, with: value) }
    func copy(_ src: Tensor, to dst: Tensor) throws { note("copy"); try inner.copy(src, to: dst) }
    func scale(_ x: Tensor, by alpha: Float) throws { note("scale"); try inner.scale(x, by: alpha) }
    func axpy(_ alpha: Float, _ x: Tensor, _ y: Tensor) throws { note("axpy"); try inner.axpy(alpha, x, y) }
    func add(_ a: Tensor, _ b: Tensor, into out: Tensor) throws { note("add"); try inner.add(a, b, into: out) }
    func permute0213(_ x: Tensor, into y: Tensor, _ d0: Int, _ d1: Int, _ d2: Int, _ d3: Int) throws {
        note("permute0213"); try inner.permute0213(x, into: y, d0, d1, d2, d3)
    }
    func packedRowsToHeads(_ x: Tensor, into y: Tensor, samples: SampleRows, tokens: Int, heads: Int, headDim: Int) throws {
        note("packedRowsToHeads")
        try inner.packedRowsToHeads(x, into: y, samples: samples, tokens: tokens, heads: heads, headDim: headDim)
    }
    func headsToPackedRows(_ x: Tensor, into y: Tensor, samples: SampleRows, tokens: Int, heads: Int, headDim: Int) throws {
        note("headsToPackedRows")
        try inner.headsToPackedRows(x, into: y, samples: samples, tokens: tokens, heads: heads, headDim: headDim)
    }

    func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: Tensor, lda: Int,
              b: Tensor, ldb: Int, beta: Float, c: Tensor, ldc: Int) throws {
        note("gemm")
        try inner.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                       b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }
    func gemmStridedBatched(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: Tensor, lda: Int, strideA: Int, b: Tensor, ldb: Int, strideB: Int,
                            beta: Float, c: Tensor, ldc: Int, strideC: Int, batch: Int) throws {
        note("gemmStridedBatched")
        try inner.gemmStridedBatched(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                     a: a, lda: lda, strideA: strideA, b: b, ldb: ldb, strideB: strideB,
                                     beta: beta, c: c, ldc: ldc, strideC: strideC, batch: batch)
    }
    func addBias(_ y: Tensor, _ bias: Tensor, rows: Int, columns: Int) throws {
        note("addBias"); try inner.addBias(y, bias, rows: rows, columns: columns)
    }
    func biasBackward(_ dy: Tensor, dBias: Tensor, rows: Int, columns: Int) throws {
        note("biasBackward"); try inner.biasBackward(dy, dBias: dBias, rows: rows, columns: columns)
    }

    func tanhForward(_ x: Tensor, into y: Tensor) throws {
        note("tanhForward"); try inner.tanhForward(x, into: y)
    }
    func tanhBackward(_ y: Tensor, _ dy: Tensor, into dx: Tensor) throws {
        note("tanhBackward"); try inner.tanhBackward(y, dy, into: dx)
    }
    func geluForward(_ x: Tensor, into y: Tensor, form: GeluForm) throws {
        note("geluForward"); try inner.geluForward(x, into: y, form: form)
    }
    func geluBackward(_ x: Tensor, output y: Tensor, _ dy: Tensor, into dx: Tensor, form: GeluForm) throws {
        note("geluBackward"); try inner.geluBackward(x, output: y, dy, into: dx, form: form)
    }
    func layerNormForward(_ x: Tensor, gamma: Tensor, beta: Tensor, into y: Tensor, mean: Tensor, rstd: Tensor,
                          rows: Int, columns: Int, eps: Float) throws {
        note("layerNormForward")
        try inner.layerNormForward(x, gamma: gamma, beta: beta, into: y, mean: mean, rstd: rstd,
                                   rows: rows, columns: columns, eps: eps)
    }
    func layerNormBackward(_ dy: Tensor, x: Tensor, gamma: Tensor, mean: Tensor, rstd: Tensor,
                           dx: Tensor, dGamma: Tensor, dBeta: Tensor, rows: Int, columns: Int) throws {
        note("layerNormBackward")
        try inner.layerNormBackward(dy, x: x, gamma: gamma, mean: mean, rstd: rstd, dx: dx, dGamma: dGamma,
                                    dBeta: dBeta, rows: rows, columns: columns)
    }

    func attentionSoftmaxForward(_ scores: Tensor, mask: Tensor?, into probs: Tensor,
                                 batch: Int, heads: Int, tokens: Int, causal: Bool) throws {
        note("attentionSoftmaxForward")
        try inner.attentionSoftmaxForward(scores, mask: mask, into: probs, batch: batch, heads: heads,
                                          tokens: tokens, causal: causal)
    }
    func softmaxBackward(_ probs: Tensor, _ dProbs: Tensor, into dScores: Tensor, rows: Int, columns: Int) throws {
        note("softmaxBackward"); try inner.softmaxBackward(probs, dProbs, into: dScores, rows: rows, columns: columns)
    }

    func dropout(_ x: Tensor, into y: Tensor, probability p: Float, key: RandomKey) throws {
        note("dropout"); try inner.dropout(x, into: y, probability: p, key: key)
    }
    func gaussianNoise(_ x: Tensor, into y: Tensor, std: Float, key: RandomKey) throws {
        note("gaussianNoise"); try inner.gaussianNoise(x, into: y, std: std, key: key)
    }

    func embeddingGather(_ table: Tensor, ids: Tensor, into out: Tensor, tokens: Int, width: Int) throws {
        note("embeddingGather"); try inner.embeddingGather(table, ids: ids, into: out, tokens: tokens, width: width)
    }
    func scatterAddRows(_ src: Tensor, index: Tensor, into dst: Tensor, rows: Int, width: Int, skip: Int32) throws {
        note("scatterAddRows"); try inner.scatterAddRows(src, index: index, into: dst, rows: rows, width: width, skip: skip)
    }
    func accumulateSquaredRows(_ src: Tensor, index: Tensor, into fisher: Tensor, rows: Int, width: Int) throws {
        note("accumulateSquaredRows"); try inner.accumulateSquaredRows(src, index: index, into: fisher, rows: rows, width: width)
    }

    func softmaxCrossEntropy(_ logits: Tensor, labels: Tensor, weights: Tensor, losses: Tensor, dLogits: Tensor,
                             rows: Int, classes: Int) throws {
        note("softmaxCrossEntropy")
        try inner.softmaxCrossEntropy(logits, labels: labels, weights: weights, losses: losses, dLogits: dLogits,
                                      rows: rows, classes: classes)
    }

    func accumulateSquaredSum(_ perSample: Tensor, into fisher: Tensor, batch: Int, width: Int) throws {
        note("accumulateSquaredSum"); try inner.accumulateSquaredSum(perSample, into: fisher, batch: batch, width: width)
    }
    func sumOverTokens(_ x: Tensor, into out: Tensor, samples: SampleRows, width: Int) throws {
        note("sumOverTokens"); try inner.sumOverTokens(x, into: out, samples: samples, width: width)
    }
    func layerNormGammaPerSample(_ dy: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, into out: Tensor,
                                 samples: SampleRows, width: Int) throws {
        note("layerNormGammaPerSample")
        try inner.layerNormGammaPerSample(dy, x: x, mean: mean, rstd: rstd, into: out, samples: samples, width: width)
    }

    func adamW(parameters: Tensor, gradients: Tensor, m: Tensor, v: Tensor, hyper: AdamHyper) throws {
        note("adamW"); try inner.adamW(parameters: parameters, gradients: gradients, m: m, v: v, hyper: hyper)
    }

    func sum(_ x: Tensor) throws -> Float { note("sum"); return try inner.sum(x) }
    func sumOfSquares(_ x: Tensor) throws -> Float { note("sumOfSquares"); return try inner.sumOfSquares(x) }
    func countNonFinite(_ x: Tensor) throws -> Int { note("countNonFinite"); return try inner.countNonFinite(x) }
}

/// Every requirement of `Backend` (update when the protocol grows; the coverage test then says
/// which op still lacks a case).
let allBackendRequirements: Set<String> = [
    "allocate", "upload(Float)", "upload(Int32)", "download", "downloadInt32", "synchronize",
    "fill", "copy", "scale", "axpy", "add", "permute0213", "packedRowsToHeads", "headsToPackedRows",
    "gemm", "gemmStridedBatched", "addBias", "biasBackward",
    "tanhForward", "tanhBackward", "geluForward", "geluBackward", "layerNormForward", "layerNormBackward",
    "attentionSoftmaxForward", "softmaxBackward", "dropout", "gaussianNoise",
    "embeddingGather", "scatterAddRows", "accumulateSquaredRows", "softmaxCrossEntropy",
    "accumulateSquaredSum", "sumOverTokens", "layerNormGammaPerSample", "adamW",
    "sum", "sumOfSquares", "countNonFinite",
]

/// The composites written over the protocol (Attention.swift, FisherSquaring.swift).
let allComposites = [
    "attentionForward", "attentionBackward", "accumulateLinearFisher", "accumulateLayerNormFisher",
    "accumulateEmbeddingFisher",
]

@Suite struct CrossCheckHarnessSelfTests {
    @Test func casesCallEveryProtocolRequirement() throws {
        let recorder = RecordingBackend(CPUBackend())
        for opCase in OpCase.all { _ = try opCase.run(on: recorder) }
        let missing = allBackendRequirements.subtracting(recorder.called)
        #expect(missing.isEmpty, "no cross-check case calls \(missing.sorted())")
    }

    @Test func casesCoverEveryCompositeAndEveryOpAtSeveralSizes() {
        for composite in allComposites {
            #expect(OpCase.all.contains { $0.name.contains(composite) }, "no cross-check case for \(composite)")
        }
        // Each op family appears at several sizes (an op name is the case name up to the first space).
        let perOp = Dictionary(grouping: OpCase.all) { String($0.name.prefix { $0 != " " }) }
        for (op, cases) in perOp {
            #expect(cases.count >= 3, "\(op) is cross-checked at only \(cases.count) size(s)")
        }
    }

    @Test func caseNamesAreUnique() {
        let names = OpCase.all.map(\.name)
        #expect(Set(names).count == names.count)
    }

    @Test(arguments: OpCase.all)
    func casesAreDeterministicAndProduceOutputs(_ opCase: OpCase) throws {
        let first = try opCase.run(on: CPUBackend())
        let second = try opCase.run(on: CPUBackend())
        #expect(!first.isEmpty && first.values.allSatisfy { !$0.isEmpty })
        for (name, values) in first {
            // Bit-identical (NaN bit patterns included): the inputs depend only on the case's name.
            #expect(values.map(\.bitPattern) == second[name]?.map(\.bitPattern), "\(opCase.name): \(name) changed between runs")
        }
    }

    /// A CPU backend whose GELU is off by 1e-3 (relative) and whose dropout draws the next step's mask.
    final class FaultyBackend: RecordingBackend {
        override func geluForward(_ x: Tensor, into y: Tensor, form: GeluForm) throws {
            try super.geluForward(x, into: y, form: form)
            try inner.scale(y, by: 1.001)
        }
        override func dropout(_ x: Tensor, into y: Tensor, probability p: Float, key: RandomKey) throws {
            var key = key
            key.step &+= 1
            try super.dropout(x, into: y, probability: p, key: key)
        }
    }

    @Test func harnessCatchesPlantedBugs() throws {
        let faulty = FaultyBackend(CPUBackend()), reference = CPUBackend()
        let gelu = try #require(OpCase.all.first { $0.name == "geluForward erf n=1031" })
        let geluProblems = mismatches(try gelu.run(on: faulty), try gelu.run(on: reference), for: gelu)
        #expect(geluProblems.count == 1 && geluProblems[0].contains("relative error"))

        let dropout = try #require(OpCase.all.first { $0.name == "dropout n=1031 p=0.5" })
        let dropoutProblems = mismatches(try dropout.run(on: faulty), try dropout.run(on: reference), for: dropout)
        #expect(dropoutProblems.contains { $0.hasPrefix("kept:") && $0.contains("must be exact") })

        // A case the faults do not touch still passes on the faulty backend.
        let gemm = try #require(OpCase.all.first { $0.name.hasPrefix("gemm NT") })
        #expect(mismatches(try gemm.run(on: faulty), try gemm.run(on: reference), for: gemm).isEmpty)
    }

    @Test func mismatchesReportsMissingOutputsLengthsAndNaNs() {
        let opCase = OpCase("synthetic", tolerance: 1e-6, exact: ["e"]) { _, _ in [:] }
        #expect(!mismatches(["a": [1]], ["a": [1], "b": [2]], for: opCase).isEmpty)
        #expect(!mismatches(["a": [1, 2]], ["a": [1]], for: opCase).isEmpty)
        #expect(!mismatches(["a": [.nan]], ["a": [1]], for: opCase).isEmpty)
        #expect(!mismatches(["e": [-0.0, 1.0000001]], ["e": [0, 1]], for: opCase).isEmpty)
        #expect(mismatches(["e": [-0.0, .nan], "a": [1 + 5e-7]], ["e": [0, .nan], "a": [1]], for: opCase).isEmpty)
    }
}
