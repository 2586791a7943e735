/* Chefer et al.'s LRP baselines for ViT (hila-chefer/Transformer-Explainability,
 * baselines/ViT/ViT_orig_LRP.py relprop, modules/layers_lrp.py rules; docs/
 * METHODS-v2.md §3.1), from the one-hot of the explained class, alpha 1:
 *   lrp-partial       method="last_layer": the last block's attention relevance R_A
 *                     (matmul2's attention operand, halved), clamp >= 0, heads mean,
 *                     the class token's row, patch columns
 *   lrp-partial-grad  the same with is_ablation=True: R_A ⊙ its gradient first
 *   lrp-full          method="full": LRP on to the pixels (z^B rule at the patch conv),
 *                     channel sum. The original evaluates this [S, S] map per pixel;
 *                     ABI v1 returns the patch grid, so the map here is the patch mean
 *                     of the pixel map (docs/METHODS-v2.md §3.6's stored form). */
#include "methods/common.h"

#include <stdlib.h>

static int partial(const mxb_explain_input *in, float *map, int with_grad, char *err, size_t errlen) {
    const int L = in->seq_len, H = in->num_heads, b = in->depth - 1;
    const float *R = in->attn_relevance(in->trace, b);
    const float *G = with_grad ? in->attn_grad(in->trace, b) : NULL;
    if (!R || (with_grad && !G)) {
        mxb_seterr(err, errlen, "lrp-partial: no %s for the last block in the trace",
                   R ? "attention gradient" : "attention relevance");
        return -1;
    }
    for (int j = 1; j < L; j++) {
        float s = 0; /* torch: clamp, then sum over heads / H */
        for (int h = 0; h < H; h++) {
            const size_t k = (size_t)h * L * L + j; /* row 0 */
            const float v = with_grad ? G[k] * R[k] : R[k];
            s += v > 0 ? v : 0;
        }
        map[j - 1] = s / (float)H;
    }
    return 0;
}

static int partial_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    return partial(in, map, 0, err, errlen);
}
static int partial_grad_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    return partial(in, map, 1, err, errlen);
}

static int full_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    const float *R = in->pixel_relevance ? in->pixel_relevance(in->trace) : NULL;
    if (!R) {
        mxb_seterr(err, errlen, "lrp-full: the host ran no LRP pass to the input");
        return -1;
    }
    const int S = in->img_size, G = in->grid, P = S / G;
    for (int gy = 0; gy < G; gy++)
        for (int gx = 0; gx < G; gx++) {
            double s = 0;
            for (int y = gy * P; y < (gy + 1) * P; y++)
                for (int x = gx * P; x < (gx + 1) * P; x++) s += R[(size_t)y * S + x];
            map[gy * G + gx] = (float)(s / ((double)P * P));
        }
    return 0;
}

const mxb_method mxb_method_lrp_partial = {
    .abi_version = MXB_METHOD_ABI_VERSION,
    .name = "lrp-partial",
    .description = "partial LRP (Chefer's baseline): last block's attention relevance, layers_lrp rules",
    .archs = MXB_METHOD_VIT,
    .needs = MXB_NEEDS_RELEVANCE_ORIG | MXB_NEEDS_RELEVANCE_LAST,
    .class_specific = 1,
    .explain = partial_explain,
};

const mxb_method mxb_method_lrp_partial_grad = {
    .abi_version = MXB_METHOD_ABI_VERSION,
    .name = "lrp-partial-grad",
    .description = "partial LRP with is_ablation: last block's attention relevance x its gradient",
    .archs = MXB_METHOD_VIT,
    .needs = MXB_NEEDS_GRADIENT | MXB_NEEDS_RELEVANCE_ORIG | MXB_NEEDS_RELEVANCE_LAST,
    .class_specific = 1,
    .explain = partial_grad_explain,
};

const mxb_method mxb_method_lrp_full = {
    .abi_version = MXB_METHOD_ABI_VERSION,
    .name = "lrp-full",
    .description = "full LRP (Chefer's baseline): layers_lrp rules to the pixels (z^B), patch mean",
    .archs = MXB_METHOD_VIT,
    .needs = MXB_NEEDS_RELEVANCE_ORIG | MXB_NEEDS_RELEVANCE_INPUT,
    .class_specific = 1,
    .explain = full_explain,
};
