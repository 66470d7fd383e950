import Foundation

/// The metrics of `evaluate`'s `glue`, computed in Double as scikit-learn and SciPy compute them.
/// The arguments must have the same, non-zero count (checked by `GlueTask.evaluate`, a precondition
/// here).
public enum Metrics {
    /// The fraction of predictions equal to their reference (`(preds == labels).mean()`).
    public static func accuracy(predictions: [Int], references: [Int]) -> Double {
        checkCounts(predictions.count, references.count)
        let correct = zip(predictions, references).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
        return Double(correct) / Double(predictions.count)
    }

    /// Binary F1 with 1 the positive label and every other value negative (`f1_score(labels, preds)`):
    /// 2·TP / (2·TP + FP + FN), and 0 when there is no positive among predictions or references
    /// (scikit-learn's `zero_division` default).
    public static func f1(predictions: [Int], references: [Int]) -> Double {
        checkCounts(predictions.count, references.count)
        var truePositives = 0
        var falsePositives = 0
        var falseNegatives = 0
        for (prediction, reference) in zip(predictions, references) {
            switch (prediction == 1, reference == 1) {
            case (true, true): truePositives += 1
            case (true, false): falsePositives += 1
            case (false, true): falseNegatives += 1
            case (false, false): break
            }
        }
        let denominator = 2 * truePositives + falsePositives + falseNegatives
        return denominator == 0 ? 0 : Double(2 * truePositives) / Double(denominator)
    }

    /// The Matthews correlation coefficient, for any number of classes, as scikit-learn's
    /// `matthews_corrcoef` (from the confusion matrix C of n samples, with t and p its row and column
    /// sums and c its trace: (c·n − t·p) / √((n² − p·p)(n² − t·t))), and 0 when the denominator is 0
    /// (all predictions, or all references, in one class).
    public static func matthewsCorrelation(predictions: [Int], references: [Int]) -> Double {
        checkCounts(predictions.count, references.count)
        var truthCounts: [Int: Double] = [:]
        var predictedCounts: [Int: Double] = [:]
        var correct = 0.0
        for (prediction, reference) in zip(predictions, references) {
            truthCounts[reference, default: 0] += 1
            predictedCounts[prediction, default: 0] += 1
            if prediction == reference { correct += 1 }
        }
        let n = Double(predictions.count)
        let classes = Set(truthCounts.keys).union(predictedCounts.keys).sorted()
        var truthDotPredicted = 0.0
        var predictedSquared = 0.0
        var truthSquared = 0.0
        for label in classes {
            let t = truthCounts[label, default: 0]
            let p = predictedCounts[label, default: 0]
            truthDotPredicted += t * p
            predictedSquared += p * p
            truthSquared += t * t
        }
        let covariance = correct * n - truthDotPredicted
        let predictedVariance = n * n - predictedSquared
        let truthVariance = n * n - truthSquared
        guard predictedVariance * truthVariance != 0 else { return 0 }
        return covariance / (truthVariance * predictedVariance).squareRoot()
    }

    /// The Pearson correlation coefficient (`scipy.stats.pearsonr(x, y).statistic`), clipped to
    /// [−1, 1]; NaN when either input is constant (SciPy warns and returns NaN).
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        checkCounts(x.count, y.count)
        let n = Double(x.count)
        let meanX = x.reduce(0, +) / n
        let meanY = y.reduce(0, +) / n
        var sxy = 0.0
        var sxx = 0.0
        var syy = 0.0
        for (a, b) in zip(x, y) {
            let dx = a - meanX
            let dy = b - meanY
            sxy += dx * dy
            sxx += dx * dx
            syy += dy * dy
        }
        guard sxx > 0, syy > 0, x.count >= 2 else { return .nan }
        return min(max(sxy / (sxx.squareRoot() * syy.squareRoot()), -1), 1)
    }

    /// The Spearman rank correlation (`scipy.stats.spearmanr(x, y).statistic`): the Pearson
    /// correlation of the average ranks; NaN when either input is constant.
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double {
        checkCounts(x.count, y.count)
        return pearson(averageRanks(x), averageRanks(y))
    }

    /// Ranks from 1, tied values sharing the mean of their ranks (`scipy.stats.rankdata`, method
    /// "average"). The values must not be NaN (`GlueTask.evaluate` checks).
    public static func averageRanks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = [Double](repeating: 0, count: values.count)
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count && values[order[end]] == values[order[start]] { end += 1 }
            // Positions start..<end (ranks start+1 ... end) share their mean.
            let rank = Double(start + 1 + end) / 2
            for position in start..<end { ranks[order[position]] = rank }
            start = end
        }
        return ranks
    }

    private static func checkCounts(_ first: Int, _ second: Int) {
        precondition(first == second && first > 0, "metrics need equally many predictions and references (\(first) and \(second)), at least one")
    }
}
