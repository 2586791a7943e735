/* The LRP methods of issue 16 against golden maps from the original repositories' code
 * (tests/fixtures/methods2_*.golden.h5, tests/fixtures/README.md): MambaLRP
 * (FarnoushRJ/MambaLRP's vision_relevance_propagation, both rule sets, with and
 * without conv γ) on the demo ViM (4 images) and ViM-S at full geometry (weights
 * regenerated from their seed by gen_lrp.py, content SHA-256 checked there).
 * Chefer's ViT baselines (hila-chefer/Transformer-Explainability: ViT_orig_LRP's
 * "last_layer" with and without is_ablation, "full", and Baselines.generate_cam_attn
 * for the GradCAM example plugin) on the demo ViT and DeiT-S.
 * docs/METHODS-v2.md §4.4: both maps min-maxed, max |mxb − golden| ≤ 1e-4; the
 * explained class is the golden's. LRP at full geometry: tests/test_fullgeom.c's
 * rule — 1e-4 where the golden's f32_vs_f64 (PyTorch float32 vs the float64 golden)
 * is ≤ 1e-4, else max(0.1, f32_vs_f64); the demo's full-LRP goldens are float32
 * (ill-conditioned, tests/fixtures/README.md) and held to the same 0.1. */
#include "engine/engine.h"
#include "harness/harness.h"
#include "metrics/metrics.h"
#include "methods/method.h"
#include "mxb_test.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *fixture(const char *name) {
    return mxb_test_path("%s/methods2_%s.golden.h5", mxb_test_env("MXB_FIXTURES"), name);
}

static mxb_model *load(const char *path) {
    char err[512];
    mxb_model *m = NULL;
    if (mxb_model_load(path, &m, err, sizeof err)) fprintf(stderr, "%s\n", err);
    return m;
}

static void minmax(float *x, size_t n) { /* a flat map: zeros (both sides) */
    if (mxb_minmax_normalize(x, n))
        for (size_t i = 0; i < n; i++) x[i] = 0;
}


/* §4.4's tolerance for an LRP map whose golden says how far PyTorch float32 lands */
static double lrp_tolerance(const char *gold, const char *dset) {
    const double e = mxb_test_f32_vs_f64(gold, dset);
    return isnan(e) || e <= 1e-4 ? 1e-4 : fmax(0.1, e);
}

/* one method on input_k of the golden file, compared with its dataset dset; returns
 * the difference after min-max (INFINITY when it could not run) */
static double compare(mxb_ctx *c, const mxb_model *m, const char *gold, int k, const char *method,
                      const char *dset, double tol) {
    const mxb_config *g = mxb_model_config(m);
    const mxb_method *meth = mxb_methods_find(method);
    CU_ASSERT_PTR_NOT_NULL_FATAL(meth);
    size_t nx = 0, ng = 0;
    float *x = mxb_test_read_h5(gold, mxb_test_path("input_%d", k), &nx);
    float *ref = mxb_test_read_h5(gold, mxb_test_path("%s_%d", dset, k), &ng);
    float *logits = calloc((size_t)g->num_classes, sizeof *logits);
    float *map = calloc((size_t)g->num_patches, sizeof *map);
    CU_ASSERT_FATAL(x && ref && logits && map);
    CU_ASSERT_EQUAL_FATAL(ng, (size_t)g->num_patches);
    mxb_explain_opts opts = {.class_index = -1, .variant = MXB_VARIANT_OFFICIAL, .start_layer = -1};
    int cls = -1;
    char err[512] = "";
    double d = INFINITY;
    if (mxb_explain_one(c, m, meth, x, &opts, logits, &cls, map, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        CU_FAIL("explain failed");
    } else {
        CU_ASSERT_EQUAL(cls, (int)mxb_test_read_h5_scalar(gold, mxb_test_path("class_%d", k)));
        minmax(map, ng);
        minmax(ref, ng);
        d = mxb_test_max_abs_diff(map, ref, ng);
        printf("\n  %-22s %-40s image %d: max diff after min-max %.3g", method, dset, k, d);
        CU_ASSERT(d <= tol);
    }
    free(x);
    free(ref);
    free(logits);
    free(map);
    return d;
}

static const struct {
    const char *method, *dset;
} mambalrp[] = {
    {"mambalrp", "map_mambalrp_paper"},
    {"mambalrp-vision", "map_mambalrp_vision-default"},
    {"mambalrp-gamma", "map_mambalrp_paper_conv-gamma"},
    {"mambalrp-vision-gamma", "map_mambalrp_vision-default_conv-gamma"},
};
#define NMLRP ((int)(sizeof mambalrp / sizeof mambalrp[0]))

static void run_mambalrp(const char *weights, const char *name, int nimages) {
    mxb_model *m = load(weights);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    mxb_ctx *c = mxb_ctx_new(m, MXB_TRACE_KEEP);
    for (int i = 0; i < NMLRP; i++)
        for (int k = 0; k < nimages; k++) compare(c, m, fixture(name), k, mambalrp[i].method, mambalrp[i].dset, 1e-4);
    mxb_ctx_free(c);
    mxb_model_free(m);
}

static void test_mambalrp_demo(void) {
    run_mambalrp(mxb_test_path("%s/models/demo_vim.h5", mxb_test_env("MXB_SOURCE_DIR")), "demo_vim", 4);
}

static void test_mambalrp_full(void) {
    run_mambalrp(mxb_test_path("%s/lrp/vim_s.h5", mxb_test_env("MXB_TESTDATA")), "vim_s", 1);
}

/* The rule flags matter: on the demo ViM, each rule set's map differs from the
 * others' goldens (a pass that ignored its flags would match only one of them). */
static void test_mambalrp_rules_differ(void) {
    const char *gold = fixture("demo_vim");
    size_t n = 0;
    float *a = mxb_test_read_h5(gold, "map_mambalrp_paper_0", &n);
    float *b = mxb_test_read_h5(gold, "map_mambalrp_vision-default_0", NULL);
    float *c = mxb_test_read_h5(gold, "map_mambalrp_paper_conv-gamma_0", NULL);
    CU_ASSERT_FATAL(a && b && c);
    minmax(a, n);
    minmax(b, n);
    minmax(c, n);
    const double ab = mxb_test_max_abs_diff(a, b, n), ac = mxb_test_max_abs_diff(a, c, n);
    printf("\n  golden paper vs vision-default %.3g, paper vs conv-gamma %.3g", ab, ac);
    CU_ASSERT(ab > 1e-2 && ac > 1e-2);
    free(a);
    free(b);
    free(c);
}

/* MambaLRP is ViM only: the registry refuses it for a ViT model with one line */
static void test_mambalrp_vit_refused(void) {
    mxb_model *m = load(mxb_test_path("%s/models/demo_vit.h5", mxb_test_env("MXB_SOURCE_DIR")));
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    mxb_ctx *c = mxb_ctx_new(m, MXB_TRACE_KEEP);
    const mxb_config *g = mxb_model_config(m);
    float *x = calloc((size_t)g->in_chans * g->img_size * g->img_size, sizeof *x);
    float *logits = calloc((size_t)g->num_classes, sizeof *logits), *map = calloc((size_t)g->num_patches, 4);
    mxb_explain_opts opts = {.class_index = -1, .start_layer = -1};
    int cls;
    char err[512] = "";
    CU_ASSERT_EQUAL(mxb_explain_one(c, m, mxb_methods_find("mambalrp"), x, &opts, logits, &cls, map, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "does not support") != NULL);
    float seed[1] = {1}, rel[1];
    CU_ASSERT_EQUAL(mxb_vim_mambalrp(c, seed, 0, rel), -1);
    free(x);
    free(logits);
    free(map);
    mxb_ctx_free(c);
    mxb_model_free(m);
}

static mxb_model *demo_vit(void) {
    return load(mxb_test_path("%s/models/demo_vit.h5", mxb_test_env("MXB_SOURCE_DIR")));
}
static mxb_model *deit_s(void) { return load(mxb_test_path("%s/lrp/deit_s.h5", mxb_test_env("MXB_TESTDATA"))); }

static void run_vit(mxb_model *m, const char *name, int nimages, const char *method, const char *dset,
                    int lrp) {
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    mxb_ctx *c = mxb_ctx_new(m, MXB_TRACE_KEEP);
    for (int k = 0; k < nimages; k++) {
        const double tol = lrp ? lrp_tolerance(fixture(name), mxb_test_path("%s_%d", dset, k)) : 1e-4;
        compare(c, m, fixture(name), k, method, dset, tol);
    }
    mxb_ctx_free(c);
    mxb_model_free(m);
}

static void test_partial_demo(void) {
    run_vit(demo_vit(), "demo_vit", 4, "lrp-partial", "map_lrp-partial", 1);
    run_vit(demo_vit(), "demo_vit", 4, "lrp-partial-grad", "map_lrp-partial_grad", 1);
}
static void test_partial_full(void) {
    run_vit(deit_s(), "deit_s", 1, "lrp-partial", "map_lrp-partial", 1);
    run_vit(deit_s(), "deit_s", 1, "lrp-partial-grad", "map_lrp-partial_grad", 1);
}

/* The example plugin's ViT branch is generate_cam_attn exactly (the golden ran ViT_new
 * with its final LayerNorm at 1e-6; mxb's weights carry Chefer's LRP models' 1e-5:
 * Trap A, measured ≤ 4e-6 after min-max, so no override) */
static void test_gradcam(void) {
    char err[512];
    if (!mxb_methods_find("gradcam") &&
        mxb_methods_load_plugin(mxb_test_path("%s/libgradcam.so", mxb_test_env("MXB_PLUGIN_DIR")), err, sizeof err))
        fprintf(stderr, "%s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mxb_methods_find("gradcam"));
    run_vit(demo_vit(), "demo_vit", 4, "gradcam", "map_gradcam", 0);
    run_vit(deit_s(), "deit_s", 1, "gradcam", "map_gradcam", 0);
}

/* Full LRP: the pixel map [S, S] (what the original evaluates) from the engine, and the
 * method's patch-grid map against the golden's patch mean. */
static void full_lrp(mxb_model *m, const char *name, int nimages) {
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    const mxb_config *g = mxb_model_config(m);
    const int S = g->img_size, G = g->grid, P = g->patch_size;
    const size_t npix = (size_t)S * S;
    mxb_ctx *c = mxb_ctx_new(m, MXB_TRACE_KEEP);
    float *logits = calloc((size_t)g->num_classes, sizeof *logits), *seed = calloc((size_t)g->num_classes, 4);
    float *rel = calloc(npix, sizeof *rel), *map = calloc((size_t)g->num_patches, sizeof *map);
    float *gmap = calloc((size_t)g->num_patches, sizeof *gmap);
    CU_ASSERT_FATAL(c && logits && seed && rel && map && gmap);
    for (int k = 0; k < nimages; k++) {
        const char *gold = fixture(name), *dset = mxb_test_path("map_lrp-full_%d", k);
        /* the demo's golden is float32 only (no f32_vs_f64): fixtures/README.md measured an
         * independent float64 full LRP 0.15..2.1 % away from it after min-max, so it
         * gets the ill-conditioned bound 0.1, as cli_goldens.sh */
        const double tol = isnan(mxb_test_f32_vs_f64(gold, dset)) ? 0.1 : lrp_tolerance(gold, dset);
        size_t n = 0;
        float *x = mxb_test_read_h5(gold, mxb_test_path("input_%d", k), NULL);
        float *ref = mxb_test_read_h5(gold, dset, &n);
        CU_ASSERT_FATAL(x && ref && n == npix);
        const int cls = (int)mxb_test_read_h5_scalar(gold, mxb_test_path("class_%d", k));
        mxb_forward(c, x, logits);
        for (int i = 0; i < g->num_classes; i++) seed[i] = i == cls;
        CU_ASSERT_EQUAL_FATAL(mxb_vit_lrp_rules(c, seed, MXB_LRP_ORIG | MXB_LRP_TO_INPUT, x, rel), 0);
        /* the golden's patch mean, before min-max (the method's grid map) */
        for (int i = 0; i < G * G; i++) {
            double s = 0;
            for (int y = 0; y < P; y++)
                for (int xx = 0; xx < P; xx++) s += ref[(size_t)((i / G) * P + y) * S + (i % G) * P + xx];
            gmap[i] = (float)(s / (P * P));
        }
        minmax(rel, npix);
        minmax(ref, npix);
        const double d = mxb_test_max_abs_diff(rel, ref, npix);
        printf("\n  lrp-full pixels %s image %d: max diff after min-max %.3g (tolerance %.3g; PyTorch f32 vs f64 %.3g)",
               name, k, d, tol, mxb_test_f32_vs_f64(gold, dset));
        CU_ASSERT(d <= tol);
        /* the method through the harness: the grid map */
        mxb_explain_opts opts = {.class_index = -1, .start_layer = -1};
        int got = -1;
        char err[512] = "";
        CU_ASSERT_EQUAL(mxb_explain_one(c, m, mxb_methods_find("lrp-full"), x, &opts, logits, &got, map, err,
                                        sizeof err), 0);
        CU_ASSERT_EQUAL(got, cls);
        minmax(map, (size_t)G * G);
        minmax(gmap, (size_t)G * G);
        const double dg = mxb_test_max_abs_diff(map, gmap, (size_t)G * G);
        printf("\n  lrp-full grid   %s image %d: max diff after min-max %.3g", name, k, dg);
        CU_ASSERT(dg <= tol);
        free(x);
        free(ref);
    }
    free(logits);
    free(seed);
    free(rel);
    free(map);
    free(gmap);
    mxb_ctx_free(c);
    mxb_model_free(m);
}
static void test_full_demo(void) { full_lrp(demo_vit(), "demo_vit", 4); }
static void test_full_full(void) { full_lrp(deit_s(), "deit_s", 1); }

/* The rule sets differ where they should: ORIG vs OURS relevance of the last block on
 * the demo ViT (Transformer-Attribution's rules would not match lrp-partial's golden),
 * and the partial pass leaves the lower blocks unread (NULL through the harness). */
static int probe_seen;
static int probe_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    (void)err, (void)errlen;
    probe_seen = !in->attn_relevance(in->trace, 0) && in->attn_relevance(in->trace, in->depth - 1) &&
                 !in->pixel_relevance(in->trace) && !in->token_relevance(in->trace);
    for (int i = 0; i < in->grid * in->grid; i++) map[i] = 0;
    return 0;
}
static const mxb_method probe = {
    .abi_version = MXB_METHOD_ABI_VERSION, .name = "probe", .archs = MXB_METHOD_VIT,
    .needs = MXB_NEEDS_RELEVANCE_ORIG | MXB_NEEDS_RELEVANCE_LAST, .explain = probe_explain,
};

static void test_rule_sets(void) {
    mxb_model *m = demo_vit();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    const mxb_config *g = mxb_model_config(m);
    const int L = g->seq_len, H = g->num_heads, b = g->depth - 1;
    mxb_ctx *c = mxb_ctx_new(m, MXB_TRACE_KEEP);
    const char *gold = fixture("demo_vit");
    float *x = mxb_test_read_h5(gold, "input_0", NULL);
    float *logits = calloc((size_t)g->num_classes, 4), *seed = calloc((size_t)g->num_classes, 4);
    float *a = calloc((size_t)H * L * L, 4);
    CU_ASSERT_FATAL(x && logits && seed && a);
    mxb_forward(c, x, logits);
    seed[(int)mxb_test_read_h5_scalar(gold, "class_0")] = 1;
    CU_ASSERT_EQUAL(mxb_vit_lrp_rules(c, seed, MXB_LRP_ORIG | MXB_LRP_LAST_BLOCK, NULL, NULL), 0);
    memcpy(a, mxb_vit_attn_relevance(c, b), (size_t)H * L * L * 4);
    CU_ASSERT_EQUAL(mxb_relevance(c, seed), 0);
    const double d = mxb_test_max_abs_diff(a, mxb_vit_attn_relevance(c, b), (size_t)H * L * L);
    const double r = mxb_test_range(a, (size_t)H * L * L);
    printf("\n  last block R_A, orig vs ours rules: %.3g of its range", d / r);
    CU_ASSERT(d > 1e-3 * r);
    /* the golden's R_A of the last block (image 0, all heads): orig rules, f32 */
    size_t n = 0;
    float *ref = mxb_test_read_h5(gold, "debug/R_A_last_0", &n);
    CU_ASSERT_FATAL(ref && n == (size_t)H * L * L);
    const double dr = mxb_test_max_abs_diff(a, ref, n) / mxb_test_range(ref, n);
    printf("\n  last block R_A vs the original's: %.3g of its range", dr);
    CU_ASSERT(dr <= 1e-3);
    /* to the input without an image or an output: refused */
    CU_ASSERT_EQUAL(mxb_vit_lrp_rules(c, seed, MXB_LRP_TO_INPUT | MXB_LRP_ORIG, NULL, NULL), -1);
    /* through the harness: a last-block pass shows no relevance below the last block */
    float *map = calloc((size_t)g->num_patches, 4);
    mxb_explain_opts opts = {.class_index = -1, .start_layer = -1};
    int cls = -1;
    char err[512] = "";
    CU_ASSERT_EQUAL(mxb_explain_one(c, m, &probe, x, &opts, logits, &cls, map, err, sizeof err), 0);
    CU_ASSERT_EQUAL(probe_seen, 1);
    free(map);
    free(ref);
    free(x);
    free(logits);
    free(seed);
    free(a);
    mxb_ctx_free(c);
    mxb_model_free(m);
}

int main(void) {
    static const mxb_test_case cases[] = {
        {"MambaLRP, 4 rule sets, demo ViM: the original code's maps", test_mambalrp_demo},
        {"MambaLRP, 4 rule sets, ViM-S full geometry: the original code's maps", test_mambalrp_full},
        {"MambaLRP: the goldens' rule sets differ", test_mambalrp_rules_differ},
        {"MambaLRP on a ViT: refused", test_mambalrp_vit_refused},
        {"lrp-partial (+grad), demo ViT: the original code's maps", test_partial_demo},
        {"lrp-partial (+grad), DeiT-S full geometry: the float64 golden", test_partial_full},
        {"gradcam plugin = generate_cam_attn, demo ViT and DeiT-S", test_gradcam},
        {"lrp-full, demo ViT: pixels and the patch grid", test_full_demo},
        {"lrp-full, DeiT-S full geometry: pixels and the patch grid, the float64 golden", test_full_full},
        {"ViT LRP rule sets: orig vs ours, R_A of the original", test_rule_sets},
        {NULL, NULL}};
    return mxb_test_main("lrp", cases);
}
