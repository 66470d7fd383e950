import Foundation
import GuidedCompute
import Testing
@testable import GuidedModel

/// Whole-model properties that the golden tests (dropout off) do not reach.
@Suite(.serialized) struct BertTrainingStepTests {
    /// One training step — forward with Bernoulli dropout at every site (and Gaussian noise in a
    /// second run), backward, AdamW — gives the same loss and the same updated parameters on the CPU
    /// and OpenCL backends, because both draw the same Philox masks.
    @Test(arguments: [Noise.bernoulli(0.1), Noise.gaussian(std: 0.33)])
    func trainingStepAgreesAcrossBackends(_ noise: Noise) throws {
        var results: [(loss: Float, parameters: [Float])] = []
        for kind in BackendKind.allCases {
            let (model, _) = try BertCheckpoint.load(Fixtures.url("tiny-bert-cls"), backend: kind.make())
            let batch = try BertGoldenTests.batch()
            let regularization = Regularization(noise: model.architecture.sites.map { _ in noise }, seed: 42, step: 7)
            let pass = try model.classify(batch, labels: [2, 0, 1], regularization: regularization, reduction: .batchMean)
            let sink = try GradientAccumulator(backend: model.backend, layout: model.layout)
            try model.classifyBackward(pass, sink: sink)
            let count = model.layout.totalCount
            let m = try model.backend.allocate(count), v = try model.backend.allocate(count)
            // A large learning rate so that the update is visible in float32.
            try model.backend.adamW(parameters: model.parameters, gradients: sink.gradients, m: m, v: v,
                                    hyper: AdamHyper(learningRate: 1e-2, step: 1))
            results.append((pass.loss, try model.backend.download(model.parameters)))
        }
        let (cpu, opencl) = (results[0], results[1])
        #expect(abs(cpu.loss - opencl.loss) <= 1e-5 * max(1, abs(cpu.loss)), "loss \(cpu.loss) vs \(opencl.loss)")
        // Adam's first step moves each parameter by ≈ lr·sign(g); a different mask would flip signs
        // and move parameters by ~2e-2, far beyond this tolerance.
        expectClose(opencl.parameters, cpu.parameters, "parameters after one step", relative: 0, absolute: 2e-4)
        // And the dropout actually did something: the loss differs from evaluation mode.
        let (model, _) = try BertCheckpoint.load(Fixtures.url("tiny-bert-cls"), backend: CPUBackend())
        let eval = try model.classify(try BertGoldenTests.batch(), labels: [2, 0, 1], regularization: nil, reduction: .batchMean)
        #expect(abs(eval.loss - cpu.loss) > 1e-4)
    }

    /// read → write → read gives the same parameters, config fields and tokenizer files, and the
    /// written names are the ones `transformers` expects for the head.
    @Test(arguments: ["tiny-bert", "tiny-bert-cls", "tiny-bert-reg"])
    func checkpointRoundTrip(_ name: String) throws {
        let source = Fixtures.url(name)
        let (model, _) = try BertCheckpoint.load(source, backend: CPUBackend())
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("guided-save-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try BertCheckpoint.save(model, to: folder, configFrom: model.config, tokenizerFrom: source)

        let (reread, report) = try BertCheckpoint.load(folder, backend: CPUBackend())
        #expect(reread.architecture.head == model.architecture.head)
        #expect(report.initialized.isEmpty && report.unused.isEmpty)
        #expect(try reread.backend.download(reread.parameters) == model.backend.download(model.parameters))
        #expect(reread.config == model.config)
        let original = try SafeTensorsFile(contentsOf: source.appendingPathComponent("model.safetensors"))
        let written = try SafeTensorsFile(contentsOf: folder.appendingPathComponent("model.safetensors"))
        #expect(Set(written.names) == Set(original.names), "the same tensor names transformers wrote")
        for file in ["vocab.txt", "tokenizer_config.json"] {
            #expect(try Data(contentsOf: folder.appendingPathComponent(file)) == Data(contentsOf: source.appendingPathComponent(file)))
        }
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: folder.path)).contains { $0.hasPrefix(".") },
                "no temporary files left behind")
    }

    /// A head the checkpoint lacks is initialised as transformers does and reported.
    @Test func missingHeadIsInitialisedAndReported() throws {
        let (model, report) = try BertCheckpoint.load(Fixtures.url("tiny-bert"),
                                                      head: .sequenceClassification(labels: 4, regression: false),
                                                      backend: CPUBackend())
        #expect(Set(report.initialized) == ["pooler.dense.weight", "pooler.dense.bias", "classifier.weight", "classifier.bias"])
        #expect(report.unused.contains("cls.predictions.bias"))
        let weights = try model.parameter("classifier.weight")
        let mean = weights.reduce(0, +) / Float(weights.count)
        let std = (weights.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(weights.count)).squareRoot()
        #expect(abs(mean) < 0.01 && abs(std - 0.02) < 0.006, "normal(0, initializer_range 0.02): mean \(mean), std \(std)")
        #expect(try model.parameter("classifier.bias").allSatisfy { $0 == 0 })
    }

    /// Bad input is an error naming what is wrong, never a crash.
    @Test func badInputsAreErrors() throws {
        let (model, _) = try BertCheckpoint.load(Fixtures.url("tiny-bert-cls"), backend: CPUBackend())
        let tooLong = TokenBatch(batch: 1, tokens: 65, inputIds: Array(repeating: 5, count: 65))
        #expect(throws: ModelError.self) { try model.classify(tooLong, labels: [0], regularization: nil, reduction: .batchMean) }
        let badID = TokenBatch(batch: 1, tokens: 3, inputIds: [2, 400, 3])
        #expect { try model.classify(badID, labels: [0], regularization: nil, reduction: .batchMean) } throws: {
            "\($0)".contains("token id 400")
        }
        let ok = TokenBatch(batch: 1, tokens: 3, inputIds: [2, 10, 3])
        #expect { try model.classify(ok, labels: [3], regularization: nil, reduction: .batchMean) } throws: {
            "\($0)".contains("label 3.0")
        }
        #expect { try model.maskedLM(ok, labels: [-100, 5, -100], regularization: nil, reduction: .batchMean) } throws: {
            "\($0)".contains("BertForMaskedLM")
        }
    }
}
