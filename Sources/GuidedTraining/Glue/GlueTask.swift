import GuidedModel

/// The nine GLUE tasks, named as the `datasets` configurations of `glue` (`cola`, `sst2`, ...).
///
/// Each task knows its text fields (in the GLUE distribution's TSV files and in `datasets`' JSON Lines),
/// its labels in `datasets`' order, its metrics (as the `glue` metric of Hugging Face `evaluate`) and
/// its combined score (the mean of its metrics, as `transformers`' `run_glue.py` computes
/// `combined_score`; the one metric where there is only one).
public enum GlueTask: String, CaseIterable, Sendable {
    case cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli

    /// A task from its name: the raw value, the GLUE folder name, or either with any case and
    /// without `-`/`_` (`sst2`, `SST-2`, `sts_b`). Nil for anything else.
    public init?(name: String) {
        let key = String(name.lowercased().filter { $0 != "-" && $0 != "_" })
        guard let task = GlueTask(rawValue: key) else { return nil }
        self = task
    }

    /// The task from its name (see `init?(name:)`), or an error that lists the nine names.
    public static func named(_ name: String) throws -> GlueTask {
        guard let task = GlueTask(name: name) else {
            throw ModelError(
                "unknown GLUE task \"\(name)\"; expected one of "
                    + allCases.map(\.rawValue).joined(separator: ", "))
        }
        return task
    }

    /// The name of the task's folder in the GLUE distribution (`glue_data/SST-2/`), also the name
    /// the GLUE paper and leaderboard use.
    public var displayName: String {
        switch self {
        case .cola: "CoLA"
        case .sst2: "SST-2"
        case .mrpc: "MRPC"
        case .stsb: "STS-B"
        case .qqp: "QQP"
        case .mnli: "MNLI"
        case .qnli: "QNLI"
        case .rte: "RTE"
        case .wnli: "WNLI"
        }
    }

    // MARK: - Texts

    /// Whether an example has a second text (`[CLS] a [SEP] b [SEP]`).
    public var isPair: Bool { self != .cola && self != .sst2 }

    /// The field names of the text(s) in `datasets`' `glue` (and so in its JSON Lines export).
    public var textFields: GlueFields {
        switch self {
        case .cola, .sst2: GlueFields(text: "sentence", pair: nil, label: "label")
        case .mrpc, .stsb, .rte, .wnli: GlueFields(text: "sentence1", pair: "sentence2", label: "label")
        case .qqp: GlueFields(text: "question1", pair: "question2", label: "label")
        case .mnli: GlueFields(text: "premise", pair: "hypothesis", label: "label")
        case .qnli: GlueFields(text: "question", pair: "sentence", label: "label")
        }
    }

    /// The header names of the text and label columns in the GLUE distribution's TSV files.
    /// CoLA's train and dev files have no header (see `GlueTSV`); its test file's header names
    /// `sentence`.
    public var tsvColumns: GlueFields {
        switch self {
        case .cola, .sst2: GlueFields(text: "sentence", pair: nil, label: "label")
        case .mrpc: GlueFields(text: "#1 String", pair: "#2 String", label: "Quality")
        case .stsb: GlueFields(text: "sentence1", pair: "sentence2", label: "score")
        case .qqp: GlueFields(text: "question1", pair: "question2", label: "is_duplicate")
        case .mnli: GlueFields(text: "sentence1", pair: "sentence2", label: "gold_label")
        case .qnli: GlueFields(text: "question", pair: "sentence", label: "label")
        case .rte, .wnli: GlueFields(text: "sentence1", pair: "sentence2", label: "label")
        }
    }

    // MARK: - Labels

    /// The number of model outputs: 1 for STS-B (regression), the number of classes otherwise.
    public var numLabels: Int { self == .stsb ? 1 : labelNames.count }

    /// Whether the label is a real-valued score (STS-B, 0 to 5) rather than a class.
    public var isRegression: Bool { self == .stsb }

    /// The class names in `datasets`' order (`ClassLabel(names: ...)`): class id i is
    /// `labelNames[i]`. Empty for STS-B. Note WNLI's order: `not_entailment` is 0 (its TSV files
    /// hold 0/1), while RTE and QNLI have `entailment` as 0 (their TSV files hold the names).
    public var labelNames: [String] {
        switch self {
        case .cola: ["unacceptable", "acceptable"]
        case .sst2: ["negative", "positive"]
        case .mrpc: ["not_equivalent", "equivalent"]
        case .stsb: []
        case .qqp: ["not_duplicate", "duplicate"]
        case .mnli: ["entailment", "neutral", "contradiction"]
        case .qnli, .rte: ["entailment", "not_entailment"]
        case .wnli: ["not_entailment", "entailment"]
        }
    }

    /// The range a label must lie in: class ids `0...numLabels-1`, STS-B scores `0...5`.
    public var labelRange: ClosedRange<Float> {
        isRegression ? 0...5 : 0...Float(labelNames.count - 1)
    }

    // MARK: - Splits

    /// The validation splits, by `datasets`' names: MNLI's matched and mismatched sets, one
    /// `validation` split for the others.
    public var validationSplitNames: [String] {
        self == .mnli ? ["validation_matched", "validation_mismatched"] : ["validation"]
    }

    // MARK: - Metrics

    /// The metrics `evaluate.load("glue", task)` returns, in its order.
    public var metrics: [GlueMetric] {
        switch self {
        case .cola: [.matthewsCorrelation]
        case .stsb: [.pearson, .spearmanr]
        case .mrpc, .qqp: [.accuracy, .f1]
        case .sst2, .mnli, .qnli, .rte, .wnli: [.accuracy]
        }
    }

    /// How the combined score (the one number a run is ranked by) is made from `metrics`.
    public var combinedScoreDescription: String {
        switch self {
        case .cola: "Matthews correlation"
        case .stsb: "mean of Pearson and Spearman correlations"
        case .mrpc, .qqp: "mean of accuracy and F1"
        case .mnli: "accuracy (matched and mismatched validation sets scored separately)"
        case .sst2, .qnli, .rte, .wnli: "accuracy"
        }
    }
}

/// Where a task's texts and label are found: JSON field names or TSV header names.
public struct GlueFields: Sendable, Equatable {
    public var text: String
    /// The second text of a pair task; nil for single-sentence tasks.
    public var pair: String?
    public var label: String

    public init(text: String, pair: String?, label: String) {
        self.text = text
        self.pair = pair
        self.label = label
    }
}

/// A metric of `evaluate`'s `glue`; the raw value is the key it reports the metric under.
public enum GlueMetric: String, CaseIterable, Sendable {
    case matthewsCorrelation = "matthews_correlation"
    case accuracy
    case f1
    case pearson
    case spearmanr
}
