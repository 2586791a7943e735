/* mxb bench: the C engine against the PyTorch reference (tools/bench_torch.py), on
 * the same machine, in the same run, at the same thread count, as ratios. */
#include "harness/harness.h"
#include "harness/internal.h"

#include <cblas.h>
#include <cpuid.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef MXB_SOURCE_DIR
#define MXB_SOURCE_DIR "."
#endif

typedef struct {
    char model[16], what[48];
    double c_ms, torch_ms; /* per image (per call for kernels); < 0 when not measured */
    double gflop;          /* matrix-multiply work of the measurement, 0 when not stated */
    /* explain rows (issue 16): the method's cost() per image at this geometry, for the
     * row's params and for the defaults; has_cost 0 on other rows */
    int has_cost;
    mxb_cost cost, cost_default;
    char params[64]; /* the row's params, "steps=8 rule=gausslegendre"; "" for none */
} bench_row;

/* the presets a bench can name, each at most once: the rows of all four fit MAX_ROWS
 * (the sgemm rows + 28 a ViM + 20 a ViT at the time of writing, 109) */
#define MXB_BENCH_MODELS 4
#define MAX_ROWS 128
static bench_row rows[MAX_ROWS];
static int nrows;
static double peak_gflops = 1; /* the square sgemm's, set before the models run */
/* T images in flight, one thread each (issue 13): the in-flight square sgemm's rate */
static double peak_inflight_gflops = 1;
/* per model of a pass, the lines under the table: its forward's limit alone and in
 * flight, with the rows of the forwards they are measured against, and the rows of the
 * `mxb run` image one at a time and in flight (run_if_row -1 when left out) */
typedef struct {
    int fwd_row, fwd_if_row, run_row, run_if_row;
    double limit_ms, limit_if_ms;
} model_lines;
static model_lines lines[MXB_BENCH_MODELS];
static int nlines;

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* median of reps timings of fn(arg) after one warm-up call */
#define TIME_MEDIAN(reps, out, ...)                                         \
    do {                                                                    \
        double _t[64];                                                      \
        int _n = (reps) < 64 ? (reps) : 64;                                 \
        __VA_ARGS__;                                                        \
        for (int _i = 0; _i < _n; _i++) {                                   \
            double _s = now_ms();                                           \
            __VA_ARGS__;                                                    \
            _t[_i] = now_ms() - _s;                                         \
        }                                                                   \
        qsort(_t, (size_t)_n, sizeof _t[0], cmp_double);                    \
        (out) = _t[_n / 2];                                                 \
    } while (0)

static void add_row(const char *model, const char *what, double ms) {
    if (nrows >= MAX_ROWS) return;
    bench_row *r = &rows[nrows++];
    snprintf(r->model, sizeof r->model, "%s", model);
    snprintf(r->what, sizeof r->what, "%s", what);
    r->c_ms = ms;
    r->torch_ms = -1;
    r->gflop = 0;
    r->has_cost = 0;
    r->params[0] = 0;
}

/* GFLOP of the forward's matrix multiplies (2 per multiply-add): the part of the
 * work a BLAS could do at its peak. The selective scan, norms and pointwise
 * functions come on top and are not counted. */
static double forward_gemm_gflop(const mxb_config *g) {
    const double L = g->seq_len, E = g->embed_dim, M = g->num_patches;
    const double K = (double)g->in_chans * g->patch_size * g->patch_size;
    double f = 2 * M * K * E + 2 * E * g->num_classes;
    if (g->arch == MXB_ARCH_VIT) {
        const double F = g->mlp_hidden;
        f += g->depth * (2 * L * E * 3 * E + 2 * 2 * L * L * E + 2 * L * E * E + 2 * 2 * L * E * F);
    } else {
        const double Di = g->d_inner, R = g->dt_rank, N = g->d_state;
        f += g->depth * (2 * L * E * 2 * Di + 2 * (2 * L * Di * (R + 2 * N) + 2 * L * R * Di) +
                         2 * L * Di * E);
    }
    return f / 1e9;
}

/* ---- T images in flight, one thread each -------------------------------------------------
 * What `mxb run` does by default (auto: one image per thread): every thread runs its own
 * work on its own buffers and the engine's parallel regions inside run on that one
 * thread. The wall time of one round, divided by the work done, is the throughput per
 * image; against the 1-thread figure it is the like-for-like scaling of issue 13. */
typedef struct inflight_job inflight_job;
typedef void (*inflight_fn)(inflight_job *j, int k);

static double time_inflight(int nt, inflight_fn fn, inflight_job *j) {
    const int levels = omp_get_max_active_levels();
    omp_set_max_active_levels(1);
    const double s = now_ms();
#pragma omp parallel num_threads(nt)
    fn(j, omp_get_thread_num());
    const double ms = now_ms() - s;
    omp_set_max_active_levels(levels);
    return ms;
}

struct inflight_job {
    const float *a, *b; /* sgemm operands (shared, read-only) */
    float *c;           /* each thread's own output */
    int n;
    const mxb_model *m; /* the model rows */
    mxb_ctx **plain, **traced;
    const float *x;
    float *xp, *logits, *map; /* per thread: an image, logits, a map */
    double *scan_ms;          /* per thread: its forwards' scan time per forward */
    int per_thread, failed;
};

static void job_sgemm(inflight_job *j, int k) {
    const int n = j->n;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, j->a, n, j->b, n, 0.0f,
                j->c + (size_t)k * n * n, n);
}

/* The machine's single-call sgemm throughput at a large square size and at the
 * model's widest layer shape (rows = tokens): the yardstick for GFLOP/s above. */
static void bench_sgemm(int reps) {
    const int n = 1024, L = 197, E = 384, F = 1536;
    float *a = mxb_alloc((size_t)n * n * sizeof *a, "bench buffers");
    float *b = mxb_alloc((size_t)n * n * sizeof *b, "bench buffers");
    float *c = mxb_alloc((size_t)8 * L * F * sizeof *c, "bench buffers"); /* the largest product, > n * n */
    for (size_t i = 0; i < (size_t)n * n; i++) a[i] = b[i] = (float)(i % 17) * 0.01f;
    double ms;
    TIME_MEDIAN(reps, ms, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n,
                                      b, n, 0.0f, c, n));
    add_row("blas", "sgemm 1024x1024x1024", ms);
    rows[nrows - 1].gflop = 2.0 * n * n * n / 1e9;
    /* the machine's ceiling for work split by images: one 1-thread sgemm per thread at
     * once (shared caches, memory, all-core clocks), per call; its speedup in the scaling
     * table is the most T images in flight can gain over one thread on compute-bound work */
    {
        const int nt = omp_get_max_threads();
        inflight_job j = {.a = a, .b = b, .n = n};
        j.c = mxb_alloc((size_t)nt * n * n * sizeof *j.c, "bench buffers");
        TIME_MEDIAN(reps, ms, time_inflight(nt, job_sgemm, &j));
        free(j.c);
        add_row("blas", "sgemm 1024^3, 1 per thread at once (per call)", ms / nt);
        rows[nrows - 1].gflop = 2.0 * n * n * n / 1e9;
        peak_inflight_gflops = rows[nrows - 1].gflop / rows[nrows - 1].c_ms * 1e3;
    }
    TIME_MEDIAN(reps, ms, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, F, E, 1.0f, a, E,
                                      b, E, 0.0f, c, F));
    add_row("blas", "sgemm 197x384 @ 384x1536 (layer)", ms);
    rows[nrows - 1].gflop = 2.0 * L * E * F / 1e9;
    /* the same layer with 8 images' tokens stacked: what batching images through the
     * GEMMs would buy over one image's rows */
    TIME_MEDIAN(reps, ms, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 8 * L, F, E, 1.0f, a,
                                      E, b, E, 0.0f, c, F));
    add_row("blas", "sgemm 1576x384 @ 384x1536 (layer, 8 images)", ms);
    rows[nrows - 1].gflop = 2.0 * 8 * L * E * F / 1e9;
    /* mxb's own products through the engine's entry point (fixed panels, the build's
     * BLAS, serial per panel): what the models actually run */
    static const struct {
        const char *what;
        int ta, tb, M, N, K;
    } shapes[] = {
        {"engine 197x384 @ 384x1536 (fc1, in_proj)", 0, 1, 197, 1536, 384},
        {"engine 197x1536 @ 1536x384 (fc2)", 0, 1, 197, 384, 1536},
        {"engine 1576x384 @ 384x1536 (8 images)", 0, 1, 1576, 1536, 384},
        {"engine 197x64 @ 64x197 (q k^T, a head)", 0, 1, 197, 197, 64},
        {"engine 197x197 @ 197x64 (p v, a head)", 0, 0, 197, 64, 197},
        {"engine 197x197^T @ 197x64 (backward)", 1, 0, 197, 64, 197},
        {"engine 197x1536 @ 1536x384 (backward)", 0, 0, 197, 384, 1536},
        {"engine 197x768 @ 768x56 (x_proj)", 0, 1, 197, 56, 768},
        {"engine 197x24 @ 24x768 (dt_proj)", 0, 1, 197, 768, 24},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const int M = shapes[i].M, N = shapes[i].N, K = shapes[i].K;
        const int lda = shapes[i].ta ? M : K, ldb = shapes[i].tb ? K : N;
        TIME_MEDIAN(reps, ms, mxb_sgemm(shapes[i].ta, shapes[i].tb, M, N, K, 1.0f, a, lda, b, ldb, 0.0f, c, N));
        add_row("gemm", shapes[i].what, ms);
        rows[nrows - 1].gflop = 2.0 * M * N * K / 1e9;
    }
    free(a);
    free(b);
    free(c);
}

static void job_forwards(inflight_job *j, int k) {
    const mxb_config *g = mxb_model_config(j->m);
    if (j->scan_ms) mxb_profile_enable(1); /* this thread's own timers */
    for (int i = 0; i < j->per_thread; i++) mxb_forward(j->plain[k], j->x, j->logits + (size_t)k * g->num_classes);
    if (j->scan_ms) {
        j->scan_ms[k] = mxb_profile_get().scan_ms / j->per_thread;
        mxb_profile_enable(0);
    }
}

/* One image of the paper's table 1 as a one-thread `mxb run` slot does it: the forward,
 * then per method its explanation (the slot's plain context lent) and both polarities'
 * 9 perturbed forwards (step s zeroes s tenths of the pixels; the time does not depend
 * on which). */
static const char *const run_methods[3] = {"raw-attention", "rollout", "attribution"};

static void job_run_image(inflight_job *j, int k) {
    const mxb_config *g = mxb_model_config(j->m);
    const size_t hw = (size_t)g->img_size * g->img_size, npix = hw * g->in_chans;
    float *lg = j->logits + (size_t)k * g->num_classes, *w = j->xp + (size_t)k * npix;
    mxb_forward(j->plain[k], j->x, lg);
    for (int i = 0; i < 3; i++) {
        mxb_explain_opts o = {.class_index = -1, .variant = MXB_VARIANT_OFFICIAL, .start_layer = -1,
                              .pool = &j->plain[k], .npool = 1};
        char err[256];
        int cls;
        if (mxb_explain_one(j->traced[k], j->m, mxb_methods_find(run_methods[i]), j->x, &o, lg, &cls,
                            j->map + (size_t)k * g->num_patches, err, sizeof err))
#pragma omp atomic write
            j->failed = 1;
        for (int step = 1; step <= 18; step++) {
            memcpy(w, j->x, npix * sizeof *w);
            for (size_t p = 0; p < hw; p++)
                if ((int)(p % 10) < (step - 1) % 9 + 1)
                    for (int ch = 0; ch < g->in_chans; ch++) w[ch * hw + p] = 0;
            mxb_forward(j->plain[k], w, lg);
        }
    }
}

static void job_touch(inflight_job *j, int k) { /* first touch of a thread's traced context */
    mxb_forward(j->traced[k], j->x, j->logits + (size_t)k * mxb_model_config(j->m)->num_classes);
}

static void perturbation_step(mxb_ctx **pc, const mxb_config *g, const float *x, float *xp, float *lp,
                              int batch) {
    const size_t hw = (size_t)g->img_size * g->img_size, npix = hw * g->in_chans;
#pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < batch; b++) {
        const int k = omp_get_thread_num();
        float *w = xp + (size_t)k * npix;
        memcpy(w, x, npix * sizeof *w);
        for (size_t p = (size_t)b; p < hw; p += 10)
            for (int ch = 0; ch < g->in_chans; ch++) w[ch * hw + p] = 0;
        mxb_forward(pc[k], w, lp + (size_t)k * g->num_classes);
    }
}

/* ---- explain rows per method (issue 16 §6) ---------------------------------------------
 * One "explain <method>" row per built-in method the model supports, at full geometry,
 * through mxb_explain_one as `mxb run` calls it (the plain contexts lent for
 * forward_many, as run.c lends its step contexts). Methods whose default cost is
 * thousands of passes run at a reduced count, the same on the PyTorch side
 * (tools/bench_methods_torch.py, which matches rows by this label); the label states
 * it, and the row keeps the method's cost() for its params and for the defaults.
 * The warm-up call before the timed ones runs the method at its fewest passes (warm:
 * one step, sample, window or mask): it touches the contexts and code as well as a
 * full call, and a full one would double the time of a --reps 1 bench, for nothing. */
static const struct {
    const char *method, *label;
    const char *kv[2];   /* the reduced params ("key=value"), NULL-terminated */
    const char *warm[2]; /* the warm-up call's; none: the row's own */
} method_rows[] = {
    {"mambalrp", "explain mambalrp", {NULL}, {NULL}},
    {"mambalrp-vision", "explain mambalrp-vision", {NULL}, {NULL}},
    {"lrp-partial", "explain lrp-partial", {NULL}, {NULL}},
    {"lrp-full", "explain lrp-full", {NULL}, {NULL}},
    {"ixg", "explain ixg", {NULL}, {NULL}},
    {"ig", "explain ig (steps=8)", {"steps=8", NULL}, {"steps=1", NULL}},
    {"smoothgrad", "explain smoothgrad (samples=5)", {"samples=5", NULL}, {"samples=1", NULL}},
    {"occlusion", "explain occlusion (window=32 stride=32)", {"window=32", "stride=32"}, {"window=224", "stride=224"}},
    {"rise", "explain rise (masks=64)", {"masks=64", NULL}, {"masks=1", NULL}},
};

/* --methods: the method rows to time (comma-separated names of method_rows; "all", the
 * default, or "none"); the older rows (raw-attention, rollout, attribution, uia) always run */
static const char *method_filter = "all";

static int method_selected(const char *name) {
    if (!strcmp(method_filter, "all")) return 1;
    const size_t n = strlen(name);
    for (const char *p = method_filter; (p = strstr(p, name)); p += n)
        if ((p == method_filter || p[-1] == ',') && (p[n] == ',' || !p[n])) return 1;
    return 0;
}

/* a row's cost at the model's geometry: params (spec order) and the defaults */
static int row_cost(bench_row *r, const mxb_config *g, const mxb_method *meth, const double *params) {
    if (mxb_explain_cost(g, meth, params, &r->cost) || mxb_explain_cost(g, meth, NULL, &r->cost_default)) return -1;
    r->has_cost = 1;
    if (params) mxb_method_params_format(meth, params, r->params, sizeof r->params);
    return 0;
}

static void bench_methods(const char *preset, const mxb_model *m, mxb_ctx *t, const float *x, int first_row,
                          int reps) {
    const mxb_config *g = mxb_model_config(m);
    /* the rows bench_model timed already (raw-attention, rollout, attribution, uia): their cost */
    for (int i = first_row; i < nrows; i++) {
        const mxb_method *meth = !strncmp(rows[i].what, "explain ", 8) ? mxb_methods_find(rows[i].what + 8) : NULL;
        if (meth && !rows[i].has_cost) row_cost(&rows[i], g, meth, NULL);
    }
    /* as run_setup.c sizes its plain pool: one context per thread, at most 9 */
    int np = omp_get_max_threads();
    if (np > 9) np = 9;
    mxb_ctx **pool = mxb_alloc0((size_t)np, sizeof *pool, "bench buffers");
    for (int k = 0; k < np; k++) pool[k] = mxb_ctx_new(m, MXB_TRACE_NONE);
    float *logits = mxb_alloc((size_t)g->num_classes * sizeof *logits, "bench buffers");
    float *map = mxb_alloc((size_t)g->num_patches * sizeof *map, "bench buffers");
    float *px = mxb_alloc((size_t)g->img_size * g->img_size * sizeof *px, "bench buffers");
    const int mreps = reps < 3 ? reps : 3; /* the heavy rows: at most 3 timed calls */
    for (size_t i = 0; i < sizeof method_rows / sizeof *method_rows; i++) {
        const mxb_method *meth = mxb_methods_find(method_rows[i].method);
        if (!meth || !(meth->archs & (1u << g->arch)) || !method_selected(method_rows[i].method)) continue;
        int nkv = 0, nwarm = 0;
        while (nkv < 2 && method_rows[i].kv[nkv]) nkv++;
        while (nwarm < 2 && method_rows[i].warm[nwarm]) nwarm++;
        double params[MXB_MAX_PARAMS], warm[MXB_MAX_PARAMS];
        char err[512];
        if (mxb_method_params_parse(meth, method_rows[i].kv, nkv, params, err, sizeof err) ||
            mxb_method_params_parse(meth, nwarm ? method_rows[i].warm : method_rows[i].kv, nwarm ? nwarm : nkv, warm,
                                    err, sizeof err)) {
            fprintf(stderr, "mxb bench: %s\n", err); /* a table out of step with a method's params */
            continue;
        }
        mxb_explain_opts o = {.class_index = -1, .variant = MXB_VARIANT_OFFICIAL, .start_layer = -1,
                              .params = warm, .seed = 1, .pool = pool, .npool = np,
                              .pixel_map = meth->map_kind == MXB_MAP_PIXELS ? px : NULL};
        int cls, rc = mxb_explain_one(t, m, meth, x, &o, logits, &cls, map, err, sizeof err);
        o.params = params;
        double ms = 0, ts[3];
        for (int k = 0; k < mreps && !rc; k++) {
            const double t0 = now_ms();
            rc = mxb_explain_one(t, m, meth, x, &o, logits, &cls, map, err, sizeof err);
            ts[k] = now_ms() - t0;
        }
        if (!rc) {
            qsort(ts, (size_t)mreps, sizeof *ts, cmp_double);
            ms = ts[mreps / 2];
        }
        if (rc) {
            fprintf(stderr, "mxb bench: %s: %s\n", preset, err);
            continue;
        }
        add_row(preset, method_rows[i].label, ms);
        row_cost(&rows[nrows - 1], g, meth, params);
    }
    for (int k = 0; k < np; k++) mxb_ctx_free(pool[k]);
    free(pool);
    free(logits);
    free(map);
    free(px);
}

static void bench_model(const char *preset, int reps, int batch) {
    char err[512];
    mxb_config cfg = mxb_config_preset(preset);
    mxb_model *m = NULL;
    if (mxb_model_new(&cfg, &m, err, sizeof err)) {
        fprintf(stderr, "mxb bench: %s\n", err);
        return;
    }
    mxb_model_randomize(m, 0);
    const mxb_config *g = mxb_model_config(m);
    const size_t npix = (size_t)g->in_chans * g->img_size * g->img_size;
    float *x = mxb_alloc(npix * sizeof *x, "bench buffers");
    float *logits = mxb_alloc((size_t)g->num_classes * sizeof *logits, "bench buffers");
    float *seed = mxb_alloc0((size_t)g->num_classes, sizeof *seed, "bench buffers");
    float *map = mxb_alloc((size_t)g->num_patches * sizeof *map, "bench buffers");
    uint64_t s = 1;
    for (size_t i = 0; i < npix; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((s >> 40) * (1.0 / 16777216.0)) * 4.0f - 2.0f;
    }
    seed[0] = 1;
    mxb_ctx *c = mxb_ctx_new(m, MXB_TRACE_NONE), *t = mxb_ctx_new(m, MXB_TRACE_KEEP);
    double ms;
    TIME_MEDIAN(reps, ms, mxb_forward(c, x, logits));
    add_row(preset, "forward, 1 image", ms);
    rows[nrows - 1].gflop = forward_gemm_gflop(g);
    const int fwd_row = nrows - 1;
    /* where one forward's time goes (one more call, timers on) */
    mxb_profile_enable(1);
    double t0 = now_ms();
    mxb_forward(c, x, logits);
    const double fwd_ms = now_ms() - t0;
    const mxb_profile pr = mxb_profile_get();
    mxb_profile_enable(0);
    add_row(preset, "forward: matrix products", pr.gemm_ms);
    rows[nrows - 1].gflop = forward_gemm_gflop(g);
    if (g->arch == MXB_ARCH_VIM) add_row(preset, "forward: selective scan", pr.scan_ms);
    add_row(preset, "forward: the rest (norms, pointwise, conv)", fwd_ms - pr.gemm_ms - pr.scan_ms);
    /* the limit: the products at the measured sgemm peak, the scan at its kernel's own
     * (compute-bound, L1-resident) speed, everything else free */
    model_lines *ml = &lines[nlines++]; /* at most one per preset: checked by mxb_cmd_bench */
    *ml = (model_lines){.fwd_row = fwd_row, .run_if_row = -1,
                        .limit_ms = forward_gemm_gflop(g) / peak_gflops * 1e3 + pr.scan_ms};
    TIME_MEDIAN(reps < 3 ? reps : 3, ms, for (int b = 0; b < batch; b++) mxb_forward(c, x, logits));
    add_row(preset, "forward, batch (per image)", ms / batch);
    rows[nrows - 1].gflop = forward_gemm_gflop(g);
    /* one perturbation step as `mxb run` runs it: the most relevant 10 % of the
     * pixels set to 0 (after normalisation), then the logits; the batch's forwards
     * one per thread, each with its own context (OpenBLAS serial inside) */
    const int nt = omp_get_max_threads();
    float *xp = mxb_alloc((size_t)nt * npix * sizeof *xp, "bench buffers");
    float *lp = mxb_alloc((size_t)nt * g->num_classes * sizeof *lp, "bench buffers");
    mxb_ctx **pc = mxb_alloc0((size_t)nt, sizeof *pc, "bench buffers");
    for (int k = 0; k < nt; k++) pc[k] = mxb_ctx_new(m, MXB_TRACE_NONE);
    TIME_MEDIAN(reps < 3 ? reps : 3, ms, perturbation_step(pc, g, x, xp, lp, batch));
    add_row(preset, "perturbation step, batch (per image)", ms / batch);
    /* `mxb run`'s perturbation stage of one image, one polarity: the 9 perturbed
     * forwards (steps 10 % ... 90 %), one per thread, at most 9 threads */
    double steps_ms;
    TIME_MEDIAN(reps < 3 ? reps : 3, steps_ms, perturbation_step(pc, g, x, xp, lp, 9));
    add_row(preset, "run stage: 9 perturbed forwards (1 polarity)", steps_ms);
    /* T forwards at once, one per thread on its own plain context (issue 13): the
     * forward as `mxb run` runs it by default; its limit in flight is the products at the
     * in-flight sgemm rate plus the scan kernel as timed in flight (one more round, each
     * thread its own timers), shared out over T */
    inflight_job jb = {.m = m, .plain = pc, .x = x, .xp = xp, .logits = lp, .per_thread = 2};
    TIME_MEDIAN(reps < 3 ? reps : 3, ms, time_inflight(nt, job_forwards, &jb));
    add_row(preset, "forward, 1 per thread at once (per image)", ms / (nt * jb.per_thread));
    rows[nrows - 1].gflop = forward_gemm_gflop(g);
    ml->fwd_if_row = nrows - 1;
    double scan_if = 0;
    if (g->arch == MXB_ARCH_VIM) {
        jb.scan_ms = mxb_alloc0((size_t)nt, sizeof *jb.scan_ms, "bench buffers");
        time_inflight(nt, job_forwards, &jb);
        for (int k = 0; k < nt; k++) scan_if += jb.scan_ms[k] / nt;
        free(jb.scan_ms);
        add_row(preset, "forward at once: scan, per forward", scan_if);
    }
    ml->limit_if_ms = forward_gemm_gflop(g) / peak_inflight_gflops * 1e3 + scan_if / nt;
    TIME_MEDIAN(reps, ms, mxb_forward(t, x, logits); mxb_backward(t, seed));
    add_row(preset, "forward+backward", ms);
    if (g->arch == MXB_ARCH_VIM) {
        float *v = mxb_alloc((size_t)g->d_inner * g->seq_len * sizeof *v, "bench buffers");
        float *mean = mxb_alloc((size_t)g->seq_len * g->seq_len * sizeof *mean, "bench buffers");
        mxb_forward(t, x, logits);
        TIME_MEDIAN(reps, ms, mxb_vim_xai_vector(t, 0, MXB_VARIANT_OFFICIAL, v));
        add_row(preset, "xai vector (official), 1 layer", ms);
        TIME_MEDIAN(reps, ms, for (int l = 0; l < g->depth; l++) mxb_vim_xai_vector(t, l, MXB_VARIANT_OFFICIAL, v));
        add_row(preset, "xai vector (official), all layers", ms);
        TIME_MEDIAN(reps, ms, mxb_vim_hidden_attn_mean(t, 0, 0, 1, mean));
        add_row(preset, "hidden attention exact, 1 layer-dir", ms);
        TIME_MEDIAN(1, ms, for (int l = 0; l < g->depth; l++) for (int d = 0; d < 2; d++)
                               mxb_vim_hidden_attn_mean(t, l, d, 1, mean));
        add_row(preset, "hidden attention exact, all layers", ms);
        /* UIA (issue 16): its rows and its attribution (outside the 3-method run row) */
        TIME_MEDIAN(reps, ms, for (int l = 0; l < g->depth; l++) mxb_vim_xai_vector(t, l, MXB_VARIANT_UIA, v));
        add_row(preset, "xai vector (uia), all layers", ms);
        {
            mxb_explain_opts o = {.class_index = -1, .variant = MXB_VARIANT_UIA, .start_layer = -1};
            int cls;
            TIME_MEDIAN(reps, ms, mxb_explain_one(t, m, mxb_methods_find("uia"), x, &o, logits, &cls, map, err,
                                                  sizeof err));
            add_row(preset, "explain uia", ms);
        }
        free(v);
        free(mean);
    }
    double explain_sum = 0;
    for (int i = 0; i < 3; i++) {
        const mxb_method *meth = mxb_methods_find(run_methods[i]);
        mxb_explain_opts o = {.class_index = -1, .variant = MXB_VARIANT_OFFICIAL, .start_layer = -1};
        int cls;
        char what[48];
        snprintf(what, sizeof what, "explain %s", run_methods[i]);
        TIME_MEDIAN(reps, ms, mxb_explain_one(t, m, meth, x, &o, logits, &cls, map, err, sizeof err));
        add_row(preset, what, ms);
        explain_sum += ms;
    }
    /* one image of the paper's table 1 as `mxb run` does it: the forward, then per
     * method its explanation and both polarities' perturbation forwards */
    const double image_ms = rows[fwd_row].c_ms + explain_sum + 3 * 2 * steps_ms;
    add_row(preset, "run: 1 image, 3 methods, pos+neg", image_ms);
    ml->run_row = nrows - 1;
    /* the same image, one per thread at once (one timed round after a first touch of
     * every thread's traced context): `mxb run`'s default, T images in flight x 1 thread;
     * left out when T traced contexts would not fit (a bench at --threads 256 on a small
     * machine says so rather than meet the OOM killer) */
    const char *limit_from;
    const double need_mb = (double)(nt - 1) * mxb_ctx_bytes(t) / 1048576.0, have_mb =
        (double)mxb_memory_limit_default_mb(&limit_from, "the machine's memory; set MXB_MAX_MEMORY_MB");
    if (need_mb > have_mb)
        fprintf(stderr, "mxb bench: %s: %d more traced contexts need %.0f MB, over the memory limit %.0f MB "
                        "(%s): the in-flight run row is left out\n",
                preset, nt - 1, need_mb, have_mb, limit_from);
    else {
        mxb_ctx **tc = mxb_alloc0((size_t)nt, sizeof *tc, "bench buffers");
        float *maps = mxb_alloc((size_t)nt * g->num_patches * sizeof *maps, "bench buffers");
        for (int k = 0; k < nt; k++) tc[k] = k ? mxb_ctx_new(m, MXB_TRACE_KEEP) : t;
        inflight_job jr = {.m = m, .plain = pc, .traced = tc, .x = x, .xp = xp, .logits = lp, .map = maps};
        time_inflight(nt, job_touch, &jr);
        const double round_ms = time_inflight(nt, job_run_image, &jr);
        if (jr.failed)
            fprintf(stderr, "mxb bench: %s: an explanation failed in flight; row left out\n", preset);
        else {
            add_row(preset, "run: 1 image per thread at once (per image)", round_ms / nt);
            ml->run_if_row = nrows - 1;
        }
        for (int k = 1; k < nt; k++) mxb_ctx_free(tc[k]);
        free(tc);
        free(maps);
    }
    for (int k = 0; k < nt; k++) mxb_ctx_free(pc[k]);
    free(pc);
    free(lp);
    free(xp);
    bench_methods(preset, m, t, x, fwd_row, reps); /* issue 16: a row per method */
    mxb_ctx_free(c);
    mxb_ctx_free(t);
    free(x);
    free(logits);
    free(seed);
    free(map);
    mxb_model_free(m);
}

/* reads "model<TAB>what<TAB>ms" lines from the PyTorch side */
static int run_torch(const char *python, const char *script, const char *models, int reps,
                     int batch, int threads) {
    char cmd[8192];
    /* the models and --methods were checked; paths are quoted for the shell */
    snprintf(cmd, sizeof cmd, "'%s' '%s' --models %s --reps %d --batch %d --threads %d --methods '%s'", python,
             script, models, reps, batch, threads, method_filter);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[512], model[64], what[128];
    double ms;
    while (fgets(line, sizeof line, p))
        if (sscanf(line, "%63[^\t]\t%127[^\t]\t%lf", model, what, &ms) == 3)
            for (int i = 0; i < nrows; i++)
                if (!strcmp(rows[i].model, model) && !strcmp(rows[i].what, what)) rows[i].torch_ms = ms;
    return pclose(p) == 0 ? 0 : -1;
}

/* ---- the machine, as a reader comparing two runs needs it ----------------------------
 * Two 16-core VMs of one CPU model gave 11.6 and 18.2 ms per DeiT-S image in flight:
 * a number means little without the CPU, the hypervisor, the cores, the OpenMP wait
 * policy, the BLAS kernels and how busy the machine was. Strings keep printable ASCII
 * without quotes or backslashes (they go into JSON as they are). */
typedef struct {
    char cpu[128], hypervisor[16], wait_policy[64];
    long cores;
    double load[3];
} bench_machine;

static void json_clean(char *s) {
    size_t k = 0;
    for (const char *q = s; *q; q++)
        if (*q != '"' && *q != '\\' && (unsigned char)*q >= 0x20 && (unsigned char)*q < 0x7f) s[k++] = *q;
    s[k] = 0;
}

static void machine_describe(bench_machine *m) {
    memset(m, 0, sizeof *m);
    snprintf(m->cpu, sizeof m->cpu, "?");
    FILE *ci = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (ci && fgets(line, sizeof line, ci))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(m->cpu, sizeof m->cpu, "%s", strchr(line, ':') + 2);
            m->cpu[strcspn(m->cpu, "\n")] = 0;
            break;
        }
    if (ci) fclose(ci);
    /* cpuid leaf 1 ECX bit 31: running under a hypervisor, whose vendor is leaf 0x40000000 */
    unsigned a, b, c, d;
    snprintf(m->hypervisor, sizeof m->hypervisor, "none");
    if (__get_cpuid(1, &a, &b, &c, &d) && (c >> 31 & 1)) {
        __cpuid(0x40000000, a, b, c, d);
        char v[13] = {0};
        memcpy(v, &b, 4), memcpy(v + 4, &c, 4), memcpy(v + 8, &d, 4);
        snprintf(m->hypervisor, sizeof m->hypervisor, "%s", v[0] ? v : "unknown");
    }
    m->cores = sysconf(_SC_NPROCESSORS_ONLN);
    /* what libgomp read when it loaded (the environment of this process) */
    const char *pol = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    if (pol && getenv("MXB_OMP_PASSIVE")) snprintf(m->wait_policy, sizeof m->wait_policy, "passive (mxb's default)");
    else if (pol || spin)
        snprintf(m->wait_policy, sizeof m->wait_policy, "%s%s%s%s%s", pol ? "OMP_WAIT_POLICY=" : "", pol ? pol : "",
                 pol && spin ? " " : "", spin ? "GOMP_SPINCOUNT=" : "", spin ? spin : "");
    else snprintf(m->wait_policy, sizeof m->wait_policy, "libgomp's default (spin, then sleep)");
    if (getloadavg(m->load, 3) != 3) m->load[0] = m->load[1] = m->load[2] = -1;
    json_clean(m->cpu), json_clean(m->hypervisor), json_clean(m->wait_policy);
}

/* ---- a shared machine: N busy processes for the duration (--contend N) ---------------- */

static pid_t contenders[256];
static int ncontenders;

static void contend_start(int n) {
    for (int i = 0; i < n && i < 256; i++) {
        pid_t p = fork();
        if (p == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the bench */
            volatile unsigned long spin = 0;
            for (;;) spin++;
        }
        if (p > 0) contenders[ncontenders++] = p;
    }
}

static void contend_stop(void) {
    for (int i = 0; i < ncontenders; i++) kill(contenders[i], SIGKILL);
    for (int i = 0; i < ncontenders; i++) waitpid(contenders[i], NULL, 0);
    ncontenders = 0;
}

/* the explain rows' cost per image (issue 16): the method's cost() for the row's params
 * and for the defaults, and the C time at the defaults estimated by multiplying the
 * row's time by the ratio of passes (a backward counted as 2 forwards: a
 * multiplication, not a measurement) */
static double passes(const mxb_cost *c) {
    return c->traced_forwards + c->plain_forwards + 2 * (c->backwards + c->lrp_passes);
}

static void print_costs(FILE *out) {
    int any = 0;
    for (int i = 0; i < nrows; i++) any |= rows[i].has_cost;
    if (!any) return;
    fprintf(out, "per-image cost at full geometry (the method's cost(): traced + plain forwards / backwards / LRP\n"
                 "passes); at defaults: C ms = the row's C ms x pass ratio (a backward or LRP pass = 2 forwards)\n"
                 "%-7s %-44s %13s %6s %4s %13s %6s %4s %12s\n",
            "model", "measurement", "row fwd", "bwd", "lrp", "default fwd", "bwd", "lrp", "C ms at def.");
    for (int i = 0; i < nrows; i++) {
        const bench_row *r = &rows[i];
        if (!r->has_cost) continue;
        const mxb_cost *a = &r->cost, *d = &r->cost_default;
        fprintf(out, "%-7s %-44s %6.0f+%-6.0f %6.0f %4.0f %6.0f+%-6.0f %6.0f %4.0f %12.1f\n", r->model, r->what,
                a->traced_forwards, a->plain_forwards, a->backwards, a->lrp_passes, d->traced_forwards,
                d->plain_forwards, d->backwards, d->lrp_passes, passes(a) > 0 ? r->c_ms * passes(d) / passes(a) : r->c_ms);
    }
}

static void print_table(int threads, int contend, FILE *out) {
    const double peak = peak_gflops;
    fprintf(out, "threads %d%s%s; GFLOP/s counts matrix-multiply work only; %% of the measured sgemm peak (%.1f GFLOP/s)\n"
           "%-7s %-44s %10s %10s %8s %8s %6s\n",
           threads, contend ? "; busy processes " : "", contend ? "on" : "", peak, "model", "measurement", "C ms",
           "torch ms", "speedup", "GFLOP/s", "peak");
    for (int i = 0; i < nrows; i++) {
        const bench_row *r = &rows[i];
        fprintf(out, "%-7s %-44s %10.2f ", r->model, r->what, r->c_ms);
        if (r->torch_ms > 0)
            fprintf(out, "%10.2f %7.2fx", r->torch_ms, r->torch_ms / r->c_ms);
        else
            fprintf(out, "%10s %8s", "-", "-");
        if (r->gflop > 0)
            fprintf(out, " %8.1f %5.0f%%\n", r->gflop / r->c_ms * 1e3, 100 * r->gflop / r->c_ms * 1e3 / peak);
        else
            fprintf(out, "\n");
    }
    for (int k = 0; k < nlines; k++) {
        const bench_row *r = &rows[lines[k].fwd_row];
        fprintf(out, "%-7s forward limit %.2f ms (products at the sgemm peak + the scan kernel): %.0f%% reached\n",
                r->model, lines[k].limit_ms, 100 * lines[k].limit_ms / r->c_ms);
    }
    for (int k = 0; k < nlines; k++) {
        const bench_row *r = &rows[lines[k].fwd_if_row];
        fprintf(out, "%-7s forward limit, %d in flight x 1 thread: %.2f ms per image (products at the in-flight sgemm "
                     "rate + the scan kernel in flight, over T): %.0f%% reached\n",
                r->model, threads, lines[k].limit_if_ms, 100 * lines[k].limit_if_ms / r->c_ms);
    }
    for (int k = 0; k < nlines; k++) {
        const bench_row *r = &rows[lines[k].run_row];
        fprintf(out, "%-7s mxb run, paper table 1 (3 methods, pos+neg), 1 image at a time: %.0f images/hour; "
                     "50,000 images: %.1f h\n",
                r->model, 3.6e6 / r->c_ms, 50000 * r->c_ms / 3.6e6);
    }
    for (int k = 0; k < nlines; k++) {
        if (lines[k].run_if_row < 0) continue;
        const bench_row *r = &rows[lines[k].run_if_row];
        fprintf(out, "%-7s mxb run, paper table 1 (3 methods, pos+neg), %d in flight x 1 thread (the default): %.0f "
                     "images/hour; 50,000 images: %.1f h\n",
                r->model, threads, 3.6e6 / r->c_ms, 50000 * r->c_ms / 3.6e6);
    }
    print_costs(out);
}

#define MAX_PASSES 16
static bench_row saved[MAX_PASSES][MAX_ROWS];
static int saved_threads[MAX_PASSES], npasses;

static void print_scaling(void) {
    printf("\nscaling: C ms at each thread count (speedup = %d threads / %d threads)\n%-7s %-44s",
           saved_threads[0], saved_threads[npasses - 1], "model", "measurement");
    for (int p = 0; p < npasses; p++) printf(" %8d", saved_threads[p]);
    printf(" %8s\n", "speedup");
    for (int i = 0; i < nrows; i++) {
        printf("%-7s %-44s", saved[0][i].model, saved[0][i].what);
        for (int p = 0; p < npasses; p++) printf(" %8.2f", saved[p][i].c_ms);
        printf(" %7.2fx\n", saved[0][i].c_ms / saved[npasses - 1][i].c_ms);
    }
}

static void bench_usage(FILE *f) {
    fprintf(f, "usage: mxb bench [--models vim-s,deit-s] [--reps 5] [--batch 8] [--json OUT.json]\n"
               "                 [--threads 1,2,4,8,16] [--contend N] [--no-torch]\n"
               "                 [--python /usr/bin/python3] [--methods all|none|ixg,ig,...]\n"
               "Random weights at full geometry; threads from OMP_NUM_THREADS, or each count of\n"
               "--threads in turn (then a scaling table). Prints C and PyTorch\n"
               "(tools/bench_torch.py, same thread count) milliseconds and their ratio, the BLAS\n"
               "and kernels, the forward's limit and `mxb run` images/hour. --contend N keeps N\n"
               "busy processes running for the duration (a shared machine).\n"
               "Rows '... 1 per thread at once' run the work once on each thread at the same time\n"
               "(mxb run's default: one image in flight per thread), per image: the square sgemm\n"
               "so (the machine's ceiling for it), the forward with its in-flight limit, a\n"
               "table-1 image and its images/hour.\n"
               "Per method (issue 16): an 'explain <method>' row for each built-in method the model\n"
               "supports (--methods picks among mambalrp, mambalrp-vision, lrp-partial, lrp-full,\n"
               "ixg, ig, smoothgrad, occlusion, rise), the costly ones at the reduced count their\n"
               "label states, PyTorch twins from tools/bench_methods_torch.py, and each method's\n"
               "cost() per image (row params and defaults) in a table and the JSON.\n");
}

int mxb_cmd_bench(int argc, char **argv) {
    const char *models = "vim-s,deit-s", *json = NULL, *python = "/usr/bin/python3";
    const char *threads_list = NULL;
    int reps = 5, batch = 8, no_torch = 0, contend = 0;
    mxb_opt opts[] = {MXB_OPT_S("models", &models),    MXB_OPT_I("reps", &reps, 1, 100000),
                      MXB_OPT_I("batch", &batch, 1, 4096), MXB_OPT_S("json", &json),
                      MXB_OPT_F("no-torch", &no_torch), MXB_OPT_S("python", &python),
                      MXB_OPT_S("threads", &threads_list), MXB_OPT_I("contend", &contend, 0, 256),
                      MXB_OPT_S("methods", &method_filter), MXB_OPT_END};
    int prc = mxb_opts_parse("bench", argc, argv, opts, NULL, 0, NULL, bench_usage);
    if (prc) return prc == 1 ? 0 : 2;
    int torch = !no_torch;
    if (strcmp(method_filter, "all") && strcmp(method_filter, "none")) { /* every name one of method_rows' */
        char buf[256];
        snprintf(buf, sizeof buf, "%s", method_filter);
        for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
            size_t i = 0;
            while (i < sizeof method_rows / sizeof *method_rows && strcmp(method_rows[i].method, tok)) i++;
            if (i == sizeof method_rows / sizeof *method_rows || strlen(method_filter) >= sizeof buf)
                return mxb_usage_error("bench", "--methods: '%s' is not a method with a bench row (all, none, or "
                                       "names among mambalrp, mambalrp-vision, lrp-partial, lrp-full, ixg, ig, "
                                       "smoothgrad, occlusion, rise)", tok);
        }
    }
    if (strchr(method_filter, '\'')) return mxb_usage_error("bench", "--methods must not contain quotes");
    int tlist[MAX_PASSES], ntl = 0;
    if (threads_list) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", threads_list);
        for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
            long v;
            if (mxb_parse_long(tok, 1, 1024, &v) || ntl == MAX_PASSES)
                return mxb_usage_error("bench", "--threads: '%s' is not up to %d counts 1..1024, like 1,2,4",
                                       threads_list, MAX_PASSES);
            tlist[ntl++] = (int)v;
        }
    }
    if (!ntl) tlist[ntl++] = omp_get_max_threads();
    if (strchr(python, '\'') || strchr(MXB_SOURCE_DIR, '\'')) {
        fprintf(stderr, "mxb bench: --python and the source path must not contain quotes\n");
        return 2;
    }
    char list[256], valid[256] = "";
    snprintf(list, sizeof list, "%s", models);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        mxb_config cfg = mxb_config_preset(tok);
        if (!cfg.arch) {
            fprintf(stderr, "mxb bench: unknown model '%s' (vim-s, vim-t, deit-s, deit-t)\n", tok);
            return 2;
        }
        for (const char *p = valid; (p = strstr(p, tok)); p++) /* once each: the rows and lines are per model */
            if ((p == valid || p[-1] == ',') && (p[strlen(tok)] == ',' || !p[strlen(tok)]))
                return mxb_usage_error("bench", "--models: '%s' is named twice", tok);
        snprintf(valid + strlen(valid), sizeof valid - strlen(valid), "%s%s", valid[0] ? "," : "", tok);
    }
    if (!valid[0]) {
        fprintf(stderr, "mxb bench: --models names no model\n");
        return 2;
    }
    /* opened now: an unwritable --json fails before the long part */
    mxb_outfile jf = {0};
    char err[1024];
    if (json && mxb_outfile_open(&jf, json, err, sizeof err)) {
        fprintf(stderr, "mxb bench: %s\n", err);
        return 2;
    }
    FILE *f = jf.f;
    const char *blas = mxb_blas_describe();
    printf("BLAS: %s\n", blas);
    bench_machine mach;
    machine_describe(&mach);
    printf("machine: %s; %ld cores; hypervisor %s; OpenMP wait %s; load %.2f %.2f %.2f\n", mach.cpu, mach.cores,
           mach.hypervisor, mach.wait_policy, mach.load[0], mach.load[1], mach.load[2]);
    if (contend) {
        fprintf(stderr, "mxb bench: %d busy processes for the duration\n", contend);
        contend_start(contend);
    }
    for (int pass = 0; pass < ntl; pass++) {
        omp_set_num_threads(tlist[pass]);
        nrows = nlines = 0;
        fprintf(stderr, "mxb bench: %d threads: sgemm...\n", tlist[pass]);
        bench_sgemm(reps);
        peak_gflops = rows[0].gflop / rows[0].c_ms * 1e3; /* the square sgemm */
        snprintf(list, sizeof list, "%s", valid);
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
            fprintf(stderr, "mxb bench: %d threads: %s (C)...\n", tlist[pass], tok);
            bench_model(tok, reps, batch);
        }
        if (torch) {
            char script[4096];
            snprintf(script, sizeof script, "%s/tools/bench_torch.py", MXB_SOURCE_DIR);
            fprintf(stderr, "mxb bench: %d threads: PyTorch reference (%s)...\n", tlist[pass], script);
            if (run_torch(python, script, valid, reps, batch, tlist[pass]))
                fprintf(stderr, "mxb bench: the PyTorch side failed; C timings only\n");
        }
        print_table(tlist[pass], contend, stdout);
        fflush(stdout);
        memcpy(saved[pass], rows, sizeof rows);
        saved_threads[pass] = tlist[pass];
        npasses = pass + 1;
    }
    contend_stop();
    if (npasses > 1) print_scaling();
    const int threads = tlist[ntl - 1];
    const double peak = peak_gflops;
    if (f) {
        /* the last thread count's rows; the scaling in "scaling". The BLAS line may hold
         * a user's OPENBLAS_CORETYPE: cleaned as the machine's strings are */
        char json_safe[512];
        snprintf(json_safe, sizeof json_safe, "%s", blas);
        json_clean(json_safe);
        fprintf(f, "{\"threads\": %d, \"reps\": %d, \"batch\": %d, \"unit\": \"ms\", \"contend\": %d, "
                   "\"cost_fields\": [\"traced_forwards\", \"plain_forwards\", \"backwards\", \"lrp_passes\"], "
                   "\"blas\": \"%s\", \"sgemm_peak_gflops\": %.3f, ",
                threads, reps, batch, contend, json_safe, peak);
        double load_end[3] = {-1, -1, -1};
        if (getloadavg(load_end, 3) != 3) load_end[0] = load_end[1] = load_end[2] = -1;
        fprintf(f, "\"machine\": {\"cpu\": \"%s\", \"cores\": %ld, \"hypervisor\": \"%s\", \"wait_policy\": \"%s\", "
                   "\"load_start\": [%.2f, %.2f, %.2f], \"load_end\": [%.2f, %.2f, %.2f]}, ",
                mach.cpu, mach.cores, mach.hypervisor, mach.wait_policy, mach.load[0], mach.load[1], mach.load[2],
                load_end[0], load_end[1], load_end[2]);
        fprintf(f, "\"sgemm_in_flight_gflops\": %.3f, \"forward_limits\": {", peak_inflight_gflops);
        for (int k = 0; k < nlines; k++) /* the last pass's */
            fprintf(f, "%s\"%s\": {\"ms\": %.4f, \"in_flight_ms\": %.4f}", k ? ", " : "", rows[lines[k].fwd_row].model,
                    lines[k].limit_ms, lines[k].limit_if_ms);
        fprintf(f, "}, \"scaling\": {");
        for (int p = 0; p < npasses; p++) {
            fprintf(f, "%s\"%d\": [", p ? ", " : "", saved_threads[p]);
            for (int i = 0; i < nrows; i++) fprintf(f, "%s%.4f", i ? ", " : "", saved[p][i].c_ms);
            fprintf(f, "]");
        }
        fprintf(f, "}, \"rows\": [\n");
        for (int i = 0; i < nrows; i++) {
            const bench_row *r = &rows[i];
            fprintf(f, "  {\"model\": \"%s\", \"what\": \"%s\", \"c_ms\": %.4f, ", r->model, r->what,
                    r->c_ms);
            if (r->gflop > 0) fprintf(f, "\"gflop\": %.4f, ", r->gflop);
            if (r->has_cost) /* issue 16: the method's cost() per image, the row's params and the defaults */
                fprintf(f,
                        "\"params\": \"%s\", \"cost\": [%.0f, %.0f, %.0f, %.0f], \"cost_default\": [%.0f, %.0f, %.0f, "
                        "%.0f], ",
                        r->params, r->cost.traced_forwards, r->cost.plain_forwards, r->cost.backwards,
                        r->cost.lrp_passes, r->cost_default.traced_forwards, r->cost_default.plain_forwards,
                        r->cost_default.backwards, r->cost_default.lrp_passes);
            if (r->torch_ms > 0)
                fprintf(f, "\"torch_ms\": %.4f, \"speedup\": %.4f}", r->torch_ms, r->torch_ms / r->c_ms);
            else
                fprintf(f, "\"torch_ms\": null, \"speedup\": null}");
            fprintf(f, "%s\n", i + 1 < nrows ? "," : "");
        }
        fprintf(f, "]}\n");
        if (mxb_outfile_commit(&jf, 1, err, sizeof err)) {
            fprintf(stderr, "mxb bench: %s\n", err);
            return 1;
        }
    }
    return 0;
}
