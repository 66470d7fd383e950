import Foundation
import GuidedCompute
import GuidedModel
import Testing

@testable import GuidedTraining

@Suite struct SplitTests {
    /// Examples 0..<count, labeled by their number, to follow them through a split.
    static func numbered(_ count: Int, from start: Int = 0) -> [GlueExample] {
        (start..<(start + count)).map { GlueExample(text: "example \($0)", label: Float($0 % 2), idx: $0) }
    }

    static func data(train: Int, validation: Int, task: GlueTask = .rte) -> GlueData {
        GlueData(
            task: task, train: numbered(train),
            validation: [GlueSplit(name: "validation", examples: numbered(validation, from: train))])
    }

    @Test func splitMix64ReferenceValues() {
        // Vigna's splitmix64.c seeded with 1234567, and with 0.
        var generator = SplitMix64(seed: 1_234_567)
        #expect((0..<5).map { _ in generator.next() } == [
            6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423,
            4_593_380_528_125_082_431, 16_408_922_859_458_223_821,
        ])
        var zero = SplitMix64(seed: 0)
        #expect(zero.next() == 0xE220_A839_7B1D_CDAF)
        var bounded = SplitMix64(seed: 9)
        #expect((0..<1000).allSatisfy { _ in bounded.next(below: 7) < 7 })
    }

    @Test func permutationMatchesThePythonReference() {
        // From the Python procedure documented in Splits.swift.
        #expect(SeededShuffle.permutation(count: 10, seed: 42) == [0, 9, 5, 8, 6, 4, 7, 2, 1, 3])
        #expect(SeededShuffle.permutation(count: 10, seed: 7) == [8, 1, 5, 9, 0, 4, 3, 2, 6, 7])
        #expect(SeededShuffle.permutation(count: 25, seed: .max) == [
            1, 7, 19, 22, 13, 23, 5, 17, 14, 6, 24, 10, 0, 3, 18, 12, 16, 2, 4, 20, 15, 8, 21, 9, 11,
        ])
        #expect(SeededShuffle.permutation(count: 0, seed: 1).isEmpty)
        #expect(SeededShuffle.permutation(count: 1, seed: 1) == [0])
        #expect(SeededShuffle.shuffled(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"], seed: 42).first == "a")
        #expect(SeededShuffle.shuffled(Array(0..<10), seed: 42) == [0, 9, 5, 8, 6, 4, 7, 2, 1, 3])
    }

    @Test func restartSplitIsDeterministicAndPoolsBothSplits() throws {
        let data = Self.data(train: 40, validation: 13)
        let first = try data.restartSplit(seed: 3)
        let again = try data.restartSplit(seed: 3)
        #expect(first == again)
        // 53 pooled: ⌈53/5⌉ = 11 validation, 42 train.
        #expect(first.train.count == 42)
        #expect(first.fullTrainCount == 42)
        #expect(first.validation.map(\.name) == ["validation"])
        #expect(first.validation[0].examples.count == 11)
        let all = (first.train + first.validation[0].examples).map(\.idx)
        #expect(all.sorted() == Array(0..<53))
        #expect(all == SeededShuffle.permutation(count: 53, seed: 3))
        // Examples of the official validation set can land in training and the other way round.
        #expect(first.train.contains { $0.idx >= 40 })
        #expect(first.validation[0].examples.contains { $0.idx < 40 })

        let other = try data.restartSplit(seed: 4)
        #expect(other.train.map(\.idx) != first.train.map(\.idx))
        #expect(Set(other.validation[0].examples.map(\.idx)) != Set(first.validation[0].examples.map(\.idx)))
    }

    @Test(arguments: [(2, 1, 1), (5, 4, 1), (6, 4, 2), (10, 8, 2), (11, 8, 3), (100, 80, 20), (101, 80, 21)])
    func eightyTwentySizes(pool: Int, train: Int, validation: Int) throws {
        let split = try Self.data(train: pool - pool / 3, validation: pool / 3).restartSplit(seed: 1)
        #expect(split.train.count == train)
        #expect(split.validation[0].examples.count == validation)
    }

    @Test func mnliKeepsItsOfficialValidationSets() throws {
        let matched = GlueSplit(name: "validation_matched", examples: Self.numbered(5, from: 100))
        let mismatched = GlueSplit(name: "validation_mismatched", examples: Self.numbered(4, from: 200))
        let data = GlueData(task: .mnli, train: Self.numbered(30), validation: [matched, mismatched])
        let split = try data.restartSplit(seed: 11)
        #expect(split.validation == [matched, mismatched])
        #expect(split.train.count == 30)
        #expect(split.fullTrainCount == 30)
        #expect(split.train.map(\.idx) == SeededShuffle.permutation(count: 30, seed: 11))
        let half = try data.restartSplit(seed: 11, trainFraction: 0.5)
        #expect(half.train == Array(split.train.prefix(15)))
        #expect(half.validation == [matched, mismatched])

        let single = GlueData(task: .mnli, train: Self.numbered(30), validation: [])
        #expect(GlueTSVTests.errorText { _ = try single.restartSplit(seed: 1) }.contains("MNLI keeps its official"))
    }

    @Test func paucityKeepsAPrefixOfTheShuffledTraining() throws {
        let data = Self.data(train: 80, validation: 20)
        let full = try data.restartSplit(seed: 5)
        for fraction in [0.01, 0.1, 0.25, 0.29, 0.5, 1.0] {
            let reduced = try data.restartSplit(seed: 5, trainFraction: fraction)
            #expect(reduced.train == Array(full.train.prefix(reduced.train.count)))
            #expect(reduced.validation == full.validation)
            #expect(reduced.fullTrainCount == 80)
            #expect(reduced.trainFraction == fraction)
        }
        #expect(try data.restartSplit(seed: 5, trainFraction: 0.29).train.count == 23)
        #expect(try data.restartSplit(seed: 5, trainFraction: 0.001).train.count == 1)
    }

    @Test func paucityCounts() throws {
        #expect(try paucityCount(fraction: 0.29, of: 100) == 29)
        #expect(try paucityCount(fraction: 0.1, of: 8551) == 855)
        #expect(try paucityCount(fraction: 0.7, of: 10) == 7)
        #expect(try paucityCount(fraction: 0.3, of: 10) == 3)
        #expect(try paucityCount(fraction: 1, of: 7) == 7)
        #expect(try paucityCount(fraction: 0.999, of: 7) == 6)
        #expect(try paucityCount(fraction: 1e-9, of: 7) == 1)
        for fraction in [0, -0.5, 1.0001, .nan, .infinity] {
            let message = GlueTSVTests.errorText { _ = try paucityCount(fraction: fraction, of: 10) }
            #expect(message.contains("expected a number in (0, 1]"))
        }
        #expect(throws: ModelError.self) { try paucityCount(fraction: 0.5, of: 0) }
        #expect(throws: ModelError.self) { try Self.data(train: 1, validation: 0).restartSplit(seed: 1) }
        #expect(throws: ModelError.self) { try Self.data(train: 10, validation: 5).restartSplit(seed: 1, trainFraction: 0) }
    }

    @Test func splitOfRealFixtureFiles() throws {
        let data = try GlueData.load(.wnli, from: TrainingFixtures.url("glue/WNLI"))
        let split = try data.restartSplit(seed: 2024)
        // 6 pooled: ⌈6/5⌉ = 2 for validation, 4 for training; every example is there once.
        #expect(split.train.count == 4)
        #expect(split.validation[0].examples.count == 2)
        let texts = (split.train + split.validation[0].examples).map(\.text)
        #expect(texts.sorted() == (data.train + data.validation[0].examples).map(\.text).sorted())
    }
}
