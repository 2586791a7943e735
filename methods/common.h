/* Private to methods/: what the built-ins share. */
#ifndef MXB_METHODS_COMMON_H
#define MXB_METHODS_COMMON_H

#include "io/io.h"
#include "methods/method.h"

#include <stdio.h>

/* The original ViM code starts at layer 15 of 24; other depths keep the proportion. */
static inline int vim_start_layer(const mxb_explain_input *in) {
    return in->start_layer >= 0 ? in->start_layer : in->depth * 15 / 24;
}
/* Chefer et al.'s generate_visualizations.py: rollout and attribution from block 1. */
static inline int vit_start_layer(const mxb_explain_input *in) {
    return in->start_layer >= 0 ? in->start_layer : (in->depth > 1 ? 1 : 0);
}

static inline int check_start(const mxb_explain_input *in, int start, const char *method,
                              char *err, size_t errlen) {
    if (start < 0 || start >= in->depth) {
        snprintf(err, errlen, "%s: start layer %d is outside 0..%d", method, start, in->depth - 1);
        return -1;
    }
    return 0;
}

/* (x - min) / (max - min) over n values, as the original's min-max; a constant
 * input (where the original divides 0 by 0) becomes all zeros. */
static inline void minmax_inplace(float *x, size_t n) {
    float lo = x[0], hi = x[0];
    for (size_t i = 1; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    /* near FLT_MAX hi - lo overflows: halved (exact), the same bits as at any smaller scale */
    const float s = isinf(hi - lo) && isfinite(hi) && isfinite(lo) ? 0.5f : 1.0f;
    const float range = hi * s - lo * s;
    for (size_t i = 0; i < n; i++) x[i] = range > 0 ? (x[i] * s - lo * s) / range : 0.0f;
}

/* mean over the first axis of [rows, L] into out [L] (sum then divide, as torch) */
static inline void mean_rows(const float *x, int rows, int L, float *out) {
    for (int j = 0; j < L; j++) out[j] = 0;
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < L; j++) out[j] += x[(size_t)r * L + j];
    for (int j = 0; j < L; j++) out[j] /= (float)rows;
}

/* ViM: gradient-weighted hidden-attention rollout (methods/attribution.c), shared by
 * Mamba-Attribution (MXB_FUSE_MINMAX_ROWS) and UIA (MXB_FUSE_MINMAX_FUSED). */
enum { MXB_FUSE_MINMAX_ROWS = 1u << 0, MXB_FUSE_MINMAX_FUSED = 1u << 1 };
int mxb_vim_gradient_rollout(const mxb_explain_input *in, float *map, const char *name, unsigned flags, char *err,
                             size_t errlen);

#endif
