import Foundation
import GuidedModel
import Testing

@testable import GuidedTraining

/// Fixtures/metrics.json: values from scikit-learn and SciPy, as `evaluate`'s `glue` metric computes
/// them, written by tools/make_metrics_fixture.py. NaN is written as null.
private struct MetricsFixture: Decodable {
    struct Case: Decodable {
        let name: String
        let kind: String
        let predictions: [Double]
        let references: [Double]
        let expected: [String: Double?]
        let prediction_ranks: [Double]?
        let reference_ranks: [Double]?
    }

    struct TaskCase: Decodable {
        let task: String
        let `case`: String
        let values: [String: Double]
        let combined: Double
    }

    let cases: [Case]
    let tasks: [TaskCase]

    static func load() throws -> MetricsFixture {
        try JSONDecoder().decode(MetricsFixture.self, from: Data(contentsOf: TrainingFixtures.url("metrics.json")))
    }
}

@Suite struct MetricsTests {
    static let tolerance = 1e-9

    static func close(_ actual: Double, _ expected: Double?) -> Bool {
        guard let expected else { return actual.isNaN }
        return abs(actual - expected) <= tolerance
    }

    @Test func matchesScikitLearnAndSciPy() throws {
        let fixture = try MetricsFixture.load()
        #expect(fixture.cases.count >= 15)
        for item in fixture.cases {
            if item.kind == "classification" {
                let predictions = item.predictions.map { Int($0) }
                let references = item.references.map { Int($0) }
                let actual: [String: Double] = [
                    "accuracy": Metrics.accuracy(predictions: predictions, references: references),
                    "matthews_correlation": Metrics.matthewsCorrelation(predictions: predictions, references: references),
                    "f1": Metrics.f1(predictions: predictions, references: references),
                ]
                for (key, expected) in item.expected {
                    #expect(Self.close(actual[key]!, expected), "\(item.name) \(key): \(actual[key]!) vs \(String(describing: expected))")
                }
            } else {
                let pearson = Metrics.pearson(item.predictions, item.references)
                let spearman = Metrics.spearman(item.predictions, item.references)
                #expect(Self.close(pearson, item.expected["pearson"]!), "\(item.name) pearson: \(pearson)")
                #expect(Self.close(spearman, item.expected["spearmanr"]!), "\(item.name) spearmanr: \(spearman)")
                #expect(Metrics.averageRanks(item.predictions) == item.prediction_ranks)
                #expect(Metrics.averageRanks(item.references) == item.reference_ranks)
            }
        }
    }

    @Test func edgeCasesFromTheFixture() throws {
        let fixture = try MetricsFixture.load()
        func expected(_ name: String, _ key: String) -> Double? {
            fixture.cases.first { $0.name == name }?.expected[key] ?? nil
        }
        // MCC is 0 when all predictions (or all references) are one class; F1 0 with no positives.
        #expect(expected("all_same_prediction", "matthews_correlation") == 0)
        #expect(expected("all_zero_both", "f1") == 0)
        #expect(expected("perfect", "matthews_correlation") == 1)
        #expect(expected("inverted", "matthews_correlation") == -1)
        #expect(Metrics.matthewsCorrelation(predictions: [1, 1, 1], references: [0, 1, 0]) == 0)
        #expect(Metrics.f1(predictions: [0, 0], references: [0, 0]) == 0)
        #expect(Metrics.pearson([2, 2, 2], [1, 2, 3]).isNaN)
        #expect(Metrics.averageRanks([3, 1, 3, 2, 3]) == [4, 1, 4, 2, 4])
    }

    @Test func taskScoresAsEvaluate() throws {
        let fixture = try MetricsFixture.load()
        #expect(Set(fixture.tasks.map(\.task)) == Set(GlueTask.allCases.map(\.rawValue)))
        for item in fixture.tasks {
            let task = try GlueTask.named(item.task)
            let source = try #require(fixture.cases.first { $0.name == item.case })
            let scores = try task.evaluate(predictions: source.predictions, references: source.references)
            #expect(Set(scores.values.keys) == Set(item.values.keys), "\(item.task)")
            #expect(Set(scores.values.keys) == Set(task.metrics.map(\.rawValue)))
            for (key, value) in item.values {
                #expect(Self.close(scores.values[key] ?? .nan, value), "\(item.task) \(key)")
            }
            #expect(Self.close(scores.combined, item.combined), "\(item.task) combined \(scores.combined) vs \(item.combined)")
            #expect(scores.count == source.predictions.count)
        }
    }

    @Test func combinedScores() throws {
        let mrpc = try GlueTask.mrpc.evaluate(predictedClasses: [1, 1, 0, 0], references: [1, 0, 0, 0])
        #expect(mrpc[.accuracy] == 0.75)
        #expect(Self.close(mrpc[.f1]!, 2.0 / 3.0))
        #expect(Self.close(mrpc.combined, (0.75 + 2.0 / 3.0) / 2))
        let cola = try GlueTask.cola.evaluate(predictedClasses: [1, 0, 1, 0], references: [1, 0, 1, 0])
        #expect(cola.combined == 1)
        #expect(cola.values == ["matthews_correlation": 1])
        let stsb = try GlueTask.stsb.evaluate(predictions: [1, 2, 3, 4], references: [1, 2, 3, 5])
        #expect(Self.close(stsb[.spearmanr]!, 1))
        #expect(Self.close(stsb.combined, (stsb[.pearson]! + 1) / 2))
        let constant = try GlueTask.stsb.evaluate(predictions: [2, 2, 2], references: [1, 2, 3])
        #expect(constant.combined.isNaN)
        // MNLI: each validation set scored on its own, accuracy only.
        let matched = try GlueTask.mnli.evaluate(
            predictions: [0, 1, 2] as [Float],
            examples: [0, 1, 1].map { GlueExample(text: "t", pair: "p", label: $0) }, split: "validation_matched")
        #expect(matched.split == "validation_matched")
        #expect(matched.values.keys.sorted() == ["accuracy"])
        #expect(Self.close(matched.combined, 2.0 / 3.0))
    }

    @Test func evaluationErrors() throws {
        let counts = GlueTSVTests.errorText { _ = try GlueTask.rte.evaluate(predictedClasses: [0, 1], references: [0]) }
        #expect(counts.contains("RTE validation: 2 predictions for 1 references"))
        #expect(GlueTSVTests.errorText { _ = try GlueTask.rte.evaluate(predictedClasses: [], references: []) }
            .contains("no examples to score"))
        let range = GlueTSVTests.errorText { _ = try GlueTask.rte.evaluate(predictedClasses: [0, 2], references: [0, 1]) }
        #expect(range.contains("prediction 1 is 2.0; expected a class id 0–1"))
        let unlabeled = GlueTSVTests.errorText { _ = try GlueTask.mnli.evaluate(predictedClasses: [0, 2], references: [0, -1]) }
        #expect(unlabeled.contains("reference 1 is unlabeled (-1)"))
        let fraction = GlueTSVTests.errorText { _ = try GlueTask.sst2.evaluate(predictions: [0.5], references: [1]) }
        #expect(fraction.contains("prediction 0 is 0.5"))
        let nan = GlueTSVTests.errorText { _ = try GlueTask.stsb.evaluate(predictions: [.nan, 1], references: [1, 2]) }
        #expect(nan.contains("prediction 0 is nan; expected a finite score"))
    }
}
