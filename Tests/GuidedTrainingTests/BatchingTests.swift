import Foundation
import GuidedModel
import Testing

@testable import GuidedTraining

/// Fixtures/tokenizer/ is the 400-token vocabulary of the tiny BERT test checkpoint (lower-cased):
/// [PAD] 0, [CLS] 2, [SEP] 3, `a` 43, `the` 109, `film` 240, `man` 255.
@Suite struct BatchingTests {
    static func tokenizer() throws -> BertTokenizer {
        try BertTokenizer(folder: TrainingFixtures.url("tokenizer"))
    }

    @Test func encodesSinglesAndPairs() throws {
        let tokenizer = try Self.tokenizer()
        let examples = [
            GlueExample(text: "The film", label: 1),
            GlueExample(text: "a man", pair: "the film", label: 0),
        ]
        let encodings = encode(examples, tokenizer: tokenizer, maxLength: 128)
        #expect(encodings[0].inputIds == [2, 109, 240, 3])
        #expect(encodings[0].tokenTypeIds == [0, 0, 0, 0])
        #expect(encodings[1].inputIds == [2, 43, 255, 3, 109, 240, 3])
        #expect(encodings[1].tokenTypeIds == [0, 0, 0, 0, 1, 1, 1])
        #expect(encodings[1].attentionMask == [1, 1, 1, 1, 1, 1, 1])
        // Longest-first truncation to the budget, special tokens included.
        let cut = encode([GlueExample(text: "the film the film the film", pair: "a man", label: 0)], tokenizer: tokenizer, maxLength: 6)
        #expect(cut[0].count == 6)
        #expect(cut[0].tokens.filter { $0 == "[SEP]" }.count == 2)
    }

    @Test func parallelEncodingKeepsTheOrder() throws {
        let tokenizer = try Self.tokenizer()
        let words = ["the", "film", "a", "man", "was", "good", "of", "and"]
        let examples = (0..<1000).map { index in
            GlueExample(
                text: (0..<(1 + index % 9)).map { words[($0 * 7 + index) % words.count] }.joined(separator: " "),
                pair: index % 3 == 0 ? nil : words[index % words.count],
                label: Float(index % 2), idx: index)
        }
        let encodings = encode(examples, tokenizer: tokenizer, maxLength: 8)
        #expect(encodings.count == examples.count)
        #expect(encodings == examples.map { tokenizer.encode($0.text, pair: $0.pair, maxLength: 8) })
        #expect(encodings.allSatisfy { $0.count <= 8 })
    }

    @Test func batchesPadToTheirLongestInTheGivenOrder() throws {
        let tokenizer = try Self.tokenizer()
        let examples = [
            GlueExample(text: "the", label: 0),
            GlueExample(text: "the film the film", label: 1),
            GlueExample(text: "a man", pair: "the", label: 1),
            GlueExample(text: "film", label: 0),
            GlueExample(text: "a", label: 1),
        ]
        let encodings = encode(examples, tokenizer: tokenizer, maxLength: 64)
        #expect(encodings.map(\.count) == [3, 6, 6, 3, 3])
        let batches = try GlueBatches(
            encodings: encodings, examples: examples, tokenizer: tokenizer, order: [4, 0, 3, 1, 2], batchSize: 2)
        #expect(batches.count == 3)

        let first = batches[0]
        #expect(first.batch == 2)
        #expect(first.tokens == 3)
        #expect(first.indices == [4, 0])
        #expect(first.inputIds == [2, 43, 3, 2, 109, 3])
        #expect(first.attentionMask == [1, 1, 1, 1, 1, 1])
        #expect(first.labels == [1, 0])

        let second = batches[1]
        #expect(second.tokens == 6)
        #expect(second.indices == [3, 1])
        // Row 0 ("film") padded with [PAD] = 0, type 0, attention 0.
        #expect(second.inputIds == [2, 240, 3, 0, 0, 0, 2, 109, 240, 109, 240, 3])
        #expect(second.tokenTypeIds == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        #expect(second.attentionMask == [1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1])
        #expect(second.labels == [0, 1])

        // The last batch holds the one example left, at its own length.
        let last = batches[2]
        #expect(last.batch == 1)
        #expect(last.tokens == 6)
        #expect(last.inputIds == [2, 43, 255, 3, 109, 3])
        #expect(last.tokenTypeIds == [0, 0, 0, 0, 1, 1])
        #expect(last.labels == [1])
        #expect(last.inputIds.count == last.batch * last.tokens)

        // Default order, batch size larger than the data: one batch of everything.
        let whole = try GlueBatches(encodings: encodings, labels: examples.map(\.label), batchSize: 8, padId: tokenizer.padId)
        #expect(whole.count == 1)
        #expect(whole[0].indices == [0, 1, 2, 3, 4])
        #expect(whole[0].tokens == 6)
        #expect(whole[0].attentionMask.reduce(0, +) == Int32(encodings.map(\.count).reduce(0, +)))
        #expect(Array(whole.map(\.batch)) == [5])
    }

    @Test func batchingErrors() throws {
        let encoding = Encoding(tokens: ["[CLS]", "[SEP]"], inputIds: [2, 3], tokenTypeIds: [0, 0], attentionMask: [1, 1])
        let mismatch = GlueTSVTests.errorText {
            _ = try GlueBatches(encodings: [encoding], labels: [0, 1], batchSize: 1, padId: 0)
        }
        #expect(mismatch.contains("2 labels for 1 encodings"))
        let size = GlueTSVTests.errorText {
            _ = try GlueBatches(encodings: [encoding], labels: [0], batchSize: 0, padId: 0)
        }
        #expect(size.contains("batch size 0"))
        let order = GlueTSVTests.errorText {
            _ = try GlueBatches(encodings: [encoding], labels: [0], order: [0, 1], batchSize: 1, padId: 0)
        }
        #expect(order.contains("position 1 in the order, but there are 1 encodings"))
        #expect(try GlueBatches(encodings: [], labels: [], batchSize: 4, padId: 0).isEmpty)
    }
}
