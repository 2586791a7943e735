/* Shared by test_agnostic.c and test_agnostic_full.c: a v2 method's pixel map against
 * the original code's (docs/METHODS-v2.md §4.4: both min-maxed, max |mxb - golden| <=
 * 1e-4), through mxb_explain_one with the golden's params. */
#ifndef MXB_TEST_METHODS2_CHECK_H
#define MXB_TEST_METHODS2_CHECK_H

#include "harness/harness.h"
#include "mxb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline const char *data(const char *name) {
    return mxb_test_path("%s/agnostic/%s", mxb_test_env("MXB_TESTDATA"), name);
}
static inline const char *fixture(const char *name) {
    return mxb_test_path("%s/%s", mxb_test_env("MXB_FIXTURES"), name);
}

static inline void minmax(float *x, size_t n) {
    float lo = x[0], hi = x[0];
    for (size_t i = 1; i < n; i++) lo = fminf(lo, x[i]), hi = fmaxf(hi, x[i]);
    for (size_t i = 0; i < n; i++) x[i] = hi > lo ? (x[i] - lo) / (hi - lo) : 0;
}

/* max |a - b| / max |b| */
static inline double rel(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s = fmax(s, fabs(b[i]));
    return mxb_test_max_abs_diff(a, b, n) / (s > 0 ? s : 1);
}

typedef struct {
    const char *method, *golden; /* golden: map_<golden>_<k> */
    const char *kv[3];
    int nkv, images;
} golden_case;

static inline void check_goldens(const char *weights, const char *golden, const char *label, const golden_case *cases,
                          size_t ncases) {
    char gold[4096]; /* mxb_test_path's buffers rotate */
    snprintf(gold, sizeof gold, "%s", golden);
    char err[512];
    mxb_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(mxb_model_load(weights, &m, err, sizeof err), 0);
    const mxb_config *g = mxb_model_config(m);
    mxb_ctx *c = mxb_ctx_new(m, MXB_TRACE_KEEP), *pool[2] = {mxb_ctx_new(m, MXB_TRACE_NONE), mxb_ctx_new(m, MXB_TRACE_NONE)};
    const size_t npix = (size_t)g->img_size * g->img_size;
    float *logits = malloc((size_t)g->num_classes * sizeof(float)), *map = malloc((size_t)g->num_patches * sizeof(float));
    float *px = malloc(npix * sizeof(float));
    for (size_t ci = 0; ci < ncases; ci++) {
        const golden_case *gc = &cases[ci];
        const mxb_method *meth = mxb_methods_find(gc->method);
        CU_ASSERT_PTR_NOT_NULL_FATAL(meth);
        double params[MXB_MAX_PARAMS];
        CU_ASSERT_EQUAL_FATAL(mxb_method_params_parse(meth, gc->kv, gc->nkv, params, err, sizeof err), 0);
#ifdef MXB_TEST_SANITIZED
        /* Under ASan+UBSan (-O0) the thousand-forward cases would take hours: the
         * sanitizers check the same code paths on one image of the lighter cases; the
         * normal build checks every case. */
        if (strstr(gc->golden, "_n6000") || strstr(gc->golden, "_n50")) continue;
        const int nimages = 1;
#else
        const int nimages = gc->images;
#endif
        for (int k = 0; k < nimages; k++) {
            float *x = mxb_test_read_h5(gold, mxb_test_path("input_%d", k), NULL);
            size_t n = 0;
            float *ref = mxb_test_read_h5(gold, mxb_test_path("map_%s_%d", gc->golden, k), &n);
            CU_ASSERT_FATAL(x && ref && n == npix);
            mxb_explain_opts o = {.class_index = -1, .start_layer = -1, .params = params, .seed = 0, .pool = pool,
                                  .npool = 2, .pixel_map = px};
            int explained = -1;
            const int rc = mxb_explain_one(c, m, meth, x, &o, logits, &explained, map, err, sizeof err);
            if (rc) printf("\n  %s\n", err);
            CU_ASSERT_EQUAL_FATAL(rc, 0);
            CU_ASSERT_EQUAL(explained, (int)mxb_test_read_h5_scalar(gold, mxb_test_path("class_%d", k)));
            /* the stored grid map is the pixel map's patch mean (§3.6) */
            const int P = g->patch_size, G = g->grid;
            double s = 0;
            for (int y = 0; y < P; y++)
                for (int xx = 0; xx < P; xx++) s += px[(size_t)(G - 1) * P * g->img_size + y * g->img_size + (G - 1) * P + xx];
            CU_ASSERT(fabs(map[G * G - 1] - s / (P * P)) <= 1e-5 * (1 + fabs(s / (P * P))));
            const double r = rel(px, ref, npix);
            minmax(px, npix);
            minmax(ref, npix);
            const double d = mxb_test_max_abs_diff(px, ref, npix);
            printf("\n  %s %-26s input %d: %.2g after min-max (%.2g of the max before)", label, gc->golden, k, d, r);
            CU_ASSERT(d <= 1e-4);
            free(x), free(ref);
        }
    }
    free(logits), free(map), free(px);
    mxb_ctx_free(c), mxb_ctx_free(pool[0]), mxb_ctx_free(pool[1]);
    mxb_model_free(m);
}

#endif
