// Shared helpers, built ahead of every other kernel file (see ProgramCache.sources).
//
// Every tensor argument arrives as a buffer and the element offset of its window
// (`__global float* x, int xo`), because OpenCL 1.2 sub-buffers need aligned origins.

// Sum of `v` over the work-group; `scratch` holds get_local_size(0) floats, a power of two.
float group_sum(float v, __local float* scratch) {
    const int l = get_local_id(0), size = get_local_size(0);
    scratch[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = size / 2; s > 0; s >>= 1) {
        if (l < s) scratch[l] += scratch[l + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float total = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return total;
}

float group_max(float v, __local float* scratch) {
    const int l = get_local_id(0), size = get_local_size(0);
    scratch[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = size / 2; s > 0; s >>= 1) {
        if (l < s) scratch[l] = fmax(scratch[l], scratch[l + s]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float result = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return result;
}
