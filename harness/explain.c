/* One explanation: forward (traced), the passes the method needs, the method. The
 * class choice lives here, once, for every method. */
#include "harness/harness.h"
#include "metrics/metrics.h"

#include "io/io.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    mxb_ctx *c;
    mxb_variant variant;
} trace_handle;

static const float *tr_attn(void *t, int b) { return mxb_vit_attn(((trace_handle *)t)->c, b); }
static const float *tr_attn_grad(void *t, int b) {
    return mxb_vit_attn_grad(((trace_handle *)t)->c, b);
}
static const float *tr_attn_rel(void *t, int b) {
    return mxb_vit_attn_relevance(((trace_handle *)t)->c, b);
}
static const float *tr_residual(void *t, int l) {
    return mxb_vim_residual(((trace_handle *)t)->c, l);
}
static const float *tr_residual_grad(void *t, int l) {
    return mxb_vim_residual_grad(((trace_handle *)t)->c, l);
}
static int tr_xai(void *t, int l, float *out) {
    trace_handle *h = t;
    return mxb_vim_xai_vector(h->c, l, h->variant, out);
}

/* Decided: a method (a plugin) that calls exit() while explaining ends mxb; it runs
 * in-process and cannot be stopped from doing so. What mxb guarantees is that this is
 * not mistaken for success: the exit is reported as the method's, on one line, with
 * status 1 (mxb run's finished images are in its journal; the same command resumes). */
/* the plugin ABI's family numbers are the engine's (mxb_explain_input.arch = cfg.arch) */
_Static_assert((int)MXB_METHOD_ARCH_VIT == (int)MXB_ARCH_VIT && (int)MXB_METHOD_ARCH_VIM == (int)MXB_ARCH_VIM, "arch ABI");
/* per thread: with several images in flight (issue 13) methods run on several threads
 * at once, and atexit handlers run on the thread that called exit() */
static _Thread_local const char *volatile in_method;
static atomic_int exit_guard_set;
static void exit_guard(void) {
    if (!in_method || mxb_out_of_memory_exiting()) return; /* the allocator's exit, reported */
    fprintf(stderr, "mxb: method '%s' called exit() while explaining an image; stopped (mxb run resumes from its "
                    "journal)\n", in_method);
    fflush(stderr);
    _exit(1);
}

int mxb_explain_one(mxb_ctx *c, const mxb_model *m, const mxb_method *method, const float *image,
                    const mxb_explain_opts *opts, float *logits, int *explained, float *map,
                    char *err, size_t errlen) {
    const mxb_config *g = mxb_model_config(m);
    if (!(method->archs & (1u << g->arch))) {
        snprintf(err, errlen, "method '%s' does not support %s models", method->name,
                 mxb_arch_name(g->arch));
        return -1;
    }
    if (opts->class_index >= g->num_classes) {
        snprintf(err, errlen, "class %d is outside 0..%d", opts->class_index, g->num_classes - 1);
        return -1;
    }
    mxb_forward(c, image, logits);
    int cls = opts->class_index;
    if (cls < 0) cls = mxb_argmax(logits, g->num_classes); /* the prediction */
    *explained = cls;
    if (method->needs & (MXB_NEEDS_GRADIENT | MXB_NEEDS_RELEVANCE)) {
        float *seed = mxb_alloc0((size_t)g->num_classes, sizeof *seed, "the seed"); /* a checked config's size */
        seed[cls] = 1;
        if (method->needs & MXB_NEEDS_GRADIENT) mxb_backward(c, seed);
        int rc = 0;
        if ((method->needs & MXB_NEEDS_RELEVANCE) && g->arch == MXB_ARCH_VIT)
            rc = mxb_relevance(c, seed);
        free(seed);
        if (rc) {
            snprintf(err, errlen, "LRP relevance pass failed (out of memory?)");
            return -1;
        }
    }
    trace_handle h = {c, opts->variant};
    mxb_explain_input in = {
        .struct_size = sizeof in, .arch = g->arch, .depth = g->depth, .seq_len = g->seq_len,
        .cls_pos = g->cls_pos, .grid = g->grid, .embed_dim = g->embed_dim,
        .num_heads = g->num_heads, .d_inner = g->d_inner, .num_classes = g->num_classes,
        .in_chans = g->in_chans, .img_size = g->img_size, .explained_class = cls,
        .variant = opts->variant, .start_layer = opts->start_layer, .input = image,
        .logits = logits, .trace = &h, .attn = tr_attn, .attn_grad = tr_attn_grad,
        .attn_relevance = tr_attn_rel, .residual = tr_residual,
        .residual_grad = tr_residual_grad, .xai_vector = tr_xai,
    };
    char msg[400] = "";
    in_method = method->name;
    if (!atomic_load(&exit_guard_set) && !atomic_exchange(&exit_guard_set, 1)) atexit(exit_guard);
    int failed = method->explain(&in, map, msg, sizeof msg);
    in_method = NULL;
    if (failed) {
        /* a plugin's message may hold line breaks or other control bytes: one line */
        msg[sizeof msg - 1] = 0;
        for (char *p = msg; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
        snprintf(err, errlen, "method '%s': %s", method->name, msg[0] ? msg : "failed");
        return -1;
    }
    /* Decided: a map with a NaN or infinite value is the method's error, not a result.
     * Scoring it would order pixels by NaN (an arbitrary order) and report normal-looking
     * numbers; so the image fails with this message (mxb run stops; the journal keeps
     * the finished images). */
    int bad = 0;
    for (int i = 0; i < g->num_patches; i++) bad += !isfinite(map[i]);
    if (bad) {
        snprintf(err, errlen, "method '%s' returned a map with %d of %d values NaN or infinite", method->name, bad,
                 g->num_patches);
        return -1;
    }
    return 0;
}
