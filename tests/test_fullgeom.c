/* The engine at the full geometry of the paper's models (DeiT-S, ViM-S: 384 wide,
 * 224 px) against PyTorch autograd and tools/reference.py's methods, on seeded
 * random official-format checkpoints converted with tools/convert_checkpoint.py
 * (tests/gen_fullgeom.py). The tiny-size checks are test_engine / test_methods;
 * the measures and tolerances here are theirs. */
#include "engine/engine.h"
#include "harness/harness.h"
#include "metrics/metrics.h"
#include "mxb_test.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *weights(const char *model) {
    return mxb_test_path("%s/fullgeom/%s.h5", mxb_test_env("MXB_TESTDATA"), model);
}
static const char *golden(const char *model) {
    return mxb_test_path("%s/fullgeom/%s.golden.h5", mxb_test_env("MXB_TESTDATA"), model);
}



/* ViT LRP at full geometry is ill-conditioned in the forward activations, so the
 * LRP quantities cannot be held to 1e-4 by any float32 implementation. Chefer's
 * relprop of dots = q·kᵀ (softmax passes relevance through) divides by the dots, and
 * of 6 × 197² some are ~0: a float32 rounding of q, k changes such a dot by a large
 * fraction, and that relevance flows on into every lower block. Measured on
 * gen_fullgeom's model (golden in float64):
 *  - PyTorch float32 vs float64, same code: relevance 5e-6 (block 11), 2e-4..1e-3
 *    (blocks 7-10), 4e-2..0.31 (blocks 0-6) of its scale; attribution map 0.26 of
 *    its max. The same float32 forward with LRP in float64: the same 0.26, so it is
 *    the forward's rounding, not LRP's arithmetic. Five PyTorch float32 runs on
 *    inputs nudged by an ulp: map 0.02..0.28.
 *  - the engine: its forward activations are as close to float64 as PyTorch's
 *    (5e-7..3e-6 of their scale, PyTorch 6e-7..3e-6), and float64 LRP run on the
 *    engine's own float32 activations reproduces the engine's relevance to 7e-5 in
 *    blocks 7-11: its relprop is right; what remains is the rounding realisation,
 *    heavy-tailed (1/dot), landing 0.1..4.3× PyTorch float32's distance depending
 *    on the block (and 0.17× in the map).
 *  - which realisation a float32 run lands on depends on operation order (BLAS
 *    kernels, threads, CPU): the five nudged PyTorch runs spread over 1.4e-4..4.5e-4
 *    in block 9 and 0.02..0.28 in the map, so one run's distance is a measure of the
 *    conditioning, not a bound.
 * So an LRP quantity is held to the tiny tests' tolerance where it is well-conditioned
 * (PyTorch float32 within 1e-4 of float64), and where it is not, to
 * max(ill_floor, factor × PyTorch float32's distance): relevance max(1e-2, 10×),
 * the attribution map max(0.1, 1×) — within 10 % of the map's max, or as close as
 * PyTorch float32 itself lands. A wrong rule still fails: block 11 is
 * well-conditioned and held to 1e-3, blocks 7-10 to 1e-2. */
typedef struct {
    double ill_floor, factor;
} lrp_allowance;
static const lrp_allowance lrp_relevance = {1e-2, 10}, lrp_map = {0.1, 1};

/* the tolerance of a quantity with PyTorch float32 distance e (NAN: not stored) */
static double tolerance(double tol, const lrp_allowance *allow, double e) {
    if (!allow || isnan(e) || e <= 1e-4) return tol;
    const double t = fmax(allow->ill_floor, allow->factor * e);
    printf(" [ill-conditioned: tolerance %.3g]", t);
    return fmax(tol, t);
}

/* compare, print the measured difference (and PyTorch float32's vs float64, where
 * stored), assert it is within tol (with the LRP allowance, when given); returns
 * the difference */
static double check(const char *model, const char *dset, const float *mine, size_t n, double tol,
                    const lrp_allowance *allow) {
    double d = mxb_test_rel_diff_h5(golden(model), dset, mine, n), e = mxb_test_f32_vs_f64(golden(model), dset);
    printf("\n  %-34s rel. diff %.3g", dset, d);
    if (!isnan(e)) printf("  (PyTorch float32 vs float64: %.3g)", e);
    CU_ASSERT(d <= tolerance(tol, allow, e));
    return d;
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

static void minmax(float *x, size_t n) { /* a flat map: zeros */
    if (mxb_minmax_normalize(x, n))
        for (size_t i = 0; i < n; i++) x[i] = 0;
}

static mxb_model *load(const char *model) {
    char err[512];
    mxb_model *m = NULL;
    if (mxb_model_load(weights(model), &m, err, sizeof err)) fprintf(stderr, "%s\n", err);
    return m;
}

/* traced forward + backward of the golden's class (the prediction); checks logits */
static mxb_ctx *traced(mxb_model *m, const char *model, float **image) {
    const mxb_config *g = mxb_model_config(m);
    const int nc = g->num_classes;
    mxb_ctx *c = mxb_ctx_new(m, MXB_TRACE_KEEP);
    *image = mxb_test_read_h5(golden(model), "input", NULL);
    float *logits = malloc((size_t)nc * sizeof(float)), *seed = calloc((size_t)nc, sizeof(float));
    CU_ASSERT_FATAL(c && *image && logits && seed);
    mxb_forward(c, *image, logits);
    size_t nl = 0;
    float *ref = mxb_test_read_h5(golden(model), "logits", &nl);
    CU_ASSERT_FATAL(ref && nl == (size_t)nc);
    const double d = mxb_test_max_abs_diff(logits, ref, nl), r = mxb_test_range(ref, nl);
    const int cls = (int)mxb_test_read_h5_scalar(golden(model), "class");
    printf("\n  %s logits: max |logit - golden| = %.3g (range %.3g, %.3g of it); class %d",
           model, d, r, d / r, cls);
    CU_ASSERT(d <= 1e-4 * r);
    CU_ASSERT_EQUAL(argmax(logits, nc), cls);
    seed[cls] = 1;
    mxb_backward(c, seed);
    free(ref);
    free(logits);
    free(seed);
    return c;
}

/* every built-in method's map for the predicted class: within 1e-4 of the golden
 * map's max, and after min-max (test_methods' measures); the attribution map with
 * the allowance `attribution` (NULL: none) */
static void check_maps(mxb_ctx *c, const mxb_model *m, const char *model, const float *x,
                       mxb_variant variant, const char *prefix, const lrp_allowance *attribution) {
    const mxb_config *g = mxb_model_config(m);
    const size_t P = (size_t)g->num_patches;
    float *logits = malloc((size_t)g->num_classes * sizeof(float)), *map = malloc(P * sizeof(float));
    const char *names[3] = {"raw-attention", "rollout", "attribution"};
    const int cls = (int)mxb_test_read_h5_scalar(golden(model), "class");
    for (int i = 0; i < 3; i++) {
        const mxb_method *meth = mxb_methods_find(names[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(meth);
        mxb_explain_opts o = {.class_index = -1, .variant = variant, .start_layer = -1};
        char err[512];
        int explained = -1;
        int rc = mxb_explain_one(c, m, meth, x, &o, logits, &explained, map, err, sizeof err);
        if (rc) fprintf(stderr, "%s\n", err);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        CU_ASSERT_EQUAL(explained, cls);
        const char *dset = mxb_test_path("%s/%s", prefix, names[i]);
        size_t n = 0;
        float *ref = mxb_test_read_h5(golden(model), dset, &n);
        CU_ASSERT_FATAL(ref && n == P);
        double scale = 0;
        for (size_t j = 0; j < P; j++) scale = fmax(scale, fabs(ref[j]));
        const double raw = mxb_test_max_abs_diff(map, ref, P) / (scale > 0 ? scale : 1);
        minmax(map, P);
        minmax(ref, P);
        const double norm = mxb_test_max_abs_diff(map, ref, P), e = mxb_test_f32_vs_f64(golden(model), dset);
        printf("\n  %-34s max diff %.3g of the map's max, %.3g after min-max", dset, raw, norm);
        if (!isnan(e)) printf("  (PyTorch float32 vs float64: %.3g)", e);
        const double tol = tolerance(1e-4, i == 2 ? attribution : NULL, e);
        CU_ASSERT(raw <= tol);
        CU_ASSERT(norm <= tol);
        free(ref);
    }
    free(logits);
    free(map);
}

/* ------------------------------------------------------------------ DeiT-S */
static const int vit_blocks[] = {0, 6, 11};

static void test_vit(void) {
    mxb_model *m = load("deit_s");
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    const mxb_config *g = mxb_model_config(m);
    CU_ASSERT_FATAL(g->embed_dim == 384 && g->depth == 12 && g->num_heads == 6 && g->seq_len == 197);
    float *x;
    mxb_ctx *c = traced(m, "deit_s", &x);
    const size_t n = (size_t)g->num_heads * g->seq_len * g->seq_len;
    for (int i = 0; i < 3; i++) {
        const int b = vit_blocks[i];
        check("deit_s", mxb_test_path("block_%02d/attn", b), mxb_vit_attn(c, b), n, 1e-4, NULL);
        check("deit_s", mxb_test_path("block_%02d/attn_grad", b), mxb_vit_attn_grad(c, b), n, 1e-4, NULL);
    }
    float *seed = calloc((size_t)g->num_classes, sizeof(float));
    seed[(int)mxb_test_read_h5_scalar(golden("deit_s"), "class")] = 1;
    CU_ASSERT_EQUAL_FATAL(mxb_relevance(c, seed), 0);
    free(seed);
    for (int b = 0; b < g->depth; b++) /* every block, to show where conditioning breaks */
        check("deit_s", mxb_test_path("block_%02d/attn_relevance", b), mxb_vit_attn_relevance(c, b),
              n, 1e-3, &lrp_relevance);
    check_maps(c, m, "deit_s", x, MXB_VARIANT_OFFICIAL, "map", &lrp_map);
    free(x);
    mxb_ctx_free(c);
    mxb_model_free(m);
}

/* ------------------------------------------------------------------ ViM-S */
static const int vim_layers[] = {0, 12, 23};
enum { VIM_ATTN_LAYER = 12 };
static const int vim_attn_channels[] = {0, 1, 2, 767};

static void test_vim_trace(void) {
    mxb_model *m = load("vim_s");
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    const mxb_config *g = mxb_model_config(m);
    CU_ASSERT_FATAL(g->embed_dim == 384 && g->depth == 24 && g->d_inner == 768 && g->d_state == 16 &&
                    g->seq_len == 197 && g->cls_pos == 98);
    float *x;
    mxb_ctx *c = traced(m, "vim_s", &x);
    const int L = g->seq_len, D = g->d_inner, N = g->d_state, E = g->embed_dim;
    float *v = malloc((size_t)D * L * sizeof(float)), *bc = malloc((size_t)L * N * sizeof(float));
    for (int i = 0; i < 3; i++) {
        const int l = vim_layers[i];
        char q[32]; /* mxb_test_path's buffers rotate: keep the prefix here */
        snprintf(q, sizeof q, "layer_%02d", l);
        const size_t ne = (size_t)L * E, nd = (size_t)L * D;
        check("vim_s", mxb_test_path("%s/residual", q), mxb_vim_residual(c, l), ne, 1e-4, NULL);
        check("vim_s", mxb_test_path("%s/mixer_out", q), mxb_vim_mixer_out(c, l), ne, 1e-4, NULL);
        check("vim_s", mxb_test_path("%s/residual_grad", q), mxb_vim_residual_grad(c, l), ne, 1e-4, NULL);
        for (int dir = 0; dir < 2; dir++) {
            const char *dn = dir ? "backward" : "forward";
            mxb_s6_view s;
            CU_ASSERT_FATAL(!mxb_vim_s6(c, l, dir, &s) && s.L == L && s.D == D && s.N == N);
            check("vim_s", mxb_test_path("%s/%s/x", q, dn), s.x, nd, 1e-4, NULL);
            check("vim_s", mxb_test_path("%s/%s/delta", q, dn), s.delta, nd, 1e-4, NULL);
            for (int k = 0; k < 2; k++) { /* B, C are strided views */
                const float *src = k ? s.C : s.B;
                for (int t = 0; t < L; t++)
                    memcpy(bc + (size_t)t * N, src + (size_t)t * s.bc_stride, (size_t)N * sizeof(float));
                check("vim_s", mxb_test_path("%s/%s/%s", q, dn, k ? "C" : "B"), bc, (size_t)L * N, 1e-4, NULL);
            }
            check("vim_s", mxb_test_path("%s/%s/y", q, dn), s.y, nd, 1e-4, NULL);
            check("vim_s", mxb_test_path("%s/%s/dy", q, dn), s.dy, nd, 1e-4, NULL);
        }
        CU_ASSERT_EQUAL_FATAL(mxb_vim_xai_vector(c, l, MXB_VARIANT_OFFICIAL, v), 0);
        check("vim_s", mxb_test_path("%s/xai_vector_official", q), v, (size_t)D * L, 1e-4, NULL);
        CU_ASSERT_EQUAL_FATAL(mxb_vim_xai_vector(c, l, MXB_VARIANT_EXACT, v), 0);
        check("vim_s", mxb_test_path("%s/xai_vector_exact", q), v, (size_t)D * L, 1e-4, NULL);
    }
    free(bc);
    free(v);
    /* the exact hidden-attention matrices of one layer: channel mean (image order)
     * and a few channels (the branch's order) */
    const int nch = (int)(sizeof vim_attn_channels / sizeof *vim_attn_channels);
    float *mean = malloc((size_t)L * L * sizeof(float)), *al = malloc((size_t)nch * L * L * sizeof(float));
    for (int dir = 0; dir < 2; dir++) {
        const char *dn = dir ? "backward" : "forward";
        CU_ASSERT_EQUAL_FATAL(mxb_vim_hidden_attn_mean(c, VIM_ATTN_LAYER, dir, 1, mean), 0);
        check("vim_s", mxb_test_path("layer_%02d/%s/attn_mean", VIM_ATTN_LAYER, dn), mean,
              (size_t)L * L, 1e-4, NULL);
        for (int k = 0; k < nch; k++)
            CU_ASSERT_EQUAL_FATAL(mxb_vim_hidden_attn(c, VIM_ATTN_LAYER, dir, vim_attn_channels[k],
                                                      vim_attn_channels[k] + 1, al + (size_t)k * L * L), 0);
        check("vim_s", mxb_test_path("layer_%02d/%s/attn_channels", VIM_ATTN_LAYER, dn), al,
              (size_t)nch * L * L, 1e-4, NULL);
    }
    free(mean);
    free(al);
    free(x);
    mxb_ctx_free(c);
    mxb_model_free(m);
}

static void test_vim_methods(void) {
    mxb_model *m = load("vim_s");
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    mxb_ctx *c = mxb_ctx_new(m, MXB_TRACE_KEEP);
    float *x = mxb_test_read_h5(golden("vim_s"), "input", NULL);
    CU_ASSERT_FATAL(c && x);
    check_maps(c, m, "vim_s", x, MXB_VARIANT_OFFICIAL, "map/official", NULL);
    check_maps(c, m, "vim_s", x, MXB_VARIANT_EXACT, "map/exact", NULL);
    free(x);
    mxb_ctx_free(c);
    mxb_model_free(m);
}

int main(void) {
    static const mxb_test_case cases[] = {
        {"DeiT-S: logits, attention, its gradient and LRP relevance, the three maps", test_vit},
        {"ViM-S: logits, residuals, S6 quantities and dy, xai vectors, hidden attention",
         test_vim_trace},
        {"ViM-S: the three maps, official and exact", test_vim_methods},
        {NULL, NULL}};
    return mxb_test_main("fullgeom", cases);
}
