import Testing

@testable import GuidedTraining

@Suite struct GlueTaskTests {
    @Test func nineTasksWithDatasetsNames() {
        #expect(GlueTask.allCases.map(\.rawValue) == ["cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli"])
        #expect(GlueTask.allCases.map(\.displayName) == ["CoLA", "SST-2", "MRPC", "STS-B", "QQP", "MNLI", "QNLI", "RTE", "WNLI"])
    }

    @Test func namesAreForgiving() throws {
        #expect(GlueTask(name: "SST-2") == .sst2)
        #expect(GlueTask(name: "sts_b") == .stsb)
        #expect(GlueTask(name: "MNLI") == .mnli)
        #expect(GlueTask(name: "snli") == nil)
        let error = #expect(throws: (any Error).self) { try GlueTask.named("snli") }
        #expect("\(error!)".contains("cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli"))
        for task in GlueTask.allCases {
            #expect(GlueTask(name: task.displayName) == task)
            #expect(try GlueTask.named(task.rawValue) == task)
        }
    }

    @Test func labelsInDatasetsOrder() {
        #expect(GlueTask.cola.labelNames == ["unacceptable", "acceptable"])
        #expect(GlueTask.sst2.labelNames == ["negative", "positive"])
        #expect(GlueTask.mrpc.labelNames == ["not_equivalent", "equivalent"])
        #expect(GlueTask.qqp.labelNames == ["not_duplicate", "duplicate"])
        #expect(GlueTask.mnli.labelNames == ["entailment", "neutral", "contradiction"])
        #expect(GlueTask.qnli.labelNames == ["entailment", "not_entailment"])
        #expect(GlueTask.rte.labelNames == ["entailment", "not_entailment"])
        #expect(GlueTask.wnli.labelNames == ["not_entailment", "entailment"])
        #expect(GlueTask.stsb.labelNames.isEmpty)
        #expect(GlueTask.allCases.map(\.numLabels) == [2, 2, 2, 1, 2, 3, 2, 2, 2])
        #expect(GlueTask.allCases.filter(\.isRegression) == [.stsb])
        #expect(GlueTask.stsb.labelRange == 0...5)
        #expect(GlueTask.mnli.labelRange == 0...2)
    }

    @Test func textFields() {
        #expect(GlueTask.allCases.filter { !$0.isPair } == [.cola, .sst2])
        #expect(GlueTask.qnli.textFields == GlueFields(text: "question", pair: "sentence", label: "label"))
        #expect(GlueTask.qqp.textFields == GlueFields(text: "question1", pair: "question2", label: "label"))
        #expect(GlueTask.mnli.textFields == GlueFields(text: "premise", pair: "hypothesis", label: "label"))
        #expect(GlueTask.mrpc.tsvColumns == GlueFields(text: "#1 String", pair: "#2 String", label: "Quality"))
        #expect(GlueTask.mnli.tsvColumns.label == "gold_label")
        #expect(GlueTask.qqp.tsvColumns.label == "is_duplicate")
        #expect(GlueTask.stsb.tsvColumns.label == "score")
        for task in GlueTask.allCases {
            #expect((task.textFields.pair != nil) == task.isPair)
            #expect((task.tsvColumns.pair != nil) == task.isPair)
        }
    }

    @Test func metricsAsEvaluate() {
        #expect(GlueTask.cola.metrics.map(\.rawValue) == ["matthews_correlation"])
        #expect(GlueTask.stsb.metrics.map(\.rawValue) == ["pearson", "spearmanr"])
        #expect(GlueTask.mrpc.metrics.map(\.rawValue) == ["accuracy", "f1"])
        #expect(GlueTask.qqp.metrics.map(\.rawValue) == ["accuracy", "f1"])
        for task in [GlueTask.sst2, .mnli, .qnli, .rte, .wnli] {
            #expect(task.metrics == [.accuracy])
        }
        #expect(GlueTask.mnli.validationSplitNames == ["validation_matched", "validation_mismatched"])
        #expect(GlueTask.rte.validationSplitNames == ["validation"])
    }
}
