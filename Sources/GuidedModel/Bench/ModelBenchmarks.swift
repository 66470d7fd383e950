import Foundation
import GuidedCompute

/// One row of `guided bench --models`: a BERT-shaped model with random weights at batch × tokens.
public struct ModelBenchResult: Codable, Sendable {
    public let shape: String
    public let backend: String
    public let batch: Int
    public let tokens: Int
    /// Evaluation forward (no dropout, no backward), samples per second.
    public let forwardSamplesPerSecond: Double
    /// Forward + backward + AdamW with dropout 0.1 at every site, samples per second.
    public let trainStepSamplesPerSecond: Double
    /// The same step with a guided schedule (p from 0.1 down to 0 across the sites), samples per second.
    public let guidedStepSamplesPerSecond: Double
    /// The process's peak resident memory after the run (MiB): compare one backend per process.
    public let peakResidentMiB: Double
}

/// One row of `guided bench --fisher`: exact per-sample Fisher of a BertForMaskedLM with random
/// weights, batched against one sample at a time (the paper code's method) in the same run.
public struct FisherBenchResult: Codable, Sendable {
    public let shape: String
    public let backend: String
    public let batch: Int
    public let tokens: Int
    /// Predicted (masked) tokens per sample.
    public let predicted: Int
    public let batchedSamplesPerSecond: Double
    public let batchOneSamplesPerSecond: Double
    public let peakResidentMiB: Double
}

public enum ModelBenchmarks {
    /// A model of `shape`'s family and sizes with random weights (as `transformers` initialises a
    /// new one) in `role`, from the `config.json` `transformers` would write for it.
    public static func model(_ shape: BenchShape, role: ModelRole, backend: Backend) throws -> any LanguageModel {
        if shape.family == "gpt2" {
            let json: [String: Any] = [
                "model_type": "gpt2", "vocab_size": shape.vocab, "n_embd": shape.hidden, "n_layer": shape.layers,
                "n_head": shape.heads, "n_inner": shape.ffn, "n_positions": 1024, "activation_function": "gelu_new",
                "pad_token_id": shape.vocab - 1,
            ]
            let config = try GPT2Config(data: JSONSerialization.data(withJSONObject: json), path: "\(shape.name) config")
            let architecture = try GPT2Architecture(config: config, head: GPT2Checkpoint.head(for: role, config: config))
            return try GPT2Model.randomlyInitialized(architecture, backend: backend, seed: 1)
        }
        let json: [String: Any] = [
            "architectures": ["BertForSequenceClassification"], "model_type": "bert", "vocab_size": shape.vocab,
            "hidden_size": shape.hidden, "num_hidden_layers": shape.layers, "num_attention_heads": shape.heads,
            "intermediate_size": shape.ffn, "max_position_embeddings": 512, "hidden_act": "gelu",
        ]
        let config = try BertConfig(data: JSONSerialization.data(withJSONObject: json), path: "\(shape.name) config")
        let architecture = try BertArchitecture(config: config, head: BertCheckpoint.head(for: role, config: config))
        return try BertModel.randomlyInitialized(architecture, backend: backend, seed: 1)
    }

    /// The benchmark batch: full-length BERT rows; GPT-2 rows right-padded as tools/bench_torch.py
    /// pads them (row i of B keeps T − ⌊i·T/2B⌋ tokens), so both sides time the same work.
    static func batch(_ shape: BenchShape, padding: Int32) -> TokenBatch {
        let b = shape.batch, t = shape.tokens
        var ids = (0..<(b * t)).map { Int32(1000 + ($0 * 7919) % 29000) }
        var mask = [Int32](repeating: 1, count: b * t)
        if shape.family == "gpt2" {
            for n in 0..<b {
                for j in (t - n * t / (2 * b))..<t {
                    ids[n * t + j] = padding
                    mask[n * t + j] = 0
                }
            }
        }
        return TokenBatch(batch: b, tokens: t, inputIds: ids, attentionMask: mask)
    }

    /// Times `steps` evaluation forwards and `steps` training steps after one warm-up of each.
    public static func run(_ shape: BenchShape, on backend: Backend, steps: Int) throws -> ModelBenchResult {
        let model = try model(shape, role: .classification(labels: 2, regression: false), backend: backend)
        let architecture = model.architecture
        let b = shape.batch, t = shape.tokens
        let batch = batch(shape, padding: model.paddingId)
        let labels = (0..<b).map { Float($0 % 2) }
        let sink = try GradientAccumulator(backend: backend, layout: architecture.layout)
        let m = try backend.allocate(architecture.layout.totalCount), v = try backend.allocate(architecture.layout.totalCount)
        let noise = architecture.sites.map { _ in Noise.bernoulli(0.1) as Noise? }
        // A guided-shaped schedule: distinct p per site, linear from 0.1 to 0 (the top site is off).
        let n = architecture.sites.count
        let guided = architecture.sites.map { site -> Noise? in
            .bernoulli(Float(0.1 * Double(n - 1 - site.index) / Double(max(1, n - 1))))
        }

        func forward() throws {
            try model.classifierStep(batch, labels: labels, regularization: nil, reduction: .batchMean, backwardInto: nil)
        }
        func trainStep(_ step: Int, _ noise: [Noise?]) throws {
            try sink.zero()
            try model.classifierStep(batch, labels: labels, regularization: Regularization(noise: noise, seed: 1, step: UInt32(step)),
                                     reduction: .batchMean, backwardInto: sink)
            try backend.adamW(parameters: model.parameters, gradients: sink.gradients, m: m, v: v,
                              hyper: AdamHyper(learningRate: 2e-5, step: step))
        }
        func seconds(_ body: () throws -> Void) throws -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            try backend.synchronize()
            return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        }
        try forward()
        let forwardTime = try seconds { for _ in 0..<steps { try forward() } } / Double(steps)
        try trainStep(1, noise)
        // Interleaved so that machine noise hits both alike.
        var trainTime = 0.0, guidedTime = 0.0
        for s in 0..<steps {
            trainTime += try seconds { try trainStep(2 * s + 2, noise) }
            guidedTime += try seconds { try trainStep(2 * s + 3, guided) }
        }
        trainTime /= Double(steps)
        guidedTime /= Double(steps)
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return ModelBenchResult(shape: shape.name, backend: backend is OpenCLBackend ? "opencl" : "cpu", batch: b, tokens: t,
                                forwardSamplesPerSecond: Double(b) / forwardTime,
                                trainStepSamplesPerSecond: Double(b) / trainTime,
                                guidedStepSamplesPerSecond: Double(b) / guidedTime,
                                peakResidentMiB: Double(usage.ru_maxrss) / 1024)
    }

    /// Times the Fisher accumulation (pretraining forward, backward, per-sample squaring) of
    /// `rounds` batches of `shape.batch` samples, and of the same samples one at a time,
    /// interleaved so that machine noise hits both alike. BERT: every 7th token is predicted
    /// (~15%, as the MLM collator); GPT-2: every token after the first (the causal LM).
    public static func fisher(_ shape: BenchShape, on backend: Backend, rounds: Int) throws -> FisherBenchResult {
        let model = try model(shape, role: .pretraining, backend: backend)
        let accumulator = try FisherAccumulator(backend: backend, layout: model.layout, tiedTable: model.tiedTable)
        let b = shape.batch, t = shape.tokens
        let ids = (0..<(b * t)).map { Int32(1000 + ($0 * 7919) % 29000) }
        let causal = shape.family == "gpt2"
        let labels = (0..<(b * t)).map { causal ? ($0 % t == 0 ? -100 : ids[$0]) : ($0 % 7 == 3 ? ids[$0] : -100) }
        func accumulate(_ samples: Range<Int>) throws {
            let rows = samples.count * t, start = samples.lowerBound * t
            let batch = TokenBatch(batch: samples.count, tokens: t, inputIds: Array(ids[start..<(start + rows)]))
            try model.pretrainingStep(batch, labels: Array(labels[start..<(start + rows)]), regularization: nil,
                                      reduction: .perSampleMean, backwardInto: accumulator)
            try backend.synchronize()
        }
        func seconds(_ body: () throws -> Void) throws -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        }
        try accumulate(0..<b)
        try accumulate(0..<1)
        var batched = 0.0, single = 0.0
        for _ in 0..<rounds {
            batched += try seconds { try accumulate(0..<b) }
            single += try seconds { for n in 0..<b { try accumulate(n..<(n + 1)) } }
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let samples = Double(rounds * b)
        return FisherBenchResult(shape: shape.name, backend: backend is OpenCLBackend ? "opencl" : "cpu", batch: b, tokens: t,
                                 predicted: labels[0..<t].filter { $0 != -100 }.count,
                                 batchedSamplesPerSecond: samples / batched, batchOneSamplesPerSecond: samples / single,
                                 peakResidentMiB: Double(usage.ru_maxrss) / 1024)
    }
}
