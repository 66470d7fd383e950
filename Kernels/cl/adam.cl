// Twin of Sources/GuidedCompute/CPU/CPUOptimizer.swift: torch.optim.AdamW, one element per item.
__kernel void adamw(__global float* p, int po, __global const float* g, int go,
                    __global float* m, int mo, __global float* v, int vo, int n,
                    float beta1, float beta2, float eps, float decay, float step_size, float sqrt_bc2) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float grad = g[go + i];
    const float mi = beta1 * m[mo + i] + (1.0f - beta1) * grad;
    const float vi = beta2 * v[vo + i] + (1.0f - beta2) * grad * grad;
    m[mo + i] = mi;
    v[vo + i] = vi;
    p[po + i] = p[po + i] * decay - step_size * mi / (sqrt(vi) / sqrt_bc2 + eps);
}
