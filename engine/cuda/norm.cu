/* Row norms on the GPU (engine/ops.c's LayerNorm and RMSNorm): one thread block per
 * row. Each thread sums a strided share of the row in double, as the CPU sums the row
 * in double; the shares are added in a fixed tree in shared memory, never by atomics,
 * so every run gives the same bits. */
#include "engine/cuda/kernels.h"
#include "engine/cuda/devmath.h"

#define NORM_THREADS 128

/* the block's values added in a fixed tree; every thread gets the total */
__device__ static double block_sum(double v, double *sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int w = NORM_THREADS / 2; w >= 1; w /= 2) {
        if ((int)threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
        __syncthreads();
    }
    const double total = sh[0];
    __syncthreads(); /* sh is reused by the next sum */
    return total;
}

__global__ static void layernorm_kernel(float *y, const float *x, const float *w, const float *b, int dim,
                                        int ldx, float eps) {
    __shared__ double sh[NORM_THREADS];
    const float *xr = x + (size_t)blockIdx.x * ldx;
    float *yr = y + (size_t)blockIdx.x * dim;
    double s = 0;
    for (int i = threadIdx.x; i < dim; i += NORM_THREADS) s += xr[i];
    const double mean = block_sum(s, sh) / dim;
    double v = 0;
    for (int i = threadIdx.x; i < dim; i += NORM_THREADS) v += (xr[i] - mean) * (xr[i] - mean);
    const double var = block_sum(v, sh) / dim;
    const float rs = (float)(1.0 / sqrt(var + eps));
    for (int i = threadIdx.x; i < dim; i += NORM_THREADS) yr[i] = (float)(xr[i] - mean) * rs * w[i] + b[i];
}

__global__ static void rmsnorm_kernel(float *y, const float *x, const float *w, int dim, int ldx, float eps) {
    __shared__ double sh[NORM_THREADS];
    const float *xr = x + (size_t)blockIdx.x * ldx;
    float *yr = y + (size_t)blockIdx.x * dim;
    double s = 0;
    for (int i = threadIdx.x; i < dim; i += NORM_THREADS) s += (double)xr[i] * xr[i];
    const float rs = (float)(1.0 / sqrt(block_sum(s, sh) / dim + eps));
    for (int i = threadIdx.x; i < dim; i += NORM_THREADS) yr[i] = xr[i] * rs * w[i];
}

extern "C" void mxb_cu_layernorm(float *y, const float *x, const float *w, const float *b, int rows, int dim,
                                 int ldx, float eps, mxb_cu_stream s) {
    if (rows > 0) layernorm_kernel<<<rows, NORM_THREADS, 0, s>>>(y, x, w, b, dim, ldx, eps);
}

extern "C" void mxb_cu_rmsnorm(float *y, const float *x, const float *w, int rows, int dim, int ldx, float eps,
                               mxb_cu_stream s) {
    if (rows > 0) rmsnorm_kernel<<<rows, NORM_THREADS, 0, s>>>(y, x, w, dim, ldx, eps);
}

extern "C" const char *mxb_cu_last_error(void) {
    const cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? NULL : cudaGetErrorString(e);
}
