/* Vision Mamba as hustvl/Vim's
 * vim_small_patch16_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2:
 * middle class token, fused add + RMSNorm blocks, bimamba v2 mixers whose two
 * branches are summed and halved. Forward and backward sit together per layer. */
#include "engine/internal.h"
#include "engine/ops.h"
#include "engine/simd.h"

#include <omp.h>

#include <cblas.h>
#include <math.h>
#include <string.h>

/* ---- the context's ViM buffers ------------------------------------------------- */

void mxb_vim_layout(const mxb_config *g, int nact, int traced, mxb_carver *cv, vim_state *s) {
    const size_t L = (size_t)g->seq_len, E = (size_t)g->embed_dim;
    const size_t Di = (size_t)g->d_inner, N = (size_t)g->d_state, R = (size_t)g->dt_rank;
    s->act = mxb_carve_bytes(cv, (size_t)nact * sizeof *s->act);
    for (int i = 0; i < nact; i++) {
        vim_layer_act sizing, *a = s->act ? &s->act[i] : &sizing;
        a->residual = mxb_carve(cv, L * E);
        a->normed = mxb_carve(cv, L * E);
        a->rstd = mxb_carve(cv, L);
        a->mixer_out = mxb_carve(cv, L * E);
        a->residual_grad = traced ? mxb_carve(cv, L * E) : NULL;
        for (int d = 0; d < 2; d++) {
            vim_dir_act *x = &a->dir[d];
            x->xz = mxb_carve(cv, L * 2 * Di);
            x->conv_pre = mxb_carve(cv, L * Di);
            x->x = mxb_carve(cv, L * Di);
            x->x_dbl = mxb_carve(cv, L * (R + 2 * N));
            x->delta_pre = mxb_carve(cv, L * Di);
            x->delta = mxb_carve(cv, L * Di);
            x->y = mxb_carve(cv, L * Di);
            x->out = mxb_carve(cv, L * Di);
            x->dy = traced ? mxb_carve(cv, L * Di) : NULL;
        }
    }
    s->sum = mxb_carve(cv, L * Di);
    s->grad = (vim_grad_ws){0};
    if (!traced) return;
    const size_t Dp = SCAN_PADDED(Di), nblk = Dp / SCAN_CB;
    vim_grad_ws *w = &s->grad;
    w->G = mxb_carve(cv, L * E);
    w->dnormed = mxb_carve(cv, L * E);
    w->dsum = mxb_carve(cv, L * Di);
    w->dout_b = mxb_carve(cv, L * Di);
    w->dxz[0] = mxb_carve(cv, L * 2 * Di);
    w->dxz[1] = mxb_carve(cv, L * 2 * Di);
    w->dx = mxb_carve(cv, L * Di);
    w->ddelta = mxb_carve(cv, L * Di);
    w->dxdbl = mxb_carve(cv, L * (R + 2 * N));
    w->hs = mxb_carve(cv, nblk * L * N * SCAN_CB);
    w->part = mxb_carve(cv, nblk * L * 2 * N);
}

/* tokens: patches with the class token inserted before patch M//2, + pos_embed */
static void vim_embed(mxb_ctx *c, const float *image, float *x) {
    const mxb_model *m = c->m;
    const mxb_config *g = &m->cfg;
    const int E = g->embed_dim, M = g->num_patches, cls = g->cls_pos;
    const int K = g->in_chans * g->patch_size * g->patch_size;
    mxb_patchify(c->patches, image, g->in_chans, g->img_size, g->patch_size);
    mxb_linear_forward(x, c->patches, m->patch_w, m->patch_b, cls, K, E, 0.0f);
    memcpy(x + (size_t)cls * E, m->cls_token, (size_t)E * sizeof(float));
    mxb_linear_forward(x + (size_t)(cls + 1) * E, c->patches + (size_t)cls * K, m->patch_w,
                   m->patch_b, M - cls, K, E, 0.0f);
    for (size_t i = 0; i < (size_t)(M + 1) * E; i++) x[i] += m->pos_embed[i];
}

/* ---- causal depthwise conv1d (padding K-1, first L outputs) --------------------- */

/* out = conv(x) + b, and silu_out = SiLU(out) in the same pass over a row when given.
 * wt: the taps transposed [K, D], so a tap runs contiguously over the channels. */
static void causal_conv_forward(float *out, float *silu_out, const float *x, int ldx, const float *wt,
                                const float *b, int L, int D, int K) {
#pragma omp parallel for schedule(static) /* each output row alone: any split, same bits */
    for (int t = 0; t < L; t++) {
        float *o = out + (size_t)t * D;
        for (int c = 0; c < D; c++) o[c] = b[c];
        for (int k = 0; k < K; k++) {
            const int s = t - (K - 1) + k;
            if (s < 0) continue;
            const float *xs = x + (size_t)s * ldx, *wk = wt + (size_t)k * D;
            for (int c = 0; c < D; c++) o[c] += wk[c] * xs[c];
        }
        if (silu_out)
            for (int c = 0; c < D; c += 16) {
                const int n = D - c < 16 ? D - c : 16;
                vf16_store_part(silu_out + (size_t)t * D + c, vf16_silu(vf16_load_part(o + c, n)), n);
            }
    }
}

static void causal_conv_backward(float *dx, int lddx, const float *dout, const float *wt, int L,
                                 int D, int K) {
    for (int s = 0; s < L; s++) {
        float *d = dx + (size_t)s * lddx;
        memset(d, 0, (size_t)D * sizeof(float));
        for (int k = 0; k < K; k++) {
            const int t = s + (K - 1) - k;
            if (t >= L) continue;
            const float *g = dout + (size_t)t * D, *wk = wt + (size_t)k * D;
            for (int c = 0; c < D; c++) d[c] += wk[c] * g[c];
        }
    }
}

/* ---- selective scan (selective_scan_ref semantics, real A, variable B and C) ------- */
/*   h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t,   y_t = C_t · h_t                              */
/* Channels are independent and B_t, C_t are shared by all of them, so the kernels
 * run over blocks of SCAN_CB channels with the channel as the vector lane and the
 * state index n as the outer loop: every lane does the same exp/FMA sequence and no
 * horizontal sums are needed in the forward. A is read transposed (At [N, Dp]).
 * hs, when kept: [nblk, L, N, SCAN_CB], block by block. */

static void selective_scan_forward(float *y, float *hs, const float *u, const float *delta,
                                   const float *At, const float *B, const float *C, int ldbc,
                                   int L, int D, int N) {
    const int nblk = (D + SCAN_CB - 1) / SCAN_CB, Dp = nblk * SCAN_CB;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < nblk; b++) {
        const int c0 = b * SCAN_CB, cw = D - c0 < SCAN_CB ? D - c0 : SCAN_CB;
        vf16 h[64] = {{0}}; /* N <= 64 (vim_check) */
        for (int t = 0; t < L; t++) {
            const float *Bt = B + (size_t)t * ldbc, *Ct = C + (size_t)t * ldbc;
            /* lanes past D load 0: dt = 0 keeps their state 0 */
            const vf16 dt = vf16_load_part(delta + (size_t)t * D + c0, cw);
            const vf16 du = dt * vf16_load_part(u + (size_t)t * D + c0, cw);
            vf16 acc = {0};
            for (int n = 0; n < N; n++) {
                const vf16 an = vf16_load(At + (size_t)n * Dp + c0);
                h[n] = vf16_exp(dt * an) * h[n] + du * Bt[n];
                acc += Ct[n] * h[n];
            }
            vf16_store_part(y + (size_t)t * D + c0, acc, cw);
            if (hs) memcpy(hs + ((size_t)b * L + t) * N * SCAN_CB, h, (size_t)N * sizeof(vf16));
        }
    }
}

/* Gradients of Σ dy·y with respect to u, Δ (accumulated into du, ddelta) and B, C
 * (written into dB, dC with row stride ldbc). hs holds every h_t from the forward. */
static void selective_scan_backward(float *du, float *ddelta, float *dB, float *dC,
                                    const float *dy, const float *hs, const float *u,
                                    const float *delta, const float *At, const float *B,
                                    const float *C, int ldbc, int L, int D, int N,
                                    float *part) {
    /* dB and dC sum over channels: each block keeps its own partial sums (part
     * [nblk, L, 2N]), added in block order afterwards, so the result never depends
     * on the thread count or timing. */
    const int nblk = (D + SCAN_CB - 1) / SCAN_CB, Dp = nblk * SCAN_CB;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < nblk; b++) {
        const int c0 = b * SCAN_CB, cw = D - c0 < SCAN_CB ? D - c0 : SCAN_CB;
        vf16 g[64] = {{0}}; /* gradient at h_t, per n */
        for (int t = L - 1; t >= 0; t--) {
            const float *Bt = B + (size_t)t * ldbc, *Ct = C + (size_t)t * ldbc;
            float *gB = part + ((size_t)b * L + t) * 2 * N, *gC = gB + N;
            const float *h = hs + ((size_t)b * L + t) * N * SCAN_CB;
            const size_t t0 = (size_t)t * D + c0;
            const vf16 dt = vf16_load_part(delta + t0, cw), ut = vf16_load_part(u + t0, cw);
            const vf16 gy = vf16_load_part(dy + t0, cw), dtu = dt * ut;
            vf16 gdt = {0}, gu = {0};
            for (int n = 0; n < N; n++) {
                const vf16 an = vf16_load(At + (size_t)n * Dp + c0);
                const vf16 hn = vf16_load(h + n * SCAN_CB);
                const vf16 hp = t ? vf16_load(h + (n - N) * SCAN_CB) : (vf16){0};
                const vf16 ea = vf16_exp(dt * an);
                g[n] += gy * Ct[n];                       /* total gradient at h_t */
                gC[n] = vf16_sum(gy * hn);
                gdt += g[n] * (an * ea * hp + Bt[n] * ut);
                gB[n] = vf16_sum(g[n] * dtu);
                gu += g[n] * dt * Bt[n];
                g[n] *= ea;                               /* on to h_{t-1} */
            }
            vf16_store_part(ddelta + t0, vf16_load_part(ddelta + t0, cw) + gdt, cw);
            vf16_store_part(du + t0, vf16_load_part(du + t0, cw) + gu, cw);
        }
    }
    for (int t = 0; t < L; t++) {
        float *dBt = dB + (size_t)t * ldbc, *dCt = dC + (size_t)t * ldbc;
        memset(dBt, 0, (size_t)N * sizeof(float));
        memset(dCt, 0, (size_t)N * sizeof(float));
        for (int b = 0; b < nblk; b++) {
            const float *gB = part + ((size_t)b * L + t) * 2 * N, *gC = gB + N;
            for (int n = 0; n < N; n++) {
                dBt[n] += gB[n];
                dCt[n] += gC[n];
            }
        }
    }
}

/* ---- one direction of the bimamba v2 mixer ------------------------------------------ */

static void vim_dir_forward(const mxb_config *g, const vim_dir_w *w, vim_dir_act *a) {
    const int L = g->seq_len, Di = g->d_inner, N = g->d_state, R = g->dt_rank;
    const int ldx = R + 2 * N;
    /* x = SiLU(conv(x_pre)); the element-wise steps below split their rows among the
     * threads: each element is computed alone, so any split gives the same bits */
    causal_conv_forward(a->conv_pre, a->x, a->xz, 2 * Di, w->conv_wt, w->conv_b, L, Di, g->d_conv);
    mxb_linear_forward(a->x_dbl, a->x, w->x_proj_w, NULL, L, Di, ldx, 0.0f);
    mxb_sgemm_rm(CblasNoTrans, CblasTrans, L, Di, R, 1.0f, a->x_dbl, ldx,
                w->dt_proj_w, R, 0.0f, a->delta_pre, Di);
#pragma omp parallel for schedule(static)
    for (int t = 0; t < L; t++)
        for (int c = 0; c < Di; c += 16) {
            const size_t k = (size_t)t * Di + c;
            const int n = Di - c < 16 ? Di - c : 16;
            const vf16 pre = vf16_load_part(a->delta_pre + k, n) + vf16_load_part(w->dt_proj_b + c, n);
            vf16_store_part(a->delta_pre + k, pre, n);
            vf16_store_part(a->delta + k, vf16_softplus(pre), n);
        }
    const int prof = mxb_prof_here();
    const double t0 = prof ? mxb_prof_now() : 0;
    selective_scan_forward(a->y, NULL, a->x, a->delta, w->At, a->x_dbl + R, a->x_dbl + R + N, ldx,
                           L, Di, N);
    if (prof) mxb_prof.scan_ms += mxb_prof_now() - t0;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < L; t++) {
        const float *z = a->xz + (size_t)t * 2 * Di + Di;
        for (int c = 0; c < Di; c += 16) {
            const size_t k = (size_t)t * Di + c;
            const int n = Di - c < 16 ? Di - c : 16;
            const vf16 y = vf16_load_part(a->y + k, n), x = vf16_load_part(a->x + k, n);
            const vf16 Dc = vf16_load_part(w->D + c, n), zc = vf16_load_part(z + c, n);
            vf16_store_part(a->out + k, (y + Dc * x) * vf16_silu(zc), n);
        }
    }
}

/* Given dout [L, Di] (this direction's order), writes dxz [L, 2Di] and a->dy, through
 * ws's scan buffers (dx, ddelta, dxdbl, hs, part). */
static void vim_dir_backward(const mxb_config *g, const vim_dir_w *w, vim_dir_act *a,
                             const float *dout, float *dxz, const vim_grad_ws *ws) {
    const int L = g->seq_len, Di = g->d_inner, N = g->d_state, R = g->dt_rank;
    const int ldx = R + 2 * N;
    float *dx = ws->dx, *ddelta = ws->ddelta, *dxdbl = ws->dxdbl, *hs = ws->hs, *part = ws->part;
    for (int t = 0; t < L; t++) {
        const float *z = a->xz + (size_t)t * 2 * Di + Di;
        float *dz = dxz + (size_t)t * 2 * Di + Di;
        for (int c = 0; c < Di; c += 16) {
            const size_t k = (size_t)t * Di + c;
            const int n = Di - c < 16 ? Di - c : 16;
            const vf16 zc = vf16_load_part(z + c, n), go = vf16_load_part(dout + k, n);
            const vf16 Dc = vf16_load_part(w->D + c, n), sz = vf16_silu(zc);
            const vf16 y = vf16_load_part(a->y + k, n), x = vf16_load_part(a->x + k, n);
            vf16_store_part(a->dy + k, go * sz, n);
            vf16_store_part(dx + k, go * sz * Dc, n);
            vf16_store_part(dz + c, go * (y + Dc * x) * vf16_silu_grad(zc), n);
            vf16_store_part(ddelta + k, (vf16){0}, n);
        }
    }
    /* the states are recomputed here rather than kept for every layer */
    selective_scan_forward(a->y, hs, a->x, a->delta, w->At, a->x_dbl + R, a->x_dbl + R + N, ldx,
                           L, Di, N);
    selective_scan_backward(dx, ddelta, dxdbl + R, dxdbl + R + N, a->dy, hs, a->x, a->delta, w->At,
                            a->x_dbl + R, a->x_dbl + R + N, ldx, L, Di, N, part);
    /* softplus' = sigmoid (identity past the threshold 20) */
    for (size_t k = 0; k < (size_t)L * Di; k += 16) {
        const int n = (size_t)L * Di - k < 16 ? (int)((size_t)L * Di - k) : 16;
        const vf16 pre = vf16_load_part(a->delta_pre + k, n), s = vf16_sigmoid(pre);
        const vi16 big = pre > 20.0f;
        const vf16 f = (vf16)((big & (vi16)vf16_splat(1.0f)) | (~big & (vi16)s));
        vf16_store_part(ddelta + k, vf16_load_part(ddelta + k, n) * f, n);
    }
    mxb_sgemm_rm(CblasNoTrans, CblasNoTrans, L, R, Di, 1.0f, ddelta, Di,
                w->dt_proj_w, R, 0.0f, dxdbl, ldx);
    mxb_sgemm_rm(CblasNoTrans, CblasNoTrans, L, Di, ldx, 1.0f, dxdbl, ldx,
                w->x_proj_w, Di, 1.0f, dx, Di);
    for (size_t k = 0; k < (size_t)L * Di; k += 16) {
        const int n = (size_t)L * Di - k < 16 ? (int)((size_t)L * Di - k) : 16;
        const vf16 g = vf16_silu_grad(vf16_load_part(a->conv_pre + k, n));
        vf16_store_part(dx + k, vf16_load_part(dx + k, n) * g, n);
    }
    causal_conv_backward(dxz, 2 * Di, dx, w->conv_wt, L, Di, g->d_conv);
}

/* ---- the mixer ------------------------------------------------------------------------ */

/* normed [L, E] -> mixer_out [L, E]; sum: scratch [L, Di] */
static void vim_mixer_forward(const mxb_config *g, const vim_layer_w *w, vim_layer_act *a,
                              float *sum) {
    const int L = g->seq_len, E = g->embed_dim, Di = g->d_inner;
    mxb_linear_forward(a->dir[0].xz, a->normed, w->in_proj_w, NULL, L, E, 2 * Di, 0.0f);
#pragma omp parallel for schedule(static)
    for (int t = 0; t < L; t++) /* the backward branch sees the flipped sequence */
        memcpy(a->dir[1].xz + (size_t)t * 2 * Di, a->dir[0].xz + (size_t)(L - 1 - t) * 2 * Di,
               (size_t)2 * Di * sizeof(float));
    for (int d = 0; d < 2; d++) vim_dir_forward(g, &w->dir[d], &a->dir[d]);
#pragma omp parallel for schedule(static)
    for (int t = 0; t < L; t++) {
        const float *f = a->dir[0].out + (size_t)t * Di, *b = a->dir[1].out + (size_t)(L - 1 - t) * Di;
        float *s = sum + (size_t)t * Di;
        for (int c = 0; c < Di; c++) s[c] = (f[c] + b[c]) * 0.5f; /* if_devide_out */
    }
    mxb_linear_forward(a->mixer_out, sum, w->out_proj_w, NULL, L, Di, E, 0.0f);
}

/* dmix [L, E] -> dnormed [L, E] */
static void vim_mixer_backward(const mxb_config *g, const vim_layer_w *w, vim_layer_act *a,
                               const float *dmix, float *dnormed, const vim_grad_ws *ws) {
    const int L = g->seq_len, E = g->embed_dim, Di = g->d_inner;
    float *dsum = ws->dsum, *dout_b = ws->dout_b, *dxz0 = ws->dxz[0], *dxz1 = ws->dxz[1];
    mxb_sgemm_rm(CblasNoTrans, CblasNoTrans, L, Di, E, 0.5f, dmix, E,
                w->out_proj_w, Di, 0.0f, dsum, Di);
    for (int t = 0; t < L; t++)
        memcpy(dout_b + (size_t)t * Di, dsum + (size_t)(L - 1 - t) * Di,
               (size_t)Di * sizeof(float));
    vim_dir_backward(g, &w->dir[0], &a->dir[0], dsum, dxz0, ws);
    vim_dir_backward(g, &w->dir[1], &a->dir[1], dout_b, dxz1, ws);
    for (int t = 0; t < L; t++) {
        float *d0 = dxz0 + (size_t)t * 2 * Di;
        const float *d1 = dxz1 + (size_t)(L - 1 - t) * 2 * Di;
        for (int k = 0; k < 2 * Di; k++) d0[k] += d1[k];
    }
    mxb_sgemm_rm(CblasNoTrans, CblasNoTrans, L, E, 2 * Di, 1.0f, dxz0, 2 * Di,
                w->in_proj_w, E, 0.0f, dnormed, E);
}

/* ---- the model ---------------------------------------------------------------------------- */

void mxb_vim_forward(mxb_ctx *c, const float *image, float *logits) {
    const mxb_model *m = c->m;
    const mxb_config *g = &m->cfg;
    const int L = g->seq_len, E = g->embed_dim, cls = g->cls_pos;
    const size_t LE = (size_t)L * E;
    vim_embed(c, image, c->tokens);
    const float *hidden = NULL, *prev_res = NULL;
    for (int i = 0; i < g->depth; i++) {
        vim_layer_act *a = &c->vim.act[i < c->nact ? i : 0];
        /* fused add + norm: residual = hidden + residual (the first block takes the input) */
        if (i == 0)
            memcpy(a->residual, c->tokens, LE * sizeof(float));
        else if (a->residual == prev_res) /* untraced: one slot shared by every layer */
            for (size_t k = 0; k < LE; k++) a->residual[k] += hidden[k];
        else
            for (size_t k = 0; k < LE; k++) a->residual[k] = prev_res[k] + hidden[k];
        mxb_rmsnorm_forward(a->normed, a->rstd, a->residual, m->layers[i].norm_w, L, E, g->norm_eps);
        vim_mixer_forward(g, &m->layers[i], a, c->vim.sum);
        hidden = a->mixer_out;
        prev_res = a->residual;
    }
    /* final add + norm_f; only the middle class token reaches the head */
    for (int k = 0; k < E; k++)
        c->final_in[k] = prev_res[(size_t)cls * E + k] + hidden[(size_t)cls * E + k];
    mxb_rmsnorm_forward(c->final_norm, &c->final_rstd, c->final_in, m->norm_w, 1, E, g->final_norm_eps);
    mxb_linear_forward(logits, c->final_norm, m->head_w, m->head_b, 1, E, g->num_classes, 0.0f);
}

void mxb_vim_backward(mxb_ctx *c, const float *seed) {
    const mxb_model *m = c->m;
    const mxb_config *g = &m->cfg;
    const int L = g->seq_len, E = g->embed_dim, cls = g->cls_pos;
    const size_t LE = (size_t)L * E;
    const vim_grad_ws *ws = &c->vim.grad;
    float *G = ws->G, *dnormed = ws->dnormed;
    memset(G, 0, LE * sizeof(float));
    float dnorm[E];
    cblas_sgemv(CblasRowMajor, CblasTrans, g->num_classes, E, 1.0f, m->head_w, E, seed, 1, 0.0f,
                dnorm, 1);
    mxb_rmsnorm_backward(G + (size_t)cls * E, dnorm, c->final_in, &c->final_rstd, m->norm_w, 1, E,
                     0.0f);
    for (int i = g->depth - 1; i >= 0; i--) {
        vim_layer_act *a = &c->vim.act[i];
        /* Block.get_gradients: the hook sits on the residual the fused add+norm returns,
         * so it sees only the gradient from downstream, i.e. at residual + mixer_out,
         * the stream entering the next norm (not the gradient at this block's input). */
        memcpy(a->residual_grad, G, LE * sizeof(float));
        /* residual_{i+1} = residual_i + mixer(norm(residual_i)) */
        vim_mixer_backward(g, &m->layers[i], a, G, dnormed, ws);
        mxb_rmsnorm_backward(G, dnormed, a->residual, a->rstd, m->layers[i].norm_w, L, E, 1.0f);
    }
}

/* ---- the trace --------------------------------------------------------------------- */

static const vim_layer_act *traced_layer(const mxb_ctx *c, int l) {
    return c->m->cfg.arch == MXB_ARCH_VIM && mxb_ctx_traced_layer(c, l) ? &c->vim.act[l] : NULL;
}
const float *mxb_vim_residual(const mxb_ctx *c, int l) {
    const vim_layer_act *a = traced_layer(c, l);
    return a ? a->residual : NULL;
}
const float *mxb_vim_residual_grad(const mxb_ctx *c, int l) {
    const vim_layer_act *a = traced_layer(c, l);
    return a ? a->residual_grad : NULL;
}
const float *mxb_vim_mixer_out(const mxb_ctx *c, int l) {
    const vim_layer_act *a = traced_layer(c, l);
    return a ? a->mixer_out : NULL;
}

int mxb_vim_s6(const mxb_ctx *c, int layer, int dir, mxb_s6_view *v) {
    const vim_layer_act *l = traced_layer(c, layer);
    if (!l || dir < 0 || dir > 1) return -1;
    const mxb_config *g = &c->m->cfg;
    const vim_dir_act *a = &l->dir[dir];
    const int R = g->dt_rank, N = g->d_state;
    *v = (mxb_s6_view){
        .L = g->seq_len, .D = g->d_inner, .N = N, .bc_stride = R + 2 * N, .x = a->x, .delta = a->delta,
        .B = a->x_dbl + R, .C = a->x_dbl + R + N, .A = c->m->layers[layer].dir[dir].A,
        .y = a->y, .dy = a->dy,
        /* UIA's view: the conv and the gate (xz, conv_pre and this direction's weights) */
        .x_pre = a->xz, .z = a->xz + g->d_inner, .u = a->conv_pre, .xz_stride = 2 * g->d_inner,
        .conv_w = c->m->layers[layer].dir[dir].conv_w, .conv_b = c->m->layers[layer].dir[dir].conv_b,
        .D_skip = c->m->layers[layer].dir[dir].D, .K = g->d_conv,
    };
    return 0;
}

/* ---- MambaLRP (Jafari et al. 2024): LRP as a modified gradient ---------------------------- */
/* What FarnoushRJ/MambaLRP's ModifiedVisionMamba differentiates (mamba_lrp/model/
 * vision_mamba.py, lrp/core.py; docs/METHODS-v2.md §3.4), always: exp(ΔA), ΔB and C
 * detached (params_to_detach A, B, C: the scan is linear in u, nothing reaches Δ, B,
 * C, so softplus, dt_proj and x_proj carry no gradient; D u is kept) and the gate by
 * the half rule ('z': o/2 + stop(o/2), so both factors of o = (y + D u)·SiLU(z) get
 * half the product rule). By the rule flags: the SiLU identity rule on both SiLUs
 * (∂SiLU(x) := SiLU(x)/x̃, x̃ = x + (1[x=0] + sign x)·1e-6: utils.stabilize), the
 * RMSNorm denominator detached (every block's norm and norm_f) and the conv's
 * generalised γ rule (γ = 0.25, ModifiedConv as released: see conv_gamma_backward). */

/* ∂SiLU at x: the true derivative, or the identity rule's SiLU(x)/x̃ */
static inline float lrp_silu_grad(float x, int identity) {
    const float s = x / (1.0f + expf(-x));
    if (!identity) {
        const float sg = 1.0f / (1.0f + expf(-x));
        return sg * (1.0f + x * (1.0f - sg));
    }
    const float sign = x > 0 ? 1.0f : (x < 0 ? -1.0f : 0.0f);
    return s / (x + ((x == 0 ? 1.0f : 0.0f) + sign) * 1e-6f);
}

/* du += the gradient of Σ dy·y at u with exp(ΔA), ΔB, C constants (the gu part of
 * selective_scan_backward alone) */
static void scan_backward_detached(float *du, const float *dy, const float *delta, const float *At,
                                   const float *B, const float *C, int ldbc, int L, int D, int N) {
    const int nblk = (D + SCAN_CB - 1) / SCAN_CB, Dp = nblk * SCAN_CB;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < nblk; b++) {
        const int c0 = b * SCAN_CB, cw = D - c0 < SCAN_CB ? D - c0 : SCAN_CB;
        vf16 g[64] = {{0}}; /* gradient at h_t, per n */
        for (int t = L - 1; t >= 0; t--) {
            const float *Bt = B + (size_t)t * ldbc, *Ct = C + (size_t)t * ldbc;
            const size_t t0 = (size_t)t * D + c0;
            const vf16 dt = vf16_load_part(delta + t0, cw), gy = vf16_load_part(dy + t0, cw);
            vf16 gu = {0};
            for (int n = 0; n < N; n++) {
                const vf16 an = vf16_load(At + (size_t)n * Dp + c0);
                g[n] += gy * Ct[n];
                gu += g[n] * dt * Bt[n];
                g[n] *= vf16_exp(dt * an);
            }
            vf16_store_part(du + t0, vf16_load_part(du + t0, cw) + gu, cw);
        }
    }
}

/* The γ rule of ModifiedConv (lrp/core.py, γ = 0.25) on the causal depthwise conv,
 * z = conv(x) + b: out = zp·stop(z/zp) with zp = (P₁+P₂)·1[z>1e-6] + (N₁+N₂)·1[z<1e-6].
 * Its four modified copies take the inputs [x⁺, x⁻, x⁺, x⁻] in that order:
 * P₁ = conv_{w+γw⁺, b+γb⁺}(x⁺), P₂ = conv_{w+γw⁻, 0}(x⁻), N₁ = conv_{w+γw⁻, b+γb⁻}(x⁺),
 * N₂ = conv_{w+γw⁺, 0}(x⁻) (the usual γ rule: the positive branch favours the
 * contributions of z's sign). The gradient: (z/zp)·∂zp/∂x, with clamp's gradient (x⁺
 * passes where x ≥ 0, x⁻ where x ≤ 0). dout [L, D], x at ldx (the pre-conv half of
 * xz), z = conv_pre [L, D]; dx at lddx; scale, branch: scratch [L, D]. */
static void conv_gamma_backward(float *dx, int lddx, const float *dout, const float *x, int ldx,
                                const float *z, const float *w, const float *bias, int L, int D,
                                int K, float *scale, float *branch) {
    const float gam = 0.25f;
    /* Branch-free (selects, not jumps or libm's fminf: the signs are data, and
     * mispredicted jumps cost more than the arithmetic). Per output: zp in its branch (1 positive, 0
     * negative) — the bias, then the taps in order — then the gradient it sends,
     * dout·z/zp (0 where neither mask holds: z = 1e-6 exactly, the original's 0·nan). */
#pragma omp parallel for schedule(static) /* each output row alone: any split, same bits */
    for (int t = 0; t < L; t++) {
        float *zp = scale + (size_t)t * D, *br = branch + (size_t)t * D;
        for (int c = 0; c < D; c++) {
            const float b = bias[c];
            const int pos = z[(size_t)t * D + c] > 1e-6f;
            zp[c] = b + gam * (pos ? (b > 0 ? b : 0.0f) : (b < 0 ? b : 0.0f));
            br[c] = (float)pos;
        }
        for (int k = 0; k < K; k++) {
            const int s = t - (K - 1) + k;
            if (s < 0) continue;
            const float *xs = x + (size_t)s * ldx;
            for (int c = 0; c < D; c++) { /* the weights x⁺ and x⁻ meet in this branch */
                const float wk = w[c * K + k];
                const float wp = wk + gam * (wk > 0 ? wk : 0.0f), wn = wk + gam * (wk < 0 ? wk : 0.0f);
                const float xp = (xs[c] > 0 ? xs[c] : 0.0f), xn = (xs[c] < 0 ? xs[c] : 0.0f);
                zp[c] += br[c] != 0 ? wp * xp + wn * xn : wn * xp + wp * xn;
            }
        }
        for (int c = 0; c < D; c++) {
            const float zt = z[(size_t)t * D + c];
            zp[c] = zt > 1e-6f || zt < 1e-6f ? dout[(size_t)t * D + c] * (zt / zp[c]) : 0.0f;
        }
    }
    /* each input gathers from the outputs it reaches (t = s .. s+K-1), taps in order;
     * clamp's gradient: x⁺ passes where x ≥ 0, x⁻ where x ≤ 0 */
#pragma omp parallel for schedule(static)
    for (int s = 0; s < L; s++) {
        float *d = dx + (size_t)s * lddx;
        const float *xs = x + (size_t)s * ldx;
        memset(d, 0, (size_t)D * sizeof(float));
        for (int k = 0; k < K; k++) {
            const int t = s + (K - 1) - k;
            if (t >= L) continue;
            const float *sc = scale + (size_t)t * D, *br = branch + (size_t)t * D;
            for (int c = 0; c < D; c++) {
                const float wk = w[c * K + k];
                const float wp = wk + gam * (wk > 0 ? wk : 0.0f), wn = wk + gam * (wk < 0 ? wk : 0.0f);
                const float a = br[c] != 0 ? wp : wn, bb = br[c] != 0 ? wn : wp;
                d[c] += sc[c] * ((xs[c] >= 0 ? a : 0.0f) + (xs[c] <= 0 ? bb : 0.0f));
            }
        }
    }
}

/* one direction: dout [L, Di] -> dxz [L, 2Di] (ws->dx, ws->ddelta as scratch) */
static void vim_dir_mambalrp(const mxb_config *g, const vim_dir_w *w, const vim_dir_act *a,
                             const float *dout, float *dxz, const vim_grad_ws *ws, unsigned rules) {
    const int L = g->seq_len, Di = g->d_inner, N = g->d_state, R = g->dt_rank, ldx = R + 2 * N;
    const int ident = !!(rules & MXB_MAMBALRP_SILU_IDENTITY);
    float *du = ws->dx, *dyD = ws->ddelta;
#pragma omp parallel for schedule(static) /* element-wise: any split, same bits */
    for (int t = 0; t < L; t++) {
        const float *z = a->xz + (size_t)t * 2 * Di + Di;
        float *dz = dxz + (size_t)t * 2 * Di + Di;
        for (int c = 0; c < Di; c++) {
            const size_t k = (size_t)t * Di + c;
            const float go = dout[k], zc = z[c], sz = zc / (1.0f + expf(-zc));
            const float yD = a->y[k] + w->D[c] * a->x[k];
            dyD[k] = 0.5f * sz * go;                              /* half rule */
            dz[c] = 0.5f * yD * lrp_silu_grad(zc, ident) * go;
            du[k] = w->D[c] * dyD[k];                             /* D kept */
        }
    }
    scan_backward_detached(du, dyD, a->delta, w->At, a->x_dbl + R, a->x_dbl + R + N, ldx, L, Di, N);
#pragma omp parallel for schedule(static)
    for (int t = 0; t < L; t++)
        for (int c = 0; c < Di; c++) {
            const size_t k = (size_t)t * Di + c;
            du[k] *= lrp_silu_grad(a->conv_pre[k], ident);
        }
    if (rules & MXB_MAMBALRP_CONV_GAMMA) /* dyD is spent; the scan's state buffer is unused here */
        conv_gamma_backward(dxz, 2 * Di, du, a->xz, 2 * Di, a->conv_pre, w->conv_w, w->conv_b, L, Di,
                            g->d_conv, dyD, ws->hs);
    else
        causal_conv_backward(dxz, 2 * Di, du, w->conv_wt, L, Di, g->d_conv);
}

/* RMSNorm backward with the denominator detached: dx (+)= w ⊙ dy · rstd */
static void rmsnorm_backward_detached(float *dx, const float *dy, const float *rstd, const float *w,
                                      int rows, int dim, int accumulate) {
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < dim; i++) {
            const size_t k = (size_t)r * dim + i;
            const float v = dy[k] * w[i] * rstd[r];
            dx[k] = accumulate ? dx[k] + v : v;
        }
}

int mxb_vim_mambalrp(mxb_ctx *c, const float *seed, unsigned rules, float *token_rel) {
    if (!(c->flags & MXB_TRACE_KEEP) || c->m->cfg.arch != MXB_ARCH_VIM) return -1;
    const mxb_model *m = c->m;
    const mxb_config *g = &m->cfg;
    const int L = g->seq_len, E = g->embed_dim, Di = g->d_inner, cls = g->cls_pos;
    const size_t LE = (size_t)L * E;
    const int detach_norm = !!(rules & MXB_MAMBALRP_NORM_DETACH);
    const vim_grad_ws *ws = &c->vim.grad;
    float *G = ws->G, *dnormed = ws->dnormed;
    memset(G, 0, LE * sizeof(float));
    float dnorm[E];
    cblas_sgemv(CblasRowMajor, CblasTrans, g->num_classes, E, 1.0f, m->head_w, E, seed, 1, 0.0f,
                dnorm, 1);
    if (detach_norm)
        rmsnorm_backward_detached(G + (size_t)cls * E, dnorm, &c->final_rstd, m->norm_w, 1, E, 0);
    else
        mxb_rmsnorm_backward(G + (size_t)cls * E, dnorm, c->final_in, &c->final_rstd, m->norm_w, 1, E,
                             0.0f);
    for (int i = g->depth - 1; i >= 0; i--) {
        const vim_layer_w *w = &m->layers[i];
        vim_layer_act *a = &c->vim.act[i];
        float *dsum = ws->dsum, *dout_b = ws->dout_b, *dxz0 = ws->dxz[0], *dxz1 = ws->dxz[1];
        /* out_proj((out + flip(out_b)) / 2): plain gradient (LRP-0) */
        mxb_sgemm_rm(CblasNoTrans, CblasNoTrans, L, Di, E, 0.5f, G, E, w->out_proj_w, Di, 0.0f, dsum, Di);
        for (int t = 0; t < L; t++)
            memcpy(dout_b + (size_t)t * Di, dsum + (size_t)(L - 1 - t) * Di, (size_t)Di * sizeof(float));
        vim_dir_mambalrp(g, &w->dir[0], &a->dir[0], dsum, dxz0, ws, rules);
        vim_dir_mambalrp(g, &w->dir[1], &a->dir[1], dout_b, dxz1, ws, rules);
        for (int t = 0; t < L; t++) {
            float *d0 = dxz0 + (size_t)t * 2 * Di;
            const float *d1 = dxz1 + (size_t)(L - 1 - t) * 2 * Di;
            for (int k = 0; k < 2 * Di; k++) d0[k] += d1[k];
        }
        mxb_sgemm_rm(CblasNoTrans, CblasNoTrans, L, E, 2 * Di, 1.0f, dxz0, 2 * Di, w->in_proj_w, E, 0.0f,
                     dnormed, E);
        if (detach_norm)
            rmsnorm_backward_detached(G, dnormed, a->rstd, w->norm_w, L, E, 1);
        else
            mxb_rmsnorm_backward(G, dnormed, a->residual, a->rstd, w->norm_w, L, E, 1.0f);
    }
    /* gradient x input at the embedded tokens (patches + pos_embed, CLS included) */
    for (int t = 0; t < L; t++) {
        double s = 0;
        for (int e = 0; e < E; e++) s += (double)c->tokens[(size_t)t * E + e] * G[(size_t)t * E + e];
        token_rel[t] = (float)s;
    }
    return 0;
}
