/* raw-attention: ViT last_layer_attn (Chefer et al.); ViM generate_raw_attn. */
#include "methods/common.h"

#include <stdlib.h>
#include <string.h>

static int raw_vit(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    const int L = in->seq_len, H = in->num_heads;
    const float *A = in->attn(in->trace, in->depth - 1);
    if (!A) {
        mxb_seterr(err, errlen, "raw-attention: the trace has no attention");
        return -1;
    }
    /* clamp >= 0, mean over heads, class token's row, patches only */
    float *row = mxb_alloc0((size_t)L, sizeof *row, "raw-attention buffers");
    for (int h = 0; h < H; h++)
        for (int j = 0; j < L; j++) {
            const float a = A[((size_t)h * L + in->cls_pos) * L + j];
            row[j] += a > 0 ? a : 0;
        }
    for (int j = 0; j < L; j++) row[j] /= (float)H;
    mxb_drop_cls(row, L, in->cls_pos, map);
    free(row);
    return 0;
}

static int raw_vim(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    const int L = in->seq_len, D = in->d_inner, start = vim_start_layer(in);
    if (check_start(in, start, "raw-attention", err, errlen)) return -1;
    float *v = mxb_alloc((size_t)D * L * sizeof *v, "raw-attention buffers");
    float *layer = mxb_alloc((size_t)L * sizeof *layer, "raw-attention buffers");
    float *acc = mxb_alloc0((size_t)L, sizeof *acc, "raw-attention buffers");
    int rc = 0;
    /* per layer: min-max over the whole [D, L] vector, mean over channels;
     * then the mean over layers from start */
    for (int l = start; l < in->depth && !rc; l++) {
        if (in->xai_vector(in->trace, l, v)) {
            mxb_seterr(err, errlen, "raw-attention: no hidden attention for layer %d", l);
            rc = -1;
            break;
        }
        minmax_inplace(v, (size_t)D * L);
        mean_rows(v, D, L, layer);
        for (int j = 0; j < L; j++) acc[j] += layer[j];
    }
    if (!rc) {
        for (int j = 0; j < L; j++) {
            acc[j] /= (float)(in->depth - start);
            acc[j] = acc[j] > 0 ? acc[j] : 0;
        }
        mxb_drop_cls(acc, L, in->cls_pos, map);
    }
    free(v);
    free(layer);
    free(acc);
    return rc;
}

static int raw_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    return in->arch == MXB_METHOD_ARCH_VIT ? raw_vit(in, map, err, errlen) : raw_vim(in, map, err, errlen);
}

const mxb_method mxb_method_raw_attention = {
    .abi_version = MXB_METHOD_ABI_VERSION,
    .name = "raw-attention",
    .description = "attention of the class token: ViT last block (heads mean), "
                   "ViM hidden attention (min-max per layer, mean of layers >= start)",
    .archs = MXB_METHOD_VIT | MXB_METHOD_VIM,
    .needs = 0,
    .class_specific = 0,
    .explain = raw_explain,
};
