// Twin of Sources/GuidedCompute/CPU/CPULayerNorm.swift. One work-group per row.

__kernel void layernorm_forward(__global const float* x, int xo, __global const float* gamma, int go,
                                __global const float* beta, int bo, __global float* y, int yo,
                                __global float* mean, int mo, __global float* rstd, int ro,
                                int rows, int columns, float eps, __local float* scratch) {
    const int r = get_group_id(0), l = get_local_id(0), size = get_local_size(0);
    if (r >= rows) return;
    __global const float* row = x + xo + r * columns;
    float s = 0.0f;
    for (int j = l; j < columns; j += size) s += row[j];
    const float mu = group_sum(s, scratch) / columns;
    float v = 0.0f;
    for (int j = l; j < columns; j += size) { const float d = row[j] - mu; v += d * d; }
    const float inv = rsqrt(group_sum(v, scratch) / columns + eps);
    for (int j = l; j < columns; j += size) {
        y[yo + r * columns + j] = (row[j] - mu) * inv * gamma[go + j] + beta[bo + j];
    }
    if (l == 0) { mean[mo + r] = mu; rstd[ro + r] = inv; }
}

// dx = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ∘ x̂)), dx̂ = dy ∘ γ.
__kernel void layernorm_backward_dx(__global const float* dy, int dyo, __global const float* x, int xo,
                                    __global const float* gamma, int go, __global const float* mean, int mo,
                                    __global const float* rstd, int ro, __global float* dx, int dxo,
                                    int rows, int columns, __local float* scratch) {
    const int r = get_group_id(0), l = get_local_id(0), size = get_local_size(0);
    if (r >= rows) return;
    const float mu = mean[mo + r], inv = rstd[ro + r];
    float sumD = 0.0f, sumDX = 0.0f;
    for (int j = l; j < columns; j += size) {
        const int i = r * columns + j;
        const float d = dy[dyo + i] * gamma[go + j];
        sumD += d;
        sumDX += d * (x[xo + i] - mu) * inv;
    }
    const float meanD = group_sum(sumD, scratch) / columns;
    const float meanDX = group_sum(sumDX, scratch) / columns;
    for (int j = l; j < columns; j += size) {
        const int i = r * columns + j;
        const float xhat = (x[xo + i] - mu) * inv;
        dx[dxo + i] = inv * (dy[dyo + i] * gamma[go + j] - meanD - xhat * meanDX);
    }
}

// One work-item per column, summing over rows in order: deterministic.
__kernel void layernorm_backward_params(__global const float* dy, int dyo, __global const float* x, int xo,
                                        __global const float* mean, int mo, __global const float* rstd, int ro,
                                        __global float* dgamma, int dgo, __global float* dbeta, int dbo,
                                        int rows, int columns) {
    const int j = get_global_id(0);
    if (j >= columns) return;
    float g = 0.0f, b = 0.0f;
    for (int r = 0; r < rows; r++) {
        const int i = r * columns + j;
        g += dy[dyo + i] * (x[xo + i] - mean[mo + r]) * rstd[ro + r];
        b += dy[dyo + i];
    }
    dgamma[dgo + j] += g;
    dbeta[dbo + j] += b;
}
