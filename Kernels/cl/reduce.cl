// Twin of the reductions in Sources/GuidedCompute/CPU/CPUOptimizer.swift. Each work-group writes
// one partial; the host adds the partials (a handful) in double.

#define REDUCE_SUM 0
#define REDUCE_SQUARES 1
#define REDUCE_NONFINITE 2

__kernel void reduce_partials(__global const float* x, int xo, int n, int mode,
                              __global float* partials, int po, __local float* scratch) {
    float s = 0.0f;
    for (int i = get_global_id(0); i < n; i += get_global_size(0)) {
        const float v = x[xo + i];
        s += mode == REDUCE_SUM ? v : mode == REDUCE_SQUARES ? v * v : (isfinite(v) ? 0.0f : 1.0f);
    }
    s = group_sum(s, scratch);
    if (get_local_id(0) == 0) partials[po + get_group_id(0)] = s;
}
