import Foundation
import GuidedCompute
import GuidedModel

/// How a random direction is scaled to the weights it moves.
public enum DirectionNormalization: String, Sendable, Codable, CaseIterable {
    /// Each tensor to its weights' Frobenius norm (the paper code's).
    case layer
    /// Each output unit of a matrix to that unit's norm (Li et al.'s filter normalisation): a
    /// Linear weight's rows, a `Conv1D` weight's columns (stored [in, out]), an embedding's token vectors.
    case filter
}

/// The two directions δ and η of a loss landscape, over a model's parameter layout: random normal,
/// zero for 1-D tensors (biases, LayerNorm), each matrix scaled to the weights by `normalization`.
/// They are written as safetensors (`delta.<name>`, `eta.<name>` per matrix, under the checkpoint's
/// names) so a landscape can be redrawn, or recomputed in PyTorch, with the very same directions.
public struct LandscapeDirections: Sendable {
    /// Over `layout.totalCount`, in layout order.
    public let delta: [Float]
    public let eta: [Float]
    public let normalization: DirectionNormalization
    public let seed: UInt64?

    /// Whether a tensor of this shape gets a direction (matrices do; vectors stay put).
    public static func moves(_ slot: ParameterSlot) -> Bool { slot.shape.count >= 2 }

    /// Random normal directions, drawn per tensor from SplitMix64 seeded by (seed, direction, tensor
    /// index) so a tensor's direction does not depend on the others, then normalised to `parameters`.
    /// `inputMajor` says which matrices are stored [in, out] (`ModelArchitecture.isInputMajor`).
    public static func random(layout: ParameterLayout, parameters: [Float], seed: UInt64,
                              normalization: DirectionNormalization,
                              inputMajor: (ParameterSlot) -> Bool = { _ in false }) -> LandscapeDirections {
        precondition(parameters.count == layout.totalCount, "parameters do not match the layout")
        func draw(_ which: UInt64) -> [Float] {
            var direction = [Float](repeating: 0, count: layout.totalCount)
            for (t, slot) in layout.slots.enumerated() where moves(slot) {
                var generator = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ which &* 0xD1B5_4A32_D192_ED03 &+ UInt64(t))
                fillNormal(&direction[slot.offset..<(slot.offset + slot.count)], &generator)
                normalize(&direction, parameters, slot, normalization, inputMajor: inputMajor(slot))
            }
            return direction
        }
        return LandscapeDirections(delta: draw(1), eta: draw(2), normalization: normalization, seed: seed)
    }

    init(delta: [Float], eta: [Float], normalization: DirectionNormalization, seed: UInt64?) {
        self.delta = delta
        self.eta = eta
        self.normalization = normalization
        self.seed = seed
    }

    /// Standard normals by Box–Muller from 53-bit uniforms.
    private static func fillNormal(_ values: inout ArraySlice<Float>, _ generator: inout SplitMix64) {
        var i = values.startIndex
        while i < values.endIndex {
            let u1 = (Double(generator.next() >> 11) + 1) / 9_007_199_254_740_993   // (0, 1]
            let u2 = Double(generator.next() >> 11) / 9_007_199_254_740_992          // [0, 1)
            let radius = (-2 * log(u1)).squareRoot()
            values[i] = Float(radius * cos(2 * .pi * u2))
            if i + 1 < values.endIndex { values[i + 1] = Float(radius * sin(2 * .pi * u2)) }
            i += 2
        }
    }

    /// Scales `direction`'s part for `slot` so its norm (per tensor, or per output unit: a row, or
    /// a column of an input-major matrix) is the weights'.
    static func normalize(_ direction: inout [Float], _ parameters: [Float], _ slot: ParameterSlot,
                          _ normalization: DirectionNormalization, inputMajor: Bool = false) {
        // Unit u's elements: offset + u·unitStride + k·elementStride for k < unitLength.
        let rows = slot.shape[0], rowLength = slot.count / max(1, rows)
        let (units, unitLength, unitStride, elementStride): (Int, Int, Int, Int)
        switch (normalization, inputMajor) {
        case (.layer, _): (units, unitLength, unitStride, elementStride) = (1, slot.count, 0, 1)
        case (.filter, false): (units, unitLength, unitStride, elementStride) = (rows, rowLength, rowLength, 1)
        case (.filter, true): (units, unitLength, unitStride, elementStride) = (rowLength, rows, 1, rowLength)
        }
        for u in 0..<units {
            let indices = (0..<unitLength).lazy.map { slot.offset + u * unitStride + $0 * elementStride }
            var d2 = 0.0, w2 = 0.0
            for i in indices {
                d2 += Double(direction[i]) * Double(direction[i])
                w2 += Double(parameters[i]) * Double(parameters[i])
            }
            let scale = d2 > 0 ? Float((w2 / d2).squareRoot()) : 0
            for i in indices { direction[i] *= scale }
        }
    }

    // MARK: - Files

    /// Writes `delta.<name>` and `eta.<name>` for every matrix of `architecture`, under its checkpoint names.
    public func write(to url: URL, architecture: any ModelArchitecture) throws {
        var tensors: [SafeTensorsWriter.Tensor] = []
        for (prefix, values) in [("delta.", delta), ("eta.", eta)] {
            for slot in architecture.layout.slots where Self.moves(slot) {
                tensors.append((prefix + architecture.checkpointName(slot), slot.shape,
                                Array(values[slot.offset..<(slot.offset + slot.count)])))
            }
        }
        var metadata = ["normalization": normalization.rawValue, "generator": "guided landscape"]
        if let seed { metadata["seed"] = String(seed) }
        try SafeTensorsWriter.write(tensors, metadata: metadata, to: url)
    }

    /// Reads directions written by `write(to:architecture:)` (or by hand: a tensor left out is a zero
    /// direction). Names may carry the base prefix (`bert.`, `transformer.`) or not; every tensor must be a matrix of the model with
    /// its shape, and every value finite.
    public init(contentsOf url: URL, architecture: any ModelArchitecture) throws {
        let file = try SafeTensorsFile(contentsOf: url)
        let layout = architecture.layout
        var delta = [Float](repeating: 0, count: layout.totalCount), eta = delta
        var known: [String: ParameterSlot] = [:]
        for slot in layout.slots {
            known[architecture.checkpointName(slot)] = slot
            known[slot.name] = slot
        }
        for name in file.names {
            let isDelta = name.hasPrefix("delta."), isEta = name.hasPrefix("eta.")
            guard isDelta || isEta, let slot = known[String(name.dropFirst(isDelta ? 6 : 4))] else {
                throw ModelError("directions \(url.path): tensor \(name) is not delta.<parameter> or eta.<parameter> of the model")
            }
            let shape = file[name]?.shape ?? []
            guard shape == slot.shape else {
                throw ModelError("directions \(url.path): tensor \(name) has shape \(shape), the model's \(slot.name) has \(slot.shape)")
            }
            let values = try file.floats(name)
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw ModelError("directions \(url.path): tensor \(name) element \(bad) is \(values[bad])")
            }
            if isDelta { delta.replaceSubrange(slot.offset..<(slot.offset + slot.count), with: values) }
            else { eta.replaceSubrange(slot.offset..<(slot.offset + slot.count), with: values) }
        }
        let normalization = file.metadata["normalization"].flatMap(DirectionNormalization.init(rawValue:)) ?? .layer
        self.init(delta: delta, eta: eta, normalization: normalization, seed: file.metadata["seed"].flatMap { UInt64($0) })
    }
}
