/* The engine gives the same bits on any thread count: logits, the backward's
 * gradients and every built-in method's map, at full DeiT-S and ViM-S geometry with
 * random weights, on 1, 2, 3 and 5 threads (odd counts split the GEMM panels, the
 * heads and the row-wise kernels unevenly). The property is exact equality, so the
 * reference is the same code on one thread, not an outside implementation. */
#include "harness/harness.h"
#include "tests/mxb_test.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float *logits, *maps[3];
    float *grad; /* ViT: block 0's attention gradient; ViM: layer 0's residual gradient */
    size_t ngrad;
} outputs;

static const char *methods[3] = {"raw-attention", "rollout", "attribution"};

static void run_once(mxb_model *m, const float *x, outputs *o) {
    const mxb_config *g = mxb_model_config(m);
    mxb_ctx *t = mxb_ctx_new(m, MXB_TRACE_KEEP);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    o->logits = malloc((size_t)g->num_classes * sizeof(float));
    float *seed = calloc((size_t)g->num_classes, sizeof(float));
    seed[3] = 1;
    mxb_forward(t, x, o->logits);
    mxb_backward(t, seed);
    const float *gr = g->arch == MXB_ARCH_VIT ? mxb_vit_attn_grad(t, 0) : mxb_vim_residual_grad(t, 0);
    o->ngrad = g->arch == MXB_ARCH_VIT ? (size_t)g->num_heads * g->seq_len * g->seq_len
                                       : (size_t)g->seq_len * g->embed_dim;
    o->grad = malloc(o->ngrad * sizeof(float));
    memcpy(o->grad, gr, o->ngrad * sizeof(float));
    for (int k = 0; k < 3; k++) {
        mxb_explain_opts eo = {.class_index = -1, .variant = MXB_VARIANT_OFFICIAL, .start_layer = -1};
        float lg[1000];
        int cls;
        char err[256];
        o->maps[k] = malloc((size_t)g->num_patches * sizeof(float));
        CU_ASSERT_EQUAL(mxb_explain_one(t, m, mxb_methods_find(methods[k]), x, &eo, lg, &cls, o->maps[k], err,
                                        sizeof err), 0);
    }
    free(seed);
    mxb_ctx_free(t);
}

static void free_outputs(outputs *o) {
    free(o->logits);
    free(o->grad);
    for (int k = 0; k < 3; k++) free(o->maps[k]);
}

static void same_bits_any_threads(const char *preset) {
    char err[256];
    mxb_config cfg = mxb_config_preset(preset);
    mxb_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(mxb_model_new(&cfg, &m, err, sizeof err), 0);
    mxb_model_randomize(m, 7);
    const mxb_config *g = mxb_model_config(m);
    const size_t npix = (size_t)g->in_chans * g->img_size * g->img_size;
    float *x = malloc(npix * sizeof *x);
    uint64_t s = 11;
    for (size_t i = 0; i < npix; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((s >> 40) * (1.0 / 16777216.0)) * 4.0f - 2.0f;
    }
    const int saved = omp_get_max_threads();
    outputs ref;
    omp_set_num_threads(1);
    run_once(m, x, &ref);
#ifdef MXB_TEST_SANITIZED
    /* under ASan+UBSan one uneven split (3 threads: GEMM panels, heads and rows shared
     * unevenly) checks the same code; every count runs in the normal build */
    static const int counts[] = {3};
#else
    static const int counts[] = {2, 3, 5};
#endif
    for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
        outputs o;
        omp_set_num_threads(counts[c]);
        run_once(m, x, &o);
        const int same_logits = !memcmp(ref.logits, o.logits, (size_t)g->num_classes * sizeof(float));
        const int same_grad = !memcmp(ref.grad, o.grad, ref.ngrad * sizeof(float));
        int same_maps = 1;
        for (int k = 0; k < 3; k++)
            same_maps &= !memcmp(ref.maps[k], o.maps[k], (size_t)g->num_patches * sizeof(float));
        printf("\n    %s, %d threads vs 1: logits %s, gradient %s, maps %s", preset, counts[c],
               same_logits ? "same" : "DIFFER", same_grad ? "same" : "DIFFER", same_maps ? "same" : "DIFFER");
        CU_ASSERT(same_logits);
        CU_ASSERT(same_grad);
        CU_ASSERT(same_maps);
        free_outputs(&o);
    }
    omp_set_num_threads(saved);
    free_outputs(&ref);
    free(x);
    mxb_model_free(m);
}

static void test_deit(void) { same_bits_any_threads("deit-s"); }
static void test_vim(void) { same_bits_any_threads("vim-s"); }

int main(void) {
    static const mxb_test_case cases[] = {
        {"DeiT-S: same bits on 1, 2, 3, 5 threads", test_deit},
        {"ViM-S: same bits on 1, 2, 3, 5 threads", test_vim},
        {NULL, NULL}};
    return mxb_test_main("threads", cases);
}
