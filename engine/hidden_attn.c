/* Mamba hidden attention (Ali et al. 2024) from the S6 quantities of a traced layer:
 *   α[c,i,j] = Σ_n C[i,n] (Π_{k=j+1..i} exp(Δ_k[c] A[c,n])) Δ_j[c] B[j,n],  j <= i.
 * Only O(D·L·N) CLS-row vectors here; no D×L×L temporaries. */
#include "engine/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* CLS row of one direction, in that direction's token order, into v [D, L]
 * (positions < cls only, or also cls itself):
 *   official: Σ_n C[cls,n] Π_{k=t+1..cls-1} Ā[k] B̄[t]  for t < cls — the product
 *             stops at cls-1 and v[cls] stays 0 (compute_middle_attn_vector);
 *   exact:    Σ_n C[cls,n] Π_{k=t+1..cls} Ā[k] B̄[t]    for t <= cls. */
static void cls_row(const mxb_s6_view *s, int cls, int exact, float *v) {
    const int L = s->L, D = s->D, N = s->N;
    const float *Ccls = s->C + (size_t)cls * s->bc_stride;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < D; c++) {
        float P[64];
        const float *Ac = s->A + (size_t)c * N;
        float *vc = v + (size_t)c * L;
        for (int n = 0; n < N; n++)
            P[n] = exact ? fast_expf(s->delta[(size_t)cls * D + c] * Ac[n]) : 1.0f;
        if (exact) { /* the diagonal: Ā product is empty */
            const float dt = s->delta[(size_t)cls * D + c];
            const float *Bt = s->B + (size_t)cls * s->bc_stride;
            float acc = 0;
            for (int n = 0; n < N; n++) acc += Ccls[n] * dt * Bt[n];
            vc[cls] = acc;
        }
        for (int t = cls - 1; t >= 0; t--) {
            const float dt = s->delta[(size_t)t * D + c];
            const float *Bt = s->B + (size_t)t * s->bc_stride;
            float acc = 0;
            for (int n = 0; n < N; n++) acc += Ccls[n] * P[n] * dt * Bt[n];
            vc[t] = acc;
            for (int n = 0; n < N; n++) P[n] *= fast_expf(dt * Ac[n]); /* Ā[t] joins for t-1 */
        }
    }
}

int mxb_vim_xai_vector(const mxb_ctx *c, int layer, mxb_variant variant, float *out) {
    mxb_s6_view f, b;
    if (mxb_vim_s6(c, layer, 0, &f) || mxb_vim_s6(c, layer, 1, &b)) return -1;
    const int L = f.L, D = f.D, cls = c->m->cfg.cls_pos;
    const int exact = variant == MXB_VARIANT_EXACT;
    float *tmp = c->scratch; /* [D, L], free outside forward/backward */
    memset(out, 0, (size_t)D * L * sizeof(float));
    cls_row(&f, cls, exact, out);
    /* the backward branch runs on the flipped sequence: its class token sits at
     * L-1-cls (the original hard-codes 98 for both, right only for L = 197) */
    memset(tmp, 0, (size_t)D * L * sizeof(float));
    cls_row(&b, L - 1 - cls, exact, tmp);
    for (int ch = 0; ch < D; ch++) {
        float *o = out + (size_t)ch * L;
        const float *t = tmp + (size_t)ch * L;
        for (int j = cls + 1; j < L; j++) o[j] = t[L - 1 - j];
        if (exact) o[cls] += t[L - 1 - cls]; /* both branches see the class token */
    }
    return 0;
}

/* Rows of one channel's matrix, walking each row from the diagonal leftwards so the
 * Ā product grows by one factor per step: α[i,j] = Σ_n C[i,n] P_n B̄[j,n], P_n =
 * Π_{k=j+1..i} Ā[k,n]. abar, bbar: [L, N] for this channel. Writes `row_out(i)`
 * through `dst` with row stride ld (accumulates when acc is set). */
static void channel_matrix(const mxb_s6_view *s, const float *abar, const float *bbar,
                           float *dst, int ld, int acc, float scale) {
    const int L = s->L, N = s->N;
    float P[64];
    for (int i = 0; i < L; i++) {
        const float *Ci = s->C + (size_t)i * s->bc_stride;
        float *row = dst + (size_t)i * ld;
        for (int n = 0; n < N; n++) P[n] = Ci[n];
        for (int j = i; j >= 0; j--) {
            const float *bj = bbar + (size_t)j * N, *aj = abar + (size_t)j * N;
            float a = 0;
            for (int n = 0; n < N; n++) a += P[n] * bj[n];
            if (acc)
                row[j] += scale * a;
            else
                row[j] = a;
            for (int n = 0; n < N; n++) P[n] *= aj[n]; /* Ā[j] joins for column j-1 */
        }
        if (!acc)
            for (int j = i + 1; j < L; j++) row[j] = 0;
    }
}

static void channel_factors(const mxb_s6_view *s, int c, float *abar, float *bbar) {
    const int L = s->L, D = s->D, N = s->N;
    const float *Ac = s->A + (size_t)c * N;
    for (int t = 0; t < L; t++) {
        const float dt = s->delta[(size_t)t * D + c];
        const float *Bt = s->B + (size_t)t * s->bc_stride;
        for (int n = 0; n < N; n++) {
            abar[(size_t)t * N + n] = fast_expf(dt * Ac[n]);
            bbar[(size_t)t * N + n] = dt * Bt[n];
        }
    }
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
#pragma omp parallel
    {
        FLUSH_DENORMALS();
        float *abar = malloc((size_t)L * N * sizeof(float)), *bbar = malloc((size_t)L * N * sizeof(float));
#pragma omp for schedule(dynamic, 1)
        for (int ch = c0; ch < c1; ch++) {
            channel_factors(&s, ch, abar, bbar);
            channel_matrix(&s, abar, bbar, out + (size_t)(ch - c0) * L * L, L, 0, 1.0f);
        }
        free(abar);
        free(bbar);
        RESTORE_DENORMALS();
    }
    return 0;
}

int mxb_vim_hidden_attn_mean(const mxb_ctx *c, int layer, int dir, int image_order, float *out) {
    mxb_s6_view s;
    if (mxb_vim_s6(c, layer, dir, &s)) return -1;
    const int L = s.L, N = s.N, D = s.D;
    /* Fixed blocks of channels, each summed in order, then the blocks in order: the
     * mean is the same bits whatever the thread count or schedule. */
    enum { BLOCK = 16 };
    const int nblk = (D + BLOCK - 1) / BLOCK;
    float *part = calloc((size_t)nblk * L * L, sizeof(float));
    if (!part) return -1;
    int failed = 0;
#pragma omp parallel
    {
        FLUSH_DENORMALS();
        float *abar = malloc((size_t)L * N * sizeof(float)), *bbar = malloc((size_t)L * N * sizeof(float));
        if (!abar || !bbar) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int b = 0; b < nblk; b++) {
            if (!abar || !bbar) continue;
            for (int ch = b * BLOCK; ch < D && ch < (b + 1) * BLOCK; ch++) {
                channel_factors(&s, ch, abar, bbar);
                channel_matrix(&s, abar, bbar, part + (size_t)b * L * L, L, 1, 1.0f / (float)D);
            }
        }
        free(abar);
        free(bbar);
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
