// Twin of Sources/GuidedCompute/CPU/CPUFisher.swift: per-sample gradient squaring.

// fisher[j] += Σ_n g[n, j]²
__kernel void accumulate_squared_sum(__global const float* g, int go, __global float* fisher, int fo,
                                     int batch, int width) {
    const int j = get_global_id(0);
    if (j >= width) return;
    float s = 0.0f;
    for (int n = 0; n < batch; n++) { const float v = g[go + n * width + j]; s += v * v; }
    fisher[fo + j] += s;
}

// out[n, j] = Σ_t x[n, t, j]
__kernel void sum_over_tokens(__global const float* x, int xo, __global float* out, int oo,
                              int batch, int tokens, int width) {
    const int i = get_global_id(0);
    if (i >= batch * width) return;
    const int n = i / width, j = i % width;
    float s = 0.0f;
    for (int t = 0; t < tokens; t++) s += x[xo + (n * tokens + t) * width + j];
    out[oo + i] = s;
}

// out[n, j] = Σ_t dy[n, t, j] · (x[n, t, j] − mean[n, t]) · rstd[n, t]
__kernel void layernorm_gamma_per_sample(__global const float* dy, int dyo, __global const float* x, int xo,
                                         __global const float* mean, int mo, __global const float* rstd, int ro,
                                         __global float* out, int oo, int batch, int tokens, int width) {
    const int i = get_global_id(0);
    if (i >= batch * width) return;
    const int n = i / width, j = i % width;
    float s = 0.0f;
    for (int t = 0; t < tokens; t++) {
        const int r = n * tokens + t, k = r * width + j;
        s += dy[dyo + k] * (x[xo + k] - mean[mo + r]) * rstd[ro + r];
    }
    out[oo + i] = s;
}
