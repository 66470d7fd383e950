import Foundation
import GuidedMethod
import GuidedModel
import Testing

@Suite struct FisherReportTests {
    /// x = [100, 1, 0.5, 0], y = [2, 2, 3, 1, 0, 0, 0, 0.99]: global max 100, so "≥ 0.01·max" means ≥ 1.
    func handFisher() throws -> FisherFile {
        try FisherFile(names: ["x", "y"], shapes: ["x": [2, 2], "y": [8]],
                       values: ["x": [100, 1, 0.5, 0], "y": [2, 2, 3, 1, 0, 0, 0, 0.99]], metadata: ["samples": "5"])
    }

    @Test func handComputedNumbers() throws {
        let group = LayerGroup(name: "g", tensors: ["x", "y"], site: nil)
        let report = try FisherReport(fisher: try handFisher(), groups: [group], topPercents: [25, 50])
        #expect(report.globalMax == 100)
        #expect(report.parameterCount == 12)
        #expect(close(report.totalMass, 110.49))
        #expect(report.zeroCount == 4)
        #expect(report.countAboveThreshold == 6)  // 100, 1 in x; 2, 2, 3, 1 in y (0.99 is below)
        #expect(report.shareAboveThreshold == 0.5)

        let x = report.tensors[0], y = report.tensors[1]
        #expect(x.countAboveThreshold == 2 && y.countAboveThreshold == 4)
        #expect(close(x.mean, 101.5 / 4) && x.max == 100)
        #expect(close(y.mean, 8.99 / 8) && y.max == 3)
        #expect(x.topMass.map(\.elements) == [1, 2])
        #expect(close(x.topMass[0].share, 100 / 101.5) && close(x.topMass[1].share, 101 / 101.5))
        #expect(y.topMass.map(\.elements) == [2, 4])
        #expect(close(y.topMass[0].share, 5 / 8.99) && close(y.topMass[1].share, 8 / 8.99))
        #expect(report.topMass.map(\.elements) == [3, 6])
        #expect(close(report.topMass[0].share, 105 / 110.49) && close(report.topMass[1].share, 109 / 110.49))

        let g = report.groups[0]
        #expect(close(g.score, (101.5 / 4 + 8.99 / 8) / 2))
        #expect(close(g.mean, 110.49 / 12))
        #expect(g.countAboveThreshold == 6 && g.rank == 1 && g.massShare == 1)

        let weighted = try FisherReport(fisher: try handFisher(), groups: [group], aggregate: .weighted)
        #expect(close(weighted.groups[0].score, 110.49 / 12))
        // Default k: 0.25%, 1%, 5% of 4 elements is still one element.
        #expect(weighted.tensors[0].topMass.map(\.elements) == [1, 1, 1])

        // Small models keep every point of the sorted curve, the maximum last.
        #expect(report.sortedCurve.count == 12)
        #expect(report.sortedCurve.last == FisherReport.SortedPoint(rank: 11, value: 100))
        #expect(report.sortedCurve.first?.value == 0)
    }

    @Test func groupsSortByScoreAndRenderAsTablesAndJSON() throws {
        let groups = [LayerGroup(name: "low", tensors: ["x"], site: nil), LayerGroup(name: "high", tensors: ["y"], site: nil)]
        let fisher = try FisherFile(names: ["x", "y"], shapes: ["x": [2], "y": [2]], values: ["x": [1, 1], "y": [4, 6]], metadata: [:])
        let report = try FisherReport(fisher: fisher, groups: groups)
        #expect(report.groups.map(\.name) == ["low", "high"])
        #expect(report.groupsByScore.map(\.name) == ["high", "low"])
        #expect(report.groups.map(\.rank) == [2, 1])
        #expect(close(report.groups[1].massShare, 10.0 / 12))

        let markdown = report.markdown()
        #expect(markdown.contains("| high "))
        #expect(markdown.contains("Layer groups by score"))
        let tables = report.tables()
        #expect(tables.count == 4)
        #expect(tables[3].rows.count == 2)

        let decoded = try JSONDecoder().decode(FisherReport.self, from: try report.json())
        #expect(decoded.groups.map(\.name) == ["low", "high"])
        #expect(decoded.totalMass == 12)
    }

    @Test func badValuesAndUnknownGroupTensorsAreErrors() throws {
        let negative = try FisherFile(names: ["x"], shapes: ["x": [3]], values: ["x": [1, -2, 3]], metadata: [:], path: "N.safetensors")
        let error = #expect(throws: ModelError.self) { try FisherReport(fisher: negative, groups: []) }
        #expect(error?.description.contains("tensor x element 1 is -2.0") == true)
        let nan = try FisherFile(names: ["x"], shapes: ["x": [1]], values: ["x": [.nan]], metadata: [:])
        #expect(throws: ModelError.self) { try FisherReport(fisher: nan, groups: []) }
        let fine = try FisherFile(names: ["x"], shapes: ["x": [1]], values: ["x": [1]], metadata: [:])
        let groupError = #expect(throws: ModelError.self) {
            try FisherReport(fisher: fine, groups: [LayerGroup(name: "g", tensors: ["nope"], site: nil)])
        }
        #expect(groupError?.description.contains("nope") == true)
    }

    @Test func matchesNumpyOnTheFixture() throws {
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: MethodFixtures.url("consistency_expected.json"))) as! [String: Any]
        let golden = expected["report"] as! [String: Any]
        let fisher = try FisherFile(contentsOf: MethodFixtures.url("consistency_reference.safetensors"))
        let report = try FisherReport(fisher: fisher, groups: [], threshold: golden["threshold"] as! Double,
                                      topPercents: golden["percents"] as! [Double])
        #expect(close(report.globalMax, golden["globalMax"] as! Double))
        #expect(close(report.totalMass, golden["totalMass"] as! Double))
        #expect(report.zeroCount == golden["zeroCount"] as! Int)
        #expect(report.countAboveThreshold == golden["countAboveThreshold"] as! Int)
        func checkTop(_ got: [FisherReport.TopMass], _ want: Any?) {
            let want = want as! [[String: Any]]
            #expect(got.map(\.elements) == want.map { $0["elements"] as! Int })
            for (g, w) in zip(got, want) { #expect(close(g.share, w["share"] as! Double), "top \(g.percent)%") }
        }
        checkTop(report.topMass, golden["topMass"])
        let tensors = golden["tensors"] as! [[String: Any]]
        #expect(Set(report.tensors.map(\.name)) == Set(tensors.map { $0["name"] as! String }))
        for want in tensors {
            let got = try #require(report.tensors.first { $0.name == want["name"] as! String })
            #expect(got.count == want["count"] as! Int)
            #expect(close(got.sum, want["sum"] as! Double), "\(got.name) sum")
            #expect(close(got.mean, want["mean"] as! Double), "\(got.name) mean")
            #expect(close(got.max, want["max"] as! Double), "\(got.name) max")
            #expect(got.countAboveThreshold == want["countAboveThreshold"] as! Int, "\(got.name)")
            checkTop(got.topMass, want["topMass"])
        }
    }

    @Test func bertReportValidatesAndGroups() throws {
        let architecture = try tinyArchitecture(layers: 2, head: .maskedLM)
        let fisher = try fisherFor(architecture) { name, i in name.contains("layer.1.output.dense") ? 5 : Float(i % 3) }
        let report = try FisherReport(fisher: fisher, architecture: architecture)
        #expect(report.groups.count == 1 + 4 * 2 + 1)
        #expect(report.groupsByScore.first?.name == "encoder.layer.1.output")
        #expect(report.groupsByScore.first?.site == "bert.encoder.layer.1.output.dropout")
        #expect(report.tensors.first { $0.name == "bert.encoder.layer.1.output.dense.bias" }?.group == "encoder.layer.1.output")
    }
}
