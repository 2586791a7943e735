/* Private to engine/: the context — one arena per context, carved by its model
 * family (engine/vit.c, engine/vim.c) — and the carver that sizes and places it.
 * The other private headers: engine/params.h (a model's parameters), engine/ops.h
 * (the shared kernels), engine/simd.h (the vector math), engine/vit.h and
 * engine/vim.h (what each family keeps in a context). */
#ifndef MXB_ENGINE_INTERNAL_H
#define MXB_ENGINE_INTERNAL_H

#include "engine/engine.h"
#include "engine/params.h"
#include "engine/vim.h"
#include "engine/vit.h"

#include <stddef.h>

/* The llm.c pattern: a layout walks its buffers twice, first with base NULL (every
 * pointer NULL, only `used` advances: the size), then over the allocation (the
 * places). One walk does both, so what is sized and what is carved cannot disagree.
 * Every buffer starts on a 64-byte boundary of a 64-byte aligned base. */
struct mxb_carver {
    char *base;
    size_t used; /* bytes */
};

static inline void *mxb_carve_bytes(mxb_carver *cv, size_t bytes) {
    void *p = cv->base ? cv->base + cv->used : NULL;
    cv->used += (bytes + 63) & ~(size_t)63;
    return p;
}
static inline float *mxb_carve(mxb_carver *cv, size_t nfloats) {
    return mxb_carve_bytes(cv, nfloats * sizeof(float));
}

struct mxb_ctx {
    const mxb_model *m;
    int flags;
    int nact;           /* layers with their own activation slots: depth traced, else 1 */
    void *arena_raw;    /* the one allocation; the arena is its 64-byte aligned part */
    size_t arena_bytes;
    /* shared by both families (engine/context.c lays them out) */
    float *tokens;      /* [L, E] embedded input */
    float *patches;     /* [M, C*P*P] im2col of the input */
    float *final_in;    /* [E] residual at the class token before the final norm */
    float *final_norm;  /* [E] */
    float final_rstd;
    /* the family's own (its layout function places them); only c->m->cfg.arch's is set */
    vit_state vit;
    vim_state vim;
};

/* a traced context and a layer in range: its trace may be read */
int mxb_ctx_traced_layer(const mxb_ctx *c, int layer);

#endif
