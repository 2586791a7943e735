/* Occlusion (Captum Occlusion, sliding_window_shapes (C, w, w), strides (C, s, s),
 * baselines 0): ceil((S - w)/s) + 1 window positions per axis (a last window may hang
 * over the edge: clipped), each one forward with the window set to the baseline;
 *   A[p] = Σ_{windows ∋ p} (f(x) - f(x_window)) / #{windows ∋ p}
 * (FeatureAblation's weighted sum over its count), the same on every channel, so the
 * channel sum is C times it. docs/METHODS-v2.md §3.5.4. Untraced forwards in chunks
 * through forward_many. */
#include "methods/pixel_common.h"

#define OCC_CHUNK 16

static const mxb_param_spec occ_params[] = {
    {"window", MXB_PARAM_INT, 0, 0, 1 << 16, NULL, "window side in pixels (0: the patch size)"},
    {"stride", MXB_PARAM_INT, 0, 0, 1 << 16, NULL, "stride in pixels (0: half the window)"},
    {"baseline", MXB_PARAM_REAL, 0, -1e6, 1e6, NULL, "the occluded value (normalised units)"},
};

typedef struct {
    int w, s, n; /* window, stride, positions per axis */
} occ_grid;

static int occ_layout(const mxb_explain_input *g, const double *p, occ_grid *o) {
    o->w = (int)p[0] ? (int)p[0] : g->patch_size;
    o->s = (int)p[1] ? (int)p[1] : (o->w / 2 > 0 ? o->w / 2 : 1);
    if (o->w > g->img_size) return -1;
    o->n = (g->img_size - o->w + o->s - 1) / o->s + 1; /* ceil((S - w) / s) + 1 */
    return 0;
}

static int occ_cost(const mxb_explain_input *g, const double *p, mxb_cost *out) {
    occ_grid o;
    if (occ_layout(g, p, &o)) return -1;
    const size_t nin = (size_t)g->in_chans * g->img_size * g->img_size, npix = (size_t)g->img_size * g->img_size;
    *out = (mxb_cost){.traced_forwards = 1, .plain_forwards = (double)o.n * o.n,
                      .scratch_bytes = OCC_CHUNK * (nin + (size_t)g->num_classes) * sizeof(float) +
                                       npix * (sizeof(double) + sizeof(int))};
    return 0;
}

static int occ_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    const px_geom G = px_geometry(in);
    occ_grid o;
    if (occ_layout(in, in->param_values, &o)) {
        snprintf(err, errlen, "occlusion: the window is larger than the %d px image", G.S);
        return -1;
    }
    const float base = (float)in->param_values[2];
    float *imgs = px_scratch(in, OCC_CHUNK * G.nin * sizeof *imgs, "occlusion", err, errlen);
    float *logits = imgs ? px_scratch(in, OCC_CHUNK * (size_t)G.K * sizeof *logits, "occlusion", err, errlen) : NULL;
    double *acc = logits ? px_scratch(in, G.npix * sizeof *acc, "occlusion", err, errlen) : NULL;
    int *count = acc ? px_scratch(in, G.npix * sizeof *count, "occlusion", err, errlen) : NULL;
    if (!count) return -1;
    memset(acc, 0, G.npix * sizeof *acc);
    memset(count, 0, G.npix * sizeof *count);
    const int total = o.n * o.n, cls = in->explained_class;
    const float f0 = in->logits[cls];
    for (int first = 0; first < total; first += OCC_CHUNK) {
        const int nb = total - first < OCC_CHUNK ? total - first : OCC_CHUNK;
        for (int b = 0; b < nb; b++) {
            const int y0 = (first + b) / o.n * o.s, x0 = (first + b) % o.n * o.s;
            const int y1 = y0 + o.w < G.S ? y0 + o.w : G.S, x1 = x0 + o.w < G.S ? x0 + o.w : G.S;
            float *im = imgs + (size_t)b * G.nin;
            memcpy(im, in->input, G.nin * sizeof *im);
            for (int c = 0; c < G.C; c++)
                for (int y = y0; y < y1; y++)
                    for (int x = x0; x < x1; x++) im[(size_t)c * G.npix + (size_t)y * G.S + x] = base;
        }
        if (in->model->forward_many(in->run, nb, imgs, logits)) {
            snprintf(err, errlen, "occlusion: the model's forwards failed");
            return -1;
        }
        for (int b = 0; b < nb; b++) {
            const int y0 = (first + b) / o.n * o.s, x0 = (first + b) % o.n * o.s;
            const int y1 = y0 + o.w < G.S ? y0 + o.w : G.S, x1 = x0 + o.w < G.S ? x0 + o.w : G.S;
            const float d = f0 - logits[(size_t)b * G.K + cls];
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++) acc[(size_t)y * G.S + x] += d, count[(size_t)y * G.S + x]++;
        }
    }
    for (size_t i = 0; i < G.npix; i++) map[i] = count[i] ? (float)(G.C * (acc[i] / count[i])) : 0.0f;
    return 0;
}

const mxb_method mxb_method_occlusion = {
    .abi_version = MXB_METHOD_ABI_VERSION,
    .name = "occlusion",
    .description = "Occlusion (Captum), window and stride in pixels, channels summed",
    .archs = MXB_METHOD_VIT | MXB_METHOD_VIM,
    .needs = MXB_NEEDS_MODEL,
    .class_specific = 1,
    .explain = occ_explain,
    .family = "perturbation",
    .map_kind = MXB_MAP_PIXELS,
    .params = occ_params,
    .nparams = 3,
    .cost = occ_cost,
};
