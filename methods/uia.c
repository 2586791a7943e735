/* uia: "ours" of Zimerman, Ali, Wolf, "Explaining Modern Gated-Linear RNNs via a
 * Unified Implicit Attention Formulation" (ICLR 2025), as generate_ours in
 * MambaVision/imagenet_seg_eval.py (UnifiedImplicitAttnRepr @ fadeaee, :320-359)
 * computes it; docs/METHODS-v2.md 3.2. ViM only. The rows are UIA's CLS rows
 * (MXB_ROW_UIA, with the run's ablation bits when its variant is a UIA form: the
 * harness hands this method UIA rows whatever the run's variant). */
#include "methods/common.h"

#include <stdlib.h>
#include <string.h>

/* Per layer from the start layer (depth·15/24, the original's 15 of 24):
 *   s = minmax(max_e clamp(Block.get_gradients(), 0))  over tokens,
 *   a = mean_c clamp(attn_vec, 0)                      — no min-max here (:346, :351
 *       commented out), unlike Mamba-Attribution,
 *   f = minmax(a ⊙ s),
 * f broadcast to every row, + I, rows normalised, rolled out M_{n-1}···M_start;
 * the map is the clamped CLS row without the class token. */
static int uia_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    if (MXB_ROW_FORM(in->variant) != MXB_ROW_UIA) { /* a host that does not give UIA rows */
        mxb_seterr(err, errlen, "uia: the host gave hidden-attention rows of form %d, not UIA (%d)",
                   in->variant, MXB_ROW_UIA);
        return -1;
    }
    const int L = in->seq_len, D = in->d_inner, E = in->embed_dim, start = vim_start_layer(in);
    if (check_start(in, start, "uia", err, errlen)) return -1;
    float **mats = mxb_alloc0((size_t)in->depth, sizeof *mats, "uia buffers");
    float *v = mxb_alloc((size_t)D * L * sizeof *v, "uia buffers");
    float *s = mxb_alloc((size_t)L * sizeof *s, "uia buffers");
    float *row = mxb_alloc((size_t)L * sizeof *row, "uia buffers");
    int rc = 0;
    for (int l = start; l < in->depth; l++) {
        const float *g = in->residual_grad(in->trace, l);
        if (!g || in->xai_vector(in->trace, l, v)) {
            mxb_seterr(err, errlen, "uia: layer %d lacks its gradient or UIA attention row", l);
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
        float *M = mats[l] = mxb_alloc((size_t)L * L * sizeof *M, "uia buffers");
        mean_rows(v, D, L, M);
        for (int j = 0; j < L; j++) M[j] *= s[j];
        minmax_inplace(M, (size_t)L);
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

const mxb_method mxb_method_uia = {
    .abi_version = MXB_METHOD_ABI_VERSION,
    .name = "uia",
    .description = "UIA attribution (Zimerman et al. 2025, ViM): implicit attention with conv and gate "
                   "x residual gradient, rolled out (variant uia-noconv|-nogate|-noact: its ablations)",
    .archs = MXB_METHOD_VIM,
    .needs = MXB_NEEDS_GRADIENT,
    .class_specific = 1,
    .explain = uia_explain,
};
