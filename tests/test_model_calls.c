/* The rest of the method ABI v2 model calls (issue 16, Build 1; docs/METHODS-v2.md §8):
 * layer_grad (MXB_OUT_LAYERS), vim_s6 and vit_qkv against PyTorch on tools/reference.py's
 * models (tests/gen_model_calls.py), read by a v2 method run through mxb_explain_one;
 * relevance() refusals; and the test plugin tests/plugins/model_calls.c, which makes the
 * built-in LRP methods through relevance() alone, bit for bit against the built-ins on
 * the demo models (whose maps test_lrp/test_methods check against the original code). */
#include "harness/harness.h"
#include "mxb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *data(const char *name) {
    return mxb_test_path("%s/model_calls/%s", mxb_test_env("MXB_TESTDATA"), name);
}

/* max |a - b| / max |b|, a read with row stride ld */
static double rel_strided(const float *a, int ld, const float *b, int rows, int cols) {
    double s = 0, d = 0;
    for (int i = 0; i < rows * cols; i++) s = fmax(s, fabs(b[i]));
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) d = fmax(d, fabs((double)a[(size_t)i * ld + j] - b[(size_t)i * cols + j]));
    return d / (s > 0 ? s : 1);
}

/* ---- a v2 method that checks the calls from inside explain() ---- */
static const char *cur_model; /* "deit_d64" / "vim_d64" */
static double worst_layer, worst_s6, worst_qkv;
static int checked;

static float *golden(const char *name, size_t *n) {
    float *v = mxb_test_read_h5(data("calls.h5"), mxb_test_path("%s_%s", cur_model, name), n);
    CU_ASSERT_PTR_NOT_NULL(v);
    return v;
}

static void check_layer_grads(const mxb_explain_input *in, const char *kind) {
    const mxb_model_api *M = in->model;
    const size_t LE = (size_t)in->seq_len * in->embed_dim;
    float *w = golden(mxb_test_path("%s_w", kind), NULL), *ref = golden(mxb_test_path("%s_layer_grad", kind), NULL);
    if (!w || !ref) return;
    CU_ASSERT_EQUAL(M->backward(in->run, w, 0), 0);
    CU_ASSERT_PTR_NULL(M->layer_grad(in->run, 0)); /* not asked for */
    CU_ASSERT_EQUAL(M->backward(in->run, w, MXB_OUT_LAYERS | MXB_OUT_TOKENS), 0);
    for (int l = 0; l < in->depth; l++) {
        const float *g = M->layer_grad(in->run, l);
        CU_ASSERT_PTR_NOT_NULL_FATAL(g);
        const double r = rel_strided(g, in->embed_dim, ref + l * LE, in->seq_len, in->embed_dim);
        worst_layer = fmax(worst_layer, r);
        CU_ASSERT(r <= 1e-4);
    }
    /* ViT: block 0's input gradient is the token gradient, bit for bit */
    if (in->arch == MXB_METHOD_ARCH_VIT)
        CU_ASSERT(!memcmp(M->layer_grad(in->run, 0), M->token_grad(in->run), LE * sizeof(float)));
    CU_ASSERT_PTR_NULL(M->layer_grad(in->run, -1));
    CU_ASSERT_PTR_NULL(M->layer_grad(in->run, in->depth));
    free(w), free(ref);
}

static void check_s6(const mxb_explain_input *in, int with_dy) {
    const mxb_model_api *M = in->model;
    static const char *names[MXB_S6_COUNT] = {"x_pre", "u", "x", "delta", "B", "C", "A",
                                              "z", "conv_w", "conv_b", "D", "y", "dy"};
    const int L = in->seq_len, D = in->d_inner, N = in->d_state, K = in->d_conv;
    for (int l = 0; l < in->depth; l++)
        for (int dir = 0; dir < 2; dir++)
            for (int what = 0; what < MXB_S6_COUNT; what++) {
                int ld = -1;
                const float *p = M->vim_s6(in->run, l, dir, what, &ld);
                if (what == MXB_S6_DY && !with_dy) {
                    CU_ASSERT_PTR_NULL(p); /* no backward since the traced forward */
                    continue;
                }
                CU_ASSERT_PTR_NOT_NULL_FATAL(p);
                int rows = L, cols = D;
                if (what == MXB_S6_B || what == MXB_S6_C) cols = N;
                if (what == MXB_S6_A) rows = D, cols = N;
                if (what == MXB_S6_CONV_W) rows = D, cols = K;
                if (what == MXB_S6_CONV_B || what == MXB_S6_D) rows = 1, cols = D;
                CU_ASSERT(ld >= cols);
                float *ref = golden(mxb_test_path("layer%d_dir%d_%s", l, dir, names[what]), NULL);
                if (!ref) continue;
                const double r = rel_strided(p, rows == 1 ? cols : ld, ref, rows, cols);
                if (r > 1e-4) printf("\n  layer %d dir %d %s: %.3g", l, dir, names[what], r);
                worst_s6 = fmax(worst_s6, r);
                CU_ASSERT(r <= 1e-4);
                free(ref);
            }
    CU_ASSERT_PTR_NULL(M->vim_s6(in->run, 0, 2, MXB_S6_X, NULL));
    CU_ASSERT_PTR_NULL(M->vim_s6(in->run, in->depth, 0, MXB_S6_X, NULL));
    CU_ASSERT_PTR_NULL(M->vim_s6(in->run, 0, 0, MXB_S6_COUNT, NULL));
    CU_ASSERT_PTR_NULL(M->vim_s6(in->run, 0, 0, -1, NULL));
}

static void check_qkv(const mxb_explain_input *in) {
    const mxb_model_api *M = in->model;
    const int L = in->seq_len, hd = in->embed_dim / in->num_heads;
    static const char *names[3] = {"q", "k", "v"};
    for (int b = 0; b < in->depth; b++)
        for (int which = 0; which < 3; which++) {
            const float *p = M->vit_qkv(in->run, b, which);
            float *ref = golden(mxb_test_path("block%d_%s", b, names[which]), NULL);
            CU_ASSERT_FATAL(p && ref);
            const double r = rel_strided(p, hd, ref, in->num_heads * L, hd);
            worst_qkv = fmax(worst_qkv, r);
            CU_ASSERT(r <= 1e-4);
            free(ref);
        }
    CU_ASSERT_PTR_NULL(M->vit_qkv(in->run, 0, 3));
    CU_ASSERT_PTR_NULL(M->vit_qkv(in->run, in->depth, 0));
}

static int calls_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    (void)err, (void)errlen;
    const mxb_model_api *M = in->model;
    CU_ASSERT_PTR_NOT_NULL_FATAL(M);
    CU_ASSERT(M->struct_size == sizeof(mxb_model_api));
    CU_ASSERT_PTR_NULL(M->layer_grad(in->run, 0)); /* no backward yet */
    if (in->arch == MXB_METHOD_ARCH_VIM) {
        check_s6(in, 0);
        CU_ASSERT_PTR_NULL(M->vit_qkv(in->run, 0, MXB_QKV_Q));
    } else {
        check_qkv(in);
        CU_ASSERT_PTR_NULL(M->vim_s6(in->run, 0, 0, MXB_S6_X, NULL));
    }
    check_layer_grads(in, "dense");
    check_layer_grads(in, "onehot"); /* the last backward: the one-hot's, dy's golden */
    if (in->arch == MXB_METHOD_ARCH_VIM) check_s6(in, 1);
    /* relevance(): a rule of the other family, unknown bits, no weights: refused, and
     * a refusal leaves the outputs as they were */
    float *w = calloc((size_t)in->num_classes, sizeof(float));
    w[in->explained_class] = 1;
    const uint32_t other = in->arch == MXB_METHOD_ARCH_VIM ? MXB_NEEDS_RELEVANCE_ORIG : MXB_NEEDS_MAMBALRP;
    CU_ASSERT_EQUAL(M->relevance(in->run, w, other), -1);
    CU_ASSERT_EQUAL(M->relevance(in->run, w, 1u << 30), -1);
    CU_ASSERT_EQUAL(M->relevance(in->run, NULL, 0), -1);
    CU_ASSERT_PTR_NOT_NULL(M->layer_grad(in->run, 0));
    if (in->arch == MXB_METHOD_ARCH_VIM) {
        CU_ASSERT_EQUAL(M->relevance(in->run, w, 0), -1); /* ViM has MambaLRP only: its bit is needed */
        CU_ASSERT_PTR_NULL(M->token_relevance(in->run));
        CU_ASSERT_EQUAL(M->relevance(in->run, w, MXB_NEEDS_MAMBALRP), 0);
        CU_ASSERT_PTR_NOT_NULL(M->token_relevance(in->run));
        CU_ASSERT_PTR_NULL(M->attn_relevance(in->run, 0));
    } else {
        CU_ASSERT_EQUAL(M->relevance(in->run, w, MXB_NEEDS_RELEVANCE_LAST), -1); /* LAST is orig's */
        CU_ASSERT_PTR_NULL(M->attn_relevance(in->run, in->depth - 1));
        CU_ASSERT_EQUAL(M->relevance(in->run, w, MXB_NEEDS_RELEVANCE_ORIG | MXB_NEEDS_RELEVANCE_LAST), 0);
        CU_ASSERT_PTR_NOT_NULL(M->attn_relevance(in->run, in->depth - 1));
        CU_ASSERT_PTR_NULL(M->attn_relevance(in->run, 0));
        CU_ASSERT_PTR_NULL(M->pixel_relevance(in->run));
        CU_ASSERT_EQUAL(M->relevance(in->run, w, 0), 0);
        CU_ASSERT_PTR_NOT_NULL(M->attn_relevance(in->run, 0));
        CU_ASSERT_PTR_NULL(M->token_relevance(in->run));
    }
    CU_ASSERT_PTR_NULL(M->layer_grad(in->run, 0)); /* a pass replaces the backward's outputs */
    CU_ASSERT_PTR_NULL(M->token_grad(in->run));
    /* a traced forward starts over */
    CU_ASSERT_EQUAL(M->forward(in->run, in->input, NULL, MXB_FWD_TRACE), 0);
    CU_ASSERT_PTR_NULL(M->token_relevance(in->run));
    CU_ASSERT_PTR_NULL(M->attn_relevance(in->run, in->depth - 1));
    if (in->arch == MXB_METHOD_ARCH_VIM) CU_ASSERT_PTR_NULL(M->vim_s6(in->run, 0, 0, MXB_S6_DY, NULL));
    free(w);
    for (int i = 0; i < in->grid * in->grid; i++) map[i] = 0;
    checked++;
    return 0;
}

static const mxb_method calls_method = {
    .abi_version = MXB_METHOD_ABI_VERSION,
    .name = "test-calls",
    .description = "checks the run's calls",
    .archs = MXB_METHOD_VIT | MXB_METHOD_VIM,
    .needs = MXB_NEEDS_MODEL,
    .explain = calls_explain,
};

static void run_calls(const char *model) {
    char err[512];
    mxb_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(mxb_model_load(data(mxb_test_path("%s.h5", model)), &m, err, sizeof err), 0);
    const mxb_config *g = mxb_model_config(m);
    mxb_ctx *c = mxb_ctx_new(m, MXB_TRACE_KEEP);
    float *x = mxb_test_read_h5(mxb_test_path("%s/%s.golden.h5", mxb_test_env("MXB_FIXTURES"), model), "input_0", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    float *logits = malloc((size_t)g->num_classes * sizeof(float)), *map = malloc((size_t)g->num_patches * sizeof(float));
    mxb_explain_opts o = {.class_index = -1, .start_layer = -1};
    int explained = -1;
    cur_model = model;
    worst_layer = worst_s6 = worst_qkv = 0;
    checked = 0;
    const int rc = mxb_explain_one(c, m, &calls_method, x, &o, logits, &explained, map, err, sizeof err);
    if (rc) printf("\n  %s", err);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(checked, 1);
    printf("\n  %s: layer_grad %.2g, %s %.2g (of the max)", model, worst_layer, g->arch == MXB_ARCH_VIT ? "q/k/v" : "S6",
           g->arch == MXB_ARCH_VIT ? worst_qkv : worst_s6);
    free(x), free(logits), free(map);
    mxb_ctx_free(c);
    mxb_model_free(m);
}

static void test_calls_vit(void) { run_calls("deit_d64"); }
static void test_calls_vim(void) { run_calls("vim_d64"); }

/* ---- the test plugin = the built-ins, bit for bit, on the demo models ---- */
static void same_as_builtin(const char *arch, const char *plugin_method, const char *builtin, const char *kv) {
    char err[512];
    mxb_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(
        mxb_model_load(mxb_test_path("%s/models/demo_%s.h5", mxb_test_env("MXB_SOURCE_DIR"), arch), &m, err, sizeof err),
        0);
    const mxb_config *g = mxb_model_config(m);
    const mxb_method *pm = mxb_methods_find(plugin_method), *bm = mxb_methods_find(builtin);
    CU_ASSERT_FATAL(pm && bm);
    double params[MXB_MAX_PARAMS];
    const char *kvs[1] = {kv};
    CU_ASSERT_EQUAL_FATAL(mxb_method_params_parse(pm, kvs, kv ? 1 : 0, params, err, sizeof err), 0);
    mxb_ctx *c = mxb_ctx_new(m, MXB_TRACE_KEEP);
    const size_t np = (size_t)g->num_patches;
    float *logits = malloc((size_t)g->num_classes * sizeof(float)), *a = malloc(np * sizeof(float)),
          *b = malloc(np * sizeof(float));
    for (int k = 0; k < 4; k++) {
        float *x = mxb_test_read_h5(mxb_test_path("%s/methods2_demo_%s.golden.h5", mxb_test_env("MXB_FIXTURES"), arch),
                                    mxb_test_path("input_%d", k), NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(x);
        int ea = -1, eb = -2;
        mxb_explain_opts o = {.class_index = -1, .start_layer = -1, .params = params};
        int rc = mxb_explain_one(c, m, pm, x, &o, logits, &ea, a, err, sizeof err);
        if (rc) printf("\n  %s", err);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        mxb_explain_opts ob = {.class_index = -1, .start_layer = -1};
        CU_ASSERT_EQUAL_FATAL(mxb_explain_one(c, m, bm, x, &ob, logits, &eb, b, err, sizeof err), 0);
        CU_ASSERT_EQUAL(ea, eb);
        const int same = !memcmp(a, b, np * sizeof(float));
        CU_ASSERT(same);
        double mx = 0;
        for (size_t i = 0; i < np; i++) mx = fmax(mx, fabs(b[i]));
        CU_ASSERT(mx > 0); /* not two empty maps */
        if (k == 0) printf("\n  demo %s %-18s = %-22s %s", arch, plugin_method, builtin, same ? "bit for bit" : "DIFFERS");
        free(x);
    }
    free(logits), free(a), free(b);
    mxb_ctx_free(c);
    mxb_model_free(m);
}

static void test_plugin_vim(void) {
    char err[512];
    if (!mxb_methods_find("calls-mambalrp"))
        CU_ASSERT_EQUAL_FATAL(mxb_methods_load_plugin(mxb_test_path("%s/libmodel_calls.so", mxb_test_env("MXB_PLUGIN_DIR")),
                                                      err, sizeof err),
                              0);
    same_as_builtin("vim", "calls-mambalrp", "mambalrp", NULL);
    same_as_builtin("vim", "calls-mambalrp", "mambalrp-vision", "rules=vision");
    same_as_builtin("vim", "calls-mambalrp", "mambalrp-gamma", "rules=paper-gamma");
    same_as_builtin("vim", "calls-mambalrp", "mambalrp-vision-gamma", "rules=vision-gamma");
}

static void test_plugin_vit(void) {
    char err[512];
    if (!mxb_methods_find("calls-lrp-partial"))
        CU_ASSERT_EQUAL_FATAL(mxb_methods_load_plugin(mxb_test_path("%s/libmodel_calls.so", mxb_test_env("MXB_PLUGIN_DIR")),
                                                      err, sizeof err),
                              0);
    same_as_builtin("vit", "calls-lrp-partial", "lrp-partial", NULL);
    same_as_builtin("vit", "calls-lrp-full", "lrp-full", NULL);
    same_as_builtin("vit", "calls-attribution", "attribution", NULL);
}

int main(void) {
    mxb_test_case cases[] = {
        {"layer_grad and q/k/v of a ViT against autograd; relevance() rules", test_calls_vit},
        {"layer_grad and the S6 internals of a ViM against autograd; relevance() rules", test_calls_vim},
        {"test plugin through relevance() = mambalrp (4 rule sets), demo ViM, bit for bit", test_plugin_vim},
        {"test plugin through relevance() = lrp-partial, lrp-full, attribution, demo ViT", test_plugin_vit},
        {NULL, NULL}};
    return mxb_test_main("model_calls", cases);
}
