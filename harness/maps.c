/* What the harness does to every method's map: bilinear upsampling to the input size
 * (F.interpolate(scale_factor=16, mode="bilinear"), align_corners false) and min-max
 * normalisation, as the reference evaluations store `vis`. */
#include "harness/harness.h"

#include <math.h>

/* PyTorch's area_pixel_compute_source_index for align_corners=False */
static float source_index(float scale, int dst) {
    float s = scale * ((float)dst + 0.5f) - 0.5f;
    return s < 0 ? 0 : s;
}

void mxb_map_upsample(const float *map, int gh, int gw, float *out, int oh, int ow) {
    const float sh = (float)gh / (float)oh, sw = (float)gw / (float)ow;
    for (int y = 0; y < oh; y++) {
        const float fy = source_index(sh, y);
        const int y0 = (int)fy, y1 = y0 + 1 < gh ? y0 + 1 : gh - 1;
        const float ly = fy - (float)y0, hy = 1.0f - ly;
        for (int x = 0; x < ow; x++) {
            const float fx = source_index(sw, x);
            const int x0 = (int)fx, x1 = x0 + 1 < gw ? x0 + 1 : gw - 1;
            const float lx = fx - (float)x0, hx = 1.0f - lx;
            out[(size_t)y * ow + x] =
                hy * (hx * map[y0 * gw + x0] + lx * map[y0 * gw + x1]) +
                ly * (hx * map[y1 * gw + x0] + lx * map[y1 * gw + x1]);
        }
    }
}

void mxb_map_minmax(float *x, size_t n) {
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    /* (x - min) / (max - min); a constant map (0/0 in the reference) becomes zeros */
    for (size_t i = 0; i < n; i++) x[i] = hi > lo ? (x[i] - lo) / (hi - lo) : 0.0f;
}
