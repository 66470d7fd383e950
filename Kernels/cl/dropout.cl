// Twin of Sources/GuidedCompute/CPU/CPUDropout.swift. Element i takes word i % 4 (Bernoulli) of
// the Philox block at counter (i / 4, site, step, 0), or half i % 2 (Gaussian) of the block at
// (i / 2, site, step, 1), so both backends draw the same bits for the same element.

__kernel void dropout(__global const float* x, int xo, __global float* y, int yo, int n,
                      uint threshold, float keep_scale, uint seed_lo, uint seed_hi, uint site, uint step) {
    const int block = get_global_id(0);
    if (block * 4 >= n) return;
    const uint4 w = philox4x32_10((uint4)((uint)block, site, step, 0u), (uint2)(seed_lo, seed_hi));
    const uint words[4] = {w.x, w.y, w.z, w.w};
    for (int lane = 0; lane < 4; lane++) {
        const int i = block * 4 + lane;
        if (i >= n) break;
        y[yo + i] = (words[lane] >> 8) >= threshold ? x[xo + i] * keep_scale : 0.0f;
    }
}

__kernel void gaussian_noise(__global const float* x, int xo, __global float* y, int yo, int n,
                             float std_dev, uint seed_lo, uint seed_hi, uint site, uint step) {
    const int block = get_global_id(0);
    if (block * 2 >= n) return;
    const uint4 w = philox4x32_10((uint4)((uint)block, site, step, 1u), (uint2)(seed_lo, seed_hi));
    const int i = block * 2;
    y[yo + i] = x[xo + i] * (1.0f + std_dev * philox_normal(w.x, w.y));
    if (i + 1 < n) y[yo + i + 1] = x[xo + i + 1] * (1.0f + std_dev * philox_normal(w.z, w.w));
}

// Raw Philox blocks at counters (c0 + i, c1, c2, c3), four words each: lets tests check the
// device's generator against known-answer vectors and against the CPU word for word.
__kernel void philox_blocks(__global uint* out, int oo, int blocks,
                            uint c0, uint c1, uint c2, uint c3, uint k0, uint k1) {
    const int i = get_global_id(0);
    if (i >= blocks) return;
    const uint4 w = philox4x32_10((uint4)(c0 + (uint)i, c1, c2, c3), (uint2)(k0, k1));
    out[oo + 4 * i] = w.x;
    out[oo + 4 * i + 1] = w.y;
    out[oo + 4 * i + 2] = w.z;
    out[oo + 4 * i + 3] = w.w;
}
