import Foundation
import GuidedModel

/// How well subsampled Fisher estimates agree with a reference (paper Table 1).
///
/// For each parameter tensor and each k, take the top-k% elements of the **reference** Fisher
/// (`TopSelection.elementCount`: ⌈k·n/100⌉, at least 1; ties broken by lower index, as
/// `np.argsort(-x, kind="stable")`). On those elements:
/// - **cross-correlation** = Pearson correlation of the reference and subsample values. It is
///   undefined with fewer than 2 elements or when either side is constant; such tensors are
///   skipped and counted (`correlationSkipped`).
/// - **KL** = D_KL(P‖Q) = Σ P log(P/Q) (natural log, as `scipy.stats.entropy`), with P and Q the
///   reference and subsample values there, each normalised to sum 1. Guard against zeros: each
///   vector first gets ε = 1e-12 × its own maximum added to every element; a vector that is all
///   zero (maximum 0) makes the tensor skipped for KL and counted (`klSkipped`).
/// Mean and standard deviation are over the tensors that were not skipped; the standard deviation
/// is the **population** one (divide by the count, numpy's default `np.std`). Sums in Double.
public struct ConsistencyTable: Codable, Sendable {
    /// Mean and population standard deviation over tensors; nil when no tensor counted.
    public struct Summary: Codable, Sendable, Equatable {
        public let mean: Double?
        public let std: Double?
        public let tensors: Int

        init(_ values: [Double]) {
            tensors = values.count
            guard !values.isEmpty else { mean = nil; std = nil; return }
            let n = Double(values.count)
            let mu = values.reduce(0, +) / n
            mean = mu
            std = (values.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / n).squareRoot()
        }
    }

    public struct Cell: Codable, Sendable {
        /// k, in percent.
        public let percent: Double
        public let correlation: Summary
        public let kl: Summary
        public let correlationSkipped: Int
        public let klSkipped: Int
    }

    public struct Row: Codable, Sendable {
        /// The subsample's label (by default its file name).
        public let label: String
        public let path: String
        /// Its `samples` and `fraction` metadata, when recorded.
        public let samples: String?
        public let fraction: String?
        /// One per k, in the order of `percents`.
        public let cells: [Cell]
    }

    public let reference: String
    public let referenceSamples: String?
    public let percents: [Double]
    public let tensors: Int
    public let rows: [Row]

    /// Compares each subsample with `reference` (same tensor names and shapes required) for each k
    /// in `percents`. Tensors are processed in parallel; the reference selection is made once per
    /// tensor and shared by all subsamples.
    public init(reference: FisherFile, subsamples: [(label: String, fisher: FisherFile)],
                percents: [Double] = [5, 1, 0.5, 0.25]) throws {
        for k in percents where !(k > 0 && k <= 100) {
            throw ModelError("consistency: top-k percentage \(k) is not in (0, 100]")
        }
        for (_, sub) in subsamples {
            for name in reference.names {
                guard let shape = sub.shapes[name] else {
                    throw ModelError("Fisher file \(sub.path): tensor \(name) is missing; the reference \(reference.path) has it")
                }
                guard shape == reference.shapes[name] else {
                    throw ModelError("Fisher file \(sub.path): tensor \(name) has shape \(shape), "
                        + "the reference \(reference.path) has \(reference.shapes[name]!)")
                }
            }
        }
        let names = reference.names
        let subs = subsamples.map(\.fisher)
        // perTensor[t][s][k] = (correlation, kl), nil where skipped.
        let perTensor: [[[(Double?, Double?)]]] = try parallelMap(names.count) { t in
            let name = names[t]
            let ref = try reference.values(name)
            try FisherFile.checkValues(ref, tensor: name, path: reference.path)
            let counts = percents.map { TopSelection.elementCount(percent: $0, of: ref.count) }
            let order = TopSelection.topIndices(ref, counts.max() ?? 0)
            return try subs.map { sub in
                let values = try sub.values(name)
                try FisherFile.checkValues(values, tensor: name, path: sub.path)
                return counts.map { m in
                    let p = order.prefix(m).map { Double(ref[$0]) }
                    let q = order.prefix(m).map { Double(values[$0]) }
                    return (Self.pearson(p, q), Self.klDivergence(p, q))
                }
            }
        }
        self.reference = reference.path
        referenceSamples = reference.metadata[FisherFile.MetadataKey.samples]
        self.percents = percents
        tensors = names.count
        rows = subsamples.enumerated().map { s, subsample in
            let cells = percents.indices.map { k in
                let correlations = perTensor.compactMap { $0[s][k].0 }
                let kls = perTensor.compactMap { $0[s][k].1 }
                return Cell(percent: percents[k], correlation: Summary(correlations), kl: Summary(kls),
                            correlationSkipped: names.count - correlations.count, klSkipped: names.count - kls.count)
            }
            return Row(label: subsample.label, path: subsample.fisher.path,
                       samples: subsample.fisher.metadata[FisherFile.MetadataKey.samples],
                       fraction: subsample.fisher.metadata[FisherFile.MetadataKey.fraction], cells: cells)
        }
    }

    /// Pearson correlation; nil with fewer than 2 values or a constant side.
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double? {
        guard x.count == y.count, x.count >= 2 else { return nil }
        guard x.contains(where: { $0 != x[0] }), y.contains(where: { $0 != y[0] }) else { return nil }
        let n = Double(x.count)
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices {
            let dx = x[i] - mx, dy = y[i] - my
            sxy += dx * dy
            sxx += dx * dx
            syy += dy * dy
        }
        guard sxx > 0, syy > 0 else { return nil }
        return max(-1, min(1, sxy / (sxx.squareRoot() * syy.squareRoot())))
    }

    /// D_KL(P‖Q) of `p` and `q` after adding ε = 1e-12 × max to each and normalising to sum 1;
    /// nil when either is empty or all zero.
    public static func klDivergence(_ p: [Double], _ q: [Double]) -> Double? {
        guard p.count == q.count, !p.isEmpty else { return nil }
        guard let pMax = p.max(), let qMax = q.max(), pMax > 0, qMax > 0 else { return nil }
        let pe = 1e-12 * pMax, qe = 1e-12 * qMax
        let pSum = p.reduce(0) { $0 + $1 + pe }, qSum = q.reduce(0) { $0 + $1 + qe }
        var d = 0.0
        for i in p.indices {
            let pi = (p[i] + pe) / pSum, qi = (q[i] + qe) / qSum
            d += pi * Foundation.log(pi / qi)
        }
        return d
    }

    // MARK: - Output

    /// The JSON form (pretty-printed, keys sorted).
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// The paper's layout: one row per subsample; per k the correlation's μ and σ, then the KL's.
    public func table() -> ReportTable {
        var table = ReportTable(
            title: "Consistency with \(reference) (\(tensors) tensors; μ, σ over tensors)",
            columns: ["subsample", "samples"] + percents.flatMap { k in
                let top = "top \(Format.percentLabel(k))"
                return ["\(top) corr μ", "corr σ", "KL μ", "KL σ"]
            })
        table.rows = rows.map { row in
            [row.label, row.samples ?? "-"] + row.cells.flatMap { cell in
                [Format.optional(cell.correlation.mean) { Format.fixed($0) }, Format.optional(cell.correlation.std) { Format.fixed($0) },
                 Format.optional(cell.kl.mean) { Format.fixed($0) }, Format.optional(cell.kl.std) { Format.fixed($0) }]
            }
        }
        return table
    }

    /// One narrow table per k (for a terminal): subsample, samples, corr μ σ, KL μ σ, tensors used.
    public func tablesPerPercent() -> [ReportTable] {
        percents.indices.map { k in
            var table = ReportTable(title: "Top \(Format.percentLabel(percents[k])) of each tensor",
                                    columns: ["subsample", "samples", "corr μ", "corr σ", "KL μ", "KL σ", "skipped corr/KL"])
            table.rows = rows.map { row in
                let cell = row.cells[k]
                return [row.label, row.samples ?? "-",
                        Format.optional(cell.correlation.mean) { Format.fixed($0) }, Format.optional(cell.correlation.std) { Format.fixed($0) },
                        Format.optional(cell.kl.mean) { Format.fixed($0) }, Format.optional(cell.kl.std) { Format.fixed($0) },
                        "\(cell.correlationSkipped)/\(cell.klSkipped)"]
            }
            return table
        }
    }

    /// The paper-layout table plus notes on conventions and skipped tensors, as Markdown.
    public func markdown() -> String {
        var text = "### \(table().title)\n\n\(table().markdown())\n\n"
        text += "Top-k% per tensor of the reference; corr = Pearson; KL = D_KL(reference‖subsample) on the "
            + "values normalised to sum 1 (ε = 1e-12·max added); σ = population standard deviation.\n"
        let skips = rows.flatMap { row in row.cells.compactMap { cell in
            cell.correlationSkipped + cell.klSkipped > 0
                ? "- \(row.label), top \(Format.percentLabel(cell.percent)): \(cell.correlationSkipped) tensors skipped for corr, \(cell.klSkipped) for KL"
                : nil
        } }
        if !skips.isEmpty { text += "\nSkipped (correlation undefined: < 2 elements or constant; KL: all zero):\n" + skips.joined(separator: "\n") + "\n" }
        return text
    }
}
