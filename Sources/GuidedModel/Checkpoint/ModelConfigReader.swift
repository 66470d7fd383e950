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
