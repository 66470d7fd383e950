import Foundation
import GuidedMethod
import GuidedModel
import Testing

@Suite struct ConsistencyTests {
    @Test func topCountsAndStableTieBreaking() {
        #expect(TopSelection.elementCount(percent: 5, of: 200) == 10)
        #expect(TopSelection.elementCount(percent: 0.25, of: 400) == 1)
        #expect(TopSelection.elementCount(percent: 0.25, of: 100) == 1)  // at least one
        #expect(TopSelection.elementCount(percent: 1, of: 150) == 2)  // ⌈1.5⌉
        #expect(TopSelection.elementCount(percent: 0.1, of: 1000) == 1)
        #expect(TopSelection.elementCount(percent: 100, of: 7) == 7)
        #expect(TopSelection.elementCount(percent: 5, of: 0) == 0)
        #expect(TopSelection.topIndices([1, 3, 3, 2, 3], 2) == [1, 2])
        #expect(TopSelection.topIndices([1, 3, 3, 2, 3], 4) == [1, 2, 4, 3])
        #expect(TopSelection.topIndices([0, 0, 0], 2) == [0, 1])
    }

    @Test func pearsonAndKLEdgeCases() throws {
        #expect(ConsistencyTable.pearson([1, 2, 3], [2, 4, 6]).map { abs($0 - 1) < 1e-12 } == true)
        #expect(ConsistencyTable.pearson([1, 2, 3], [3, 2, 1]).map { abs($0 + 1) < 1e-12 } == true)
        #expect(ConsistencyTable.pearson([1, 1, 1], [1, 2, 3]) == nil)
        #expect(ConsistencyTable.pearson([1], [1]) == nil)
        #expect(try #require(ConsistencyTable.klDivergence([1, 2, 3], [2, 4, 6])) < 1e-12)
        #expect(ConsistencyTable.klDivergence([0, 0], [1, 2]) == nil)
        // P = (1/2, 1/2), Q = (1/4, 3/4): KL = ½ln 2 + ½ln(2/3).
        let kl = try #require(ConsistencyTable.klDivergence([1, 1], [1, 3]))
        #expect(abs(kl - (0.5 * log(2.0) + 0.5 * log(2.0 / 3))) < 1e-9)
        // A zero in Q where P is positive stays finite thanks to the epsilon.
        #expect(ConsistencyTable.klDivergence([1, 1], [0, 1]).map(\.isFinite) == true)
    }

    @Test func matchesNumpyAndScipy() throws {
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: MethodFixtures.url("consistency_expected.json"))) as! [String: Any]
        let percents = expected["percents"] as! [Double]
        let rows = expected["rows"] as! [[String: Any]]
        let reference = try FisherFile(contentsOf: MethodFixtures.url("consistency_reference.safetensors"))
        let subsamples = try rows.map { row in
            let file = row["file"] as! String
            return (label: file, fisher: try FisherFile(contentsOf: MethodFixtures.url(file)))
        }
        let table = try ConsistencyTable(reference: reference, subsamples: subsamples, percents: percents)
        #expect(table.rows.count == rows.count)
        #expect(table.tensors == 6)
        for (got, want) in zip(table.rows, rows) {
            let cells = want["cells"] as! [[String: Any]]
            #expect(got.cells.count == cells.count)
            for (cell, wantCell) in zip(got.cells, cells) {
                let context = "\(got.label) top \(cell.percent)%"
                #expect(cell.percent == wantCell["percent"] as! Double)
                #expect(cell.correlationSkipped == wantCell["correlationSkipped"] as! Int, "\(context)")
                #expect(cell.klSkipped == wantCell["klSkipped"] as! Int, "\(context)")
                for (summary, key) in [(cell.correlation, "correlation"), (cell.kl, "kl")] {
                    let w = wantCell[key] as! [String: Any]
                    #expect(summary.tensors == w["tensors"] as! Int, "\(context) \(key)")
                    let mean = try #require(summary.mean), std = try #require(summary.std)
                    #expect(close(mean, w["mean"] as! Double, absolute: 1e-9), "\(context) \(key) mean \(mean)")
                    #expect(close(std, w["std"] as! Double, absolute: 1e-9), "\(context) \(key) std \(std)")
                }
            }
        }
        #expect(table.rows[1].samples == "10")
        #expect(table.rows[1].fraction == "0.01")
        let markdown = table.markdown()
        #expect(markdown.contains("top 25% corr μ"))
        #expect(table.table().rows.count == 2)
        #expect(table.table().columns.count == 2 + 4 * percents.count)
        let decoded = try JSONDecoder().decode(ConsistencyTable.self, from: try table.json())
        #expect(decoded.rows[0].cells[0].kl == table.rows[0].cells[0].kl)
    }

    @Test func identicalSubsampleIsPerfectlyConsistent() throws {
        let reference = try FisherFile(contentsOf: MethodFixtures.url("consistency_reference.safetensors"))
        let table = try ConsistencyTable(reference: reference, subsamples: [("self", reference)], percents: [50])
        let cell = table.rows[0].cells[0]
        #expect(cell.correlation.mean.map { abs($0 - 1) < 1e-12 } == true)
        #expect(cell.kl.mean.map { abs($0) < 1e-12 } == true)
    }

    @Test func mismatchedSubsamplesAndBadPercentagesAreErrors() throws {
        let reference = try FisherFile(names: ["a", "b"], shapes: ["a": [2], "b": [1]], values: ["a": [1, 2], "b": [1]], metadata: [:])
        let missing = try FisherFile(names: ["a"], shapes: ["a": [2]], values: ["a": [1, 2]], metadata: [:], path: "S.safetensors")
        let missingError = #expect(throws: ModelError.self) {
            try ConsistencyTable(reference: reference, subsamples: [("s", missing)])
        }
        #expect(missingError?.description.contains("S.safetensors: tensor b is missing") == true)
        let reshaped = try FisherFile(names: ["a", "b"], shapes: ["a": [1, 2], "b": [1]], values: ["a": [1, 2], "b": [1]],
                                      metadata: [:], path: "R.safetensors")
        let shapeError = #expect(throws: ModelError.self) {
            try ConsistencyTable(reference: reference, subsamples: [("r", reshaped)])
        }
        #expect(shapeError?.description.contains("tensor a has shape [1, 2]") == true)
        #expect(throws: ModelError.self) { try ConsistencyTable(reference: reference, subsamples: [], percents: [0]) }
        #expect(throws: ModelError.self) { try ConsistencyTable(reference: reference, subsamples: [], percents: [101]) }
    }
}

@Suite struct SelectionTests {
    /// The stable argsort of −x, the definition `topIndices` must match.
    func naiveTop(_ x: [Float], _ m: Int) -> [Int] {
        Array(x.indices.sorted { x[$0] != x[$1] ? x[$0] > x[$1] : $0 < $1 }.prefix(m))
    }

    @Test func largeArraysTakeTheRadixPathAndAgreeWithTheDefinition() {
        // 10,000 values (above the radix threshold) with many ties, zeros, a −0 and subnormals.
        var generator = SplitMix(seed: 7)
        var x = (0..<10_000).map { _ in Float(generator.next() % 50) * 1e-6 }
        x[17] = -0.0
        x[18] = .leastNonzeroMagnitude
        x[19] = 3e-38
        x[20] = .greatestFiniteMagnitude
        for m in [1, 7, 500, 2_500, 10_000] { #expect(TopSelection.topIndices(x, m) == naiveTop(x, m), "m = \(m)") }
        // A negative value takes the comparison-sort path and still agrees.
        x[3] = -1
        #expect(TopSelection.topIndices(x, 600) == naiveTop(x, 600))
    }

    @Test func reportTopMassOnALargeTensorMatchesANaiveSum() throws {
        var generator = SplitMix(seed: 11)
        let x = (0..<50_000).map { _ in Float(generator.next() % 100_000) * 1e-7 }
        let report = try FisherReport(fisher: try FisherFile(names: ["x"], shapes: ["x": [50_000]], values: ["x": x], metadata: [:]),
                                      groups: [], topPercents: [1, 10])
        let sorted = x.map(Double.init).sorted(by: >), total = sorted.reduce(0, +)
        #expect(report.topMass.map(\.elements) == [500, 5_000])
        #expect(close(report.topMass[0].share, sorted.prefix(500).reduce(0, +) / total))
        #expect(close(report.topMass[1].share, sorted.prefix(5_000).reduce(0, +) / total))
        #expect(report.globalMax == sorted[0])
        #expect(report.sortedCurve.map(\.value) == report.sortedCurve.map { Float(sorted[49_999 - $0.rank]) })
    }
}

/// A small deterministic generator for test data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}
