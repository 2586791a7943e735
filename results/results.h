/*
 * results — HDF5 result files: small-array I/O used by every command and the
 * versioned results schema of results/SCHEMA.md. One header per concern; this one
 * includes them all, so an includer needs only it:
 *   results/h5.h       HDF5 writing and checked reading (h5io.c)
 *   results/store.h    the run's results: field table, alloc, write, read, merge,
 *                      totals, metric names, journal record (store.c, fields.c)
 *   results/report.h   tables, figures, HTML report, compare (report.c, figures.c, html.c)
 *   results/journal.h  the SIGKILL-safe run journal (journal.c)
 * SHA-256 and the PNG writer are the floor's (io/io.h, included here).
 *
 * Errors: 0 on success, -1 on failure with a one-line message in err[errlen].
 */
#ifndef MXB_RESULTS_H
#define MXB_RESULTS_H

#include "io/io.h" /* mxb_sha256, mxb_png_write: the floor this module stands on */
#include "results/h5.h"
#include "results/journal.h"
#include "results/report.h"
#include "results/store.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- overlays (results/png.c; the PNG writer is io/io.h mxb_png_write) ---- */

/* A relevance map in [0, 1] ([h, w]) over a normalised image ([3, h, w], undone with
 * mean/std), as show_cam_on_image: jet(map) + image, divided by the maximum. */
void mxb_overlay_heatmap(const float *image_chw, const float *mean, const float *std,
                         const float *map, int w, int h, uint8_t *rgb);

/* mxb explain's overlay options. The colour maps: jet (OpenCV's, the default), viridis,
 * gray; v clamped to [0, 1] (NaN: 0). */
enum { MXB_CMAP_JET, MXB_CMAP_VIRIDIS, MXB_CMAP_GRAY };
#define MXB_COLORMAP_CHOICES "jet|viridis|gray"
void mxb_colormap_rgb(int cmap, double v, double rgb[3]);
typedef struct {
    int scale;    /* integer upsampling, each pixel a scale x scale block (1: the model's side) */
    int cmap;     /* MXB_CMAP_* */
    double alpha; /* < 0: show_cam_on_image's sum, divided by the maximum (the default); in
                   * [0, 1]: (1 - alpha) x image + alpha x colour(map), per channel, rounded */
    int colorbar; /* the colour map as a bar right of the image after a white gap: 1 (the map's
                   * maximum) at the top row, 0 at the bottom; a 16th of the width, at least 4 px */
} mxb_overlay_opts;
/* The overlay of map ([h, w] in [0, 1]) over image_chw as o says: a malloc'd RGB
 * [*oh, *ow, 3]; with o {1, JET, -1, 0} the bytes of mxb_overlay_heatmap. */
uint8_t *mxb_overlay_render(const mxb_overlay_opts *o, const float *image_chw, const float *mean, const float *std,
                            const float *map, int w, int h, int *ow, int *oh);

#endif
