/* The Mamba mixer's own kernels on the GPU (engine/vim.c): the causal depthwise conv
 * with its SiLU, and the selective scan with its D skip and SiLU(z) gate. Both take
 * the two directions of a layer and every image of the batch in one launch: the
 * directions and images are independent, and one launch keeps the GPU full where one
 * image's channels would not. */
#include "engine/cuda/kernels.h"
#include "engine/cuda/devmath.h"

/* u[t, c] = SiLU(b[c] + Σ_k w[c, k] x[t - (K-1) + k, c]), taps in order as
 * causal_conv_forward adds them; one thread per output element */
__global__ static void conv_silu_kernel(mxb_cu_conv_args a, int L, int D, int K, size_t per_dir) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < 2 * per_dir;
         i += (size_t)gridDim.x * blockDim.x) {
        const int d = i >= per_dir;
        const size_t j = i - d * per_dir, row = j / D, b = row / L;
        const int c = (int)(j % D), t = (int)(row % L);
        const float *x = a.xz[d] + b * L * 2 * (size_t)D, *w = a.conv_w[d] + (size_t)c * K;
        float o = a.conv_b[d][c];
        for (int k = 0; k < K; k++) {
            const int s = t - (K - 1) + k;
            if (s >= 0) o += w[k] * x[(size_t)s * 2 * D + c];
        }
        a.u[d][j] = mxb_siluf(o);
    }
}
extern "C" void mxb_cu_conv_silu(const mxb_cu_conv_args *a, int B, int L, int D, int K, mxb_cu_stream s) {
    const size_t per_dir = (size_t)B * L * D;
    if (per_dir) conv_silu_kernel<<<mxb_cu_blocks(2 * per_dir), MXB_CU_THREADS, 0, s>>>(*a, L, D, K, per_dir);
}

/* One thread per (direction, image, channel) walks the sequence with the state h[N]
 * in registers (NMAX bounds N at compile time so the loop over n unrolls and h stays
 * in registers; the paper's models have N = 16). B_t and C_t are the same for every
 * channel: neighbouring threads read the same address, one transaction. The state
 * update and the sum over n are selective_scan_forward's, term for term. */
#define SCAN_THREADS 128
template <int NMAX>
__global__ static void scan_kernel(mxb_cu_scan_args a, int L, int D, int N, int R) {
    const int c = blockIdx.x * SCAN_THREADS + threadIdx.x, b = blockIdx.y, d = blockIdx.z;
    if (c >= D) return;
    const int ldx = R + 2 * N;
    const size_t base = (size_t)b * L * D;
    const float *u = a.u[d] + base, *delta = a.delta[d] + base;
    const float *xdbl = a.x_dbl[d] + (size_t)b * L * ldx, *z = a.xz[d] + (size_t)b * L * 2 * D + D;
    float *y = a.y[d] ? a.y[d] + base : NULL, *out = a.out[d] + base;
    float A[NMAX], h[NMAX];
#pragma unroll
    for (int n = 0; n < NMAX; n++) {
        A[n] = n < N ? a.A[d][(size_t)c * N + n] : 0.0f;
        h[n] = 0.0f;
    }
    const float Dc = a.Dskip[d][c];
    for (int t = 0; t < L; t++) {
        const float *Bt = xdbl + (size_t)t * ldx + R, *Ct = Bt + N;
        const float dt = delta[(size_t)t * D + c], ut = u[(size_t)t * D + c], du = dt * ut;
        float acc = 0.0f;
#pragma unroll
        for (int n = 0; n < NMAX; n++)
            if (n < N) {
                h[n] = mxb_expf(dt * A[n]) * h[n] + du * Bt[n];
                acc += Ct[n] * h[n];
            }
        if (y) y[(size_t)t * D + c] = acc;
        out[(size_t)t * D + c] = (acc + Dc * ut) * mxb_siluf(z[(size_t)t * 2 * D + c]);
    }
}
extern "C" void mxb_cu_scan(const mxb_cu_scan_args *a, int B, int L, int D, int N, int R, mxb_cu_stream s) {
    if (B <= 0 || D <= 0) return;
    const dim3 grid((D + SCAN_THREADS - 1) / SCAN_THREADS, B, 2);
    if (N <= 16)
        scan_kernel<16><<<grid, SCAN_THREADS, 0, s>>>(*a, L, D, N, R);
    else /* N <= 64 (the weights loader's check) */
        scan_kernel<64><<<grid, SCAN_THREADS, 0, s>>>(*a, L, D, N, R);
}
