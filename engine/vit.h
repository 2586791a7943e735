/* Private to engine/: what a ViT/DeiT context holds (engine/vit.c lays it out) and the
 * family's passes. */
#ifndef MXB_ENGINE_VIT_H
#define MXB_ENGINE_VIT_H

#include "engine/engine.h"

typedef struct mxb_carver mxb_carver;

/* one block's activations, kept for backward and LRP */
typedef struct {
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
    float *attn_grad;   /* [H, L, L] (traced) */
    float *attn_rel;    /* [H, L, L] LRP relevance of the attention probabilities (traced) */
    /* (method ABI v2, layer_grad) */
    float *x_in_grad;   /* [L, E] gradient at x_in after mxb_backward (traced) */
} vit_block_act;

/* the backward's gradients, one block at a time (traced) */
typedef struct {
    float *dx;          /* [L, E] gradient of the stream */
    float *dmid;        /* [L, E] at x_mid */
    float *dln;         /* [L, E] at a norm's output */
    float *dctx;        /* [L, E] at attn @ v */
    float *dqkv;        /* [L, 3E] */
    float *dh;          /* [L, F] at the MLP's hidden layer */
    float *dS;          /* [L, L] at one head's scores */
} vit_grad_ws;

/* the LRP pass's workspace (traced: a traced ViT context can run mxb_relevance) */
typedef struct {
    /* a Linear's relprop: clamped weights [out, in] of the widest Linear, clamped
     * inputs [L, max(E, F)], its Z and S [L, max(3E, F)] */
    float *pw, *nw, *px, *nx, *Z, *S;
    float *cam;         /* [L, E] relevance of the stream */
    float *ra, *rb;     /* [L, E] the two sides of an Add */
    float *tmpE;        /* [L, E] a branch's output, recomputed */
    float *xout;        /* [L, E] relevance at attn @ v */
    float *rF;          /* [L, F] at the MLP's hidden layer */
    float *rqkv;        /* [L, 3E] */
    float *Sm;          /* [L, L] a matmul's S */
} vit_lrp_ws;

typedef struct {
    vit_block_act *act; /* [nact]: every block when traced, one shared slot otherwise */
    vit_grad_ws grad;   /* traced only */
    vit_lrp_ws lrp;     /* traced only */
} vit_state;

/* The one place ViT's buffers are sized and placed: carves s's buffers out of cv
 * (every pointer NULL and only the count advanced while cv's base is NULL). */
void mxb_vit_layout(const mxb_config *g, int nact, int traced, mxb_carver *cv, vit_state *s);
void mxb_vit_forward(mxb_ctx *c, const float *image, float *logits);
void mxb_vit_backward(mxb_ctx *c, const float *seed);
int mxb_vit_lrp(mxb_ctx *c, const float *seed);

#endif
