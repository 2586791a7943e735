/* Element-wise and row kernels on the GPU: bias, GELU, softmax, the patch embedding's
 * im2col and token assembly, the class-token readout, residual adds, the backward
 * branch's flip and mean, dt's softplus. Each output element is computed alone by one
 * thread (or a row by one block, for the softmax), in the CPU kernel's order. */
#include "engine/cuda/kernels.h"
#include "engine/cuda/devmath.h"

/* a grid-stride loop over n elements */
#define FOR_EACH(i, n) for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

__global__ static void bias_kernel(float *y, const float *b, size_t n, int cols) {
    FOR_EACH(i, n) y[i] += b[i % cols];
}
extern "C" void mxb_cu_bias(float *y, const float *b, int rows, int n, mxb_cu_stream s) {
    const size_t total = (size_t)rows * n;
    if (total) bias_kernel<<<mxb_cu_blocks(total), MXB_CU_THREADS, 0, s>>>(y, b, total, n);
}

__global__ static void gelu_kernel(float *y, const float *x, size_t n) {
    FOR_EACH(i, n) y[i] = mxb_geluf(x[i]);
}
extern "C" void mxb_cu_gelu(float *y, const float *x, size_t n, mxb_cu_stream s) {
    if (n) gelu_kernel<<<mxb_cu_blocks(n), MXB_CU_THREADS, 0, s>>>(y, x, n);
}

/* One block per row. The sum of the exponentials is engine/ops.c's: sixteen lanes,
 * lane j adding elements j, j + 16, ... in order, then the lanes in vf16_sum's fixed
 * tree, so it is the CPU's sum to the bit. (A warp per row, the maximum by shuffles,
 * would be faster: not yet measured on a GPU.) */
#define SOFTMAX_THREADS 128
__global__ static void softmax_kernel(float *x, int cols) {
    __shared__ float lane[16];
    __shared__ float mx_sh;
    float *xr = x + (size_t)blockIdx.x * cols;
    if (threadIdx.x == 0) {
        float mx = xr[0];
        for (int i = 1; i < cols; i++) mx = xr[i] > mx ? xr[i] : mx;
        mx_sh = mx;
    }
    __syncthreads();
    const float mx = mx_sh;
    for (int i = threadIdx.x; i < cols; i += SOFTMAX_THREADS) xr[i] = mxb_expf(xr[i] - mx);
    __syncthreads();
    if (threadIdx.x < 16) {
        float s = 0;
        for (int i = threadIdx.x; i < cols; i += 16) s += xr[i];
        lane[threadIdx.x] = s;
    }
    __syncthreads();
    if (threadIdx.x == 0)
        for (int w = 8; w >= 1; w /= 2)
            for (int i = 0; i < w; i++) lane[i] += lane[i + w];
    __syncthreads();
    const float inv = 1.0f / lane[0];
    for (int i = threadIdx.x; i < cols; i += SOFTMAX_THREADS) xr[i] *= inv;
}
extern "C" void mxb_cu_softmax(float *x, int rows, int cols, mxb_cu_stream s) {
    if (rows > 0) softmax_kernel<<<rows, SOFTMAX_THREADS, 0, s>>>(x, cols);
}

/* patches[b, gy*G + gx, (c*P + ky)*P + kx] = img[b, c, gy*P + ky, gx*P + kx] */
__global__ static void patchify_kernel(float *patches, const float *img, int C, int S, int P, size_t n) {
    const int G = S / P, K = C * P * P;
    FOR_EACH(i, n) {
        const size_t row = i / K;
        const int col = (int)(i % K), c = col / (P * P), ky = (col / P) % P, kx = col % P;
        const size_t b = row / ((size_t)G * G);
        const int g = (int)(row % ((size_t)G * G)), gy = g / G, gx = g % G;
        patches[i] = img[((b * C + c) * S + (size_t)gy * P + ky) * S + (size_t)gx * P + kx];
    }
}
extern "C" void mxb_cu_patchify(float *patches, const float *img, int B, int C, int S, int P, mxb_cu_stream s) {
    const int G = S / P;
    const size_t n = (size_t)B * G * G * C * P * P;
    if (n) patchify_kernel<<<mxb_cu_blocks(n), MXB_CU_THREADS, 0, s>>>(patches, img, C, S, P, n);
}

/* (patch product + bias) + pos, as vit_embed / vim_embed add them */
__global__ static void embed_kernel(float *tokens, const float *pe, const float *bias, const float *cls_token,
                                    const float *pos, int M, int E, int cls, size_t n) {
    const int L = M + 1;
    FOR_EACH(i, n) {
        const int e = (int)(i % E), t = (int)((i / E) % L);
        const size_t b = i / ((size_t)E * L);
        const float v = t == cls ? cls_token[e] : pe[(b * M + (t < cls ? t : t - 1)) * E + e] + bias[e];
        tokens[i] = v + pos[(size_t)t * E + e];
    }
}
extern "C" void mxb_cu_embed(float *tokens, const float *pe, const float *bias, const float *cls_token,
                             const float *pos, int B, int M, int E, int cls, mxb_cu_stream s) {
    const size_t n = (size_t)B * (M + 1) * E;
    if (n) embed_kernel<<<mxb_cu_blocks(n), MXB_CU_THREADS, 0, s>>>(tokens, pe, bias, cls_token, pos, M, E, cls, n);
}

__global__ static void gather_cls_kernel(float *out, const float *a, const float *h, int L, int E, int cls, size_t n) {
    FOR_EACH(i, n) {
        const size_t b = i / E, k = (b * L + cls) * E + i % E;
        out[i] = h ? a[k] + h[k] : a[k];
    }
}
extern "C" void mxb_cu_gather_cls(float *out, const float *a, const float *h, int B, int L, int E, int cls,
                                  mxb_cu_stream s) {
    const size_t n = (size_t)B * E;
    if (n) gather_cls_kernel<<<mxb_cu_blocks(n), MXB_CU_THREADS, 0, s>>>(out, a, h, L, E, cls, n);
}

__global__ static void add_kernel(float *y, const float *x, size_t n) {
    FOR_EACH(i, n) y[i] += x[i];
}
extern "C" void mxb_cu_add(float *y, const float *x, size_t n, mxb_cu_stream s) {
    if (n) add_kernel<<<mxb_cu_blocks(n), MXB_CU_THREADS, 0, s>>>(y, x, n);
}

__global__ static void flip_kernel(float *dst, const float *src, int L, int cols, size_t n) {
    FOR_EACH(i, n) {
        const size_t row = i / cols, b = row / L;
        const int t = (int)(row % L);
        dst[i] = src[(b * L + (L - 1 - t)) * cols + i % cols];
    }
}
extern "C" void mxb_cu_flip(float *dst, const float *src, int B, int L, int n, mxb_cu_stream s) {
    const size_t total = (size_t)B * L * n;
    if (total) flip_kernel<<<mxb_cu_blocks(total), MXB_CU_THREADS, 0, s>>>(dst, src, L, n, total);
}

__global__ static void branch_mean_kernel(float *sum, const float *f, const float *r, int L, int cols, size_t n) {
    FOR_EACH(i, n) {
        const size_t row = i / cols, b = row / L;
        const int t = (int)(row % L);
        sum[i] = (f[i] + r[(b * L + (L - 1 - t)) * cols + i % cols]) * 0.5f; /* if_devide_out */
    }
}
extern "C" void mxb_cu_branch_mean(float *sum, const float *f, const float *r, int B, int L, int n,
                                   mxb_cu_stream s) {
    const size_t total = (size_t)B * L * n;
    if (total) branch_mean_kernel<<<mxb_cu_blocks(total), MXB_CU_THREADS, 0, s>>>(sum, f, r, L, n, total);
}

__global__ static void softplus_bias_kernel(float *delta, float *pre, const float *bias, int cols, size_t n) {
    FOR_EACH(i, n) {
        const float p = pre[i] + bias[i % cols];
        pre[i] = p;
        delta[i] = mxb_softplusf(p);
    }
}
extern "C" void mxb_cu_softplus_bias(float *delta, float *pre, const float *bias, int rows, int n,
                                     mxb_cu_stream s) {
    const size_t total = (size_t)rows * n;
    if (total) softplus_bias_kernel<<<mxb_cu_blocks(total), MXB_CU_THREADS, 0, s>>>(delta, pre, bias, n, total);
}
