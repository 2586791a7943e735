/* Private to methods/: what the model-agnostic (pixel) methods share — the model-call
 * checks, the one-hot weight vector, the channel reduction of docs/METHODS-v2.md §3.6. */
#ifndef MXB_METHODS_PIXEL_COMMON_H
#define MXB_METHODS_PIXEL_COMMON_H

#include "methods/method.h"

#include <stdio.h>
#include <string.h>

/* the sizes a pixel method works with */
typedef struct {
    int C, S, K;      /* channels, side, classes */
    size_t npix, nin; /* S*S, C*S*S */
} px_geom;

static inline px_geom px_geometry(const mxb_explain_input *in) {
    px_geom g = {in->in_chans, in->img_size, in->num_classes, (size_t)in->img_size * in->img_size, 0};
    g.nin = (size_t)g.C * g.npix;
    return g;
}

/* scratch, or a one-line error (the declared cost was too small: the method's bug) */
static inline void *px_scratch(const mxb_explain_input *in, size_t bytes, const char *method, char *err,
                               size_t errlen) {
    void *p = in->model->scratch(in->run, bytes);
    if (!p) snprintf(err, errlen, "%s: no scratch memory for %zu bytes", method, bytes);
    return p;
}

/* a [C, S, S] attribution summed over channels, signed, into [S, S] (§3.6, channels = sum) */
static inline void px_channel_sum(const float *a, int C, size_t npix, float *out) {
    memcpy(out, a, npix * sizeof *out);
    for (int c = 1; c < C; c++)
        for (size_t i = 0; i < npix; i++) out[i] += a[(size_t)c * npix + i];
}

/* the gradient of the explained class's logit at image x (a traced forward, then the
 * backward to the input); w: [K] scratch holding the one-hot */
static inline const float *px_gradient(const mxb_explain_input *in, const float *x, const float *w,
                                       const char *method, char *err, size_t errlen) {
    const mxb_model_api *api = in->model;
    const float *g = NULL;
    if (api->forward(in->run, x, NULL, MXB_FWD_TRACE) || api->backward(in->run, w, MXB_OUT_INPUT) ||
        !(g = api->input_grad(in->run)))
        snprintf(err, errlen, "%s: the model's gradient pass failed", method);
    return g;
}

/* the one-hot of the explained class */
static inline void px_onehot(float *w, int K, int cls) {
    memset(w, 0, (size_t)K * sizeof *w);
    w[cls] = 1;
}

#endif
