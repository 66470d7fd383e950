import GuidedModel

/// How a layer group's score is aggregated from its tensors' Fisher values.
public enum GroupAggregate: String, Sendable, Codable, CaseIterable {
    /// The mean over the group's tensors of each tensor's mean Fisher (the paper's code): a bias
    /// weighs as much as its weight matrix.
    case meanOfMeans = "mean-of-means"
    /// The parameter-weighted mean: the group's total Fisher over its parameter count.
    case weighted
}

/// A layer group (../shared/DESIGN.md, "Layer aggregation"): the parameter tensors of one
/// sub-module and the dropout site their output goes through next, if any. Which tensors form a
/// group is the architecture's to say (`ModelArchitecture.layerGroup(of:)`: BERT's table is in
/// BertModel+LanguageModel.swift, GPT-2's in GPT2Architecture.swift). Site module paths come from
/// the architecture, so they carry its prefix (`bert.`, `transformer.`) when the model has a head.
public struct LayerGroup: Sendable, Equatable {
    /// The sub-module's name without the base prefix, e.g. `encoder.layer.3.attention.self`.
    public let name: String
    /// Member tensor names as given (checkpoint names, prefix kept), in the given order.
    public let tensors: [String]
    /// The dropout site the group's output goes through next, or nil.
    public let site: DropoutSite?

    public init(name: String, tensors: [String], site: DropoutSite?) {
        self.name = name
        self.tensors = tensors
        self.site = site
    }

    /// The layer groups of `names` (parameter names with or without the base prefix) in network
    /// order, ties in order of first appearance. Sites are looked up by kind in `architecture`
    /// (nil where it has none).
    public static func groups(names: [String], architecture: any ModelArchitecture) -> [LayerGroup] {
        var members: [String: [String]] = [:]
        var keys: [String: LayerGroupKey] = [:]
        var firstSeen: [String: Int] = [:]
        for name in names {
            let key = architecture.layerGroup(of: name)
            members[key.name, default: []].append(name)
            keys[key.name] = key
            if firstSeen[key.name] == nil { firstSeen[key.name] = firstSeen.count }
        }
        let ordered = keys.values.sorted {
            $0.rank != $1.rank ? $0.rank.lexicographicallyPrecedes($1.rank) : firstSeen[$0.name]! < firstSeen[$1.name]!
        }
        return ordered.map { key in
            let site = key.site.flatMap { kind in architecture.sites.first { $0.kind == kind } }
            return LayerGroup(name: key.name, tensors: members[key.name]!, site: site)
        }
    }

    /// The group's score from each member tensor's (sum, count) of Fisher values. Tensors with no
    /// elements are left out of `meanOfMeans`; a group with no elements scores 0.
    public func score(_ aggregate: GroupAggregate,
                      sumAndCount: (String) throws -> (sum: Double, count: Int)) rethrows -> Double {
        var sum = 0.0, count = 0, meanSum = 0.0, tensorCount = 0
        for tensor in tensors {
            let (s, n) = try sumAndCount(tensor)
            guard n > 0 else { continue }
            sum += s
            count += n
            meanSum += s / Double(n)
            tensorCount += 1
        }
        guard count > 0 else { return 0 }
        switch aggregate {
        case .meanOfMeans: return meanSum / Double(tensorCount)
        case .weighted: return sum / Double(count)
        }
    }

    /// The group's score computed from `fisher` (reads each member tensor).
    public func score(_ fisher: FisherFile, _ aggregate: GroupAggregate) throws -> Double {
        try score(aggregate) { name in
            let values = try fisher.values(name)
            return (values.reduce(0.0) { $0 + Double($1) }, values.count)
        }
    }
}
