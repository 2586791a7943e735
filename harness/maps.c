/* What the harness does to every method's map: bilinear upsampling to the input size
 * (F.interpolate(scale_factor=16, mode="bilinear"), align_corners false) and min-max
 * normalisation, as the reference evaluations store `vis`. */
#include "harness/harness.h"

#include "metrics/metrics.h"

#include <math.h>

/* The metrics' kernel (F.interpolate(scale_factor = patch) with PyTorch's arithmetic),
 * so an explained map and the evaluated one are the same bits. */
void mxb_map_upsample(const float *map, int grid, float *out, int size) {
    mxb_upsample_bilinear(map, grid, grid, size / grid, out);
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
