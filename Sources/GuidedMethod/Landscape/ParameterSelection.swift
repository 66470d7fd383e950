import Foundation
import GuidedCompute
import GuidedModel

/// Which parameters a landscape moves.
public enum PerturbedSet: String, Sendable, Codable, CaseIterable {
    case all, top, bottom, random
}

/// Whether a fraction is taken in whole tensors or in single elements.
public enum SelectionUnit: String, Sendable, Codable, CaseIterable {
    /// Whole tensors ranked by their mean Fisher (the paper code's way).
    case tensor
    /// Single elements ranked by their Fisher value.
    case element
}

/// The parameters a landscape perturbs: a mask over the model's parameter layout. Only matrices
/// can move (vectors have a zero direction), so fractions are of the matrices' elements.
public struct ParameterSelection: Sendable {
    public let set: PerturbedSet
    public let unit: SelectionUnit
    /// The fraction asked for (1 for `all`).
    public let fraction: Double
    /// Per element of the layout: whether it moves.
    public let mask: [Bool]
    /// Elements that move, and their share of all movable elements.
    public let moved: Int
    public let movable: Int

    public var share: Double { movable > 0 ? Double(moved) / Double(movable) : 0 }

    /// A short name for files and legends: `all`, `top-50pct`, `random-0.25pct-element`.
    public var name: String {
        guard set != .all else { return "all" }
        let percent = String(format: "%gpct", fraction * 100)
        return "\(set.rawValue)-\(percent)" + (unit == .element ? "-element" : "")
    }

    /// Every matrix.
    public static func all(layout: ParameterLayout) -> ParameterSelection {
        var mask = [Bool](repeating: false, count: layout.totalCount)
        var movable = 0
        for slot in layout.slots where LandscapeDirections.moves(slot) {
            for i in slot.offset..<(slot.offset + slot.count) { mask[i] = true }
            movable += slot.count
        }
        return ParameterSelection(set: .all, unit: .tensor, fraction: 1, mask: mask, moved: movable, movable: movable)
    }

    /// `fraction` of the movable elements by Fisher score (`top`, `bottom`) or at random (seeded).
    /// - `tensor`: matrices ranked by mean Fisher (top: highest first; bottom: lowest first; random:
    ///   a seeded shuffle) are taken in rank order while the count stays within ⌈fraction·movable⌉;
    ///   the first is always taken. The share reached is `share`.
    /// - `element`: exactly ⌈fraction·movable⌉ elements: the largest Fisher values (ties by layout
    ///   order), the smallest, or those with the largest seeded random keys.
    /// `fisher` holds the Fisher values over the layout (needed for top and bottom).
    public static func select(_ set: PerturbedSet, fraction: Double, unit: SelectionUnit, layout: ParameterLayout,
                              fisher: [Float]?, seed: UInt64) throws -> ParameterSelection {
        guard fraction > 0 && fraction <= 1 else { throw ModelError("fraction \(fraction) is outside (0, 1]") }
        if set == .all { return all(layout: layout) }
        if set != .random && fisher == nil { throw ModelError("selecting the \(set.rawValue) parameters needs a Fisher file") }
        if let fisher, fisher.count != layout.totalCount { throw ModelError("the Fisher has \(fisher.count) values for \(layout.totalCount) parameters") }
        let matrices = layout.slots.filter(LandscapeDirections.moves)
        let movable = matrices.reduce(0) { $0 + $1.count }
        let target = TopSelection.elementCount(percent: fraction * 100, of: movable)
        var mask = [Bool](repeating: false, count: layout.totalCount)
        var moved = 0

        switch unit {
        case .tensor:
            var ranked = matrices
            if set == .random {
                var generator = SplitMix64(seed: seed)
                for i in stride(from: ranked.count - 1, to: 0, by: -1) {
                    ranked.swapAt(i, Int(generator.next(below: UInt64(i + 1))))
                }
            } else {
                let means = Dictionary(uniqueKeysWithValues: matrices.map { slot in
                    (slot.offset, fisher![slot.offset..<(slot.offset + slot.count)].reduce(0.0) { $0 + Double($1) } / Double(slot.count))
                })
                // Stable: ties keep network order.
                ranked = ranked.enumerated().sorted { a, b in
                    let (x, y) = (means[a.element.offset]!, means[b.element.offset]!)
                    return x != y ? (set == .top ? x > y : x < y) : a.offset < b.offset
                }.map(\.element)
            }
            for slot in ranked {
                guard moved == 0 || moved + slot.count <= target else { break }
                for i in slot.offset..<(slot.offset + slot.count) { mask[i] = true }
                moved += slot.count
            }
        case .element:
            // Scores over the movable elements, in layout order; the top `target` of them move.
            var scores = [Float](repeating: 0, count: movable)
            var generator = SplitMix64(seed: seed)
            var k = 0
            for slot in matrices {
                for i in slot.offset..<(slot.offset + slot.count) {
                    switch set {
                    case .top: scores[k] = fisher![i]
                    // Bottom: the top of the reflected scores. Non-negative floats order as their bit
                    // patterns, so reflecting the pattern reverses the order exactly (and stays a
                    // non-negative float, which the radix sort takes).
                    case .bottom: scores[k] = Float(bitPattern: 0x7F7F_FFFF - min(fisher![i].bitPattern, 0x7F7F_FFFF))
                    // Random: 30 random bits as a non-negative float pattern; only their order matters.
                    default: scores[k] = Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()) & 0x3FFF_FFFF)
                    }
                    k += 1
                }
            }
            let chosen = topMask(scores, target)
            k = 0
            for slot in matrices {
                for i in slot.offset..<(slot.offset + slot.count) {
                    mask[i] = chosen[k]
                    k += 1
                }
            }
            moved = target
        }
        return ParameterSelection(set: set, unit: unit, fraction: fraction, mask: mask, moved: moved, movable: movable)
    }

    /// Whether each value is among the `m` largest (ties by lower index), without an index array.
    static func topMask(_ values: [Float], _ m: Int) -> [Bool] {
        var mask = [Bool](repeating: false, count: values.count)
        guard m > 0 else { return mask }
        var sorted = values
        sortDescending(&sorted)
        let threshold = sorted[min(m, values.count) - 1]
        var taken = 0
        for i in values.indices where values[i] > threshold {
            mask[i] = true
            taken += 1
        }
        for i in values.indices where taken < m && values[i] == threshold {
            mask[i] = true
            taken += 1
        }
        return mask
    }

    /// `directions` with every element outside the selection set to zero.
    public func masked(_ direction: [Float]) -> [Float] {
        zip(direction, mask).map { $1 ? $0 : 0 }
    }
}
