/*
 * results — HDF5 result files: small-array I/O used by every command, and (as the
 * harness grows) the versioned results schema of results/SCHEMA.md.
 *
 * Errors: 0 on success, -1 on failure with a one-line message in err[errlen].
 */
#ifndef MXB_RESULTS_H
#define MXB_RESULTS_H

#include <stddef.h>
#include <stdint.h>

/* An HDF5 file being written: created under a temporary name and renamed into
 * place by mxb_h5out_commit(), so a crash never leaves a file that looks complete. */
typedef struct mxb_h5out mxb_h5out;

mxb_h5out *mxb_h5out_create(const char *path, char *err, size_t errlen);
/* Writes a float32 dataset (parent groups are created); ndim 0 writes a scalar. */
int mxb_h5out_floats(mxb_h5out *o, const char *name, const float *data, int ndim,
                     const int64_t *dims, char *err, size_t errlen);
int mxb_h5out_ints(mxb_h5out *o, const char *name, const int32_t *data, int ndim,
                   const int64_t *dims, char *err, size_t errlen);
int mxb_h5out_string_attr(mxb_h5out *o, const char *name, const char *value, char *err,
                          size_t errlen);
/* Closes and renames into place; on failure nothing is left at path. */
int mxb_h5out_commit(mxb_h5out *o, char *err, size_t errlen);
/* Closes and deletes the temporary file. */
void mxb_h5out_abort(mxb_h5out *o);

/* Reads a whole floating-point dataset as float32. dims (up to 8) and ndim are
 * filled when non-NULL. The caller frees *out. */
int mxb_h5_read_floats(const char *path, const char *name, float **out, int *ndim,
                       int64_t dims[8], char *err, size_t errlen);

/* ---- figures ---- */

/* Writes an 8-bit RGB PNG (rgb [h, w, 3]) atomically. */
int mxb_png_write_rgb(const char *path, const uint8_t *rgb, int w, int h, char *err,
                      size_t errlen);
/* A relevance map in [0, 1] ([h, w]) over a normalised image ([3, h, w], undone with
 * mean/std), as show_cam_on_image: jet(map) + image, divided by the maximum. */
void mxb_overlay_heatmap(const float *image_chw, const float *mean, const float *std,
                         const float *map, int w, int h, uint8_t *rgb);

#endif
