/* Mamba hidden attention (Ali et al. 2024) from the S6 quantities of a traced layer:
 *   α[c,i,j] = Σ_n C[i,n] (Π_{k=j+1..i} exp(Δ_k[c] A[c,n])) Δ_j[c] B[j,n],  j <= i.
 * Only O(D·L·N) CLS-row vectors here; no D×L×L temporaries. */
#include "engine/internal.h"
#include "engine/simd.h"
#include "io/io.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Kernels run over blocks of SCAN_CB channels with the channel as the vector lane
 * (as the scan does): every lane follows the same product recursion. */

static const float *layer_At(const mxb_ctx *c, int layer, int dir) {
    return c->m->layers[layer].dir[dir].At;
}

/* CLS row of one direction, in that direction's token order, into v [D, L]
 * (positions < cls only, or also cls itself):
 *   official: Σ_n C[cls,n] Π_{k=t+1..cls-1} Ā[k] B̄[t]  for t < cls — the product
 *             stops at cls-1 and v[cls] stays 0 (compute_middle_attn_vector);
 *   exact:    Σ_n C[cls,n] Π_{k=t+1..cls} Ā[k] B̄[t]    for t <= cls. */
static void cls_row(const mxb_s6_view *s, const float *At, int cls, int exact, float *v) {
    const int L = s->L, D = s->D, N = s->N, Dp = SCAN_PADDED(D);
    const float *Ccls = s->C + (size_t)cls * s->bc_stride;
#pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < D; c0 += SCAN_CB) {
        const int cw = D - c0 < SCAN_CB ? D - c0 : SCAN_CB;
        vf16 P[64], An[64];
        float out[SCAN_CB];
        for (int n = 0; n < N; n++) An[n] = vf16_load(At + (size_t)n * Dp + c0);
        const vf16 dtc = vf16_load_part(s->delta + (size_t)cls * D + c0, cw);
        for (int n = 0; n < N; n++) P[n] = exact ? vf16_exp(dtc * An[n]) : vf16_splat(1.0f);
        if (exact) { /* the diagonal: Ā product is empty */
            const float *Bt = s->B + (size_t)cls * s->bc_stride;
            vf16 acc = {0};
            for (int n = 0; n < N; n++) acc += Ccls[n] * dtc * Bt[n];
            vf16_store(out, acc);
            for (int l = 0; l < cw; l++) v[(size_t)(c0 + l) * L + cls] = out[l];
        }
        for (int t = cls - 1; t >= 0; t--) {
            const vf16 dt = vf16_load_part(s->delta + (size_t)t * D + c0, cw);
            const float *Bt = s->B + (size_t)t * s->bc_stride;
            vf16 acc = {0};
            for (int n = 0; n < N; n++) acc += Ccls[n] * P[n] * dt * Bt[n];
            vf16_store(out, acc);
            for (int l = 0; l < cw; l++) v[(size_t)(c0 + l) * L + t] = out[l];
            for (int n = 0; n < N; n++) P[n] *= vf16_exp(dt * An[n]); /* Ā[t] joins for t-1 */
        }
    }
}

/* ---- UIA (Zimerman et al.; docs/METHODS-v2.md 3.2) ---------------------------- */

enum { UIA_ABLATIONS = MXB_VARIANT_UIA_NO_CONV | MXB_VARIANT_UIA_NO_GATE | MXB_VARIANT_UIA_NO_ACT };

/* 0 official, 1 exact, 2 UIA (any ablation bits), -1 not a form */
static int variant_form(int variant) {
    if (variant == MXB_VARIANT_OFFICIAL || variant == MXB_VARIANT_EXACT) return variant;
    return (variant & ~UIA_ABLATIONS) == MXB_VARIANT_UIA ? 2 : -1;
}

/* One row of α (row i, its direction's order, columns j <= i; zero after) of channel
 * ch becomes UIA's row, in place: ⊙σ(u[j]) (MambaInnerFnNoOutProj's temp), the causal
 * conv's transpose conv2[s] = Σ_m w[K-1-m]·temp[s+m] (F.conv1d(temp, flip(w),
 * padding=4)[..., 4:L+4]; ascending s reads only temp[>= s], so in place is exact),
 * then ×SiLU(z[i]). */
static void uia_row(const mxb_s6_view *s, int i, int ch, int variant, float *row) {
    const int L = s->L, K = s->K;
    if (!(variant & MXB_VARIANT_UIA_NO_ACT))
        for (int j = 0; j <= i; j++) {
            const float u = s->u[(size_t)j * s->D + ch];
            row[j] *= 1.0f / (1.0f + expf(-u));
        }
    if (!(variant & MXB_VARIANT_UIA_NO_CONV)) {
        const float *w = s->conv_w + (size_t)ch * K;
        for (int t = 0; t < L; t++) {
            float acc = 0;
            for (int m = 0; m < K && t + m < L; m++) acc += w[K - 1 - m] * row[t + m];
            row[t] = acc;
        }
    }
    if (!(variant & MXB_VARIANT_UIA_NO_GATE)) {
        const float z = s->z[(size_t)i * s->xz_stride + ch], g = z / (1.0f + expf(-z));
        for (int t = 0; t < L; t++) row[t] *= g;
    }
}

int mxb_vim_uia_matrix(const mxb_ctx *c, int layer, int dir, int c0, int c1, mxb_variant variant,
                       float *out) {
    mxb_s6_view s;
    if (variant_form(variant) != 2 || mxb_vim_s6(c, layer, dir, &s) ||
        mxb_vim_hidden_attn(c, layer, dir, c0, c1, out))
        return -1;
    const int L = s.L;
#pragma omp parallel for schedule(static)
    for (int ch = c0; ch < c1; ch++)
        for (int i = 0; i < L; i++) uia_row(&s, i, ch, (int)variant, out + ((size_t)(ch - c0) * L + i) * L);
    return 0;
}

static void flip_both_axes(float *m, int L) {
    for (size_t k = 0, n = (size_t)L * L; k < n / 2; k++) {
        const float t = m[k];
        m[k] = m[n - 1 - k];
        m[n - 1 - k] = t;
    }
}

int mxb_vim_uia_matrix_mean(const mxb_ctx *c, int layer, int dir, int image_order, mxb_variant variant,
                            float *out) {
    mxb_s6_view s;
    if (variant_form(variant) != 2 || mxb_vim_s6(c, layer, dir, &s)) return -1;
    const int L = s.L, D = s.D, chunk = SCAN_CB;
    /* chunks of channels, summed channel after channel: the same bits whatever the
     * thread count (mxb_vim_uia_matrix parallelises inside a chunk) */
    float *part = mxb_try_alloc((size_t)chunk * L * L * sizeof *part);
    if (!part) return -1;
    memset(out, 0, (size_t)L * L * sizeof *out);
    int rc = 0;
    for (int c0 = 0; c0 < D && !rc; c0 += chunk) {
        const int c1 = c0 + chunk < D ? c0 + chunk : D;
        rc = mxb_vim_uia_matrix(c, layer, dir, c0, c1, variant, part);
        for (int ch = 0; ch < c1 - c0 && !rc; ch++)
            for (size_t k = 0; k < (size_t)L * L; k++) out[k] += part[(size_t)ch * L * L + k];
    }
    free(part);
    for (size_t k = 0; k < (size_t)L * L; k++) out[k] /= (float)D;
    if (image_order && dir == 1) flip_both_axes(out, L); /* element (i,j) <-> (L-1-i, L-1-j) */
    return rc;
}

int mxb_vim_xai_vector(mxb_ctx *c, int layer, mxb_variant variant, float *out) {
    mxb_s6_view f, b;
    const int form = variant_form((int)variant);
    if (form < 0 || mxb_vim_s6(c, layer, 0, &f) || mxb_vim_s6(c, layer, 1, &b)) return -1;
    const int L = f.L, D = f.D, cls = c->m->cfg.cls_pos;
    const int exact = form >= 1; /* UIA starts from the exact row (ssi.py:804-826) */
    float *tmp = c->vim.sum; /* [D, L], free outside forward/backward (mxb_vim_layout) */
    memset(out, 0, (size_t)D * L * sizeof(float));
    cls_row(&f, layer_At(c, layer, 0), cls, exact, out);
    /* the backward branch runs on the flipped sequence: its class token sits at
     * L-1-cls (the original hard-codes 98 for both, right only for L = 197) */
    memset(tmp, 0, (size_t)D * L * sizeof(float));
    cls_row(&b, layer_At(c, layer, 1), L - 1 - cls, exact, tmp);
    if (form == 2) {
#pragma omp parallel for schedule(static) /* each channel alone: any split, same bits */
        for (int ch = 0; ch < D; ch++) {
            uia_row(&f, cls, ch, (int)variant, out + (size_t)ch * L);
            uia_row(&b, L - 1 - cls, ch, (int)variant, tmp + (size_t)ch * L);
        }
    }
    for (int ch = 0; ch < D; ch++) {
        float *o = out + (size_t)ch * L;
        const float *t = tmp + (size_t)ch * L;
        for (int j = cls + 1; j < L; j++) o[j] = t[L - 1 - j];
        if (exact) o[cls] += t[L - 1 - cls]; /* both branches see the class token */
    }
    return 0;
}

/* Ā = exp(Δ A) and B̄ = Δ B of one block of channels: abar, bbar [L, N] */
static void block_factors(const mxb_s6_view *s, const float *At, int c0, vf16 *abar, vf16 *bbar) {
    const int L = s->L, D = s->D, N = s->N, Dp = SCAN_PADDED(D);
    const int cw = D - c0 < SCAN_CB ? D - c0 : SCAN_CB;
    for (int t = 0; t < L; t++) {
        const vf16 dt = vf16_load_part(s->delta + (size_t)t * D + c0, cw);
        const float *Bt = s->B + (size_t)t * s->bc_stride;
        for (int n = 0; n < N; n++) {
            abar[(size_t)t * N + n] = vf16_exp(dt * vf16_load(At + (size_t)n * Dp + c0));
            bbar[(size_t)t * N + n] = dt * Bt[n];
        }
    }
}

/* Row i of the block's matrices, walking from the diagonal leftwards so the Ā
 * product grows by one factor per step: α[i,j] = Σ_n C[i,n] P_n B̄[j,n], P_n =
 * Π_{k=j+1..i} Ā[k,n]. row[j] for j <= i, one lane per channel. Four partial sums
 * over n hide the FMA latency. */
static void block_row(const mxb_s6_view *s, const vf16 *abar, const vf16 *bbar, int i, vf16 *row) {
    const int N = s->N;
    const float *Ci = s->C + (size_t)i * s->bc_stride;
    vf16 P[64];
    for (int n = 0; n < N; n++) P[n] = vf16_splat(Ci[n]);
    for (int j = i; j >= 0; j--) {
        const vf16 *bj = bbar + (size_t)j * N, *aj = abar + (size_t)j * N;
        vf16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        int n = 0;
        for (; n + 4 <= N; n += 4) {
            a0 += P[n] * bj[n];
            a1 += P[n + 1] * bj[n + 1];
            a2 += P[n + 2] * bj[n + 2];
            a3 += P[n + 3] * bj[n + 3];
        }
        for (; n < N; n++) a0 += P[n] * bj[n];
        row[j] = (a0 + a1) + (a2 + a3);
        for (n = 0; n < N; n++) P[n] *= aj[n]; /* Ā[j] joins for column j-1 */
    }
}

/* One thread's buffers for a block of channels: Ā, B̄ [L, N] and one row [L], in one
 * allocation per call and thread. Not in the context's arena: how many there are is
 * the thread count of the call. A failed allocation is this call's -1. */
typedef struct {
    void *raw;
    vf16 *abar, *bbar, *row;
} block_scratch;

static void block_scratch_free(block_scratch *w) {
    free(w->raw);
    *w = (block_scratch){0};
}

static int block_scratch_alloc(block_scratch *w, int L, int N) {
    const size_t n = (size_t)L * N;
    *w = (block_scratch){.raw = mxb_try_alloc((2 * n + (size_t)L) * sizeof(vf16) + 63)};
    if (!w->raw) return -1;
    w->abar = (vf16 *)(((uintptr_t)w->raw + 63) & ~(uintptr_t)63); /* vf16 loads are aligned */
    w->bbar = w->abar + n;
    w->row = w->bbar + n;
    return 0;
}

#if defined(__SSE__)
#include <xmmintrin.h>
/* The Ā products underflow; denormals would slow the kernel by orders of magnitude
 * for values that are 0 to every digit that matters. */
#define FLUSH_DENORMALS() const unsigned saved_csr = _mm_getcsr(); _mm_setcsr(saved_csr | 0x8040)
#define RESTORE_DENORMALS() _mm_setcsr(saved_csr)
#else
#define FLUSH_DENORMALS() ((void)0)
#define RESTORE_DENORMALS() ((void)0)
#endif

int mxb_vim_hidden_attn(const mxb_ctx *c, int layer, int dir, int c0, int c1, float *out) {
    mxb_s6_view s;
    if (mxb_vim_s6(c, layer, dir, &s) || c0 < 0 || c1 > s.D || c0 >= c1) return -1;
    const int L = s.L, N = s.N;
    const float *At = layer_At(c, layer, dir);
    const int b0 = c0 / SCAN_CB, b1 = (c1 + SCAN_CB - 1) / SCAN_CB;
    int failed = 0;
#pragma omp parallel
    {
        FLUSH_DENORMALS();
        block_scratch w;
        if (block_scratch_alloc(&w, L, N)) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int b = b0; b < b1; b++) {
            if (!w.row) continue;
            block_factors(&s, At, b * SCAN_CB, w.abar, w.bbar);
            const int lo = b * SCAN_CB > c0 ? b * SCAN_CB : c0;
            const int hi = (b + 1) * SCAN_CB < c1 ? (b + 1) * SCAN_CB : c1;
            for (int i = 0; i < L; i++) {
                block_row(&s, w.abar, w.bbar, i, w.row);
                for (int ch = lo; ch < hi; ch++) {
                    float *dst = out + ((size_t)(ch - c0) * L + i) * L;
                    for (int j = 0; j <= i; j++) dst[j] = w.row[j][ch - b * SCAN_CB];
                    for (int j = i + 1; j < L; j++) dst[j] = 0;
                }
            }
        }
        block_scratch_free(&w);
        RESTORE_DENORMALS();
    }
    return failed ? -1 : 0;
}

size_t mxb_vim_attn_mean_scratch_bytes(int L, int d_inner, int d_state, int nthreads) {
    const size_t LL = (size_t)L * L * sizeof(float);
    const size_t nblk = (size_t)(d_inner + SCAN_CB - 1) / SCAN_CB;
    const size_t hidden = nblk * LL + (size_t)(nthreads > 0 ? nthreads : 1) *
                                          ((2 * (size_t)L * d_state + (size_t)L) * sizeof(vf16) + 63);
    const size_t uia = (size_t)SCAN_CB * LL; /* mxb_vim_uia_matrix_mean's chunk */
    return hidden > uia ? hidden : uia;
}

int mxb_vim_hidden_attn_mean(const mxb_ctx *c, int layer, int dir, int image_order, float *out) {
    mxb_s6_view s;
    if (mxb_vim_s6(c, layer, dir, &s)) return -1;
    const int L = s.L, N = s.N, D = s.D;
    const float *At = layer_At(c, layer, dir);
    /* Each block of channels sums its lanes in a fixed order into its own partial
     * matrix; the blocks are added in order: the same bits whatever the thread
     * count or schedule. */
    const int nblk = (D + SCAN_CB - 1) / SCAN_CB;
    float *part = mxb_try_alloc0((size_t)nblk * L * L, sizeof(float));
    if (!part) return -1;
    int failed = 0;
#pragma omp parallel
    {
        FLUSH_DENORMALS();
        block_scratch w;
        if (block_scratch_alloc(&w, L, N)) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int b = 0; b < nblk; b++) {
            if (!w.row) continue;
            block_factors(&s, At, b * SCAN_CB, w.abar, w.bbar); /* lanes past D: B̄ = 0 */
            for (int i = 0; i < L; i++) {
                block_row(&s, w.abar, w.bbar, i, w.row);
                float *dst = part + ((size_t)b * L + i) * L;
                for (int j = 0; j <= i; j++) dst[j] = vf16_sum(w.row[j]) / (float)D;
            }
        }
        block_scratch_free(&w);
        RESTORE_DENORMALS();
    }
    memset(out, 0, (size_t)L * L * sizeof(float));
    for (int b = 0; b < nblk; b++)
        for (size_t k = 0; k < (size_t)L * L; k++) out[k] += part[(size_t)b * L * L + k];
    free(part);
    if (failed) return -1;
    if (image_order && dir == 1) /* the backward branch's matrix, flipped on both axes */
        for (int i = 0; i < L; i++)
            for (int j = 0; j < L; j++)
                if ((size_t)i * L + j < (size_t)(L - 1 - i) * L + (L - 1 - j)) {
                    float *a = out + (size_t)i * L + j, *b = out + (size_t)(L - 1 - i) * L + (L - 1 - j);
                    float t = *a;
                    *a = *b;
                    *b = t;
                }
    return 0;
}
