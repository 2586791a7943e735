/* attribution: Transformer-Attribution (Chefer et al. 2021) on ViT and
 * Mamba-Attribution (Ali et al. 2024) on ViM, both class-specific. */
#include "methods/common.h"

#include <stdlib.h>
#include <string.h>

/* Per block mean_heads(max(∇A ⊙ R_A, 0)), rolled out from the start layer with
 * ViT_LRP.py's own compute_rollout_attention, whose row normalisation is commented
 * out: identity added, rows NOT normalised (a written spec said normalised; the code
 * that made the numbers does not: docs/PROTOCOLS.md, section 8). */
static int attribution_vit(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    const int L = in->seq_len, H = in->num_heads, start = vit_start_layer(in);
    if (check_start(in, start, "attribution", err, errlen)) return -1;
    float **mats = mxb_alloc0((size_t)in->depth, sizeof *mats, "attribution buffers");
    float *row = mxb_alloc((size_t)L * sizeof *row, "attribution buffers");
    int rc = 0;
    for (int b = start; b < in->depth; b++) {
        const float *G = in->attn_grad(in->trace, b), *R = in->attn_relevance(in->trace, b);
        if (!G || !R) {
            mxb_seterr(err, errlen, "attribution: block %d lacks attention gradient or relevance", b);
            rc = -1;
            break;
        }
        float *M = mats[b] = mxb_alloc0((size_t)L * L, sizeof *M, "attribution buffers");
        for (int h = 0; h < H; h++)
            for (size_t k = 0; k < (size_t)L * L; k++) {
                const float x = G[(size_t)h * L * L + k] * R[(size_t)h * L * L + k];
                M[k] += x > 0 ? x : 0;
            }
        for (size_t k = 0; k < (size_t)L * L; k++) M[k] /= (float)H;
    }
    if (!rc) {
        mxb_rollout_cls_row((const float *const *)mats, in->depth, start, L, in->cls_pos, 0, row);
        mxb_drop_cls(row, L, in->cls_pos, map);
    }
    for (int b = 0; b < in->depth; b++) free(mats[b]);
    free(mats);
    free(row);
    return rc;
}

/* The gradient-weighted hidden-attention rollout of ViM, shared by Mamba-Attribution
 * (generate_mamba_attr) and UIA (generate_ours): per layer from the start layer,
 *   s = minmax(max_e clamp(residual gradient, 0))   over tokens,
 *   a = channel mean of clamp(CLS row, 0), min-maxed first when MXB_FUSE_MINMAX_ROWS,
 *   f = s ⊙ a, min-maxed when MXB_FUSE_MINMAX_FUSED,
 * f broadcast to every row; rollout (rows normalised) from the start layer; the map is
 * the clamped CLS row without the class token. */
int mxb_vim_gradient_rollout(const mxb_explain_input *in, float *map, const char *name, unsigned flags, char *err,
                             size_t errlen) {
    const int L = in->seq_len, D = in->d_inner, E = in->embed_dim, start = vim_start_layer(in);
    if (check_start(in, start, name, err, errlen)) return -1;
    float **mats = mxb_alloc0((size_t)in->depth, sizeof *mats, "the rollout's buffers");
    float *v = mxb_alloc((size_t)D * L * sizeof *v, "the rollout's buffers");
    float *s = mxb_alloc((size_t)L * sizeof *s, "the rollout's buffers");
    float *row = mxb_alloc((size_t)L * sizeof *row, "the rollout's buffers");
    int rc = 0;
    for (int l = start; l < in->depth; l++) {
        const float *g = in->residual_grad(in->trace, l);
        if (!g || in->xai_vector(in->trace, l, v)) {
            mxb_seterr(err, errlen, "%s: layer %d lacks its gradient or hidden attention", name, l);
            rc = -1;
            break;
        }
        for (int t = 0; t < L; t++) {
            float mx = 0; /* max over dim of the clamped gradient */
            for (int e = 0; e < E; e++) mx = g[(size_t)t * E + e] > mx ? g[(size_t)t * E + e] : mx;
            s[t] = mx;
        }
        minmax_inplace(s, (size_t)L);
        for (size_t k = 0; k < (size_t)D * L; k++) v[k] = v[k] > 0 ? v[k] : 0;
        if (flags & MXB_FUSE_MINMAX_ROWS) minmax_inplace(v, (size_t)D * L);
        float *M = mats[l] = mxb_alloc((size_t)L * L * sizeof *M, "the rollout's buffers");
        mean_rows(v, D, L, M);
        for (int j = 0; j < L; j++) M[j] *= s[j];
        if (flags & MXB_FUSE_MINMAX_FUSED) minmax_inplace(M, (size_t)L);
        for (int i = 1; i < L; i++) memcpy(M + (size_t)i * L, M, (size_t)L * sizeof *M);
    }
    if (!rc) {
        mxb_rollout_cls_row((const float *const *)mats, in->depth, start, L, in->cls_pos, 1, row);
        for (int j = 0; j < L; j++) row[j] = row[j] > 0 ? row[j] : 0;
        mxb_drop_cls(row, L, in->cls_pos, map);
    }
    for (int l = 0; l < in->depth; l++) free(mats[l]);
    free(mats);
    free(v);
    free(s);
    free(row);
    return rc;
}

static int attribution_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    return in->arch == MXB_METHOD_ARCH_VIT ? attribution_vit(in, map, err, errlen)
                         : mxb_vim_gradient_rollout(in, map, "attribution", MXB_FUSE_MINMAX_ROWS, err, errlen);
}

const mxb_method mxb_method_attribution = {
    .abi_version = MXB_METHOD_ABI_VERSION,
    .name = "attribution",
    .description = "Transformer-Attribution (ViT: LRP relevance x gradient of attention) / "
                   "Mamba-Attribution (ViM: hidden attention x residual gradient), rolled out",
    .archs = MXB_METHOD_VIT | MXB_METHOD_VIM,
    .needs = MXB_NEEDS_GRADIENT | MXB_NEEDS_RELEVANCE,
    .class_specific = 1,
    .explain = attribution_explain,
};
