/* MambaLRP (Jafari et al., NeurIPS 2024; FarnoushRJ/MambaLRP) for ViM: LRP written as a
 * modified gradient (engine: mxb_vim_mambalrp, docs/METHODS-v2.md §3.4), read as
 * gradient x input at the embedded tokens, summed over channels
 * (vision_relevance_propagation, mamba_lrp/model/utils.py); the class token's entry
 * dropped, the rest is the patch grid, signed.
 *
 * Rule sets, one method each (the released vision code never says which produced the
 * published maps, so both are offered):
 *   mambalrp                   the paper's: A, B, C detached, half rule on the gate,
 *                              SiLU identity rule, RMSNorm denominator detached
 *                              (layer_transforms ['act', 'norm'], as the NLP wrapper)
^ *   mambalrp-vision            ModifiedVisionMamba's default layer_transforms = []:
 *                              the detaches and the half rule only
 *   ...-conv-gamma             either, with the conv1d's γ rule (γ 0.25) */
#include "methods/common.h"

static int mambalrp_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    const float *R = in->token_relevance ? in->token_relevance(in->trace) : NULL;
    if (!R) {
        mxb_seterr(err, errlen, "mambalrp: the host ran no MambaLRP pass");
        return -1;
    }
    mxb_drop_cls(R, in->seq_len, in->cls_pos, map);
    return 0;
}

#define PAPER (MXB_NEEDS_MAMBALRP | MXB_NEEDS_LRP_SILU_IDENTITY | MXB_NEEDS_LRP_NORM_DETACH)
#define VISION MXB_NEEDS_MAMBALRP

#define MAMBALRP(sym, nm, needs_, what)                                                           \
    const mxb_method sym = {                                                                      \
        .abi_version = MXB_METHOD_ABI_VERSION,                                                    \
        .name = nm,                                                                               \
        .description = "MambaLRP (Jafari et al.): gradient x input at the tokens, " what,          \
        .archs = MXB_METHOD_VIM,                                                                  \
        .needs = needs_,                                                                          \
        .class_specific = 1,                                                                      \
        .explain = mambalrp_explain,                                                              \
    }

MAMBALRP(mxb_method_mambalrp, "mambalrp", PAPER,
         "the paper's rules (A,B,C detached, half gate, SiLU identity, RMSNorm detached)");
MAMBALRP(mxb_method_mambalrp_vision, "mambalrp-vision", VISION,
         "the vision code's default rules (A,B,C detached, half gate)");
MAMBALRP(mxb_method_mambalrp_gamma, "mambalrp-gamma", PAPER | MXB_NEEDS_LRP_CONV_GAMMA,
         "the paper's rules + conv1d gamma 0.25");
MAMBALRP(mxb_method_mambalrp_vision_gamma, "mambalrp-vision-gamma",
         VISION | MXB_NEEDS_LRP_CONV_GAMMA, "the vision code's default rules + conv1d gamma 0.25");
