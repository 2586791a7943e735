/* Layer kernels shared by both model families, each forward beside its backward. */
#include "engine/ops.h"
#include "engine/simd.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

/* ---- matrix products ------------------------------------------------------------------ */

/* Row-major cblas_sgemm with C's columns cut into fixed panels of GEMM_PANEL, one
 * serial call of the build's BLAS per panel (mxb_sgemm_serial, engine/blas.c), the panels shared among the OpenMP threads.
 * OpenBLAS's own threading splits a product by the thread count and its edge
 * kernels round differently, so the same product came out in other bits on 1 and
 * 2 threads (and every perturbation AUC with them); fixed panels make the bits the
 * same on any thread count. Panels go to threads dynamically: which thread computes a
 * panel does not change its bits, and a descheduled thread (a shared machine) then
 * delays one panel, not a fixed share. The region is entered even for one panel: OpenBLAS
 * stays serial inside an active OpenMP region, which is also what keeps it from
 * oversubscribing the cores under the harness's own threads. */
#define GEMM_PANEL 192

/* Row-wise and element-wise kernels (norms, bias, activations) split their rows among
 * the threads from this many rows on: each row is computed alone, in the same order,
 * so the bits do not depend on the split. Below it a region costs more than it saves
 * (the heads' 1-row norm and linear). */
#define ROWS_PARALLEL 16

static _Thread_local int prof_on, prof_level;
_Thread_local mxb_profile mxb_prof;

double mxb_prof_now(void) { return omp_get_wtime() * 1e3; }

int mxb_prof_here(void) { return prof_on && omp_get_level() == prof_level; }

void mxb_profile_enable(int on) {
    prof_on = on;
    prof_level = omp_get_level();
    memset(&mxb_prof, 0, sizeof mxb_prof);
}

mxb_profile mxb_profile_get(void) { return mxb_prof; }

void mxb_sgemm_rm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    const int np = (N + GEMM_PANEL - 1) / GEMM_PANEL;
    const int prof = mxb_prof_here();
    const double t0 = prof ? mxb_prof_now() : 0;
#pragma omp parallel for schedule(dynamic, 1)
    for (int p = 0; p < np; p++) {
        const int j0 = p * GEMM_PANEL, nj = N - j0 < GEMM_PANEL ? N - j0 : GEMM_PANEL;
        const float *Bp = tb == CblasTrans ? B + (size_t)j0 * ldb : B + j0;
        mxb_sgemm_serial(ta, tb, M, nj, K, alpha, A, lda, Bp, ldb, beta, C + j0, ldc);
    }
    if (prof) mxb_prof.gemm_ms += mxb_prof_now() - t0;
}

void mxb_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc) {
    mxb_sgemm_rm(trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
             lda, B, ldb, beta, C, ldc);
}

/* ---- linear: y = x W^T + b (PyTorch nn.Linear, W [out, in]) ---------------------- */

void mxb_linear_forward(float *y, const float *x, const float *W, const float *b, int rows, int in,
                    int out, float beta) {
    mxb_sgemm_rm(CblasNoTrans, CblasTrans, rows, out, in, 1.0f, x, in, W, in, beta,
                y, out);
    if (b)
#pragma omp parallel for schedule(static) if (rows >= ROWS_PARALLEL)
        for (int r = 0; r < rows; r++) {
            float *yr = y + (size_t)r * out;
            for (int o = 0; o < out; o++) yr[o] += b[o];
        }
}

void mxb_linear_backward_input(float *dx, const float *dy, const float *W, int rows, int in, int out,
                           float beta) {
    mxb_sgemm_rm(CblasNoTrans, CblasNoTrans, rows, in, out, 1.0f, dy, out, W, in,
                beta, dx, in);
}

/* ---- LayerNorm (timm DeiT, eps 1e-6) ------------------------------------------------ */

void mxb_layernorm_forward(float *y, float *rstd, const float *x, const float *w, const float *b,
                       int rows, int dim, float eps) {
#pragma omp parallel for schedule(static) if (rows >= ROWS_PARALLEL)
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * dim;
        float *yr = y + (size_t)r * dim;
        double mean = 0, var = 0;
        for (int i = 0; i < dim; i++) mean += xr[i];
        mean /= dim;
        for (int i = 0; i < dim; i++) var += (xr[i] - mean) * (xr[i] - mean);
        var /= dim;
        float rs = (float)(1.0 / sqrt(var + eps));
        for (int i = 0; i < dim; i++) yr[i] = (float)(xr[i] - mean) * rs * w[i] + b[i];
        rstd[r] = rs;
    }
}

void mxb_layernorm_backward(float *dx, const float *dy, const float *x, const float *rstd,
                        const float *w, int rows, int dim, float beta) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * dim, *gr = dy + (size_t)r * dim;
        float *dr = dx + (size_t)r * dim;
        double mean = 0;
        for (int i = 0; i < dim; i++) mean += xr[i];
        mean /= dim;
        const float rs = rstd[r];
        double sum_g = 0, sum_gx = 0;
        for (int i = 0; i < dim; i++) {
            double g = (double)gr[i] * w[i], xh = (xr[i] - mean) * rs;
            sum_g += g;
            sum_gx += g * xh;
        }
        sum_g /= dim;
        sum_gx /= dim;
        for (int i = 0; i < dim; i++) {
            double g = (double)gr[i] * w[i], xh = (xr[i] - mean) * rs;
            float v = (float)(rs * (g - sum_g - xh * sum_gx));
            dr[i] = beta ? dr[i] + v : v;
        }
    }
}

/* ---- RMSNorm (mamba_ssm's rms_norm_fn, fp32, eps 1e-5) ---------------------------------- */

void mxb_rmsnorm_forward(float *y, float *rstd, const float *x, const float *w, int rows, int dim,
                     float eps) {
#pragma omp parallel for schedule(static) if (rows >= ROWS_PARALLEL)
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * dim;
        float *yr = y + (size_t)r * dim;
        double ss = 0;
        for (int i = 0; i < dim; i++) ss += (double)xr[i] * xr[i];
        float rs = (float)(1.0 / sqrt(ss / dim + eps));
        for (int i = 0; i < dim; i++) yr[i] = xr[i] * rs * w[i];
        rstd[r] = rs;
    }
}

void mxb_rmsnorm_backward(float *dx, const float *dy, const float *x, const float *rstd,
                      const float *w, int rows, int dim, float beta) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * dim, *gr = dy + (size_t)r * dim;
        float *dr = dx + (size_t)r * dim;
        const double rs = rstd[r];
        double dot = 0;
        for (int i = 0; i < dim; i++) dot += (double)gr[i] * w[i] * xr[i];
        /* d/dx of x*rs: rs*g*w - x * rs^3 * mean(g*w*x) */
        const double k = rs * rs * rs * dot / dim;
        for (int i = 0; i < dim; i++) {
            float v = (float)(rs * gr[i] * w[i] - xr[i] * k);
            dr[i] = beta ? dr[i] + v : v;
        }
    }
}

/* ---- pointwise ---------------------------------------------------------------------------- */

void mxb_softmax_rows(float *x, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * cols;
        float mx = xr[0];
        for (int i = 1; i < cols; i++) mx = xr[i] > mx ? xr[i] : mx;
        vf16 sum = {0};
        for (int i = 0; i < cols; i += 16) {
            const int n = cols - i < 16 ? cols - i : 16;
            const vf16 e = vf16_exp(vf16_load_part(xr + i, n) - mx);
            vf16_store_part(xr + i, e, n);
            sum += (vf16)((vi16)e & vf16_lanes_below(n)); /* the tail's lanes hold exp(-mx) */
        }
        const float inv = 1.0f / vf16_sum(sum);
        for (int i = 0; i < cols; i++) xr[i] *= inv;
    }
}

/* A conv with kernel == stride is a GEMM over non-overlapping patches; rows are
 * patches in raster order (flatten(2) of the conv output), columns (c, ky, kx)
 * as the conv weight [E, C, P, P] is laid out. */
void mxb_patchify(float *patches, const float *img, int C, int S, int P) {
    const int G = S / P, K = C * P * P;
    for (int gy = 0; gy < G; gy++)
        for (int gx = 0; gx < G; gx++) {
            float *row = patches + (size_t)(gy * G + gx) * K;
            for (int c = 0; c < C; c++)
                for (int ky = 0; ky < P; ky++)
                    memcpy(row + (c * P + ky) * P,
                           img + ((size_t)c * S + gy * P + ky) * S + (size_t)gx * P,
                           (size_t)P * sizeof(float));
        }
}
