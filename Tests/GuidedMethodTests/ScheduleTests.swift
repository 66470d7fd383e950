import Foundation
import GuidedMethod
import GuidedModel
import Testing

@Suite struct ScheduleTests {
    /// The paper code's 37 probabilities for p_upper 0.099, p_lower 0 (appendix A.4), as decimals.
    static let paperValues: [Double] = [
        0.099, 0.09625, 0.0935, 0.09075, 0.088, 0.08525, 0.0825, 0.07975, 0.077, 0.07425, 0.0715, 0.06875,
        0.066, 0.06325, 0.0605, 0.05775, 0.055, 0.05225, 0.0495, 0.04675, 0.044, 0.04125, 0.0385, 0.03575,
        0.033, 0.03025, 0.0275, 0.02475, 0.022, 0.01925, 0.0165, 0.01375, 0.011, 0.00825, 0.0055, 0.00275, 0,
    ]

    /// A Fisher for `architecture` in which every tensor of the group before site k holds
    /// `siteScore(k)` (so the group's score is that, under either aggregate); groups without a
    /// site hold 1 (larger than every site score: they must not matter).
    func fisher(_ architecture: BertArchitecture, siteScore: (Int) -> Float) throws -> FisherFile {
        let names = architecture.layout.slots.map { architecture.checkpointName($0) }
        var siteOf: [String: Int] = [:]
        for group in LayerGroup.groups(names: names, architecture: architecture) {
            for tensor in group.tensors { siteOf[tensor] = group.site?.index }
        }
        return try fisherFor(architecture) { name, _ in siteOf[name].map(siteScore) ?? 1 }
    }

    /// Site k scores ((17·k) mod 37 + 1)·10⁻⁶: distinct, and not in network order.
    static func permutedScore(_ k: Int) -> Float { Float((17 * k) % 37 + 1) * 1e-6 }

    @Test func bertBaseShapeGivesThePaperCodeValuesInFisherOrder() throws {
        let architecture = try tinyArchitecture(layers: 12, head: .maskedLM)
        let fisher = try fisher(architecture, siteScore: Self.permutedScore)
        let schedule = try DropoutSchedule(fisher: fisher, architecture: architecture, aggregate: .meanOfMeans,
                                           shape: .linear, pUpper: 0.099, pLower: 0)
        #expect(schedule.entries.count == 37)
        // Exactly the decimals, not merely close.
        #expect(schedule.entries.map(\.p) == Self.paperValues)
        #expect(schedule.entries.map(\.rank) == Array(0..<37))
        // The order follows the scores: site k has rank (17·k) mod 37.
        let expectedOrder = (0..<37).sorted { Self.permutedScore($0) < Self.permutedScore($1) }
        #expect(schedule.entries.map(\.site.index) == expectedOrder)
        for entry in schedule.entries {
            #expect(entry.rank == (17 * entry.site.index) % 37)
            #expect(close(entry.score, Double(Self.permutedScore(entry.site.index))))
        }
        #expect(schedule.entries.first?.site.modulePath == "bert.embeddings.dropout")  // score 1e-6, the lowest
        #expect(schedule.entries.first?.group == "embeddings")
        // Per-site probabilities by DropoutSite.index.
        let ps = schedule.probabilities(for: architecture)
        for k in 0..<37 { #expect(ps[k] == Self.paperValues[(17 * k) % 37]) }
        // Weighted aggregate: same ranking here (constant tensors), recorded in the file.
        let weighted = try DropoutSchedule(fisher: fisher, architecture: architecture, aggregate: .weighted,
                                           pUpper: 0.099, pLower: 0)
        #expect(weighted.entries.map(\.site.index) == expectedOrder)
        #expect(weighted.file(model: "m", fisher: "f").aggregate == "weighted")
    }

    @Test func aggregateChangesTheScore() throws {
        let architecture = try tinyArchitecture(layers: 1, head: .encoder)
        // Weights 1, biases and LayerNorm parameters 0: the two aggregates differ.
        let fisher = try fisherFor(architecture) { name, _ in name.hasSuffix("dense.weight") || name.hasSuffix("query.weight") ? 1 : 0 }
        let names = architecture.layout.slots.map { architecture.checkpointName($0) }
        let groups = LayerGroup.groups(names: names, architecture: architecture).filter { $0.site != nil }
        for aggregate in GroupAggregate.allCases {
            let schedule = try DropoutSchedule(fisher: fisher, architecture: architecture, aggregate: aggregate)
            for entry in schedule.entries {
                let group = try #require(groups.first { $0.site == entry.site })
                #expect(entry.score == (try group.score(fisher, aggregate)))
            }
        }
    }

    @Test func shapesRunFromUpperToLower() throws {
        let shapes: [ScheduleShape] = [.linear, .cosine, .power(0.5), .power(1), .power(2), .power(3)]
        for shape in shapes {
            for n in [2, 3, 7, 37] {
                let ps = try DropoutSchedule.probabilities(count: n, shape: shape, pUpper: 0.3, pLower: 0.05)
                #expect(ps.count == n)
                #expect(ps.first == 0.3, "\(shape) n \(n)")
                #expect(ps.last == 0.05, "\(shape) n \(n)")
                #expect(zip(ps, ps.dropFirst()).allSatisfy { $0 >= $1 }, "\(shape) n \(n): not non-increasing")
            }
            #expect(try DropoutSchedule.probabilities(count: 1, shape: shape, pUpper: 0.2, pLower: 0.1) == [0.2])
            #expect(try DropoutSchedule.probabilities(count: 0, shape: shape, pUpper: 0.2, pLower: 0.1) == [])
        }
        let linear = try DropoutSchedule.probabilities(count: 5, shape: .linear, pUpper: 0.1, pLower: 0)
        #expect(linear == [0.1, 0.075, 0.05, 0.025, 0])
        #expect(try DropoutSchedule.probabilities(count: 5, shape: .power(1), pUpper: 0.1, pLower: 0) == linear)
        let cosine = try DropoutSchedule.probabilities(count: 5, shape: .cosine, pUpper: 0.1, pLower: 0)
        #expect(cosine[2] == 0.05)  // the midpoint
        #expect(close(cosine[1], 0.05 * (1 + cos(Double.pi / 4))))
        #expect(cosine[0] - cosine[1] < linear[0] - linear[1])  // flat at the top
        let square = try DropoutSchedule.probabilities(count: 5, shape: .power(2), pUpper: 0.1, pLower: 0)
        #expect(close(square[1], 0.1 * 0.5625))
        #expect(close(square[2], 0.025))
        // Equal bounds: a constant schedule.
        #expect(try DropoutSchedule.probabilities(count: 4, shape: .cosine, pUpper: 0.1, pLower: 0.1) == [0.1, 0.1, 0.1, 0.1])
    }

    @Test func invalidBoundsAndShapesAreRejected() throws {
        let bad: [(Double, Double, ScheduleShape)] = [
            (0.1, 0.2, .linear), (1, 0, .linear), (1.5, 0, .linear), (0.1, -0.01, .linear),
            (.nan, 0, .linear), (0.1, .nan, .linear), (.infinity, 0, .linear),
            (0.1, 0, .power(0)), (0.1, 0, .power(-1)), (0.1, 0, .power(.nan)),
        ]
        for (upper, lower, shape) in bad {
            #expect(throws: ModelError.self, "p_upper \(upper) p_lower \(lower) \(shape)") {
                try DropoutSchedule.probabilities(count: 3, shape: shape, pUpper: upper, pLower: lower)
            }
        }
        #expect(try DropoutSchedule.probabilities(count: 3, shape: .linear, pUpper: 0.999, pLower: 0).first == 0.999)
        #expect(try ScheduleShape(name: "power", power: 3) == .power(3))
        #expect(try ScheduleShape(name: "cosine") == .cosine)
        #expect(throws: ModelError.self) { try ScheduleShape(name: "power") }
        #expect(throws: ModelError.self) { try ScheduleShape(name: "exponential") }
    }

    @Test func tiesFollowNetworkOrder() throws {
        let architecture = try tinyArchitecture(layers: 2, head: .maskedLM)
        // All sites tie: network order, so p falls along the network.
        let flat = try DropoutSchedule(fisher: try fisher(architecture) { _ in 0.5 }, architecture: architecture,
                                       aggregate: .meanOfMeans, pUpper: 0.06, pLower: 0)
        #expect(flat.entries.map(\.site.index) == Array(0..<7))
        #expect(flat.entries.map(\.p) == [0.06, 0.05, 0.04, 0.03, 0.02, 0.01, 0])
        // Sites 1, 4 and 6 tie below the rest: they come first, in network order; 0, 2, 3, 5 tie above.
        let partial = try DropoutSchedule(fisher: try fisher(architecture) { [1, 4, 6].contains($0) ? 0.1 : 0.2 },
                                          architecture: architecture, aggregate: .meanOfMeans)
        #expect(partial.entries.map(\.site.index) == [1, 4, 6, 0, 2, 3, 5])
        // Zero scores are fine (first), negative or non-finite ones are not.
        let site = architecture.sites[0]
        #expect(throws: ModelError.self) {
            try DropoutSchedule(scores: [(group: "embeddings", site: site, score: -1)], aggregate: .meanOfMeans)
        }
        #expect(throws: ModelError.self) {
            try DropoutSchedule(scores: [(group: "embeddings", site: site, score: .nan)], aggregate: .meanOfMeans)
        }
        #expect(throws: ModelError.self) {
            try DropoutSchedule(scores: [("embeddings", site, 1), ("embeddings", site, 2)], aggregate: .meanOfMeans)
        }
    }

    @Test func fisherIsValidatedAgainstTheModel() throws {
        let architecture = try tinyArchitecture(layers: 2, head: .maskedLM)
        let other = try tinyArchitecture(layers: 3, head: .maskedLM)
        #expect(throws: ModelError.self) {
            try DropoutSchedule(fisher: try fisherFor(other), architecture: architecture)
        }
        let negative = try fisherFor(architecture) { name, i in name.contains("layer.1.output.dense.bias") && i == 2 ? -1 : 0.5 }
        let error = #expect(throws: ModelError.self) { try DropoutSchedule(fisher: negative, architecture: architecture) }
        #expect(error?.description.contains("layer.1.output.dense.bias") == true)
        #expect(throws: ModelError.self) {
            try DropoutSchedule(fisher: try fisherFor(architecture), architecture: architecture, pUpper: 0.1, pLower: 0.2)
        }
    }

    @Test func fileRoundTripsWithSortedKeys() throws {
        let architecture = try tinyArchitecture(layers: 12, head: .maskedLM)
        let schedule = try DropoutSchedule(fisher: try fisher(architecture, siteScore: Self.permutedScore),
                                           architecture: architecture, shape: .power(2), pUpper: 0.1, pLower: 0.01)
        let file = schedule.file(model: "models/bert-base-uncased", fisher: "fisher.safetensors")
        #expect(file.format == "guided-dropout-schedule/1")
        #expect(file.sites.count == 37)
        #expect(file.shape == "power" && file.power == 2)
        let site = try #require(file.sites["bert.encoder.layer.0.attention.self.dropout"])
        #expect(site.group == "encoder.layer.0.attention.self")
        #expect(site.rank == 17)  // (17·1) mod 37
        #expect(site.p == schedule.entries[17].p)

        let data = try file.encoded()
        let text = String(decoding: data, as: UTF8.self)
        for key in ["\"format\"", "\"p_upper\"", "\"p_lower\"", "\"sites\"", "\"rank\"", "\"score\"", "\"group\""] {
            #expect(text.contains(key), "\(key)")
        }
        // Keys sorted at every level: top level, site paths, and a site's fields.
        func position(_ s: String) -> String.Index { text.range(of: s)!.lowerBound }
        #expect(position("\"aggregate\"") < position("\"fisher\"") && position("\"fisher\"") < position("\"format\""))
        #expect(position("\"p_lower\"") < position("\"p_upper\"") && position("\"p_upper\"") < position("\"power\""))
        #expect(position("bert.embeddings.dropout") < position("bert.encoder.layer.0.attention.output.dropout"))
        #expect(position("bert.encoder.layer.0.attention.output.dropout") < position("bert.encoder.layer.0.attention.self.dropout"))
        let firstSite = text[position("bert.embeddings.dropout")...]
        #expect(firstSite.range(of: "\"group\"")!.lowerBound < firstSite.range(of: "\"p\"")!.lowerBound)
        #expect(firstSite.range(of: "\"rank\"")!.lowerBound < firstSite.range(of: "\"score\"")!.lowerBound)

        let folder = try temporaryFolder("schedule")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("schedule.json")
        try file.write(to: url)
        let read = try DropoutScheduleFile(contentsOf: url)
        #expect(read == file)
        let ps = try read.probabilities(for: architecture)
        #expect(ps == schedule.probabilities(for: architecture))
        #expect(ps.count == 37)
        // The linear file carries no power.
        let linear = try DropoutSchedule(scores: [(group: "embeddings", site: architecture.sites[0], score: 1)], aggregate: .meanOfMeans)
        #expect(!String(decoding: try linear.file(model: "m", fisher: "f").encoded(), as: UTF8.self).contains("power"))
    }

    @Test func readerAppliesToOtherHeadsAndKeepsTheClassifiersP() throws {
        let mlm = try tinyArchitecture(layers: 2, head: .maskedLM)
        let file = try DropoutSchedule(fisher: try fisher(mlm, siteScore: { Float($0 + 1) }), architecture: mlm,
                                       pUpper: 0.06, pLower: 0).file(model: "m", fisher: "f")
        // A classifier: same bert.-prefixed sites, plus its own dropout, which keeps the configured p.
        let classifier = try tinyArchitecture(layers: 2, head: .sequenceClassification(labels: 2, regression: false))
        let ps = try file.probabilities(for: classifier)
        #expect(ps.count == 8)
        #expect(Array(ps.prefix(7)) == [0.06, 0.05, 0.04, 0.03, 0.02, 0.01, 0])
        let classifierSite = try #require(classifier.sites.last)
        #expect(classifierSite.kind == .classifier)
        #expect(ps[7] == classifierSite.configuredProbability)
        #expect(try file.probabilities(for: classifier, classifier: 0.3)[7] == 0.3)
        #expect(throws: ModelError.self) { try file.probabilities(for: classifier, classifier: 1) }
        // A bare BertModel: module paths without bert. still match.
        let encoder = try tinyArchitecture(layers: 2, head: .encoder)
        #expect(encoder.sites[0].modulePath == "embeddings.dropout")
        #expect(try file.probabilities(for: encoder) == Array(ps.prefix(7)))
    }

    @Test func readerRejectsInvalidFiles() throws {
        let architecture = try tinyArchitecture(layers: 2, head: .maskedLM)
        let file = try DropoutSchedule(fisher: try fisher(architecture, siteScore: { Float($0 + 1) }),
                                       architecture: architecture).file(model: "m", fisher: "f")
        var missing = file
        missing.sites["bert.encoder.layer.1.output.dropout"] = nil
        let error = #expect(throws: ModelError.self) { try missing.probabilities(for: architecture) }
        #expect(error?.description.contains("bert.encoder.layer.1.output.dropout") == true)
        // Fewer layers in the model than in the schedule: layer 1's sites are extra.
        let oneLayer = try tinyArchitecture(layers: 1, head: .maskedLM)
        let extra = #expect(throws: ModelError.self) { try file.probabilities(for: oneLayer) }
        #expect(error != nil && extra?.description.contains("encoder.layer.1") == true)
        for p in [1.0, 1.5, -0.1, .nan] {
            var bad = file
            bad.sites["bert.embeddings.dropout"]!.p = p
            #expect(throws: ModelError.self, "p \(p)") { try bad.probabilities(for: architecture) }
        }
        var wrongFormat = file
        wrongFormat.format = "guided-dropout-schedule/2"
        #expect(throws: ModelError.self) { try DropoutScheduleFile(data: try wrongFormat.encoded()) }
        #expect(throws: ModelError.self) { try DropoutScheduleFile(data: Data("{\"format\": 1}".utf8)) }
        #expect(throws: ModelError.self) { try DropoutScheduleFile(data: Data("not json".utf8)) }
        #expect(try DropoutScheduleFile(data: try file.encoded()) == file)
    }

    @Test func tableAndChart() throws {
        let architecture = try tinyArchitecture(layers: 12, head: .maskedLM)
        let schedule = try DropoutSchedule(fisher: try fisher(architecture) { $0 == 5 ? 0 : Self.permutedScore($0) },
                                           architecture: architecture, pUpper: 0.099, pLower: 0)
        let table = schedule.table()
        #expect(table.rows.count == 37)
        #expect(table.columns == ["rank", "dropout site", "layer group", "score", "p"])
        #expect(table.rows.first?[4] == "0.099")
        #expect(table.rows[1][4] == "0.09625")
        #expect(table.rows.last?[4] == "0")
        #expect(table.rows.first?[1] == architecture.sites[5].modulePath)  // the zero score comes first
        let xml = XMLSummary(schedule.chart().svg())
        #expect(xml.error == nil)
        #expect(xml.count("title") == 36)  // one bar per drawable (positive) score
        #expect(xml.all("polyline").first?["points"]?.split(separator: " ").count == 37)  // p for every site
        #expect(xml.text.contains("1 zero scores not drawn"))
    }
}
