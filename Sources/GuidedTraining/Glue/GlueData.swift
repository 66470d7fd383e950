import Foundation
import GuidedModel

/// A named split of examples (`validation`, `validation_matched`, ...).
public struct GlueSplit: Sendable, Equatable {
    /// `datasets`' split name.
    public var name: String
    public var examples: [GlueExample]

    public init(name: String, examples: [GlueExample]) {
        self.name = name
        self.examples = examples
    }
}

/// A task's training and validation data, as read from disk.
public struct GlueData: Sendable, Equatable {
    public var task: GlueTask
    public var train: [GlueExample]
    /// The validation splits in `task.validationSplitNames` order (MNLI: matched, then mismatched);
    /// empty when a single file was loaded.
    public var validation: [GlueSplit]
    /// One summary per file read (skipped rows, replaced bytes), for reporting.
    public var files: [GlueFileSummary]

    public init(task: GlueTask, train: [GlueExample], validation: [GlueSplit], files: [GlueFileSummary] = []) {
        self.task = task
        self.train = train
        self.validation = validation
        self.files = files
    }

    /// The file names of a task folder in each format: the GLUE distribution's (`train.tsv`, `dev.tsv`;
    /// MNLI `dev_matched.tsv`, `dev_mismatched.tsv`) and `datasets`' split names (`train.jsonl`,
    /// `validation.jsonl`; MNLI `validation_matched.jsonl`, `validation_mismatched.jsonl`).
    public static func fileNames(task: GlueTask, format: GlueFileFormat) -> (train: String, validation: [String]) {
        switch format {
        case .tsv:
            return ("train.tsv", task == .mnli ? ["dev_matched.tsv", "dev_mismatched.tsv"] : ["dev.tsv"])
        case .jsonLines:
            return ("train.jsonl", task.validationSplitNames.map { $0 + ".jsonl" })
        }
    }

    /// Loads a task from `url`:
    /// - a task folder (`glue_data/MRPC/`) holding `train.tsv` and `dev.tsv` (MNLI: `dev_matched.tsv`
    ///   and `dev_mismatched.tsv`), or `train.jsonl` and `validation.jsonl` (MNLI:
    ///   `validation_matched.jsonl` and `validation_mismatched.jsonl`);
    /// - the GLUE root folder (`glue_data/`), whose `<displayName>` subfolder (`MRPC`, `SST-2`, ...) is
    ///   then used;
    /// - a single `.tsv` or `.jsonl` file, whose examples become `train` (no validation splits).
    ///
    /// Every example of a folder's train and validation files must be labeled, and each file must give
    /// at least one example. A folder with both formats is an error (say which by passing a file).
    public static func load(_ task: GlueTask, from url: URL, options: GlueReadOptions = GlueReadOptions()) throws
        -> GlueData
    {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ModelError(
                "\(url.path): no such file or folder; expected \(task.displayName)'s GLUE folder "
                    + "(train.tsv, dev.tsv) or a .tsv/.jsonl file")
        }
        if !isDirectory.boolValue {
            let file = try readFile(url, task: task, options: options)
            try requireExamples(file, task: task)
            return GlueData(task: task, train: file.examples, validation: [], files: [file.summary])
        }

        func exists(_ folder: URL, _ name: String) -> Bool {
            fileManager.fileExists(atPath: folder.appendingPathComponent(name).path)
        }
        var folder = url
        let tsv = fileNames(task: task, format: .tsv)
        let jsonl = fileNames(task: task, format: .jsonLines)
        if !exists(folder, tsv.train) && !exists(folder, jsonl.train) {
            let sub = folder.appendingPathComponent(task.displayName)
            if exists(sub, tsv.train) || exists(sub, jsonl.train) { folder = sub }
        }
        let hasTSV = exists(folder, tsv.train)
        let hasJSONL = exists(folder, jsonl.train)
        if hasTSV && hasJSONL {
            throw ModelError(
                "\(folder.path): holds both \(tsv.train) and \(jsonl.train); pass the file to use, "
                    + "or keep one format in the folder")
        }
        guard hasTSV || hasJSONL else {
            throw ModelError(
                "\(folder.path): no \(tsv.train) or \(jsonl.train); expected \(task.displayName)'s GLUE folder "
                    + "with " + ([tsv.train] + tsv.validation).joined(separator: ", ") + ", or "
                    + ([jsonl.train] + jsonl.validation).joined(separator: ", "))
        }
        let names = hasTSV ? tsv : jsonl
        for name in names.validation where !exists(folder, name) {
            throw ModelError(
                "\(folder.path): has \(names.train) but no \(name); expected "
                    + names.validation.joined(separator: " and ") + " for \(task.displayName)'s validation data")
        }

        var summaries: [GlueFileSummary] = []
        func labeledFile(_ name: String) throws -> [GlueExample] {
            let file = try readFile(folder.appendingPathComponent(name), task: task, options: options)
            try requireExamples(file, task: task)
            if let unlabeled = file.examples.first(where: { !$0.isLabeled }) {
                throw ModelError(
                    "\(unlabeled.location): no label (\(file.summary.unlabeled) of the file's "
                        + "\(file.examples.count) examples have none); training and validation data need labels")
            }
            summaries.append(file.summary)
            return file.examples
        }
        let train = try labeledFile(names.train)
        var validation: [GlueSplit] = []
        for (split, name) in zip(task.validationSplitNames, names.validation) {
            validation.append(GlueSplit(name: split, examples: try labeledFile(name)))
        }
        return GlueData(task: task, train: train, validation: validation, files: summaries)
    }

    /// Reads one file, as TSV (`.tsv`) or JSON Lines (`.jsonl`) by its extension.
    public static func readFile(_ url: URL, task: GlueTask, options: GlueReadOptions = GlueReadOptions()) throws
        -> GlueFile
    {
        switch try GlueFileFormat(url: url) {
        case .tsv: try GlueTSV.read(url, task: task, options: options)
        case .jsonLines: try GlueJSONLines.read(url, task: task, options: options)
        }
    }

    private static func requireExamples(_ file: GlueFile, task: GlueTask) throws {
        guard file.examples.isEmpty else { return }
        let skipped = file.summary.skippedRows
        throw ModelError(
            "\(file.summary.file): no \(task.displayName) examples"
                + (skipped > 0
                    ? " (all \(skipped) rows were malformed and skipped"
                        + (file.summary.skipped.first.map { "; the first: " + $0 } ?? "") + ")"
                    : ""))
    }
}

/// The two file formats.
public enum GlueFileFormat: Sendable, Equatable {
    /// The GLUE distribution's tab-separated files.
    case tsv
    /// JSON Lines with `datasets`' field names.
    case jsonLines

    /// The format of a file by its extension (`.tsv`, `.jsonl`), or an error naming it.
    public init(url: URL) throws {
        switch url.pathExtension.lowercased() {
        case "tsv": self = .tsv
        case "jsonl": self = .jsonLines
        default:
            throw ModelError(
                "\(url.path): unknown extension; expected a GLUE .tsv file or a .jsonl file with datasets' fields")
        }
    }
}
