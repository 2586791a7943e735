/* Method ABI v2 and the model-agnostic methods (docs/METHODS-v2.md §1, §3.5, §4.4):
 * the engine's gradients to the input and tokens against PyTorch autograd
 * (tests/gen_agnostic.py), the shared generator against the goldens' port of it,
 * Gauss-Legendre against numpy, parameter checks, and every method's pixel map
 * against the original code's (Captum 0.8.0, eclique/RISE) on the demo models. */
#include "agnostic_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_engine_grads(void) {
    const char *models[2] = {"deit_d64", "vim_d64"}, *kinds[2] = {"onehot", "dense"};
    char err[512];
    for (int mi = 0; mi < 2; mi++) {
        mxb_model *m = NULL;
        CU_ASSERT_EQUAL_FATAL(mxb_model_load(data(mxb_test_path("%s.h5", models[mi])), &m, err, sizeof err), 0);
        const mxb_config *g = mxb_model_config(m);
        mxb_ctx *c = mxb_ctx_new(m, MXB_TRACE_KEEP);
        const size_t nin = (size_t)g->in_chans * g->img_size * g->img_size, LE = (size_t)g->seq_len * g->embed_dim;
        float *logits = malloc((size_t)g->num_classes * sizeof(float)), *gx = malloc(nin * sizeof(float));
        CU_ASSERT_PTR_NOT_NULL(mxb_token_grad(c)); /* a traced context has the buffer */
        for (int k = 0; k < 2; k++) {
            float *x = mxb_test_read_h5(fixture(mxb_test_path("%s.golden.h5", models[mi])), mxb_test_path("input_%d", k), NULL);
            CU_ASSERT_PTR_NOT_NULL_FATAL(x);
            for (int t = 0; t < 2; t++) {
                const char *base = mxb_test_path("%s_%d_%s", models[mi], k, kinds[t]);
                float *w = mxb_test_read_h5(data("grads.h5"), mxb_test_path("%s_w", base), NULL);
                float *rx = mxb_test_read_h5(data("grads.h5"), mxb_test_path("%s_input_grad", base), NULL);
                float *rt = mxb_test_read_h5(data("grads.h5"), mxb_test_path("%s_token_grad", base), NULL);
                CU_ASSERT_FATAL(w && rx && rt);
                mxb_forward(c, x, logits);
                mxb_backward(c, w);
                CU_ASSERT_EQUAL(mxb_input_grad(c, gx), 0);
                const double dx = rel(gx, rx, nin), dt = rel(mxb_token_grad(c), rt, LE);
                printf("\n  %s input %d %-6s: input gradient %.2g, token gradient %.2g (of the max)", models[mi], k,
                       kinds[t], dx, dt);
                CU_ASSERT(dx <= 1e-4);
                CU_ASSERT(dt <= 1e-4);
                free(w), free(rx), free(rt);
            }
            free(x);
        }
        /* an untraced context has no gradients */
        mxb_ctx *plain = mxb_ctx_new(m, MXB_TRACE_NONE);
        CU_ASSERT_PTR_NULL(mxb_token_grad(plain));
        CU_ASSERT_EQUAL(mxb_input_grad(plain, gx), -1);
        mxb_ctx_free(plain);
        free(logits), free(gx);
        mxb_ctx_free(c);
        mxb_model_free(m);
    }
}

/* the goldens' Python port of method.h's generator (tests/fixtures/README.md) */
static void test_generator(void) {
    float *u = mxb_test_read_h5(fixture("methods2_demo_vit.golden.h5"), "rng/u01", NULL);
    float *z = mxb_test_read_h5(fixture("methods2_demo_vit.golden.h5"), "rng/normal", NULL);
    CU_ASSERT_FATAL(u && z);
    mxb_rng a = mxb_rng_new(0), b = mxb_rng_new(0);
    double du = 0, dz = 0;
    for (int i = 0; i < 32; i++) {
        du = fmax(du, fabs(mxb_rng_u01(&a) - u[i]));
        dz = fmax(dz, fabs(mxb_rng_normal(&b) - z[i]));
    }
    printf("\n  generator: u01 %.2g, normal %.2g (stored as float32)", du, dz);
    CU_ASSERT(du <= 1e-7);
    CU_ASSERT(dz <= 1e-6);
    free(u), free(z);
}

static void test_gauss_legendre(void) {
    double x[64], w[64], worst = 0;
    for (int n = 1; n <= 64; n++) {
        mxb_gauss_legendre(n, x, w);
        for (int v = 0; v < 2; v++) {
            const char *nm = v ? "w" : "x";
            float *hi = mxb_test_read_h5(data("grads.h5"), mxb_test_path("leggauss_%d_%s_hi", n, nm), NULL);
            float *lo = mxb_test_read_h5(data("grads.h5"), mxb_test_path("leggauss_%d_%s_lo", n, nm), NULL);
            CU_ASSERT_FATAL(hi && lo);
            for (int i = 0; i < n; i++) worst = fmax(worst, fabs((v ? w : x)[i] - ((double)hi[i] + lo[i])));
            free(hi), free(lo);
        }
    }
    printf("\n  Gauss-Legendre n = 1..64 against numpy's leggauss: %.2g", worst);
    CU_ASSERT(worst <= 1e-14);
}

static void test_params(void) {
    const mxb_method *ig = mxb_methods_find("ig");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ig);
    double v[MXB_MAX_PARAMS];
    char err[512], text[256];
    const char *ok[] = {"steps=16", "rule=riemann_trapezoid"};
    CU_ASSERT_EQUAL(mxb_method_params_parse(ig, ok, 2, v, err, sizeof err), 0);
    CU_ASSERT(v[0] == 16 && v[1] == 4);
    mxb_method_params_format(ig, v, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "steps=16 rule=riemann_trapezoid");
    CU_ASSERT_EQUAL(mxb_method_params_parse(ig, NULL, 0, v, err, sizeof err), 0);
    CU_ASSERT(v[0] == 50 && v[1] == 0); /* Captum's defaults */
    struct { const char *kv, *msg; } bad[] = {
        {"steps=0", "method 'ig' parameter 'steps': '0' is not an integer in [1, 100000]"},
        {"steps=2.5", "is not an integer"},
        {"steps=", "needs a value"},
        {"rule=simpson", "'simpson' is not one of gausslegendre|riemann_left"},
        {"stepz=3", "method 'ig' has no parameter 'stepz'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        CU_ASSERT_EQUAL(mxb_method_params_parse(ig, &bad[i].kv, 1, v, err, sizeof err), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].msg));
        if (!strstr(err, bad[i].msg)) printf("\n  got: %s", err);
    }
    /* a Riemann rule with one step is refused by the cost (before any image) */
    mxb_config g = mxb_config_preset("deit-s");
    mxb_cost cost;
    const char *one[] = {"steps=1", "rule=riemann_left"};
    CU_ASSERT_EQUAL(mxb_method_params_parse(ig, one, 2, v, err, sizeof err), 0);
    CU_ASSERT_EQUAL(mxb_explain_cost(&g, ig, v, &cost), -1);
    CU_ASSERT_EQUAL(mxb_explain_cost(&g, ig, NULL, &cost), 0);
    CU_ASSERT(cost.traced_forwards == 51 && cost.backwards == 50 && cost.plain_forwards == 0);
    CU_ASSERT_EQUAL(mxb_explain_cost(&g, mxb_methods_find("occlusion"), NULL, &cost), 0);
    CU_ASSERT(cost.plain_forwards == 27 * 27); /* 224 px, window 16, stride 8: ceil(208/8) + 1 */
}

/* Every golden of the demo files, each on as many of its inputs as tell something new:
 * IxG (one pass) on all four; the defaults of IG, SmoothGrad and occlusion's finer grid
 * on two (the method's own maths, two classes); each of IG's other quadrature rules and
 * the 50-sample and stride-8 variants on one (they change one formula: its points and
 * weights, checked by Gauss-Legendre above for that rule and here by the map). RISE at
 * its default 6000 masks is model-agnostic code around plain forwards: the ViT's checks
 * it at the default; the ViM's forwards are checked everywhere else and its RISE at full
 * geometry (test_agnostic_full, 64 masks), which saves 6000 ViM forwards here. */
static const golden_case demo_cases[] = {
    {"ixg", "ixg", {0}, 0, 4},
    {"ig", "ig_riemann_left_n16", {"steps=16", "rule=riemann_left"}, 2, 1},
    {"ig", "ig_riemann_right_n16", {"steps=16", "rule=riemann_right"}, 2, 1},
    {"ig", "ig_riemann_middle_n16", {"steps=16", "rule=riemann_middle"}, 2, 1},
    {"ig", "ig_riemann_trapezoid_n16", {"steps=16", "rule=riemann_trapezoid"}, 2, 1},
    {"ig", "ig_gausslegendre_n16", {"steps=16", "rule=gausslegendre"}, 2, 1},
    {"ig", "ig_gausslegendre_n50", {0}, 0, 2}, /* the defaults */
    {"smoothgrad", "smoothgrad_n5", {0}, 0, 2},
    {"smoothgrad", "smoothgrad_n50", {"samples=50"}, 1, 1},
    {"occlusion", "occlusion_w8_s4", {"window=8", "stride=4"}, 2, 2},
    {"occlusion", "occlusion_w8_s8", {"window=8", "stride=8"}, 2, 1},
    {"rise", "rise_n6000", {0}, 0, 1}, /* 6000 forwards an image: ViT only (above) */
};
#define DEMO_CASES (sizeof demo_cases / sizeof *demo_cases)

static void check_demo(const char *model) {
    char w[4096], g[4096], label[32];
    snprintf(w, sizeof w, "%s/models/demo_%s.h5", mxb_test_env("MXB_SOURCE_DIR"), model);
    snprintf(g, sizeof g, "%s", fixture(mxb_test_path("methods2_demo_%s.golden.h5", model)));
    snprintf(label, sizeof label, "demo_%s", model);
    /* rise_n6000 is the table's last row */
    check_goldens(w, g, label, demo_cases, strcmp(model, "vit") ? DEMO_CASES - 1 : DEMO_CASES);
}
static void test_demo_vit(void) { check_demo("vit"); }
static void test_demo_vim(void) { check_demo("vim"); }

int main(void) {
    static const mxb_test_case cases[] = {
        {"engine: gradients to the input and the tokens against autograd", test_engine_grads},
        {"the shared generator against the goldens' port", test_generator},
        {"Gauss-Legendre against numpy", test_gauss_legendre},
        {"method parameters and costs", test_params},
        {"demo ViT: ixg, ig, smoothgrad, occlusion, rise against Captum / RISE", test_demo_vit},
        {"demo ViM: ixg, ig, smoothgrad, occlusion against Captum (RISE: test_agnostic_full)", test_demo_vim},
        {NULL, NULL}};
    return mxb_test_main("agnostic", cases);
}
