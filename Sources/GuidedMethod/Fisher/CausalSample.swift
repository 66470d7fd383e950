import GuidedModel

extension MaskedSample {
    /// A causal-LM sample in the form `DataCollatorForLanguageModeling(mlm=False)` writes: labels are
    /// the ids (the model shifts them: position t is scored on token t+1), −100 at padding. The first
    /// token's label is −100 too: no position predicts it, so `predicted` counts exactly the scored
    /// tokens, and the loss in `transformers` is the same either way.
    public init(causal encoding: Encoding) {
        var labels = zip(encoding.inputIds, encoding.attentionMask).map { $1 == 1 ? $0 : -100 }
        if !labels.isEmpty { labels[0] = -100 }
        self.init(inputIds: encoding.inputIds, tokenTypeIds: Array(repeating: 0, count: encoding.inputIds.count),
                  attentionMask: encoding.attentionMask, labels: labels)
    }
}
