import GuidedModel

/// A task's scores on one validation split, as `evaluate.load("glue", task).compute(...)` reports them,
/// with the combined score.
public struct GlueScores: Sendable, Equatable {
    public var task: GlueTask
    /// The split scored (`validation`, `validation_matched`, ...).
    public var split: String
    /// The number of examples scored.
    public var count: Int
    /// Each of `task.metrics` under `evaluate`'s key (`matthews_correlation`; `accuracy`, `f1`;
    /// `pearson`, `spearmanr`).
    public var values: [String: Double]
    /// The mean of `values` (`run_glue.py`'s `combined_score`), the single value where there is one:
    /// CoLA's Matthews correlation, STS-B's mean of Pearson and Spearman, MRPC's and QQP's mean of
    /// accuracy and F1, the others' accuracy. NaN where a correlation is undefined (constant STS-B
    /// predictions), as `evaluate` gives it.
    public var combined: Double

    public init(task: GlueTask, split: String, count: Int, values: [String: Double]) {
        self.task = task
        self.split = split
        self.count = count
        self.values = values
        let metricValues = task.metrics.compactMap { values[$0.rawValue] }
        combined = metricValues.reduce(0, +) / Double(metricValues.count)
    }

    /// The value of one metric.
    public subscript(metric: GlueMetric) -> Double? { values[metric.rawValue] }
}

extension GlueTask {
    /// Scores predictions against references with this task's metrics. Classification: both hold class
    /// ids (integral values in `0..<numLabels`, e.g. the argmax of the logits and `GlueExample.label`);
    /// STS-B: predicted scores (any finite value) and reference scores. Errors: different counts, no
    /// examples, an unlabeled reference (−1), a value that is not a class id (or not finite).
    public func evaluate(predictions: [Double], references: [Double], split: String = "validation") throws
        -> GlueScores
    {
        guard predictions.count == references.count else {
            throw ModelError(
                "\(displayName) \(split): \(predictions.count) predictions for \(references.count) references; "
                    + "expected one each")
        }
        guard !predictions.isEmpty else {
            throw ModelError("\(displayName) \(split): no examples to score")
        }
        if let index = references.firstIndex(where: { $0 == -1 }) {
            throw ModelError(
                "\(displayName) \(split): reference \(index) is unlabeled (-1); only labeled data can be scored")
        }
        var values: [String: Double] = [:]
        if isRegression {
            for (name, array) in [("prediction", predictions), ("reference", references)] {
                if let index = array.firstIndex(where: { !$0.isFinite }) {
                    throw ModelError("\(displayName) \(split): \(name) \(index) is \(array[index]); expected a finite score")
                }
            }
            values[GlueMetric.pearson.rawValue] = Metrics.pearson(predictions, references)
            values[GlueMetric.spearmanr.rawValue] = Metrics.spearman(predictions, references)
        } else {
            func classes(_ array: [Double], _ name: String) throws -> [Int] {
                try array.enumerated().map { index, value in
                    guard value.rounded() == value, value >= 0, value < Double(numLabels) else {
                        throw ModelError(
                            "\(displayName) \(split): \(name) \(index) is \(value); expected a class id "
                                + "0–\(numLabels - 1)")
                    }
                    return Int(value)
                }
            }
            let predicted = try classes(predictions, "prediction")
            let truth = try classes(references, "reference")
            for metric in metrics {
                switch metric {
                case .accuracy: values[metric.rawValue] = Metrics.accuracy(predictions: predicted, references: truth)
                case .f1: values[metric.rawValue] = Metrics.f1(predictions: predicted, references: truth)
                case .matthewsCorrelation:
                    values[metric.rawValue] = Metrics.matthewsCorrelation(predictions: predicted, references: truth)
                case .pearson, .spearmanr: break
                }
            }
        }
        return GlueScores(task: self, split: split, count: predictions.count, values: values)
    }

    /// `evaluate(predictions:references:split:)` for class ids.
    public func evaluate(predictedClasses: [Int], references: [Int], split: String = "validation") throws
        -> GlueScores
    {
        try evaluate(predictions: predictedClasses.map(Double.init), references: references.map(Double.init), split: split)
    }

    /// `evaluate(predictions:references:split:)` against examples' labels (Float predictions, as a
    /// model gives them: class ids or STS-B scores).
    public func evaluate(predictions: [Float], examples: [GlueExample], split: String = "validation") throws
        -> GlueScores
    {
        try evaluate(predictions: predictions.map(Double.init), references: examples.map { Double($0.label) }, split: split)
    }
}
