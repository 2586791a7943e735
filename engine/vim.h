/* Private to engine/: what a ViM context holds (engine/vim.c lays it out) and the
 * family's passes. */
#ifndef MXB_ENGINE_VIM_H
#define MXB_ENGINE_VIM_H

#include "engine/engine.h"

typedef struct mxb_carver mxb_carver;

/* one direction of a layer's mixer, in that direction's token order */
typedef struct {
    float *xz;          /* [L, 2*Di] in_proj output in this direction's token order */
    float *conv_pre;    /* [L, Di] conv output before SiLU */
    float *x;           /* [L, Di] after SiLU: the scan input u */
    float *x_dbl;       /* [L, R + 2N] */
    float *delta_pre;   /* [L, Di] dt_proj(x_dbl[:, :R]) + bias, before softplus */
    float *delta;       /* [L, Di] softplus */
    float *y;           /* [L, Di] scan output before D skip and gate */
    float *out;         /* [L, Di] (y + D x) * silu(z) */
    float *dy;          /* [L, Di] gradient at y (traced) */
} vim_dir_act;

typedef struct {
    float *residual;        /* [L, E] sum entering this layer's norm (returned by the block) */
    float *normed;          /* [L, E] */
    float *rstd;            /* [L] */
    float *mixer_out;       /* [L, E] */
    float *residual_grad;   /* [L, E] (traced) */
    vim_dir_act dir[2];
} vim_layer_act;

/* the backward's gradients, one layer at a time (traced) */
typedef struct {
    float *G;           /* [L, E] gradient of the stream entering the next norm */
    float *dnormed;     /* [L, E] */
    float *dsum;        /* [L, Di] at the branches' mean */
    float *dout_b;      /* [L, Di] the same in the backward branch's order */
    float *dxz[2];      /* [L, 2Di] at each direction's in_proj output */
    /* one direction's scan, reused by both */
    float *dx;          /* [L, Di] at the scan input */
    float *ddelta;      /* [L, Di] */
    float *dxdbl;       /* [L, R + 2N] */
    float *hs;          /* [nblk, L, N, SCAN_CB] the scan's states, recomputed */
    float *part;        /* [nblk, L, 2N] the scan backward's per-block partial sums */
} vim_grad_ws;

typedef struct {
    vim_layer_act *act; /* [nact]: every layer when traced, one shared slot otherwise */
    float *sum;         /* [L, Di] the branches' mean in a forward; between passes the
                           [Di, L] scratch of mxb_vim_xai_vector */
    vim_grad_ws grad;   /* traced only */
} vim_state;

/* The one place ViM's buffers are sized and placed (as mxb_vit_layout). */
void mxb_vim_layout(const mxb_config *g, int nact, int traced, mxb_carver *cv, vim_state *s);
void mxb_vim_forward(mxb_ctx *c, const float *image, float *logits);
void mxb_vim_backward(mxb_ctx *c, const float *seed);

#endif
