import Foundation
import GuidedModel
import Testing

@testable import GuidedTraining

/// Fixtures/jsonl/ holds JSON Lines with `datasets`' field names, as `Dataset.to_json` writes them.
@Suite struct GlueJSONLinesTests {
    @Test func mnliFolderWithMatchedAndMismatched() throws {
        let data = try GlueData.load(.mnli, from: TrainingFixtures.url("jsonl/mnli"))
        #expect(data.train.count == 5)
        #expect(data.validation.map(\.name) == ["validation_matched", "validation_mismatched"])
        #expect(data.validation.map(\.examples.count) == [2, 1])
        #expect(data.train[0].text == "Conceptually cream skimming has two basic dimensions - product and geography.")
        #expect(data.train[0].pair == "Product and geography are what make cream skimming work. ")
        #expect(data.train.map(\.label) == [1, 0, 2, 2, 2])
        #expect(data.train.map(\.idx) == [0, 2, 5, 6, 7])
        #expect(data.train.map(\.line) == [1, 2, 3, 4, 5])
        #expect(data.validation[1].examples[0].label == 2)
    }

    @Test func otherTasks() throws {
        let sst2 = try GlueData.load(.sst2, from: TrainingFixtures.url("jsonl/sst2"))
        #expect(sst2.train.map(\.label) == [0, 1, 1])
        // JSON escapes: quotes, a tab and a non-ASCII letter are part of the text.
        #expect(sst2.train[2].text == "\" unbalanced \"quote\" and a\ttab é")
        #expect(sst2.train[2].pair == nil)
        #expect(sst2.validation[0].examples.count == 1)

        let stsb = try GlueData.load(.stsb, from: TrainingFixtures.url("jsonl/stsb"))
        #expect(stsb.train.map(\.label) == [5, 3.8])
        #expect(stsb.validation[0].examples[0].label == 4.75)

        let qnli = try GlueData.load(.qnli, from: TrainingFixtures.url("jsonl/qnli"))
        #expect(qnli.train[0].text == "When did the third Digimon series begin?")
        #expect(qnli.train[0].pair == "Digimon Tamers takes a darker approach.")
        #expect(qnli.train.map(\.label) == [1, 0])
        // No idx field: the line's position.
        #expect(qnli.validation[0].examples[0].idx == 0)

        let qqp = try GlueData.load(.qqp, from: TrainingFixtures.url("jsonl/qqp"))
        #expect(qqp.train[0].pair == "How do you control your emotions?")
        #expect(qqp.train.map(\.label) == [1, 0])
    }

    @Test func testSplitIsUnlabeled() throws {
        let file = try GlueJSONLines.read(TrainingFixtures.url("jsonl/sst2/test.jsonl"), task: .sst2)
        #expect(file.examples.map(\.label) == [-1, -1])
        #expect(file.summary.unlabeled == 2)
        // As the training data of a folder, unlabeled rows are an error naming the first one.
        let message = GlueTSVTests.errorText {
            _ = try GlueData.load(.sst2, from: TrainingFixtures.url("jsonl/bad/unlabeled_train"))
        }
        #expect(message.contains("unlabeled_train/train.jsonl:2: no label (1 of the file's 2 examples have none)"))
    }

    @Test func badLinesNameFileAndLine() throws {
        let url = TrainingFixtures.url("jsonl/bad/rte_bad.jsonl")
        let message = GlueTSVTests.errorText { _ = try GlueJSONLines.read(url, task: .rte) }
        #expect(message.contains("rte_bad.jsonl:2: not a JSON object"))
        #expect(message.contains("--skip-bad-rows"))

        let file = try GlueJSONLines.read(url, task: .rte, options: GlueReadOptions(skipBadRows: true, describedSkips: 100))
        #expect(file.examples.map(\.line) == [1, 9])
        // A label given by name is mapped like a TSV label.
        #expect(file.examples.map(\.label) == [0, 0])
        #expect(file.summary.skippedRows == 8)
        let skipped = file.summary.skipped.map { $0.components(separatedBy: "rte_bad.jsonl:").last ?? "" }
        #expect(skipped[0].hasPrefix("2: not a JSON object"))
        #expect(skipped[1] == "3: no \"sentence2\" field; expected RTE's fields: \"sentence1\", \"sentence2\", \"label\"")
        #expect(skipped[2] == "4: \"label\" is 2, expected a class id 0–1 (entailment, not_entailment) or -1 for no label")
        #expect(skipped[3] == "5: \"sentence2\" is 7, expected a string")
        #expect(skipped[4] == "6: \"sentence2\" is empty")
        #expect(skipped[5].hasPrefix("8: not a JSON object"))
        #expect(skipped[6] == "10: \"label\" is 1.5, expected a class id 0–1 (entailment, not_entailment) or -1 for no label")
        #expect(skipped[7] == "11: \"label\" is true, expected a number")
    }
}
