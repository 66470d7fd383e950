import Foundation
import Testing
@testable import GuidedCompute

// The cross-backend harness, in the spirit of ggml's test-backend-ops: every op of the `Backend`
// protocol and every composite written over it, at awkward sizes, run on a backend under test and on
// the CPU reference from the same seeded inputs, each output compared with a per-case tolerance.
//
// The cases are listed in CrossCheckCases.swift (`OpCase.all`). To check another backend:
//
//     @Test(arguments: OpCase.all)
//     func openCLMatchesCPU(_ opCase: OpCase) throws {
//         try crossCheck(opCase, on: sharedOpenCLBackend, against: CPUBackend())
//     }
//
// or `try crossCheckAllCases(on: backend)` in a single test.

/// One op (or a short sequence of ops) whose inputs depend only on the case's name.
///
/// `body` builds its inputs from the seeded generator it is given, runs on the backend it is given,
/// and returns every output of interest downloaded to the host, by name. Running it on two backends
/// therefore feeds both the same inputs.
struct OpCase: Sendable, CustomTestStringConvertible {
    /// Unique; also the seed of the inputs. Starts with the op's name.
    let name: String
    /// Largest allowed `max|got − want| / max|want|` per output (see `relativeError`); outputs named
    /// in `exact` must instead match bit for bit (±0 equal).
    let tolerance: Double
    let exact: Set<String>
    let body: @Sendable (Backend, inout SplitMix64) throws -> [String: [Float]]

    init(_ name: String, tolerance: Double, exact: Set<String> = [],
         _ body: @escaping @Sendable (Backend, inout SplitMix64) throws -> [String: [Float]]) {
        self.name = name
        self.tolerance = tolerance
        self.exact = exact
        self.body = body
    }

    /// Runs the case on `backend` with the inputs its name seeds.
    func run(on backend: Backend) throws -> [String: [Float]] {
        var rng = SplitMix64(seed: stableSeed(name))
        let outputs = try body(backend, &rng)
        try backend.synchronize()
        return outputs
    }

    var testDescription: String { name }
}

/// Per-case tolerances, as `max|got − want| / max|want|`. They bound what legitimately differs
/// between two correct Float32 implementations; real bugs give errors of 1e-2 or more.
enum Tolerance {
    /// Data movement (copies, gathers, masks): nothing may change.
    static let exact = 0.0
    /// One or two Float roundings per element (scale, axpy with or without FMA): a few ulps.
    static let rounding = 1e-6
    /// exp/erf/tanh/log/sqrt in Float on a device against the CPU reference's Double: a few ulps
    /// of the result plus the device's math-library error.
    static let transcendental = 1e-5
    /// GELU's derivative: OpenCL 1.2 lets tanh/erf/exp be off by 4–5 ulps, and `1 − tanh²` and
    /// `1 + tanh` cancel for |x| ≈ 5–6 where the derivative multiplies that error by ~14 (PoCL
    /// already uses 70% of `transcendental` there).
    static let geluDerivative = 5e-5
    /// Sums and dot products of up to ~1000 terms added in another order (GEMM, row reductions,
    /// composites of several such steps): ~√n ulps of the largest partial sum.
    static let accumulation = 1e-4
}

/// The first few reasons `got` does not match `want` under `opCase`'s tolerances; empty when it does.
func mismatches(_ got: [String: [Float]], _ want: [String: [Float]], for opCase: OpCase) -> [String] {
    var problems: [String] = []
    if Set(got.keys) != Set(want.keys) {
        problems.append("outputs \(got.keys.sorted()) but the reference has \(want.keys.sorted())")
    }
    for name in want.keys.sorted() {
        guard let a = got[name], let b = want[name] else { continue }
        guard a.count == b.count else {
            problems.append("\(name): \(a.count) elements, reference \(b.count)")
            continue
        }
        if opCase.exact.contains(name) {
            let differing = a.indices.filter { a[$0] != b[$0] && a[$0].bitPattern != b[$0].bitPattern }
            if let first = differing.first {
                problems.append("\(name): \(differing.count) of \(a.count) elements differ (must be exact); first at \(first): \(a[first]) vs reference \(b[first])")
            }
        } else {
            let error = relativeError(a, b)
            if !(error <= opCase.tolerance) {
                let worst = a.indices.max { abs(Double(a[$0]) - Double(b[$0])) < abs(Double(a[$1]) - Double(b[$1])) }
                    .map { "worst at \($0): \(a[$0]) vs reference \(b[$0])" } ?? ""
                problems.append("\(name): relative error \(error) > \(opCase.tolerance) (NMSE \(nmse(a, b)), max |reference| \(maxAbs(b))); \(worst)")
            }
        }
    }
    return problems
}

/// Runs `opCase` on `backend` and on `reference` and records a test issue for every output that
/// differs beyond the case's tolerance.
func crossCheck(_ opCase: OpCase, on backend: Backend, against reference: CPUBackend,
                sourceLocation: SourceLocation = #_sourceLocation) throws {
    let want = try opCase.run(on: reference)
    let got = try opCase.run(on: backend)
    for problem in mismatches(got, want, for: opCase) {
        Issue.record("\(opCase.name) on \(backend.name): \(problem)", sourceLocation: sourceLocation)
    }
}

/// Every case of `OpCase.all` on `backend` against a fresh CPU reference.
func crossCheckAllCases(on backend: Backend, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let reference = CPUBackend()
    for opCase in OpCase.all {
        try crossCheck(opCase, on: backend, against: reference, sourceLocation: sourceLocation)
    }
}

/// The harness exercised with a second CPU backend as the backend under test: every case must run
/// and agree with itself (exactly, in fact), which shows each case builds its inputs from its seed
/// alone. An OpenCL instantiation is the same test with the OpenCL backend in place of the first one.
@Test(arguments: OpCase.all)
func cpuBackendMatchesCPUReference(_ opCase: OpCase) throws {
    try crossCheck(opCase, on: CPUBackend(), against: CPUBackend())
}
