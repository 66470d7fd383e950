import Foundation
import GuidedCompute

/// A small generated language for `guided demo`: sentences from a fixed grammar over a closed
/// vocabulary, so a tiny BERT can be pretrained, analysed and fine-tuned in minutes with nothing
/// downloaded. The classification task is sentiment with negation: a sentence is positive when its
/// one evaluative adjective is positive, unless "not" precedes it — so the label depends on word
/// order, not only on which words occur.
public struct SyntheticLanguage: Sendable {
    static let determiners = ["the", "a", "this", "that", "every", "some"]
    static let nouns = ["cat", "dog", "house", "city", "river", "teacher", "student", "song", "book", "garden",
                        "market", "village", "child", "doctor", "letter", "window", "train", "bridge", "forest", "story"]
    static let verbs = ["saw", "found", "liked", "visited", "painted", "followed", "heard", "built", "opened", "remembered"]
    static let neutralAdjectives = ["old", "small", "large", "quiet", "red", "green", "distant", "new"]
    static let positive = ["good", "great", "happy", "lovely", "pleasant", "brilliant"]
    static let negative = ["bad", "awful", "sad", "terrible", "boring", "dreadful"]
    static let adverbs = ["today", "yesterday", "again", "slowly", "often"]
    static let copulas = ["was", "is", "seemed", "looked"]

    public init() {}

    /// Every word, for the WordPiece vocabulary (each is one token).
    public var words: [String] {
        Self.determiners + Self.nouns + Self.verbs + Self.neutralAdjectives + Self.positive + Self.negative
            + Self.adverbs + Self.copulas + ["not", "and", "."]
    }

    /// `vocab.txt` lines: BERT's special tokens, then the words.
    public var vocabulary: [String] { ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words }

    private func pick(_ list: [String], _ random: inout SplitMix64) -> String {
        list[Int(random.next(below: UInt64(list.count)))]
    }

    private func nounPhrase(_ random: inout SplitMix64) -> String {
        let adjective = random.next(below: 3) == 0 ? pick(Self.neutralAdjectives, &random) + " " : ""
        return "\(pick(Self.determiners, &random)) \(adjective)\(pick(Self.nouns, &random))"
    }

    /// A plain sentence (no evaluative adjective): pretraining text.
    public func sentence(_ random: inout SplitMix64) -> String {
        var s = "\(nounPhrase(&random)) \(pick(Self.verbs, &random)) \(nounPhrase(&random))"
        if random.next(below: 2) == 0 { s += " " + pick(Self.adverbs, &random) }
        return s + " ."
    }

    /// An evaluative sentence and its sentiment label (1 positive, 0 negative).
    public func evaluative(_ random: inout SplitMix64) -> (text: String, label: Float) {
        let positive = random.next(below: 2) == 0
        let negated = random.next(below: 3) == 0
        let adjective = pick(positive ? Self.positive : Self.negative, &random)
        var s = "\(nounPhrase(&random)) \(pick(Self.copulas, &random)) \(negated ? "not " : "")\(adjective)"
        if random.next(below: 2) == 0 { s += " and \(pick(Self.verbs, &random)) \(nounPhrase(&random))" }
        return (s + " .", positive != negated ? 1 : 0)
    }

    /// Pretraining documents of two to four sentences, plain and evaluative mixed.
    public func corpus(documents: Int, seed: UInt64) -> [String] {
        var random = SplitMix64(seed: seed)
        return (0..<documents).map { _ in
            (0..<(2 + Int(random.next(below: 3)))).map { _ in
                random.next(below: 2) == 0 ? sentence(&random) : evaluative(&random).text
            }.joined(separator: " ")
        }
    }

    /// The sentiment task as SST-2-shaped examples.
    public func sentimentTask(examples: Int, seed: UInt64) -> [GlueExample] {
        var random = SplitMix64(seed: seed)
        return (0..<examples).map { i in
            let (text, label) = evaluative(&random)
            return GlueExample(text: text, label: label, idx: i)
        }
    }
}
