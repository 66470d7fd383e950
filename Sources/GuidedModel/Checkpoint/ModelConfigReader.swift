import Foundation

/// Typed access to a model config object's fields, with errors in one format.
struct ModelConfigReader {
    let path: String
    let root: StrictJSON.Value

    func isNullOrAbsent(_ key: String) -> Bool {
        guard let value = root[key] else { return true }
        return value == .null
    }

    func fail(_ key: String, _ requirement: String, _ value: StrictJSON.Value) -> ModelError {
        ModelError("\(path): \"\(key)\" must be \(requirement), got \(value.excerpt())")
    }

    func int(_ key: String, default fallback: Int, requirement: String, _ isValid: (Int) -> Bool) throws -> Int {
        guard let value = root[key] else { return fallback }
        guard let integer = value.intValue, isValid(integer) else { throw fail(key, requirement, value) }
        return integer
    }

    func positiveInt(_ key: String, default fallback: Int) throws -> Int {
        try int(key, default: fallback, requirement: "a positive integer") { $0 > 0 }
    }

    func double(_ key: String, default fallback: Double, requirement: String, _ isValid: (Double) -> Bool) throws -> Double {
        guard let value = root[key] else { return fallback }
        guard let number = value.doubleValue, isValid(number) else { throw fail(key, requirement, value) }
        return number
    }

    func probability(_ key: String, default fallback: Double) throws -> Double {
        try double(key, default: fallback, requirement: "a probability in [0, 1)") { $0 >= 0 && $0 < 1 }
    }

    func string(_ key: String, default fallback: String) throws -> String {
        guard let value = root[key] else { return fallback }
        guard case let .string(text) = value else { throw fail(key, "a string", value) }
        return text
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let value = root[key] else { return fallback }
        guard case let .bool(flag) = value else { throw fail(key, "true or false", value) }
        return flag
    }

    func stringArray(_ key: String) throws -> [String] {
        let value = root[key] ?? .null
        guard case let .array(items) = value else { throw fail(key, "an array of strings", value) }
        return try items.map { item in
            guard case let .string(text) = item else { throw fail(key, "an array of strings", value) }
            return text
        }
    }

    /// `id2label` as `[Int: String]`, nil when absent or null. Keys must be exactly "0", "1", ….
    func id2label() throws -> [Int: String]? {
        guard let value = root["id2label"], value != .null else { return nil }
        let requirement = "an object mapping \"0\", \"1\", … to label names"
        guard case let .object(members) = value, !members.isEmpty else { throw fail("id2label", requirement, value) }
        var result: [Int: String] = [:]
        for (key, item) in members {
            guard let id = Int(key), id >= 0, String(id) == key, case let .string(label) = item else {
                throw fail("id2label", requirement, value)
            }
            result[id] = label
        }
        guard Set(result.keys) == Set(0..<members.count) else {
            throw ModelError("\(path): \"id2label\" keys must be 0 to \(members.count - 1) with none missing, got "
                + result.keys.sorted().map(String.init).joined(separator: ", "))
        }
        return result
    }

    /// `label2id` as `[String: Int]`, nil when absent or null.
    func label2id() throws -> [String: Int]? {
        guard let value = root["label2id"], value != .null else { return nil }
        let requirement = "an object mapping label names to integer ids"
        guard case let .object(members) = value else { throw fail("label2id", requirement, value) }
        var result: [String: Int] = [:]
        for (key, item) in members {
            guard let id = item.intValue else { throw fail("label2id", requirement, value) }
            result[key] = id
        }
        return result
    }
}

/// A config file's bytes with `updates` applied (top-level keys replaced or added), as pretty-printed
/// JSON with sorted keys, two-space indent and a final newline — the format transformers'
/// `save_pretrained` writes. Fields not updated keep their original values exactly (numbers keep
/// their literal text). Update values may be String, Bool, integers, finite Float/Double,
/// NSNumber, NSNull, nil optionals, arrays and dictionaries (String or Int keys) of these.
func updatedConfigJSON(_ json: Data, path: String, updates: [String: Any]) throws -> Data {
    guard case var .object(members) = try StrictJSON.parse([UInt8](json)) else {
        throw ModelError("\(path): expected a JSON object")  // Unreachable: validated when read.
    }
    for (key, value) in updates {
        let converted = try ConfigJSONValue.convert(value, key: key, path: path)
        if let index = members.firstIndex(where: { $0.key == key }) {
            members[index].value = converted
        } else {
            members.append((key: key, value: converted))
        }
    }
    var bytes = StrictJSON.serialize(.object(members), pretty: true, sortKeys: true)
    bytes.append(0x0A)
    return Data(bytes)
}

/// Swift values as the JSON a config file holds.
enum ConfigJSONValue {
    /// Converts a Swift / Foundation value to JSON for `jsonData(updating:)`.
    static func convert(_ value: Any, key: String, path: String) throws -> StrictJSON.Value {
        func fail(_ why: String) -> ModelError {
            ModelError("\(path): cannot write \"\(key)\": \(why)")
        }
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let wrapped = mirror.children.first?.value else { return .null }
            return try convert(wrapped, key: key, path: path)
        }
        switch value {
        case is NSNull: return .null
        case let flag as Bool: return .bool(flag)
        case let text as String: return .string(text)
        case let number as Int: return .number(String(number))
        case let number as Int64: return .number(String(number))
        case let number as Int32: return .number(String(number))
        case let number as UInt: return .number(String(number))
        case let number as UInt64: return .number(String(number))
        case let number as UInt32: return .number(String(number))
        case let number as Double:
            guard number.isFinite else { throw fail("\(number) is not a finite number") }
            return .number(number.description)
        case let number as Float:
            guard number.isFinite else { throw fail("\(number) is not a finite number") }
            return .number(number.description)
        case let number as NSNumber:
            let double = number.doubleValue
            guard double.isFinite else { throw fail("\(number) is not a finite number") }
            if let integer = Int64(exactly: double), String(integer) == number.stringValue {
                return .number(String(integer))
            }
            return .number(double.description)
        case let array as [Any]:
            return .array(try array.map { try convert($0, key: key, path: path) })
        case let dictionary as [AnyHashable: Any]:
            var members: [(key: String, value: StrictJSON.Value)] = []
            for (itemKey, itemValue) in dictionary {
                let name: String
                switch itemKey.base {
                case let text as String: name = text
                case let number as Int: name = String(number)
                default: throw fail("dictionary key \(itemKey) is not a String or Int")
                }
                members.append((key: name, value: try convert(itemValue, key: key, path: path)))
            }
            return .object(members)
        default:
            throw fail("values of type \(type(of: value)) cannot be written as JSON")
        }
    }
}

/// The classification fields of every `transformers` config (`PretrainedConfig`), read alike for
/// each architecture.
struct ClassifierLabels {
    /// `id2label.count` when the file has `id2label`, else `num_labels`, else 2.
    let numLabels: Int
    /// Keys are exactly `0..<numLabels`; `LABEL_i` when the file has none (as transformers).
    let id2label: [Int: String]
    /// As in the file; the inverse of `id2label` when absent.
    let label2id: [String: Int]
    let problemType: String?

    static let problemTypes = ["regression", "single_label_classification", "multi_label_classification"]

    /// Whether a classification head regresses (MSE on one output), as `transformers`' sequence
    /// classifiers decide: `problem_type` "regression", or one label and no problem type.
    static func isRegression(problemType: String?, numLabels: Int) -> Bool {
        problemType == "regression" || (problemType == nil && numLabels == 1)
    }
}

extension ModelConfigReader {
    func classifierLabels() throws -> ClassifierLabels {
        var problemType: String?
        if !isNullOrAbsent("problem_type") {
            let value = try string("problem_type", default: "")
            guard ClassifierLabels.problemTypes.contains(value) else {
                throw ModelError("\(path): \"problem_type\" is \"\(value)\"; expected one of "
                    + ClassifierLabels.problemTypes.joined(separator: ", ") + " or null")
            }
            problemType = value
        }
        let parsed = try id2label()
        let declared = isNullOrAbsent("num_labels") ? nil : try positiveInt("num_labels", default: 2)
        let numLabels = parsed?.count ?? declared ?? 2
        let id2label = parsed ?? Dictionary(uniqueKeysWithValues: (0..<numLabels).map { ($0, "LABEL_\($0)") })
        let label2id = try label2id()
            ?? Dictionary(id2label.map { ($0.value, $0.key) }, uniquingKeysWith: { first, _ in first })
        return ClassifierLabels(numLabels: numLabels, id2label: id2label, label2id: label2id, problemType: problemType)
    }
}
