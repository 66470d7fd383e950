import Foundation
import GuidedMethod
import GuidedModel
import Testing

@Suite struct LayerGroupsTests {
    func groups(_ architecture: BertArchitecture) -> [LayerGroup] {
        let names = architecture.layout.slots.map { architecture.checkpointName($0) }
        return LayerGroup.groups(names: names, architecture: architecture)
    }

    @Test func twelveLayerModelHas37SitesInNetworkOrder() throws {
        let architecture = try tinyArchitecture(layers: 12, head: .maskedLM)
        let groups = groups(architecture)
        let withSites = groups.compactMap(\.site)
        #expect(withSites.count == 37)
        #expect(withSites.count == 1 + 3 * architecture.layers)
        // Every site of the model is preceded by exactly one group, in network order.
        #expect(withSites.map(\.index) == Array(0..<37))
        #expect(Set(withSites.map(\.modulePath)) == Set(architecture.sites.map(\.modulePath)))
        // 1 embeddings + 4 per layer + the MLM head.
        #expect(groups.count == 1 + 4 * 12 + 1)
        #expect(groups.first?.name == "embeddings")
        #expect(groups.first?.site?.modulePath == "bert.embeddings.dropout")
        #expect(groups.last?.name == "cls")
        #expect(groups.last?.site == nil)
        #expect(Array(groups[1...4].map(\.name)) == ["encoder.layer.0.attention.self", "encoder.layer.0.attention.output",
                                                      "encoder.layer.0.intermediate", "encoder.layer.0.output"])
        let self3 = try #require(groups.first { $0.name == "encoder.layer.3.attention.self" })
        #expect(self3.site?.modulePath == "bert.encoder.layer.3.attention.self.dropout")
        #expect(self3.site?.kind == .attentionProbabilities(layer: 3))
        #expect(self3.tensors == ["query", "key", "value"].flatMap { p in
            ["weight", "bias"].map { "bert.encoder.layer.3.attention.self.\(p).\($0)" }
        })
        let output11 = try #require(groups.first { $0.name == "encoder.layer.11.output" })
        #expect(output11.site?.modulePath == "bert.encoder.layer.11.output.dropout")
        #expect(output11.tensors.count == 4)  // dense weight, bias, LayerNorm weight, bias
        let attentionOutput7 = try #require(groups.first { $0.name == "encoder.layer.7.attention.output" })
        #expect(attentionOutput7.site?.modulePath == "bert.encoder.layer.7.attention.output.dropout")
        #expect(groups.first { $0.name == "encoder.layer.5.intermediate" }?.site == nil)
        // Layers are ordered numerically (layer 10 after layer 9, not after layer 1).
        let order = groups.map(\.name)
        #expect(order.firstIndex(of: "encoder.layer.10.attention.self")! > order.firstIndex(of: "encoder.layer.9.output")!)
        // Every tensor belongs to exactly one group.
        #expect(groups.flatMap(\.tensors).count == architecture.layout.slots.count)
    }

    @Test func encoderAndClassifierHeads() throws {
        let encoder = try tinyArchitecture(layers: 2, head: .encoder)
        let encoderGroups = groups(encoder)
        #expect(encoderGroups.compactMap(\.site).count == 7)
        #expect(encoderGroups.first { $0.name == "encoder.layer.0.attention.self" }?.site?.modulePath
                == "encoder.layer.0.attention.self.dropout")
        #expect(encoderGroups.last?.name == "pooler")
        #expect(encoderGroups.last?.site == nil)

        let classifier = try tinyArchitecture(layers: 2, head: .sequenceClassification(labels: 3, regression: false))
        let classifierGroups = groups(classifier)
        // The classifier's own dropout is not scheduled: still 1 + 3·L sites.
        #expect(classifierGroups.compactMap(\.site).count == 7)
        #expect(classifierGroups.map(\.name).suffix(2) == ["pooler", "classifier"])
        #expect(classifierGroups.last?.site == nil)
    }

    @Test func scoresAreMeanOfMeansOrParameterWeighted() throws {
        let group = LayerGroup(name: "g", tensors: ["w", "b"], site: nil)
        let fisher = try FisherFile(names: ["w", "b"], shapes: ["w": [2, 2], "b": [1]],
                                    values: ["w": [1, 1, 1, 1], "b": [3]], metadata: [:])
        #expect(try group.score(fisher, .meanOfMeans) == 2)  // (1 + 3) / 2
        #expect(abs(try group.score(fisher, .weighted) - 1.4) < 1e-12)  // 7 / 5
        #expect(GroupAggregate(rawValue: "mean-of-means") == .meanOfMeans)
    }
}
