import ArgumentParser
import GuidedCompute
import Logging

@main
struct Guided: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guided",
        abstract: "Information-guided regularization of pretrained language models.",
        discussion: """
            Estimates the empirical Fisher information of a pretrained transformer, turns its per-layer \
            ranking into a dropout schedule, and fine-tunes with it (Sharma et al., "Information Guided \
            Regularization for Fine-tuning Language Models").

            Everything numeric runs on a compute backend: OpenCL (any GPU, or PoCL on a CPU) or the \
            CPU reference backend. Start with `guided devices` to see what this machine has, and \
            `guided bench` to time every kernel on both backends.
            """,
        subcommands: [Devices.self, Bench.self, Inspect.self, Tokenize.self, Fisher.self, Schedule.self, Finetune.self, Sweep.self, Landscape.self, Demo.self]
    )

    static func main() {
        LoggingSystem.bootstrap { label in TerminalLogHandler(label: label) }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

/// `--backend` as a command-line value.
enum BackendChoiceArgument: String, ExpressibleByArgument, CaseIterable {
    case auto, cpu, opencl
    var choice: BackendChoice { BackendChoice(rawValue: rawValue)! }
}

/// `--backend` and `--device`, the same on every command that computes.
struct BackendOptions: ParsableArguments {
    @Option(help: "Compute backend: auto (an OpenCL GPU if there is one, else cpu), cpu, or opencl.")
    var backend: BackendChoiceArgument = .auto

    @Option(help: "OpenCL device: an index from `guided devices`, or a substring of its name.")
    var device: String?

    /// Builds the backend and logs which one was taken and why.
    func make(_ log: Logger) throws -> Backend {
        let selected = try backend.choice.make(device: device)
        log.info("backend: \(selected.backend.name) (\(selected.reason))")
        if selected.backend is CPUBackend, let advice = OpenBLASCore.adviceHere { log.notice("\(advice)") }
        return selected.backend
    }
}
