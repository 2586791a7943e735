/* Private to engine/: the kernels every model family shares (engine/ops.c) and the
 * matrix product they run on (engine/blas.c). */
#ifndef MXB_ENGINE_OPS_H
#define MXB_ENGINE_OPS_H

#include "engine/engine.h"

#include <cblas.h>

/* one serial row-major product with the build's BLAS (engine/blas.c) */
void mxb_sgemm_serial(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* stage timers of mxb_profile (ops.c), per thread: on only while a bench measures a
 * call; a kernel times itself when called at the OpenMP level the profile was enabled
 * at (the model's own call, not one made from inside an engine region) */
extern _Thread_local mxb_profile mxb_prof;
double mxb_prof_now(void);
int mxb_prof_here(void);
/* row-major sgemm, the same bits on any thread count (ops.c) */
void mxb_sgemm_rm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* y[rows, out] = x[rows, in] @ W[out, in]^T + b (b may be NULL); beta 0 or 1. */
void mxb_linear_forward(float *y, const float *x, const float *W, const float *b, int rows, int in,
                    int out, float beta);
/* dx[rows,in] (+)= dy @ W ; dW/db not needed by inference-time explanations. */
void mxb_linear_backward_input(float *dx, const float *dy, const float *W, int rows, int in, int out,
                           float beta);
void mxb_layernorm_forward(float *y, float *rstd, const float *x, const float *w, const float *b,
                       int rows, int dim, float eps);
void mxb_layernorm_backward(float *dx, const float *dy, const float *x, const float *rstd,
                        const float *w, int rows, int dim, float beta);
void mxb_rmsnorm_forward(float *y, float *rstd, const float *x, const float *w, int rows, int dim,
                     float eps);
void mxb_rmsnorm_backward(float *dx, const float *dy, const float *x, const float *rstd,
                      const float *w, int rows, int dim, float beta);
void mxb_softmax_rows(float *x, int rows, int cols);
/* im2col for a stride == kernel patch conv: patches [grid*grid, C*P*P]. */
void mxb_patchify(float *patches, const float *img, int C, int S, int P);

#endif
