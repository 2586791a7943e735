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

/* ---- mxb explain's overlay options (results.h, mxb_overlay_render) ---- */

/* viridis at 9 stops, linear in between (also the matrices and colour bars of results/figures.c) */
static void viridis(double v, double rgb[3]) {
    static const double s[9][3] = {{0.267, 0.005, 0.329}, {0.283, 0.141, 0.458}, {0.254, 0.265, 0.530},
                                   {0.207, 0.372, 0.553}, {0.164, 0.471, 0.558}, {0.128, 0.567, 0.551},
                                   {0.135, 0.659, 0.518}, {0.267, 0.749, 0.441}, {0.993, 0.906, 0.144}};
    double p = v * 8;
    int i = p >= 8 ? 7 : (int)p;
    double t = p - i;
    for (int k = 0; k < 3; k++) rgb[k] = s[i][k] + t * (s[i + 1][k] - s[i][k]);
}

void mxb_colormap_rgb(int cmap, double v, double rgb[3]) {
    v = isnan(v) ? 0 : v < 0 ? 0 : v > 1 ? 1 : v;
    if (cmap == MXB_CMAP_VIRIDIS) {
        viridis(v, rgb);
    } else if (cmap == MXB_CMAP_GRAY) {
        rgb[0] = rgb[1] = rgb[2] = v;
    } else {
        float c[3];
        jet((float)v, c); /* the overlay's own jet, in float */
        for (int k = 0; k < 3; k++) rgb[k] = c[k];
    }
}

/* channel k of pixel p as the model saw it, back in [0, 1] (the input un-normalised) */
static float seen01(const float *chw, size_t n, size_t p, int k, const float *mean, const float *std) {
    const float v = chw[k * n + p] * std[k] + mean[k];
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

static uint8_t to_byte(double v) { return (uint8_t)lrint(255.0 * (v < 0 ? 0 : v > 1 ? 1 : v)); }

uint8_t *mxb_overlay_render(const mxb_overlay_opts *o, const float *image_chw, const float *mean, const float *std,
                            const float *map, int w, int h, int *ow, int *oh) {
    const size_t n = (size_t)w * h;
    uint8_t *base = mxb_alloc(n * 3, "the overlay"); /* w, h: a model's input side */
    if (o->alpha < 0 && o->cmap == MXB_CMAP_JET) {
        mxb_overlay_heatmap(image_chw, mean, std, map, w, h, base); /* the default: its bytes unchanged */
    } else if (o->alpha < 0) { /* show_cam_on_image's sum with another colour map */
        double *mix = mxb_alloc0(n * 3, sizeof *mix, "the overlay"), mx = 0;
        for (size_t p = 0; p < n; p++) {
            double c[3];
            mxb_colormap_rgb(o->cmap, map[p], c);
            for (int k = 0; k < 3; k++) {
                const float v = seen01(image_chw, n, p, k, mean, std);
                mix[p * 3 + k] = c[k] + v;
                mx = mix[p * 3 + k] > mx ? mix[p * 3 + k] : mx;
            }
        }
        for (size_t k = 0; k < n * 3; k++) base[k] = to_byte(mix[k] / (mx > 0 ? mx : 1));
        free(mix);
    } else { /* a blend: alpha 0 the image as the model saw it, 1 the colour map alone */
        for (size_t p = 0; p < n; p++) {
            double c[3];
            mxb_colormap_rgb(o->cmap, map[p], c);
            for (int k = 0; k < 3; k++) {
                const float v = seen01(image_chw, n, p, k, mean, std);
                base[p * 3 + k] = to_byte((1 - o->alpha) * v + o->alpha * c[k]);
            }
        }
    }
    const int s = o->scale > 1 ? o->scale : 1, W = w * s, H = h * s;
    /* the bar: a sixteenth of the width (at least 4 px) after a white gap of 2 px or more */
    const int gap = o->colorbar ? (W / 64 > 2 ? W / 64 : 2) : 0, bar = o->colorbar ? (W / 16 > 4 ? W / 16 : 4) : 0;
    *ow = W + gap + bar;
    *oh = H;
    uint8_t *out = mxb_alloc((size_t)*ow * H * 3, "the overlay"); /* scale and side bounded by the options */
    for (int y = 0; y < H; y++) {
        uint8_t *row = out + (size_t)y * *ow * 3;
        for (int x = 0; x < W; x++) memcpy(row + (size_t)x * 3, base + ((size_t)(y / s) * w + x / s) * 3, 3);
        if (!o->colorbar) continue;
        double c[3];
        mxb_colormap_rgb(o->cmap, H > 1 ? 1.0 - (double)y / (H - 1) : 1.0, c); /* 1 at the top, 0 at the bottom */
        memset(row + (size_t)W * 3, 255, (size_t)gap * 3);
        for (int x = W + gap; x < *ow; x++)
            for (int k = 0; k < 3; k++) row[(size_t)x * 3 + k] = to_byte(c[k]);
    }
    free(base);
    return out;
}
