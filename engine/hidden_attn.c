/* Mamba hidden attention (Ali et al. 2024) from the S6 quantities of a traced layer:
 *   α[c,i,j] = Σ_n C[i,n] (Π_{k=j+1..i} exp(Δ_k[c] A[c,n])) Δ_j[c] B[j,n],  j <= i.
 * Only O(D·L·N) CLS-row vectors here; no D×L×L temporaries. */
#include "engine/internal.h"

#include <math.h>
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
            P[n] = exact ? expf(s->delta[(size_t)cls * D + c] * Ac[n]) : 1.0f;
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
            for (int n = 0; n < N; n++) P[n] *= expf(dt * Ac[n]); /* Ā[t] joins for t-1 */
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
