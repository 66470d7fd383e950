// Twin of Sources/GuidedCompute/CPU/CPUElementwise.swift.

__kernel void fill(__global float* x, int xo, int n, float value) {
    const int i = get_global_id(0);
    if (i < n) x[xo + i] = value;
}

__kernel void copy_elements(__global const float* src, int so, __global float* dst, int dso, int n) {
    const int i = get_global_id(0);
    if (i < n) dst[dso + i] = src[so + i];
}

__kernel void scale(__global float* x, int xo, int n, float alpha) {
    const int i = get_global_id(0);
    if (i < n) x[xo + i] *= alpha;
}

__kernel void axpy(float alpha, __global const float* x, int xo, __global float* y, int yo, int n) {
    const int i = get_global_id(0);
    if (i < n) y[yo + i] += alpha * x[xo + i];
}

__kernel void add(__global const float* a, int ao, __global const float* b, int bo,
                  __global float* out, int oo, int n) {
    const int i = get_global_id(0);
    if (i < n) out[oo + i] = a[ao + i] + b[bo + i];
}

// y[a, c, b, d] = x[a, b, c, d], one work-item per element of x.
__kernel void permute0213(__global const float* x, int xo, __global float* y, int yo,
                          int d0, int d1, int d2, int d3) {
    const int i = get_global_id(0);
    if (i >= d0 * d1 * d2 * d3) return;
    const int d = i % d3, c = (i / d3) % d2, b = (i / (d3 * d2)) % d1, a = i / (d3 * d2 * d1);
    y[yo + ((a * d2 + c) * d1 + b) * d3 + d] = x[xo + i];
}

// Packed rows ↔ heads. y[n, h, t, d] = x[starts[n] + t, h · D + d] for t below sample n's length,
// 0 beyond; one work-item per element of y.
__kernel void packed_rows_to_heads(__global const float* x, int xo, __global float* y, int yo,
                                   __global const int* starts, int so, int batch, int tokens, int heads, int headDim) {
    const int i = get_global_id(0);
    if (i >= batch * heads * tokens * headDim) return;
    const int d = i % headDim, t = (i / headDim) % tokens, h = (i / (headDim * tokens)) % heads;
    const int n = i / (headDim * tokens * heads), start = starts[so + n];
    y[yo + i] = t < starts[so + n + 1] - start ? x[xo + (start + t) * heads * headDim + h * headDim + d] : 0.0f;
}

// The reverse: y[starts[n] + t, h · D + d] = x[n, h, t, d]; one work-item per element of y.
__kernel void heads_to_packed_rows(__global const float* x, int xo, __global float* y, int yo,
                                   __global const int* starts, int so, int batch, int rows, int tokens, int heads,
                                   int headDim) {
    const int i = get_global_id(0);
    if (i >= rows * heads * headDim) return;
    const int width = heads * headDim, r = i / width, h = (i % width) / headDim, d = i % headDim;
    // The sample owning row r: the last n with starts[n] <= r (samples without rows share a start).
    int n = 0, high = batch - 1;
    while (n < high) {
        const int middle = (n + high + 1) / 2;
        if (starts[so + middle] <= r) n = middle; else high = middle - 1;
    }
    y[yo + i] = x[xo + ((n * heads + h) * tokens + (r - starts[so + n])) * headDim + d];
}

__kernel void add_bias(__global float* y, int yo, __global const float* bias, int bo, int rows, int columns) {
    const int i = get_global_id(0);
    if (i < rows * columns) y[yo + i] += bias[bo + i % columns];
}

// One work-item per column: a deterministic sum over rows, no atomics.
__kernel void bias_backward(__global const float* dy, int dyo, __global float* db, int dbo, int rows, int columns) {
    const int j = get_global_id(0);
    if (j >= columns) return;
    float s = 0.0f;
    for (int r = 0; r < rows; r++) s += dy[dyo + r * columns + j];
    db[dbo + j] += s;
}

__kernel void tanh_forward(__global const float* x, int xo, __global float* y, int yo, int n) {
    const int i = get_global_id(0);
    if (i < n) y[yo + i] = tanh(x[xo + i]);
}

__kernel void tanh_backward(__global const float* y, int yo, __global const float* dy, int dyo,
                            __global float* dx, int dxo, int n) {
    const int i = get_global_id(0);
    if (i < n) { const float t = y[yo + i]; dx[dxo + i] = dy[dyo + i] * (1.0f - t * t); }
}

#define GELU_ERF 0
#define GELU_TANH 1
#define SQRT_2_OVER_PI 0.7978845608028654f

__kernel void gelu_forward(__global const float* x, int xo, __global float* y, int yo, int n, int form) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float v = x[xo + i];
    if (form == GELU_ERF) {
        y[yo + i] = 0.5f * v * (1.0f + erf(v * M_SQRT1_2_F));
    } else {
        y[yo + i] = 0.5f * v * (1.0f + tanh(SQRT_2_OVER_PI * (v + 0.044715f * v * v * v)));
    }
}

__kernel void gelu_backward(__global const float* x, int xo, __global const float* dy, int dyo,
                            __global float* dx, int dxo, int n, int form) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float v = x[xo + i];
    float derivative;
    if (form == GELU_ERF) {
        const float cdf = 0.5f * (1.0f + erf(v * M_SQRT1_2_F));
        const float pdf = exp(-0.5f * v * v) * 0.3989422804014327f;
        derivative = cdf + v * pdf;
    } else {
        const float t = tanh(SQRT_2_OVER_PI * (v + 0.044715f * v * v * v));
        derivative = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * SQRT_2_OVER_PI * (1.0f + 3.0f * 0.044715f * v * v);
    }
    dx[dxo + i] = dy[dyo + i] * derivative;
}
