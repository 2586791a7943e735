/*
 * results/h5.h — HDF5 I/O shared by every command (results/h5io.c): atomic writes
 * (h5out) and reads with every shape checked before anything is allocated (h5in).
 *
 * Errors: 0 on success, -1 (or NULL) on failure with a one-line message in err[errlen].
 */
#ifndef MXB_RESULTS_H5_H
#define MXB_RESULTS_H5_H

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

/* Typed writes. compress != 0: chunked (whole trailing rows), shuffle + deflate. */
typedef enum { MXB_H5_U8, MXB_H5_I32, MXB_H5_F32, MXB_H5_F64 } mxb_h5_type;
/* s as valid UTF-8, malloc'd: each byte that is not part of a valid UTF-8 sequence
 * (a Latin-1 file name, say) becomes the code point of the same value (U+0080..U+00FF,
 * i.e. read as Latin-1). Every string mxb writes to a file or a report goes through it. */
char *mxb_utf8_clean(const char *s);
/* Copies every dataset under `group` of the HDF5 file `src` into o at the same
 * names (groups made as needed); a name already in o is an error. Absent group: 0. */
int mxb_h5out_copy_group(mxb_h5out *o, const char *src, const char *group, char *err, size_t errlen);
int mxb_h5out_write(mxb_h5out *o, const char *name, mxb_h5_type type, const void *data, int ndim,
                    const int64_t *dims, int compress, char *err, size_t errlen);
/* A 1-d array of variable-length UTF-8 strings (h5py reads str). */
int mxb_h5out_strings(mxb_h5out *o, const char *name, const char *const *s, int64_t n, char *err,
                      size_t errlen);
/* Scalar attributes on any object (obj "/" is the root; a missing path becomes a group). */
int mxb_h5out_attr_str(mxb_h5out *o, const char *obj, const char *name, const char *value,
                       char *err, size_t errlen);
int mxb_h5out_attr_num(mxb_h5out *o, const char *obj, const char *name, double value, char *err,
                       size_t errlen);
int mxb_h5out_attr_int(mxb_h5out *o, const char *obj, const char *name, int64_t value, char *err,
                       size_t errlen);

/* Reading, with every shape checked before anything is allocated for it: a dataset
 * must have storage (one declared but never written is an error, not zeros) and its
 * declared size must fit in that storage (1032:1, deflate's ceiling, when filtered). */
typedef struct mxb_h5in mxb_h5in;
mxb_h5in *mxb_h5in_open(const char *path, char *err, size_t errlen);
void mxb_h5in_close(mxb_h5in *in);
const char *mxb_h5in_path(const mxb_h5in *in);
uint64_t mxb_h5in_filesize(const mxb_h5in *in);
int mxb_h5in_exists(mxb_h5in *in, const char *name);
/* A numeric dataset of rank ndim converted to type; dims[i] >= 0 on entry must match
 * (-1: any); on return dims holds the shape. malloc'd; NULL with err on failure. */
void *mxb_h5in_read(mxb_h5in *in, const char *name, mxb_h5_type type, int ndim, int64_t *dims,
                    char *err, size_t errlen);
char **mxb_h5in_strings(mxb_h5in *in, const char *name, int64_t *n, char *err, size_t errlen);
void mxb_h5in_free_strings(char **s, int64_t n);
int mxb_h5in_attr_str(mxb_h5in *in, const char *obj, const char *name, char **out, char *err,
                      size_t errlen); /* *out malloc'd */
int mxb_h5in_attr_num(mxb_h5in *in, const char *obj, const char *name, double *out, char *err,
                      size_t errlen);
/* The name of obj's attribute number idx (in name order) into buf; -1 past the last
 * one (or a name longer than buf). */
int mxb_h5in_attr_name(mxb_h5in *in, const char *obj, int idx, char *buf, size_t n);

#endif
