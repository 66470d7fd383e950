import Foundation
import GuidedCompute
import Testing
@testable import GuidedModel

/// Whole-model GPT-2 properties that the golden tests (dropout off) do not reach.
@Suite(.serialized) struct GPT2TrainingStepTests {
    /// One training step — forward with Bernoulli dropout at every site (and Gaussian noise in a
    /// second run), backward, AdamW — gives the same loss and the same updated parameters on the CPU
    /// and OpenCL backends, for the causal LM and the classifier, because both backends draw the
    /// same Philox masks.
    @Test(arguments: [Noise.bernoulli(0.1), Noise.gaussian(std: 0.33)], ["tiny-gpt2", "tiny-gpt2-cls"])
    func trainingStepAgreesAcrossBackends(_ noise: Noise, _ fixture: String) throws {
        func step(_ model: GPT2Model, _ regularization: Regularization?) throws -> (loss: Float, sink: GradientAccumulator) {
            let batch = try GPT2GoldenTests.batch()
            let sink = try GradientAccumulator(backend: model.backend, layout: model.layout)
            if model.architecture.head == .languageModel {
                let pass = try model.causalLM(batch, labels: GPT2GoldenTests.labels(), regularization: regularization,
                                              reduction: .batchMean)
                try model.causalLMBackward(pass, sink: sink)
                return (pass.loss, sink)
            }
            let pass = try model.classify(batch, labels: [2, 0, 1], regularization: regularization, reduction: .batchMean)
            try model.classifyBackward(pass, sink: sink)
            return (pass.loss, sink)
        }
        var results: [(loss: Float, parameters: [Float])] = []
        for kind in BackendKind.allCases {
            let (model, _) = try GPT2Checkpoint.load(Fixtures.url(fixture), backend: kind.make())
            let regularization = Regularization(noise: model.architecture.sites.map { _ in noise }, seed: 42, step: 7)
            let (loss, sink) = try step(model, regularization)
            let count = model.layout.totalCount
            let m = try model.backend.allocate(count), v = try model.backend.allocate(count)
            // A large learning rate so that the update is visible in float32.
            try model.backend.adamW(parameters: model.parameters, gradients: sink.gradients, m: m, v: v,
                                    hyper: AdamHyper(learningRate: 1e-2, step: 1))
            results.append((loss, try model.backend.download(model.parameters)))
        }
        let (cpu, opencl) = (results[0], results[1])
        #expect(abs(cpu.loss - opencl.loss) <= 1e-5 * max(1, abs(cpu.loss)), "loss \(cpu.loss) vs \(opencl.loss)")
        // Adam's first step moves each parameter by ≈ lr·sign(g); a different mask would flip signs
        // and move parameters by ~2e-2, far beyond this tolerance.
        expectClose(opencl.parameters, cpu.parameters, "parameters after one step", relative: 0, absolute: 2e-4)
        // And the noise actually did something: the loss differs from evaluation mode.
        let (model, _) = try GPT2Checkpoint.load(Fixtures.url(fixture), backend: CPUBackend())
        #expect(abs(try step(model, nil).loss - cpu.loss) > 1e-4)
    }
}
