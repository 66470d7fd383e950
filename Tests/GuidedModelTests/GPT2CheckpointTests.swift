import Foundation
import GuidedCompute
import Testing
@testable import GuidedModel

/// GPT-2 configs, checkpoint loading and saving, and bad inputs.
@Suite(.serialized) struct GPT2CheckpointTests {
    static func config(_ json: String) throws -> GPT2Config {
        try GPT2Config(data: Data(json.utf8), path: "/tmp/gpt2/config.json")
    }

    @Test func configDefaultsAreTransformers() throws {
        let c = try Self.config(#"{"model_type": "gpt2"}"#)
        #expect(c.vocabSize == 50257 && c.maxPositions == 1024 && c.hiddenSize == 768 && c.numLayers == 12)
        #expect(c.numHeads == 12 && c.innerSize == 3072 && c.geluForm == .tanh && c.layerNormEpsilon == 1e-5)
        #expect(c.residDropout == 0.1 && c.embdDropout == 0.1 && c.attnDropout == 0.1 && c.initializerRange == 0.02)
        #expect(c.bosTokenId == 50256 && c.eosTokenId == 50256 && c.padTokenId == nil && c.numLabels == 2)
        let small = try Self.config(#"{"model_type": "gpt2", "n_embd": 8, "n_head": 2, "n_inner": 20, "activation_function": "gelu", "vocab_size": 10, "pad_token_id": 3, "num_labels": 1}"#)
        #expect(small.innerSize == 20 && small.geluForm == .erf && small.padTokenId == 3 && small.isRegression)
        #expect(try Self.config(#"{"model_type": "gpt2", "activation_function": "gelu_pytorch_tanh"}"#).geluForm == .tanh)
    }

    /// Each unsupported config is an error naming the file and the key.
    @Test(arguments: [
        (#"{"model_type": "bert"}"#, "\"model_type\" is \"bert\""),
        (#"{}"#, "\"model_type\" is \"\""),
        (#"{"model_type": "gpt2", "activation_function": "relu"}"#, "\"activation_function\" is \"relu\""),
        (#"{"model_type": "gpt2", "tie_word_embeddings": false}"#, "untied lm_head is not supported"),
        (#"{"model_type": "gpt2", "scale_attn_weights": false}"#, "\"scale_attn_weights\" is false"),
        (#"{"model_type": "gpt2", "scale_attn_by_inverse_layer_idx": true}"#, "\"scale_attn_by_inverse_layer_idx\""),
        (#"{"model_type": "gpt2", "add_cross_attention": true}"#, "\"add_cross_attention\""),
        (#"{"model_type": "gpt2", "n_embd": 30, "n_head": 4}"#, "\"n_embd\" (30) must be a multiple of \"n_head\" (4)"),
        (#"{"model_type": "gpt2", "n_layer": 0}"#, "\"n_layer\" must be a positive integer"),
        (#"{"model_type": "gpt2", "vocab_size": 10, "eos_token_id": 10}"#, "\"eos_token_id\" must be an integer in 0..<vocab_size"),
    ])
    func badConfigsAreErrors(_ json: String, _ expected: String) throws {
        #expect { try Self.config(json) } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("/tmp/gpt2/config.json: ") && text.contains(expected)
        }
    }

    @Test func layoutAndSitesFollowTransformers() throws {
        let c = try Self.config(#"{"model_type": "gpt2", "n_embd": 8, "n_head": 2, "n_layer": 2, "vocab_size": 10, "n_positions": 6}"#)
        let lm = try GPT2Architecture(config: c, head: .languageModel)
        #expect(lm.layout["h.1.attn.c_attn.weight"]?.shape == [8, 24] && lm.layout["h.0.mlp.c_proj.weight"]?.shape == [32, 8])
        #expect(lm.layout.slots.first?.name == "wte.weight" && lm.layout.slots.last?.name == "ln_f.bias")
        #expect(lm.layout["lm_head.weight"] == nil && lm.layout.slots.count == 2 + 12 * 2 + 2)
        #expect(lm.sites.map(\.modulePath) == ["transformer.drop",
                                              "transformer.h.0.attn.attn_dropout", "transformer.h.0.attn.resid_dropout",
                                              "transformer.h.0.mlp.dropout",
                                              "transformer.h.1.attn.attn_dropout", "transformer.h.1.attn.resid_dropout",
                                              "transformer.h.1.mlp.dropout"])
        let base = try GPT2Architecture(config: c, head: .base)
        #expect(base.site(.embeddings).modulePath == "drop" && base.checkpointName(base.layout.slots[0]) == "wte.weight")
        let cls = try GPT2Architecture(config: c, head: .sequenceClassification(labels: 3, regression: false))
        #expect(cls.layout["score.weight"]?.shape == [3, 8] && cls.layout["score.bias"] == nil)
        #expect(cls.checkpointName(cls.layout.slots.last!) == "score.weight")
        #expect(cls.checkpointName(cls.layout.slots[0]) == "transformer.wte.weight")
        #expect(!cls.sites.contains { $0.kind == .classifier })
    }

    /// The bare-named LM fixture: every parameter found, the old mask buffers reported unused.
    @Test func loadReportsBareNamesAndUnusedBuffers() throws {
        let (_, report) = try GPT2Checkpoint.load(Fixtures.url("tiny-gpt2"), backend: CPUBackend())
        #expect(!report.prefixed && report.initialized.isEmpty)
        #expect(report.unused == ["h.0.attn.bias", "h.0.attn.masked_bias", "h.1.attn.bias", "h.1.attn.masked_bias"])
    }

    /// A head the checkpoint lacks is initialised as transformers does and reported.
    @Test func missingScoreIsInitialisedAndReported() throws {
        let (model, report) = try GPT2Checkpoint.load(Fixtures.url("tiny-gpt2"),
                                                      head: .sequenceClassification(labels: 4, regression: false),
                                                      backend: CPUBackend(), seed: 3)
        #expect(report.initialized == ["score.weight"])
        let weights = try model.parameter("score.weight")
        let mean = weights.reduce(0, +) / Float(weights.count)
        let std = (weights.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(weights.count)).squareRoot()
        #expect(abs(mean) < 0.006 && abs(std - 0.02) < 0.005, "normal(0, initializer_range 0.02): mean \(mean), std \(std)")
    }

    /// `randomlyInitialized` follows GPT-2's `_init_weights`: c_proj weights scaled by 1/√(2·n_layer).
    @Test func randomInitialisationScalesResidualProjections() throws {
        let c = try Self.config(#"{"model_type": "gpt2", "n_embd": 64, "n_head": 2, "n_layer": 8, "vocab_size": 50, "n_positions": 8}"#)
        let model = try GPT2Model.randomlyInitialized(GPT2Architecture(config: c, head: .languageModel), backend: CPUBackend(), seed: 1)
        func std(_ name: String) throws -> Float {
            let v = try model.parameter(name)
            return (v.map { $0 * $0 }.reduce(0, +) / Float(v.count)).squareRoot()
        }
        #expect(abs(try std("h.0.attn.c_attn.weight") - 0.02) < 0.001)
        #expect(abs(try std("h.3.mlp.c_proj.weight") - 0.02 / 4) < 0.0003)
        #expect(try model.parameter("h.2.ln_1.weight").allSatisfy { $0 == 1 } && model.parameter("h.2.mlp.c_fc.bias").allSatisfy { $0 == 0 })
    }

    /// A stored `lm_head.weight` is the tied wte: counted as used; a wrong shape is an error naming it.
    @Test func storedLMHeadIsUsed() throws {
        let (model, _) = try GPT2Checkpoint.load(Fixtures.url("tiny-gpt2"), backend: CPUBackend())
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("guided-gpt2-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try GPT2Checkpoint.save(model, to: folder, configFrom: model.config, tokenizerFrom: nil)
        let weights = folder.appendingPathComponent("model.safetensors")
        let file = try SafeTensorsFile(contentsOf: weights)
        var tensors = try file.names.map { (name: $0, shape: file[$0]!.shape, values: try file.floats($0)) }
        tensors.append((name: "lm_head.weight", shape: [1000, 32], values: try model.parameter("wte.weight")))
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: weights)
        let (_, report) = try GPT2Checkpoint.load(folder, backend: CPUBackend())
        #expect(report.unused.isEmpty && report.initialized.isEmpty && report.prefixed)

        tensors[tensors.count - 1] = (name: "transformer.wpe.weight2", shape: [2], values: [0, 0])
        tensors[1].shape = [32, 64]
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: weights)
        #expect { try GPT2Checkpoint.load(folder, backend: CPUBackend()) } throws: {
            "\($0)".contains("model.safetensors: tensor transformer.wpe.weight has shape [32, 64], expected [64, 32]")
        }
    }

    /// read → write → read gives the same parameters, config and tokenizer files; the written names
    /// are the ones `transformers`' save_pretrained writes (no lm_head), and no temporary file is left.
    @Test(arguments: ["tiny-gpt2", "tiny-gpt2-cls", "tiny-gpt2-reg"])
    func checkpointRoundTrip(_ name: String) throws {
        let source = Fixtures.url(name)
        let (model, _) = try GPT2Checkpoint.load(source, backend: CPUBackend())
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("guided-gpt2-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try GPT2Checkpoint.save(model, to: folder, configFrom: model.config, tokenizerFrom: source)

        let (reread, report) = try GPT2Checkpoint.load(folder, backend: CPUBackend())
        #expect(reread.architecture.head == model.architecture.head)
        #expect(report.initialized.isEmpty && report.unused.isEmpty && report.prefixed)
        #expect(try reread.backend.download(reread.parameters) == model.backend.download(model.parameters))
        #expect(reread.config == model.config)
        let written = try SafeTensorsFile(contentsOf: folder.appendingPathComponent("model.safetensors"))
        #expect(written.names == model.layout.slots.map { model.architecture.checkpointName($0) })
        #expect(!written.names.contains("lm_head.weight") && written.names.first == "transformer.wte.weight")
        for file in ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"] {
            #expect(try Data(contentsOf: folder.appendingPathComponent(file)) == Data(contentsOf: source.appendingPathComponent(file)))
        }
        #expect(try GPT2Tokenizer(folder: folder).ids(of: "The cat sat") == GPT2Tokenizer(folder: source).ids(of: "The cat sat"))
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: folder.path)).contains { $0.hasPrefix(".") })
    }

    /// Writes each fixture back with guided, plus `guided-logits.safetensors` (the golden batch and the
    /// logits guided computes), for `tools/make_gpt2_fixture.py --check-guided`. Into GUIDED_GPT2_EXPORT
    /// when set (kept), else a temporary folder (removed).
    @Test func exportForTransformersCheck() throws {
        let keep = ProcessInfo.processInfo.environment["GUIDED_GPT2_EXPORT"].map { URL(fileURLWithPath: $0) }
        let root = keep ?? FileManager.default.temporaryDirectory.appendingPathComponent("guided-gpt2-\(UUID().uuidString)")
        defer { if keep == nil { try? FileManager.default.removeItem(at: root) } }
        let batch = try GPT2GoldenTests.batch(), labels = try GPT2GoldenTests.labels()
        for name in ["tiny-gpt2", "tiny-gpt2-cls", "tiny-gpt2-reg"] {
            let (model, _) = try GPT2Checkpoint.load(Fixtures.url(name), backend: CPUBackend())
            let folder = root.appendingPathComponent(name)
            try GPT2Checkpoint.save(model, to: folder, configFrom: model.config, tokenizerFrom: Fixtures.url(name))
            let shape = [batch.batch, batch.tokens]
            var tensors: [SafeTensorsWriter.Tensor] = [
                ("input_ids", shape, batch.inputIds.map(Float.init)),
                ("attention_mask", shape, batch.attentionMask.map(Float.init)),
            ]
            if model.architecture.head == .languageModel {
                let logits = try model.predictedLogits(model.causalLM(batch, labels: labels, regularization: nil, reduction: .batchMean))
                tensors.append(("labels", shape, labels.map(Float.init)))
                tensors.append(("logits", [logits.count / model.architecture.vocabulary, model.architecture.vocabulary], logits))
            } else {
                let pass = try model.classify(batch, labels: Array(repeating: 0, count: batch.batch), regularization: nil,
                                              reduction: .batchMean)
                tensors.append(("logits", [batch.batch, pass.logits.count / batch.batch], pass.logits))
            }
            try SafeTensorsWriter.write(tensors, metadata: [:], to: folder.appendingPathComponent("guided-logits.safetensors"))
            #expect(try CheckpointFolder(url: folder).gpt2Config() == model.config)
        }
    }

    /// Bad input is an error naming what is wrong, never a crash.
    @Test func badInputsAreErrors() throws {
        let (model, _) = try GPT2Checkpoint.load(Fixtures.url("tiny-gpt2-cls"), backend: CPUBackend())
        let tooLong = TokenBatch(batch: 1, tokens: 65, inputIds: Array(repeating: 5, count: 65))
        #expect { try model.classify(tooLong, labels: [0], regularization: nil, reduction: .batchMean) } throws: {
            "\($0)".contains("n_positions 64")
        }
        let badID = TokenBatch(batch: 1, tokens: 3, inputIds: [2, 1000, 3])
        #expect { try model.classify(badID, labels: [0], regularization: nil, reduction: .batchMean) } throws: {
            "\($0)".contains("token id 1000")
        }
        let ok = TokenBatch(batch: 1, tokens: 3, inputIds: [2, 10, 3])
        #expect { try model.classify(ok, labels: [3], regularization: nil, reduction: .batchMean) } throws: {
            "\($0)".contains("label 3.0")
        }
        #expect { try model.causalLM(ok, labels: [2, 10, 3], regularization: nil, reduction: .batchMean) } throws: {
            "\($0)".contains("GPT2LMHeadModel")
        }
        // The LM fixture has no pad_token_id: loaded as a classifier it pads with eos, and says so...
        let (withPad, report) = try GPT2Checkpoint.load(Fixtures.url("tiny-gpt2"),
                                                        head: .sequenceClassification(labels: 2, regression: false), backend: CPUBackend())
        #expect(withPad.config.padTokenId == withPad.config.eosTokenId && report.notes.count == 1)
        // ...while a classifier built on its config as it is can take a batch of one only.
        let config = try CheckpointFolder(url: Fixtures.url("tiny-gpt2")).gpt2Config()
        let noPad = try GPT2Model.randomlyInitialized(
            GPT2Architecture(config: config, head: .sequenceClassification(labels: 2, regression: false)), backend: CPUBackend(), seed: 1)
        let two = TokenBatch(batch: 2, tokens: 3, inputIds: [2, 10, 3, 4, 5, 6])
        #expect { try noPad.classify(two, labels: [0, 1], regularization: nil, reduction: .batchMean) } throws: {
            "\($0)".contains("without \"pad_token_id\"")
        }
        #expect(try noPad.classificationPositions(ok) == [2])
        // With the pad id (0 here), the last token that is not it; 0 when every token is padding.
        let padded = TokenBatch(batch: 3, tokens: 4, inputIds: [5, 6, 0, 0, 0, 7, 8, 9, 0, 0, 0, 0])
        #expect(try model.classificationPositions(padded) == [1, 3, 0])
    }
}
