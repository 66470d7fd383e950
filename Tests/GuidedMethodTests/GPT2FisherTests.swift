import Foundation
import GuidedCompute
import GuidedModel
import Testing
@testable import GuidedMethod

/// GPT-2 through the architecture-neutral pipeline: `guided fisher`'s estimator with causal-LM
/// samples gives the per-sample Fisher `transformers` computed (tools/make_gpt2_fixture.py), the
/// layer groups are GPT-2's, and the schedule reaches GPT-2's dropout sites.
@Suite(.serialized) struct GPT2FisherTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../GuidedModelTests/Fixtures").standardizedFileURL
    static let tinyGPT2 = fixtures.appendingPathComponent("tiny-gpt2")

    /// The golden batch as unpadded causal samples (what `guided fisher --corpus` makes of texts).
    static func samples() throws -> (samples: [MaskedSample], golden: SafeTensorsFile) {
        let g = try SafeTensorsFile(contentsOf: fixtures.appendingPathComponent("tiny-gpt2-golden.safetensors"))
        let shape = try #require(g["input_ids"]?.shape)
        let ids = try g.int64s("input_ids").map(Int32.init), mask = try g.int64s("attention_mask").map(Int32.init)
        let samples = (0..<shape[0]).map { n -> MaskedSample in
            let row = n * shape[1]
            let length = mask[row..<(row + shape[1])].reduce(0) { $0 + Int($1) }
            let encoding = Encoding(tokens: Array(repeating: "", count: length), inputIds: Array(ids[row..<(row + length)]),
                                    tokenTypeIds: Array(repeating: 0, count: length), attentionMask: Array(repeating: 1, count: length))
            return MaskedSample(causal: encoding)
        }
        return (samples, g)
    }

    @Test(arguments: [1, 2, 3])
    func estimatorGivesTheGoldenFisher(batchSize: Int) throws {
        let (samples, golden) = try Self.samples()
        let (model, _) = try ModelLoader.load(Self.tinyGPT2, role: .pretraining, backend: CPUBackend())
        let settings = FisherSettings(model: "tiny-gpt2", checkpointSHA256: "", inputs: [], seed: 0, fraction: 1,
                                      maxSamples: nil, maxLength: 64, chunk: false, batchSize: batchSize, shardIndex: 0,
                                      shardCount: 1, objective: model.family.objective.rawValue)
        let partial = FileManager.default.temporaryDirectory.appendingPathComponent("gpt2-fisher-\(UUID()).partial")
        let estimator = try FisherEstimator(model: model, settings: settings, samples: samples, checkpoint: partial)
        #expect(try estimator.run(progress: { _ in }, shouldStop: { false }))
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("gpt2-fisher-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: output) }
        try estimator.writeResult(to: output, prefixed: false)
        let file = try FisherFile(contentsOf: output)
        #expect(file.metadata["objective"] == "clm")
        #expect(Float(estimator.samplesCounted) == (try golden.floats("lm_fisher_count"))[0])
        for slot in model.layout.slots {
            let ours = try file.values(slot.name)
            let reference = try golden.floats("lm_fisher.transformer." + slot.name)
            let scale = reference.map(abs).max() ?? 0
            let worst = zip(ours, reference).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-4 * scale + 1e-9, "\(slot.name): |Δ| \(worst) vs max \(scale)")
        }
        // The groups and schedule of this Fisher are GPT-2's.
        let architecture = try ModelLoader.architecture(Self.tinyGPT2, role: .pretraining)
        let groups = LayerGroup.groups(names: file.names, architecture: architecture)
        #expect(groups.map(\.name) == ["embeddings", "h.0.ln_1+attn.c_attn", "h.0.attn.c_proj", "h.0.ln_2+mlp",
                                       "h.1.ln_1+attn.c_attn", "h.1.attn.c_proj", "h.1.ln_2+mlp", "ln_f"])
        #expect(groups[1].tensors.sorted() == ["h.0.attn.c_attn.bias", "h.0.attn.c_attn.weight", "h.0.ln_1.bias", "h.0.ln_1.weight"])
        #expect(groups.map { $0.site?.modulePath } == ["transformer.drop", "transformer.h.0.attn.attn_dropout",
                                                        "transformer.h.0.attn.resid_dropout", "transformer.h.0.mlp.dropout",
                                                        "transformer.h.1.attn.attn_dropout", "transformer.h.1.attn.resid_dropout",
                                                        "transformer.h.1.mlp.dropout", nil])
        let schedule = try DropoutSchedule(fisher: file, architecture: architecture)
        let classifier = try ModelLoader.architecture(Self.fixtures.appendingPathComponent("tiny-gpt2-cls"), role: .asSaved)
        let ps = schedule.probabilities(for: classifier)
        #expect(ps.count == classifier.sites.count && Set(ps).count == classifier.sites.count, "one distinct p per site")
    }

    @Test func gpt2RolesAndPrefixedNames() throws {
        let cls = Self.fixtures.appendingPathComponent("tiny-gpt2-cls")
        #expect(try ModelLoader.architecture(cls, role: .asSaved).className == "GPT2ForSequenceClassification")
        #expect(try ModelLoader.architecture(cls, role: .pretraining).className == "GPT2LMHeadModel")
        let base = try ModelLoader.architecture(cls, role: .base)
        #expect(base.className == "GPT2Model" && base.isBase && base.sites.first?.modulePath == "drop")
        let (model, report) = try ModelLoader.load(cls, role: .pretraining, backend: CPUBackend())
        #expect(report.prefixed && model.tiedTable == "wte.weight" && model.classifier == nil)
        #expect(model.family == .gpt2 && model.family.objective == .causalLM)
    }
}
