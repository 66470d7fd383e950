import Foundation

/// One GLUE example: one or two texts and a label.
public struct GlueExample: Sendable, Equatable {
    /// The first (or only) text.
    public var text: String
    /// The second text of a pair task; nil for CoLA and SST-2.
    public var pair: String?
    /// The class id (`0..<task.numLabels`, in `GlueTask.labelNames` order) as a Float, the STS-B
    /// score (0 to 5), or −1 for an unlabeled example (the GLUE test files; label −1 in JSON Lines).
    public var label: Float
    /// `datasets`' `idx`: for a TSV file the 0-based number of the data row (header and blank lines
    /// not counted; rows that were skipped as malformed still take their number, as in `datasets`'
    /// `glue` script); for JSON Lines the `idx` field, or the 0-based number of the non-blank line
    /// when there is none.
    public var idx: Int
    /// The file the example was read from (empty when built in memory).
    public var file: String
    /// The 1-based line of `file` it was read from (0 when built in memory).
    public var line: Int

    public init(text: String, pair: String? = nil, label: Float, idx: Int = 0, file: String = "", line: Int = 0) {
        self.text = text
        self.pair = pair
        self.label = label
        self.idx = idx
        self.file = file
        self.line = line
    }

    /// Whether the example has a label (test data has none: label −1).
    public var isLabeled: Bool { label >= 0 }

    /// `file:line`, for messages.
    public var location: String { "\(file):\(line)" }
}

/// Options for reading GLUE files.
public struct GlueReadOptions: Sendable, Equatable {
    /// Skip malformed rows (wrong column count, a label that does not parse, an empty text, a JSON
    /// line that is not an object with the task's fields) and count them, instead of stopping at the
    /// first one with an error. A file whose header lacks a needed column is an error either way.
    public var skipBadRows: Bool
    /// How many skipped rows a summary describes (all are counted).
    public var describedSkips: Int

    public init(skipBadRows: Bool = false, describedSkips: Int = 10) {
        self.skipBadRows = skipBadRows
        self.describedSkips = describedSkips
    }
}

/// What reading one file found, for the CLI to report.
public struct GlueFileSummary: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The path of the file.
    public var file: String
    /// The examples read.
    public var examples: Int
    /// How many of them have no label (−1).
    public var unlabeled: Int
    /// Malformed rows skipped (only with `GlueReadOptions.skipBadRows`).
    public var skippedRows: Int
    /// `file:line: what was wrong` for the first skipped rows (`GlueReadOptions.describedSkips`).
    public var skipped: [String]
    /// Invalid UTF-8 sequences replaced by U+FFFD (one per maximal invalid subsequence, as Swift's and
    /// Python's `errors="replace"` decoders count), in the fields that were read.
    public var replacedSequences: Int
    /// The first line holding such a sequence, 0 when there is none.
    public var firstReplacedLine: Int

    public init(file: String) {
        self.file = file
        examples = 0
        unlabeled = 0
        skippedRows = 0
        skipped = []
        replacedSequences = 0
        firstReplacedLine = 0
    }

    /// One line: `path: N examples`, then what was skipped or replaced, if anything.
    public var description: String {
        var text = "\(file): \(examples) examples"
        if unlabeled > 0 { text += " (\(unlabeled) unlabeled)" }
        if skippedRows > 0 { text += ", \(skippedRows) malformed rows skipped" }
        if replacedSequences > 0 {
            text += ", \(replacedSequences) invalid UTF-8 sequences replaced by U+FFFD (first on line \(firstReplacedLine))"
        }
        return text
    }
}

/// The examples of one file and what reading it found.
public struct GlueFile: Sendable, Equatable {
    public var examples: [GlueExample]
    public var summary: GlueFileSummary

    public init(examples: [GlueExample], summary: GlueFileSummary) {
        self.examples = examples
        self.summary = summary
    }
}
