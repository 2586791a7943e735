/* Gradients to the embedded tokens and through the patch embedding to the pixels
 * (docs/METHODS-v2.md E2): what Input x Gradient, Integrated Gradients and SmoothGrad
 * need. The backward passes (engine/vit.c, engine/vim.c) already end with the token
 * gradient in their workspace; this reads it and runs the one layer they stop before. */
#include "engine/internal.h"
#include "io/io.h"

#include <stdlib.h>
#include <string.h>

const float *mxb_tokens(const mxb_ctx *c) {
    if (!(c->flags & MXB_TRACE_KEEP)) return NULL;
    return c->m->cfg.arch == MXB_ARCH_VIT ? c->vit.act[0].x_in : c->tokens;
}

const float *mxb_token_grad(const mxb_ctx *c) {
    if (!(c->flags & MXB_TRACE_KEEP)) return NULL;
    /* ViT: dx at block 0's input; ViM: G at layer 0's residual (= the tokens) */
    return c->m->cfg.arch == MXB_ARCH_VIT ? c->vit.grad.dx : c->vim.grad.G;
}

int mxb_input_grad(const mxb_ctx *c, float *out) {
    const float *dT = mxb_token_grad(c);
    if (!dT) return -1;
    const mxb_config *g = &c->m->cfg;
    const int E = g->embed_dim, M = g->num_patches, C = g->in_chans, S = g->img_size, P = g->patch_size;
    const int K = C * P * P, G = g->grid;
    /* the conv (stride = kernel) is patches [M, K] · W^T: its input gradient is
     * dT_patches [M, E] · W [E, K], then the inverse of mxb_patchify (no overlap) */
    float *dP = mxb_alloc((size_t)M * K * sizeof *dP, "the patch gradient"); /* a checked config's size */
    if (g->arch == MXB_ARCH_VIT) {
        mxb_sgemm(0, 0, M, K, E, 1.0f, dT + E, E, c->m->patch_w, K, 0.0f, dP, K);
    } else { /* the class token sits at cls_pos between the patches */
        const int cls = g->cls_pos;
        if (cls > 0) mxb_sgemm(0, 0, cls, K, E, 1.0f, dT, E, c->m->patch_w, K, 0.0f, dP, K);
        mxb_sgemm(0, 0, M - cls, K, E, 1.0f, dT + (size_t)(cls + 1) * E, E, c->m->patch_w, K, 0.0f,
                  dP + (size_t)cls * K, K);
    }
    for (int gy = 0; gy < G; gy++)
        for (int gx = 0; gx < G; gx++) {
            const float *row = dP + (size_t)(gy * G + gx) * K;
            for (int ch = 0; ch < C; ch++)
                for (int ky = 0; ky < P; ky++)
                    memcpy(out + ((size_t)ch * S + gy * P + ky) * S + (size_t)gx * P, row + (ch * P + ky) * P,
                           (size_t)P * sizeof(float));
        }
    free(dP);
    return 0;
}
