import Foundation
import GuidedModel

/// How p falls from `p_upper` (the least informative site) to `p_lower` (the most informative one)
/// along the n sites sorted by score. With t = i/(n − 1) for the site at position i (0-based):
///
/// - `linear` (the paper's): p = p_upper − t·(p_upper − p_lower)
/// - `cosine`: p = p_lower + (p_upper − p_lower)·(1 + cos(π·t))/2 — flat at both ends
/// - `power(γ)`: p = p_lower + (p_upper − p_lower)·(1 − t)^γ — γ > 1 drops fast then flattens
///   (most sites lightly regularised), γ < 1 the other way; γ = 1 is `linear`.
///
/// A single site gets p_upper.
public enum ScheduleShape: Sendable, Equatable, CustomStringConvertible {
    case linear
    case cosine
    case power(Double)

    /// The shape's name as written in a schedule file and on the command line.
    public var name: String {
        switch self {
        case .linear: return "linear"
        case .cosine: return "cosine"
        case .power: return "power"
        }
    }

    /// γ of `power`, nil otherwise.
    public var exponent: Double? {
        if case .power(let gamma) = self { return gamma }
        return nil
    }

    public var description: String {
        if case .power(let gamma) = self { return "power (γ = \(gamma))" }
        return name
    }

    /// The shape named `name` (`power` needs `power`, the exponent).
    public init(name: String, power: Double? = nil) throws {
        switch name {
        case "linear": self = .linear
        case "cosine": self = .cosine
        case "power":
            guard let power else { throw ModelError("schedule shape power needs an exponent γ") }
            self = .power(power)
        default: throw ModelError("unknown schedule shape \"\(name)\" (linear, cosine or power)")
        }
    }

    /// The fraction of the way from p_upper down to p_lower at position t ∈ [0, 1]: 0 at t = 0, 1 at t = 1.
    func descent(_ t: Double) -> Double {
        switch self {
        case .linear: return t
        case .cosine: return (1 - cos(Double.pi * t)) / 2
        case .power(let gamma): return 1 - pow(1 - t, gamma)
        }
    }
}

/// A guided-dropout schedule (../shared/DESIGN.md, "Schedule"; paper §2.3 and appendix A.4): the
/// dropout sites of a model sorted by the Fisher score of the layer group that precedes each one,
/// ascending, with p assigned from `pUpper` (lowest score: least informative, most regularised)
/// down to `pLower` (highest score).
///
/// Ties in score are broken by network order: of two sites with the same score, the one earlier in
/// the network (lower `DropoutSite.index`) comes first and so gets the higher p. The classifier's
/// dropout is not scheduled (no layer group precedes it); it keeps its configured p.
///
/// Probabilities are rounded to 12 decimals (a change below 5·10⁻¹³) so that decimal steps come out
/// as written: p_upper 0.099, p_lower 0 and 37 sites give exactly 0.099, 0.09625, …, 0.00275, 0 —
/// the paper code's values. The two ends are exactly p_upper and p_lower.
public struct DropoutSchedule: Sendable, Equatable {
    /// One scheduled site.
    public struct Entry: Sendable, Equatable {
        public let site: DropoutSite
        /// The layer group that precedes the site (name without the base prefix).
        public let group: String
        public let score: Double
        /// Position in ascending score order: 0 is the least informative site (p_upper).
        public let rank: Int
        public let p: Double
    }

    /// Entries in rank order (ascending score).
    public let entries: [Entry]
    public let shape: ScheduleShape
    public let pUpper: Double
    public let pLower: Double
    public let aggregate: GroupAggregate

    /// Checks 0 ≤ p_lower ≤ p_upper < 1 and, for `power`, a finite γ > 0.
    public static func validate(pUpper: Double, pLower: Double, shape: ScheduleShape) throws {
        guard pLower.isFinite, pUpper.isFinite, pLower >= 0, pLower <= pUpper, pUpper < 1 else {
            throw ModelError("a schedule needs 0 ≤ p_lower ≤ p_upper < 1, got p_lower \(pLower), p_upper \(pUpper)")
        }
        if let gamma = shape.exponent, !(gamma.isFinite && gamma > 0) {
            throw ModelError("the power shape needs a finite exponent γ > 0, got \(gamma)")
        }
    }

    /// The n probabilities from p_upper (position 0) to p_lower (position n − 1) along `shape`.
    public static func probabilities(count n: Int, shape: ScheduleShape, pUpper: Double, pLower: Double) throws -> [Double] {
        try validate(pUpper: pUpper, pLower: pLower, shape: shape)
        guard n > 1 else { return Array(repeating: pUpper, count: max(n, 0)) }
        return (0..<n).map { i in
            if i == 0 { return pUpper }
            if i == n - 1 { return pLower }
            let t = Double(i) / Double(n - 1)
            let p = shape == .linear
                ? pUpper - Double(i) * (pUpper - pLower) / Double(n - 1)
                : pUpper - shape.descent(t) * (pUpper - pLower)
            return min(pUpper, max(pLower, (p * 1e12).rounded() / 1e12))
        }
    }

    /// A schedule from scored sites (any order; each site once).
    public init(scores: [(group: String, site: DropoutSite, score: Double)], aggregate: GroupAggregate,
                shape: ScheduleShape = .linear, pUpper: Double = 0.1, pLower: Double = 0) throws {
        var seen = Set<Int>()
        for s in scores {
            guard seen.insert(s.site.index).inserted else {
                throw ModelError("dropout site \(s.site.modulePath) is scored twice")
            }
            guard s.score.isFinite, s.score >= 0 else {
                throw ModelError("layer group \(s.group) has score \(s.score); Fisher scores are finite and non-negative")
            }
        }
        let sorted = scores.sorted { $0.score != $1.score ? $0.score < $1.score : $0.site.index < $1.site.index }
        let ps = try Self.probabilities(count: sorted.count, shape: shape, pUpper: pUpper, pLower: pLower)
        entries = sorted.enumerated().map { i, s in Entry(site: s.site, group: s.group, score: s.score, rank: i, p: ps[i]) }
        self.shape = shape
        self.pUpper = pUpper
        self.pLower = pLower
        self.aggregate = aggregate
    }

    /// The schedule of a model from its Fisher file: the file is validated against `architecture`
    /// (names, shapes, finite non-negative values), the layer groups of `LayerGroup.groups` that
    /// precede a dropout site are scored with `aggregate`, and their sites scheduled.
    public init(fisher: FisherFile, architecture: any ModelArchitecture, aggregate: GroupAggregate = .meanOfMeans,
                shape: ScheduleShape = .linear, pUpper: Double = 0.1, pLower: Double = 0) throws {
        try Self.validate(pUpper: pUpper, pLower: pLower, shape: shape)
        try fisher.validate(against: architecture)
        let groups = LayerGroup.groups(names: fisher.names, architecture: architecture).filter { $0.site != nil }
        let scores = try groups.map { group in
            let score = try group.score(aggregate) { name in
                let values = try fisher.values(name)
                try FisherFile.checkValues(values, tensor: name, path: fisher.path)
                return (values.reduce(0.0) { $0 + Double($1) }, values.count)
            }
            return (group: group.name, site: group.site!, score: score)
        }
        try self.init(scores: scores, aggregate: aggregate, shape: shape, pUpper: pUpper, pLower: pLower)
    }

    /// Probabilities indexed by `DropoutSite.index` of `architecture`; sites the schedule does not
    /// hold (the classifier's) keep their configured p.
    public func probabilities(for architecture: any ModelArchitecture) -> [Double] {
        var ps = architecture.sites.map(\.configuredProbability)
        for entry in entries where entry.site.index < ps.count { ps[entry.site.index] = entry.p }
        return ps
    }

    /// The schedule as a file; `model` and `fisher` record where it came from.
    public func file(model: String, fisher: String) -> DropoutScheduleFile {
        DropoutScheduleFile(
            model: model, fisher: fisher, aggregate: aggregate.rawValue, shape: shape.name, power: shape.exponent,
            pUpper: pUpper, pLower: pLower,
            sites: Dictionary(uniqueKeysWithValues: entries.map {
                ($0.site.modulePath, DropoutScheduleFile.Site(p: $0.p, score: $0.score, rank: $0.rank, group: $0.group))
            }))
    }

    /// The schedule as a table in rank order: rank, site, group, score, p.
    public func table() -> ReportTable {
        ReportTable(
            title: "Dropout schedule: \(entries.count) sites by Fisher score (\(aggregate.rawValue)), \(shape) "
                + "from p_upper \(Self.format(pUpper)) to p_lower \(Self.format(pLower))",
            columns: ["rank", "dropout site", "layer group", "score", "p"],
            rows: entries.map { [String($0.rank), $0.site.modulePath, $0.group, Format.sci($0.score), Self.format($0.p)] })
    }

    /// Up to 6 decimals, trailing zeros dropped: 0.09625, 0.1, 0.
    static func format(_ p: Double) -> String {
        var s = String(format: "%.6f", p)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    /// The sorted scores as bars (log y axis) with the assigned p on a second, linear axis.
    public func chart() -> BarChart {
        let zeros = entries.filter { $0.score <= 0 }.count
        var notes = ["\(entries.count) dropout sites", "score: \(aggregate.rawValue)", "\(shape)"]
        if zeros > 0 { notes.append("\(zeros) zero scores not drawn") }
        let top = pUpper > 0 ? pUpper : 1
        var chart = BarChart(
            title: "Guided dropout schedule: sites sorted by Fisher score",
            subtitle: notes.joined(separator: "; "),
            categories: entries.map(\.group), values: entries.map(\.score),
            xLabel: "layer group before each dropout site (ascending score)",
            y: Axis("Fisher score", scale: .log10),
            // Headroom above p_upper keeps the first point clear of the legend.
            y2: Axis("dropout p", range: 0...(top * 1.25)),
            overlay: Series("dropout p", entries.enumerated().map { PlotPoint(Double($0.offset), $0.element.p) },
                            style: .lineAndMarkers, color: PlotColor.categorical(1), onSecondaryAxis: true))
        chart.legend = [("Fisher score", PlotColor.categorical(0))]  // the overlay adds its own entry
        return chart
    }
}

/// A schedule file: JSON, keys sorted, sites keyed by their `transformers` module path, so a PyTorch
/// user applies it with `model.get_submodule(path).p = p` (tools/apply_schedule.py).
///
/// ```json
/// {"format": "guided-dropout-schedule/1", "model": "...", "fisher": "...", "aggregate": "mean-of-means",
///  "shape": "linear", "p_upper": 0.1, "p_lower": 0,
///  "sites": {"bert.encoder.layer.0.attention.self.dropout": {"p": 0.05, "score": 1.2e-9, "rank": 17,
///            "group": "encoder.layer.0.attention.self"}, ...}}
/// ```
/// `power` (γ) is present for the power shape only. `rank` 0 is the lowest score.
public struct DropoutScheduleFile: Codable, Sendable, Equatable {
    public static let formatName = "guided-dropout-schedule/1"

    public struct Site: Codable, Sendable, Equatable {
        public var p: Double
        public var score: Double
        public var rank: Int
        public var group: String
        public init(p: Double, score: Double, rank: Int, group: String) {
            self.p = p
            self.score = score
            self.rank = rank
            self.group = group
        }
    }

    public var format: String
    public var model: String
    public var fisher: String
    public var aggregate: String
    public var shape: String
    public var power: Double?
    public var pUpper: Double
    public var pLower: Double
    public var sites: [String: Site]

    enum CodingKeys: String, CodingKey {
        case format, model, fisher, aggregate, shape, power, sites
        case pUpper = "p_upper", pLower = "p_lower"
    }

    public init(format: String = DropoutScheduleFile.formatName, model: String, fisher: String, aggregate: String,
                shape: String, power: Double? = nil, pUpper: Double, pLower: Double, sites: [String: Site]) {
        self.format = format
        self.model = model
        self.fisher = fisher
        self.aggregate = aggregate
        self.shape = shape
        self.power = power
        self.pUpper = pUpper
        self.pLower = pLower
        self.sites = sites
    }

    /// Pretty-printed JSON with sorted keys.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Writes the file atomically.
    public func write(to url: URL) throws {
        try (encoded() + Data("\n".utf8)).write(to: url, options: .atomic)
    }

    /// Parses a schedule file; checks its format string (content is checked by `probabilities(for:)`).
    public init(data: Data, path: String = "<memory>") throws {
        let file: DropoutScheduleFile
        do {
            file = try JSONDecoder().decode(DropoutScheduleFile.self, from: data)
        } catch {
            throw ModelError("schedule file \(path): not a dropout schedule (\(error))")
        }
        guard file.format == Self.formatName else {
            throw ModelError("schedule file \(path): format \"\(file.format)\", expected \"\(Self.formatName)\"")
        }
        self = file
    }

    public init(contentsOf url: URL) throws {
        try self.init(data: try Data(contentsOf: url), path: url.path)
    }

    /// The per-site probabilities for `architecture`, indexed by `DropoutSite.index`. Every site of
    /// the architecture except the classifier's must be in the file and every key of the file must
    /// be such a site; p must be finite in [0, 1). A key matches a site by its module path, or by
    /// the path with the base prefix (`bert.`, `transformer.`) added or removed, so a schedule made from a `BertModel`
    /// checkpoint applies to a `BertFor…` model and back. The classifier's site takes `classifier`
    /// if given, else its configured p.
    public func probabilities(for architecture: any ModelArchitecture, classifier: Double? = nil, path: String = "<memory>") throws -> [Double] {
        let prefix = architecture.basePrefix
        func alternative(_ key: String) -> String {
            key.hasPrefix(prefix) ? String(key.dropFirst(prefix.count)) : prefix + key
        }
        var ps = architecture.sites.map(\.configuredProbability)
        var used = Set<String>()
        for site in architecture.sites {
            if site.kind == .classifier {
                if let classifier { ps[site.index] = classifier }
                continue
            }
            let key = sites[site.modulePath] != nil ? site.modulePath : alternative(site.modulePath)
            guard let entry = sites[key] else {
                throw ModelError("schedule file \(path): no probability for dropout site \(site.modulePath) "
                    + "(\(sites.count) sites in the file, the model has \(architecture.sites.filter { $0.kind != .classifier }.count))")
            }
            guard entry.p.isFinite, entry.p >= 0, entry.p < 1 else {
                throw ModelError("schedule file \(path): site \(key) has p \(entry.p); p must be in [0, 1)")
            }
            ps[site.index] = entry.p
            used.insert(key)
        }
        if let extra = sites.keys.sorted().first(where: { !used.contains($0) }) {
            throw ModelError("schedule file \(path): site \(extra) is not a scheduled dropout site of the model "
                + "(\(architecture.className), \(architecture.layers) layers)")
        }
        if let classifier, !(classifier.isFinite && classifier >= 0 && classifier < 1) {
            throw ModelError("classifier dropout p must be in [0, 1), got \(classifier)")
        }
        return ps
    }
}
