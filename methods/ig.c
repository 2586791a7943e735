/* Integrated Gradients (Captum IntegratedGradients.attribute, baseline 0):
 *   A = (x - x0) ⊙ Σ_i w_i ∇f(x0 + α_i (x - x0)), channels summed,
 * with Captum's rules (approximation_methods.py): riemann_left/right/middle/trapezoid
 * (α from torch.linspace in float32, weights 1/n, trapezoid's ends 1/2n: they sum to
 * (n-1)/n, as Captum's do) and gausslegendre (α = (1 + ξ)/2, w = ω/2, numpy's
 * leggauss nodes in ascending order). docs/METHODS-v2.md §3.5.2. */
#include "methods/pixel_common.h"

#include <math.h>

enum { RULE_GL, RULE_LEFT, RULE_RIGHT, RULE_MIDDLE, RULE_TRAPEZOID };
static const mxb_param_spec ig_params[] = {
    {"steps", MXB_PARAM_INT, 50, 1, 100000, NULL, "n_steps: points on the path (Riemann rules need 2 or more)"},
    {"rule", MXB_PARAM_CHOICE, RULE_GL, 0, 0, "gausslegendre|riemann_left|riemann_right|riemann_middle|riemann_trapezoid",
     "Captum's method="},
};

/* Gauss-Legendre nodes and weights on [-1, 1], ascending: Newton on P_n from the
 * Chebyshev-like first guesses, in double (numpy's leggauss to ~1e-15). */
void mxb_gauss_legendre(int n, double *x, double *w) {
    for (int i = 0; i < n; i++) {
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
        /* recompute the derivative at the converged node */
        double p0 = 1, p1 = z;
        for (int k = 2; k <= n; k++) {
            const double p2 = ((2.0 * k - 1) * z * p1 - (k - 1.0) * p0) / k;
            p0 = p1, p1 = p2;
        }
        dp = n * (z * p1 - p0) / (z * z - 1);
        x[n - 1 - i] = z; /* the guesses descend: store ascending */
        w[n - 1 - i] = 2 / ((1 - z * z) * dp * dp);
    }
}

/* the path points and weights of a rule; -1 when a Riemann rule gets n < 2 */
static int ig_rule(int rule, int n, double *alpha, double *weight) {
    if (rule == RULE_GL) {
        mxb_gauss_legendre(n, alpha, weight);
        for (int i = 0; i < n; i++) alpha[i] = 0.5 * (1 + alpha[i]), weight[i] *= 0.5;
        return 0;
    }
    if (n < 2) return -1;
    double lo = 0, hi = 1;
    if (rule == RULE_LEFT) hi = 1 - 1.0 / n;
    else if (rule == RULE_RIGHT) lo = 1.0 / n;
    else if (rule == RULE_MIDDLE) lo = 1.0 / (2.0 * n), hi = 1 - 1.0 / (2.0 * n);
    /* torch.linspace in float32: start + i·step for the first half, end - (n-1-i)·step after */
    const float a = (float)lo, b = (float)hi, step = (b - a) / (float)(n - 1);
    for (int i = 0; i < n; i++) {
        alpha[i] = i < n / 2 ? (double)(a + step * (float)i) : (double)(b - step * (float)(n - 1 - i));
        weight[i] = 1.0 / n;
    }
    if (rule == RULE_TRAPEZOID) weight[0] /= 2, weight[n - 1] /= 2;
    return 0;
}

static int ig_cost(const mxb_explain_input *g, const double *p, mxb_cost *out) {
    const int n = (int)p[0];
    if ((int)p[1] != RULE_GL && n < 2) return -1;
    const size_t nin = (size_t)g->in_chans * g->img_size * g->img_size;
    *out = (mxb_cost){.traced_forwards = 1 + n, .backwards = n,
                      .scratch_bytes = (size_t)g->num_classes * sizeof(float) + 2 * nin * sizeof(float) +
                                       nin * sizeof(double) + 2 * (size_t)n * sizeof(double)};
    return 0;
}

static int ig_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    const px_geom G = px_geometry(in);
    const int n = (int)in->param_values[0], rule = (int)in->param_values[1];
    float *w = px_scratch(in, (size_t)G.K * sizeof *w, "ig", err, errlen);
    float *xs = w ? px_scratch(in, G.nin * sizeof *xs, "ig", err, errlen) : NULL;
    float *a = xs ? px_scratch(in, G.nin * sizeof *a, "ig", err, errlen) : NULL;
    double *acc = a ? px_scratch(in, G.nin * sizeof *acc, "ig", err, errlen) : NULL;
    double *alpha = acc ? px_scratch(in, (size_t)n * sizeof *alpha, "ig", err, errlen) : NULL;
    double *weight = alpha ? px_scratch(in, (size_t)n * sizeof *weight, "ig", err, errlen) : NULL;
    if (!weight) return -1;
    if (ig_rule(rule, n, alpha, weight)) {
        snprintf(err, errlen, "ig: the Riemann rules need steps >= 2 (got %d)", n);
        return -1;
    }
    px_onehot(w, G.K, in->explained_class);
    memset(acc, 0, G.nin * sizeof *acc);
    const float *x = in->input; /* baseline 0: x - x0 = x */
    for (int i = 0; i < n; i++) {
        const float al = (float)alpha[i];
        for (size_t j = 0; j < G.nin; j++) xs[j] = al * x[j];
        const float *g = px_gradient(in, xs, w, "ig", err, errlen);
        if (!g) return -1;
        /* Captum: grads · step_size (float32), summed over the steps */
        const float sw = (float)weight[i];
        for (size_t j = 0; j < G.nin; j++) acc[j] += (double)(g[j] * sw);
    }
    for (size_t j = 0; j < G.nin; j++) a[j] = (float)acc[j] * x[j];
    px_channel_sum(a, G.C, G.npix, map);
    return 0;
}

const mxb_method mxb_method_ig = {
    .abi_version = MXB_METHOD_ABI_VERSION,
    .name = "ig",
    .description = "Integrated Gradients (Captum), baseline 0, channels summed",
    .archs = MXB_METHOD_VIT | MXB_METHOD_VIM,
    .needs = MXB_NEEDS_MODEL,
    .class_specific = 1,
    .explain = ig_explain,
    .family = "gradient",
    .map_kind = MXB_MAP_PIXELS,
    .params = ig_params,
    .nparams = 2,
    .cost = ig_cost,
};
