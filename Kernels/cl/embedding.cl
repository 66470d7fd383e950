// Twin of Sources/GuidedCompute/CPU/CPUEmbedding.swift.

__kernel void embedding_gather(__global const float* table, int to, __global const int* ids, int io,
                               __global float* out, int oo, int tokens, int width) {
    const int i = get_global_id(0);
    if (i >= tokens * width) return;
    const int t = i / width, j = i % width;
    out[oo + i] = table[to + ids[io + t] * width + j];
}

// One work-item per column walks the rows in order: repeated targets add up deterministically
// without float atomics (which OpenCL 1.2 lacks).
__kernel void scatter_add_rows(__global const float* src, int so, __global const int* index, int io,
                               __global float* dst, int dso, int rows, int width, int skip) {
    const int j = get_global_id(0);
    if (j >= width) return;
    for (int r = 0; r < rows; r++) {
        const int target = index[io + r];
        if (target >= 0 && target != skip) dst[dso + target * width + j] += src[so + r * width + j];
    }
}

__kernel void accumulate_squared_rows(__global const float* src, int so, __global const int* index, int io,
                                      __global float* fisher, int fo, int rows, int width) {
    const int j = get_global_id(0);
    if (j >= width) return;
    for (int u = 0; u < rows; u++) {
        const int target = index[io + u];
        if (target >= 0) {
            const float g = src[so + u * width + j];
            fisher[fo + target * width + j] += g * g;
        }
    }
}
