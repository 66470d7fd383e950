import GuidedModel

/// How a layer group's score is aggregated from its tensors' Fisher values.
public enum GroupAggregate: String, Sendable, Codable, CaseIterable {
    /// The mean over the group's tensors of each tensor's mean Fisher (the paper's code): a bias
    /// weighs as much as its weight matrix.
    case meanOfMeans = "mean-of-means"
    /// The parameter-weighted mean: the group's total Fisher over its parameter count.
    case weighted
}

/// A BERT layer group (../shared/DESIGN.md, "Layer aggregation"): the parameter tensors of one
/// sub-module and the dropout site their output goes through next, if any.
///
/// | group (names without `bert.`)       | dropout site it precedes                      |
/// |-------------------------------------|-----------------------------------------------|
/// | `embeddings`                        | `embeddings.dropout`                          |
/// | `encoder.layer.i.attention.self`    | `encoder.layer.i.attention.self.dropout` (attention probabilities) |
/// | `encoder.layer.i.attention.output`  | `encoder.layer.i.attention.output.dropout`    |
/// | `encoder.layer.i.intermediate`      | none                                          |
/// | `encoder.layer.i.output`            | `encoder.layer.i.output.dropout`              |
/// | `pooler`, `cls`, `classifier`, ...  | none (the classifier's dropout is not scheduled) |
///
/// Site module paths come from the `BertArchitecture`, so they carry its `bert.` prefix when the
/// model has a head. A BERT with L layers has 1 + 3·L groups with a site (37 for BERT-base).
public struct LayerGroup: Sendable, Equatable {
    /// The sub-module's name without `bert.`, e.g. `encoder.layer.3.attention.self`.
    public let name: String
    /// Member tensor names as given (checkpoint names, `bert.` kept), in the given order.
    public let tensors: [String]
    /// The dropout site the group's output goes through next, or nil.
    public let site: DropoutSite?

    public init(name: String, tensors: [String], site: DropoutSite?) {
        self.name = name
        self.tensors = tensors
        self.site = site
    }

    /// The BERT layer groups of `names` (parameter names with or without `bert.`), in network
    /// order: embeddings, then per layer attention.self, attention.output, intermediate, output,
    /// then pooler, the head (`cls`, `classifier`) and any other top-level module in order of first
    /// appearance. Sites are looked up by kind in `architecture` (nil where it has none).
    public static func bert(names: [String], architecture: BertArchitecture) -> [LayerGroup] {
        var members: [String: [String]] = [:]
        var keys: [String: GroupKey] = [:]
        var firstSeen: [String: Int] = [:]
        for name in names {
            let key = GroupKey(name)
            members[key.name, default: []].append(name)
            keys[key.name] = key
            if firstSeen[key.name] == nil { firstSeen[key.name] = firstSeen.count }
        }
        let ordered = keys.values.sorted {
            $0.rank != $1.rank ? $0.rank.lexicographicallyPrecedes($1.rank) : firstSeen[$0.name]! < firstSeen[$1.name]!
        }
        return ordered.map { key in
            let site = key.siteKind.flatMap { kind in architecture.sites.first { $0.kind == kind } }
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

/// Where a parameter name belongs: its group's name, network-order rank and dropout site kind.
private struct GroupKey {
    let name: String
    let rank: [Int]
    let siteKind: DropoutSite.Kind?

    init(_ full: String) {
        let stripped = full.hasPrefix("bert.") ? String(full.dropFirst(5)) : full
        let parts = stripped.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if parts.first == "embeddings" {
            (name, rank, siteKind) = ("embeddings", [0], .embeddings)
            return
        }
        if parts.count >= 4, parts[0] == "encoder", parts[1] == "layer", let layer = Int(parts[2]), layer >= 0 {
            let prefix = "encoder.layer.\(layer)."
            switch (parts[3], parts.count > 4 ? parts[4] : "") {
            case ("attention", "self"):
                (name, rank, siteKind) = (prefix + "attention.self", [1, layer, 0], .attentionProbabilities(layer: layer))
            case ("attention", "output"):
                (name, rank, siteKind) = (prefix + "attention.output", [1, layer, 1], .attentionOutput(layer: layer))
            case ("intermediate", _):
                (name, rank, siteKind) = (prefix + "intermediate", [1, layer, 2], nil)
            case ("output", _):
                (name, rank, siteKind) = (prefix + "output", [1, layer, 3], .output(layer: layer))
            default:
                (name, rank, siteKind) = (prefix + parts[3], [1, layer, 4], nil)
            }
            return
        }
        switch parts[0] {
        case "pooler": rank = [2]
        case "cls", "classifier": rank = [3]
        default: rank = [4]
        }
        name = parts[0]
        siteKind = nil
    }
}
