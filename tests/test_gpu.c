/* The GPU backend against the CPU engine (issue 27 item 4, stage 1): every GPU kernel
 * on its own against the CPU kernel it mirrors (the ggml test-backend-ops idea), then
 * whole batched forwards of the demo models, the fuzz templates' tiny models and the
 * paper's geometries (DeiT-S, ViM-S, seeded random weights) against mxb_forward, image
 * by image. Measured: the largest relative difference, max |gpu - cpu| / max |cpu| over
 * an output (a logit row for the forwards); the tolerance is 1e-5. A second GPU
 * forward of the same batch must give the same bits (no atomics in any reduction).
 *
 * Without CUDA compiled in, or without a GPU, it says so in one line and exits 77
 * (ctest's SKIP_RETURN_CODE): it sits in ctest on CI and runs for real under
 * `make -f Makefile.ci gpu-check` on a GPU machine.
 *   test_gpu [--bench [BATCH] | --once deit-s|vim-s BATCH]
 * (--bench: images/s of batched forwards at DeiT-S / ViM-S size; --once: one forward,
 * for a profiler) */
#include "engine/engine.h"
#include "engine/internal.h"
#include "engine/ops.h"
#include "engine/simd.h"
#include "io/io.h"
#include "mxb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef MXB_CUDA
#include "engine/cuda/kernels.h"
#include <cuda_runtime_api.h>
#endif

#define TOL 1e-5

static int failures;

static double rel_diff(const float *gpu, const float *cpu, size_t n) {
    double md = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)gpu[i] - cpu[i]);
        md = d > md || d != d ? d : md;
        mx = fabs(cpu[i]) > mx ? fabs(cpu[i]) : mx;
    }
    return md / (mx > 0 ? mx : 1);
}

static void report(const char *what, double r, double tol) {
    const int ok = r <= tol;
    printf("%-44s max rel diff %.3g %s\n", what, r, ok ? "ok" : "FAIL");
    if (!ok) failures++;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(float a) { return a * (2.0f * (float)((mxb_splitmix64(&rng) >> 40) * (1.0 / 16777216.0)) - 1.0f); }
static float *rand_buf(size_t n, float a) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = frand(a);
    return p;
}

#ifdef MXB_CUDA

static float *up(const float *h, size_t n) {
    float *d = NULL;
    if (cudaMalloc((void **)&d, n * sizeof(float)) != cudaSuccess) {
        fprintf(stderr, "test_gpu: cudaMalloc of %zu floats failed\n", n);
        exit(1);
    }
    if (h) cudaMemcpy(d, h, n * sizeof(float), cudaMemcpyHostToDevice);
    return d;
}
static float *down(const float *d, size_t n) {
    float *h = malloc(n * sizeof *h);
    cudaDeviceSynchronize();
    const char *e = mxb_cu_last_error();
    if (e) {
        fprintf(stderr, "test_gpu: a kernel failed: %s\n", e);
        exit(1);
    }
    cudaMemcpy(h, d, n * sizeof(float), cudaMemcpyDeviceToHost);
    return h;
}

/* ---- each kernel alone ---------------------------------------------------------------- */

static void ops_norms(void) {
    const int rows = 197, dim = 384;
    float *x = rand_buf((size_t)rows * dim, 3.0f), *w = rand_buf(dim, 1.0f), *b = rand_buf(dim, 1.0f);
    for (int i = 0; i < rows * dim; i++) x[i] += 0.5f; /* a mean off zero */
    float *y = malloc(sizeof(float) * rows * dim), *rs = malloc(sizeof(float) * rows);
    float *dx = up(x, (size_t)rows * dim), *dw = up(w, dim), *db = up(b, dim), *dy = up(NULL, (size_t)rows * dim);
    mxb_layernorm_forward(y, rs, x, w, b, rows, dim, 1e-6f);
    mxb_cu_layernorm(dy, dx, dw, db, rows, dim, dim, 1e-6f, 0);
    float *g = down(dy, (size_t)rows * dim);
    report("op layernorm [197, 384]", rel_diff(g, y, (size_t)rows * dim), TOL);
    free(g);
    mxb_rmsnorm_forward(y, rs, x, w, rows, dim, 1e-5f);
    mxb_cu_rmsnorm(dy, dx, dw, rows, dim, dim, 1e-5f, 0);
    g = down(dy, (size_t)rows * dim);
    report("op rmsnorm [197, 384]", rel_diff(g, y, (size_t)rows * dim), TOL);
    free(g);
    cudaFree(dx), cudaFree(dw), cudaFree(db), cudaFree(dy);
    free(x), free(w), free(b), free(y), free(rs);
}

static void ops_pointwise(void) {
    const int rows = 6 * 197, cols = 197;
    const size_t n = (size_t)rows * cols;
    /* softmax over attention-like scores */
    float *x = rand_buf(n, 8.0f), *y = malloc(n * sizeof *y);
    float *d = up(x, n);
    memcpy(y, x, n * sizeof *y);
    mxb_softmax_rows(y, rows, cols);
    mxb_cu_softmax(d, rows, cols, 0);
    float *g = down(d, n);
    report("op softmax [1182, 197]", rel_diff(g, y, n), TOL);
    free(g);
    /* GELU and softplus + bias: engine/simd.h's polynomials on both sides */
    for (size_t i = 0; i < n; i += 16) {
        const int k = n - i < 16 ? (int)(n - i) : 16;
        vf16_store_part(y + i, vf16_gelu(vf16_load_part(x + i, k)), k);
    }
    float *dy = up(NULL, n);
    cudaMemcpy(d, x, n * sizeof(float), cudaMemcpyHostToDevice); /* the softmax overwrote d */
    mxb_cu_gelu(dy, d, n, 0);
    g = down(dy, n);
    report("op gelu (233k values in [-8, 8])", rel_diff(g, y, n), TOL);
    free(g);
    float *bias = rand_buf(cols, 2.0f), *pre = malloc(n * sizeof *pre);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) pre[(size_t)r * cols + c] = x[(size_t)r * cols + c] * 4.0f + bias[c];
    for (size_t i = 0; i < n; i += 16) {
        const int k = n - i < 16 ? (int)(n - i) : 16;
        vf16_store_part(y + i, vf16_softplus(vf16_load_part(pre + i, k)), k);
    }
    float *dbias = up(bias, cols);
    for (size_t i = 0; i < n; i++) x[i] *= 4.0f;
    cudaMemcpy(d, x, n * sizeof(float), cudaMemcpyHostToDevice);
    mxb_cu_softplus_bias(dy, d, dbias, rows, cols, 0);
    g = down(dy, n);
    report("op softplus(x + bias) (x in [-32, 32])", rel_diff(g, y, n), TOL);
    free(g);
    /* im2col */
    const int B = 2, C = 3, S = 32, P = 8, K = C * P * P, M = (S / P) * (S / P);
    float *img = rand_buf((size_t)B * C * S * S, 1.0f), *pt = malloc(sizeof(float) * B * M * K);
    for (int b = 0; b < B; b++) mxb_patchify(pt + (size_t)b * M * K, img + (size_t)b * C * S * S, C, S, P);
    float *dimg = up(img, (size_t)B * C * S * S), *dpt = up(NULL, (size_t)B * M * K);
    mxb_cu_patchify(dpt, dimg, B, C, S, P, 0);
    g = down(dpt, (size_t)B * M * K);
    report("op patchify (2 images, 3x32x32, P 8)", rel_diff(g, pt, (size_t)B * M * K), 0.0);
    free(g);
    free(img), free(pt), cudaFree(dimg), cudaFree(dpt);
    free(x), free(y), free(bias), free(pre), cudaFree(d), cudaFree(dy), cudaFree(dbias);
}

/* The conv + SiLU and the scan against what a traced CPU forward of a ViM model kept
 * (mxb_vim_s6: the scan's inputs and outputs of one layer, both directions) */
static void ops_mamba(const char *path) {
    char err[512];
    mxb_model *m;
    if (mxb_model_load(path, &m, err, sizeof err)) {
        fprintf(stderr, "test_gpu: %s\n", err);
        failures++;
        return;
    }
    const mxb_config *c = mxb_model_config(m);
    mxb_ctx *ctx = mxb_ctx_new(m, MXB_TRACE_KEEP);
    float *img = rand_buf((size_t)c->in_chans * c->img_size * c->img_size, 2.0f);
    float *logits = malloc(sizeof(float) * c->num_classes);
    mxb_forward(ctx, img, logits);
    const int layer = c->depth / 2;
    mxb_s6_view v[2];
    mxb_vim_s6(ctx, layer, 0, &v[0]);
    mxb_vim_s6(ctx, layer, 1, &v[1]);
    const int L = v[0].L, D = v[0].D, N = v[0].N, K = v[0].K, R = c->dt_rank, X = v[0].bc_stride;
    mxb_cu_conv_args ca;
    mxb_cu_scan_args sa;
    float *keep[32];
    int nk = 0;
    for (int d = 0; d < 2; d++) {
        ca.xz[d] = sa.xz[d] = keep[nk++] = up(v[d].x_pre, (size_t)L * 2 * D);
        ca.conv_w[d] = keep[nk++] = up(v[d].conv_w, (size_t)D * K);
        ca.conv_b[d] = keep[nk++] = up(v[d].conv_b, D);
        ca.u[d] = keep[nk++] = up(NULL, (size_t)L * D);
        sa.u[d] = keep[nk++] = up(v[d].x, (size_t)L * D); /* the CPU's u, so the scan is tested alone */
        sa.delta[d] = keep[nk++] = up(v[d].delta, (size_t)L * D);
        sa.x_dbl[d] = keep[nk++] = up(v[d].B - R, (size_t)L * X);
        sa.A[d] = keep[nk++] = up(v[d].A, (size_t)D * N);
        sa.Dskip[d] = keep[nk++] = up(v[d].D_skip, D);
        sa.y[d] = keep[nk++] = up(NULL, (size_t)L * D);
        sa.out[d] = keep[nk++] = up(NULL, (size_t)L * D);
    }
    mxb_cu_conv_silu(&ca, 1, L, D, K, 0);
    mxb_cu_scan(&sa, 1, L, D, N, R, 0);
    char what[96];
    for (int d = 0; d < 2; d++) {
        float *g = down(ca.u[d], (size_t)L * D);
        snprintf(what, sizeof what, "op conv+SiLU (dir %d, [%d, %d], K %d)", d, L, D, K);
        report(what, rel_diff(g, v[d].x, (size_t)L * D), TOL);
        free(g);
        g = down(sa.y[d], (size_t)L * D);
        snprintf(what, sizeof what, "op selective scan (dir %d, [%d, %d], N %d)", d, L, D, N);
        report(what, rel_diff(g, v[d].y, (size_t)L * D), TOL);
        free(g);
        /* the gate: (y + D u)·SiLU(z), from the CPU's y */
        float *o = down(sa.out[d], (size_t)L * D), *ref = malloc(sizeof(float) * L * D);
        for (int t = 0; t < L; t++)
            for (int ch = 0; ch < D; ch += 16) {
                const int k = D - ch < 16 ? D - ch : 16;
                const size_t i = (size_t)t * D + ch;
                const vf16 y = vf16_load_part(v[d].y + i, k), x = vf16_load_part(v[d].x + i, k);
                const vf16 Dc = vf16_load_part(v[d].D_skip + ch, k), z = vf16_load_part(v[d].z + (size_t)t * v[d].xz_stride + ch, k);
                vf16_store_part(ref + i, (y + Dc * x) * vf16_silu(z), k);
            }
        snprintf(what, sizeof what, "op scan gate (y + D u) SiLU(z) (dir %d)", d);
        report(what, rel_diff(o, ref, (size_t)L * D), TOL);
        free(o), free(ref);
    }
    for (int i = 0; i < nk; i++) cudaFree(keep[i]);
    free(img), free(logits);
    mxb_ctx_free(ctx);
    mxb_model_free(m);
}

#endif

/* ---- whole forwards ------------------------------------------------------------------ */

static void forward_check(const char *name, mxb_model *m, int B) {
    char err[512], what[128];
    const mxb_config *c = mxb_model_config(m);
    const size_t img = (size_t)c->in_chans * c->img_size * c->img_size, C = (size_t)c->num_classes;
    float *x = rand_buf((size_t)B * img, 2.0f), *cpu = malloc(sizeof(float) * B * C);
    float *gpu = malloc(sizeof(float) * B * C), *again = malloc(sizeof(float) * B * C);
    mxb_ctx *ctx = mxb_ctx_new(m, MXB_TRACE_NONE);
    for (int b = 0; b < B; b++) mxb_forward(ctx, x + b * img, cpu + b * C);
    mxb_gpu *g;
    if (mxb_gpu_new(m, 0, B, &g, err, sizeof err) || mxb_gpu_forward(g, x, B, gpu, err, sizeof err) ||
        mxb_gpu_forward(g, x, B, again, err, sizeof err)) {
        printf("%s: %s FAIL\n", name, err);
        failures++;
    } else {
        double r = 0;
        for (int b = 0; b < B; b++) {
            const double rb = rel_diff(gpu + b * C, cpu + b * C, C);
            r = rb > r || rb != rb ? rb : r;
        }
        snprintf(what, sizeof what, "forward %s (%d images, logits)", name, B);
        report(what, r, TOL);
        if (memcmp(gpu, again, sizeof(float) * B * C)) {
            printf("forward %s: a second run gave other bits FAIL\n", name);
            failures++;
        }
        /* the batch's first image alone: the same bits as in the batch is not promised
         * (cuBLAS may pick another kernel for other sizes), the tolerance is */
        if (!mxb_gpu_forward(g, x, 1, again, err, sizeof err)) {
            snprintf(what, sizeof what, "forward %s (batch of 1)", name);
            report(what, rel_diff(again, cpu, C), TOL);
        }
    }
    mxb_gpu_free(g);
    mxb_ctx_free(ctx);
    free(x), free(cpu), free(gpu), free(again);
}

static void forward_file(const char *path, int B) {
    char err[512];
    mxb_model *m;
    if (mxb_model_load(path, &m, err, sizeof err)) {
        printf("%s FAIL\n", err);
        failures++;
        return;
    }
    const char *base = strrchr(path, '/');
    forward_check(base ? base + 1 : path, m, B);
    mxb_model_free(m);
}

static mxb_model *preset(const char *name) {
    char err[512];
    mxb_config cfg = mxb_config_preset(name);
    mxb_model *m;
    if (mxb_model_new(&cfg, &m, err, sizeof err)) {
        fprintf(stderr, "test_gpu: %s: %s\n", name, err);
        exit(1);
    }
    mxb_model_randomize(m, 1234);
    return m;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* images/s of batched forwards: the median of 5 timed batches after 2 warm-ups */
static void bench(const char *name, int B) {
    char err[512];
    mxb_model *m = preset(name);
    const mxb_config *c = mxb_model_config(m);
    const size_t img = (size_t)c->in_chans * c->img_size * c->img_size;
    float *x = rand_buf((size_t)B * img, 2.0f), *lg = malloc(sizeof(float) * B * c->num_classes);
    mxb_gpu *g;
    if (mxb_gpu_new(m, 0, B, &g, err, sizeof err)) {
        printf("bench %s: %s\n", name, err);
        exit(1);
    }
    double t[5];
    for (int r = -2; r < 5; r++) {
        const double t0 = now_s();
        if (mxb_gpu_forward(g, x, B, lg, err, sizeof err)) {
            printf("bench %s: %s\n", name, err);
            exit(1);
        }
        if (r >= 0) t[r] = now_s() - t0;
    }
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            if (t[j] < t[i]) {
                const double s = t[i];
                t[i] = t[j], t[j] = s;
            }
    printf("bench %s batch %d: %.1f ms a batch, %.0f images/s (FP32, TF32 off, host copies included)\n", name, B,
           t[2] * 1e3, B / t[2]);
    mxb_gpu_free(g);
    mxb_model_free(m);
    free(x), free(lg);
}

int main(int argc, char **argv) {
    char err[512], name[256];
    if (!mxb_gpu_build()) {
        printf("test_gpu: SKIP: built without CUDA\n");
        return 77;
    }
    const int n = mxb_gpu_count(err, sizeof err);
    if (!n) {
        printf("test_gpu: SKIP: %s\n", err);
        return 77;
    }
    mxb_gpu_name(0, name, sizeof name);
    printf("test_gpu: %s; GPU 0 of %d: %s\n", mxb_gpu_build(), n, name);
    if (argc > 3 && !strcmp(argv[1], "--once")) { /* one batched forward, for a profiler (ncu) */
        mxb_model *m = preset(argv[2]);
        const mxb_config *c = mxb_model_config(m);
        const int B = atoi(argv[3]);
        float *x = rand_buf((size_t)B * c->in_chans * c->img_size * c->img_size, 2.0f);
        float *lg = malloc(sizeof(float) * B * c->num_classes);
        mxb_gpu *g = NULL;
        const int rc = mxb_gpu_new(m, 0, B, &g, err, sizeof err) || mxb_gpu_forward(g, x, B, lg, err, sizeof err);
        if (rc) printf("test_gpu --once: %s\n", err);
        mxb_gpu_free(g);
        mxb_model_free(m);
        free(x), free(lg);
        return rc;
    }
    if (argc > 1 && !strcmp(argv[1], "--bench")) {
        const int B = argc > 2 ? atoi(argv[2]) : 64;
        bench("deit-s", B);
        bench("vim-s", B);
        return 0;
    }
    const char *src = mxb_test_env("MXB_SOURCE_DIR");
    char p[4096];
#ifdef MXB_CUDA
    ops_norms();
    ops_pointwise();
    snprintf(p, sizeof p, "%s/models/demo_vim.h5", src);
    ops_mamba(p);
#endif
    const char *files[] = {"models/demo_vit.h5", "models/demo_vim.h5", "tests/fuzz/templates/weights_vit.h5",
                           "tests/fuzz/templates/weights_vim.h5"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", src, files[i]);
        forward_file(p, 5);
    }
    const char *presets[] = {"deit-s", "vim-s"};
    for (int i = 0; i < 2; i++) {
        mxb_model *m = preset(presets[i]);
        forward_check(presets[i], m, 3);
        mxb_model_free(m);
    }
    printf("test_gpu: %s\n", failures ? "FAILED" : "all within 1e-5");
    return failures ? 1 : 0;
}
