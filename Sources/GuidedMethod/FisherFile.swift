import Foundation
import GuidedModel

/// A Fisher file (../shared/DESIGN.md, "The method"): a safetensors file with one F32 tensor per
/// model parameter, named as in the model's checkpoint (`bert.encoder.layer.0.attention.self.query.weight`),
/// holding the empirical Fisher — the mean over samples of the squared per-sample gradient. Its
/// metadata (all strings) records how it was estimated; see `MetadataKey`.
///
/// A file opened with `init(contentsOf:)` is memory-mapped and its tensors are read when asked for
/// (`values(_:)`), so opening a BERT-base Fisher (110M values) costs nothing until it is analysed.
/// Other floating-point dtypes (F16, BF16, F64) are read too, converted to Float; integer tensors
/// are an error.
public struct FisherFile: Sendable {
    /// Metadata keys the estimation writes (every value is a string).
    public enum MetadataKey {
        /// Number of samples the mean is over (an integer).
        public static let samples = "samples"
        /// Samples skipped for having no predicted token (an integer).
        public static let skipped = "skipped"
        public static let seed = "seed"
        /// Fraction of the corpus sampled.
        public static let fraction = "fraction"
        public static let maxLength = "max_length"
        public static let objective = "objective"
        /// The model folder the Fisher was estimated for.
        public static let model = "model"
        public static let checkpointSHA256 = "checkpoint_sha256"
        public static let all = [samples, skipped, seed, fraction, maxLength, objective, model, checkpointSHA256]
    }

    private enum Storage: Sendable {
        case memory([String: [Float]])
        case mapped(SafeTensorsFile)
    }

    /// Where the file was read from (or `<memory>`), for messages.
    public let path: String
    /// Tensor names in file order.
    public let names: [String]
    public let shapes: [String: [Int]]
    public let metadata: [String: String]
    private let storage: Storage

    /// A Fisher held in memory (e.g. a merge result, or one built in a test). Every name needs a
    /// shape and values whose count is the shape's product.
    public init(names: [String], shapes: [String: [Int]], values: [String: [Float]],
                metadata: [String: String], path: String = "<memory>") throws {
        var seen = Set<String>()
        for name in names {
            guard seen.insert(name).inserted else { throw ModelError("Fisher file \(path): tensor \(name) appears twice") }
            guard let shape = shapes[name] else { throw ModelError("Fisher file \(path): tensor \(name) has no shape") }
            guard let tensor = values[name] else { throw ModelError("Fisher file \(path): tensor \(name) has no values") }
            let count = shape.reduce(1, *)
            guard shape.allSatisfy({ $0 >= 0 }), tensor.count == count else {
                throw ModelError("Fisher file \(path): tensor \(name) has shape \(shape) (\(count) values) but \(tensor.count) values")
            }
        }
        self.path = path
        self.names = names
        self.shapes = shapes.filter { seen.contains($0.key) }
        self.metadata = metadata
        storage = .memory(values.filter { seen.contains($0.key) })
    }

    /// Opens the Fisher file at `url` (memory-mapped; tensors are read on demand).
    public init(contentsOf url: URL) throws {
        let file = try SafeTensorsFile(contentsOf: url)
        path = url.path
        for entry in file.entries where !entry.dtype.isFloatingPoint {
            throw ModelError("Fisher file \(url.path): tensor \(entry.name) is \(entry.dtype.rawValue); "
                + "a Fisher file holds F32 tensors")
        }
        names = file.names
        shapes = Dictionary(uniqueKeysWithValues: file.entries.map { ($0.name, $0.shape) })
        metadata = file.metadata
        storage = .mapped(file)
    }

    /// The tensor's values (row-major); an error names the file and the tensor.
    public func values(_ name: String) throws -> [Float] {
        switch storage {
        case .memory(let all):
            guard let values = all[name] else { throw ModelError("Fisher file \(path): no tensor named \(name)") }
            return values
        case .mapped(let file):
            guard shapes[name] != nil else { throw ModelError("Fisher file \(path): no tensor named \(name)") }
            return try file.floats(name)
        }
    }

    /// Number of elements of `name` (0 if there is no such tensor).
    public func count(_ name: String) -> Int { shapes[name]?.reduce(1, *) ?? 0 }

    /// Total number of values over all tensors.
    public var parameterCount: Int { names.reduce(0) { $0 + count($1) } }

    /// The `samples` metadata as an integer, if present and valid.
    public var samples: Int? { metadata[MetadataKey.samples].flatMap { Int($0) } }

    // MARK: - Writing

    /// Writes `tensors` (in order) with `metadata` to `url` atomically (temporary file, renamed
    /// into place) through `SafeTensorsWriter`.
    public static func write(_ tensors: [SafeTensorsWriter.Tensor], metadata: [String: String], to url: URL) throws {
        try SafeTensorsWriter.write(tensors, metadata: metadata, to: url)
    }

    /// Writes `fisher` to `url` atomically, tensors in its `names` order.
    public static func write(_ fisher: FisherFile, to url: URL) throws {
        let tensors = try fisher.names.map { (name: $0, shape: fisher.shapes[$0] ?? [], values: try fisher.values($0)) }
        try write(tensors, metadata: fisher.metadata, to: url)
    }

    // MARK: - Validation

    /// The file's name for one of the model's tensors: its checkpoint name
    /// (`ModelArchitecture.checkpointName`), or the bare name without `bert.`/`transformer.` (the Fisher of a
    /// checkpoint stored without the prefix, as all-MiniLM-L6-v2 is); nil when the file has neither.
    public func name(of slot: ParameterSlot, in architecture: any ModelArchitecture) -> String? {
        let full = architecture.checkpointName(slot)
        if shapes[full] != nil { return full }
        return shapes[slot.name] != nil ? slot.name : nil
    }

    /// The Fisher over `architecture`'s parameter layout (one flat buffer in layout order), after
    /// validating the file against it.
    public func layoutValues(for architecture: any ModelArchitecture) throws -> [Float] {
        try validate(against: architecture)
        var values = [Float](repeating: 0, count: architecture.layout.totalCount)
        for slot in architecture.layout.slots {
            let tensor = try self.values(name(of: slot, in: architecture)!)
            values.replaceSubrange(slot.offset..<(slot.offset + slot.count), with: tensor)
        }
        return values
    }

    /// Checks that the file has exactly the tensors of `architecture`, under their checkpoint
    /// names with or without the base prefix (`name(of:in:)`), with the model's shapes. The error
    /// names the first offending tensor: in model order a missing tensor or a shape mismatch, then in
    /// file order a tensor the model does not have.
    public func validate(against architecture: any ModelArchitecture) throws {
        var expected = Set<String>()
        for slot in architecture.layout.slots {
            guard let name = name(of: slot, in: architecture) else {
                let name = architecture.checkpointName(slot)
                var message = "Fisher file \(path): the model's tensor \(name) is missing (\(names.count) tensors in the file)"
                let prefixed = architecture.basePrefix + name
                if !architecture.isHeadParameter(slot.name), architecture.isBase, shapes[prefixed] != nil {
                    message += "; the file has \(prefixed), a Fisher for a model with a head?"
                }
                throw ModelError(message)
            }
            expected.insert(name)
            guard let shape = shapes[name], shape == slot.shape else {
                throw ModelError("Fisher file \(path): tensor \(name) has shape \(shapes[name] ?? []), the model has \(slot.shape)")
            }
        }
        if let extra = names.first(where: { !expected.contains($0) }) {
            throw ModelError("Fisher file \(path): tensor \(extra) is not a parameter of the model "
                + "(\(architecture.className), \(architecture.layers) layers)")
        }
    }

    /// Checks every value is finite and non-negative (a Fisher is a mean of squares); the error
    /// names the tensor and the first bad element.
    static func checkValues(_ values: [Float], tensor: String, path: String) throws {
        for (i, v) in values.enumerated() where !(v >= 0 && v.isFinite) {
            throw ModelError("Fisher file \(path): tensor \(tensor) element \(i) is \(v); Fisher values are finite and non-negative")
        }
    }

    // MARK: - Merging

    /// Merges shards by the count-weighted mean `Σ nᵢ Fᵢ / Σ nᵢ`, with nᵢ each shard's `samples`
    /// metadata. The shards must have the same names (in any order) and shapes, and each a positive
    /// sample count. The result (in memory, tensors in the first shard's order) has `samples` and
    /// `skipped` summed (a shard without `skipped` counts 0); every other key is kept when all shards
    /// have the same value, and otherwise joined with "," in shard order (a shard without the key
    /// contributing "?").
    public static func merge(_ files: [FisherFile]) throws -> FisherFile {
        guard let first = files.first else { throw ModelError("Fisher merge: no files to merge") }
        var counts: [Int] = []
        for file in files {
            guard let text = file.metadata[MetadataKey.samples] else {
                throw ModelError("Fisher file \(file.path): no \"samples\" metadata; cannot weight it in a merge")
            }
            guard let n = Int(text), n > 0 else {
                throw ModelError("Fisher file \(file.path): \"samples\" is \"\(text)\"; a merge needs a positive sample count")
            }
            counts.append(n)
        }
        let firstNames = Set(first.names)
        for file in files.dropFirst() {
            if let missing = first.names.first(where: { file.shapes[$0] == nil }) {
                throw ModelError("Fisher file \(file.path): tensor \(missing) is missing; \(first.path) has it")
            }
            if let extra = file.names.first(where: { !firstNames.contains($0) }) {
                throw ModelError("Fisher file \(file.path): tensor \(extra) is not in \(first.path)")
            }
            for name in first.names where file.shapes[name] != first.shapes[name] {
                throw ModelError("Fisher file \(file.path): tensor \(name) has shape \(file.shapes[name]!), "
                    + "\(first.path) has \(first.shapes[name]!)")
            }
        }
        let total = Double(counts.reduce(0, +))
        var merged: [String: [Float]] = [:]
        for name in first.names {
            var sum = [Double](repeating: 0, count: first.count(name))
            for (file, n) in zip(files, counts) {
                let values = try file.values(name)
                let weight = Double(n)
                for i in values.indices { sum[i] += weight * Double(values[i]) }
            }
            merged[name] = sum.map { Float($0 / total) }
        }
        return try FisherFile(names: first.names, shapes: first.shapes, values: merged,
                              metadata: try mergedMetadata(files, counts: counts), path: "<merged>")
    }

    private static func mergedMetadata(_ files: [FisherFile], counts: [Int]) throws -> [String: String] {
        var out: [String: String] = [MetadataKey.samples: String(counts.reduce(0, +))]
        var skipped = 0, anySkipped = false
        for file in files {
            guard let text = file.metadata[MetadataKey.skipped] else { continue }
            guard let n = Int(text), n >= 0 else {
                throw ModelError("Fisher file \(file.path): \"skipped\" is \"\(text)\", expected a non-negative integer")
            }
            skipped += n
            anySkipped = true
        }
        if anySkipped { out[MetadataKey.skipped] = String(skipped) }
        let keys = Set(files.flatMap { $0.metadata.keys }).subtracting([MetadataKey.samples, MetadataKey.skipped])
        for key in keys {
            let values = files.map { $0.metadata[key] }
            if let v = values[0], values.allSatisfy({ $0 == v }) {
                out[key] = v
            } else {
                out[key] = values.map { $0 ?? "?" }.joined(separator: ",")
            }
        }
        return out
    }
}
