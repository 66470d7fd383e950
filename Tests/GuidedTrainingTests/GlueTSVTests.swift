import Foundation
import GuidedModel
import Testing

@testable import GuidedTraining

/// The fixtures under Fixtures/glue/ are tiny hand-written files in the exact layouts of the GLUE
/// distribution (rows adapted from the real files); Fixtures/bad/ holds malformed and awkward ones.
@Suite struct GlueTSVTests {
    static func glue(_ task: GlueTask) -> URL { TrainingFixtures.url("glue/\(task.displayName)") }

    static func errorText(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    /// Every task folder loads, with the expected sizes and the first training example.
    @Test(arguments: [
        (GlueTask.cola, 4, [2], "Our friends won't buy this analysis, let alone the next one we propose.", nil as String?, Float(1)),
        (.sst2, 4, [2], "hide new secretions from the parental units ", nil, 0),
        (.mrpc, 3, [2], "Amrozi accused his brother , whom he called \" the witness \" , of deliberately distorting his evidence .",
         "Referring to him as only \" the witness \" , Amrozi accused his brother of deliberately distorting his evidence .", 1),
        (.stsb, 4, [2], "A plane is taking off.", "An air plane is taking off.", 5),
        (.qqp, 3, [2], "How is the life of a math student? Could you describe your own experiences?",
         "Which level of prepration is enough for the exam jlpt5?", 0),
        (.mnli, 6, [2, 3], "Conceptually cream skimming has two basic dimensions - product and geography.",
         "Product and geography are what make cream skimming work. ", 1),
        (.qnli, 3, [2], "When did the third Digimon series begin?",
         "Unlike the two seasons before it and most of the seasons that followed, Digimon Tamers takes a darker and more realistic approach to its story featuring Digimon who do not reincarnate after their deaths and more complex character development in the original Japanese.", 1),
        (.rte, 3, [2], "No Weapons of Mass Destruction Found in Iraq Yet.", "Weapons of Mass Destruction Found in Iraq.", 1),
        (.wnli, 4, [2], "I stuck a pin through a carrot. When I pulled the pin out, it had a hole.", "The carrot had a hole.", 1),
    ])
    func taskFolders(
        task: GlueTask, trainCount: Int, validationCounts: [Int], text: String, pair: String?, label: Float
    ) throws {
        let data = try GlueData.load(task, from: Self.glue(task))
        #expect(data.task == task)
        #expect(data.train.count == trainCount)
        #expect(data.validation.map(\.examples.count) == validationCounts)
        #expect(data.validation.map(\.name) == task.validationSplitNames)
        let first = try #require(data.train.first)
        #expect(first.text == text)
        #expect(first.pair == pair)
        #expect(first.label == label)
        #expect(first.idx == 0)
        // CoLA's files have no header: its first row is line 1.
        #expect(first.line == (task == .cola ? 1 : 2))
        #expect(first.file.hasSuffix("glue/\(task.displayName)/train.tsv"))
        #expect(data.files.count == 1 + validationCounts.count)
        #expect(data.files.allSatisfy { $0.skippedRows == 0 && $0.replacedSequences == 0 && $0.unlabeled == 0 })
        for example in data.train + data.validation.flatMap(\.examples) {
            #expect(task.labelRange.contains(example.label))
            #expect((example.pair != nil) == task.isPair)
        }
    }

    @Test func labelMapping() throws {
        func labels(_ task: GlueTask, _ split: Int? = nil) throws -> [Float] {
            let data = try GlueData.load(task, from: Self.glue(task))
            return split.map { data.validation[$0].examples.map(\.label) } ?? data.train.map(\.label)
        }
        // MNLI: entailment 0, neutral 1, contradiction 2, from gold_label.
        #expect(try labels(.mnli) == [1, 0, 0, 0, 1, 2])
        #expect(try labels(.mnli, 0) == [1, 2])
        #expect(try labels(.mnli, 1) == [2, 2, 0])
        // RTE and QNLI: entailment 0, not_entailment 1.
        #expect(try labels(.rte) == [1, 0, 0])
        #expect(try labels(.qnli) == [1, 1, 0])
        // WNLI's files hold 0/1 with 1 = entailment, datasets' class 1 ("entailment").
        #expect(try labels(.wnli) == [1, 1, 1, 0])
        #expect(GlueTask.wnli.labelNames[1] == "entailment")
        #expect(try labels(.mrpc) == [1, 0, 1])
        #expect(try labels(.qqp) == [0, 1, 0])
        #expect(try labels(.cola) == [1, 0, 1, 0])
        #expect(try labels(.sst2) == [0, 0, 1, 1])
        #expect(try labels(.stsb) == [5, 3.8, 3.8, 0])
        #expect(try labels(.stsb, 0) == [5, 4.75])
    }

    @Test func quotesAreOrdinaryCharacters() throws {
        let sst2 = try GlueData.load(.sst2, from: Self.glue(.sst2))
        #expect(sst2.train[3].text == "\" the title 's \" unbalanced quote keeps going ")
        #expect(sst2.train[3].label == 1)
        let cola = try GlueData.load(.cola, from: Self.glue(.cola))
        #expect(cola.train[2].text == "She said \"hello\" to him.")
        let stsb = try GlueData.load(.stsb, from: Self.glue(.stsb))
        #expect(stsb.train[3].text == "The economy has yet to exhibit \"sustainable growth.")
        #expect(stsb.train[3].pair == "But the economy hasn't shown signs of sustainable growth.")
    }

    @Test func mrpcByteOrderMarkIsDropped() throws {
        let url = TrainingFixtures.url("glue/MRPC/train.tsv")
        #expect(try Data(contentsOf: url).prefix(3) == Data([0xEF, 0xBB, 0xBF]))
        let file = try GlueTSV.read(url, task: .mrpc)
        #expect(file.examples.count == 3)
        #expect(file.examples.map(\.label) == [1, 0, 1])
    }

    @Test func testFilesAreUnlabeled() throws {
        let file = try GlueTSV.read(TrainingFixtures.url("glue/CoLA/test.tsv"), task: .cola)
        #expect(file.examples.map(\.text) == ["Bill whistled past the house.", "The car honked its way down the road."])
        #expect(file.examples.allSatisfy { $0.label == -1 && !$0.isLabeled })
        #expect(file.summary.unlabeled == 2)
        #expect(file.examples.map(\.idx) == [0, 1])
        #expect(file.examples.map(\.line) == [2, 3])
    }

    @Test func lineEndings() throws {
        let crlf = try GlueTSV.read(TrainingFixtures.url("bad/sst2_crlf.tsv"), task: .sst2)
        #expect(crlf.examples.map(\.text) == ["windows line ends ", "still fine "])
        #expect(crlf.examples.map(\.label) == [1, 0])
        // The blank line 3 is not a row, but still a line.
        #expect(crlf.examples.map(\.line) == [2, 4])
        #expect(crlf.examples.map(\.idx) == [0, 1])
        let cr = try GlueTSV.read(TrainingFixtures.url("bad/sst2_cr.tsv"), task: .sst2)
        #expect(cr.examples.map(\.text) == ["old mac line ends ", "second "])
        #expect(cr.examples.map(\.label) == [1, 0])
    }

    @Test func invalidUTF8IsReplacedAndCounted() throws {
        let file = try GlueTSV.read(TrainingFixtures.url("bad/sst2_latin1.tsv"), task: .sst2)
        #expect(file.examples.map(\.text) == [
            "caf\u{FFFD} society ", "a real \u{FFFD} in the text ", "two \u{FFFD}\u{FFFD} bad \u{FFFD} bytes ",
        ])
        // 0xE9; 0xFF, 0xFE, a lone 0xC3 — not the U+FFFD spelled in the file's UTF-8 on line 3.
        #expect(file.summary.replacedSequences == 4)
        #expect(file.summary.firstReplacedLine == 2)
        #expect(file.summary.description.hasSuffix(
            "sst2_latin1.tsv: 3 examples, 4 invalid UTF-8 sequences replaced by U+FFFD (first on line 2)"))
        #expect(file.examples.map(\.label) == [1, 0, 1])
    }

    @Test func wrongColumnCountNamesFileAndLine() throws {
        let message = Self.errorText {
            _ = try GlueTSV.read(TrainingFixtures.url("bad/cola_short_row.tsv"), task: .cola)
        }
        #expect(message.contains("bad/cola_short_row.tsv:2: expected 4 tab-separated columns (source, label, original label, sentence)"))
        #expect(message.contains("found 3"))
        #expect(message.contains("--skip-bad-rows"))

        let qqp = Self.errorText { _ = try GlueTSV.read(TrainingFixtures.url("bad/qqp_broken.tsv"), task: .qqp) }
        #expect(qqp.contains("bad/qqp_broken.tsv:3: expected 6 tab-separated columns as the header has, found 4"))
    }

    @Test func badLabelsAndEmptyTexts() throws {
        let cola = Self.errorText { _ = try GlueTSV.read(TrainingFixtures.url("bad/cola_bad_label.tsv"), task: .cola) }
        #expect(cola.contains("cola_bad_label.tsv:2: the label column holds \"yes\", expected unacceptable, acceptable or a class id 0–1"))
        let mnli = Self.errorText { _ = try GlueTSV.read(TrainingFixtures.url("bad/mnli_bad_label.tsv"), task: .mnli) }
        #expect(mnli.contains("mnli_bad_label.tsv:3: the gold_label column holds \"-\", expected entailment, neutral, contradiction"))
        let stsb = Self.errorText { _ = try GlueTSV.read(TrainingFixtures.url("bad/stsb_bad_score.tsv"), task: .stsb) }
        #expect(stsb.contains("stsb_bad_score.tsv:2: the score column holds \"5.5\", expected a number from 0 to 5"))
        let sst2 = Self.errorText { _ = try GlueTSV.read(TrainingFixtures.url("bad/sst2_empty_text.tsv"), task: .sst2) }
        #expect(sst2.contains("sst2_empty_text.tsv:3: the sentence column is empty"))
    }

    @Test func skipBadRowsCountsThem() throws {
        let options = GlueReadOptions(skipBadRows: true)
        let qqp = try GlueTSV.read(TrainingFixtures.url("bad/qqp_broken.tsv"), task: .qqp, options: options)
        #expect(qqp.examples.map(\.text) == ["What is one plus one?", "Who wrote Hamlet?"])
        // Rows keep datasets' numbering: the two halves of the broken row and the long row take numbers.
        #expect(qqp.examples.map(\.idx) == [0, 3])
        #expect(qqp.examples.map(\.line) == [2, 5])
        #expect(qqp.summary.skippedRows == 3)
        #expect(qqp.summary.examples == 2)
        #expect(qqp.summary.skipped.count == 3)
        #expect(qqp.summary.skipped[0].hasSuffix("qqp_broken.tsv:3: expected 6 tab-separated columns as the header has, found 4"))
        #expect(qqp.summary.skipped[1].contains("qqp_broken.tsv:4: "))
        #expect(qqp.summary.skipped[2].contains("qqp_broken.tsv:6: expected 6 tab-separated columns as the header has, found 7"))
        #expect(!qqp.summary.skipped[0].contains("--skip-bad-rows"))
        #expect(qqp.summary.description.hasSuffix("qqp_broken.tsv: 2 examples, 3 malformed rows skipped"))

        let stsb = try GlueTSV.read(TrainingFixtures.url("bad/stsb_bad_score.tsv"), task: .stsb, options: options)
        #expect(stsb.examples.map(\.label) == [4.25])
        #expect(stsb.summary.skippedRows == 2)

        let limited = try GlueTSV.read(
            TrainingFixtures.url("bad/qqp_broken.tsv"), task: .qqp,
            options: GlueReadOptions(skipBadRows: true, describedSkips: 1))
        #expect(limited.summary.skippedRows == 3)
        #expect(limited.summary.skipped.count == 1)
    }

    @Test func headerWithoutTheTaskColumns() throws {
        let message = Self.errorText {
            _ = try GlueTSV.read(TrainingFixtures.url("bad/rte_missing_column.tsv"), task: .rte)
        }
        #expect(message.contains("rte_missing_column.tsv:1: the header has no \"sentence1\" column"))
        #expect(message.contains("\"premise\""))
        // Not a row problem: skipping does not help.
        #expect(throws: ModelError.self) {
            _ = try GlueTSV.read(
                TrainingFixtures.url("bad/rte_missing_column.tsv"), task: .rte, options: GlueReadOptions(skipBadRows: true))
        }
    }

    @Test func emptyFiles() throws {
        let empty = Self.errorText { _ = try GlueTSV.read(TrainingFixtures.url("bad/empty.tsv"), task: .sst2) }
        #expect(empty.contains("empty.tsv: the file is empty"))
        #expect(try GlueTSV.read(TrainingFixtures.url("bad/sst2_header_only.tsv"), task: .sst2).examples.isEmpty)
        let load = Self.errorText { _ = try GlueData.load(.sst2, from: TrainingFixtures.url("bad/sst2_header_only.tsv")) }
        #expect(load.contains("sst2_header_only.tsv: no SST-2 examples"))
        let skippedAll = Self.errorText {
            _ = try GlueData.load(.sst2, from: TrainingFixtures.url("bad/sst2_all_bad.tsv"), options: GlueReadOptions(skipBadRows: true))
        }
        #expect(skippedAll.contains("sst2_all_bad.tsv: no SST-2 examples (all 2 rows were malformed and skipped; the first: "))
        #expect(skippedAll.contains("sst2_all_bad.tsv:2: expected 2 tab-separated columns as the header has, found 1"))
    }

    @Test func folders() throws {
        // The GLUE root folder finds the task's subfolder.
        let root = try GlueData.load(.rte, from: TrainingFixtures.url("glue"))
        #expect(root.train.count == 3)
        // A single file is the training data, without validation.
        let single = try GlueData.load(.rte, from: TrainingFixtures.url("glue/RTE/dev.tsv"))
        #expect(single.train.count == 2)
        #expect(single.validation.isEmpty)

        let both = Self.errorText { _ = try GlueData.load(.sst2, from: TrainingFixtures.url("both")) }
        #expect(both.contains("holds both train.tsv and train.jsonl"))
        let noDev = Self.errorText { _ = try GlueData.load(.sst2, from: TrainingFixtures.url("nodev")) }
        #expect(noDev.contains("has train.tsv but no dev.tsv"))
        let mnli = Self.errorText { _ = try GlueData.load(.mnli, from: TrainingFixtures.url("nodev")) }
        #expect(mnli.contains("no dev_matched.tsv"))
        let missing = Self.errorText { _ = try GlueData.load(.sst2, from: TrainingFixtures.url("no-such-folder")) }
        #expect(missing.contains("no-such-folder: no such file or folder"))
        let nothing = Self.errorText { _ = try GlueData.load(.cola, from: TrainingFixtures.url("tokenizer")) }
        #expect(nothing.contains("tokenizer: no train.tsv or train.jsonl; expected CoLA's GLUE folder with train.tsv, dev.tsv"))
        // A folder of another task's JSON Lines: the fields are wrong.
        let fields = Self.errorText { _ = try GlueData.load(.cola, from: TrainingFixtures.url("jsonl/qqp")) }
        #expect(fields.contains("qqp/train.jsonl:1: no \"sentence\" field; expected CoLA's fields: \"sentence\", \"label\""))
        let format = Self.errorText { _ = try GlueData.load(.cola, from: TrainingFixtures.url("metrics.json")) }
        #expect(format.contains("metrics.json: unknown extension"))
    }
}
