import Foundation

/// The Fisher plots of the paper (Figures 3, 5, 6, 7) from a `FisherReport`.
public enum FisherPlots {
    /// Colour of groups that precede a dropout site, and of those that do not.
    static let siteColor = PlotColor.categorical(0), noSiteColor = "#9e9e9e"

    /// Figures 3a / 5: every parameter's Fisher, sorted increasingly, on a log axis — normalised by
    /// the global maximum on the left axis, raw on the right — with the 0.01·max threshold marked.
    /// The curve is the report's subsample (`TopSelection.sortedCurveRanks`: tail kept exactly);
    /// zeros cannot be drawn on a log axis and are counted in the subtitle.
    public static func sortedParameters(_ report: FisherReport) -> LineChart {
        let n = report.parameterCount
        let xAxis = Axis("parameters sorted by Fisher (percentile)", range: 0...100)
        let top = report.topMass.first { $0.percent == 1 } ?? report.topMass.first
        var notes = ["\(n) parameters"]
        if let top { notes.append("top \(Format.percentLabel(top.percent)) hold \(Format.percent(top.share)) of the Fisher mass") }
        if report.zeroCount > 0 { notes.append("\(report.zeroCount) zero values not shown") }
        guard report.globalMax > 0 else {
            return LineChart(title: "Sorted Fisher per parameter", subtitle: "all \(n) values are zero", x: xAxis,
                             y: Axis("Fisher", scale: .log10), series: [])
        }
        let points = report.sortedCurve.map {
            PlotPoint(n > 1 ? Double($0.rank) / Double(n - 1) * 100 : 0, Double($0.value) / report.globalMax)
        }
        let minPositive = points.map(\.y).filter { $0 > 0 }.min() ?? 1
        var lowDecade = log10(minPositive).rounded(.down)
        if lowDecade >= 0 { lowDecade = -1 }
        let lower = pow(10, lowDecade)
        var chart = LineChart(
            title: "Sorted Fisher per parameter",
            subtitle: notes.joined(separator: "; "),
            x: xAxis,
            y: Axis("Fisher / max Fisher", scale: .log10, range: lower...1),
            y2: Axis("Fisher", scale: .log10, range: (lower * report.globalMax)...report.globalMax),
            series: [Series("Fisher", points, style: .line)])
        if report.threshold > lower && report.threshold < 1 {
            chart.referenceLines = [ReferenceLine(
                y: report.threshold,
                label: "\(report.threshold)·max: \(Format.percent(report.shareAboveThreshold)) of parameters at or above")]
        }
        return chart
    }

    /// Figures 3b / 6: layer groups sorted by score, lowest first. `scale` .log10 helps when a few
    /// groups dwarf the others (the paper's figures are linear).
    public static func sortedGroups(_ report: FisherReport, scale: AxisScale = .linear) -> BarChart {
        let sorted = report.groups.sorted { $0.rank > $1.rank }
        return groupChart(report, sorted, title: "Layer groups sorted by Fisher score",
                          xLabel: "layer group (sorted by score)", scale: scale)
    }

    /// Figure 7: layer groups in network order.
    public static func groupsInNetworkOrder(_ report: FisherReport, scale: AxisScale = .linear) -> BarChart {
        groupChart(report, report.groups, title: "Fisher score per layer group, in network order",
                   xLabel: "layer group (network order)", scale: scale)
    }

    private static func groupChart(_ report: FisherReport, _ groups: [FisherReport.GroupStats], title: String,
                                   xLabel: String, scale: AxisScale) -> BarChart {
        let label = report.aggregate == .meanOfMeans ? "Fisher score (mean of tensor means)" : "Fisher score (parameter-weighted mean)"
        let withSite = groups.filter { $0.site != nil }.count
        var chart = BarChart(title: title, subtitle: "\(groups.count) groups, \(withSite) precede a dropout site",
                             categories: groups.map(\.name), values: groups.map(\.score),
                             colors: groups.map { $0.site == nil ? noSiteColor : siteColor }, xLabel: xLabel,
                             y: Axis(label, scale: scale))
        chart.legend = [("precedes a dropout site", siteColor), ("no dropout site", noSiteColor)]
        return chart
    }
}

/// Writes the Fisher plots as SVG files into `directory` (created if needed) and returns their
/// URLs: `fisher-parameters-sorted.svg`, `fisher-groups-sorted.svg`, `fisher-groups-network-order.svg`.
/// `groupScale` is the y scale of the two group charts.
public func writeFisherPlots(report: FisherReport, to directory: URL, groupScale: AxisScale = .linear) throws -> [URL] {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let plots: [(String, String)] = [
        ("fisher-parameters-sorted.svg", FisherPlots.sortedParameters(report).svg()),
        ("fisher-groups-sorted.svg", FisherPlots.sortedGroups(report, scale: groupScale).svg()),
        ("fisher-groups-network-order.svg", FisherPlots.groupsInNetworkOrder(report, scale: groupScale).svg()),
    ]
    return try plots.map { name, text in
        let url = directory.appendingPathComponent(name)
        try Data(text.utf8).write(to: url, options: .atomic)
        return url
    }
}
