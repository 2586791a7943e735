/* Input x Gradient (Captum InputXGradient): A = x ⊙ ∇_x logit_cls(x), summed over
 * channels (docs/METHODS-v2.md §3.5.1, §3.6). The host's traced forward is x's: one
 * backward to the input is all it costs. */
#include "methods/pixel_common.h"

static int ixg_cost(const mxb_explain_input *g, const double *params, mxb_cost *out) {
    (void)params;
    *out = (mxb_cost){.traced_forwards = 1, .backwards = 1,
                      .scratch_bytes = (size_t)g->num_classes * sizeof(float) +
                                       (size_t)g->in_chans * g->img_size * g->img_size * sizeof(float)};
    return 0;
}

static int ixg_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    const px_geom G = px_geometry(in);
    float *w = px_scratch(in, (size_t)G.K * sizeof *w, "ixg", err, errlen);
    float *a = w ? px_scratch(in, G.nin * sizeof *a, "ixg", err, errlen) : NULL;
    if (!a) return -1;
    px_onehot(w, G.K, in->explained_class);
    /* the trace is x's already (the host's forward) */
    const float *g = NULL;
    if (in->model->backward(in->run, w, MXB_OUT_INPUT) || !(g = in->model->input_grad(in->run))) {
        snprintf(err, errlen, "ixg: the model's gradient pass failed");
        return -1;
    }
    for (size_t i = 0; i < G.nin; i++) a[i] = in->input[i] * g[i];
    px_channel_sum(a, G.C, G.npix, map);
    return 0;
}

const mxb_method mxb_method_ixg = {
    .abi_version = MXB_METHOD_ABI_VERSION,
    .name = "ixg",
    .description = "Input x Gradient (Captum InputXGradient), channels summed",
    .archs = MXB_METHOD_VIT | MXB_METHOD_VIM,
    .needs = MXB_NEEDS_MODEL,
    .class_specific = 1,
    .explain = ixg_explain,
    .family = "gradient",
    .map_kind = MXB_MAP_PIXELS,
    .cost = ixg_cost,
};
