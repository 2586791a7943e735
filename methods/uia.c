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
    /* no min-max of the rows (:346, :351 commented out), unlike Mamba-Attribution; the
     * fused row is min-maxed */
    return mxb_vim_gradient_rollout(in, map, "uia", MXB_FUSE_MINMAX_FUSED, err, errlen);
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
