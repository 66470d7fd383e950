import Foundation
import GuidedMethod
import GuidedModel
import Testing

@Suite struct FisherFileTests {
    let names = ["a.weight", "a.bias"]
    let shapes = ["a.weight": [2, 3], "a.bias": [3]]

    func file(_ w: [Float], _ b: [Float], _ metadata: [String: String]) throws -> FisherFile {
        try FisherFile(names: names, shapes: shapes, values: ["a.weight": w, "a.bias": b], metadata: metadata)
    }

    @Test func roundTripKeepsNamesShapesValuesAndMetadata() throws {
        let metadata = ["samples": "12", "skipped": "1", "seed": "7", "fraction": "0.01", "max_length": "128",
                        "objective": "mlm", "model": "/models/bert", "checkpoint_sha256": "abc123"]
        let original = try file([1, 2, 3, 4, 5, 6.5], [0, 1e-9, 3e-3], metadata)
        let folder = try temporaryFolder("fisher-roundtrip")
        let url = folder.appendingPathComponent("fisher.safetensors")
        try FisherFile.write(original, to: url)
        let read = try FisherFile(contentsOf: url)
        #expect(read.names == names)
        #expect(read.shapes == shapes)
        #expect(read.metadata == metadata)
        #expect(read.samples == 12)
        #expect(try read.values("a.weight") == [1, 2, 3, 4, 5, 6.5])
        #expect(try read.values("a.bias") == [0, 1e-9, 3e-3])
        #expect(read.parameterCount == 9)
        // Nothing but the file is left in the folder (the write went through a renamed temporary).
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["fisher.safetensors"])
    }

    @Test func mergeIsTheCountWeightedMean() throws {
        let a = try file([1, 2, 3, 4, 5, 6], [1, 1, 1],
                         ["samples": "3", "skipped": "1", "seed": "1", "objective": "mlm", "model": "m"])
        let b = try file([5, 6, 7, 8, 9, 10], [5, 0, 9],
                         ["samples": "1", "skipped": "2", "seed": "2", "objective": "mlm"])
        let merged = try FisherFile.merge([a, b])
        #expect(try merged.values("a.weight") == [2, 3, 4, 5, 6, 7])  // (3a + b) / 4
        #expect(try merged.values("a.bias") == [2, 0.75, 3])
        #expect(merged.metadata["samples"] == "4")
        #expect(merged.metadata["skipped"] == "3")
        #expect(merged.metadata["seed"] == "1,2")
        #expect(merged.metadata["objective"] == "mlm")
        #expect(merged.metadata["model"] == "m,?")
        #expect(merged.names == names)
    }

    @Test func mergeRejectsMismatchedOrUncountedShards() throws {
        let a = try file([1, 2, 3, 4, 5, 6], [1, 1, 1], ["samples": "3"])
        let reshaped = try FisherFile(names: names, shapes: ["a.weight": [3, 2], "a.bias": [3]],
                                      values: ["a.weight": [1, 2, 3, 4, 5, 6], "a.bias": [1, 1, 1]], metadata: ["samples": "1"])
        let other = try FisherFile(names: ["a.weight", "c.bias"], shapes: ["a.weight": [2, 3], "c.bias": [3]],
                                   values: ["a.weight": [1, 2, 3, 4, 5, 6], "c.bias": [1, 1, 1]], metadata: ["samples": "1"])
        let uncounted = try file([1, 2, 3, 4, 5, 6], [1, 1, 1], [:])
        let zero = try file([1, 2, 3, 4, 5, 6], [1, 1, 1], ["samples": "0"])
        #expect(throws: ModelError.self) { try FisherFile.merge([]) }
        let shapeError = #expect(throws: ModelError.self) { try FisherFile.merge([a, reshaped]) }
        #expect(shapeError?.description.contains("a.weight has shape [3, 2]") == true)
        let nameError = #expect(throws: ModelError.self) { try FisherFile.merge([a, other]) }
        #expect(nameError?.description.contains("a.bias") == true)
        let countError = #expect(throws: ModelError.self) { try FisherFile.merge([a, uncounted]) }
        #expect(countError?.description.contains("samples") == true)
        #expect(throws: ModelError.self) { try FisherFile.merge([a, zero]) }
    }

    @Test func validationAcceptsTheModelsTensorsAndNamesTheFirstMismatch() throws {
        let architecture = try tinyArchitecture(layers: 2, head: .maskedLM)
        let good = try fisherFor(architecture)
        try good.validate(against: architecture)

        // A wrong shape.
        var names = good.names, shapes = good.shapes
        var values = try Dictionary(uniqueKeysWithValues: names.map { ($0, try good.values($0)) })
        let query = "bert.encoder.layer.1.attention.self.query.weight"
        shapes[query] = [4, 16]
        let reshaped = try FisherFile(names: names, shapes: shapes, values: values, metadata: [:], path: "F.safetensors")
        let shapeError = #expect(throws: ModelError.self) { try reshaped.validate(against: architecture) }
        #expect(shapeError?.description == "Fisher file F.safetensors: tensor \(query) has shape [4, 16], the model has [8, 8]")

        // A missing tensor.
        shapes[query] = [8, 8]
        names.removeAll { $0 == query }
        let missing = try FisherFile(names: names, shapes: shapes, values: values, metadata: [:], path: "F.safetensors")
        let missingError = #expect(throws: ModelError.self) { try missing.validate(against: architecture) }
        #expect(missingError?.description.contains("tensor \(query) is missing") == true)

        // An extra tensor.
        names.append(query)
        names.append("bert.pooler.dense.bias")
        shapes["bert.pooler.dense.bias"] = [8]
        values["bert.pooler.dense.bias"] = Array(repeating: 0, count: 8)
        let extra = try FisherFile(names: names, shapes: shapes, values: values, metadata: [:], path: "F.safetensors")
        let extraError = #expect(throws: ModelError.self) { try extra.validate(against: architecture) }
        #expect(extraError?.description.contains("tensor bert.pooler.dense.bias is not a parameter") == true)

        // An encoder Fisher against an MLM model: the head's tensors are missing.
        let encoder = try fisherFor(try tinyArchitecture(layers: 2, head: .encoder))
        let headError = #expect(throws: ModelError.self) { try encoder.validate(against: architecture) }
        #expect(headError?.description.contains("tensor cls.predictions.bias is missing") == true)

        // An MLM Fisher of a checkpoint stored without `bert.` (all-MiniLM-L6-v2): valid, names resolved bare.
        let bare = try fisherFor(architecture) { _, i in Float(i) }
        let unprefixed = try FisherFile(names: bare.names.map { $0.hasPrefix("bert.") ? String($0.dropFirst(5)) : $0 },
                                        shapes: Dictionary(uniqueKeysWithValues: bare.shapes.map { ($0.hasPrefix("bert.") ? String($0.dropFirst(5)) : $0, $1) }),
                                        values: Dictionary(uniqueKeysWithValues: try bare.names.map { ($0.hasPrefix("bert.") ? String($0.dropFirst(5)) : $0, try bare.values($0)) }),
                                        metadata: [:])
        try unprefixed.validate(against: architecture)
        let word = architecture.layout["embeddings.word_embeddings.weight"]!
        #expect(unprefixed.name(of: word, in: architecture) == "embeddings.word_embeddings.weight")
        #expect(good.name(of: word, in: architecture) == "bert.embeddings.word_embeddings.weight")
        // Either spelling gives the same flat buffer in layout order.
        let flat = try unprefixed.layoutValues(for: architecture)
        #expect(flat == (try bare.layoutValues(for: architecture)))
        #expect(Array(flat[word.offset..<(word.offset + word.count)]) == (try bare.values("bert.embeddings.word_embeddings.weight")))

        // The encoder spelled with `bert.` against a bare encoder model: the hint names the other spelling.
        let encoderArchitecture = try tinyArchitecture(layers: 2, head: .encoder)
        let prefixedEncoder = try FisherFile(names: unprefixed.names.filter { !$0.hasPrefix("cls.") }.map { "bert." + $0 },
                                             shapes: Dictionary(uniqueKeysWithValues: unprefixed.shapes.filter { !$0.key.hasPrefix("cls.") }.map { ("bert." + $0, $1) }),
                                             values: Dictionary(uniqueKeysWithValues: try unprefixed.names.filter { !$0.hasPrefix("cls.") }.map { ("bert." + $0, try unprefixed.values($0)) }),
                                             metadata: [:])
        let prefixError = #expect(throws: ModelError.self) { try prefixedEncoder.validate(against: encoderArchitecture) }
        #expect(prefixError?.description.contains("the file has bert.embeddings.word_embeddings.weight") == true)
    }

    @Test func integerTensorsAreRejectedWhenOpening() throws {
        // A safetensors file with one I32 tensor, written by hand.
        let header = #"{"a.weight":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}"#
        var bytes = [UInt8](repeating: 0, count: 8)
        var length = UInt64(header.utf8.count)
        for i in 0..<8 { bytes[i] = UInt8(length & 0xFF); length >>= 8 }
        bytes += Array(header.utf8) + [UInt8](repeating: 0, count: 8)
        let url = try temporaryFolder("fisher-int").appendingPathComponent("int.safetensors")
        try Data(bytes).write(to: url)
        let error = #expect(throws: ModelError.self) { try FisherFile(contentsOf: url) }
        #expect(error?.description.contains("tensor a.weight is I32") == true)
    }

    @Test func inMemoryFilesCheckTheirShapes() throws {
        #expect(throws: ModelError.self) {
            try FisherFile(names: ["a"], shapes: ["a": [2, 2]], values: ["a": [1, 2, 3]], metadata: [:])
        }
        #expect(throws: ModelError.self) {
            try FisherFile(names: ["a", "a"], shapes: ["a": [1]], values: ["a": [1]], metadata: [:])
        }
    }
}
