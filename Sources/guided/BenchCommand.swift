import ArgumentParser
import Foundation
import GuidedCompute
import GuidedModel
import Logging

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time every kernel family on the OpenCL and CPU backends.",
        discussion: """
            Shapes: 8 sequences × 128 tokens, 12 heads, at MiniLM (hidden 384, FFN 1536) and BERT-base \
            (hidden 768, FFN 3072) sizes. OpenCL times are device time from profiling events, the \
            median of --repeats runs after a warm-up; CPU times are wall time. Each row's GB/s and \
            GFLOP/s are also given as a share of the two baselines measured in the same run: a \
            device-to-device copy (bandwidth) and a large GEMM (arithmetic). Build with -c release \
            for meaningful CPU figures. The first OpenCL run compiles CLBlast's kernels (slow on PoCL).
            """)

    @Option(help: "OpenCL device: an index from `guided devices`, or a substring of its name.")
    var device: String?

    @Option(help: "Sizes to run: minilm, bert-base, gpt2-tiny-6l, gpt2-small, or all (kernels: MiniLM and BERT-base; a GPT-2 shape alone times the kernels at its sizes).")
    var shapes: ShapeSelection = .all

    @Option(help: "Timed runs per op (the median is reported).")
    var repeats = 5

    @Option(help: "Only ops whose family or name contains this text (e.g. fisher, attention).")
    var filter: String?

    @Flag(help: "Skip the CPU backend.")
    var openclOnly = false

    @Flag(help: "Time whole models instead of kernels: an evaluation forward and a training step (forward, backward, AdamW) with dropout 0.1 and with a guided schedule, of a BERT or GPT-2 with random weights, on --backend.")
    var models = false

    @Flag(help: "Time the exact per-sample Fisher (pretraining-loss forward, backward, squaring) of a BERT (masked LM) or GPT-2 (causal LM) with random weights on --backend, batched against batch size 1 (the paper code's method) in the same run.")
    var fisher = false

    @Option(help: "With --models: the backend to time (cpu or opencl; run one per process to compare peak memory).")
    var backend: BackendChoiceArgument = .cpu

    @Flag(help: "Machine-readable output on stdout.")
    var json = false

    enum ShapeSelection: String, ExpressibleByArgument, CaseIterable {
        case minilm, bertBase = "bert-base", gpt2Tiny6L = "gpt2-tiny-6l", gpt2Small = "gpt2-small", all
        var shapes: [BenchShape] {
            switch self {
            case .minilm: return [.miniLM]
            case .bertBase: return [.bertBase]
            case .gpt2Tiny6L: return [.gpt2Tiny6L]
            case .gpt2Small: return [.gpt2Small]
            case .all: return [.miniLM, .bertBase, .gpt2Tiny6L, .gpt2Small]
            }
        }
        /// The kernels are the same at GPT-2 small's sizes as at BERT-base's but for the vocabulary.
        var kernelShapes: [BenchShape] { self == .all ? [.miniLM, .bertBase] : shapes }
    }

    func run() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
        let log = Logger(label: "guided.bench")
        if models { return try runModels(log) }
        if fisher { return try runFisher(log) }
        let opencl = try OpenCLBackend(device: device)
        log.info("OpenCL device: \(opencl.device.description)")
        let cpu: Backend? = openclOnly ? nil : CPUBackend()
        var results: [KernelBenchResult] = []
        var report = ""
        for shape in shapes.kernelShapes {
            let cases = KernelBenchmarks.cases(shape).filter { c in
                guard let filter = filter?.lowercased() else { return true }
                return c.family == "baseline" || c.family.contains(filter) || c.op.lowercased().contains(filter)
            }
            let table = TextTable(columns: ["family", "op", "shape", "opencl ms", "GB/s", "% copy", "GFLOP/s",
                                            "% gemm", "cpu ms", "cpu/opencl"])
            var copyBandwidth = 0.0, gemmRate = 0.0
            for (i, c) in cases.enumerated() {
                log.info("[\(shape.name) \(i + 1)/\(cases.count)] \(c.family): \(c.op)")
                let onDevice = try KernelBenchmarks.measure(c, on: opencl, repeats: repeats)
                let onCPU = try cpu.map { try KernelBenchmarks.measure(c, on: $0, repeats: repeats) }
                results.append(onDevice)
                if let onCPU { results.append(onCPU) }
                if c.family == "baseline" && c.op == "copy" { copyBandwidth = onDevice.gigabytesPerSecond }
                if c.family == "baseline" && c.op == "gemm" { gemmRate = onDevice.gigaflopsPerSecond }
                let percent = { (x: Double, of: Double) in of > 0 && x > 0 ? String(format: "%.0f%%", 100 * x / of) : "" }
                table.add([c.family, c.op, c.shape, String(format: "%.3f", onDevice.seconds * 1e3),
                           String(format: "%.1f", onDevice.gigabytesPerSecond),
                           percent(onDevice.gigabytesPerSecond, copyBandwidth),
                           onDevice.gigaflopsPerSecond > 0 ? String(format: "%.1f", onDevice.gigaflopsPerSecond) : "",
                           percent(onDevice.gigaflopsPerSecond, gemmRate),
                           onCPU.map { String(format: "%.3f", $0.seconds * 1e3) } ?? "",
                           onCPU.map { String(format: "%.2f", $0.seconds / onDevice.seconds) } ?? ""])
            }
            report += "\(shape) on \(opencl.device.name)\n\(table.render())\n\n"
        }
        if json {
            struct Output: Encodable { let device: String; let results: [KernelBenchResult] }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(Output(device: opencl.device.name, results: results)), as: UTF8.self))
            FileHandle.standardError.write(Data(report.utf8))
        } else {
            print(report, terminator: "")
        }
    }

    private func runModels(_ log: Logger) throws {
        let selected = try backend.choice.make(device: device)
        log.info("backend: \(selected.backend.name) (\(selected.reason))")
        var results: [ModelBenchResult] = []
        let table = TextTable(columns: ["model", "backend", "batch×tokens", "forward samples/s", "train step samples/s",
                                        "guided step samples/s", "guided/dropout time", "peak RSS MiB"])
        for shape in shapes.shapes {
            log.info("\(shape): \(repeats) forwards and training steps")
            let r = try ModelBenchmarks.run(shape, on: selected.backend, steps: repeats)
            results.append(r)
            table.add([r.shape, r.backend, "\(r.batch)×\(r.tokens)", String(format: "%.2f", r.forwardSamplesPerSecond),
                       String(format: "%.2f", r.trainStepSamplesPerSecond), String(format: "%.2f", r.guidedStepSamplesPerSecond),
                       String(format: "%.3f", r.trainStepSamplesPerSecond / r.guidedStepSamplesPerSecond),
                       String(format: "%.0f", r.peakResidentMiB)])
        }
        try emit(results, table)
    }

    private func runFisher(_ log: Logger) throws {
        let selected = try backend.choice.make(device: device)
        log.info("backend: \(selected.backend.name) (\(selected.reason))")
        var results: [FisherBenchResult] = []
        let table = TextTable(columns: ["model", "backend", "batch×tokens", "predicted/sample", "batched samples/s",
                                        "batch-1 samples/s", "batched/batch-1", "peak RSS MiB"])
        for shape in shapes.shapes {
            log.info("\(shape): \(repeats) rounds of a batch and of its samples one at a time")
            let r = try ModelBenchmarks.fisher(shape, on: selected.backend, rounds: repeats)
            results.append(r)
            table.add([r.shape, r.backend, "\(r.batch)×\(r.tokens)", "\(r.predicted)", String(format: "%.2f", r.batchedSamplesPerSecond),
                       String(format: "%.2f", r.batchOneSamplesPerSecond),
                       String(format: "%.2f", r.batchedSamplesPerSecond / r.batchOneSamplesPerSecond),
                       String(format: "%.0f", r.peakResidentMiB)])
        }
        try emit(results, table)
    }

    /// The results as JSON on stdout (table on stderr) with --json, else the table on stdout.
    private func emit<Results: Encodable>(_ results: Results, _ table: TextTable) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(results), as: UTF8.self))
            FileHandle.standardError.write(Data((table.render() + "\n").utf8))
        } else {
            print(table.render())
        }
    }
}
