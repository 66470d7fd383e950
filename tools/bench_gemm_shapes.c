/* One-thread OpenBLAS sgemm on the GEMM shapes of a MiniLM Fisher step, each as a share of a
 * 1024³ GEMM timed in the same run: are the Fisher's small GEMMs slower than a large one?
 *
 *   cc -O2 tools/bench_gemm_shapes.c -I/usr/include/x86_64-linux-gnu/openblas-pthread -lopenblas -o /tmp/gemm_shapes
 *   OPENBLAS_NUM_THREADS=1 /tmp/gemm_shapes                 # the environment's kernels
 *   env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1 /tmp/gemm_shapes   # OpenBLAS's own choice
 *
 * Shapes (row-major, as guided's CPU backend calls them, one core's half where it splits a GEMM):
 * a batch of 8 samples of ~50 tokens through the encoder's linears, forward and data gradient,
 * and a sample's block of per-sample squares (dYᵀ X over its own tokens), for the encoder and the
 * tied vocabulary head. Best of 5 timings of `reps` calls each. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* GFLOP/s of C[m×n] = op(A) op(B) with inner size k. */
static double rate(int transA, int transB, int m, int n, int k, int reps) {
    float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n), *c = malloc(sizeof(float) * m * n);
    for (int i = 0; i < m * k; i++) a[i] = (i % 7) * 0.1f;
    for (int i = 0; i < k * n; i++) b[i] = (i % 5) * 0.1f;
    double best = 1e30;
    for (int round = 0; round < 5; round++) {
        double start = now();
        for (int r = 0; r < reps; r++)
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        m, n, k, 1, a, transA ? m : k, b, transB ? k : n, 0, c, n);
        double seconds = (now() - start) / reps;
        if (seconds < best) best = seconds;
    }
    free(a); free(b); free(c);
    return 2.0 * m * n * k / best / 1e9;
}

int main(void) {
    struct { const char *name; int transA, transB, m, n, k, reps; } shapes[] = {
        {"forward, query/key/value", 0, 1, 200, 384, 384, 100},
        {"forward, FFN in", 0, 1, 200, 1536, 384, 50},
        {"forward, FFN out", 0, 1, 200, 384, 1536, 50},
        {"data gradient, FFN in", 0, 0, 200, 384, 1536, 50},
        {"data gradient, FFN out", 0, 0, 200, 1536, 384, 50},
        {"squares, 50 tokens", 1, 0, 128, 512, 50, 400},
        {"squares, 20 tokens", 1, 0, 128, 512, 20, 400},
        {"squares, 120 tokens", 1, 0, 128, 512, 120, 400},
        {"squares, tied head, 7 rows", 1, 0, 170, 384, 7, 2000},
    };
    double baseline = rate(0, 0, 1024, 1024, 1024, 5);
    printf("%-28s %5s %5s %5s %9s %8s\n", "shape", "m", "n", "k", "GFLOP/s", "% 1024³");
    printf("%-28s %5d %5d %5d %9.1f %7.0f%%\n", "baseline 1024³", 1024, 1024, 1024, baseline, 100.0);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        double r = rate(shapes[i].transA, shapes[i].transB, shapes[i].m, shapes[i].n, shapes[i].k, shapes[i].reps);
        printf("%-28s %5d %5d %5d %9.1f %7.0f%%\n", shapes[i].name, shapes[i].m, shapes[i].n, shapes[i].k, r,
               100 * r / baseline);
    }
    return 0;
}
