/* The method plugin ABI: the example plugin loads and runs (against maps computed
 * with numpy from the original code's intermediates); bad plugins are refused. */
#include "harness/harness.h"
#include "mxb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *plugin(const char *name) {
    return mxb_test_path("%s/lib%s.so", mxb_test_env("MXB_PLUGIN_DIR"), name);
}
static const char *data(const char *name) {
    return mxb_test_path("%s/plugins/%s", mxb_test_env("MXB_TESTDATA"), name);
}

static void run_gradcam(const char *weights, const char *model, const char *golden_key) {
    char err[512];
    mxb_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(mxb_model_load(data(weights), &m, err, sizeof err), 0);
    const mxb_config *g = mxb_model_config(m);
    const mxb_method *meth = mxb_methods_find("gradcam");
    CU_ASSERT_PTR_NOT_NULL_FATAL(meth);
    CU_ASSERT(meth->class_specific && (meth->needs & MXB_NEEDS_GRADIENT));
    mxb_ctx *c = mxb_ctx_new(m, MXB_TRACE_KEEP);
    float *x = mxb_test_read_h5(mxb_test_path("%s/%s.golden.h5", mxb_test_env("MXB_FIXTURES"), model), "input_0", NULL);
    float *logits = malloc((size_t)g->num_classes * sizeof(float));
    float *map = malloc((size_t)g->num_patches * sizeof(float));
    mxb_explain_opts o = {.class_index = -1, .variant = MXB_VARIANT_OFFICIAL, .start_layer = -1};
    int cls;
    CU_ASSERT_EQUAL_FATAL(mxb_explain_one(c, m, meth, x, &o, logits, &cls, map, err, sizeof err), 0);
    size_t n = 0;
    float *ref = mxb_test_read_h5(data("gradcam.h5"), golden_key, &n);
    CU_ASSERT_FATAL(ref && n == (size_t)g->num_patches);
    double scale = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, ref[i]);
    double d = mxb_test_max_abs_diff(map, ref, n);
    printf("\n  %s gradcam: max diff %.3g of the map's max %.3g", model, d / scale, scale);
    CU_ASSERT(scale > 0);
    CU_ASSERT(d <= 1e-4 * scale);
    free(ref);
    free(x);
    free(logits);
    free(map);
    mxb_ctx_free(c);
    mxb_model_free(m);
}

static void test_example_plugin(void) {
    char err[512];
    int before = mxb_methods_count();
    CU_ASSERT_EQUAL_FATAL(mxb_methods_load_plugin(plugin("gradcam"), err, sizeof err), 0);
    CU_ASSERT_EQUAL(mxb_methods_count(), before + 1);
    run_gradcam("deit_d64.h5", "deit_d64", "vit");
    run_gradcam("vim_d64.h5", "vim_d64", "vim");
}

static void expect_refused(const char *path, const char *needle) {
    char err[512] = "";
    int before = mxb_methods_count();
    CU_ASSERT_EQUAL(mxb_methods_load_plugin(path, err, sizeof err), -1);
    printf("\n  %s", err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
    CU_ASSERT_PTR_NULL(strchr(err, '\n'));
    CU_ASSERT_EQUAL(mxb_methods_count(), before);
}

static void test_bad_plugins(void) {
    expect_refused(plugin("bad_abi"), "built for method ABI 3; this mxb loads ABI 1 and 2");
    expect_refused(plugin("bad_nosym"), "no symbol mxb_plugin_methods");
    expect_refused(plugin("bad_clash"), "'rollout' is already registered");
    expect_refused(data("not_a_plugin.so"), "cannot load plugin");
    expect_refused(data("missing.so"), "cannot load plugin");
    mxb_methods_unload_plugins();
}

int main(void) {
    static const mxb_test_case cases[] = {
        {"example plugin (gradcam) loads and matches numpy", test_example_plugin},
        {"bad plugins are refused with a clear message", test_bad_plugins},
        {NULL, NULL}};
    return mxb_test_main("plugins", cases);
}
