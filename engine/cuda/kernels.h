/* Private to engine/: the GPU kernels (engine/cuda/: norm.cu, pointwise.cu, mamba.cu), as C functions that launch
 * them on a stream. Every pointer is device memory; rows are row-major as on the CPU.
 * engine/gpu.c strings them into the batched forwards; tests/test_gpu.c runs each one
 * against the CPU kernel it mirrors (engine/ops.c, engine/vit.c, engine/vim.c).
 *
 * Why plain kernels: one thread block or thread per independent row, image or channel,
 * every sum in a fixed order (a fixed tree inside a block, never an atomic), so a
 * forward gives the same bits on every run. The element-wise math (exp, erf, log,
 * softplus, SiLU) is engine/simd.h's own polynomials, operation for operation, so the
 * GPU and the CPU differ only where the matrix products sum in another order. */
#ifndef MXB_ENGINE_CUDA_KERNELS_H
#define MXB_ENGINE_CUDA_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct CUstream_st *mxb_cu_stream;

/* ---- engine/cuda/norm.cu ---------------------------------------------------------- */
/* y = LayerNorm(x) * w + b per row (mean and variance in double, as ops.c) */
void mxb_cu_layernorm(float *y, const float *x, const float *w, const float *b, int rows, int dim,
                      int ldx, float eps, mxb_cu_stream s);
/* y = x * rsqrt(mean(x²) + eps) * w per row */
void mxb_cu_rmsnorm(float *y, const float *x, const float *w, int rows, int dim, int ldx, float eps,
                    mxb_cu_stream s);

/* ---- engine/cuda/pointwise.cu ----------------------------------------------------- */
/* y[r, :] += b (rows x n) */
void mxb_cu_bias(float *y, const float *b, int rows, int n, mxb_cu_stream s);
/* y = GELU(x) (erf form), n elements */
void mxb_cu_gelu(float *y, const float *x, size_t n, mxb_cu_stream s);
/* each of rows rows of cols: softmax in place */
void mxb_cu_softmax(float *x, int rows, int cols, mxb_cu_stream s);
/* im2col of B images [C, S, S] into patches [B * G², C·P·P] (ops.c mxb_patchify) */
void mxb_cu_patchify(float *patches, const float *img, int B, int C, int S, int P, mxb_cu_stream s);
/* tokens [B, M + 1, E] from the patch products pe [B, M, E]: the class token at cls,
 * patch j at j (j < cls) or j + 1, each + bias, then + pos [M + 1, E] */
void mxb_cu_embed(float *tokens, const float *pe, const float *bias, const float *cls_token,
                  const float *pos, int B, int M, int E, int cls, mxb_cu_stream s);
/* out [B, E] = a[b, cls, :] (+ h[b, cls, :] when h is not NULL), rows of L x E */
void mxb_cu_gather_cls(float *out, const float *a, const float *h, int B, int L, int E, int cls,
                       mxb_cu_stream s);
/* y += x, n elements */
void mxb_cu_add(float *y, const float *x, size_t n, mxb_cu_stream s);
/* dst[b, t, :] = src[b, L - 1 - t, :], rows of n (the backward branch's order) */
void mxb_cu_flip(float *dst, const float *src, int B, int L, int n, mxb_cu_stream s);
/* sum[b, t, :] = (f[b, t, :] + r[b, L - 1 - t, :]) * 0.5: the two branches' mean */
void mxb_cu_branch_mean(float *sum, const float *f, const float *r, int B, int L, int n,
                        mxb_cu_stream s);
/* delta = softplus(pre + bias) and pre += bias, rows x n (pre with row stride n) */
void mxb_cu_softplus_bias(float *delta, float *pre, const float *bias, int rows, int n,
                          mxb_cu_stream s);

/* ---- engine/cuda/mamba.cu --------------------------------------------------------- */
/* Both directions at once (d = 0, 1 over the arrays of two): per image b, the causal
 * depthwise conv of x_pre (the first D columns of xz[d] [B, L, 2D]) with conv_w[d]
 * [D, K] and conv_b[d], then SiLU: u[d] [B, L, D] */
typedef struct {
    const float *xz[2], *conv_w[2], *conv_b[2];
    float *u[2];
} mxb_cu_conv_args;
void mxb_cu_conv_silu(const mxb_cu_conv_args *a, int B, int L, int D, int K, mxb_cu_stream s);
/* The selective scan of both directions and every image in one launch, gated:
 * h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t, y_t = C_t·h_t, out_t = (y_t + D u_t)·SiLU(z_t),
 * with B_t, C_t from x_dbl[d] [B, L, R + 2N] (columns R.. and R+N..), z the second half
 * of xz[d], A[d] [D, N] = -exp(A_log). out[d] [B, L, D]; y[d] may be NULL. */
typedef struct {
    const float *u[2], *delta[2], *x_dbl[2], *xz[2], *A[2], *Dskip[2];
    float *y[2], *out[2];
} mxb_cu_scan_args;
void mxb_cu_scan(const mxb_cu_scan_args *a, int B, int L, int D, int N, int R, mxb_cu_stream s);

/* the last launch's error as text, or NULL when none */
const char *mxb_cu_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
