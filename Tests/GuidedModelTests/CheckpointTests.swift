import Foundation
import Testing
@testable import GuidedModel

private typealias Support = SafeTensorsTestSupport

/// A small config in transformers' format, with fields this code does not read.
private let tinyConfigJSON = """
    {
      "architectures": ["BertForMaskedLM"],
      "attention_probs_dropout_prob": 0.05,
      "hidden_act": "gelu_new",
      "hidden_size": 32,
      "intermediate_size": 64,
      "layer_norm_eps": 1e-12,
      "max_position_embeddings": 64,
      "model_type": "bert",
      "num_attention_heads": 4,
      "num_hidden_layers": 2,
      "pad_token_id": 0,
      "task_specific_params": {"fill-mask": {"top_k": 5, "scale": 1.50}},
      "transformers_version": "4.44.0",
      "type_vocab_size": 2,
      "use_cache": true,
      "vocab_size": 400
    }
    """

@Suite("BertConfig")
struct BertConfigTests {
    @Test func absentFieldsTakeTransformersDefaults() throws {
        let config = try BertConfig(data: Data("{}".utf8))
        #expect(config.vocabSize == 30522)
        #expect(config.hiddenSize == 768)
        #expect(config.numHiddenLayers == 12)
        #expect(config.numAttentionHeads == 12)
        #expect(config.intermediateSize == 3072)
        #expect(config.hiddenAct == "gelu")
        #expect(config.hiddenDropoutProb == 0.1)
        #expect(config.attentionProbsDropoutProb == 0.1)
        #expect(config.maxPositionEmbeddings == 512)
        #expect(config.typeVocabSize == 2)
        #expect(config.initializerRange == 0.02)
        #expect(config.layerNormEps == 1e-12)
        #expect(config.padTokenId == 0)
        #expect(config.classifierDropout == nil)
        #expect(config.effectiveClassifierDropout == 0.1)
        #expect(config.numLabels == 2)
        #expect(config.id2label == [0: "LABEL_0", 1: "LABEL_1"])
        #expect(config.label2id == ["LABEL_0": 0, "LABEL_1": 1])
        #expect(config.problemType == nil)
        #expect(config.modelType == "bert")
        #expect(config.architectures == nil)
        #expect(config.positionEmbeddingType == "absolute")
        #expect(config.tieWordEmbeddings)
        #expect(config.headSize == 64)
    }

    @Test func readsGivenFields() throws {
        let config = try BertConfig(data: Data(tinyConfigJSON.utf8))
        #expect(config.vocabSize == 400)
        #expect(config.hiddenSize == 32)
        #expect(config.numHiddenLayers == 2)
        #expect(config.numAttentionHeads == 4)
        #expect(config.headSize == 8)
        #expect(config.intermediateSize == 64)
        #expect(config.hiddenAct == "gelu_new")
        #expect(config.attentionProbsDropoutProb == 0.05)
        #expect(config.hiddenDropoutProb == 0.1)
        #expect(config.architectures == ["BertForMaskedLM"])
    }

    @Test func labelsComeFromID2LabelThenNumLabels() throws {
        let withMap = try BertConfig(data: Data("""
            {"id2label": {"0": "neg", "1": "neutral", "2": "pos"}, "num_labels": 2,
             "problem_type": "single_label_classification", "classifier_dropout": 0.3}
            """.utf8))
        #expect(withMap.numLabels == 3)
        #expect(withMap.id2label == [0: "neg", 1: "neutral", 2: "pos"])
        #expect(withMap.label2id == ["neg": 0, "neutral": 1, "pos": 2])
        #expect(withMap.problemType == "single_label_classification")
        #expect(withMap.classifierDropout == 0.3)
        #expect(withMap.effectiveClassifierDropout == 0.3)

        let counted = try BertConfig(data: Data(#"{"num_labels": 1, "problem_type": "regression", "classifier_dropout": null}"#.utf8))
        #expect(counted.numLabels == 1)
        #expect(counted.id2label == [0: "LABEL_0"])
        #expect(counted.problemType == "regression")
        #expect(counted.classifierDropout == nil)

        let explicit = try BertConfig(data: Data(#"{"id2label": {"1": "b", "0": "a"}, "label2id": {"A": 0, "B": 1}}"#.utf8))
        #expect(explicit.id2label == [0: "a", 1: "b"])
        #expect(explicit.label2id == ["A": 0, "B": 1])
    }

    @Test("invalid values are errors naming the file, the field and the value", arguments: [
        (#"{"num_attention_heads": "x"}"#, #"config.json: "num_attention_heads" must be a positive integer, got "x""#),
        (#"{"num_attention_heads": 0}"#, #"config.json: "num_attention_heads" must be a positive integer, got 0"#),
        (#"{"num_hidden_layers": 12.0}"#, #"config.json: "num_hidden_layers" must be a positive integer, got 12.0"#),
        (#"{"vocab_size": true}"#, #"config.json: "vocab_size" must be a positive integer, got true"#),
        (#"{"hidden_size": -768}"#, #"config.json: "hidden_size" must be a positive integer, got -768"#),
        (#"{"intermediate_size": null}"#, #"config.json: "intermediate_size" must be a positive integer, got null"#),
        (#"{"hidden_size": 30, "num_attention_heads": 4}"#,
         #"config.json: "hidden_size" (30) must be a multiple of "num_attention_heads" (4)"#),
        (#"{"hidden_act": "swish"}"#,
         #"config.json: "hidden_act" is "swish"; supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast"#),
        (#"{"hidden_act": "relu"}"#,
         #"config.json: "hidden_act" is "relu"; supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast"#),
        (#"{"hidden_act": 3}"#, #"config.json: "hidden_act" must be a string, got 3"#),
        (#"{"hidden_dropout_prob": 1.5}"#, #"config.json: "hidden_dropout_prob" must be a probability in [0, 1), got 1.5"#),
        (#"{"attention_probs_dropout_prob": "0.1"}"#,
         #"config.json: "attention_probs_dropout_prob" must be a probability in [0, 1), got "0.1""#),
        (#"{"classifier_dropout": -0.1}"#, #"config.json: "classifier_dropout" must be a probability in [0, 1), got -0.1"#),
        (#"{"layer_norm_eps": 0}"#, #"config.json: "layer_norm_eps" must be a positive number, got 0"#),
        (#"{"initializer_range": -1}"#, #"config.json: "initializer_range" must be a non-negative number, got -1"#),
        (#"{"vocab_size": 10, "pad_token_id": 10}"#,
         #"config.json: "pad_token_id" must be an integer in 0..<vocab_size (10), got 10"#),
        (#"{"model_type": "roberta"}"#, #"config.json: "model_type" is "roberta"; only BERT checkpoints ("bert") are supported"#),
        (#"{"position_embedding_type": "relative_key"}"#,
         #"config.json: "position_embedding_type" is "relative_key"; only "absolute" is supported"#),
        (#"{"problem_type": "ranking"}"#,
         #"config.json: "problem_type" is "ranking"; expected one of regression, single_label_classification, multi_label_classification or null"#),
        (#"{"id2label": {"0": "a", "2": "b"}}"#, #"config.json: "id2label" keys must be 0 to 1 with none missing, got 0, 2"#),
        (#"{"id2label": {"x": "a"}}"#,
         #"config.json: "id2label" must be an object mapping "0", "1", … to label names, got {"x":"a"}"#),
        (#"{"id2label": {"0": 1}}"#,
         #"config.json: "id2label" must be an object mapping "0", "1", … to label names, got {"0":1}"#),
        (#"{"label2id": {"a": "0"}}"#, #"config.json: "label2id" must be an object mapping label names to integer ids, got {"a":"0"}"#),
        (#"{"num_labels": 0}"#, #"config.json: "num_labels" must be a positive integer, got 0"#),
        (#"{"architectures": "BertModel"}"#, #"config.json: "architectures" must be an array of strings, got "BertModel""#),
        (#"{"tie_word_embeddings": 1}"#, #"config.json: "tie_word_embeddings" must be true or false, got 1"#),
        (#"{"hidden_size": 768, "hidden_size": 32}"#, #"config.json: not valid JSON: duplicate key "hidden_size" at byte 21"#),
        (#"{"hidden_size": }"#, #"config.json: not valid JSON: unexpected character, expected a value at byte 16"#),
        (#"[1]"#, #"config.json: expected a JSON object, got an array"#),
    ])
    func invalid(_ json: String, _ message: String) {
        #expect(throws: ModelError(message)) { _ = try BertConfig(data: Data(json.utf8)) }
    }

    @Test func everySupportedActivationIsAccepted() throws {
        for act in BertConfig.supportedHiddenActs {
            #expect(try BertConfig(data: Data(#"{"hidden_act": "\#(act)"}"#.utf8)).hiddenAct == act)
        }
    }

    @Test func jsonDataKeepsOriginalFieldsAndAppliesUpdates() throws {
        let config = try BertConfig(data: Data(tinyConfigJSON.utf8))
        let noOptional: Double? = nil
        let written = try config.jsonData(updating: [
            "architectures": ["BertForSequenceClassification"],
            "id2label": [0: "neg", 1: "pos"],
            "label2id": ["neg": 0, "pos": 1],
            "num_labels": 2,
            "problem_type": "single_label_classification",
            "classifier_dropout": noOptional as Any,
            "hidden_dropout_prob": 0.25,
            "torch_dtype": NSNull(),
        ])
        let text = String(decoding: written, as: UTF8.self)
        // Literal numbers are kept as written; unknown fields are kept; keys sorted; 2-space indent.
        #expect(text.contains("\n  \"layer_norm_eps\": 1e-12,\n"))
        #expect(text.contains("\"scale\": 1.50"))
        #expect(text.contains("\"transformers_version\": \"4.44.0\""))
        #expect(text.contains("\"use_cache\": true"))
        #expect(text.contains("\"hidden_dropout_prob\": 0.25"))
        #expect(text.contains("\"classifier_dropout\": null"))
        #expect(text.contains("\"architectures\": [\n    \"BertForSequenceClassification\"\n  ]"))
        #expect(text.hasPrefix("{\n  \"architectures\""))
        #expect(text.hasSuffix("}\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: written) as? [String: Any])
        let keys = Array(object.keys).sorted()
        #expect(keys.count == 23)
        let topLevelKeyOrder = text.split(separator: "\n").filter { $0.hasPrefix("  \"") }
            .map { String($0.dropFirst(3).prefix(while: { $0 != "\"" })) }
        #expect(topLevelKeyOrder == keys)

        let reread = try BertConfig(data: written)
        #expect(reread.numLabels == 2)
        #expect(reread.id2label == [0: "neg", 1: "pos"])
        #expect(reread.architectures == ["BertForSequenceClassification"])
        #expect(reread.hiddenDropoutProb == 0.25)
        #expect(reread.vocabSize == config.vocabSize)
        // With no updates, the parsed config is unchanged (equality ignores formatting).
        #expect(try BertConfig(data: config.jsonData(updating: [:])) == config)
        #expect(reread != config)
    }

    @Test func jsonDataRejectsValuesJSONCannotHold() throws {
        let config = try BertConfig(data: Data("{}".utf8))
        #expect(throws: ModelError(#"config.json: cannot write "x": nan is not a finite number"#)) {
            _ = try config.jsonData(updating: ["x": Double.nan])
        }
        #expect(throws: ModelError(#"config.json: cannot write "y": values of type Date cannot be written as JSON"#)) {
            _ = try config.jsonData(updating: ["y": Date()])
        }
    }

    @Test func readsFromDiskAndNamesTheFile() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("config.json")
        try Data(#"{"num_attention_heads": "x"}"#.utf8).write(to: url)
        #expect(throws: ModelError(#"\#(url.path): "num_attention_heads" must be a positive integer, got "x""#)) {
            _ = try BertConfig(contentsOf: url)
        }
        let absent = folder.appendingPathComponent("none.json")
        #expect(throws: ModelError("\(absent.path): no such file")) { _ = try BertConfig(contentsOf: absent) }
    }
}

@Suite("CheckpointFolder")
struct CheckpointFolderTests {
    static let prefixed: [SafeTensorsWriter.Tensor] = [
        (name: "bert.embeddings.word_embeddings.weight", shape: [3, 2], values: [1, 2, 3, 4, 5, 6]),
        (name: "bert.encoder.layer.0.output.dense.bias", shape: [2], values: [0.5, -0.5]),
        (name: "cls.predictions.bias", shape: [3], values: [7, 8, 9]),
    ]

    private func makeFolder(config: String = tinyConfigJSON) throws -> URL {
        let folder = try Support.temporaryFolder()
        try Data(config.utf8).write(to: folder.appendingPathComponent("config.json"))
        return folder
    }

    @Test func singleFileWithPrefixedNames() throws {
        let folder = try makeFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = folder.appendingPathComponent("model.safetensors")
        try SafeTensorsWriter.write(Self.prefixed, metadata: ["format": "pt"], to: weights)

        let checkpoint = try CheckpointFolder(url: folder)
        #expect(try checkpoint.bertConfig().hiddenSize == 32)
        #expect(checkpoint.tensorNames == Self.prefixed.map(\.name))
        #expect(checkpoint.files.count == 1)
        let (entry, file) = try #require(checkpoint.entry("bert.encoder.layer.0.output.dense.bias"))
        #expect(entry.shape == [2])
        #expect(file == weights.path)
        #expect(checkpoint.entry("encoder.layer.0.output.dense.bias") == nil)
        #expect(checkpoint.contains("cls.predictions.bias"))
        #expect(try checkpoint.floats("cls.predictions.bias") == [7, 8, 9])
        Support.expectError([folder.path, "no tensor \"embeddings.word_embeddings.weight\"",
                             "it has \"bert.embeddings.word_embeddings.weight\""]) {
            _ = try checkpoint.floats("embeddings.word_embeddings.weight")
        }
    }

    @Test func singleFileWithUnprefixedNamesAndIntegerTensors() throws {
        let folder = try makeFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let header = "{\"embeddings.position_ids\":{\"dtype\":\"I64\",\"shape\":[1,3],\"data_offsets\":[0,24]},"
            + "\"embeddings.LayerNorm.weight\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[24,28]}}"
        try Support.file(header: header, data: Support.bytes([Int64(0), 1, 2]) + Support.bytes([UInt16(0x3C00), 0xC000]))
            .write(to: folder.appendingPathComponent("model.safetensors"))
        let checkpoint = try CheckpointFolder(url: folder)
        #expect(checkpoint.tensorNames == ["embeddings.position_ids", "embeddings.LayerNorm.weight"])
        #expect(try checkpoint.int64s("embeddings.position_ids") == [0, 1, 2])
        #expect(try checkpoint.floats("embeddings.LayerNorm.weight") == [1, -2])
        #expect(checkpoint.entry("bert.embeddings.position_ids") == nil)
    }

    /// Writes a 2-shard checkpoint: shard 1 has the first two tensors, shard 2 the third.
    private func writeShards(in folder: URL, weightMap: [String: String]? = nil, extraInShard2: [SafeTensorsWriter.Tensor] = []) throws {
        let shard1 = "model-00001-of-00002.safetensors", shard2 = "model-00002-of-00002.safetensors"
        try SafeTensorsWriter.write(Array(Self.prefixed[0..<2]), metadata: ["format": "pt"],
                                    to: folder.appendingPathComponent(shard1))
        try SafeTensorsWriter.write([Self.prefixed[2]] + extraInShard2, metadata: ["format": "pt"],
                                    to: folder.appendingPathComponent(shard2))
        let map = weightMap ?? [Self.prefixed[0].name: shard1, Self.prefixed[1].name: shard1, Self.prefixed[2].name: shard2]
        let index: [String: Any] = ["metadata": ["total_size": 44], "weight_map": map]
        try JSONSerialization.data(withJSONObject: index, options: [.sortedKeys])
            .write(to: folder.appendingPathComponent("model.safetensors.index.json"))
    }

    @Test func twoShardIndex() throws {
        let folder = try makeFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try writeShards(in: folder)
        let checkpoint = try CheckpointFolder(url: folder)
        #expect(checkpoint.files.count == 2)
        #expect(checkpoint.tensorNames == Self.prefixed.map(\.name))
        #expect(checkpoint.entry("cls.predictions.bias")?.file
                == folder.appendingPathComponent("model-00002-of-00002.safetensors").path)
        #expect(checkpoint.entry(Self.prefixed[0].name)?.file
                == folder.appendingPathComponent("model-00001-of-00002.safetensors").path)
        for tensor in Self.prefixed {
            #expect(try checkpoint.floats(tensor.name) == tensor.values)
        }
    }

    @Test func shardedIndexErrors() throws {
        let folder = try makeFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let index = folder.appendingPathComponent("model.safetensors.index.json").path

        try writeShards(in: folder, weightMap: ["cls.predictions.bias": "model-00003-of-00003.safetensors"])
        Support.expectError([index, "shard \"model-00003-of-00003.safetensors\" is missing"]) {
            _ = try CheckpointFolder(url: folder)
        }
        try writeShards(in: folder, weightMap: ["cls.predictions.bias": "model-00001-of-00002.safetensors"])
        Support.expectError([index, "tensor \"cls.predictions.bias\"", "model-00001-of-00002.safetensors", "no such tensor"]) {
            _ = try CheckpointFolder(url: folder)
        }
        try writeShards(in: folder, weightMap: ["x": "../model.safetensors"])
        Support.expectError([index, "tensor \"x\"", "\"../model.safetensors\"", "a file in the checkpoint folder"]) {
            _ = try CheckpointFolder(url: folder)
        }
        try writeShards(in: folder, extraInShard2: [Self.prefixed[0]])
        Support.expectError([folder.path, "tensor \"\(Self.prefixed[0].name)\" is stored twice"]) {
            _ = try CheckpointFolder(url: folder)
        }
        try Data(#"{"weight_map": ["a"]}"#.utf8).write(to: URL(fileURLWithPath: index))
        Support.expectError([index, "\"weight_map\" must be an object"]) { _ = try CheckpointFolder(url: folder) }
        try Data(#"{"metadata": {}}"#.utf8).write(to: URL(fileURLWithPath: index))
        Support.expectError([index, "missing \"weight_map\""]) { _ = try CheckpointFolder(url: folder) }
    }

    @Test func aSingleFileIsPreferredOverAnIndex() throws {
        let folder = try makeFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("not json".utf8).write(to: folder.appendingPathComponent("model.safetensors.index.json"))
        try SafeTensorsWriter.write([Self.prefixed[2]], metadata: [:], to: folder.appendingPathComponent("model.safetensors"))
        #expect(try CheckpointFolder(url: folder).tensorNames == ["cls.predictions.bias"])
    }

    @Test func pytorchOnlyFolderSaysHowToConvert() throws {
        let folder = try makeFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("not really a pickle".utf8).write(to: folder.appendingPathComponent("pytorch_model.bin"))
        Support.expectError([folder.path, "PyTorch weights (pytorch_model.bin)", "no model.safetensors",
                             "from transformers import BertForMaskedLM",
                             "BertForMaskedLM.from_pretrained('\(folder.path)').save_pretrained('\(folder.path)', safe_serialization=True)"]) {
            _ = try CheckpointFolder(url: folder)
        }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("pytorch_model.bin"))
        try Data().write(to: folder.appendingPathComponent("tf_model.h5"))
        Support.expectError([folder.path, "TensorFlow weights (tf_model.h5)", "from_tf=True", "safe_serialization=True"]) {
            _ = try CheckpointFolder(url: folder)
        }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("tf_model.h5"))
        Support.expectError([folder.path, "no model.safetensors or model.safetensors.index.json"]) {
            _ = try CheckpointFolder(url: folder)
        }
    }

    @Test func missingFolderConfigOrAFileInsteadOfAFolder() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let absent = folder.appendingPathComponent("absent")
        Support.expectError([absent.path, "no such directory"]) { _ = try CheckpointFolder(url: absent) }
        try SafeTensorsWriter.write([Self.prefixed[2]], metadata: [:], to: folder.appendingPathComponent("model.safetensors"))
        Support.expectError([folder.path, "no config.json"]) { _ = try CheckpointFolder(url: folder) }
        Support.expectError(["model.safetensors", "is a file, not a directory"]) {
            _ = try CheckpointFolder(url: folder.appendingPathComponent("model.safetensors"))
        }
        try Data(#"{"num_attention_heads": 5}"#.utf8).write(to: folder.appendingPathComponent("config.json"))
        // The folder opens (it reads only model_type and architectures); the BERT config is parsed on request.
        Support.expectError([folder.appendingPathComponent("config.json").path, "multiple of \"num_attention_heads\" (5)"]) {
            _ = try CheckpointFolder(url: folder).bertConfig()
        }
    }

    @Test func aCorruptWeightsFileNamesIt() throws {
        let folder = try makeFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = folder.appendingPathComponent("model.safetensors")
        try SafeTensorsWriter.write(Self.prefixed, metadata: [:], to: weights)
        let whole = try Data(contentsOf: weights)
        try whole.prefix(whole.count - 4).write(to: weights)  // truncated
        Support.expectError([weights.path, "tensor \"cls.predictions.bias\"", "end beyond the data block"]) {
            _ = try CheckpointFolder(url: folder)
        }
    }
}
