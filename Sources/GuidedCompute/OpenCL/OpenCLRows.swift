// Kernels of Kernels/cl/layernorm.cl and softmax.cl: one work-group of `rowGroupSize` per row.
extension OpenCLBackend {
    private var rowScratch: Argument { .local(bytes: rowGroupSize * 4) }

    private func perRow(_ rows: Int) -> (global: [Int], local: [Int]) {
        ([rows * rowGroupSize], [rowGroupSize])
    }

    public func layerNormForward(_ x: Tensor, gamma: Tensor, beta: Tensor, into y: Tensor,
                                 mean: Tensor, rstd: Tensor, rows: Int, columns: Int, eps: Float) throws {
        precondition(x.count == rows * columns && y.count == x.count && gamma.count == columns
                     && beta.count == columns && mean.count == rows && rstd.count == rows,
                     "layerNormForward: shape mismatch")
        let size = perRow(rows)
        try launch("layernorm_forward", global: size.global, local: size.local,
                   [.tensor(x), .tensor(gamma), .tensor(beta), .tensor(y), .tensor(mean), .tensor(rstd),
                    .int(rows), .int(columns), .float(eps), rowScratch])
    }

    public func layerNormBackward(_ dy: Tensor, x: Tensor, gamma: Tensor, mean: Tensor, rstd: Tensor,
                                  dx: Tensor, dGamma: Tensor, dBeta: Tensor, rows: Int, columns: Int) throws {
        precondition(dy.count == rows * columns && x.count == dy.count && dx.count == dy.count
                     && gamma.count == columns && dGamma.count == columns && dBeta.count == columns
                     && mean.count == rows && rstd.count == rows, "layerNormBackward: shape mismatch")
        // The parameter sums read dy before dx is written, in case the caller reuses dy's memory for dx.
        try launch("layernorm_backward_params", global: [columns],
                   [.tensor(dy), .tensor(x), .tensor(mean), .tensor(rstd), .tensor(dGamma), .tensor(dBeta),
                    .int(rows), .int(columns)])
        let size = perRow(rows)
        try launch("layernorm_backward_dx", global: size.global, local: size.local,
                   [.tensor(dy), .tensor(x), .tensor(gamma), .tensor(mean), .tensor(rstd), .tensor(dx),
                    .int(rows), .int(columns), rowScratch])
    }

    public func attentionSoftmaxForward(_ scores: Tensor, mask: Tensor?, into probs: Tensor,
                                        batch: Int, heads: Int, tokens: Int, causal: Bool) throws {
        let rows = batch * heads * tokens
        precondition(scores.count == rows * tokens && probs.count == scores.count
                     && (mask == nil || mask!.count == batch * tokens), "attentionSoftmaxForward: shape mismatch")
        let size = perRow(rows)
        try launch("attention_softmax_forward", global: size.global, local: size.local,
                   [.tensor(scores), .tensor(mask ?? scores), .int(mask == nil ? 0 : 1), .tensor(probs),
                    .int(batch), .int(heads), .int(tokens), .int(causal ? 1 : 0), rowScratch])
    }

    public func softmaxBackward(_ probs: Tensor, _ dProbs: Tensor, into dScores: Tensor,
                                rows: Int, columns: Int) throws {
        precondition(probs.count == rows * columns && dProbs.count == probs.count && dScores.count == probs.count,
                     "softmaxBackward: shape mismatch")
        let size = perRow(rows)
        try launch("softmax_backward", global: size.global, local: size.local,
                   [.tensor(probs), .tensor(dProbs), .tensor(dScores), .int(rows), .int(columns), rowScratch])
    }

    public func softmaxCrossEntropy(_ logits: Tensor, labels: Tensor, weights: Tensor,
                                    losses: Tensor, dLogits: Tensor, rows: Int, classes: Int) throws {
        precondition(logits.count == rows * classes && dLogits.count == logits.count && labels.count == rows
                     && weights.count == rows && losses.count == rows, "softmaxCrossEntropy: shape mismatch")
        let size = perRow(rows)
        try launch("softmax_cross_entropy", global: size.global, local: size.local,
                   [.tensor(logits), .tensor(labels), .tensor(weights), .tensor(losses), .tensor(dLogits),
                    .int(rows), .int(classes), rowScratch])
    }
}
