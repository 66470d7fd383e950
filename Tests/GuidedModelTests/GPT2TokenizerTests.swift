import Foundation
import Testing

@testable import GuidedModel

// Reference data: tools/make_gpt2_tokenizer_fixture.py trains a small byte-level BPE (1000 tokens,
// GPT-2's alphabet and pre-tokenization) with `tokenizers` and records what the slow Python GPT-2
// tokenizer (transformers 4.x's `GPT2Tokenizer`) gives for each case in
// Fixtures/gpt2-tokenizer/golden.json, with the Rust-backed `transformers.GPT2Tokenizer` (5.23) under
// `fast` where it answers otherwise. They agree on every plain text; they differ (and this tokenizer
// follows the slow one) on:
//   - add_prefix_space: slow puts a space before the whole text, always; fast before each stretch
//     between special tokens, and not when it already starts with a space (nor before an empty text).
//   - longest-first truncation of a pair: slow removes one token at a time from the longer text (the
//     second on ties); fast splits the budget, and a max_length below 2 keeps a token of each.

// MARK: - Fixtures

private enum GPT2Fixture {
    static func url(_ path: String) throws -> URL {
        try #require(
            Bundle.module.url(forResource: "Fixtures/gpt2-tokenizer/" + path, withExtension: nil),
            "missing fixture Fixtures/gpt2-tokenizer/\(path)")
    }

    static func tokenizer(addPrefixSpace: Bool = false) throws -> GPT2Tokenizer {
        var config = GPT2TokenizerConfig()
        config.addPrefixSpace = addPrefixSpace
        return try GPT2Tokenizer(vocabURL: url("vocab.json"), mergesURL: url("merges.txt"), config: config)
    }

    static func golden() throws -> GPT2Golden {
        try JSONDecoder().decode(GPT2Golden.self, from: Data(contentsOf: url("golden.json")))
    }
}

private struct GPT2Golden: Decodable {
    let vocab_size: Int
    let cases: [GPT2GoldenCase]
}

private struct GPT2GoldenCase: Decodable {
    let text: String
    let pair: String?
    let max_length: Int?
    let add_prefix_space: Bool?
    let tokens: [String]
    let input_ids: [Int32]
    let decoded: String

    var label: String {
        var label = text.unicodeScalars.map { $0.escaped(asASCII: true) }.joined().prefix(80)
        if let pair { label += " | pair \(pair.unicodeScalars.map { $0.escaped(asASCII: true) }.joined())" }
        if let max_length { label += " | max_length \(max_length)" }
        if add_prefix_space == true { label += " | add_prefix_space" }
        return String(label)
    }
}

private func temporaryFolder(_ files: [String: String]) throws -> URL {
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("gpt2-tokenizer-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    for (name, content) in files {
        try Data(content.utf8).write(to: folder.appendingPathComponent(name))
    }
    return folder
}

/// The error message `body` throws, or nil.
private func errorMessage(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return String(describing: error)
    }
}

// MARK: - Golden

@Suite struct GPT2TokenizerGoldenTests {
    @Test func everyGoldenCaseMatchesTheReference() throws {
        let golden = try GPT2Fixture.golden()
        let plain = try GPT2Fixture.tokenizer()
        let prefixed = try GPT2Fixture.tokenizer(addPrefixSpace: true)
        #expect(plain.vocabularySize == golden.vocab_size)
        #expect(golden.cases.count >= 70)
        for item in golden.cases {
            let tokenizer = item.add_prefix_space == true ? prefixed : plain
            let encoding = tokenizer.encode(item.text, pair: item.pair, maxLength: item.max_length)
            #expect(encoding.inputIds == item.input_ids, "\(item.label)")
            #expect(encoding.tokens == item.tokens, "\(item.label)")
            #expect(encoding.attentionMask == [Int32](repeating: 1, count: item.input_ids.count))
            #expect(encoding.tokenTypeIds == [Int32](repeating: 0, count: item.input_ids.count))
            #expect(tokenizer.decode(encoding.inputIds) == item.decoded, "\(item.label)")
            if item.pair == nil && item.max_length == nil {
                #expect(tokenizer.tokens(of: item.text) == item.tokens, "\(item.label)")
            }
        }
    }

    @Test func roundTripsEveryGoldenTextAndMore() throws {
        let tokenizer = try GPT2Fixture.tokenizer()
        var texts = try GPT2Fixture.golden().cases.map(\.text)
        texts += ["\u{10FFFF}\u{E0001}\u{1F3F4}\u{E0067}\u{E0062}\u{E007F}", "a\r\n\r\n  b \u{0}", String(repeating: "ab'", count: 200)]
        for text in texts {
            #expect(tokenizer.decode(tokenizer.ids(of: text)) == text)
        }
    }

    @Test func decodingAPartialCharacterGivesReplacementCharacters() throws {
        let tokenizer = try GPT2Fixture.tokenizer()
        let ids = tokenizer.ids(of: "😀")  // four bytes, one token each in this small vocabulary
        #expect(ids.count > 1)
        #expect(tokenizer.decode(Array(ids.dropLast())) == "\u{FFFD}")
        #expect(tokenizer.decode([ids.last!]) == "\u{FFFD}")
        #expect(tokenizer.decode(tokenizer.ids(of: "a<|endoftext|>b"), skipSpecialTokens: true) == "ab")
    }

    @Test func specialTokensAndIds() throws {
        let tokenizer = try GPT2Fixture.tokenizer()
        #expect(tokenizer.eosId == 0 && tokenizer.bosId == 0 && tokenizer.unkId == 0)
        #expect(tokenizer.padId == nil)
        #expect(tokenizer.id(of: "<|endoftext|>") == 0)
        #expect(tokenizer.token(of: 0) == "<|endoftext|>")
        #expect(tokenizer.id(of: "Ġ") == 221)
        #expect(throws: ModelError.self) { try tokenizer.pad(tokenizer.encode("a"), to: 4) }
    }
}

// MARK: - Pre-tokenization and alphabet

@Suite struct GPT2PreTokenizerTests {
    private func pieces(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        return GPT2PreTokenizer.split(scalars).map { String(String.UnicodeScalarView(scalars[$0])) }
    }

    @Test func followsThePattern() {
        #expect(pieces("a   b") == ["a", "  ", " b"])
        #expect(pieces("a \tb") == ["a", " ", "\t", "b"])
        #expect(pieces("\tb  \n") == ["\t", "b", "  \n"])
        #expect(pieces("end  ") == ["end", "  "])
        #expect(pieces("it's IT'S 'll'LL") == ["it", "'s", " IT", "'", "S", " '", "ll", "'", "LL"])
        #expect(pieces("x''s") == ["x", "''", "s"])
        #expect(pieces("abc123 !!?") == ["abc", "123", " !!?"])
        #expect(pieces("") == [])
    }

    /// Letters, numbers and whitespace as Python `regex` has them, swept over every code point.
    /// `regex` 2026.11 knows Unicode 17, Swift 6.3's standard library an older version: the code points
    /// assigned since (about 12,800 letters and numbers) are "other" here and letters or numbers there.
    /// Every other code point must agree.
    @Test func classesMatchPythonRegexOverAllOfUnicode() throws {
        struct Classes: Decodable {
            let whitespace: [UInt32]
            let letter: [UInt32]
            let number: [UInt32]
        }
        let classes = try JSONDecoder().decode(
            Classes.self, from: Data(contentsOf: GPT2Fixture.url("unicode_classes.json")))
        var mismatches: [String] = []
        var newer = 0
        for value in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let expected: GPT2PreTokenizer.Kind =
                BertCharacterClass.contains(classes.letter, value) ? .letter
                : BertCharacterClass.contains(classes.number, value) ? .number
                : BertCharacterClass.contains(classes.whitespace, value) ? .whitespace : .other
            let actual = GPT2PreTokenizer.kind(of: scalar)
            guard actual != expected else { continue }
            if actual == .other && scalar.properties.generalCategory == .unassigned {
                newer += 1
            } else {
                mismatches.append(String(format: "U+%04X %@ (Swift) vs %@ (regex)", value, "\(actual)", "\(expected)"))
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) code points: \(mismatches.prefix(40).joined(separator: ", "))")
        #expect(newer < 20_000, "\(newer) code points unassigned in Swift are letters or numbers for regex")
    }

    @Test func alphabetIsABijectionOnBytes() {
        let scalars = ByteLevelAlphabet.scalarOfByte
        #expect(Set(scalars).count == 256)
        #expect(scalars[0x20] == "Ġ" && scalars[0x0A] == "Ċ" && scalars[0x41] == "A" && scalars[0xAD] == "Ń")
        for byte in 0..<256 { #expect(ByteLevelAlphabet.byte(of: scalars[byte]) == UInt8(byte)) }
        #expect(ByteLevelAlphabet.byte(of: " ") == nil)
        #expect(ByteLevelAlphabet.byte(of: "中") == nil)
    }
}

// MARK: - Truncation and pairs

@Suite struct GPT2TruncationTests {
    @Test func truncatesSingleTextsToMaxLength() throws {
        let tokenizer = try GPT2Fixture.tokenizer()
        let text = "This program is free software: you can redistribute it."
        let all = tokenizer.ids(of: text)
        for maxLength in [0, 1, 5, all.count, all.count + 3] {
            let encoding = tokenizer.encode(text, maxLength: maxLength)
            #expect(encoding.inputIds == Array(all.prefix(maxLength)))
            #expect(encoding.count == encoding.attentionMask.count)
        }
        let pair = tokenizer.encode(text, pair: "Second text here.", maxLength: 10)
        #expect(pair.count == 10)
    }

    @Test func addsBosWhenConfigured() throws {
        var config = GPT2TokenizerConfig()
        config.addBosToken = true
        let tokenizer = try GPT2Tokenizer(
            vocabURL: GPT2Fixture.url("vocab.json"), mergesURL: GPT2Fixture.url("merges.txt"), config: config)
        let a = tokenizer.ids(of: "a")
        let b = tokenizer.ids(of: "b")
        #expect(tokenizer.encode("a", pair: "b").inputIds == [0] + a + [0] + b)
        #expect(tokenizer.encode("abc def", maxLength: 2).inputIds.first == 0)
    }
}

// MARK: - Errors

@Suite struct GPT2TokenizerErrorTests {
    private let vocab = #"{"<|endoftext|>": 0, "a": 1, "b": 2, "ab": 3, "Ġ": 4}"#

    @Test func missingFilesAreNamed() throws {
        let noMerges = try temporaryFolder(["vocab.json": vocab])
        #expect(errorMessage { _ = try GPT2Tokenizer(folder: noMerges) }?.contains("no merges.txt") == true)
        let noVocab = try temporaryFolder(["merges.txt": "#version: 0.2\na b\n"])
        #expect(errorMessage { _ = try GPT2Tokenizer(folder: noVocab) }?.contains("no vocab.json") == true)
    }

    @Test func invalidJSONNamesTheFile() throws {
        let folder = try temporaryFolder(["vocab.json": "{\"a\": 1,", "merges.txt": "#version: 0.2\n"])
        let message = errorMessage { _ = try GPT2Tokenizer(folder: folder) }
        #expect(message?.contains("vocab.json: not valid JSON") == true, "\(message ?? "")")
        let list = try temporaryFolder(["vocab.json": "[1, 2]", "merges.txt": ""])
        #expect(errorMessage { _ = try GPT2Tokenizer(folder: list) }?.contains("vocab.json: expected a JSON object") == true)
        let badId = try temporaryFolder(["vocab.json": #"{"a": "one"}"#, "merges.txt": ""])
        #expect(errorMessage { _ = try GPT2Tokenizer(folder: badId) }?.contains("non-negative integer") == true)
        let config = try temporaryFolder(["vocab.json": vocab, "merges.txt": "", "tokenizer_config.json": "{oops"])
        #expect(errorMessage { _ = try GPT2Tokenizer(folder: config) }?.contains("tokenizer_config.json: not valid JSON") == true)
    }

    @Test func malformedMergeLinesAreNamedByLine() throws {
        for line in ["a", "a b c", "a  b", " a"] {
            let folder = try temporaryFolder(["vocab.json": vocab, "merges.txt": "#version: 0.2\na b\n\(line)\n"])
            let message = errorMessage { _ = try GPT2Tokenizer(folder: folder) }
            #expect(message?.contains("merges.txt line 3: expected two tokens") == true, "\(message ?? "")")
        }
    }

    @Test func mergesOutsideTheVocabularyAreErrors() throws {
        // The Rust tokenizer refuses these ("Token `ba` out of vocabulary"), as it refuses a merges line
        // that is not two tokens; the slow Python one would map the merged token to <|endoftext|>.
        let folder = try temporaryFolder(["vocab.json": vocab, "merges.txt": "#version: 0.2\na b\nb a\n"])
        let message = errorMessage { _ = try GPT2Tokenizer(folder: folder) }
        #expect(message?.contains("merges.txt line 3: \"ba\" is not in vocab.json") == true, "\(message ?? "")")
        let part = try temporaryFolder(["vocab.json": vocab, "merges.txt": "c a\n"])
        #expect(errorMessage { _ = try GPT2Tokenizer(folder: part) }?.contains("line 1: \"c\" is not in") == true)
    }

    @Test func aTinyModelMergesByRank() throws {
        let folder = try temporaryFolder([
            "vocab.json": vocab,
            "merges.txt": "#version: 0.2\r\na b\r\n",
            "special_tokens_map.json": #"{"pad_token": {"content": "<|endoftext|>"}}"#,
        ])
        let tokenizer = try GPT2Tokenizer(folder: folder)
        #expect(tokenizer.tokens(of: "abab a") == ["ab", "ab", "Ġ", "a"])
        // A byte the vocabulary lacks becomes the unknown token, as in the slow tokenizer.
        #expect(tokenizer.ids(of: "ac") == [1, 0])
        #expect(tokenizer.padId == 0)
        #expect(try tokenizer.pad(tokenizer.encode("ab"), to: 3).inputIds == [3, 0, 0])
    }
}

// MARK: - GPT-2's own vocabulary (opt-in)

/// GPT-2's own vocab.json and merges.txt are 1.25 MB, too large for the repository; with
/// `GUIDED_GPT2_TOKENIZER` naming a folder that holds them (openai-whisper 20230124's sdist ships
/// them as whisper/assets/gpt2/), the plain golden texts are checked against the ids the reference
/// gives on them (Fixtures/gpt2-tokenizer/golden-real.json).
@Suite struct GPT2RealVocabularyTests {
    private struct RealGolden: Decodable {
        struct Case: Decodable {
            let text: String
            let input_ids: [Int32]
        }
        let vocab_size: Int
        let cases: [Case]
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["GUIDED_GPT2_TOKENIZER"] != nil))
    func matchesTheReferenceOnGPT2sVocabulary() throws {
        let folder = URL(fileURLWithPath: ProcessInfo.processInfo.environment["GUIDED_GPT2_TOKENIZER"]!)
        let tokenizer = try GPT2Tokenizer(folder: folder)
        let golden = try JSONDecoder().decode(
            RealGolden.self, from: Data(contentsOf: GPT2Fixture.url("golden-real.json")))
        #expect(tokenizer.vocabularySize == golden.vocab_size)
        #expect(tokenizer.modelMaxLength == 1024)
        for item in golden.cases {
            let ids = tokenizer.ids(of: item.text)
            #expect(ids == item.input_ids, "\(item.text.unicodeScalars.map { $0.escaped(asASCII: true) }.joined().prefix(80))")
            #expect(tokenizer.decode(ids) == item.text)
        }
    }
}

/// A checkpoint folder's files decide which tokenizer `guided tokenize` (and later commands) use.
@Test func theFolderDecidesTheTokenizer() throws {
    let gpt2 = try #require(Bundle.module.url(forResource: "Fixtures/gpt2-tokenizer", withExtension: nil))
    #expect(try tokenizer(inFolder: gpt2) is GPT2Tokenizer)
    let bert = try #require(Bundle.module.url(forResource: "Fixtures/tiny-bert", withExtension: nil))
    #expect(try tokenizer(inFolder: bert) is BertTokenizer)
    let empty = FileManager.default.temporaryDirectory.appendingPathComponent("guided-empty-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: empty) }
    let error = #expect(throws: ModelError.self) { try tokenizer(inFolder: empty) }
    #expect(error?.description.contains("vocab.json and merges.txt") == true)
}
