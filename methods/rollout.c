/* rollout: Abnar & Zuidema's attention rollout as Chefer's Baselines.generate_rollout
 * (ViT) and HiddenMambaAttn's generate_rollout (ViM) compute it. */
#include "methods/common.h"

#include <stdlib.h>
#include <string.h>

static int rollout_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    const int L = in->seq_len, vit = in->arch == MXB_METHOD_ARCH_VIT;
    const int start = vit ? vit_start_layer(in) : vim_start_layer(in);
    if (check_start(in, start, "rollout", err, errlen)) return -1;
    float **mats = mxb_alloc0((size_t)in->depth, sizeof *mats, "rollout buffers");
    float *v = vit ? NULL : mxb_alloc((size_t)in->d_inner * L * sizeof *v, "rollout buffers");
    float *row = mxb_alloc((size_t)L * sizeof *row, "rollout buffers");
    int rc = 0;
    for (int l = start; l < in->depth && !rc; l++) {
        float *M = mats[l] = mxb_alloc((size_t)L * L * sizeof *M, "rollout buffers");
        if (vit) { /* heads mean of the attention probabilities */
            const float *A = in->attn(in->trace, l);
            if (!A) {
                mxb_seterr(err, errlen, "rollout: the trace has no attention for block %d", l);
                rc = -1;
                break;
            }
            mean_rows(A, in->num_heads, L * L, M);
        } else {   /* channel mean of the xai vector, the same for every row */
            if (in->xai_vector(in->trace, l, v)) {
                mxb_seterr(err, errlen, "rollout: no hidden attention for layer %d", l);
                rc = -1;
                break;
            }
            mean_rows(v, in->d_inner, L, M);
            for (int i = 1; i < L; i++) memcpy(M + (size_t)i * L, M, (size_t)L * sizeof *M);
        }
    }
    if (!rc) {
        mxb_rollout_cls_row((const float *const *)mats, in->depth, start, L, in->cls_pos, 1, row);
        if (!vit) /* generate_rollout clamps; Baselines.generate_rollout does not */
            for (int j = 0; j < L; j++) row[j] = row[j] > 0 ? row[j] : 0;
        mxb_drop_cls(row, L, in->cls_pos, map);
    }
    for (int l = 0; l < in->depth; l++) free(mats[l]);
    free(mats);
    free(v);
    free(row);
    return rc;
}

const mxb_method mxb_method_rollout = {
    .abi_version = MXB_METHOD_ABI_VERSION,
    .name = "rollout",
    .description = "attention rollout (identity added, rows normalised) from the start layer",
    .archs = MXB_METHOD_VIT | MXB_METHOD_VIM,
    .needs = 0,
    .class_specific = 0,
    .explain = rollout_explain,
};
