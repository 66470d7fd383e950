/// A tokenized input, ready for a BERT model: the four arrays have the same length.
public struct Encoding: Sendable, Equatable {
    /// Token text, special tokens included (`[CLS]`, `[SEP]`, `[PAD]`).
    public var tokens: [String]
    public var inputIds: [Int32]
    /// Segment ids: 0 for `[CLS]`, the first text and its `[SEP]`; 1 for the second text and its
    /// `[SEP]`; 0 for padding.
    public var tokenTypeIds: [Int32]
    /// 1 for real tokens, 0 for padding.
    public var attentionMask: [Int32]

    public init(tokens: [String], inputIds: [Int32], tokenTypeIds: [Int32], attentionMask: [Int32]) {
        self.tokens = tokens
        self.inputIds = inputIds
        self.tokenTypeIds = tokenTypeIds
        self.attentionMask = attentionMask
    }

    /// The number of tokens.
    public var count: Int { inputIds.count }

    /// This encoding with `padToken`/`padId` appended up to `length` (type id 0, attention 0), as
    /// `transformers` pads on the right. An encoding already that long or longer is returned as it is.
    public func padded(to length: Int, padToken: String, padId: Int32) -> Encoding {
        let missing = length - count
        guard missing > 0 else { return self }
        var result = self
        result.tokens += repeatElement(padToken, count: missing)
        result.inputIds += repeatElement(padId, count: missing)
        result.tokenTypeIds += repeatElement(0, count: missing)
        result.attentionMask += repeatElement(0, count: missing)
        return result
    }
}
