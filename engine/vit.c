/* ViT/DeiT as timm's VisionTransformer (deit_small_patch16_224): forward and backward. */
#include "engine/internal.h"
#include "engine/ops.h"
#include "engine/simd.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* ---- the context's ViT buffers ------------------------------------------------- */

void mxb_vit_layout(const mxb_config *g, int nact, int traced, mxb_carver *cv, vit_state *s) {
    const size_t L = (size_t)g->seq_len, E = (size_t)g->embed_dim;
    const size_t H = (size_t)g->num_heads, F = (size_t)g->mlp_hidden, C = (size_t)g->num_classes;
    s->act = mxb_carve_bytes(cv, (size_t)nact * sizeof *s->act);
    for (int i = 0; i < nact; i++) {
        vit_block_act sizing, *a = s->act ? &s->act[i] : &sizing;
        a->x_in = mxb_carve(cv, L * E);
        a->ln1 = mxb_carve(cv, L * E);
        a->ln1_rstd = mxb_carve(cv, L);
        a->qkv = mxb_carve(cv, L * 3 * E);
        a->attn = mxb_carve(cv, H * L * L);
        a->ctx = mxb_carve(cv, L * E);
        a->x_mid = mxb_carve(cv, L * E);
        a->ln2 = mxb_carve(cv, L * E);
        a->ln2_rstd = mxb_carve(cv, L);
        a->fc1 = mxb_carve(cv, L * F);
        a->gelu = mxb_carve(cv, L * F);
        a->attn_grad = traced ? mxb_carve(cv, H * L * L) : NULL;
        a->attn_rel = traced ? mxb_carve(cv, H * L * L) : NULL;
        /* kept per block for the method ABI's layer_grad (the backward's dx is one buffer) */
        a->x_in_grad = traced ? mxb_carve(cv, L * E) : NULL;
    }
    s->grad = (vit_grad_ws){0};
    s->lrp = (vit_lrp_ws){0};
    if (!traced) return;
    vit_grad_ws *d = &s->grad;
    d->dx = mxb_carve(cv, L * E);
    d->dmid = mxb_carve(cv, L * E);
    d->dln = mxb_carve(cv, L * E);
    d->dctx = mxb_carve(cv, L * E);
    d->dqkv = mxb_carve(cv, L * 3 * E);
    d->dh = mxb_carve(cv, L * F);
    d->dS = mxb_carve(cv, L * L);
    /* LRP (engine/vit_lrp.c): a Linear's relprop holds the clamped weights of the
     * widest Linear (qkv, fc1, fc2 or the head), the clamped inputs and Z, S */
    size_t EF = 3 * E > F ? 3 * E : F;
    /* full LRP's patch conv (vit_lrp.c, rule set ORIG) holds W± [E, K] in pw/nw and
     * three [M, K] products in px, nx, Z (K = C·P·P: within the sizes above for
     * DeiT and the demo model, so their contexts are the size they were) */
    const size_t Kp = (size_t)g->in_chans * g->patch_size * g->patch_size;
    if (Kp > EF) EF = Kp;
    const size_t wmax = E * EF > C * E ? E * EF : C * E;
    const size_t xmax = L * (E > F ? (E > Kp ? E : Kp) : (F > Kp ? F : Kp)), zmax = L * EF;
    vit_lrp_ws *r = &s->lrp;
    r->pw = mxb_carve(cv, wmax);
    r->nw = mxb_carve(cv, wmax);
    r->px = mxb_carve(cv, xmax);
    r->nx = mxb_carve(cv, xmax);
    r->Z = mxb_carve(cv, zmax);
    r->S = mxb_carve(cv, zmax);
    r->cam = mxb_carve(cv, L * E);
    r->ra = mxb_carve(cv, L * E);
    r->rb = mxb_carve(cv, L * E);
    r->tmpE = mxb_carve(cv, L * E);
    r->xout = mxb_carve(cv, L * E);
    r->rF = mxb_carve(cv, L * F);
    r->rqkv = mxb_carve(cv, L * 3 * E);
    r->Sm = mxb_carve(cv, L * L);
}

/* tokens: [cls; patches] + pos_embed */
static void vit_embed(mxb_ctx *c, const float *image, float *x) {
    const mxb_model *m = c->m;
    const mxb_config *g = &m->cfg;
    const int E = g->embed_dim, M = g->num_patches;
    const int K = g->in_chans * g->patch_size * g->patch_size;
    mxb_patchify(c->patches, image, g->in_chans, g->img_size, g->patch_size);
    mxb_linear_forward(x + E, c->patches, m->patch_w, m->patch_b, M, K, E, 0.0f);
    memcpy(x, m->cls_token, (size_t)E * sizeof(float));
    for (size_t i = 0; i < (size_t)(M + 1) * E; i++) x[i] += m->pos_embed[i];
}

/* Multi-head self-attention of one block: qkv -> attn probs -> ctx. */
static void vit_attention_forward(const mxb_config *g, vit_block_act *a) {
    const int L = g->seq_len, E = g->embed_dim, H = g->num_heads, hd = E / H;
    const float scale = 1.0f / sqrtf((float)hd);
    /* Heads one per thread: a head's products are too narrow (197 and 64 columns)
     * to split into panels, and each is one serial call whatever the thread count,
     * so the bits do not depend on it. */
#pragma omp parallel for schedule(static)
    for (int h = 0; h < H; h++) {
        const float *q = a->qkv + h * hd, *k = a->qkv + E + h * hd, *v = a->qkv + 2 * E + h * hd;
        float *att = a->attn + (size_t)h * L * L;
        mxb_sgemm_rm(CblasNoTrans, CblasTrans, L, L, hd, scale, q, 3 * E, k, 3 * E,
                    0.0f, att, L);
        mxb_softmax_rows(att, L, L);
        mxb_sgemm_rm(CblasNoTrans, CblasNoTrans, L, hd, L, 1.0f, att, L, v, 3 * E,
                    0.0f, a->ctx + h * hd, E);
    }
}

void mxb_vit_forward(mxb_ctx *c, const float *image, float *logits) {
    const mxb_model *m = c->m;
    const mxb_config *g = &m->cfg;
    const int L = g->seq_len, E = g->embed_dim, F = g->mlp_hidden;
    float *x = c->vit.act[0].x_in;
    vit_embed(c, image, x);
    for (int i = 0; i < g->depth; i++) {
        const vit_block_w *w = &m->blocks[i];
        vit_block_act *a = &c->vit.act[i < c->nact ? i : 0];
        if (x != a->x_in) memcpy(a->x_in, x, (size_t)L * E * sizeof(float));
        mxb_layernorm_forward(a->ln1, a->ln1_rstd, a->x_in, w->ln1_w, w->ln1_b, L, E, g->norm_eps);
        mxb_linear_forward(a->qkv, a->ln1, w->qkv_w, w->qkv_b, L, E, 3 * E, 0.0f);
        vit_attention_forward(g, a);
        memcpy(a->x_mid, a->x_in, (size_t)L * E * sizeof(float));
        mxb_linear_forward(a->x_mid, a->ctx, w->proj_w, w->proj_b, L, E, E, 1.0f);
        mxb_layernorm_forward(a->ln2, a->ln2_rstd, a->x_mid, w->ln2_w, w->ln2_b, L, E, g->norm_eps);
        mxb_linear_forward(a->fc1, a->ln2, w->fc1_w, w->fc1_b, L, E, F, 0.0f);
#pragma omp parallel for schedule(static)
        for (int t = 0; t < L; t++) /* element-wise: any split of the rows gives the same bits */
            for (int j = 0; j < F; j += 16) {
                const size_t k = (size_t)t * F + j;
                const int n = F - j < 16 ? F - j : 16;
                vf16_store_part(a->gelu + k, vf16_gelu(vf16_load_part(a->fc1 + k, n)), n);
            }
        /* the block output is the next block's input (or the stream kept for the head) */
        x = (i + 1 < c->nact) ? c->vit.act[i + 1].x_in : c->tokens;
        memcpy(x, a->x_mid, (size_t)L * E * sizeof(float));
        mxb_linear_forward(x, a->gelu, w->fc2_w, w->fc2_b, L, F, E, 1.0f);
    }
    /* only the class token reaches the head */
    memcpy(c->final_in, x, (size_t)E * sizeof(float));
    mxb_layernorm_forward(c->final_norm, &c->final_rstd, c->final_in, m->norm_w, m->norm_b, 1, E,
                      g->final_norm_eps);
    mxb_linear_forward(logits, c->final_norm, m->head_w, m->head_b, 1, E, g->num_classes, 0.0f);
}

void mxb_vit_backward(mxb_ctx *c, const float *seed) {
    const mxb_model *m = c->m;
    const mxb_config *g = &m->cfg;
    const int L = g->seq_len, E = g->embed_dim, F = g->mlp_hidden, H = g->num_heads, hd = E / H;
    const float scale = 1.0f / sqrtf((float)hd);
    const vit_grad_ws *ws = &c->vit.grad;
    float *dx = ws->dx, *dmid = ws->dmid, *dln = ws->dln, *dctx = ws->dctx, *dqkv = ws->dqkv;
    float *dh = ws->dh, *dS = ws->dS;

    /* head and final norm touch the class token only */
    memset(dx, 0, (size_t)L * E * sizeof(float));
    float dnorm[E];
    cblas_sgemv(CblasRowMajor, CblasTrans, g->num_classes, E, 1.0f, m->head_w, E, seed, 1, 0.0f,
                dnorm, 1);
    mxb_layernorm_backward(dx, dnorm, c->final_in, &c->final_rstd, m->norm_w, 1, E, 0.0f);

    for (int i = g->depth - 1; i >= 0; i--) {
        const vit_block_w *w = &m->blocks[i];
        vit_block_act *a = &c->vit.act[i];
        /* MLP: x_out = x_mid + fc2(gelu(fc1(ln2(x_mid)))) */
        mxb_sgemm_rm(CblasNoTrans, CblasNoTrans, L, F, E, 1.0f, dx, E, w->fc2_w, F,
                    0.0f, dh, F);
        for (size_t k = 0; k < (size_t)L * F; k += 16) {
            const int n = (size_t)L * F - k < 16 ? (int)((size_t)L * F - k) : 16;
            const vf16 g = vf16_gelu_grad(vf16_load_part(a->fc1 + k, n));
            vf16_store_part(dh + k, vf16_load_part(dh + k, n) * g, n);
        }
        mxb_linear_backward_input(dln, dh, w->fc1_w, L, E, F, 0.0f);
        memcpy(dmid, dx, (size_t)L * E * sizeof(float));
        mxb_layernorm_backward(dmid, dln, a->x_mid, a->ln2_rstd, w->ln2_w, L, E, 1.0f);
        /* attention: x_mid = x_in + proj(attn @ v) */
        mxb_linear_backward_input(dctx, dmid, w->proj_w, L, E, E, 0.0f);
        for (int h = 0; h < H; h++) {
            const float *q = a->qkv + h * hd, *k = a->qkv + E + h * hd;
            const float *v = a->qkv + 2 * E + h * hd;
            const float *att = a->attn + (size_t)h * L * L;
            float *dA = a->attn_grad + (size_t)h * L * L;
            /* dA = dctx_h v_h^T ; dv_h = A^T dctx_h */
            mxb_sgemm_rm(CblasNoTrans, CblasTrans, L, L, hd, 1.0f, dctx + h * hd, E,
                        v, 3 * E, 0.0f, dA, L);
            mxb_sgemm_rm(CblasTrans, CblasNoTrans, L, hd, L, 1.0f, att, L,
                        dctx + h * hd, E, 0.0f, dqkv + 2 * E + h * hd, 3 * E);
            /* softmax backward, then the scaled scores q k^T */
            for (int r = 0; r < L; r++) {
                const float *ar = att + (size_t)r * L, *gr = dA + (size_t)r * L;
                float *sr = dS + (size_t)r * L;
                double dot = 0;
                for (int j = 0; j < L; j++) dot += (double)ar[j] * gr[j];
                for (int j = 0; j < L; j++) sr[j] = ar[j] * (gr[j] - (float)dot) * scale;
            }
            mxb_sgemm_rm(CblasNoTrans, CblasNoTrans, L, hd, L, 1.0f, dS, L, k,
                        3 * E, 0.0f, dqkv + h * hd, 3 * E);
            mxb_sgemm_rm(CblasTrans, CblasNoTrans, L, hd, L, 1.0f, dS, L, q, 3 * E,
                        0.0f, dqkv + E + h * hd, 3 * E);
        }
        mxb_linear_backward_input(dln, dqkv, w->qkv_w, L, E, 3 * E, 0.0f);
        memcpy(dx, dmid, (size_t)L * E * sizeof(float));
        mxb_layernorm_backward(dx, dln, a->x_in, a->ln1_rstd, w->ln1_w, L, E, 1.0f);
        memcpy(a->x_in_grad, dx, (size_t)L * E * sizeof(float));
    }
}

/* ---- the trace --------------------------------------------------------------------- */

static const vit_block_act *traced_block(const mxb_ctx *c, int b) {
    return c->m->cfg.arch == MXB_ARCH_VIT && mxb_ctx_traced_layer(c, b) ? &c->vit.act[b] : NULL;
}
const float *mxb_vit_attn(const mxb_ctx *c, int b) {
    const vit_block_act *a = traced_block(c, b);
    return a ? a->attn : NULL;
}
const float *mxb_vit_attn_grad(const mxb_ctx *c, int b) {
    const vit_block_act *a = traced_block(c, b);
    return a ? a->attn_grad : NULL;
}
const float *mxb_vit_attn_relevance(const mxb_ctx *c, int b) {
    const vit_block_act *a = traced_block(c, b);
    return a ? a->attn_rel : NULL;
}
const float *mxb_vit_block_grad(const mxb_ctx *c, int b) {
    const vit_block_act *a = traced_block(c, b);
    return a ? a->x_in_grad : NULL;
}
const float *mxb_vit_qkv(const mxb_ctx *c, int b) {
    const vit_block_act *a = traced_block(c, b);
    return a ? a->qkv : NULL;
}
