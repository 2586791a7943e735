/* The LRP methods of issue 16 against golden maps from the original repositories' code
 * (tests/fixtures/methods2_*.golden.h5, tests/fixtures/README.md): MambaLRP
 * (FarnoushRJ/MambaLRP's vision_relevance_propagation, both rule sets, with and
 * without conv γ) on the demo ViM (4 images) and ViM-S at full geometry (weights
 * regenerated from their seed by gen_lrp.py, content SHA-256 checked there).
 * docs/METHODS-v2.md §4.4: both maps min-maxed, max |mxb − golden| ≤ 1e-4; the
 * explained class is the golden's. */
#include "engine/engine.h"
#include "harness/harness.h"
#include "metrics/metrics.h"
#include "methods/method.h"
#include "mxb_test.h"

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

int main(void) {
    static const mxb_test_case cases[] = {
        {"MambaLRP, 4 rule sets, demo ViM: the original code's maps", test_mambalrp_demo},
        {"MambaLRP, 4 rule sets, ViM-S full geometry: the original code's maps", test_mambalrp_full},
        {"MambaLRP: the goldens' rule sets differ", test_mambalrp_rules_differ},
        {"MambaLRP on a ViT: refused", test_mambalrp_vit_refused},
        {NULL, NULL}};
    return mxb_test_main("lrp", cases);
}
