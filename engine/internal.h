/* Private to engine/: model layout, context buffers and the kernels. */
#ifndef MXB_ENGINE_INTERNAL_H
#define MXB_ENGINE_INTERNAL_H

#include "engine/engine.h"
#include "io/io.h"

#include <cblas.h>
#include <stdarg.h>
#include <string.h>

typedef struct {
    char name[64];
    int ndim;
    int64_t shape[4];
    size_t offset, numel;
} mxb_param;

typedef struct {
    const float *ln1_w, *ln1_b, *qkv_w, *qkv_b, *proj_w, *proj_b;
    const float *ln2_w, *ln2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} vit_block_w;

/* One direction of a bimamba v2 mixer: dir 0 uses conv1d/x_proj/dt_proj/A_log/D,
 * dir 1 the *_b twins. A = -exp(A_log) is derived once at load. */
typedef struct {
    const float *conv_w, *conv_b, *x_proj_w, *dt_proj_w, *dt_proj_b, *A_log, *D;
    float *A;  /* [Di, N] */
    float *At; /* [N, Dp] the same, transposed and zero-padded to Dp = SCAN_CB blocks */
} vim_dir_w;

/* channels per vector block in the scan and hidden-attention kernels */
#define SCAN_CB 16
#define SCAN_PADDED(D) ((((D) + SCAN_CB - 1) / SCAN_CB) * SCAN_CB)

typedef struct {
    const float *norm_w, *in_proj_w, *out_proj_w;
    vim_dir_w dir[2];
} vim_layer_w;

struct mxb_model {
    mxb_config cfg;
    int nparams;
    mxb_param *params;
    float *data;            /* every parameter, one allocation */
    float *derived;         /* A = -exp(A_log) and At for every ViM layer and direction */
    const float *cls_token, *pos_embed, *patch_w, *patch_b, *norm_w, *norm_b, *head_w, *head_b;
    vit_block_w *blocks;
    vim_layer_w *layers;
};

/* ---- per-context activations ------------------------------------------------- */

typedef struct {
    /* inputs to each sub-layer, kept for backward */
    float *x_in;        /* [L, E] block input (residual stream) */
    float *ln1;         /* [L, E] */
    float *ln1_rstd;    /* [L] */
    float *qkv;         /* [L, 3E] */
    float *attn;        /* [H, L, L] softmax probabilities */
    float *ctx;         /* [L, E] attn @ v, heads concatenated */
    float *x_mid;       /* [L, E] after attention residual */
    float *ln2;         /* [L, E] */
    float *ln2_rstd;    /* [L] */
    float *fc1;         /* [L, hidden] pre-GELU */
    float *gelu;        /* [L, hidden] */
    float *attn_grad;   /* [H, L, L] */
    float *attn_rel;    /* [H, L, L] LRP relevance of the attention probabilities */
} vit_block_act;

typedef struct {
    float *xz;          /* [L, 2*Di] in_proj output in this direction's token order */
    float *conv_pre;    /* [L, Di] conv output before SiLU */
    float *x;           /* [L, Di] after SiLU: the scan input u */
    float *x_dbl;       /* [L, R + 2N] */
    float *delta_pre;   /* [L, Di] dt_proj(x_dbl[:, :R]) + bias, before softplus */
    float *delta;       /* [L, Di] softplus */
    float *y;           /* [L, Di] scan output before D skip and gate */
    float *out;         /* [L, Di] (y + D x) * silu(z) */
    float *dy;          /* [L, Di] gradient at y */
} vim_dir_act;

typedef struct {
    float *residual;        /* [L, E] sum entering this layer's norm (returned by the block) */
    float *normed;          /* [L, E] */
    float *rstd;            /* [L] */
    float *mixer_out;       /* [L, E] */
    float *residual_grad;   /* [L, E] */
    vim_dir_act dir[2];
} vim_layer_act;

struct mxb_ctx {
    const mxb_model *m;
    int flags;
    float *arena;
    size_t arena_floats;
    float *tokens;      /* [L, E] embedded input */
    float *patches;     /* [M, C*P*P] im2col of the input */
    float *final_in;    /* [E] residual at the class token before the final norm */
    float *final_norm;  /* [E] */
    float final_rstd;
    float *scratch;     /* per-layer scratch for the non-traced path and backward */
    size_t scratch_floats;
    int nact;           /* number of layers with their own activation slots */
    float *lrp_ws;      /* LRP workspace, allocated on the first relevance pass */
    vit_block_act *vit;
    vim_layer_act *vim;
};

/* ---- kernels (engine/ops.c) --------------------------------------------------- */

/* one serial row-major product with the build's BLAS (engine/blas.c) */
void mxb_sgemm_serial(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* stage timers of mxb_profile (ops.c): on only while a bench measures one serial call */
extern int mxb_prof_on;
extern mxb_profile mxb_prof;
double mxb_prof_now(void);
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

/* exp for the scan and hidden-attention inner loops: Cephes' polynomial with a
 * Cody-Waite reduction, branch-free so loops over it vectorise (libm's expf is a
 * call per element). Relative error below 2e-7 over the range the models produce;
 * arguments below -87.3 return 0 (as exp does in float, up to denormals). */
static inline float fast_expf(float x) {
    x = x < 88.3762626647949f ? x : 88.3762626647949f;
    const float under = x < -87.33654f ? 0.0f : 1.0f;
    x = x > -87.33654f ? x : -87.33654f;
    float fx = x * 1.44269504088896341f + 0.5f;
    const int n = (int)fx - (fx < (float)(int)fx); /* floor */
    fx = (float)n;
    x -= fx * 0.693359375f;
    x -= fx * -2.12194440e-4f;
    const float z = x * x;
    float y = 1.9875691500E-4f;
    y = y * x + 1.3981999507E-3f;
    y = y * x + 8.3334519073E-3f;
    y = y * x + 4.1665795894E-2f;
    y = y * x + 1.6666665459E-1f;
    y = y * x + 5.0000001201E-1f;
    y = y * z + x + 1.0f;
    union { int i; float f; } p2 = {.i = (n + 127) << 23};
    return y * p2.f * under;
}
/* Sixteen float lanes (one AVX-512 register, two AVX2 ones), GCC/Clang vector
 * extensions: the scan and hidden-attention kernels are written on this type
 * because gcc 12 would not if-convert fast_expf's clamps inside those loops and left
 * them scalar. Loads and stores go through memcpy (any alignment). */
#pragma GCC diagnostic ignored "-Wpsabi" /* static inline only: never crosses an ABI boundary */
typedef float vf16 __attribute__((vector_size(64)));
typedef int vi16 __attribute__((vector_size(64)));

static inline vf16 vf16_load(const float *p) {
    vf16 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void vf16_store(float *p, vf16 v) { memcpy(p, &v, sizeof v); }
static inline vf16 vf16_splat(float x) { return (vf16){0} + x; }
/* the first n lanes from p, the rest 0 (for the last, partial block of channels) */
static inline vf16 vf16_load_part(const float *p, int n) {
    vf16 v = {0};
    if (n >= 16) return vf16_load(p);
    memcpy(&v, p, (size_t)n * sizeof(float));
    return v;
}
static inline void vf16_store_part(float *p, vf16 v, int n) {
    memcpy(p, &v, (size_t)(n < 16 ? n : 16) * sizeof(float));
}
/* mask of the lanes below n */
static inline vi16 vf16_lanes_below(int n) {
    const vi16 idx = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    return idx < n;
}
/* lanes added in a fixed tree order: the same bits on every run */
static inline float vf16_sum(vf16 v) {
    float s[16];
    memcpy(s, &v, sizeof s);
    for (int w = 8; w >= 1; w /= 2)
        for (int i = 0; i < w; i++) s[i] += s[i + w];
    return s[0];
}
/* fast_expf on sixteen lanes, the same operations in the same order per lane */
static inline vf16 vf16_exp(vf16 x) {
    const vi16 lo = x > -87.33654f, hi = x < 88.3762626647949f;
    const vf16 under = (vf16)(lo & (vi16)vf16_splat(1.0f));
    x = (vf16)((hi & (vi16)x) | (~hi & (vi16)vf16_splat(88.3762626647949f)));
    x = (vf16)((lo & (vi16)x) | (~lo & (vi16)vf16_splat(-87.33654f)));
    vf16 fx = x * 1.44269504088896341f + 0.5f;
    vi16 n = __builtin_convertvector(fx, vi16);
    n += (vi16)(fx < __builtin_convertvector(n, vf16)); /* floor: -1 where truncation rounded up */
    fx = __builtin_convertvector(n, vf16);
    x -= fx * 0.693359375f;
    x -= fx * -2.12194440e-4f;
    const vf16 z = x * x;
    vf16 y = vf16_splat(1.9875691500E-4f);
    y = y * x + 1.3981999507E-3f;
    y = y * x + 8.3334519073E-3f;
    y = y * x + 4.1665795894E-2f;
    y = y * x + 1.6666665459E-1f;
    y = y * x + 5.0000001201E-1f;
    y = y * z + x + 1.0f;
    return y * (vf16)((n + 127) << 23) * under;
}
/* Cephes' logf on sixteen lanes, for positive finite x */
static inline vf16 vf16_log(vf16 x) {
    const vi16 bits = (vi16)x;
    vf16 e = __builtin_convertvector(((bits >> 23) & 0xff) - 126, vf16);
    vf16 m = (vf16)((bits & 0x807fffff) | 0x3f000000); /* x = m 2^e, m in [0.5, 1) */
    const vi16 small = m < 0.707106781186547524f;
    e -= (vf16)(small & (vi16)vf16_splat(1.0f));
    m = m - 1.0f + (vf16)(small & (vi16)m); /* m < √½: 2m - 1, else m - 1 */
    const vf16 z = m * m;
    vf16 y = vf16_splat(7.0376836292E-2f);
    y = y * m - 1.1514610310E-1f;
    y = y * m + 1.1676998740E-1f;
    y = y * m - 1.2420140846E-1f;
    y = y * m + 1.4249322787E-1f;
    y = y * m - 1.6668057665E-1f;
    y = y * m + 2.0000714765E-1f;
    y = y * m - 2.4999993993E-1f;
    y = y * m + 3.3333331174E-1f;
    y = y * m * z;
    y += e * -2.12194440e-4f;
    y -= 0.5f * z;
    return m + y + e * 0.693359375f;
}
static inline vf16 vf16_sigmoid(vf16 x) { return 1.0f / (1.0f + vf16_exp(-x)); }
static inline vf16 vf16_silu(vf16 x) { return x * vf16_sigmoid(x); }
static inline vf16 vf16_silu_grad(vf16 x) {
    const vf16 s = vf16_sigmoid(x);
    return s * (1.0f + x * (1.0f - s));
}
/* F.softplus (threshold 20): log1p(exp(x)), with log1p(e) = log(u)·e/(u-1), u = 1+e,
 * which keeps full relative precision for small e (Goldberg's trick). */
static inline vf16 vf16_softplus(vf16 x) {
    const vf16 e = vf16_exp(x), u = 1.0f + e;
    const vi16 exact = u == 1.0f, big = x > 20.0f;
    const vf16 l = vf16_log(u) * (e / (u - 1.0f + (vf16)(exact & (vi16)vf16_splat(1.0f))));
    const vf16 r = (vf16)((exact & (vi16)e) | (~exact & (vi16)l));
    return (vf16)((big & (vi16)x) | (~big & (vi16)r));
}
/* erf as a rational function of x (odd over even, the form and coefficients of
 * Eigen's float erf), clamped to ±4 where float erf is ±1: within 5e-7 of erf. */
static inline vf16 vf16_erf(vf16 x) {
    const vi16 hi = x > 4.0f, lo = x < -4.0f;
    x = (vf16)((hi & (vi16)vf16_splat(4.0f)) | (~hi & (vi16)x));
    x = (vf16)((lo & (vi16)vf16_splat(-4.0f)) | (~lo & (vi16)x));
    const vf16 x2 = x * x;
    vf16 p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
    p = x2 * p - 2.10102402082508e-06f;
    p = x2 * p - 5.69250639462346e-05f;
    p = x2 * p - 7.34990630326855e-04f;
    p = x2 * p - 2.95459980854025e-03f;
    p = x2 * p - 1.60960333262415e-02f;
    vf16 q = x2 * -1.45660718464996e-05f - 2.13374055278905e-04f;
    q = x2 * q - 1.68282697438203e-03f;
    q = x2 * q - 7.37332916720468e-03f;
    q = x2 * q - 1.42647390514189e-02f;
    return x * p / q;
}
/* nn.GELU() (the erf form) and its derivative */
static inline vf16 vf16_gelu(vf16 x) { return 0.5f * x * (1.0f + vf16_erf(x * 0.70710678118654752f)); }
static inline vf16 vf16_gelu_grad(vf16 x) {
    const vf16 cdf = 0.5f * (1.0f + vf16_erf(x * 0.70710678118654752f));
    return cdf + x * (vf16_exp(-0.5f * x * x) * 0.3989422804014327f);
}
void mxb_softmax_rows(float *x, int rows, int cols);
/* im2col for a stride == kernel patch conv: patches [grid*grid, C*P*P]. */
void mxb_patchify(float *patches, const float *img, int C, int S, int P);

/* ---- models (engine/vit.c, engine/vim.c) -------------------------------------- */

void mxb_vit_forward(mxb_ctx *c, const float *image, float *logits);
void mxb_vit_backward(mxb_ctx *c, const float *seed);
void mxb_vim_forward(mxb_ctx *c, const float *image, float *logits);
void mxb_vim_backward(mxb_ctx *c, const float *seed);
int mxb_vit_lrp(mxb_ctx *c, const float *seed);

#endif
