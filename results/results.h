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

#endif
