import Foundation
import GuidedModel

/// Where a Fisher's mass sits: per tensor, per layer group and over the whole model (the numbers
/// behind the paper's Figures 3, 5, 6 and 7 and §A.1's "0.001% of parameters having ≥ 0.01 score").
///
/// Conventions:
/// - **Normalised score** = a parameter's Fisher divided by the **global maximum over all
///   parameters** of the file (so exactly one parameter, or its ties, scores 1). "Share above
///   0.01" is the share of parameters whose normalised score is ≥ `threshold` (0.01 by default).
/// - **Top-k% mass** = the sum of the ⌈k·n/100⌉ largest values (at least one) over the sum of
///   all n values, where n is the tensor's size (per tensor) or the model's (global). Selection is
///   exact: each tensor is sorted once (a copy), and the global order is a merge of those.
/// - **Group score** = `GroupAggregate` over the group's tensors (the paper's mean of means by
///   default); a group's `mean` is always the parameter-weighted mean.
/// Sums are accumulated in Double. Values must be finite and non-negative (checked).
public struct FisherReport: Codable, Sendable {
    public struct TopMass: Codable, Sendable, Equatable {
        /// k, in percent.
        public let percent: Double
        /// ⌈k·n/100⌉, at least 1.
        public let elements: Int
        /// Share of the total mass (0…1) those elements hold; 0 when the total is 0.
        public let share: Double
    }

    public struct TensorStats: Codable, Sendable {
        public let name: String
        /// The layer group it belongs to (nil if none was given).
        public let group: String?
        public let shape: [Int]
        public let count: Int
        public let sum: Double
        public let mean: Double
        public let max: Double
        /// Parameters with a normalised score ≥ the threshold.
        public let countAboveThreshold: Int
        public let shareAboveThreshold: Double
        public let topMass: [TopMass]
    }

    public struct GroupStats: Codable, Sendable {
        public let name: String
        /// The `transformers` module path of the dropout site the group precedes, if any.
        public let site: String?
        public let tensors: [String]
        public let count: Int
        /// The group's score under the report's `aggregate`.
        public let score: Double
        /// Parameter-weighted mean.
        public let mean: Double
        public let max: Double
        public let sum: Double
        /// The group's share of the model's total Fisher mass.
        public let massShare: Double
        public let countAboveThreshold: Int
        public let shareAboveThreshold: Double
        /// 1 for the highest score.
        public let rank: Int
    }

    /// One point of the sorted per-parameter curve: `rank` 0 is the smallest value.
    public struct SortedPoint: Codable, Sendable, Equatable {
        public let rank: Int
        public let value: Float
        public init(rank: Int, value: Float) {
            self.rank = rank
            self.value = value
        }
    }

    public let source: String
    public let metadata: [String: String]
    public let aggregate: GroupAggregate
    public let threshold: Double
    public let topPercents: [Double]
    public let parameterCount: Int
    public let totalMass: Double
    public let globalMax: Double
    /// Parameters whose Fisher is exactly 0 (not drawable on a log axis).
    public let zeroCount: Int
    public let countAboveThreshold: Int
    public let shareAboveThreshold: Double
    public let topMass: [TopMass]
    /// In file order.
    public let tensors: [TensorStats]
    /// In network order.
    public let groups: [GroupStats]
    /// The sorted per-parameter curve, subsampled by `TopSelection.sortedCurveRanks` (ascending rank).
    public let sortedCurve: [SortedPoint]

    /// Groups by score, highest first (ties in network order).
    public var groupsByScore: [GroupStats] { groups.sorted { $0.rank < $1.rank } }

    /// Builds the report. Tensors are read, checked and sorted in parallel (a radix sort: linear
    /// time), then all values are sorted together for the global numbers; memory is about twice the
    /// parameter count in floats.
    /// `groups` may leave tensors out (their `group` is nil) but not name tensors the file lacks.
    public init(fisher: FisherFile, groups: [LayerGroup], aggregate: GroupAggregate = .meanOfMeans,
                threshold: Double = 0.01, topPercents: [Double] = [0.25, 1, 5], curveLimit: Int = 5000) throws {
        for group in groups {
            if let missing = group.tensors.first(where: { fisher.shapes[$0] == nil }) {
                throw ModelError("Fisher file \(fisher.path): no tensor \(missing) (layer group \(group.name))")
            }
        }
        let names = fisher.names
        let path = fisher.path
        let counts = names.map { fisher.count($0) }
        let offsets = counts.reduce(into: [0]) { $0.append($0.last! + $1) }
        // All values in one buffer: first each tensor's slice sorted descending (per-tensor
        // statistics), then the whole buffer sorted (global statistics and the curve).
        let all = UnsafeMutableBufferPointer<Float>.allocate(capacity: offsets.last!)
        defer { all.deallocate() }
        let shared = SharedBuffer(all)
        func slice(_ i: Int) -> UnsafeMutableBufferPointer<Float> {
            UnsafeMutableBufferPointer(rebasing: all[offsets[i]..<offsets[i + 1]])
        }
        let sums: [Double] = try parallelMap(names.count) { i in
            let values = try fisher.values(names[i])
            try FisherFile.checkValues(values, tensor: names[i], path: path)
            guard values.count == offsets[i + 1] - offsets[i] else {
                throw ModelError("Fisher file \(path): tensor \(names[i]) has \(values.count) values for its shape")
            }
            let target = UnsafeMutableBufferPointer(rebasing: shared.buffer[offsets[i]..<offsets[i + 1]])
            _ = target.initialize(from: values)
            sortDescending(target)
            return values.reduce(0.0) { $0 + Double($1) }
        }
        let globalMax = names.indices.compactMap { slice($0).first.map(Double.init) }.max() ?? 0
        func above(_ descending: UnsafeMutableBufferPointer<Float>) -> Int {
            guard globalMax > 0 else { return 0 }
            // First index whose normalised value falls below the threshold (the values are descending).
            var lo = 0, hi = descending.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if Double(descending[mid]) / globalMax >= threshold { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
        func topMassOf(_ descending: UnsafeMutableBufferPointer<Float>, sum: Double) -> [TopMass] {
            var prefix = 0.0, taken = 0
            return topPercents.sorted().map { k in (k, TopSelection.elementCount(percent: k, of: descending.count)) }
                .map { k, m in
                    while taken < m { prefix += Double(descending[taken]); taken += 1 }
                    return TopMass(percent: k, elements: m, share: sum > 0 ? prefix / sum : 0)
                }
                .sorted { a, b in topPercents.firstIndex(of: a.percent)! < topPercents.firstIndex(of: b.percent)! }
        }

        var groupOf: [String: String] = [:]
        for group in groups { for tensor in group.tensors { groupOf[tensor] = group.name } }
        var tensorStats: [TensorStats] = []
        var statsByName: [String: TensorStats] = [:]
        for (i, name) in names.enumerated() {
            let values = slice(i), sum = sums[i]
            let n = values.count, aboveCount = above(values)
            let stats = TensorStats(name: name, group: groupOf[name], shape: fisher.shapes[name] ?? [], count: n, sum: sum,
                                    mean: n > 0 ? sum / Double(n) : 0, max: Double(values.first ?? 0),
                                    countAboveThreshold: aboveCount, shareAboveThreshold: n > 0 ? Double(aboveCount) / Double(n) : 0,
                                    topMass: topMassOf(values, sum: sum))
            tensorStats.append(stats)
            statsByName[name] = stats
        }

        let total = tensorStats.reduce(0.0) { $0 + $1.sum }
        let count = tensorStats.reduce(0) { $0 + $1.count }
        let scores = groups.map { group in group.score(aggregate) { (statsByName[$0]!.sum, statsByName[$0]!.count) } }
        let order = groups.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
        var rank = [Int](repeating: 0, count: groups.count)
        for (position, index) in order.enumerated() { rank[index] = position + 1 }
        self.groups = groups.indices.map { g in
            let members = groups[g].tensors.map { statsByName[$0]! }
            let sum = members.reduce(0.0) { $0 + $1.sum }, n = members.reduce(0) { $0 + $1.count }
            let aboveCount = members.reduce(0) { $0 + $1.countAboveThreshold }
            return GroupStats(name: groups[g].name, site: groups[g].site?.modulePath, tensors: groups[g].tensors, count: n,
                              score: scores[g], mean: n > 0 ? sum / Double(n) : 0, max: members.map(\.max).max() ?? 0,
                              sum: sum, massShare: total > 0 ? sum / total : 0, countAboveThreshold: aboveCount,
                              shareAboveThreshold: n > 0 ? Double(aboveCount) / Double(n) : 0, rank: rank[g])
        }

        sortDescending(all)
        source = fisher.path
        metadata = fisher.metadata
        self.aggregate = aggregate
        self.threshold = threshold
        self.topPercents = topPercents
        parameterCount = count
        totalMass = total
        self.globalMax = globalMax
        var positive = all.count
        while positive > 0 && all[positive - 1] == 0 { positive -= 1 }
        zeroCount = all.count - positive
        countAboveThreshold = tensorStats.reduce(0) { $0 + $1.countAboveThreshold }
        shareAboveThreshold = count > 0 ? Double(countAboveThreshold) / Double(count) : 0
        topMass = topMassOf(all, sum: total)
        tensors = tensorStats
        sortedCurve = TopSelection.sortedCurveRanks(count: all.count, limit: curveLimit).map {
            SortedPoint(rank: $0, value: all[all.count - 1 - $0])
        }
    }

    /// The report for a model: groups from `LayerGroup.groups`, after validating the file against it.
    public init(fisher: FisherFile, architecture: any ModelArchitecture, aggregate: GroupAggregate = .meanOfMeans,
                threshold: Double = 0.01, topPercents: [Double] = [0.25, 1, 5]) throws {
        try fisher.validate(against: architecture)
        try self.init(fisher: fisher, groups: LayerGroup.groups(names: fisher.names, architecture: architecture),
                      aggregate: aggregate, threshold: threshold, topPercents: topPercents)
    }

    // MARK: - Output

    /// The JSON form (pretty-printed, keys sorted).
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// The report as tables: summary, groups in network order, groups by score, tensors.
    public func tables() -> [ReportTable] {
        let thresholdLabel = "≥ \(threshold)·max"
        var summary = ReportTable(title: "Fisher: \(source)", columns: ["quantity", "value"])
        let samples = metadata[FisherFile.MetadataKey.samples].map { s in
            s + (metadata[FisherFile.MetadataKey.skipped].map { " (\($0) skipped)" } ?? "")
        }
        summary.rows = [
            ["samples", samples ?? "not recorded"],
            ["parameters", String(parameterCount)],
            ["tensors / groups", "\(tensors.count) / \(groups.count)"],
            ["total Fisher", Format.sci(totalMass)],
            ["max Fisher (normaliser)", Format.sci(globalMax)],
            ["zero values", "\(zeroCount) (\(Format.percent(parameterCount > 0 ? Double(zeroCount) / Double(parameterCount) : 0)))"],
            ["parameters \(thresholdLabel)", "\(countAboveThreshold) (\(Format.percent(shareAboveThreshold)))"],
        ] + topMass.map { ["mass in top \(Format.percentLabel($0.percent)) (\($0.elements))", Format.percent($0.share)] }
        + [["group score", aggregate.rawValue]]

        let topColumns = topPercents.map { "top \(Format.percentLabel($0)) mass" }
        var network = ReportTable(title: "Layer groups in network order (score: \(aggregate.rawValue))",
                                  columns: ["#", "group", "dropout site", "params", "score", "mean", "max", "mass", thresholdLabel])
        network.rows = groups.enumerated().map { i, g in
            [String(i), g.name, g.site ?? "-", String(g.count), Format.sci(g.score), Format.sci(g.mean), Format.sci(g.max),
             Format.percent(g.massShare), Format.percent(g.shareAboveThreshold)]
        }
        var ranked = ReportTable(title: "Layer groups by score, highest first", columns: ["rank", "group", "score", "dropout site"])
        ranked.rows = groupsByScore.map { [String($0.rank), $0.name, Format.sci($0.score), $0.site ?? "-"] }
        var perTensor = ReportTable(title: "Tensors",
                                    columns: ["tensor", "shape", "params", "mean", "max", thresholdLabel] + topColumns)
        perTensor.rows = tensors.map { t in
            [t.name, t.shape.map(String.init).joined(separator: "×"), String(t.count), Format.sci(t.mean), Format.sci(t.max),
             Format.percent(t.shareAboveThreshold)] + t.topMass.map { Format.percent($0.share) }
        }
        return [summary, network, ranked, perTensor]
    }

    /// The tables as one Markdown document.
    public func markdown() -> String {
        tables().map { "### \($0.title)\n\n\($0.markdown())\n" }.joined(separator: "\n")
    }
}

/// A buffer shared by parallel workers that write disjoint slices of it.
private struct SharedBuffer: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Float>
    init(_ buffer: UnsafeMutableBufferPointer<Float>) { self.buffer = buffer }
}
