/* Contexts: the one arena a context computes in, laid out by its model family
 * (mxb_vit_layout, mxb_vim_layout), what it costs before it is made, and the
 * dispatch of the passes to the family. */
#include "engine/internal.h"
#include "io/io.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The whole arena: what both families share, then the family's own. */
static void ctx_layout(const mxb_config *g, int flags, int nact, mxb_carver *cv, mxb_ctx *c) {
    const size_t L = (size_t)g->seq_len, E = (size_t)g->embed_dim, M = (size_t)g->num_patches;
    const size_t K = (size_t)g->in_chans * g->patch_size * g->patch_size;
    const int traced = (flags & MXB_TRACE_KEEP) != 0;
    c->tokens = mxb_carve(cv, L * E);
    c->patches = mxb_carve(cv, M * K);
    c->final_in = mxb_carve(cv, E);
    c->final_norm = mxb_carve(cv, E);
    if (g->arch == MXB_ARCH_VIT)
        mxb_vit_layout(g, nact, traced, cv, &c->vit);
    else
        mxb_vim_layout(g, nact, traced, cv, &c->vim);
}

/* Without a trace one set of layer buffers is reused by every layer. */
static int ctx_nact(const mxb_config *g, int flags) { return (flags & MXB_TRACE_KEEP) ? g->depth : 1; }

/* what a context of this (finished) config and flags allocates: the struct, the
 * arena and the slack that aligns it */
static size_t ctx_total_bytes(size_t arena_bytes) { return sizeof(mxb_ctx) + arena_bytes + 63; }

mxb_ctx *mxb_ctx_new(const mxb_model *m, int flags) {
    const mxb_config *g = &m->cfg;
    mxb_ctx *c = mxb_alloc0(1, sizeof *c, "a context");
    c->m = m;
    c->flags = flags;
    c->nact = ctx_nact(g, flags);
    mxb_carver cv = {0};
    ctx_layout(g, flags, c->nact, &cv, c);
    /* sized from the model's checked config (mxb_config_bytes tells a run the same
     * number before it loads anything) */
    c->arena_bytes = cv.used;
    c->arena_raw = mxb_alloc0(1, cv.used + 63, "a model context");
    cv = (mxb_carver){(char *)(((uintptr_t)c->arena_raw + 63) & ~(uintptr_t)63), 0};
    ctx_layout(g, flags, c->nact, &cv, c);
    return c;
}

void mxb_ctx_free(mxb_ctx *c) {
    if (!c) return;
    free(c->arena_raw);
    free(c);
}

size_t mxb_ctx_bytes(const mxb_ctx *c) { return ctx_total_bytes(c->arena_bytes); }

/* The same tables and layouts the allocating code walks, with nothing behind them:
 * what a run would take, known before a byte of it is allocated. */
int mxb_config_bytes(const mxb_config *cfg, size_t *model_bytes, size_t *ctx_keep_bytes,
                     size_t *ctx_plain_bytes) {
    mxb_model m = {.cfg = *cfg};
    if (mxb_config_finish(&m.cfg, NULL, 0)) return -1;
    const mxb_config *g = &m.cfg;
    if (model_bytes) {
        mxb_params_table(&m);
        *model_bytes = (mxb_params_floats(&m) + mxb_params_derived_floats(g)) * sizeof(float);
        free(m.params);
    }
    for (int keep = 0; keep < 2; keep++) {
        size_t *out = keep ? ctx_keep_bytes : ctx_plain_bytes;
        if (!out) continue;
        const int flags = keep ? MXB_TRACE_KEEP : MXB_TRACE_NONE;
        mxb_ctx sizing = {0};
        mxb_carver cv = {0};
        ctx_layout(g, flags, ctx_nact(g, flags), &cv, &sizing);
        *out = ctx_total_bytes(cv.used);
    }
    return 0;
}

void mxb_forward(mxb_ctx *c, const float *image, float *logits) {
    if (c->m->cfg.arch == MXB_ARCH_VIT)
        mxb_vit_forward(c, image, logits);
    else
        mxb_vim_forward(c, image, logits);
}

void mxb_backward(mxb_ctx *c, const float *seed) {
    if (!(c->flags & MXB_TRACE_KEEP)) return;
    if (c->m->cfg.arch == MXB_ARCH_VIT)
        mxb_vit_backward(c, seed);
    else
        mxb_vim_backward(c, seed);
}

int mxb_ctx_traced_layer(const mxb_ctx *c, int layer) {
    return (c->flags & MXB_TRACE_KEEP) && layer >= 0 && layer < c->m->cfg.depth;
}
