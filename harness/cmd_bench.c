/* mxb bench: the C engine against the PyTorch reference (tools/bench_torch.py), on
 * the same machine, in the same run, at the same thread count, as ratios. */
#include "harness/harness.h"

#include <cblas.h>
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
} bench_row;

#define MAX_ROWS 64
static bench_row rows[MAX_ROWS];
static int nrows;

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

/* The machine's single-call sgemm throughput at a large square size and at the
 * model's widest layer shape (rows = tokens): the yardstick for GFLOP/s above. */
static void bench_sgemm(int reps) {
    const int n = 1024, L = 197, E = 384, F = 1536;
    float *a = malloc((size_t)n * n * sizeof *a), *b = malloc((size_t)n * n * sizeof *b);
    float *c = malloc((size_t)8 * L * F * sizeof *c); /* the largest product, > n * n */
    for (size_t i = 0; i < (size_t)n * n; i++) a[i] = b[i] = (float)(i % 17) * 0.01f;
    double ms;
    TIME_MEDIAN(reps, ms, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n,
                                      b, n, 0.0f, c, n));
    add_row("blas", "sgemm 1024x1024x1024", ms);
    rows[nrows - 1].gflop = 2.0 * n * n * n / 1e9;
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
    free(a);
    free(b);
    free(c);
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
    float *x = malloc(npix * sizeof *x), *logits = malloc((size_t)g->num_classes * sizeof *logits);
    float *seed = calloc((size_t)g->num_classes, sizeof *seed);
    float *map = malloc((size_t)g->num_patches * sizeof *map);
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
    TIME_MEDIAN(reps < 3 ? reps : 3, ms, for (int b = 0; b < batch; b++) mxb_forward(c, x, logits));
    add_row(preset, "forward, batch (per image)", ms / batch);
    rows[nrows - 1].gflop = forward_gemm_gflop(g);
    /* one perturbation step as `mxb run` runs it: the most relevant 10 % of the
     * pixels set to 0 (after normalisation), then the logits; the batch's forwards
     * one per thread, each with its own context (OpenBLAS serial inside) */
    const int nt = omp_get_max_threads();
    float *xp = malloc((size_t)nt * npix * sizeof *xp);
    float *lp = malloc((size_t)nt * g->num_classes * sizeof *lp);
    mxb_ctx **pc = calloc((size_t)nt, sizeof *pc);
    for (int k = 0; k < nt; k++) pc[k] = mxb_ctx_new(m, MXB_TRACE_NONE);
    TIME_MEDIAN(reps < 3 ? reps : 3, ms, perturbation_step(pc, g, x, xp, lp, batch));
    add_row(preset, "perturbation step, batch (per image)", ms / batch);
    for (int k = 0; k < nt; k++) mxb_ctx_free(pc[k]);
    free(pc);
    free(lp);
    free(xp);
    TIME_MEDIAN(reps, ms, mxb_forward(t, x, logits); mxb_backward(t, seed));
    add_row(preset, "forward+backward", ms);
    if (g->arch == MXB_ARCH_VIM) {
        float *v = malloc((size_t)g->d_inner * g->seq_len * sizeof *v);
        float *mean = malloc((size_t)g->seq_len * g->seq_len * sizeof *mean);
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
        free(v);
        free(mean);
    }
    const char *methods[3] = {"raw-attention", "rollout", "attribution"};
    for (int i = 0; i < 3; i++) {
        const mxb_method *meth = mxb_methods_find(methods[i]);
        mxb_explain_opts o = {.class_index = -1, .variant = MXB_VARIANT_OFFICIAL, .start_layer = -1};
        int cls;
        char what[48];
        snprintf(what, sizeof what, "explain %s", methods[i]);
        TIME_MEDIAN(reps, ms, mxb_explain_one(t, m, meth, x, &o, logits, &cls, map, err, sizeof err));
        add_row(preset, what, ms);
    }
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
    /* the models were checked against the presets; paths are quoted for the shell */
    snprintf(cmd, sizeof cmd, "'%s' '%s' --models %s --reps %d --batch %d --threads %d", python,
             script, models, reps, batch, threads);
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

static void bench_usage(FILE *f) {
    fprintf(f, "usage: mxb bench [--models vim-s,deit-s] [--reps 5] [--batch 8] [--json OUT.json]\n"
               "                 [--no-torch] [--python /usr/bin/python3]\n"
               "Random weights at full geometry; threads from OMP_NUM_THREADS. Prints C and\n"
               "PyTorch (tools/bench_torch.py, same thread count) milliseconds and their ratio.\n");
}

int mxb_cmd_bench(int argc, char **argv) {
    const char *models = "vim-s,deit-s", *json = NULL, *python = "/usr/bin/python3";
    int reps = 5, batch = 8, no_torch = 0;
    mxb_opt opts[] = {MXB_OPT_S("models", &models),    MXB_OPT_I("reps", &reps, 1, 100000),
                      MXB_OPT_I("batch", &batch, 1, 4096), MXB_OPT_S("json", &json),
                      MXB_OPT_F("no-torch", &no_torch), MXB_OPT_S("python", &python),
                      MXB_OPT_END};
    int prc = mxb_opts_parse("bench", argc, argv, opts, NULL, 0, NULL, bench_usage);
    if (prc) return prc == 1 ? 0 : 2;
    int torch = !no_torch;
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
        snprintf(valid + strlen(valid), sizeof valid - strlen(valid), "%s%s", valid[0] ? "," : "", tok);
    }
    if (!valid[0]) {
        fprintf(stderr, "mxb bench: --models names no model\n");
        return 2;
    }
    FILE *f = NULL; /* opened now: an unwritable --json fails before the long part */
    if (json && !(f = fopen(json, "w"))) {
        fprintf(stderr, "mxb bench: %s: cannot write\n", json);
        return 2;
    }
    fprintf(stderr, "mxb bench: sgemm...\n");
    bench_sgemm(reps);
    snprintf(list, sizeof list, "%s", valid);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        fprintf(stderr, "mxb bench: %s (C)...\n", tok);
        bench_model(tok, reps, batch);
    }
    const int threads = omp_get_max_threads();
    if (torch) {
        char script[4096];
        snprintf(script, sizeof script, "%s/tools/bench_torch.py", MXB_SOURCE_DIR);
        fprintf(stderr, "mxb bench: PyTorch reference (%s)...\n", script);
        if (run_torch(python, script, valid, reps, batch, threads))
            fprintf(stderr, "mxb bench: the PyTorch side failed; C timings only\n");
    }
    const double peak = rows[0].gflop / rows[0].c_ms * 1e3; /* the square sgemm */
    printf("threads %d; GFLOP/s counts matrix-multiply work only; %% of the measured sgemm peak (%.1f GFLOP/s)\n"
           "%-7s %-38s %10s %10s %8s %8s %6s\n",
           threads, peak, "model", "measurement", "C ms", "torch ms", "speedup", "GFLOP/s", "peak");
    for (int i = 0; i < nrows; i++) {
        const bench_row *r = &rows[i];
        printf("%-7s %-38s %10.2f ", r->model, r->what, r->c_ms);
        if (r->torch_ms > 0)
            printf("%10.2f %7.2fx", r->torch_ms, r->torch_ms / r->c_ms);
        else
            printf("%10s %8s", "-", "-");
        if (r->gflop > 0)
            printf(" %8.1f %5.0f%%\n", r->gflop / r->c_ms * 1e3, 100 * r->gflop / r->c_ms * 1e3 / peak);
        else
            printf("\n");
    }
    if (f) {
        fprintf(f, "{\"threads\": %d, \"reps\": %d, \"batch\": %d, \"unit\": \"ms\", "
                   "\"sgemm_peak_gflops\": %.3f, \"rows\": [\n", threads, reps, batch, peak);
        for (int i = 0; i < nrows; i++) {
            const bench_row *r = &rows[i];
            fprintf(f, "  {\"model\": \"%s\", \"what\": \"%s\", \"c_ms\": %.4f, ", r->model, r->what,
                    r->c_ms);
            if (r->gflop > 0) fprintf(f, "\"gflop\": %.4f, ", r->gflop);
            if (r->torch_ms > 0)
                fprintf(f, "\"torch_ms\": %.4f, \"speedup\": %.4f}", r->torch_ms, r->torch_ms / r->c_ms);
            else
                fprintf(f, "\"torch_ms\": null, \"speedup\": null}");
            fprintf(f, "%s\n", i + 1 < nrows ? "," : "");
        }
        fprintf(f, "]}\n");
        if (fclose(f)) {
            fprintf(stderr, "mxb bench: %s: cannot write\n", json);
            return 1;
        }
    }
    return 0;
}
