/* Private to engine/: model layout, context buffers and the kernels. */
#ifndef MXB_ENGINE_INTERNAL_H
#define MXB_ENGINE_INTERNAL_H

#include "engine/engine.h"

#include <stdarg.h>

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
    float *A;
} vim_dir_w;

typedef struct {
    const float *norm_w, *in_proj_w, *out_proj_w;
    vim_dir_w dir[2];
} vim_layer_w;

struct mxb_model {
    mxb_config cfg;
    int nparams;
    mxb_param *params;
    float *data;            /* every parameter, one allocation */
    float *derived;         /* A = -exp(A_log) for every ViM layer and direction */
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

void mxb_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* y[rows, out] = x[rows, in] @ W[out, in]^T + b (b may be NULL); beta 0 or 1. */
void linear_forward(float *y, const float *x, const float *W, const float *b, int rows, int in,
                    int out, float beta);
/* dx[rows,in] (+)= dy @ W ; dW/db not needed by inference-time explanations. */
void linear_backward_input(float *dx, const float *dy, const float *W, int rows, int in, int out,
                           float beta);
void layernorm_forward(float *y, float *rstd, const float *x, const float *w, const float *b,
                       int rows, int dim, float eps);
void layernorm_backward(float *dx, const float *dy, const float *x, const float *rstd,
                        const float *w, int rows, int dim, float beta);
void rmsnorm_forward(float *y, float *rstd, const float *x, const float *w, int rows, int dim,
                     float eps);
void rmsnorm_backward(float *dx, const float *dy, const float *x, const float *rstd,
                      const float *w, int rows, int dim, float beta);
float gelu_erf(float x);
float gelu_erf_grad(float x);
float silu(float x);
float silu_grad(float x);
float softplus(float x);

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
void softmax_rows(float *x, int rows, int cols);
/* im2col for a stride == kernel patch conv: patches [grid*grid, C*P*P]. */
void patchify(float *patches, const float *img, int C, int S, int P);

/* ---- models (engine/vit.c, engine/vim.c) -------------------------------------- */

void vit_forward(mxb_ctx *c, const float *image, float *logits);
void vit_backward(mxb_ctx *c, const float *seed);
void vim_forward(mxb_ctx *c, const float *image, float *logits);
void vim_backward(mxb_ctx *c, const float *seed);
int vit_lrp(mxb_ctx *c, const float *seed);

#endif
