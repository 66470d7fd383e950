import Foundation

/// Everything that determines a landscape run: written beside its points, so that `--resume`
/// continues only the same run, and into the JSON result.
public struct LandscapeSettings: Sendable, Equatable, Codable {
    public var model: String
    public var checkpointSHA256: String
    public var inputs: [String]
    public var seed: UInt64
    public var samples: Int
    public var maxLength: Int
    public var grid: LandscapeGrid
    public var normalization: DirectionNormalization
    /// The directions file read with `--directions`, or nil when drawn from `seed`.
    public var directions: String?
    public var fisher: String?
    public var selections: [String]
    public var radius: Double

    public init(model: String, checkpointSHA256: String, inputs: [String], seed: UInt64, samples: Int, maxLength: Int,
                grid: LandscapeGrid, normalization: DirectionNormalization, directions: String?, fisher: String?,
                selections: [String], radius: Double) {
        self.model = model
        self.checkpointSHA256 = checkpointSHA256
        self.inputs = inputs
        self.seed = seed
        self.samples = samples
        self.maxLength = maxLength
        self.grid = grid
        self.normalization = normalization
        self.directions = directions
        self.fisher = fisher
        self.selections = selections
        self.radius = radius
    }
}

extension LandscapeSurface {
    /// "top 50% by Fisher (whole tensors)".
    public var description: String {
        let percent = String(format: "%g%%", fraction * 100)
        let unit = by == .tensor ? "whole tensors" : "elements"
        switch perturb {
        case .all: return "all parameters"
        case .top: return "top \(percent) by Fisher (\(unit))"
        case .bottom: return "bottom \(percent) by Fisher (\(unit))"
        case .random: return "random \(percent) (\(unit))"
        }
    }

    /// The sharpness summary in one line: "48.2% moved · L(θ₀) 2.8411 · rise at r=0.1 +0.0312 · curvature α 6.1, β 5.8".
    public var summaryLine: String {
        let s = sharpness
        var text = String(format: "%.3g%% moved · L(θ₀) %.4f · rise at r=%g %+.4f · curvature α %.4g",
                          100 * Double(moved) / Double(max(movable, 1)), s.centre, s.radius, s.rise, s.curvatureAlpha)
        if let beta = s.curvatureBeta { text += String(format: ", β %.4g", beta) }
        return text
    }
}

/// The files of a landscape run.
public enum LandscapeOutput {
    /// The JSON result: the settings and every surface (grid, sharpness, what moved).
    public static func json(settings: LandscapeSettings, surfaces: [LandscapeSurface]) throws -> Data {
        struct Document: Encodable { let settings: LandscapeSettings, surfaces: [LandscapeSurface] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return try encoder.encode(Document(settings: settings, surfaces: surfaces))
    }

    /// `surface,alpha,beta,loss` rows, one per grid point.
    public static func csv(_ surfaces: [LandscapeSurface]) -> String {
        var lines = ["surface,alpha,beta,loss"]
        for surface in surfaces {
            for (i, alpha) in surface.alphas.enumerated() {
                for (j, beta) in surface.betas.enumerated() {
                    lines.append("\(surface.name),\(alpha),\(beta),\(surface.loss[i][j])")
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The plots, by file name: in 2-D a heatmap with contours per surface; in 1-D one chart with
    /// every surface's curve (the paper's Figure 2 series).
    /// `lossName` labels the loss axis ("masked-LM loss", "causal-LM loss").
    public static func plots(_ surfaces: [LandscapeSurface], lossName: String = "masked-LM loss") -> [(name: String, svg: String)] {
        guard let first = surfaces.first else { return [] }
        if first.betas == [0] {
            let series = surfaces.enumerated().map { k, surface in
                Series(surface.name, zip(surface.alphas, surface.loss).map { PlotPoint($0, $1[0]) }, style: .lineAndMarkers,
                       color: PlotColor.categorical(k))
            }
            var chart = LineChart(title: "Loss along δ: L(θ₀ + αδ)",
                                  subtitle: surfaces.map { "\($0.name): \($0.summaryLine)" }.joined(separator: " · "),
                                  x: Axis("α"), y: Axis(lossName), series: series)
            chart.referenceLines = [ReferenceLine(y: first.sharpness.centre, label: "L(θ₀)", color: "#7f7f7f")]
            if surfaces.count > 3 { chart.subtitle = "\(surfaces.count) perturbed sets; sharpness in landscape.json" }
            return [("landscape-1d.svg", chart.svg())]
        }
        return surfaces.map { surface in
            let values = surface.betas.indices.map { j in surface.alphas.indices.map { i in surface.loss[i][j] } }
            let map = Heatmap(title: "Loss landscape: \(surface.description)", subtitle: surface.summaryLine,
                              xs: surface.alphas, ys: surface.betas, values: values, xLabel: "α (along δ)",
                              yLabel: "β (along η)", colorLabel: lossName)
            return ("landscape-\(surface.name).svg", map.svg())
        }
    }
}
