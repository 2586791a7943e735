/* LRP for ViT exactly as Chefer et al.'s ViT_LRP.py / layers_ours.py propagate it
 * (alpha = 1, beta = 0): the relevance of every block's attention probabilities,
 * what their get_attn_cam() returns. Rules:
 *   Linear   R_in = x⁺ ⊙ (S W⁺) + x⁻ ⊙ (S W⁻),  S = R ⊘ (x⁺W⁺ᵀ + x⁻W⁻ᵀ)   (no bias)
 *   Add      a = x₁ ⊙ S, b = x₂ ⊙ S (S = R ⊘ (x₁+x₂)), each rescaled so that
 *            Σa : Σb = |Σa| : |Σb| and Σa + Σb = ΣR
 *   Clone    R = x ⊙ Σᵢ (Rᵢ ⊘ x)
 *   matmul   (A, B) -> (A ⊙ (S Bᵀ), B ⊙ (Aᵀ S)), S = R ⊘ AB, each halved in attention
 *   LayerNorm, GELU, softmax, dropout pass relevance through unchanged.
 * ⊘ is their safe_divide: a / (b + 1e-9), and 0 where b == 0.
 *
 * Rule set ORIG (MXB_LRP_ORIG) is modules/layers_lrp.py, what ViT_orig_LRP.py's full
 * and partial LRP ("full", "last_layer") propagate (docs/METHODS-v2.md §3.1):
 *   Linear   R_in = x⁺ ⊙ ((R ⊘ x⁺W⁺ᵀ) W⁺) + x⁻ ⊙ ((R ⊘ x⁻W⁻ᵀ) W⁻)  (two denominators)
 *   Add      a = x₁ ⊙ S, b = x₂ ⊙ S, no rescale (RelPropSimple)
 * the rest as above; with MXB_LRP_TO_INPUT on through block 0's q·kᵀ, qkv and clone,
 * the Add of [tokens, pos_embed] (the tokens' share), the class token dropped, and
 * the patch conv by the z^B rule (lrp_patch_conv). */
#include "engine/internal.h"
#include "engine/ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

static inline float safe_div(float a, float b) {
    if (b == 0) return 0;
    float den = b + 1e-9f;
    if (den == 0) den = 1e-9f;
    return a / den;
}

/* W and x split by sign into w's pw/nw and px/nx: both Linear rule sets start here */
static void split_signs(const float *W, const float *x, size_t nw_, size_t nx_, const vit_lrp_ws *w) {
    for (size_t k = 0; k < nw_; k++) {
        w->pw[k] = W[k] > 0 ? W[k] : 0;
        w->nw[k] = W[k] < 0 ? W[k] : 0;
    }
    for (size_t k = 0; k < nx_; k++) {
        w->px[k] = x[k] > 0 ? x[k] : 0;
        w->nx[k] = x[k] < 0 ? x[k] : 0;
    }
}

/* R_in [rows, in] from R [rows, out] through y = x W^T; w's pw, nw, px, nx, Z, S
 * (mxb_vit_layout sizes them for the widest Linear). */
static void linear_relprop(float *Rin, const float *R, const float *x, const float *W, int rows,
                           int in, int out, const vit_lrp_ws *w) {
    const size_t nw_ = (size_t)out * in, nx_ = (size_t)rows * in, nz = (size_t)rows * out;
    split_signs(W, x, nw_, nx_, w);
    mxb_sgemm_rm(CblasNoTrans, CblasTrans, rows, out, in, 1.0f, w->px, in, w->pw, in,
                0.0f, w->Z, out);
    mxb_sgemm_rm(CblasNoTrans, CblasTrans, rows, out, in, 1.0f, w->nx, in, w->nw, in,
                1.0f, w->Z, out);
    for (size_t k = 0; k < nz; k++) w->S[k] = safe_div(R[k], w->Z[k]);
    /* C⁺ = S W⁺ into Rin, then R_in = x⁺ C⁺ + x⁻ C⁻ (C⁻ reuses px's slot after use) */
    mxb_sgemm_rm(CblasNoTrans, CblasNoTrans, rows, in, out, 1.0f, w->S, out, w->pw,
                in, 0.0f, Rin, in);
    for (size_t k = 0; k < nx_; k++) Rin[k] *= w->px[k];
    mxb_sgemm_rm(CblasNoTrans, CblasNoTrans, rows, in, out, 1.0f, w->S, out, w->nw,
                in, 0.0f, w->px, in);
    for (size_t k = 0; k < nx_; k++) Rin[k] += w->nx[k] * w->px[k];
}

/* layers_lrp's Linear (alpha 1): each sign's share with its own denominator */
static void linear_relprop_orig(float *Rin, const float *R, const float *x, const float *W, int rows,
                                int in, int out, const vit_lrp_ws *w) {
    const size_t nw_ = (size_t)out * in, nx_ = (size_t)rows * in, nz = (size_t)rows * out;
    split_signs(W, x, nw_, nx_, w);
    /* x⁺ ⊙ ((R ⊘ x⁺W⁺ᵀ) W⁺) into Rin */
    mxb_sgemm_rm(CblasNoTrans, CblasTrans, rows, out, in, 1.0f, w->px, in, w->pw, in, 0.0f, w->Z, out);
    for (size_t k = 0; k < nz; k++) w->S[k] = safe_div(R[k], w->Z[k]);
    mxb_sgemm_rm(CblasNoTrans, CblasNoTrans, rows, in, out, 1.0f, w->S, out, w->pw, in, 0.0f, Rin, in);
    for (size_t k = 0; k < nx_; k++) Rin[k] *= w->px[k];
    /* + x⁻ ⊙ ((R ⊘ x⁻W⁻ᵀ) W⁻), the product in px's slot */
    mxb_sgemm_rm(CblasNoTrans, CblasTrans, rows, out, in, 1.0f, w->nx, in, w->nw, in, 0.0f, w->Z, out);
    for (size_t k = 0; k < nz; k++) w->S[k] = safe_div(R[k], w->Z[k]);
    mxb_sgemm_rm(CblasNoTrans, CblasNoTrans, rows, in, out, 1.0f, w->S, out, w->nw, in, 0.0f, w->px, in);
    for (size_t k = 0; k < nx_; k++) Rin[k] += w->nx[k] * w->px[k];
}

/* layers_lrp's Add (RelPropSimple): x₁ ⊙ S and x₂ ⊙ S, S = R ⊘ (x₁ + x₂) */
static void add_relprop_orig(float *a, float *b, const float *R, const float *x1, const float *x2, size_t n) {
    for (size_t k = 0; k < n; k++) {
        const float s = safe_div(R[k], x1[k] + x2[k]);
        a[k] = x1[k] * s;
        b[k] = x2[k] * s;
    }
}

/* Add: relevance R at x1 + x2 -> (a at x1, b at x2) */
static void add_relprop(float *a, float *b, const float *R, const float *x1, const float *x2,
                        size_t n) {
    double sa = 0, sb = 0, sr = 0;
    for (size_t k = 0; k < n; k++) {
        const float s = safe_div(R[k], x1[k] + x2[k]);
        a[k] = x1[k] * s;
        b[k] = x2[k] * s;
        sa += a[k];
        sb += b[k];
        sr += R[k];
    }
    const float fa = safe_div((float)fabs(sa), (float)(fabs(sa) + fabs(sb))) * (float)sr;
    const float fb = safe_div((float)fabs(sb), (float)(fabs(sa) + fabs(sb))) * (float)sr;
    const float ka = safe_div(fa, (float)sa), kb = safe_div(fb, (float)sb);
    for (size_t k = 0; k < n; k++) {
        a[k] *= ka;
        b[k] *= kb;
    }
}

/* Clone: two relevances at copies of x -> one at x (into r1) */
static void clone_relprop(float *r1, const float *r2, const float *x, size_t n) {
    for (size_t k = 0; k < n; k++) r1[k] = x[k] * (safe_div(r1[k], x[k]) + safe_div(r2[k], x[k]));
}

/* matmul Z = A B (A [m,k], B [k,n], with leading dimensions): relevances at A and B,
 * both halved as Attention.relprop does. S: workspace [m, n]. */
static void matmul_relprop(float *RA, int ldra, float *RB, int ldrb, const float *R, int ldr,
                           const float *A, int lda, int transB, const float *B, int ldb, int m,
                           int k, int n, float *S) {
    /* Z = A op(B) */
    mxb_sgemm_rm(CblasNoTrans, transB ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, A,
                lda, B, ldb, 0.0f, S, n);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) S[(size_t)i * n + j] = safe_div(R[(size_t)i * ldr + j], S[(size_t)i * n + j]);
    /* dZ/dA = S op(B)^T ; dZ/dop(B) = A^T S */
    mxb_sgemm_rm(CblasNoTrans, transB ? CblasNoTrans : CblasTrans, m, k, n, 0.5f, S,
                n, B, ldb, 0.0f, RA, ldra);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < k; j++) RA[(size_t)i * ldra + j] *= A[(size_t)i * lda + j];
    if (transB) { /* op(B) = B^T, B [n, k]: grad wrt B = S^T A */
        mxb_sgemm_rm(CblasTrans, CblasNoTrans, n, k, m, 0.5f, S, n, A, lda, 0.0f, RB,
                    ldrb);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < k; j++) RB[(size_t)i * ldrb + j] *= B[(size_t)i * ldb + j];
    } else {      /* B [k, n]: grad = A^T S */
        mxb_sgemm_rm(CblasTrans, CblasNoTrans, k, n, m, 0.5f, A, lda, S, n, 0.0f, RB,
                    ldrb);
        for (int i = 0; i < k; i++)
            for (int j = 0; j < n; j++) RB[(size_t)i * ldrb + j] *= B[(size_t)i * ldb + j];
    }
}

static void lrp_patch_conv(mxb_ctx *c, const float *cam, const float *image, float *input_rel);

static int lrp_pass(mxb_ctx *c, const float *seed, unsigned rules, const float *image, float *input_rel) {
    const int orig = !!(rules & MXB_LRP_ORIG), last_only = !!(rules & MXB_LRP_LAST_BLOCK);
    const int to_input = !last_only && (rules & MXB_LRP_TO_INPUT);
    void (*linear)(float *, const float *, const float *, const float *, int, int, int, const vit_lrp_ws *) =
        orig ? linear_relprop_orig : linear_relprop;
    void (*add)(float *, float *, const float *, const float *, const float *, size_t) =
        orig ? add_relprop_orig : add_relprop;
    const mxb_model *m = c->m;
    const mxb_config *g = &m->cfg;
    const int L = g->seq_len, E = g->embed_dim, F = g->mlp_hidden, H = g->num_heads, hd = E / H;
    const int C = g->num_classes;
    const size_t LE = (size_t)L * E;
    const vit_lrp_ws *w = &c->vit.lrp; /* in the arena of every traced ViT context */
    float *cam = w->cam, *ra = w->ra, *rb = w->rb, *tmpE = w->tmpE, *xout = w->xout;
    float *rF = w->rF, *rqkv = w->rqkv, *S = w->Sm;

    /* head (on the class token's normed features), then IndexSelect back to tokens */
    float rnorm[E];
    linear(rnorm, seed, c->final_norm, m->head_w, 1, E, C, w);
    memset(cam, 0, LE * sizeof(float));
    for (int e = 0; e < E; e++) cam[e] = c->final_norm[e] * safe_div(rnorm[e], c->final_norm[e]);

    for (int i = g->depth - 1; i >= 0; i--) {
        const vit_block_w *bw = &m->blocks[i];
        vit_block_act *a = &c->vit.act[i];
        /* x_out = x_mid + mlp(ln2(x_mid)) */
        mxb_linear_forward(tmpE, a->gelu, bw->fc2_w, bw->fc2_b, L, F, E, 0.0f);
        add(ra, rb, cam, a->x_mid, tmpE, LE);
        linear(rF, rb, a->gelu, bw->fc2_w, L, F, E, w);
        linear(rb, rF, a->ln2, bw->fc1_w, L, E, F, w);
        clone_relprop(ra, rb, a->x_mid, LE);
        /* x_mid = x_in + proj(attn @ v) */
        mxb_linear_forward(tmpE, a->ctx, bw->proj_w, bw->proj_b, L, E, E, 0.0f);
        add(cam, rb, ra, a->x_in, tmpE, LE);
        linear(xout, rb, a->ctx, bw->proj_w, L, E, E, w);
        for (int h = 0; h < H; h++) {
            const float *q = a->qkv + h * hd, *k = a->qkv + E + h * hd, *v = a->qkv + 2 * E + h * hd;
            const float *att = a->attn + (size_t)h * L * L;
            float *rattn = a->attn_rel + (size_t)h * L * L;
            /* out_h = attn_h v_h */
            matmul_relprop(rattn, L, rqkv + 2 * E + h * hd, 3 * E, xout + h * hd, E, att, L, 0, v,
                           3 * E, L, L, hd, S);
            if (last_only) continue; /* partial LRP reads R_A of the last block only */
            if (i == 0 && !to_input) continue; /* block 0's attention relevance is all that is left */
            /* scores = q_h k_h^T (the relprop uses the unscaled product) */
            matmul_relprop(rqkv + h * hd, 3 * E, rqkv + E + h * hd, 3 * E, rattn, L, q, 3 * E, 1,
                           k, 3 * E, L, hd, L, S);
        }
        if (last_only || (i == 0 && !to_input)) break;
        linear(rb, rqkv, a->ln1, bw->qkv_w, L, E, 3 * E, w);
        clone_relprop(cam, rb, a->x_in, LE);
    }
    if (to_input) lrp_patch_conv(c, cam, image, input_rel);
    return 0;
}

int mxb_vit_lrp(mxb_ctx *c, const float *seed) { return lrp_pass(c, seed, 0, NULL, NULL); }

/* From the relevance cam [L, E] of the tokens after pos_embed (the stream entering
 * block 0) to the pixels: self.add.relprop of [cat(cls, patch_embed(x)), pos_embed]
 * (plain rule, the first operand's share), the class token dropped, then
 * PatchEmbed.relprop: the 3-channel Conv2d's z^B rule of layers_lrp.py
 * (ℓ, h = min, max of the whole image; no bias; a plain +1e-9):
 *   Z = conv(X, W) − conv(ℓ, W⁺) − conv(h, W⁻) + 1e-9,  S = R / Z,
 *   R_X = X ⊙ convᵀ(S, W) − ℓ convᵀ(S, W⁺) − h convᵀ(S, W⁻),
 * and the sum over channels: input_rel [img_size, img_size]. The conv has stride =
 * kernel, so it is the patch matrix product and convᵀ a scatter back (col2im). */
static void lrp_patch_conv(mxb_ctx *c, const float *cam, const float *image, float *input_rel) {
    const mxb_model *m = c->m;
    const mxb_config *g = &m->cfg;
    const int E = g->embed_dim, M = g->num_patches, P = g->patch_size, S = g->img_size, Cin = g->in_chans;
    const int K = Cin * P * P, G = g->grid;
    const vit_lrp_ws *w = &c->vit.lrp;
    float *pe = w->tmpE, *R = w->ra, *Z = w->rb;
    /* the Add's first operand: the patch embedding (recomputed) after the class token */
    mxb_patchify(c->patches, image, Cin, S, P);
    mxb_linear_forward(pe, c->patches, m->patch_w, m->patch_b, M, K, E, 0.0f);
    for (size_t k = 0; k < (size_t)M * E; k++) {
        const float x1 = pe[k], x2 = m->pos_embed[(size_t)E + k];
        R[k] = x1 * safe_div(cam[(size_t)E + k], x1 + x2);
    }
    /* ℓ, h over every channel and pixel */
    const size_t npix = (size_t)Cin * S * S;
    float lo = image[0], hi = image[0];
    for (size_t k = 1; k < npix; k++) {
        lo = image[k] < lo ? image[k] : lo;
        hi = image[k] > hi ? image[k] : hi;
    }
    const size_t nW = (size_t)E * K;
    for (size_t k = 0; k < nW; k++) {
        w->pw[k] = m->patch_w[k] > 0 ? m->patch_w[k] : 0;
        w->nw[k] = m->patch_w[k] < 0 ? m->patch_w[k] : 0;
    }
    /* Z [M, E] = conv(X, W) − ℓ Σ W⁺ − h Σ W⁻ + 1e-9 (the constant images' convs) */
    mxb_sgemm_rm(CblasNoTrans, CblasTrans, M, E, K, 1.0f, c->patches, K, m->patch_w, K, 0.0f, Z, E);
    for (int e = 0; e < E; e++) {
        double sp = 0, sn = 0;
        for (int k = 0; k < K; k++) {
            sp += w->pw[(size_t)e * K + k];
            sn += w->nw[(size_t)e * K + k];
        }
        const float zl = lo * (float)sp, zh = hi * (float)sn;
        for (int p = 0; p < M; p++) {
            float *z = Z + (size_t)p * E + e;
            *z = *z - zl - zh + 1e-9f;
        }
    }
    for (size_t k = 0; k < (size_t)M * E; k++) R[k] = R[k] / Z[k]; /* S, in place */
    /* convᵀ(S, ·) as [M, K] products: S W, S W⁺, S W⁻ */
    float *gw = w->px, *gp = w->nx, *gn = w->Z;
    mxb_sgemm_rm(CblasNoTrans, CblasNoTrans, M, K, E, 1.0f, R, E, m->patch_w, K, 0.0f, gw, K);
    mxb_sgemm_rm(CblasNoTrans, CblasNoTrans, M, K, E, 1.0f, R, E, w->pw, K, 0.0f, gp, K);
    mxb_sgemm_rm(CblasNoTrans, CblasNoTrans, M, K, E, 1.0f, R, E, w->nw, K, 0.0f, gn, K);
    memset(input_rel, 0, (size_t)S * S * sizeof(float));
    for (int gy = 0; gy < G; gy++)
        for (int gx = 0; gx < G; gx++) {
            const size_t p = (size_t)gy * G + gx;
            for (int ch = 0; ch < Cin; ch++)
                for (int ky = 0; ky < P; ky++)
                    for (int kx = 0; kx < P; kx++) {
                        const size_t k = p * K + (size_t)(ch * P + ky) * P + kx;
                        const size_t y = (size_t)gy * P + ky, x = (size_t)gx * P + kx;
                        const float X = image[((size_t)ch * S + y) * S + x];
                        input_rel[y * S + x] += X * gw[k] - lo * gp[k] - hi * gn[k];
                    }
        }
}

int mxb_vit_lrp_rules(mxb_ctx *c, const float *seed, unsigned rules, const float *image, float *input_rel) {
    if (!(c->flags & MXB_TRACE_KEEP) || c->m->cfg.arch != MXB_ARCH_VIT) return -1;
    if ((rules & MXB_LRP_TO_INPUT) && (!input_rel || !image)) return -1;
    return lrp_pass(c, seed, rules, image, input_rel);
}

int mxb_relevance(mxb_ctx *c, const float *seed) {
    if (!(c->flags & MXB_TRACE_KEEP) || c->m->cfg.arch != MXB_ARCH_VIT) return -1;
    return mxb_vit_lrp(c, seed);
}
