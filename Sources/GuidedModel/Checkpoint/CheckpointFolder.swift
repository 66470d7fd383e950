import Foundation

/// A Hugging Face checkpoint folder: `config.json` plus the weights as `model.safetensors`, or
/// sharded as `model.safetensors.index.json` (whose `weight_map` maps tensor names to shard files)
/// and the shards it names. As in transformers, a single `model.safetensors` is preferred when both
/// exist. Folders with only PyTorch, TensorFlow or Flax weights get an error that says how to
/// convert them. Tensor names are reported as stored (`bert.encoder...` or `encoder...`).
/// Tokenizer files are read elsewhere.
public struct CheckpointFolder: Sendable {
    public static let configFileName = "config.json"
    public static let weightsFileName = "model.safetensors"
    public static let indexFileName = "model.safetensors.index.json"

    public let url: URL
    /// `config.json` as read; each architecture parses its own fields (`BertConfig`, `GPT2Config`).
    public let configData: Data
    public let configPath: String
    /// `config.json`'s `model_type` ("bert" when absent, as in early BERT checkpoints).
    public let modelType: String
    /// `config.json`'s `architectures` (the `transformers` class it was saved from), if any.
    public let architectures: [String]?
    /// The safetensors files, one per shard (shards in file-name order).
    public let files: [SafeTensorsFile]
    /// All tensor names as stored: shard by shard, each in its file order.
    public let tensorNames: [String]
    private let fileIndexByName: [String: Int]

    /// Opens the checkpoint folder at `url`, reading and validating `config.json` and every
    /// safetensors header (tensor data is memory-mapped and read on demand).
    public init(url: URL) throws {
        self.url = url
        let folder = url.path
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: folder, isDirectory: &isDirectory) else {
            throw ModelError("\(folder): no such directory; expected a checkpoint folder "
                + "(\(Self.configFileName) + \(Self.weightsFileName))")
        }
        guard isDirectory.boolValue else {
            throw ModelError("\(folder): is a file, not a directory; pass the checkpoint folder that holds "
                + "\(Self.configFileName) and \(Self.weightsFileName)")
        }
        func file(_ name: String) -> URL { url.appendingPathComponent(name) }
        func exists(_ name: String) -> Bool { fileManager.fileExists(atPath: file(name).path) }

        guard exists(Self.configFileName) else {
            throw ModelError("\(folder): no \(Self.configFileName); expected a Hugging Face checkpoint folder "
                + "(\(Self.configFileName) + \(Self.weightsFileName))")
        }
        configPath = file(Self.configFileName).path
        do {
            configData = try Data(contentsOf: file(Self.configFileName))
        } catch {
            throw ModelError("\(configPath): cannot read the file: \(error.localizedDescription)")
        }
        let root = try StrictJSON.parseObject(configData, path: configPath)
        let reader = ModelConfigReader(path: configPath, root: root)
        modelType = try reader.string("model_type", default: "bert")
        architectures = reader.isNullOrAbsent("architectures") ? nil : try reader.stringArray("architectures")

        var files: [SafeTensorsFile] = []
        var mapped: [(name: String, shard: String)] = []
        if exists(Self.weightsFileName) {
            files = [try SafeTensorsFile(contentsOf: file(Self.weightsFileName))]
        } else if exists(Self.indexFileName) {
            let shardNames: [String]
            (shardNames, mapped) = try Self.readIndex(file(Self.indexFileName))
            for shard in shardNames {
                guard exists(shard) else {
                    throw ModelError("\(file(Self.indexFileName).path): shard \"\(shard)\" is missing from \(folder)")
                }
                files.append(try SafeTensorsFile(contentsOf: file(shard)))
            }
        } else {
            throw Self.noSafetensorsError(folder: folder, modelClass: architectures?.first, exists: exists)
        }

        var names: [String] = []
        var byName: [String: Int] = [:]
        for (index, shard) in files.enumerated() {
            for name in shard.names {
                if let other = byName[name] {
                    throw ModelError("\(folder): tensor \"\(name)\" is stored twice, in \(files[other].path) "
                        + "and in \(shard.path)")
                }
                byName[name] = index
                names.append(name)
            }
        }
        for (name, shard) in mapped {
            let expected = file(shard).path
            guard let index = byName[name], files[index].path == expected else {
                throw ModelError("\(file(Self.indexFileName).path): weight_map puts tensor \"\(name)\" in \"\(shard)\", "
                    + "but that file has no such tensor")
            }
        }
        self.files = files
        self.tensorNames = names
        self.fileIndexByName = byName
    }

    /// The entry for `name` and the path of the file holding it, or nil if no file has it.
    public func entry(_ name: String) -> (SafeTensorsEntry, file: String)? {
        guard let index = fileIndexByName[name], let entry = files[index][name] else { return nil }
        return (entry, file: files[index].path)
    }

    public func contains(_ name: String) -> Bool { fileIndexByName[name] != nil }

    /// The tensor's values as Float32 (see `SafeTensorsFile.floats`).
    public func floats(_ name: String) throws -> [Float] {
        try files[try fileIndex(name)].floats(name)
    }

    /// The tensor's values as Int64 (see `SafeTensorsFile.int64s`).
    public func int64s(_ name: String) throws -> [Int64] {
        try files[try fileIndex(name)].int64s(name)
    }

    private func fileIndex(_ name: String) throws -> Int {
        if let index = fileIndexByName[name] { return index }
        var message = "\(url.path): the checkpoint has no tensor \"\(name)\" (it has \(tensorNames.count) tensors)"
        let prefix = "bert."
        let alternative = name.hasPrefix(prefix) ? String(name.dropFirst(prefix.count)) : prefix + name
        if fileIndexByName[alternative] != nil {
            message += "; it has \"\(alternative)\""
        }
        throw ModelError(message)
    }

    /// Reads a sharded checkpoint's index: the shard file names (sorted, each once) and the
    /// `weight_map` entries in file order.
    private static func readIndex(_ indexURL: URL) throws -> (shards: [String], map: [(name: String, shard: String)]) {
        let path = indexURL.path
        let data: Data
        do {
            data = try Data(contentsOf: indexURL)
        } catch {
            throw ModelError("\(path): cannot read the file: \(error.localizedDescription)")
        }
        let root = try StrictJSON.parseObject(data, path: path, expected: "a JSON object with \"weight_map\"")
        guard let weightMap = root["weight_map"] else {
            throw ModelError("\(path): missing \"weight_map\" (tensor name → shard file)")
        }
        guard case let .object(members) = weightMap else {
            throw ModelError("\(path): \"weight_map\" must be an object mapping tensor names to shard file names, "
                + "got \(weightMap.kindDescription)")
        }
        var map: [(name: String, shard: String)] = []
        var shards = Set<String>()
        for (name, value) in members {
            guard case let .string(shard) = value else {
                throw ModelError("\(path): weight_map entry for tensor \"\(name)\" must be a file name, got "
                    + value.excerpt())
            }
            guard !shard.isEmpty, shard != ".", shard != "..", !shard.contains("/"), !shard.contains("\\") else {
                throw ModelError("\(path): weight_map entry for tensor \"\(name)\" is \"\(shard)\"; expected the name "
                    + "of a file in the checkpoint folder")
            }
            map.append((name: name, shard: shard))
            shards.insert(shard)
        }
        return (shards.sorted(), map)
    }

    /// The error for a folder without safetensors weights, with a conversion command when it has
    /// weights in another format.
    private static func noSafetensorsError(folder: String, modelClass: String?, exists: (String) -> Bool) -> ModelError {
        let modelClass = modelClass ?? "AutoModel"
        let formats: [(files: [String], option: String, what: String)] = [
            (["pytorch_model.bin", "pytorch_model.bin.index.json"], "", "PyTorch"),
            (["tf_model.h5", "tf_model.h5.index.json"], ", from_tf=True", "TensorFlow"),
            (["flax_model.msgpack", "flax_model.msgpack.index.json"], ", from_flax=True", "Flax"),
        ]
        for format in formats {
            guard let found = format.files.first(where: exists) else { continue }
            return ModelError("\(folder): has \(format.what) weights (\(found)) but no \(weightsFileName); only "
                + "safetensors checkpoints are read. Convert it with: python -c \"from transformers import "
                + "\(modelClass); \(modelClass).from_pretrained('\(folder)'\(format.option))"
                + ".save_pretrained('\(folder)', safe_serialization=True)\"")
        }
        return ModelError("\(folder): no \(weightsFileName) or \(indexFileName); expected a Hugging Face checkpoint "
            + "folder with safetensors weights")
    }
}
