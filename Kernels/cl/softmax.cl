// Twin of Sources/GuidedCompute/CPU/CPUSoftmax.swift. One work-group per row.

// scores, probs: [batch, heads, tokens, tokens]; mask: [batch, tokens] additive (when has_mask).
__kernel void attention_softmax_forward(__global const float* scores, int so, __global const float* mask, int mko,
                                        int has_mask, __global float* probs, int po,
                                        int batch, int heads, int tokens, int causal, __local float* scratch) {
    const int r = get_group_id(0), l = get_local_id(0), size = get_local_size(0);
    if (r >= batch * heads * tokens) return;
    const int b = r / (heads * tokens), query = r % tokens;
    const int keys = causal ? query + 1 : tokens;
    __global const float* row = scores + so + r * tokens;
    __global float* out = probs + po + r * tokens;
    float m = -INFINITY;
    for (int j = l; j < keys; j += size) {
        const float s = row[j] + (has_mask ? mask[mko + b * tokens + j] : 0.0f);
        m = fmax(m, s);
    }
    m = group_max(m, scratch);
    if (m == -INFINITY) {
        for (int j = l; j < tokens; j += size) out[j] = 0.0f;
        return;
    }
    float total = 0.0f;
    for (int j = l; j < keys; j += size) {
        const float e = exp(row[j] + (has_mask ? mask[mko + b * tokens + j] : 0.0f) - m);
        out[j] = e;
        total += e;
    }
    total = group_sum(total, scratch);
    for (int j = l; j < tokens; j += size) out[j] = j < keys ? out[j] / total : 0.0f;
}

// dScores = P ∘ (dP − Σ_j P dP). dscores may alias dprobs: each item reads before it writes.
__kernel void softmax_backward(__global const float* probs, int po, __global const float* dprobs, int dpo,
                               __global float* dscores, int dso, int rows, int columns, __local float* scratch) {
    const int r = get_group_id(0), l = get_local_id(0), size = get_local_size(0);
    if (r >= rows) return;
    float dot = 0.0f;
    for (int j = l; j < columns; j += size) dot += probs[po + r * columns + j] * dprobs[dpo + r * columns + j];
    dot = group_sum(dot, scratch);
    for (int j = l; j < columns; j += size) {
        const int i = r * columns + j;
        dscores[dso + i] = probs[po + i] * (dprobs[dpo + i] - dot);
    }
}

__kernel void softmax_cross_entropy(__global const float* logits, int lo, __global const int* labels, int lbo,
                                    __global const float* weights, int wo, __global float* losses, int lso,
                                    __global float* dlogits, int dlo, int rows, int classes, __local float* scratch) {
    const int r = get_group_id(0), l = get_local_id(0), size = get_local_size(0);
    if (r >= rows) return;
    const int target = labels[lbo + r];
    __global const float* row = logits + lo + r * classes;
    __global float* grad = dlogits + dlo + r * classes;
    if (target < 0) {
        for (int j = l; j < classes; j += size) grad[j] = 0.0f;
        if (l == 0) losses[lso + r] = 0.0f;
        return;
    }
    float m = -INFINITY;
    for (int j = l; j < classes; j += size) m = fmax(m, row[j]);
    m = group_max(m, scratch);
    float total = 0.0f;
    for (int j = l; j < classes; j += size) total += exp(row[j] - m);
    const float logTotal = log(group_sum(total, scratch));
    const float w = weights[wo + r];
    for (int j = l; j < classes; j += size) {
        const float p = exp(row[j] - m - logTotal);
        grad[j] = w * (p - (j == target ? 1.0f : 0.0f));
    }
    if (l == 0) losses[lso + r] = logTotal - (row[target] - m);
}
