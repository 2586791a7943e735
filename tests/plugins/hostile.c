/* Hostile ABI v2 methods (issue 23, classes 3 and 9): what a plugin may declare and ask
 * for, at the edges. mxb's answers are in methods/method.h (scratch, cost) and tested by
 * tests/cli_hostile.sh.
 *   hugescratch  declares SIZE_MAX - 8 scratch bytes and asks for them: scratch() must
 *                answer NULL (no wrap to a small block); fails saying what it got
 *   manyblocks   declares 200 blocks of 64 bytes and asks for them one by one: every
 *                one inside the declared total must come, the 201st must not
 *   nancost / negcost / infcost  cost() returns a NaN, negative or infinite count
 *   nullargs     passes NULL for the run, the trace and an output buffer to every call
 *                that takes them (class 12): each must fail, not crash the host */
#include "methods/method.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define BLOCKS 200

static int huge_cost(const mxb_explain_input *g, const double *p, mxb_cost *out) {
    (void)g, (void)p;
    out->scratch_bytes = SIZE_MAX - 8;
    return 0;
}
static int huge_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    (void)map;
    void *p = in->model->scratch(in->run, SIZE_MAX - 8);
    snprintf(err, errlen, "scratch(SIZE_MAX-8) gave %s", p ? "a pointer" : "NULL");
    return -1;
}

static int many_cost(const mxb_explain_input *g, const double *p, mxb_cost *out) {
    (void)g, (void)p;
    out->scratch_bytes = BLOCKS * 64;
    return 0;
}
static int many_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    for (int i = 0; i < BLOCKS; i++) {
        unsigned char *b = in->model->scratch(in->run, 64);
        if (!b) {
            snprintf(err, errlen, "scratch(64) number %d of %d inside the declared total gave NULL", i + 1, BLOCKS);
            return -1;
        }
        if ((uintptr_t)b % 64) {
            snprintf(err, errlen, "scratch(64) number %d is not 64-byte aligned", i + 1);
            return -1;
        }
        memset(b, i, 64); /* every byte is ours (ASan would see an overrun) */
    }
    if (in->model->scratch(in->run, 1)) {
        snprintf(err, errlen, "scratch past the declared total gave a pointer");
        return -1;
    }
    for (int i = 0; i < in->grid * in->grid; i++) map[i] = (float)i;
    return 0;
}

static int zero_map(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    (void)err, (void)errlen;
    for (int i = 0; i < in->grid * in->grid; i++) map[i] = (float)i;
    return 0;
}
static int nan_cost(const mxb_explain_input *g, const double *p, mxb_cost *out) {
    (void)g, (void)p;
    out->traced_forwards = NAN;
    return 0;
}
static int neg_cost(const mxb_explain_input *g, const double *p, mxb_cost *out) {
    (void)g, (void)p;
    out->backwards = -5;
    return 0;
}
static int inf_cost(const mxb_explain_input *g, const double *p, mxb_cost *out) {
    (void)g, (void)p;
    out->plain_forwards = INFINITY;
    return 0;
}

static int null_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    (void)map;
    const mxb_model_api *a = in->model;
    const int ok = a->forward(NULL, NULL, NULL, 0) < 0 && a->forward_many(NULL, 1, NULL, NULL) < 0 &&
                   a->backward(NULL, NULL, 0) < 0 && !a->input_grad(NULL) && !a->tokens(NULL) &&
                   !a->token_grad(NULL) && !a->layer_grad(NULL, 0) && !a->scratch(NULL, 8) &&
                   !a->vim_s6(NULL, 0, 0, 0, NULL) && !a->vit_qkv(NULL, 0, 0) && a->relevance(NULL, NULL, 0) < 0 &&
                   !a->token_relevance(NULL) && !a->pixel_relevance(NULL) && !a->attn_relevance(NULL, 0) &&
                   (!in->xai_vector || in->xai_vector(in->trace, 0, NULL) < 0) &&
                   (!in->xai_vector || in->xai_vector(NULL, 0, NULL) < 0) && (!in->attn || !in->attn(NULL, 0));
    snprintf(err, errlen, "%s", ok ? "every NULL argument was refused" : "a NULL argument was taken");
    return -1;
}

#define HOSTILE(sym, nm, fn, costfn)                                                    \
    static const mxb_method sym = {                                                     \
        .abi_version = MXB_METHOD_ABI_VERSION,                                          \
        .name = nm,                                                                     \
        .description = "a hostile test plugin (tests/plugins/hostile.c)",               \
        .archs = MXB_METHOD_VIT | MXB_METHOD_VIM,                                       \
        .needs = MXB_NEEDS_MODEL,                                                       \
        .explain = fn,                                                                  \
        .family = "test",                                                               \
        .cost = costfn,                                                                 \
    }
HOSTILE(hugescratch, "hugescratch", huge_explain, huge_cost);
HOSTILE(manyblocks, "manyblocks", many_explain, many_cost);
HOSTILE(nancost, "nancost", zero_map, nan_cost);
HOSTILE(negcost, "negcost", zero_map, neg_cost);
HOSTILE(infcost, "infcost", zero_map, inf_cost);
HOSTILE(nullargs, "nullargs", null_explain, NULL);

static const mxb_method *const methods[] = {&hugescratch, &manyblocks, &nancost, &negcost, &infcost, &nullargs};
const mxb_method *const *mxb_plugin_methods(int *count) {
    *count = (int)(sizeof methods / sizeof *methods);
    return methods;
}
