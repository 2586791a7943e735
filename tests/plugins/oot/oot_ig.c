/* An out-of-tree method plugin: Integrated Gradients written against methods/method.h
 * alone (docs/METHODS-v2.md §4.5; README "Writing a method plugin"). Built by
 * tests/cli_plugin_oot.sh outside the CMake tree with one line:
 *     cc -std=c11 -O2 -shared -fPIC -I DIR_WITH_METHOD_H oot_ig.c -o liboot_ig.so -lm
 * It runs the model through the host's calls (forward, backward to the input,
 * input_grad), takes its params from the host and keeps its buffers in the host's
 * scratch, which its cost declares. */
#include "method.h"

#include <stdio.h>
#include <string.h>

static const mxb_param_spec params[] = {
    {"steps", MXB_PARAM_INT, 50, 1, 10000, NULL, "points on the path"},
    {"rule", MXB_PARAM_CHOICE, 0, 0, 0, "gausslegendre|riemann_right", "Captum's method="},
};

/* path points and weights: Gauss-Legendre on [0, 1] (Newton on P_n) or right Riemann */
static void rule_points(int rule, int n, double *a, double *w) {
    for (int i = 0; i < n; i++) {
        if (rule == 1) {
            a[i] = (double)(i + 1) / n, w[i] = 1.0 / n;
            continue;
        }
        double z = cos(3.14159265358979323846 * (i + 0.75) / (n + 0.5)), dp = 1;
        for (int it = 0; it < 100; it++) {
            double p0 = 1, p1 = z;
            for (int k = 2; k <= n; k++) {
                const double p2 = ((2.0 * k - 1) * z * p1 - (k - 1.0) * p0) / k;
                p0 = p1, p1 = p2;
            }
            dp = n * (z * p1 - p0) / (z * z - 1);
            const double dz = p1 / dp;
            z -= dz;
            if (fabs(dz) < 1e-16) break;
        }
        a[i] = 0.5 * (1 + z), w[i] = 1 / ((1 - z * z) * dp * dp); /* ½ · 2/((1-z²)P'²) */
    }
}

static size_t nin(const mxb_explain_input *g) { return (size_t)g->in_chans * g->img_size * g->img_size; }

static int ig_cost(const mxb_explain_input *g, const double *p, mxb_cost *out) {
    const int n = (int)p[0];
    *out = (mxb_cost){.traced_forwards = 1 + n, .backwards = n,
                      .scratch_bytes = (size_t)g->num_classes * sizeof(float) + 2 * nin(g) * sizeof(float) +
                                       2 * (size_t)n * sizeof(double)};
    return 0;
}

static int ig_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    if (in->struct_size < sizeof *in || !in->model) {
        snprintf(err, errlen, "oot-ig: the host's explain input is older than this plugin");
        return -1;
    }
    const mxb_model_api *api = in->model;
    const int n = (int)in->param_values[0], rule = (int)in->param_values[1];
    const size_t N = nin(in), npix = (size_t)in->img_size * in->img_size;
    float *w = api->scratch(in->run, (size_t)in->num_classes * sizeof *w);
    float *xs = api->scratch(in->run, N * sizeof *xs), *acc = api->scratch(in->run, N * sizeof *acc);
    double *a = api->scratch(in->run, (size_t)n * sizeof *a), *wt = api->scratch(in->run, (size_t)n * sizeof *wt);
    if (!w || !xs || !acc || !a || !wt) {
        snprintf(err, errlen, "oot-ig: no scratch memory");
        return -1;
    }
    rule_points(rule, n, a, wt);
    memset(w, 0, (size_t)in->num_classes * sizeof *w);
    w[in->explained_class] = 1;
    memset(acc, 0, N * sizeof *acc);
    for (int i = 0; i < n; i++) {
        for (size_t j = 0; j < N; j++) xs[j] = (float)a[i] * in->input[j]; /* baseline 0 */
        const float *g;
        if (api->forward(in->run, xs, NULL, MXB_FWD_TRACE) || api->backward(in->run, w, MXB_OUT_INPUT) ||
            !(g = api->input_grad(in->run))) {
            snprintf(err, errlen, "oot-ig: the model's gradient pass failed");
            return -1;
        }
        for (size_t j = 0; j < N; j++) acc[j] += g[j] * (float)wt[i];
    }
    /* (x - 0) ⊙ the integral, summed over channels */
    for (size_t p = 0; p < npix; p++) {
        float s = 0;
        for (int c = 0; c < in->in_chans; c++) s += acc[c * npix + p] * in->input[c * npix + p];
        map[p] = s;
    }
    return 0;
}

static const mxb_method oot_ig = {
    .abi_version = MXB_METHOD_ABI_VERSION,
    .name = "oot-ig",
    .description = "Integrated Gradients, an out-of-tree plugin (method.h alone)",
    .archs = MXB_METHOD_VIT | MXB_METHOD_VIM,
    .needs = MXB_NEEDS_MODEL,
    .class_specific = 1,
    .explain = ig_explain,
    .family = "gradient",
    .map_kind = MXB_MAP_PIXELS,
    .params = params,
    .nparams = 2,
    .cost = ig_cost,
};
static const mxb_method *const methods[] = {&oot_ig};

const mxb_method *const *mxb_plugin_methods(int *count) {
    *count = 1;
    return methods;
}
