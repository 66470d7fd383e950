import Dispatch
import GuidedModel

/// Tokenizes examples as `tokenizer(text, pair, truncation=True, max_length=maxLength)` does: for
/// BERT each becomes `[CLS] text [SEP]` or `[CLS] text [SEP] pair [SEP]` (GPT-2: the texts' tokens,
/// no specials), cut longest-first to `maxLength` tokens, unpadded (batches pad; see `GlueBatches`). The work is spread over the cores; the result
/// is in `examples` order and does not depend on how it was spread.
public func encode(_ examples: [GlueExample], tokenizer: TextTokenizer, maxLength: Int) -> [Encoding] {
    let chunkSize = 256
    let chunkCount = (examples.count + chunkSize - 1) / chunkSize
    guard chunkCount > 1 else {
        return examples.map { tokenizer.encode($0.text, pair: $0.pair, maxLength: maxLength) }
    }
    var chunks = [[Encoding]](repeating: [], count: chunkCount)
    chunks.withUnsafeMutableBufferPointer { buffer in
        nonisolated(unsafe) let output = buffer
        DispatchQueue.concurrentPerform(iterations: chunkCount) { chunk in
            let range = (chunk * chunkSize)..<min((chunk + 1) * chunkSize, examples.count)
            // Each iteration writes only its own element.
            output[chunk] = examples[range].map { tokenizer.encode($0.text, pair: $0.pair, maxLength: maxLength) }
        }
    }
    return chunks.flatMap { $0 }
}

/// One padded batch, row-major `[batch, tokens]`, ready to become the model's input tensors.
public struct EncodedBatch: Sendable, Equatable {
    /// The number of examples.
    public var batch: Int
    /// Tokens per example: the longest encoding in the batch (dynamic padding).
    public var tokens: Int
    public var inputIds: [Int32]
    public var tokenTypeIds: [Int32]
    /// 1 for real tokens, 0 for padding.
    public var attentionMask: [Int32]
    /// One label per example (class id as a Float, STS-B score, or −1 for none).
    public var labels: [Float]
    /// The position of each example in the encodings the batches were made from, to put predictions
    /// back in place.
    public var indices: [Int]

    public init(
        batch: Int, tokens: Int, inputIds: [Int32], tokenTypeIds: [Int32], attentionMask: [Int32],
        labels: [Float], indices: [Int]
    ) {
        self.batch = batch
        self.tokens = tokens
        self.inputIds = inputIds
        self.tokenTypeIds = tokenTypeIds
        self.attentionMask = attentionMask
        self.labels = labels
        self.indices = indices
    }
}

/// Encodings cut into batches of `batchSize` in a given order, each padded on the right with `padId`
/// (type id 0, attention 0) to its own longest encoding, as `DataCollatorWithPadding` does. The last
/// batch holds what is left (no examples are dropped). Batches are built when accessed, so a long
/// epoch costs no memory up front, and batch k can be taken directly (to resume at a step).
public struct GlueBatches: RandomAccessCollection, Sendable {
    public let encodings: [Encoding]
    public let labels: [Float]
    /// The positions in `encodings`, in the order they are batched.
    public let order: [Int]
    public let batchSize: Int
    public let padId: Int32

    /// `order` defaults to `0..<encodings.count`; it may be any sequence of positions (a shuffle of an
    /// epoch, a subset). Errors: labels not one per encoding, a position out of range, a batch size
    /// below 1.
    public init(encodings: [Encoding], labels: [Float], order: [Int]? = nil, batchSize: Int, padId: Int32) throws {
        guard labels.count == encodings.count else {
            throw ModelError("batching: \(labels.count) labels for \(encodings.count) encodings; expected one each")
        }
        guard batchSize >= 1 else {
            throw ModelError("batching: batch size \(batchSize); expected at least 1")
        }
        let order = order ?? Array(encodings.indices)
        if let bad = order.first(where: { !encodings.indices.contains($0) }) {
            throw ModelError("batching: position \(bad) in the order, but there are \(encodings.count) encodings")
        }
        self.encodings = encodings
        self.labels = labels
        self.order = order
        self.batchSize = batchSize
        self.padId = padId
    }

    /// Batches of `examples` encoded as `encodings` (same order), with the examples' labels and the
    /// tokenizer's `[PAD]` id.
    public init(
        encodings: [Encoding], examples: [GlueExample], tokenizer: BertTokenizer, order: [Int]? = nil,
        batchSize: Int
    ) throws {
        guard examples.count == encodings.count else {
            throw ModelError("batching: \(examples.count) examples for \(encodings.count) encodings; expected one each")
        }
        try self.init(
            encodings: encodings, labels: examples.map(\.label), order: order, batchSize: batchSize,
            padId: tokenizer.padId)
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { (order.count + batchSize - 1) / batchSize }

    public subscript(position: Int) -> EncodedBatch {
        precondition(indices.contains(position), "batch \(position) of \(count)")
        let members = Array(order[(position * batchSize)..<Swift.min((position + 1) * batchSize, order.count)])
        let tokens = members.map { encodings[$0].count }.max() ?? 0
        let size = members.count * tokens
        var inputIds = [Int32](repeating: padId, count: size)
        var tokenTypeIds = [Int32](repeating: 0, count: size)
        var attentionMask = [Int32](repeating: 0, count: size)
        for (row, member) in members.enumerated() {
            let encoding = encodings[member]
            let start = row * tokens
            inputIds.replaceSubrange(start..<(start + encoding.count), with: encoding.inputIds)
            tokenTypeIds.replaceSubrange(start..<(start + encoding.count), with: encoding.tokenTypeIds)
            attentionMask.replaceSubrange(start..<(start + encoding.count), with: encoding.attentionMask)
        }
        return EncodedBatch(
            batch: members.count, tokens: tokens, inputIds: inputIds, tokenTypeIds: tokenTypeIds,
            attentionMask: attentionMask, labels: members.map { labels[$0] }, indices: members)
    }
}
