/* The protocols' batched path (harness/evaluate.c, mxb run --device cuda; issue 27) on
 * the CPU: a classifier whose forward_batch is mxb_forward image by image must give
 * the CPU path's bits — the perturbation test's hits, logit and probability drops of
 * both polarities and of one alone (18 or 9 images a batch, each polarity's order in
 * turn), and RISE's insertion/deletion AUCs (34 states in batches of 18 and 16). The
 * forwards are the same, so any difference is the batch's bookkeeping: which image
 * sits where, which logits score which step. CI has no GPU; this is the part of the
 * GPU path it can run (tests/gpu_demo.sh runs the rest on a GPU). The reference is the
 * CPU path of the same file, an exact property like test_threads'. */
#include "harness/internal.h"
#include "io/io.h"
#include "metrics/metrics.h"
#include "tests/mxb_test.h"

#include <stdlib.h>
#include <string.h>

#define NPLAIN 3

typedef struct {
    mxb_ctx *ctx[NPLAIN];
    const mxb_config *g;
    int largest; /* the largest batch forward_batch was given */
    long images; /* images it classified */
} fake_gpu;

static void one(void *user, int thread, const float *x, float *logits) {
    fake_gpu *f = user;
    mxb_forward(f->ctx[thread], x, logits);
}

static int batch(void *user, const float *x, int n, float *logits, char *err, size_t errlen) {
    fake_gpu *f = user;
    (void)err, (void)errlen;
    const mxb_config *g = f->g;
    const size_t in = (size_t)g->in_chans * g->img_size * g->img_size;
    for (int i = 0; i < n; i++) mxb_forward(f->ctx[0], x + i * in, logits + (size_t)i * g->num_classes);
    f->largest = n > f->largest ? n : f->largest;
    f->images += n;
    return 0;
}

static uint64_t rng = 0x243F6A8885A308D3ull;
static float unit(void) { return (float)((mxb_splitmix64(&rng) >> 40) * (1.0 / 16777216.0)); }

typedef struct {
    int32_t *hits[2];
    float *logit_diff[2], *prob_diff[2];
} rows;

static void rows_alloc(rows *r, mxb_res_cell *cell) {
    memset(cell, 0, sizeof *cell);
    for (int q = 0; q < 2; q++) {
        cell->hits[q] = r->hits[q] = calloc(2 * MXB_RES_STEPS, sizeof(int32_t));
        cell->logit_diff[q] = r->logit_diff[q] = calloc(2 * MXB_RES_STEPS, sizeof(float));
        cell->prob_diff[q] = r->prob_diff[q] = calloc(2 * MXB_RES_STEPS, sizeof(float));
    }
}

static int rows_same(const rows *a, const rows *b) {
    int same = 1;
    for (int q = 0; q < 2; q++)
        same &= !memcmp(a->hits[q], b->hits[q], 2 * MXB_RES_STEPS * sizeof(int32_t)) &&
                !memcmp(a->logit_diff[q], b->logit_diff[q], 2 * MXB_RES_STEPS * sizeof(float)) &&
                !memcmp(a->prob_diff[q], b->prob_diff[q], 2 * MXB_RES_STEPS * sizeof(float));
    return same;
}

static void rows_free(rows *r) {
    for (int q = 0; q < 2; q++) free(r->hits[q]), free(r->logit_diff[q]), free(r->prob_diff[q]);
}

static void batched_equals_cpu(const char *file) {
    char err[512];
    mxb_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(mxb_model_load(mxb_test_path("%s/models/%s", mxb_test_env("MXB_SOURCE_DIR"), file), &m, err,
                                         sizeof err), 0);
    const mxb_config *g = mxb_model_config(m);
    const int S = g->img_size, npix = S * S, nc = g->num_classes, step = 256;
    const int states = mxb_rise_steps(npix, step) + 1;
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    fake_gpu f = {.g = g};
    for (int k = 0; k < NPLAIN; k++) f.ctx[k] = mxb_ctx_new(m, MXB_TRACE_NONE);
    mxb_run_slot s = {.nthreads = NPLAIN, .nplain = NPLAIN};
    s.u = malloc((size_t)3 * npix * sizeof(float));
    s.x = malloc((size_t)3 * npix * sizeof(float));
    s.blurred = malloc((size_t)3 * npix * sizeof(float));
    s.vis = malloc((size_t)npix * sizeof(float));
    s.order = malloc((size_t)npix * sizeof(int32_t));
    s.orig = malloc((size_t)nc * sizeof(float));
    s.work = malloc((size_t)NPLAIN * 3 * npix * sizeof(float));
    s.step_logits = malloc((size_t)NPLAIN * nc * sizeof(float));
    s.batch = malloc((size_t)MXB_RUN_GPU_BATCH * 3 * npix * sizeof(float));
    s.batch_logits = malloc((size_t)MXB_RUN_GPU_BATCH * nc * sizeof(float));
    s.scores = malloc((size_t)2 * states * sizeof(double));
    for (int i = 0; i < 3 * npix; i++) s.u[i] = unit();
    /* a map of 8 levels: ties, which the order breaks the same way on both paths */
    for (int i = 0; i < npix; i++) s.vis[i] = (float)(int)(8 * unit()) / 8;
    memcpy(s.x, s.u, (size_t)3 * npix * sizeof(float));
    mxb_normalize(s.x, S, S, mean, std);
    mxb_rise_blur(s.x, 3, S, S, s.blurred);
    mxb_forward(f.ctx[0], s.x, s.orig);
    const int label = mxb_argmax(s.orig, nc);
    const mxb_classifier cpu = {one, &f, NPLAIN, nc, NULL}, gpu = {one, &f, NPLAIN, nc, batch};
    const int both[2] = {1, 1}, negative[2] = {0, 1};
    const int *polarities[2] = {both, negative};
    for (int p = 0; p < 2; p++) {
        rows a, b;
        mxb_res_cell ca, cb;
        rows_alloc(&a, &ca);
        rows_alloc(&b, &cb);
        CU_ASSERT_EQUAL(mxb_run_perturbation(&s, &cpu, S, mean, std, polarities[p], label, &ca, 1, err, sizeof err), 0);
        f.largest = 0;
        CU_ASSERT_EQUAL(mxb_run_perturbation(&s, &gpu, S, mean, std, polarities[p], label, &cb, 1, err, sizeof err), 0);
        CU_ASSERT_EQUAL(f.largest, p == 0 ? 18 : 9); /* one batch: both polarities, or the one */
        CU_ASSERT(rows_same(&a, &b));
        int hits = 0;
        for (int k = 0; k < MXB_RES_STEPS; k++) hits += a.hits[1][MXB_RES_STEPS + k];
        CU_ASSERT(hits > 0); /* the label is the prediction: step 0 at least is a hit */
        rows_free(&a), rows_free(&b);
    }
    double ins[2], del[2];
    CU_ASSERT_EQUAL(mxb_run_insertion_deletion(&s, &cpu, S, step, label, &ins[0], &del[0], err, sizeof err), 0);
    f.largest = 0, f.images = 0;
    CU_ASSERT_EQUAL(mxb_run_insertion_deletion(&s, &gpu, S, step, label, &ins[1], &del[1], err, sizeof err), 0);
    CU_ASSERT_EQUAL(f.largest, MXB_RUN_GPU_BATCH);
    CU_ASSERT_EQUAL(f.images, 2L * states); /* 34: batches of 18 and 16 */
    CU_ASSERT(ins[0] == ins[1] && del[0] == del[1]);
    printf("\n  %s: perturbation rows and insertion/deletion AUCs %.6f / %.6f the same on both paths\n", file, ins[0],
           del[0]);
    for (int k = 0; k < NPLAIN; k++) mxb_ctx_free(f.ctx[k]);
    void *bufs[] = {s.u, s.x, s.blurred, s.vis, s.order, s.orig, s.work, s.step_logits, s.batch, s.batch_logits,
                    s.scores};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    mxb_model_free(m);
}

static void vit(void) { batched_equals_cpu("demo_vit.h5"); }
/* the bookkeeping is the model's family's neither: under the sanitisers (-O1) the ViT alone */
static void vim(void) {
#ifndef MXB_TEST_SANITIZED
    batched_equals_cpu("demo_vim.h5");
#endif
}

int main(void) {
    const mxb_test_case cases[] = {{"the batched path = the CPU path, ViT", vit},
                                   {"the batched path = the CPU path, ViM", vim},
                                   {NULL, NULL}};
    return mxb_test_main("evaluate_batch", cases);
}
