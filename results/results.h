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

/* ---- the run journal (SIGKILL-safe progress of a run) ---- */

typedef struct mxb_journal mxb_journal;
/* Called for each whole record on resume; non-zero stops the replay there. */
typedef int (*mxb_journal_replay_fn)(void *user, const void *payload, uint32_t n);
/* Opens (creating) the journal at path for the run identified by run_key (e.g. the
 * SHA-256 of its configuration). An existing journal of another run is refused;
 * one of this run is replayed through fn and truncated after its last whole record. */
mxb_journal *mxb_journal_open(const char *path, const char *run_key, mxb_journal_replay_fn fn,
                              void *user, int *replayed, char *err, size_t errlen);
int mxb_journal_append(mxb_journal *j, const void *payload, uint32_t n, char *err, size_t errlen);
int mxb_journal_sync(mxb_journal *j);
void mxb_journal_close(mxb_journal *j, int remove_file);
uint32_t mxb_crc32(const void *data, size_t n);

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

/* ---- figures ---- */

/* Writes an 8-bit RGB PNG (rgb [h, w, 3]) atomically. */
int mxb_png_write_rgb(const char *path, const uint8_t *rgb, int w, int h, char *err,
                      size_t errlen);
/* A relevance map in [0, 1] ([h, w]) over a normalised image ([3, h, w], undone with
 * mean/std), as show_cam_on_image: jet(map) + image, divided by the maximum. */
void mxb_overlay_heatmap(const float *image_chw, const float *mean, const float *std,
                         const float *map, int w, int h, uint8_t *rgb);

#endif
