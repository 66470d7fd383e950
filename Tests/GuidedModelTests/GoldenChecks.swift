import Foundation
import GuidedCompute
import Testing
@testable import GuidedModel

// Comparisons against the golden values `tools/make_*_fixture.py` write from `transformers`,
// shared by every architecture's golden tests.

/// Every parameter's gradient against `prefix` + its `transformers` name; `adjust` may reshape what
/// is compared for a tensor whose golden value is stored in another form (it sees slot, name, values).
func expectGradients<Model: LanguageModel>(
    _ model: Model, _ sink: GradientAccumulator, golden g: SafeTensorsFile, prefix: String,
    adjust: (ParameterSlot, String, [Float]) -> [Float] = { $2 }
) throws {
    let gradients = try model.backend.download(sink.gradients)
    var checked = 0
    for slot in model.layout.slots {
        let name = prefix + model.architecture.checkpointName(slot)
        guard g[name] != nil else {
            Issue.record("no golden gradient \(name)")
            continue
        }
        expectClose(adjust(slot, name, Array(gradients[slot.offset..<(slot.offset + slot.count)])), try g.floats(name), name)
        checked += 1
    }
    #expect(checked == model.layout.slots.count)
}

/// The Fisher sums of `samples` samples, as means, against `key_fisher.` + each `transformers` name,
/// and the golden sample count `key_fisher_count`.
func expectFisher<Model: LanguageModel>(_ model: Model, _ sink: FisherAccumulator, samples: Int,
                                         golden g: SafeTensorsFile, key: String) throws {
    #expect(Float(samples) == (try g.floats(key + "_fisher_count"))[0])
    let sums = try model.backend.download(sink.fisher)
    for slot in model.layout.slots {
        let name = key + "_fisher." + model.architecture.checkpointName(slot)
        let mean = sums[slot.offset..<(slot.offset + slot.count)].map { $0 / Float(samples) }
        // Squares double the relative error of the gradients they come from.
        expectClose(mean, try g.floats(name), name, relative: 1e-4, absolute: 1e-9)
    }
}

/// `|got − want| ≤ 5e-5 · max|want| + 1e-6` elementwise, reporting the worst element.
func expectClose(_ got: [Float], _ want: [Float], _ what: String, relative: Float = 5e-5, absolute: Float = 1e-6,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    guard got.count == want.count else {
        Issue.record("\(what): \(got.count) values, expected \(want.count)", sourceLocation: sourceLocation)
        return
    }
    let scale = want.map(abs).max() ?? 0
    var worst: (index: Int, error: Float) = (0, 0)
    for i in got.indices {
        let error = abs(got[i] - want[i])
        if !(error <= worst.error) { worst = (i, error) }
    }
    let limit = relative * scale + absolute
    #expect(worst.error <= limit,
            "\(what): |Δ| = \(worst.error) at \(worst.index) (got \(got.isEmpty ? 0 : got[worst.index]), want \(want.isEmpty ? 0 : want[worst.index])) exceeds \(limit)",
            sourceLocation: sourceLocation)
}

/// The backends every model test runs on. OpenCL runs on PoCL where there is no GPU.
enum BackendKind: String, CaseIterable, CustomTestStringConvertible {
    case cpu, opencl
    var testDescription: String { rawValue }

    func make() throws -> Backend {
        switch self {
        case .cpu: return CPUBackend()
        case .opencl: return try OpenCLBackend()
        }
    }
}

enum Fixtures {
    static func url(_ name: String) -> URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(name)
    }
}
