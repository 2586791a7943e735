/* The GPU backend (CMake MXB_CUDA): a model's parameters in device memory, copied in
 * one piece so every parameter sits at the offset engine/params.c gave it, and the
 * batched plain forwards of both families on them — cuBLAS for the matrix products
 * (FP32, TF32 off), engine/cuda/'s kernels for the rest. The CPU engine is the
 * reference: each step below is the CPU's step of engine/vit.c or engine/vim.c for a
 * batch of images at once, in the same order, so the two differ only where a product
 * sums in another order (tests/test_gpu.c measures by how much).
 *
 * Built without CUDA, the same functions exist and say so in one line: a caller never
 * needs to know how mxb was built to refuse a device it cannot use. */
#include "engine/internal.h"
#include "io/io.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MXB_CUDA

const char *mxb_gpu_build(void) { return NULL; }

int mxb_gpu_count(char *err, size_t errlen) {
    mxb_seterr(err, errlen, "this mxb was built without CUDA (cmake -DMXB_CUDA=OFF, or no nvcc and cuBLAS found)");
    return 0;
}

int mxb_gpu_name(int device, char *buf, size_t n) {
    (void)device;
    if (n) buf[0] = '\0';
    return -1;
}

int mxb_gpu_new(const mxb_model *m, int device, int max_batch, mxb_gpu **out, char *err, size_t errlen) {
    (void)m, (void)device, (void)max_batch;
    *out = NULL;
    mxb_gpu_count(err, errlen);
    return -1;
}

int mxb_gpu_forward(mxb_gpu *g, const float *images, int n, float *logits, char *err, size_t errlen) {
    (void)g, (void)images, (void)n, (void)logits;
    mxb_gpu_count(err, errlen);
    return -1;
}

int mxb_gpu_max_batch(const mxb_gpu *g) {
    (void)g;
    return 0;
}

void mxb_gpu_free(mxb_gpu *g) { (void)g; }

#else

#define STR2(x) #x
#define STR(x) STR2(x)

#include "engine/cuda/kernels.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <pthread.h>

/* cuBLAS is opened when a model first goes to a GPU, not linked: libcublasLt alone is
 * 540 MB, and loading it made every mxb command 0.2 s slower to start (a CPU-only run,
 * a test script's hundreds of calls). The functions the forwards use, with the
 * header's own types: */
static struct {
    __typeof__(cublasCreate_v2) *create;
    __typeof__(cublasDestroy_v2) *destroy;
    __typeof__(cublasSetStream_v2) *set_stream;
    __typeof__(cublasSetMathMode) *set_math_mode;
    __typeof__(cublasSgemm_v2) *sgemm;
    __typeof__(cublasSgemmBatched) *sgemm_batched;
    __typeof__(cublasGetStatusString) *status_string;
    char err[256];
} cb;

static void blas_open(void) {
    static const char *lib = "libcublas.so." STR(CUBLAS_VER_MAJOR);
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(cb.err, sizeof cb.err, "cannot load cuBLAS (%s): %s (the CUDA toolkit's lib64 folder or pip's "
                 "nvidia-cublas in LD_LIBRARY_PATH?)", lib, dlerror());
        return;
    }
    /* POSIX's way from a dlsym result to a function pointer */
    *(void **)&cb.create = dlsym(h, "cublasCreate_v2");
    *(void **)&cb.destroy = dlsym(h, "cublasDestroy_v2");
    *(void **)&cb.set_stream = dlsym(h, "cublasSetStream_v2");
    *(void **)&cb.set_math_mode = dlsym(h, "cublasSetMathMode");
    *(void **)&cb.sgemm = dlsym(h, "cublasSgemm_v2");
    *(void **)&cb.sgemm_batched = dlsym(h, "cublasSgemmBatched");
    *(void **)&cb.status_string = dlsym(h, "cublasGetStatusString");
    if (!cb.create || !cb.destroy || !cb.set_stream || !cb.set_math_mode || !cb.sgemm || !cb.sgemm_batched ||
        !cb.status_string) {
        snprintf(cb.err, sizeof cb.err, "%s lacks a function mxb calls (not cuBLAS %d?)", lib, CUBLAS_VER_MAJOR);
        cb.create = NULL;
    }
}

/* 0 when cuBLAS is there (opened once, by whichever thread comes first) */
static int blas_ready(char *err, size_t errlen) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, blas_open);
    if (cb.create) return 0;
    mxb_seterr(err, errlen, "%s", cb.err);
    return -1;
}

const char *mxb_gpu_build(void) {
    return "CUDA " STR(MXB_CUDA_VERSION) ", cuBLAS, sm_" STR(MXB_CUDA_ARCH);
}

int mxb_gpu_count(char *err, size_t errlen) {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n <= 0) {
        mxb_seterr(err, errlen, "no CUDA GPU visible (%s)",
                   e != cudaSuccess ? cudaGetErrorString(e) : "the driver shows none");
        return 0;
    }
    return n;
}

int mxb_gpu_name(int device, char *buf, size_t n) {
    struct cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, device) != cudaSuccess) {
        if (n) buf[0] = '\0';
        return -1;
    }
    snprintf(buf, n, "%s (sm_%d%d, %.0f GiB)", p.name, p.major, p.minor, p.totalGlobalMem / 1073741824.0);
    return 0;
}

/* ---- the batch's device buffers: one walk sizes them, a second places them ---------- */

typedef struct {
    float *img;      /* [B, C, S, S] */
    float *patches;  /* [B·M, C·P·P] */
    float *pe;       /* [B·M, E] the patch products */
    float *x;        /* [B, L, E] the stream (ViT) / the embedded tokens (ViM) */
    float *ln;       /* [B, L, E] a norm's output */
    float *cls, *clsn; /* [B, E] the class token before and after the final norm */
    float *logits;   /* [B, classes] */
    /* ViT */
    float *qkv;      /* [B, L, 3E] */
    float *att;      /* [B, H, L, L] */
    float *ctx;      /* [B, L, E] */
    float *mid;      /* [B, L, E] */
    float *fc1, *act; /* [B, L, F] */
    const float **ap; /* the attention products' pointer arrays: Q, K, S, V, ctx, B·H each */
    /* ViM */
    float *res, *hidden; /* [B, L, E] */
    float *xz[2];    /* [B, L, 2Di] per direction, in its own token order */
    float *u[2], *dpre[2], *delta[2], *out[2]; /* [B, L, Di] */
    float *xdbl[2];  /* [B, L, R + 2N] */
    float *sum;      /* [B, L, Di] */
} gpu_bufs;

static void gpu_layout(const mxb_config *g, size_t B, mxb_carver *cv, gpu_bufs *b) {
    const size_t L = (size_t)g->seq_len, E = (size_t)g->embed_dim, M = (size_t)g->num_patches;
    const size_t K = (size_t)g->in_chans * g->patch_size * g->patch_size;
    memset(b, 0, sizeof *b);
    b->img = mxb_carve(cv, B * g->in_chans * (size_t)g->img_size * g->img_size);
    b->patches = mxb_carve(cv, B * M * K);
    b->pe = mxb_carve(cv, B * M * E);
    b->x = mxb_carve(cv, B * L * E);
    b->ln = mxb_carve(cv, B * L * E);
    b->cls = mxb_carve(cv, B * E);
    b->clsn = mxb_carve(cv, B * E);
    b->logits = mxb_carve(cv, B * g->num_classes);
    if (g->arch == MXB_ARCH_VIT) {
        const size_t H = (size_t)g->num_heads, F = (size_t)g->mlp_hidden;
        b->qkv = mxb_carve(cv, B * L * 3 * E);
        b->att = mxb_carve(cv, B * H * L * L);
        b->ctx = mxb_carve(cv, B * L * E);
        b->mid = mxb_carve(cv, B * L * E);
        b->fc1 = mxb_carve(cv, B * L * F);
        b->act = mxb_carve(cv, B * L * F);
        b->ap = mxb_carve_bytes(cv, 5 * B * H * sizeof(float *));
    } else {
        const size_t Di = (size_t)g->d_inner, X = (size_t)g->dt_rank + 2 * (size_t)g->d_state;
        b->res = mxb_carve(cv, B * L * E);
        b->hidden = mxb_carve(cv, B * L * E);
        for (int d = 0; d < 2; d++) {
            b->xz[d] = mxb_carve(cv, B * L * 2 * Di);
            b->u[d] = mxb_carve(cv, B * L * Di);
            b->xdbl[d] = mxb_carve(cv, B * L * X);
            b->dpre[d] = mxb_carve(cv, B * L * Di);
            b->delta[d] = mxb_carve(cv, B * L * Di);
            b->out[d] = mxb_carve(cv, B * L * Di);
        }
        b->sum = mxb_carve(cv, B * L * Di);
    }
}

struct mxb_gpu {
    const mxb_model *m;
    int device, max_batch;
    float *params, *derived; /* the model's data and derived tables, as on the host */
    void *arena;
    gpu_bufs b;
    cudaStream_t stream;
    cublasHandle_t blas;
    int failed;              /* the first failure of a forward, its message in msg */
    char msg[256];
    /* One forward at a time: the batch's buffers, the stream and the failure state are
     * the context's own, so callers on several threads (mxb run's images in flight
     * sharing one model's parameters on the device) take turns; a second context per
     * thread would cost a second copy of the parameters, and one stream's work runs in
     * order anyway. */
    pthread_mutex_t lock;
};

/* a host parameter pointer's twin on the device: the same offset in the same layout */
static const float *dev(const mxb_gpu *g, const float *host) {
    if (!host) return NULL;
    const mxb_model *m = g->m;
    if (m->derived && host >= m->derived && host < m->derived + mxb_params_derived_floats(&m->cfg))
        return g->derived + (host - m->derived);
    return g->params + (host - m->data);
}

static int cuda_ok(mxb_gpu *g, cudaError_t e, const char *what) {
    if (e == cudaSuccess || g->failed) return !g->failed;
    g->failed = 1;
    snprintf(g->msg, sizeof g->msg, "GPU %d: %s: %s", g->device, what, cudaGetErrorString(e));
    return 0;
}

static void blas_ok(mxb_gpu *g, cublasStatus_t s, const char *what) {
    if (s == CUBLAS_STATUS_SUCCESS || g->failed) return;
    g->failed = 1;
    snprintf(g->msg, sizeof g->msg, "GPU %d: cuBLAS %s: %s", g->device, what, cb.status_string(s));
}

/* C = alpha op(A) op(B) + beta C, row-major (engine/ops.c mxb_sgemm_rm): cuBLAS is
 * column-major, and a row-major C is a column-major C^T = op(B)^T op(A)^T */
static void gemm(mxb_gpu *g, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc) {
    blas_ok(g, cb.sgemm(g->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K,
                           &alpha, B, ldb, A, lda, &beta, C, ldc), "sgemm");
}

/* y[rows, out] = x[rows, in] W[out, in]^T (+ beta y) + b: nn.Linear as ops.c has it */
static void linear(mxb_gpu *g, float *y, const float *x, const float *W, const float *b, int rows, int in,
                   int out, float beta) {
    gemm(g, 0, 1, rows, out, in, 1.0f, x, in, dev(g, W), in, beta, y, out);
    if (b) mxb_cu_bias(y, dev(g, b), rows, out, g->stream);
}

void mxb_gpu_free(mxb_gpu *g) {
    if (!g) return;
    if (g->blas) cb.destroy(g->blas);
    if (g->stream) cudaStreamDestroy(g->stream);
    cudaFree(g->arena);
    cudaFree(g->params);
    cudaFree(g->derived);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

int mxb_gpu_max_batch(const mxb_gpu *g) { return g->max_batch; }

int mxb_gpu_new(const mxb_model *m, int device, int max_batch, mxb_gpu **out, char *err, size_t errlen) {
    *out = NULL;
    const mxb_config *c = &m->cfg;
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || device < 0 || device >= count) {
        mxb_seterr(err, errlen, "no CUDA GPU %d (the driver shows %d)", device, count);
        return -1;
    }
    if (max_batch < 1 || max_batch > 65535) {
        mxb_seterr(err, errlen, "a GPU batch of %d images is outside 1..65535", max_batch);
        return -1;
    }
    if (blas_ready(err, errlen)) return -1;
    mxb_gpu *g = mxb_alloc0(1, sizeof *g, "a GPU model");
    g->m = m;
    g->device = device;
    g->max_batch = max_batch;
    pthread_mutex_init(&g->lock, NULL);
    const size_t np = mxb_params_floats(m), nd = mxb_params_derived_floats(c);
    mxb_carver cv = {0};
    gpu_layout(c, (size_t)max_batch, &cv, &g->b);
    const size_t arena = cv.used;
    if (cuda_ok(g, cudaSetDevice(device), "select") && cuda_ok(g, cudaStreamCreate(&g->stream), "stream") &&
        cuda_ok(g, cudaMalloc((void **)&g->params, np * sizeof(float)), "parameters") &&
        cuda_ok(g, cudaMemcpy(g->params, m->data, np * sizeof(float), cudaMemcpyHostToDevice), "parameters") &&
        (!nd || (cuda_ok(g, cudaMalloc((void **)&g->derived, nd * sizeof(float)), "derived tables") &&
                 cuda_ok(g, cudaMemcpy(g->derived, m->derived, nd * sizeof(float), cudaMemcpyHostToDevice),
                         "derived tables"))) &&
        cuda_ok(g, cudaMalloc(&g->arena, arena + 63), "the batch's buffers")) {
        cv = (mxb_carver){(char *)(((uintptr_t)g->arena + 63) & ~(uintptr_t)63), 0};
        gpu_layout(c, (size_t)max_batch, &cv, &g->b);
        blas_ok(g, cb.create(&g->blas), "create");
        /* FP32 products: no TF32 (CUBLAS_DEFAULT_MATH never picks tensor-op math for
         * sgemm), so the GPU computes what the CPU does up to summation order */
        if (!g->failed) blas_ok(g, cb.set_math_mode(g->blas, CUBLAS_DEFAULT_MATH), "math mode");
        if (!g->failed) blas_ok(g, cb.set_stream(g->blas, g->stream), "stream");
    }
    /* the attention products' operands per image and head, fixed for the context */
    if (!g->failed && c->arch == MXB_ARCH_VIT) {
        const size_t L = (size_t)c->seq_len, E = (size_t)c->embed_dim, H = (size_t)c->num_heads, hd = E / H;
        const size_t BH = (size_t)max_batch * H;
        const float **p = mxb_alloc0(5 * BH, sizeof *p, "the attention pointer arrays");
        for (size_t b = 0; b < (size_t)max_batch; b++)
            for (size_t h = 0; h < H; h++) {
                const size_t i = b * H + h;
                const float *qkv = g->b.qkv + b * L * 3 * E;
                p[i] = qkv + h * hd;                      /* Q */
                p[BH + i] = qkv + E + h * hd;             /* K */
                p[2 * BH + i] = g->b.att + i * L * L;     /* S */
                p[3 * BH + i] = qkv + 2 * E + h * hd;     /* V */
                p[4 * BH + i] = g->b.ctx + b * L * E + h * hd; /* ctx */
            }
        cuda_ok(g, cudaMemcpy((void *)g->b.ap, p, 5 * BH * sizeof *p, cudaMemcpyHostToDevice), "pointer arrays");
        free(p);
    }
    if (g->failed) {
        mxb_seterr(err, errlen, "%s (the model's %zu parameters and a batch of %d images need %.1f MiB)", g->msg,
                   np, max_batch, (np + nd) * 4.0 / 1048576 + arena / 1048576.0);
        mxb_gpu_free(g);
        return -1;
    }
    *out = g;
    return 0;
}

/* ---- the forwards -------------------------------------------------------------------------- */

/* engine/vit.c's mxb_vit_forward for n images */
static void vit_forward(mxb_gpu *g, int n) {
    const mxb_model *m = g->m;
    const mxb_config *c = &m->cfg;
    const gpu_bufs *b = &g->b;
    const int L = c->seq_len, E = c->embed_dim, F = c->mlp_hidden, H = c->num_heads, hd = E / H;
    const int nL = n * L, BH = g->max_batch * H;
    const float scale = 1.0f / sqrtf((float)hd), one = 1.0f, zero = 0.0f;
    const size_t LE = (size_t)nL * E;
    const float **ap = b->ap;
    for (int i = 0; i < c->depth && !g->failed; i++) {
        const vit_block_w *w = &m->blocks[i];
        mxb_cu_layernorm(b->ln, b->x, dev(g, w->ln1_w), dev(g, w->ln1_b), nL, E, E, c->norm_eps, g->stream);
        linear(g, b->qkv, b->ln, w->qkv_w, w->qkv_b, nL, E, 3 * E, 0.0f);
        /* per image and head: S = scale Q K^T, softmax, ctx = S V (row-major, as gemm()) */
        blas_ok(g, cb.sgemm_batched(g->blas, CUBLAS_OP_T, CUBLAS_OP_N, L, L, hd, &scale, ap + BH, 3 * E, ap,
                                      3 * E, &zero, (float *const *)(ap + 2 * BH), L, n * H), "scores");
        mxb_cu_softmax(b->att, n * H * L, L, g->stream);
        blas_ok(g, cb.sgemm_batched(g->blas, CUBLAS_OP_N, CUBLAS_OP_N, hd, L, L, &one, ap + 3 * BH, 3 * E,
                                      ap + 2 * BH, L, &zero, (float *const *)(ap + 4 * BH), E, n * H), "attn @ v");
        cuda_ok(g, cudaMemcpyAsync(b->mid, b->x, LE * sizeof(float), cudaMemcpyDeviceToDevice, g->stream), "copy");
        linear(g, b->mid, b->ctx, w->proj_w, w->proj_b, nL, E, E, 1.0f);
        mxb_cu_layernorm(b->ln, b->mid, dev(g, w->ln2_w), dev(g, w->ln2_b), nL, E, E, c->norm_eps, g->stream);
        linear(g, b->fc1, b->ln, w->fc1_w, w->fc1_b, nL, E, F, 0.0f);
        mxb_cu_gelu(b->act, b->fc1, (size_t)nL * F, g->stream);
        cuda_ok(g, cudaMemcpyAsync(b->x, b->mid, LE * sizeof(float), cudaMemcpyDeviceToDevice, g->stream), "copy");
        linear(g, b->x, b->act, w->fc2_w, w->fc2_b, nL, F, E, 1.0f);
    }
    mxb_cu_gather_cls(b->cls, b->x, NULL, n, L, E, c->cls_pos, g->stream);
    mxb_cu_layernorm(b->clsn, b->cls, dev(g, m->norm_w), dev(g, m->norm_b), n, E, E, c->final_norm_eps, g->stream);
}

/* engine/vim.c's mxb_vim_forward for n images */
static void vim_forward(mxb_gpu *g, int n) {
    const mxb_model *m = g->m;
    const mxb_config *c = &m->cfg;
    const gpu_bufs *b = &g->b;
    const int L = c->seq_len, E = c->embed_dim, Di = c->d_inner, N = c->d_state, R = c->dt_rank;
    const int nL = n * L, X = R + 2 * N;
    for (int i = 0; i < c->depth && !g->failed; i++) {
        const vim_layer_w *w = &m->layers[i];
        /* fused add + norm: the first block takes the embedded tokens */
        if (i == 0)
            cuda_ok(g, cudaMemcpyAsync(b->res, b->x, (size_t)nL * E * sizeof(float), cudaMemcpyDeviceToDevice,
                                       g->stream), "copy");
        else
            mxb_cu_add(b->res, b->hidden, (size_t)nL * E, g->stream);
        mxb_cu_rmsnorm(b->ln, b->res, dev(g, w->norm_w), nL, E, E, c->norm_eps, g->stream);
        linear(g, b->xz[0], b->ln, w->in_proj_w, NULL, nL, E, 2 * Di, 0.0f);
        mxb_cu_flip(b->xz[1], b->xz[0], n, L, 2 * Di, g->stream); /* the backward branch's order */
        mxb_cu_conv_args ca;
        mxb_cu_scan_args sa;
        for (int d = 0; d < 2; d++) {
            const vim_dir_w *dw = &w->dir[d];
            ca.xz[d] = sa.xz[d] = b->xz[d];
            ca.conv_w[d] = dev(g, dw->conv_w);
            ca.conv_b[d] = dev(g, dw->conv_b);
            ca.u[d] = b->u[d];
            sa.u[d] = b->u[d];
            sa.delta[d] = b->delta[d];
            sa.x_dbl[d] = b->xdbl[d];
            sa.A[d] = dev(g, dw->A);
            sa.Dskip[d] = dev(g, dw->D);
            sa.y[d] = NULL;
            sa.out[d] = b->out[d];
        }
        mxb_cu_conv_silu(&ca, n, L, Di, c->d_conv, g->stream);
        for (int d = 0; d < 2; d++) {
            const vim_dir_w *dw = &w->dir[d];
            linear(g, b->xdbl[d], b->u[d], dw->x_proj_w, NULL, nL, Di, X, 0.0f);
            gemm(g, 0, 1, nL, Di, R, 1.0f, b->xdbl[d], X, dev(g, dw->dt_proj_w), R, 0.0f, b->dpre[d], Di);
            mxb_cu_softplus_bias(b->delta[d], b->dpre[d], dev(g, dw->dt_proj_b), nL, Di, g->stream);
        }
        mxb_cu_scan(&sa, n, L, Di, N, R, g->stream);
        mxb_cu_branch_mean(b->sum, b->out[0], b->out[1], n, L, Di, g->stream);
        linear(g, b->hidden, b->sum, w->out_proj_w, NULL, nL, Di, E, 0.0f);
    }
    /* final add + norm_f at the middle class token */
    mxb_cu_gather_cls(b->cls, b->res, b->hidden, n, L, E, c->cls_pos, g->stream);
    mxb_cu_rmsnorm(b->clsn, b->cls, dev(g, m->norm_w), n, E, E, c->final_norm_eps, g->stream);
}

int mxb_gpu_forward(mxb_gpu *g, const float *images, int n, float *logits, char *err, size_t errlen) {
    const mxb_model *m = g->m;
    const mxb_config *c = &m->cfg;
    if (n < 1 || n > g->max_batch) {
        mxb_seterr(err, errlen, "a batch of %d images on a GPU context made for 1..%d", n, g->max_batch);
        return -1;
    }
    const gpu_bufs *b = &g->b;
    const int E = c->embed_dim, M = c->num_patches, K = c->in_chans * c->patch_size * c->patch_size;
    const size_t img = (size_t)c->in_chans * c->img_size * c->img_size;
    pthread_mutex_lock(&g->lock);
    g->failed = 0;
    cuda_ok(g, cudaSetDevice(g->device), "select");
    cuda_ok(g, cudaMemcpyAsync(b->img, images, (size_t)n * img * sizeof(float), cudaMemcpyHostToDevice, g->stream),
            "images in");
    mxb_cu_patchify(b->patches, b->img, n, c->in_chans, c->img_size, c->patch_size, g->stream);
    gemm(g, 0, 1, n * M, E, K, 1.0f, b->patches, K, dev(g, m->patch_w), K, 0.0f, b->pe, E);
    mxb_cu_embed(b->x, b->pe, dev(g, m->patch_b), dev(g, m->cls_token), dev(g, m->pos_embed), n, M, E, c->cls_pos,
                 g->stream);
    if (c->arch == MXB_ARCH_VIT)
        vit_forward(g, n);
    else
        vim_forward(g, n);
    linear(g, b->logits, b->clsn, m->head_w, m->head_b, n, E, c->num_classes, 0.0f);
    const char *k = mxb_cu_last_error();
    if (k && !g->failed) {
        g->failed = 1;
        snprintf(g->msg, sizeof g->msg, "GPU %d: a kernel launch: %s", g->device, k);
    }
    cuda_ok(g, cudaMemcpyAsync(logits, b->logits, (size_t)n * c->num_classes * sizeof(float),
                               cudaMemcpyDeviceToHost, g->stream), "logits out");
    cuda_ok(g, cudaStreamSynchronize(g->stream), "the forward");
    const int failed = g->failed;
    if (failed) mxb_seterr(err, errlen, "%s", g->msg);
    pthread_mutex_unlock(&g->lock);
    return failed ? -1 : 0;
}

#endif
