import Foundation
import GuidedCompute
import GuidedModel

/// One pretraining sample in the Hugging Face collator's form: unpadded ids, segment ids, mask,
/// and labels (the original id where a token is predicted, −100 elsewhere). For the masked LM the
/// ids are masked (`MLMMasker`); for the causal LM they are the text's (`init(causal:)`).
///
/// As JSON, `token_type_ids` is left out when all zero (what BERT assumes when it is absent, and what
/// GPT-2's collator writes), so a dump reads back into either model in `transformers` unchanged.
public struct MaskedSample: Sendable, Equatable, Codable {
    public var inputIds: [Int32]
    public var tokenTypeIds: [Int32]
    public var attentionMask: [Int32]
    public var labels: [Int32]

    public init(inputIds: [Int32], tokenTypeIds: [Int32], attentionMask: [Int32], labels: [Int32]) {
        self.inputIds = inputIds
        self.tokenTypeIds = tokenTypeIds
        self.attentionMask = attentionMask
        self.labels = labels
    }

    enum CodingKeys: String, CodingKey {
        case inputIds = "input_ids", tokenTypeIds = "token_type_ids", attentionMask = "attention_mask", labels
    }

    public var predicted: Int { labels.filter { $0 != -100 }.count }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inputIds = try c.decode([Int32].self, forKey: .inputIds)
        attentionMask = try c.decodeIfPresent([Int32].self, forKey: .attentionMask) ?? Array(repeating: 1, count: inputIds.count)
        tokenTypeIds = try c.decodeIfPresent([Int32].self, forKey: .tokenTypeIds) ?? Array(repeating: 0, count: inputIds.count)
        labels = try c.decode([Int32].self, forKey: .labels)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(inputIds, forKey: .inputIds)
        try c.encode(attentionMask, forKey: .attentionMask)
        if tokenTypeIds.contains(where: { $0 != 0 }) { try c.encode(tokenTypeIds, forKey: .tokenTypeIds) }
        try c.encode(labels, forKey: .labels)
    }
}

/// `DataCollatorForLanguageModeling`'s masking with `mlm_probability` 0.15: each non-special token
/// is selected with probability 0.15; a selected token becomes `[MASK]` with probability 0.8, a
/// uniformly random token id with 0.1, and stays with 0.1.
///
/// The draws come from Philox keyed by the run's seed at counter (token position, sample index,
/// 0, 2), so a sample's mask depends only on (seed, its global index): shards, resumed runs and
/// batch sizes all draw exactly the masks of one uninterrupted run.
public struct MLMMasker: Sendable {
    public let probability: Double
    public let seed: UInt64
    public let maskId: Int32
    public let vocabularySize: Int
    public let specialIds: Set<Int32>

    public init(tokenizer: BertTokenizer, seed: UInt64, probability: Double = 0.15) {
        self.probability = probability
        self.seed = seed
        maskId = tokenizer.maskId
        vocabularySize = tokenizer.vocabularySize
        specialIds = tokenizer.specialIds
    }

    public func mask(_ encoding: Encoding, sampleIndex: Int) -> MaskedSample {
        var ids = encoding.inputIds
        var labels = [Int32](repeating: -100, count: ids.count)
        let key = (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
        for t in ids.indices where !specialIds.contains(ids[t]) && encoding.attentionMask[t] == 1 {
            let w = Philox.block(counter: (UInt32(t), UInt32(truncatingIfNeeded: sampleIndex),
                                           UInt32(truncatingIfNeeded: sampleIndex >> 32), 2), key: key)
            guard unit(w.0) < probability else { continue }
            labels[t] = ids[t]
            let action = unit(w.1)
            if action < 0.8 {
                ids[t] = maskId
            } else if action < 0.9 {
                ids[t] = Int32(UInt64(w.2) * UInt64(vocabularySize) >> 32)
            }
        }
        return MaskedSample(inputIds: ids, tokenTypeIds: encoding.tokenTypeIds, attentionMask: encoding.attentionMask,
                            labels: labels)
    }

    private func unit(_ word: UInt32) -> Double { Double(word) / 4_294_967_296 }
}

extension Array where Element == MaskedSample {
    /// Shard `index` of `count`: every `count`-th sample starting at `index`. Masks depend on the
    /// global sample index, so the shards of a run together hold exactly its samples.
    public func shard(_ index: Int, of count: Int) -> [MaskedSample] {
        precondition(count >= 1 && index >= 0 && index < count, "shard \(index)/\(count)")
        return self.indices.filter { $0 % count == index }.map { self[$0] }
    }
}

extension TokenBatch {
    /// A batch of masked samples padded to the longest (dynamic padding), and its labels
    /// ([batch, tokens], −100 on padding) for a model's pretraining loss.
    public static func padded(_ samples: [MaskedSample], padId: Int32) -> (batch: TokenBatch, labels: [Int32]) {
        let tokens = samples.map(\.inputIds.count).max() ?? 1
        func pad(_ rows: [[Int32]], _ value: Int32) -> [Int32] {
            rows.flatMap { $0 + Array(repeating: value, count: tokens - $0.count) }
        }
        let batch = TokenBatch(batch: samples.count, tokens: tokens, inputIds: pad(samples.map(\.inputIds), padId),
                               tokenTypeIds: pad(samples.map(\.tokenTypeIds), 0),
                               attentionMask: pad(samples.map(\.attentionMask), 0))
        return (batch, pad(samples.map(\.labels), -100))
    }
}
