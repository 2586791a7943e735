/* Every built-in method's map against the original code's (tests/fixtures),
 * for both models and both inputs; the plugin ABI. */
#include "harness/harness.h"
#include "mxb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *weights(const char *name) {
    /* converted by tests/gen_methods.py, independently of the code under test */
    return mxb_test_path("%s/methods/%s.h5", mxb_test_env("MXB_TESTDATA"), name);
}
static const char *golden(const char *model) {
    return mxb_test_path("%s/%s.golden.h5", mxb_test_env("MXB_FIXTURES"), model);
}

static void minmax(float *x, size_t n) {
    float lo = x[0], hi = x[0];
    for (size_t i = 1; i < n; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    for (size_t i = 0; i < n; i++) x[i] = hi > lo ? (x[i] - lo) / (hi - lo) : 0;
}

static void check_model(const char *model) {
    char err[512];
    mxb_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(mxb_model_load(weights(model), &m, err, sizeof err), 0);
    const mxb_config *g = mxb_model_config(m);
    mxb_ctx *c = mxb_ctx_new(m, MXB_TRACE_KEEP);
    const size_t P = (size_t)g->num_patches;
    float *logits = malloc((size_t)g->num_classes * sizeof(float)), *map = malloc(P * sizeof(float));
    const char *names[3] = {"raw-attention", "rollout", "attribution"};
    for (int k = 0; k < 2; k++) {
        float *x = mxb_test_read_h5(golden(model), mxb_test_path("input_%d", k), NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(x);
        for (int i = 0; i < 3; i++) {
            const mxb_method *meth = mxb_methods_find(names[i]);
            CU_ASSERT_PTR_NOT_NULL_FATAL(meth);
            mxb_explain_opts o = {.class_index = -1, .variant = MXB_VARIANT_OFFICIAL,
                                  .start_layer = -1};
            int explained = -1;
            int rc = mxb_explain_one(c, m, meth, x, &o, logits, &explained, map, err, sizeof err);
            if (rc) fprintf(stderr, "%s\n", err);
            CU_ASSERT_EQUAL_FATAL(rc, 0);
            size_t n = 0;
            float *ref = mxb_test_read_h5(golden(model), mxb_test_path("map_%s_%d", names[i], k), &n);
            CU_ASSERT_FATAL(ref && n == P);
            double scale = 0;
            for (size_t j = 0; j < P; j++) scale = fmax(scale, fabs(ref[j]));
            double raw = mxb_test_max_abs_diff(map, ref, P) / (scale > 0 ? scale : 1);
            minmax(map, P);
            minmax(ref, P);
            double norm = mxb_test_max_abs_diff(map, ref, P);
            printf("\n  %s %-13s input %d: max diff %.2g of the map's max, %.2g after min-max",
                   model, names[i], k, raw, norm);
            CU_ASSERT(raw <= 1e-4);
            CU_ASSERT(norm <= 1e-4);
            free(ref);
        }
        free(x);
    }
    free(logits);
    free(map);
    mxb_ctx_free(c);
    mxb_model_free(m);
}

static void test_vit_methods(void) { check_model("deit_d64"); }
static void test_vim_methods(void) { check_model("vim_d64"); }

int main(void) {
    static const mxb_test_case cases[] = {
        {"DeiT: raw-attention, rollout, Transformer-Attribution", test_vit_methods},
        {"ViM: raw-attention, rollout, Mamba-Attribution", test_vim_methods},
        {NULL, NULL}};
    return mxb_test_main("methods", cases);
}
