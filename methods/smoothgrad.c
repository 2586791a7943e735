/* SmoothGrad (Captum NoiseTunnel(Saliency), nt_type "smoothgrad"): the mean over
 * `samples` noisy copies x + ε_k of |∇ logit_cls|, ε ~ N(0, σ²) i.i.d. per element with
 * an ABSOLUTE σ in normalised units (Captum's stdevs, default 1.0), channels summed.
 * The noise is the shared generator's (method.h) from the image's seed (method.h: the
 * run's seed and the image's id): noise[k,c,y,x] = float32(σ · normal[((k·C + c)·S + y)·S + x]).
 * docs/METHODS-v2.md §3.5.3. */
#include "methods/pixel_common.h"

#include <math.h>

static const mxb_param_spec sg_params[] = {
    {"samples", MXB_PARAM_INT, 5, 1, 100000, NULL, "nt_samples: noisy copies"},
    {"sigma", MXB_PARAM_REAL, 1.0, 0, 1e6, NULL, "stdevs: the noise's standard deviation (normalised units)"},
};

static int sg_cost(const mxb_explain_input *g, const double *p, mxb_cost *out) {
    const int n = (int)p[0];
    const size_t nin = (size_t)g->in_chans * g->img_size * g->img_size;
    *out = (mxb_cost){.traced_forwards = 1 + n, .backwards = n,
                      .scratch_bytes = (size_t)g->num_classes * sizeof(float) + 2 * nin * sizeof(float) +
                                       nin * sizeof(double)};
    return 0;
}

static int sg_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    const px_geom G = px_geometry(in);
    const int n = (int)in->param_values[0];
    const double sigma = in->param_values[1];
    float *w = px_scratch(in, (size_t)G.K * sizeof *w, "smoothgrad", err, errlen);
    float *xs = w ? px_scratch(in, G.nin * sizeof *xs, "smoothgrad", err, errlen) : NULL;
    float *a = xs ? px_scratch(in, G.nin * sizeof *a, "smoothgrad", err, errlen) : NULL;
    double *acc = a ? px_scratch(in, G.nin * sizeof *acc, "smoothgrad", err, errlen) : NULL;
    if (!acc) return -1;
    px_onehot(w, G.K, in->explained_class);
    memset(acc, 0, G.nin * sizeof *acc);
    mxb_rng rng = mxb_rng_new(in->seed);
    for (int k = 0; k < n; k++) {
        for (size_t j = 0; j < G.nin; j++) xs[j] = in->input[j] + (float)(sigma * mxb_rng_normal(&rng));
        const float *g = px_gradient(in, xs, w, "smoothgrad", err, errlen);
        if (!g) return -1;
        for (size_t j = 0; j < G.nin; j++) acc[j] += fabsf(g[j]); /* Saliency: abs=True */
    }
    for (size_t j = 0; j < G.nin; j++) a[j] = (float)(acc[j] / n);
    px_channel_sum(a, G.C, G.npix, map);
    return 0;
}

const mxb_method mxb_method_smoothgrad = {
    .abi_version = MXB_METHOD_ABI_VERSION,
    .name = "smoothgrad",
    .description = "SmoothGrad (Captum NoiseTunnel(Saliency), absolute sigma), channels summed",
    .archs = MXB_METHOD_VIT | MXB_METHOD_VIM,
    .needs = MXB_NEEDS_MODEL,
    .class_specific = 1,
    .explain = sg_explain,
    .family = "gradient",
    .map_kind = MXB_MAP_PIXELS,
    .params = sg_params,
    .nparams = 2,
    .cost = sg_cost,
};
