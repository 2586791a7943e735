/*
 * results — HDF5 result files: small-array I/O used by every command and the
 * versioned results schema of results/SCHEMA.md. One header per concern; this one
 * includes them all, so an includer needs only it:
 *   results/h5.h       HDF5 writing and checked reading (h5io.c)
 *   results/store.h    the run's results: field table, alloc, write, read, merge,
 *                      totals, metric names, journal record (store.c, fields.c)
 *   results/report.h   tables, figures, HTML report, compare (report.c, figures.c, html.c)
 *   results/journal.h  the SIGKILL-safe run journal (journal.c)
 * SHA-256 and PNG writing (below) are on their way to io/.
 *
 * Errors: 0 on success, -1 on failure with a one-line message in err[errlen].
 */
#ifndef MXB_RESULTS_H
#define MXB_RESULTS_H

#include "results/h5.h"
#include "results/journal.h"
#include "results/report.h"
#include "results/store.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- SHA-256 (provenance) ---- */

typedef struct {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t fill;
} mxb_sha256;
void mxb_sha256_init(mxb_sha256 *s);
void mxb_sha256_update(mxb_sha256 *s, const void *data, size_t n);
void mxb_sha256_hex(mxb_sha256 *s, char hex[65]); /* finishes s */
int mxb_sha256_file(const char *path, char hex[65], char *err, size_t errlen);

/* ---- data images (results/png.c, libpng) ---- */

/* Writes an 8-bit RGB PNG (rgb [h, w, 3]) atomically. */
int mxb_png_write_rgb(const char *path, const uint8_t *rgb, int w, int h, char *err,
                      size_t errlen);
/* A relevance map in [0, 1] ([h, w]) over a normalised image ([3, h, w], undone with
 * mean/std), as show_cam_on_image: jet(map) + image, divided by the maximum. */
void mxb_overlay_heatmap(const float *image_chw, const float *mean, const float *std,
                         const float *map, int w, int h, uint8_t *rgb);

#endif
