import Foundation
import GuidedModel

/// The points of a landscape: α × β (a 1-D slice has β = 0 only).
public struct LandscapeGrid: Sendable, Equatable, Codable {
    public var alphas: [Double]
    public var betas: [Double]

    public var isOneDimensional: Bool { betas == [0] }

    /// `count` evenly spaced values over `range` on each axis (np.linspace), β = 0 only when `oneDimensional`.
    public init(count: Int, range: ClosedRange<Double>, oneDimensional: Bool) throws {
        guard count >= 2 else { throw ModelError("a grid needs at least 2 points per axis, got \(count)") }
        guard range.lowerBound < range.upperBound, range.lowerBound.isFinite, range.upperBound.isFinite else {
            throw ModelError("the range \(range.lowerBound):\(range.upperBound) is empty; give LOW:HIGH with LOW < HIGH")
        }
        let step = (range.upperBound - range.lowerBound) / Double(count - 1)
        let axis = (0..<count).map { $0 == count - 1 ? range.upperBound : range.lowerBound + Double($0) * step }
        alphas = axis
        betas = oneDimensional ? [0] : axis
    }
}

/// What a user looks at first in a landscape: how fast the loss rises around θ₀.
public struct LandscapeSharpness: Sendable, Equatable, Codable {
    /// L(θ₀).
    public var centre: Double
    /// The radius r of the summary points (in the directions' units).
    public var radius: Double
    /// Mean of L at (±r, 0) (and (0, ±r) in 2-D) minus L(θ₀).
    public var rise: Double
    /// Second differences at the centre: (L(r,0) − 2L(θ₀) + L(−r,0)) / r², and along β in 2-D.
    public var curvatureAlpha: Double
    public var curvatureBeta: Double?
    /// The grid's lowest and highest loss.
    public var gridMin: Double
    public var gridMax: Double
}

/// One perturbed set's landscape.
public struct LandscapeSurface: Sendable, Codable {
    public var name: String
    public var perturb: PerturbedSet
    public var by: SelectionUnit
    public var fraction: Double
    /// Elements that moved, of the movable (matrix) elements.
    public var moved: Int
    public var movable: Int
    public var alphas: [Double]
    public var betas: [Double]
    /// `loss[i][j]` at (alphas[i], betas[j]).
    public var loss: [[Double]]
    public var sharpness: LandscapeSharpness
}

/// Grid points as they finish, one JSON object a line (`{"surface", "alpha", "beta", "loss"}`), so a
/// killed run resumes where it stopped. Values round-trip exactly (shortest representation).
public final class LandscapePoints {
    public let url: URL
    private var known: [String: Double] = [:]
    private let handle: FileHandle

    /// Opens `url`, reading its points when `resume` (a last line cut short by a kill is dropped,
    /// and that point computed again), else starting it empty.
    public init(url: URL, resume: Bool) throws {
        self.url = url
        var keep = 0
        if resume, let data = FileManager.default.contents(atPath: url.path) {
            struct Point: Decodable { let surface: String, alpha: Double, beta: Double, loss: Double }
            let complete = data.lastIndex(of: UInt8(ascii: "\n")).map { data[...$0] } ?? Data()
            for (number, line) in complete.split(separator: UInt8(ascii: "\n")).enumerated() {
                guard let point = try? JSONDecoder().decode(Point.self, from: Data(line)) else {
                    throw ModelError("\(url.path):\(number + 1): not a landscape point; remove the file to start over")
                }
                known[Self.key(point.surface, point.alpha, point.beta)] = point.loss
            }
            keep = complete.count
        } else {
            try Data().write(to: url)
        }
        handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: UInt64(keep))
        try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    public var count: Int { known.count }

    public func value(_ surface: String, _ alpha: Double, _ beta: Double) -> Double? {
        known[Self.key(surface, alpha, beta)]
    }

    public func record(_ surface: String, _ alpha: Double, _ beta: Double, _ loss: Double) throws {
        struct Point: Encodable { let surface: String, alpha: Double, beta: Double, loss: Double }
        var line = try JSONEncoder().encode(Point(surface: surface, alpha: alpha, beta: beta, loss: loss))
        line.append(UInt8(ascii: "\n"))
        try handle.write(contentsOf: line)
        known[Self.key(surface, alpha, beta)] = loss
    }

    private static func key(_ surface: String, _ alpha: Double, _ beta: Double) -> String { "\(surface)|\(alpha)|\(beta)" }
}

/// Runs the landscapes of several perturbed sets over one grid.
public enum LossLandscape {
    /// The surface name under which the shared L(θ₀) is stored.
    public static let centreName = "centre"

    /// Evaluates every surface's grid and summary points that `points` does not already hold, in
    /// order, recording each as it finishes. Returns nil when `shouldStop` asked to stop (the
    /// parameters are restored either way). `progress(done, total)` after every point.
    public static func run(evaluator: LandscapeEvaluator, directions: LandscapeDirections,
                           selections: [ParameterSelection], grid: LandscapeGrid, radius: Double,
                           points: LandscapePoints, shouldStop: () -> Bool,
                           progress: (Int, Int) -> Void) throws -> [LandscapeSurface]? {
        defer { try? evaluator.restore() }
        let summaryOffsets: [(Double, Double)] = grid.isOneDimensional ? [(radius, 0), (-radius, 0)]
            : [(radius, 0), (-radius, 0), (0, radius), (0, -radius)]
        let total = 1 + selections.count * (grid.alphas.count * grid.betas.count + summaryOffsets.count)
        var done = 0
        func point(_ surface: String, _ alpha: Double, _ beta: Double) throws -> Double? {
            if let known = points.value(surface, alpha, beta) {
                done += 1
                return known
            }
            if shouldStop() { return nil }
            let loss = try evaluator.loss(alpha: alpha, beta: beta)
            try points.record(surface, alpha, beta, loss)
            done += 1
            progress(done, total)
            return loss
        }

        guard let centre = try point(centreName, 0, 0) else { return nil }
        var surfaces: [LandscapeSurface] = []
        for selection in selections {
            try evaluator.setDirections(delta: selection.masked(directions.delta), eta: selection.masked(directions.eta))
            var loss: [[Double]] = []
            for alpha in grid.alphas {
                var row: [Double] = []
                for beta in grid.betas {
                    guard let value = try point(selection.name, alpha, beta) else { return nil }
                    row.append(value)
                }
                loss.append(row)
            }
            var summary: [Double] = []
            for (alpha, beta) in summaryOffsets {
                guard let value = try point(selection.name, alpha, beta) else { return nil }
                summary.append(value)
            }
            let all = loss.flatMap { $0 }
            let r2 = radius * radius
            let sharpness = LandscapeSharpness(
                centre: centre, radius: radius, rise: summary.reduce(0, +) / Double(summary.count) - centre,
                curvatureAlpha: (summary[0] - 2 * centre + summary[1]) / r2,
                curvatureBeta: summary.count == 4 ? (summary[2] - 2 * centre + summary[3]) / r2 : nil,
                gridMin: all.min() ?? .nan, gridMax: all.max() ?? .nan)
            surfaces.append(LandscapeSurface(
                name: selection.name, perturb: selection.set, by: selection.unit, fraction: selection.fraction,
                moved: selection.moved, movable: selection.movable, alphas: grid.alphas, betas: grid.betas,
                loss: loss, sharpness: sharpness))
        }
        return surfaces
    }
}
