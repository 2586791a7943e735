/* A v2 plugin that makes the built-in LRP methods through the run's calls alone
 * (in->model: backward, relevance, attn_relevance, pixel_relevance, token_relevance,
 * scratch), asking the host for no pass of its own (needs = MXB_NEEDS_MODEL only).
 * tests/test_model_calls.c and tests/cli_model_calls.sh check that each map is bit for bit
 * the built-in's (and so the original code's goldens), with one and two images in flight:
 *   calls-mambalrp     = mambalrp / -vision / -gamma / -vision-gamma (param rules)
 *   calls-lrp-partial  = lrp-partial   (layers_lrp rules, the last block)
 *   calls-lrp-full     = lrp-full      (layers_lrp rules to the pixels, patch mean)
 *   calls-attribution  = attribution on ViT (layers_ours rules x attention gradient,
 *                        rollout without row normalisation, from block 1)
 * Built against methods/method.h alone (no host helper is linked: the rollout is
 * written out here as methods/registry.c's mxb_rollout_cls_row computes it). */
#include "methods/method.h"

#include <stdio.h>
#include <string.h>

/* the explained class's one-hot at the logits, in scratch */
static float *one_hot(const mxb_explain_input *in) {
    float *w = in->model->scratch(in->run, (size_t)in->num_classes * sizeof(float));
    if (w) {
        memset(w, 0, (size_t)in->num_classes * sizeof(float));
        w[in->explained_class] = 1;
    }
    return w;
}

static int host_has_calls(const mxb_explain_input *in, const char *name, char *err, size_t errlen) {
    if (!in->model || in->model->struct_size < sizeof(mxb_model_api)) {
        snprintf(err, errlen, "%s: this mxb has no relevance() call (method ABI v2 model calls)", name);
        return -1;
    }
    return 0;
}

/* ---- ViM: MambaLRP ---- */
static const uint32_t mlrp_rules[4] = {
    MXB_NEEDS_MAMBALRP | MXB_NEEDS_LRP_SILU_IDENTITY | MXB_NEEDS_LRP_NORM_DETACH, /* paper */
    MXB_NEEDS_MAMBALRP,                                                            /* vision */
    MXB_NEEDS_MAMBALRP | MXB_NEEDS_LRP_SILU_IDENTITY | MXB_NEEDS_LRP_NORM_DETACH | MXB_NEEDS_LRP_CONV_GAMMA,
    MXB_NEEDS_MAMBALRP | MXB_NEEDS_LRP_CONV_GAMMA,
};
static const mxb_param_spec mlrp_params[] = {
    {"rules", MXB_PARAM_CHOICE, 0, 0, 0, "paper|vision|paper-gamma|vision-gamma",
     "the rule set (mambalrp, mambalrp-vision, mambalrp-gamma, mambalrp-vision-gamma)"},
};

static int mlrp_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    if (host_has_calls(in, "calls-mambalrp", err, errlen)) return -1;
    const mxb_model_api *M = in->model;
    float *w = one_hot(in);
    if (!w || M->relevance(in->run, w, mlrp_rules[(int)in->param_values[0]])) {
        snprintf(err, errlen, "calls-mambalrp: the relevance pass failed");
        return -1;
    }
    const float *R = M->token_relevance(in->run);
    if (!R) {
        snprintf(err, errlen, "calls-mambalrp: no token relevance after the pass");
        return -1;
    }
    for (int j = 0, k = 0; j < in->seq_len; j++)
        if (j != in->cls_pos) map[k++] = R[j];
    return 0;
}

/* ---- ViT: Chefer's partial and full LRP ---- */
static int partial_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    if (host_has_calls(in, "calls-lrp-partial", err, errlen)) return -1;
    const mxb_model_api *M = in->model;
    const int L = in->seq_len, H = in->num_heads, b = in->depth - 1;
    float *w = one_hot(in);
    if (!w || M->relevance(in->run, w, MXB_NEEDS_RELEVANCE_ORIG | MXB_NEEDS_RELEVANCE_LAST)) {
        snprintf(err, errlen, "calls-lrp-partial: the relevance pass failed");
        return -1;
    }
    const float *R = M->attn_relevance(in->run, b);
    if (!R || (b > 0 && M->attn_relevance(in->run, b - 1))) { /* the pass stopped at the last block */
        snprintf(err, errlen, "calls-lrp-partial: attention relevance %s", R ? "below the last block" : "missing");
        return -1;
    }
    for (int j = 1; j < L; j++) {
        float s = 0;
        for (int h = 0; h < H; h++) {
            const float v = R[(size_t)h * L * L + j];
            s += v > 0 ? v : 0;
        }
        map[j - 1] = s / (float)H;
    }
    return 0;
}

static int full_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    if (host_has_calls(in, "calls-lrp-full", err, errlen)) return -1;
    const mxb_model_api *M = in->model;
    float *w = one_hot(in);
    if (!w || M->relevance(in->run, w, MXB_NEEDS_RELEVANCE_ORIG | MXB_NEEDS_RELEVANCE_INPUT)) {
        snprintf(err, errlen, "calls-lrp-full: the relevance pass failed");
        return -1;
    }
    const float *R = M->pixel_relevance(in->run);
    if (!R) {
        snprintf(err, errlen, "calls-lrp-full: no pixel relevance after the pass");
        return -1;
    }
    const int S = in->img_size, G = in->grid, P = S / G;
    for (int gy = 0; gy < G; gy++)
        for (int gx = 0; gx < G; gx++) {
            double s = 0;
            for (int y = gy * P; y < (gy + 1) * P; y++)
                for (int x = gx * P; x < (gx + 1) * P; x++) s += R[(size_t)y * S + x];
            map[gy * G + gx] = (float)(s / ((double)P * P));
        }
    return 0;
}

/* ---- ViT: Transformer-Attribution ---- */
static int attribution_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    if (host_has_calls(in, "calls-attribution", err, errlen)) return -1;
    const mxb_model_api *M = in->model;
    const int L = in->seq_len, H = in->num_heads, n = in->depth;
    const int start = in->start_layer >= 0 ? in->start_layer : (n > 1 ? 1 : 0);
    if (start >= n) {
        snprintf(err, errlen, "calls-attribution: start layer %d is outside 0..%d", start, n - 1);
        return -1;
    }
    float *w = one_hot(in);
    float *mats = M->scratch(in->run, (size_t)n * L * L * sizeof(float));
    double *r = M->scratch(in->run, 3 * (size_t)L * sizeof(double));
    if (!w || !mats || !r) {
        snprintf(err, errlen, "calls-attribution: scratch refused");
        return -1;
    }
    /* the attention gradient (backward), then the layers_ours relevance (rules 0) */
    if (M->backward(in->run, w, 0) || M->relevance(in->run, w, 0)) {
        snprintf(err, errlen, "calls-attribution: a pass failed");
        return -1;
    }
    for (int b = start; b < n; b++) {
        const float *G = in->attn_grad(in->trace, b), *R = M->attn_relevance(in->run, b);
        if (!G || !R) {
            snprintf(err, errlen, "calls-attribution: block %d lacks attention gradient or relevance", b);
            return -1;
        }
        float *Mb = mats + (size_t)b * L * L;
        memset(Mb, 0, (size_t)L * L * sizeof(float));
        for (int h = 0; h < H; h++)
            for (size_t k = 0; k < (size_t)L * L; k++) {
                const float x = G[(size_t)h * L * L + k] * R[(size_t)h * L * L + k];
                Mb[k] += x > 0 ? x : 0;
            }
        for (size_t k = 0; k < (size_t)L * L; k++) Mb[k] /= (float)H;
    }
    /* CLS row of M_{n-1}···M_start (+ identity, rows not normalised) */
    double *row = r, *next = r + L;
    memset(row, 0, (size_t)L * sizeof(double));
    row[in->cls_pos] = 1;
    for (int l = n - 1; l >= start; l--) {
        const float *Ml = mats + (size_t)l * L * L;
        memset(next, 0, (size_t)L * sizeof(double));
        for (int i = 0; i < L; i++) {
            if (row[i] == 0) continue;
            const double wi = row[i] * 1.0;
            const float *Mi = Ml + (size_t)i * L;
            for (int j = 0; j < L; j++) next[j] += wi * Mi[j];
            next[i] += wi;
        }
        double *t = row;
        row = next;
        next = t;
    }
    for (int j = 0, k = 0; j < L; j++)
        if (j != in->cls_pos) map[k++] = (float)row[j];
    return 0;
}

/* what an image costs: the host's traced forward, the passes (relevance() is an LRP
 * pass, backward() a backward), the scratch */
static int cost_common(const mxb_explain_input *g, double backwards, size_t scratch, mxb_cost *out) {
    out->traced_forwards = 1;
    out->backwards = backwards;
    out->plain_forwards = 0;
    out->lrp_passes = 1;
    out->scratch_bytes = scratch + (size_t)g->num_classes * sizeof(float) + 64;
    return 0;
}
static int one_pass_cost(const mxb_explain_input *g, const double *p, mxb_cost *out) {
    (void)p;
    return cost_common(g, 0, 0, out);
}
static int attribution_cost(const mxb_explain_input *g, const double *p, mxb_cost *out) {
    (void)p;
    const size_t L = (size_t)g->seq_len;
    return cost_common(g, 1, (size_t)g->depth * L * L * sizeof(float) + 3 * L * sizeof(double) + 128, out);
}

#define CALLS_METHOD(sym, nm, arch, fn, costfn, what)                                      \
    static const mxb_method sym = {                                                        \
        .abi_version = MXB_METHOD_ABI_VERSION,                                             \
        .name = nm,                                                                        \
        .description = what " through the run's relevance() call (a test plugin)",         \
        .archs = arch,                                                                     \
        .needs = MXB_NEEDS_MODEL,                                                          \
        .class_specific = 1,                                                               \
        .explain = fn,                                                                     \
        .family = "lrp",                                                                   \
        .cost = costfn,                                                                    \
    }

CALLS_METHOD(calls_partial, "calls-lrp-partial", MXB_METHOD_VIT, partial_explain, one_pass_cost, "lrp-partial");
CALLS_METHOD(calls_full, "calls-lrp-full", MXB_METHOD_VIT, full_explain, one_pass_cost, "lrp-full");
CALLS_METHOD(calls_attribution, "calls-attribution", MXB_METHOD_VIT, attribution_explain, attribution_cost,
             "Transformer-Attribution");
static const mxb_method calls_mlrp = {
    .abi_version = MXB_METHOD_ABI_VERSION,
    .name = "calls-mambalrp",
    .description = "MambaLRP through the run's relevance() call (a test plugin)",
    .archs = MXB_METHOD_VIM,
    .needs = MXB_NEEDS_MODEL,
    .class_specific = 1,
    .explain = mlrp_explain,
    .family = "lrp",
    .params = mlrp_params,
    .nparams = 1,
    .cost = one_pass_cost,
};

static const mxb_method *const methods[] = {&calls_mlrp, &calls_partial, &calls_full, &calls_attribution};

const mxb_method *const *mxb_plugin_methods(int *count) {
    *count = (int)(sizeof methods / sizeof *methods);
    return methods;
}
