/* FROZEN: methods/plugins/gradcam.c built against the ABI 1 header (tests/plugins/v1/method.h):
 * a v1 plugin must load, be listed as ABI 1 and give the same maps as the v2 build. */
/* An example method plugin, built outside libmxb against methods/method.h alone.
 *   ViT: Chefer et al.'s GradCAM on the last attention block (Baselines.generate_cam_attn):
 *        each head's class-token attention weighted by the mean of its gradient, heads
 *        mean, clamp >= 0.
 *   ViM: gradient x activation of the stream leaving layer l (default the middle
 *        layer): clamp(Σ_e g[t,e] r[t,e], 0) with g = Block.get_gradients of layer l and
 *        r the residual entering layer l+1, the tensor that gradient belongs to.
 * Build: cc -shared -fPIC -I<mxb source> gradcam.c -o libgradcam.so */
#include "tests/plugins/v1/method.h"

#include <stdio.h>
#include <stdlib.h>

static int gradcam_vit(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    const int L = in->seq_len, H = in->num_heads, b = in->depth - 1, P = L - 1;
    const float *A = in->attn(in->trace, b), *G = in->attn_grad(in->trace, b);
    if (!A || !G) {
        snprintf(err, errlen, "gradcam: no attention gradient in the trace");
        return -1;
    }
    for (int j = 0; j < P; j++) map[j] = 0;
    for (int h = 0; h < H; h++) {
        const float *a = A + (size_t)h * L * L, *g = G + (size_t)h * L * L; /* row 0 */
        double w = 0;
        for (int j = 1; j < L; j++) w += g[j];
        w /= P;
        for (int j = 1; j < L; j++) map[j - 1] += (float)(a[j] * w);
    }
    for (int j = 0; j < P; j++) {
        map[j] /= (float)H;
        map[j] = map[j] > 0 ? map[j] : 0;
    }
    return 0;
}

static int gradcam_vim(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    const int L = in->seq_len, E = in->embed_dim;
    const int layer = in->start_layer >= 0 ? in->start_layer : in->depth / 2;
    if (layer >= in->depth - 1) {
        snprintf(err, errlen, "gradcam: layer %d is outside 0..%d", layer, in->depth - 2);
        return -1;
    }
    const float *r = in->residual(in->trace, layer + 1), *g = in->residual_grad(in->trace, layer);
    if (!r || !g) {
        snprintf(err, errlen, "gradcam: no residual gradient for layer %d", layer);
        return -1;
    }
    for (int t = 0, k = 0; t < L; t++) {
        if (t == in->cls_pos) continue;
        double s = 0;
        for (int e = 0; e < E; e++) s += (double)g[(size_t)t * E + e] * r[(size_t)t * E + e];
        map[k++] = s > 0 ? (float)s : 0;
    }
    return 0;
}

static int gradcam_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    if (in->struct_size < sizeof(mxb_explain_input)) {
        snprintf(err, errlen, "gradcam: the host's explain input is older than this plugin");
        return -1;
    }
    return in->arch == MXB_METHOD_ARCH_VIT ? gradcam_vit(in, map, err, errlen) : gradcam_vim(in, map, err, errlen);
}

static const mxb_method gradcam = {
    .abi_version = MXB_METHOD_ABI_VERSION,
    .name = "gradcam-v1",
    .description = "GradCAM-style: ViT last-block attention x mean gradient; ViM residual "
                   "gradient x activation",
    .archs = MXB_METHOD_VIT | MXB_METHOD_VIM,
    .needs = MXB_NEEDS_GRADIENT,
    .class_specific = 1,
    .explain = gradcam_explain,
};

static const mxb_method *const methods[] = {&gradcam};

const mxb_method *const *mxb_plugin_methods(int *count) {
    *count = 1;
    return methods;
}
