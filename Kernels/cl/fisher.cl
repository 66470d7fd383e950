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

// out[n, j] = Σ_{r ∈ [starts[n], starts[n + 1])} x[r, j]
__kernel void sum_over_tokens(__global const float* x, int xo, __global float* out, int oo,
                              __global const int* starts, int so, int batch, int width) {
    const int i = get_global_id(0);
    if (i >= batch * width) return;
    const int n = i / width, j = i % width;
    float s = 0.0f;
    for (int r = starts[so + n]; r < starts[so + n + 1]; r++) s += x[xo + r * width + j];
    out[oo + i] = s;
}

// out[n, j] = Σ_{r ∈ [starts[n], starts[n + 1])} dy[r, j] · (x[r, j] − mean[r]) · rstd[r]
__kernel void layernorm_gamma_per_sample(__global const float* dy, int dyo, __global const float* x, int xo,
                                         __global const float* mean, int mo, __global const float* rstd, int ro,
                                         __global float* out, int oo, __global const int* starts, int so,
                                         int batch, int width) {
    const int i = get_global_id(0);
    if (i >= batch * width) return;
    const int n = i / width, j = i % width;
    float s = 0.0f;
    for (int r = starts[so + n]; r < starts[so + n + 1]; r++) {
        const int k = r * width + j;
        s += dy[dyo + k] * (x[xo + k] - mean[mo + r]) * rstd[ro + r];
    }
    out[oo + i] = s;
}
