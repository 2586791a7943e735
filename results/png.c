/* PNG figures: a relevance map laid over its image as Chefer et al.'s show_cam_on_image
 * does it (jet colour map added to the image, renormalised by the maximum). */
#include "results/results.h"

#include "io/io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* OpenCV's COLORMAP_JET, piecewise linear in v in [0, 1] */
static void jet(float v, float rgb[3]) {
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    const float r = 1.5f - fabsf(4.0f * v - 3.0f), g = 1.5f - fabsf(4.0f * v - 2.0f),
                b = 1.5f - fabsf(4.0f * v - 1.0f);
    rgb[0] = r < 0 ? 0 : r > 1 ? 1 : r;
    rgb[1] = g < 0 ? 0 : g > 1 ? 1 : g;
    rgb[2] = b < 0 ? 0 : b > 1 ? 1 : b;
}

void mxb_overlay_heatmap(const float *image_chw, const float *mean, const float *std,
                         const float *map, int w, int h, uint8_t *rgb) {
    const size_t n = (size_t)w * h;
    float *mix = mxb_alloc0(n * 3, sizeof *mix, "the overlay"); /* w, h: a model's input side */
    float mx = 0;
    for (size_t p = 0; p < n; p++) {
        float c[3];
        jet(map[p], c);
        for (int k = 0; k < 3; k++) {
            float v = image_chw[k * n + p] * std[k] + mean[k]; /* back to [0, 1] */
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            mix[p * 3 + k] = c[k] + v;
            mx = mix[p * 3 + k] > mx ? mix[p * 3 + k] : mx;
        }
    }
    for (size_t k = 0; k < n * 3; k++) rgb[k] = (uint8_t)lrintf(255.0f * mix[k] / (mx > 0 ? mx : 1));
    free(mix);
}
