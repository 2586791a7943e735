/* UIA (Zimerman, Ali, Wolf 2025; docs/METHODS-v2.md 3.2) against the original code's
 * goldens (tests/fixtures/methods2_{demo_vim,vim_s}.golden.h5, made by running
 * UnifiedImplicitAttnRepr's own generate_ours / MambaInnerFnNoOutProj): the uia
 * method's maps and its three ablations (within 1e-4 after min-max, §4.4), the
 * combined CLS rows attn_vec of three layers and the full saveAttnMat matrices
 * (relative to their max), on the trained demo ViM and on ViM-S at full geometry
 * (weights regenerated from the seed by tests/gen_uia.py, SHA-256 checked). */
#include "harness/harness.h"
#include "mxb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* into the caller's buffer: mxb_test_path's buffers rotate */
static const char *fixture(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/methods2_%s.golden.h5", mxb_test_env("MXB_FIXTURES"), name);
    return buf;
}

static void minmax(float *x, size_t n) {
    float lo = x[0], hi = x[0];
    for (size_t i = 1; i < n; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    for (size_t i = 0; i < n; i++) x[i] = hi > lo ? (x[i] - lo) / (hi - lo) : 0;
}

typedef struct {
    mxb_model *m;
    mxb_ctx *c;
    const mxb_config *g;
    float *logits, *map;
} model_run;

static void open_model(model_run *r, const char *weights) {
    char err[512];
    CU_ASSERT_EQUAL_FATAL(mxb_model_load(weights, &r->m, err, sizeof err), 0);
    r->g = mxb_model_config(r->m);
    r->c = mxb_ctx_new(r->m, MXB_TRACE_KEEP);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->c);
    r->logits = malloc((size_t)r->g->num_classes * sizeof(float));
    r->map = malloc((size_t)r->g->num_patches * sizeof(float));
}

static void close_model(model_run *r) {
    free(r->logits);
    free(r->map);
    mxb_ctx_free(r->c);
    mxb_model_free(r->m);
}

/* explains input_k with `method` under `variant`; checks the class and the map
 * against dataset `dset` after min-max; returns that distance */
static double check_map(model_run *r, const char *gold, int k, const char *method, mxb_variant variant,
                        const char *dset) {
    char err[512];
    float *x = mxb_test_read_h5(gold, mxb_test_path("input_%d", k), NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    const mxb_method *meth = mxb_methods_find(method);
    CU_ASSERT_PTR_NOT_NULL_FATAL(meth);
    mxb_explain_opts o = {.class_index = -1, .variant = variant, .start_layer = -1};
    int explained = -1;
    const int rc = mxb_explain_one(r->c, r->m, meth, x, &o, r->logits, &explained, r->map, err, sizeof err);
    if (rc) fprintf(stderr, "%s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(explained, (int)mxb_test_read_h5_scalar(gold, mxb_test_path("class_%d", k)));
    const size_t P = (size_t)r->g->num_patches;
    size_t n = 0;
    float *ref = mxb_test_read_h5(gold, dset, &n);
    CU_ASSERT_FATAL(ref && n == P);
    minmax(r->map, P);
    minmax(ref, P);
    const double d = mxb_test_max_abs_diff(r->map, ref, P);
    printf("\n  %-40s input %d: max diff %.2g after min-max", dset, k, d);
    CU_ASSERT(d <= 1e-4);
    free(ref);
    free(x);
    return d;
}

/* the trace of the last explain_one is input k's: the UIA CLS rows of three layers
 * (all channels, or the fixture's `channels`) against debug/uia_attn_vec_0 */
static void check_rows(model_run *r, const char *gold, const int *layers, const int *chans, int nch) {
    const int L = r->g->seq_len, D = r->g->d_inner;
    float *v = malloc((size_t)D * L * sizeof *v), *sel = malloc((size_t)D * L * sizeof *sel);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL_FATAL(mxb_vim_xai_vector(r->c, layers[i], MXB_VARIANT_UIA, v), 0);
        for (int k = 0; k < nch; k++) memcpy(sel + (size_t)k * L, v + (size_t)chans[k] * L, (size_t)L * sizeof *v);
        const double d = mxb_test_rel_diff_h5(gold, mxb_test_path("debug/uia_attn_vec_0/layer_%02d", layers[i]), sel,
                                              (size_t)nch * L);
        printf("\n  UIA attn_vec layer %2d: max diff %.2g of its max", layers[i], d);
        CU_ASSERT(d <= 1e-4);
    }
    /* a form that is not one: the ablation bits without UIA */
    CU_ASSERT_EQUAL(mxb_vim_xai_vector(r->c, layers[0], MXB_VARIANT_UIA_NO_CONV, v), -1);
    CU_ASSERT_EQUAL(mxb_vim_xai_vector(r->c, layers[0], (mxb_variant)3, v), -1);
    free(v);
    free(sel);
}

static void check_identity(model_run *r, int layer); /* below */

static void test_demo(void) {
    model_run r;
    open_model(&r, mxb_test_path("%s/models/demo_vim.h5", mxb_test_env("MXB_SOURCE_DIR")));
    char buf[4096];
    const char *gold = fixture(buf, sizeof buf, "demo_vim");
    static const struct { mxb_variant v; const char *tag; } abl[] = {
        {MXB_VARIANT_UIA | MXB_VARIANT_UIA_NO_CONV, "no-conv"},
        {MXB_VARIANT_UIA | MXB_VARIANT_UIA_NO_GATE, "no-gate"},
        {MXB_VARIANT_UIA | MXB_VARIANT_UIA_NO_ACT, "no-act"}};
    for (int a = 0; a < 3; a++)
        check_map(&r, gold, 0, "uia", abl[a].v, mxb_test_path("map_uia_%s_0", abl[a].tag));
    /* the uia method reads UIA rows whatever the run's form (official here) */
    for (int k = 3; k >= 0; k--) check_map(&r, gold, k, "uia", MXB_VARIANT_OFFICIAL, mxb_test_path("map_uia_%d", k));
    const int layers[3] = {0, 4, 7};
    int chans[256];
    for (int k = 0; k < 256; k++) chans[k] = k;
    CU_ASSERT_EQUAL_FATAL(r.g->d_inner, 256);
    check_rows(&r, gold, layers, chans, 256);
    /* saveAttnMat of layer 4: [2 directions, 4 channels, L, L], each direction in its
     * own token order */
    const int L = r.g->seq_len, mc[4] = {0, 1, 2, 255};
    float *M = malloc((size_t)2 * 4 * L * L * sizeof *M), *one = malloc((size_t)L * L * sizeof *one);
    for (int d = 0; d < 2; d++)
        for (int k = 0; k < 4; k++) {
            CU_ASSERT_EQUAL_FATAL(mxb_vim_uia_matrix(r.c, 4, d, mc[k], mc[k] + 1, MXB_VARIANT_UIA, one), 0);
            memcpy(M + ((size_t)d * 4 + k) * L * L, one, (size_t)L * L * sizeof *one);
        }
    const double dm = mxb_test_rel_diff_h5(gold, "debug/uia_matrix_layer_04", M, (size_t)2 * 4 * L * L);
    printf("\n  UIA matrix layer 4 (saveAttnMat): max diff %.2g of its max", dm);
    CU_ASSERT(dm <= 1e-4);
    CU_ASSERT_EQUAL(mxb_vim_uia_matrix(r.c, 4, 0, 0, 1, MXB_VARIANT_EXACT, one), -1);
    /* --save-attention's UIA form: the channel-mean matrices in image order; row cls of
     * the two directions' sum is the channel mean of the CLS row (computed by another
     * path: cls_row, not the full-matrix rows) */
    const int D = r.g->d_inner, cls = r.g->cls_pos;
    float *v = malloc((size_t)D * L * sizeof *v), *mean = calloc((size_t)L, sizeof *mean);
    CU_ASSERT_EQUAL_FATAL(mxb_vim_xai_vector(r.c, 4, MXB_VARIANT_UIA, v), 0);
    for (int ch = 0; ch < D; ch++)
        for (int j = 0; j < L; j++) mean[j] += v[(size_t)ch * L + j] / (float)D;
    CU_ASSERT_EQUAL_FATAL(mxb_vim_uia_matrix_mean(r.c, 4, 0, 1, MXB_VARIANT_UIA, M), 0);
    CU_ASSERT_EQUAL_FATAL(mxb_vim_uia_matrix_mean(r.c, 4, 1, 1, MXB_VARIANT_UIA, one), 0);
    double worst = 0, scale = 0;
    for (int j = 0; j < L; j++) {
        const double row = (double)M[(size_t)cls * L + j] + one[(size_t)cls * L + j];
        worst = fmax(worst, fabs(row - mean[j]));
        scale = fmax(scale, fabs(mean[j]));
    }
    printf("\n  UIA channel-mean matrices, row cls vs the CLS rows' mean: %.2g of its max", worst / scale);
    CU_ASSERT(scale > 0 && worst <= 1e-5 * scale);
    /* the backward branch's matrix in image order is upper triangular (it looks back
     * from the end): nothing below the diagonal */
    double below = 0;
    for (int i = 0; i < L; i++)
        for (int j = 0; j < i; j++) below = fmax(below, fabs(one[(size_t)i * L + j]));
    CU_ASSERT(below == 0);
    free(v);
    free(mean);
    free(M);
    free(one);
    /* raw-attention and rollout on UIA rows: no original computes them (UIA's own
     * table has only "ours"), so they are checked to run and to read the UIA form */
    char err[512];
    float *x = mxb_test_read_h5(gold, "input_0", NULL), *m0 = malloc((size_t)r.g->num_patches * sizeof *m0);
    const char *names[2] = {"raw-attention", "rollout"};
    for (int i = 0; i < 2; i++) {
        const mxb_method *meth = mxb_methods_find(names[i]);
        mxb_explain_opts o = {.class_index = -1, .variant = MXB_VARIANT_EXACT, .start_layer = -1};
        int explained;
        CU_ASSERT_EQUAL_FATAL(mxb_explain_one(r.c, r.m, meth, x, &o, r.logits, &explained, m0, err, sizeof err), 0);
        o.variant = MXB_VARIANT_UIA;
        CU_ASSERT_EQUAL_FATAL(mxb_explain_one(r.c, r.m, meth, x, &o, r.logits, &explained, r.map, err, sizeof err), 0);
        CU_ASSERT(mxb_test_max_abs_diff(m0, r.map, (size_t)r.g->num_patches) > 0);
    }
    free(x);
    free(m0);
    check_identity(&r, 0);
    check_identity(&r, 4);
    close_model(&r);
}

/* The identity the original's own Test branch checks (ssi.py:272-278), per layer,
 * direction and channel, from the traced forward alone: with the gate g = SiLU(z[i]),
 *   Σ_s Ã[i,s]·x_pre[s] + b_conv·Σ_j g·α[i,j]σ(u[j]) = g·y[i]
 * (y before the D skip and the gate; x = SiLU(u) = u·σ(u), u = b + conv(x_pre)): the
 * UIA rows rebuild the scan output from the pre-conv input. Every row i, not only cls. */
static void check_identity(model_run *r, int layer) {
    const int L = r->g->seq_len, D = r->g->d_inner;
    float *A = malloc((size_t)D * L * L * sizeof *A), *Anc = malloc((size_t)D * L * L * sizeof *Anc);
    double worst = 0, scale = 0;
    for (int dir = 0; dir < 2; dir++) {
        mxb_s6_view s;
        CU_ASSERT_EQUAL_FATAL(mxb_vim_s6(r->c, layer, dir, &s), 0);
        CU_ASSERT_EQUAL_FATAL(mxb_vim_uia_matrix(r->c, layer, dir, 0, D, MXB_VARIANT_UIA, A), 0);
        CU_ASSERT_EQUAL_FATAL(mxb_vim_uia_matrix(r->c, layer, dir, 0, D, MXB_VARIANT_UIA | MXB_VARIANT_UIA_NO_CONV, Anc), 0);
        for (int c = 0; c < D; c++)
            for (int i = 0; i < L; i++) {
                const float *a = A + ((size_t)c * L + i) * L, *an = Anc + ((size_t)c * L + i) * L;
                double lhs = 0, sum_nc = 0;
                for (int t = 0; t < L; t++) {
                    lhs += (double)a[t] * s.x_pre[(size_t)t * s.xz_stride + c];
                    sum_nc += an[t];
                }
                lhs += s.conv_b[c] * sum_nc;
                const double z = s.z[(size_t)i * s.xz_stride + c], rhs = z / (1 + exp(-z)) * s.y[(size_t)i * D + c];
                worst = fmax(worst, fabs(lhs - rhs));
                scale = fmax(scale, fabs(rhs));
            }
    }
    printf("\n  UIA identity (ssi.py's Test), layer %d, both directions, every row: %.2g of max |g·y|", layer,
           worst / scale);
    CU_ASSERT(scale > 0 && worst <= 1e-4 * scale);
    free(A);
    free(Anc);
}

static void test_vim_s(void) {
    model_run r;
    open_model(&r, mxb_test_path("%s/uia/vim_s.h5", mxb_test_env("MXB_TESTDATA")));
    char buf[4096];
    const char *gold = fixture(buf, sizeof buf, "vim_s");
    check_map(&r, gold, 0, "uia", MXB_VARIANT_UIA, "map_uia_0");
    const int layers[3] = {0, 12, 23}, chans[4] = {0, 1, 2, 767};
    check_rows(&r, gold, layers, chans, 4);
    close_model(&r);
}

int main(void) {
    static const mxb_test_case cases[] = {
        {"demo ViM: uia maps, ablations, CLS rows, full matrix vs the original code", test_demo},
        {"ViM-S full geometry: uia map and CLS rows vs the original code", test_vim_s},
        {NULL, NULL}};
    return mxb_test_main("uia", cases);
}
