/* Small-array HDF5 I/O with atomic publication of written files. Every public
 * function runs its body (the static X_loud) under MXB_H5_QUIET (io/h5_storage.h):
 * HDF5's error stack is silent while mxb's calls run, and whatever the caller had is
 * back after. */
#include "results/results.h"

#include "io/io.h"

#include <hdf5.h>
#include "io/h5_storage.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>

struct mxb_h5out {
    hid_t file;
    char path[4096], mem[4200]; /* mem: the in-memory file's name, never on disk */
};

/* The file is built in memory (HDF5's core driver, no backing store) and written out
 * by commit with plain write(2)s: a full disk or any other write error is one message
 * with the OS's reason, and libhdf5 never holds a half-closed file (a failed H5Fclose
 * on a full disk left one that crashed its exit handler). */
/* The length of the valid UTF-8 sequence at p (1..4), or 0 when p starts none
 * (overlong forms, surrogates and code points above U+10FFFF are not valid). */
static int utf8_seq(const unsigned char *p) {
    if (p[0] < 0x80) return 1;
    int n = p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    if (n == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0))) return 0;
    if (n == 4 && ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))) return 0;
    return n;
}

char *mxb_utf8_clean(const char *s) {
    size_t n = strlen(s);
    char *out = mxb_try_alloc(2 * n + 1), *q = out;
    if (!out) return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int k = utf8_seq(p);
        if (k) {
            memcpy(q, p, (size_t)k);
            q += k, p += k;
        } else { /* the byte as a Latin-1 code point */
            *q++ = (char)(0xc0 | (*p >> 6));
            *q++ = (char)(0x80 | (*p & 0x3f));
            p++;
        }
    }
    *q = 0;
    return out;
}

static mxb_h5out *mxb_h5out_create_loud(const char *path, char *err, size_t errlen) {
    mxb_h5out *o = mxb_try_alloc0(1, sizeof *o);
    if (!o) {
        mxb_seterr(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    if (strlen(path) >= sizeof o->path) {
        mxb_seterr(err, errlen, "%s: path too long", path);
        free(o);
        return NULL;
    }
    snprintf(o->path, sizeof o->path, "%s", path);
    snprintf(o->mem, sizeof o->mem, "%s.in-memory-%ld", path, (long)getpid());
    /* an input named as the output is refused before any work */
    if (mxb_output_check(path, err, errlen)) {
        free(o);
        return NULL;
    }
    /* the file is only written at commit: a folder that cannot take it is refused now */
    char dir[4096];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (slash == path) snprintf(dir, sizeof dir, "/");
    if (access(dir, W_OK | X_OK)) {
        mxb_seterr(err, errlen, "%s: cannot create output file (%s: %s)", path, dir, strerror(errno));
        free(o);
        return NULL;
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, 1 << 20, 0);
    o->file = H5Fcreate(o->mem, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (o->file < 0) {
        mxb_seterr(err, errlen, "%s: cannot create output file", path);
        free(o);
        return NULL;
    }
    return o;
}

mxb_h5out *mxb_h5out_create(const char *path, char *err, size_t errlen) {
    mxb_h5out * rc = NULL;
    MXB_H5_QUIET(rc = mxb_h5out_create_loud(path, err, errlen));
    return rc;
}

static int write_dataset(mxb_h5out *o, const char *name, hid_t type, const void *data, int ndim,
                         const int64_t *dims, char *err, size_t errlen) {
    hsize_t hd[8];
    if (ndim < 0 || ndim > 8) {
        mxb_seterr(err, errlen, "%s: dataset %s: bad rank %d", o->path, name, ndim);
        return -1;
    }
    for (int i = 0; i < ndim; i++) hd[i] = (hsize_t)dims[i];
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t s = ndim ? H5Screate_simple(ndim, hd, NULL) : H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(o->file, name, type, s, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (d >= 0 && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0) ? 0 : -1;
    if (rc) mxb_seterr(err, errlen, "%s: cannot write dataset %s", o->path, name);
    if (d >= 0) H5Dclose(d);
    H5Sclose(s);
    H5Pclose(lcpl);
    return rc;
}

static int mxb_h5out_floats_loud(mxb_h5out *o, const char *name, const float *data, int ndim,
                     const int64_t *dims, char *err, size_t errlen) {
    return write_dataset(o, name, H5T_NATIVE_FLOAT, data, ndim, dims, err, errlen);
}

int mxb_h5out_floats(mxb_h5out *o, const char *name, const float *data, int ndim,
                     const int64_t *dims, char *err, size_t errlen) {
    int rc = 0;
    MXB_H5_QUIET(rc = mxb_h5out_floats_loud(o, name, data, ndim, dims, err, errlen));
    return rc;
}

static int mxb_h5out_ints_loud(mxb_h5out *o, const char *name, const int32_t *data, int ndim,
                   const int64_t *dims, char *err, size_t errlen) {
    return write_dataset(o, name, H5T_NATIVE_INT32, data, ndim, dims, err, errlen);
}

int mxb_h5out_ints(mxb_h5out *o, const char *name, const int32_t *data, int ndim,
                   const int64_t *dims, char *err, size_t errlen) {
    int rc = 0;
    MXB_H5_QUIET(rc = mxb_h5out_ints_loud(o, name, data, ndim, dims, err, errlen));
    return rc;
}

static int mxb_h5out_string_attr_loud(mxb_h5out *o, const char *name, const char *value, char *err,
                          size_t errlen) {
    /* variable-length UTF-8, which h5py reads back as str */
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(o->file, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    char *clean = mxb_utf8_clean(value);
    int rc = (clean && a >= 0 && H5Awrite(a, t, &clean) >= 0) ? 0 : -1;
    free(clean);
    if (rc) mxb_seterr(err, errlen, "%s: cannot write attribute %s", o->path, name);
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    return rc;
}

int mxb_h5out_string_attr(mxb_h5out *o, const char *name, const char *value, char *err,
                          size_t errlen) {
    int rc = 0;
    MXB_H5_QUIET(rc = mxb_h5out_string_attr_loud(o, name, value, err, errlen));
    return rc;
}

static int mxb_h5out_commit_loud(mxb_h5out *o, char *err, size_t errlen) {
    int rc = -1;
    char *image = NULL;
    ssize_t n = H5Fflush(o->file, H5F_SCOPE_GLOBAL) >= 0 ? H5Fget_file_image(o->file, NULL, 0) : -1;
    if (n > 0 && (image = mxb_try_alloc((size_t)n)) && H5Fget_file_image(o->file, image, (size_t)n) == n) rc = 0;
    H5Fclose(o->file); /* in memory: nothing to fail on disk */
    if (rc) {
        mxb_seterr(err, errlen, "%s: cannot finish writing the output file (out of memory?)", o->path);
        goto done;
    }
    /* Ctrl-C or a TERM during the write would leave the temporary behind: held until
     * the file is renamed into place (or removed), then delivered */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &old);
    mxb_outfile out;
    if (mxb_outfile_open(&out, o->path, err, errlen)) {
        rc = -1;
    } else if (fwrite(image, 1, (size_t)n, out.f) != (size_t)n) {
        int e = errno;
        mxb_outfile_abort(&out);
        mxb_seterr(err, errlen, "%s: cannot write the output file: %s", o->path, strerror(e));
        rc = -1;
    } else if (mxb_outfile_commit(&out, 1, err, errlen)) {
        rc = -1;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
done:
    free(image);
    free(o);
    return rc;
}

int mxb_h5out_commit(mxb_h5out *o, char *err, size_t errlen) {
    int rc = 0;
    MXB_H5_QUIET(rc = mxb_h5out_commit_loud(o, err, errlen));
    return rc;
}

static void mxb_h5out_abort_loud(mxb_h5out *o) {
    if (!o) return;
    H5Fclose(o->file); /* in memory: no temporary on disk yet */
    free(o);
}

void mxb_h5out_abort(mxb_h5out *o) {
    MXB_H5_QUIET(mxb_h5out_abort_loud(o));
}

static int storage_ok(const char *path, hid_t d, const char *name, size_t n, size_t elem, char *err,
                      size_t errlen);

static int mxb_h5_read_floats_loud(const char *path, const char *name, float **out, int *ndim,
                       int64_t dims[8], char *err, size_t errlen) {
    *out = NULL;
    mxb_input_note(path); /* no output may be written over it */
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        mxb_seterr(err, errlen, "%s: cannot open file", path);
        return -1;
    }
    fclose(probe);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        mxb_seterr(err, errlen, "%s: not a readable HDF5 file (truncated or corrupt?)", path);
        return -1;
    }
    int rc = -1;
    hid_t d = -1, s = -1, t = -1;
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0 || (d = H5Dopen2(f, name, H5P_DEFAULT)) < 0) {
        mxb_seterr(err, errlen, "%s: no dataset '%s'", path, name);
        goto done;
    }
    t = H5Dget_type(d);
    s = H5Dget_space(d);
    int nd = H5Sget_simple_extent_ndims(s);
    if (H5Tget_class(t) != H5T_FLOAT || nd < 0 || nd > 8) {
        mxb_seterr(err, errlen, "%s: dataset '%s' is not a floating-point array", path, name);
        goto done;
    }
    hsize_t hd[8];
    H5Sget_simple_extent_dims(s, hd, NULL);
    size_t n = 1;
    for (int i = 0; i < nd; i++) {
        if (hd[i] > ((size_t)1 << 31) / (n ? n : 1)) {
            mxb_seterr(err, errlen, "%s: dataset '%s' is too large", path, name);
            goto done;
        }
        n *= hd[i];
        if (dims) dims[i] = (int64_t)hd[i];
    }
    if (ndim) *ndim = nd;
    if (!storage_ok(path, d, name, n, H5Tget_size(t), err, errlen)) goto done;
    float *buf = mxb_try_alloc0(n ? n : 1, sizeof(float));
    if (!buf || H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        mxb_seterr(err, errlen, "%s: cannot read dataset '%s' (truncated or corrupt?)", path, name);
        free(buf);
        goto done;
    }
    *out = buf;
    rc = 0;
done:
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    if (d >= 0) H5Dclose(d);
    H5Fclose(f);
    return rc;
}

int mxb_h5_read_floats(const char *path, const char *name, float **out, int *ndim,
                       int64_t dims[8], char *err, size_t errlen) {
    int rc = 0;
    MXB_H5_QUIET(rc = mxb_h5_read_floats_loud(path, name, out, ndim, dims, err, errlen));
    return rc;
}

/* ---- typed writes, attributes on any object, string arrays ------------------- */

static hid_t native_type(mxb_h5_type t) {
    switch (t) {
    case MXB_H5_U8: return H5T_NATIVE_UINT8;
    case MXB_H5_I32: return H5T_NATIVE_INT32;
    case MXB_H5_F32: return H5T_NATIVE_FLOAT;
    default: return H5T_NATIVE_DOUBLE;
    }
}

static size_t type_size(mxb_h5_type t) {
    return t == MXB_H5_U8 ? 1 : t == MXB_H5_F64 ? 8 : 4;
}

typedef struct {
    mxb_h5out *o;
    hid_t src;
    const char *group, *src_path;
    char *err;
    size_t errlen;
} copy_ctx;

static herr_t copy_one(hid_t g, const char *name, const H5L_info_t *info, void *user) {
    copy_ctx *c = user;
    (void)info;
    H5O_info_t oi;
    if (H5Oget_info_by_name(g, name, &oi, H5P_DEFAULT) < 0) {
        mxb_seterr(c->err, c->errlen, "%s: cannot read %s/%s", c->src_path, c->group, name);
        return -1;
    }
    if (oi.type != H5O_TYPE_DATASET) return 0;
    char full[1024];
    snprintf(full, sizeof full, "%s/%s", c->group, name);
    if (H5Lexists(c->o->file, full, H5P_DEFAULT) > 0) {
        mxb_seterr(c->err, c->errlen, "%s: %s is also in another input", c->src_path, full);
        return -1;
    }
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    herr_t rc = H5Ocopy(g, name, c->o->file, full, H5P_DEFAULT, lcpl);
    H5Pclose(lcpl);
    if (rc < 0) mxb_seterr(c->err, c->errlen, "%s: cannot copy %s", c->src_path, full);
    return rc < 0 ? -1 : 0;
}

static int mxb_h5out_copy_group_loud(mxb_h5out *o, const char *src, const char *group, char *err, size_t errlen) {
    mxb_input_note(src);
    hid_t f = H5Fopen(src, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        mxb_seterr(err, errlen, "%s: not a readable HDF5 file", src);
        return -1;
    }
    int rc = 0;
    if (H5Lexists(f, group, H5P_DEFAULT) > 0) {
        hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
        copy_ctx c = {o, f, group, src, err, errlen};
        rc = g < 0 || H5Lvisit(g, H5_INDEX_NAME, H5_ITER_INC, copy_one, &c) < 0 ? -1 : 0;
        if (rc && g < 0) mxb_seterr(err, errlen, "%s: %s is not a group", src, group);
        if (g >= 0) H5Gclose(g);
    }
    H5Fclose(f);
    return rc;
}

int mxb_h5out_copy_group(mxb_h5out *o, const char *src, const char *group, char *err, size_t errlen) {
    int rc = 0;
    MXB_H5_QUIET(rc = mxb_h5out_copy_group_loud(o, src, group, err, errlen));
    return rc;
}

static int mxb_h5out_write_loud(mxb_h5out *o, const char *name, mxb_h5_type type, const void *data, int ndim,
                    const int64_t *dims, int compress, char *err, size_t errlen) {
    if (!compress || ndim == 0) return write_dataset(o, name, native_type(type), data, ndim, dims, err, errlen);
    hsize_t hd[8], chunk[8];
    if (ndim < 0 || ndim > 8) {
        mxb_seterr(err, errlen, "%s: dataset %s: bad rank %d", o->path, name, ndim);
        return -1;
    }
    /* chunks of whole trailing rows, about 256 KiB, so one image's slice reads alone */
    size_t bytes = type_size(type);
    for (int i = ndim - 1; i >= 0; i--) {
        hd[i] = (hsize_t)dims[i];
        chunk[i] = hd[i] ? hd[i] : 1;
        if (i < ndim - 1 && bytes * chunk[i] > (256u << 10)) chunk[i] = ((256u << 10) / bytes) ? ((256u << 10) / bytes) : 1;
        if (chunk[i] > hd[i] && hd[i]) chunk[i] = hd[i];
        bytes *= chunk[i];
    }
    for (int i = 0; i < ndim; i++)
        if (hd[i] == 0) return write_dataset(o, name, native_type(type), data, ndim, dims, err, errlen);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, ndim, chunk);
    H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, 4);
    hid_t s = H5Screate_simple(ndim, hd, NULL);
    hid_t d = H5Dcreate2(o->file, name, native_type(type), s, lcpl, dcpl, H5P_DEFAULT);
    int rc = (d >= 0 && H5Dwrite(d, native_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0) ? 0 : -1;
    if (rc) mxb_seterr(err, errlen, "%s: cannot write dataset %s", o->path, name);
    if (d >= 0) H5Dclose(d);
    H5Sclose(s);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    return rc;
}

int mxb_h5out_write(mxb_h5out *o, const char *name, mxb_h5_type type, const void *data, int ndim,
                    const int64_t *dims, int compress, char *err, size_t errlen) {
    int rc = 0;
    MXB_H5_QUIET(rc = mxb_h5out_write_loud(o, name, type, data, ndim, dims, compress, err, errlen));
    return rc;
}

static hid_t vlen_utf8(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

static int mxb_h5out_strings_loud(mxb_h5out *o, const char *name, const char *const *s, int64_t n, char *err,
                      size_t errlen) {
    /* UTF-8 as the datatype says, so that readers (h5py .asstr()) can decode it */
    char **clean = mxb_try_alloc0((size_t)(n ? n : 1), sizeof *clean);
    int bad = !clean;
    for (int64_t i = 0; !bad && i < n; i++) bad = !(clean[i] = mxb_utf8_clean(s[i]));
    if (bad) {
        for (int64_t i = 0; clean && i < n; i++) free(clean[i]);
        free(clean);
        mxb_seterr(err, errlen, "%s: out of memory", o->path);
        return -1;
    }
    s = (const char *const *)clean;
    hid_t t = vlen_utf8();
    hsize_t hd = (hsize_t)n;
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t sp = H5Screate_simple(1, &hd, NULL);
    hid_t d = H5Dcreate2(o->file, name, t, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (d >= 0 && (n == 0 || H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, s) >= 0)) ? 0 : -1;
    if (rc) mxb_seterr(err, errlen, "%s: cannot write dataset %s", o->path, name);
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(lcpl);
    H5Tclose(t);
    for (int64_t i = 0; i < n; i++) free(clean[i]);
    free(clean);
    return rc;
}

int mxb_h5out_strings(mxb_h5out *o, const char *name, const char *const *s, int64_t n, char *err,
                      size_t errlen) {
    int rc = 0;
    MXB_H5_QUIET(rc = mxb_h5out_strings_loud(o, name, s, n, err, errlen));
    return rc;
}

/* The object an attribute goes on; a missing path becomes a group. */
static hid_t open_or_make(hid_t file, const char *obj) {
    if (!strcmp(obj, "/")) return H5Oopen(file, "/", H5P_DEFAULT);
    if (H5Lexists(file, obj, H5P_DEFAULT) > 0) return H5Oopen(file, obj, H5P_DEFAULT);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(file, obj, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    return g;
}

static int write_attr(mxb_h5out *o, const char *obj, const char *name, hid_t type, const void *v,
                      char *err, size_t errlen) {
    hid_t h = open_or_make(o->file, obj);
    if (h < 0) {
        mxb_seterr(err, errlen, "%s: cannot create %s", o->path, obj);
        return -1;
    }
    if (H5Aexists(h, name) > 0) H5Adelete(h, name);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(h, name, type, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a >= 0 && H5Awrite(a, type, v) >= 0) ? 0 : -1;
    if (rc) mxb_seterr(err, errlen, "%s: cannot write attribute %s of %s", o->path, name, obj);
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    H5Oclose(h);
    return rc;
}

static int mxb_h5out_attr_str_loud(mxb_h5out *o, const char *obj, const char *name, const char *value,
                       char *err, size_t errlen) {
    char *clean = mxb_utf8_clean(value);
    if (!clean) {
        mxb_seterr(err, errlen, "%s: out of memory", o->path);
        return -1;
    }
    hid_t t = vlen_utf8();
    int rc = write_attr(o, obj, name, t, &clean, err, errlen);
    H5Tclose(t);
    free(clean);
    return rc;
}

int mxb_h5out_attr_str(mxb_h5out *o, const char *obj, const char *name, const char *value,
                       char *err, size_t errlen) {
    int rc = 0;
    MXB_H5_QUIET(rc = mxb_h5out_attr_str_loud(o, obj, name, value, err, errlen));
    return rc;
}

static int mxb_h5out_attr_num_loud(mxb_h5out *o, const char *obj, const char *name, double value, char *err,
                       size_t errlen) {
    return write_attr(o, obj, name, H5T_NATIVE_DOUBLE, &value, err, errlen);
}

int mxb_h5out_attr_num(mxb_h5out *o, const char *obj, const char *name, double value, char *err,
                       size_t errlen) {
    int rc = 0;
    MXB_H5_QUIET(rc = mxb_h5out_attr_num_loud(o, obj, name, value, err, errlen));
    return rc;
}

static int mxb_h5out_attr_int_loud(mxb_h5out *o, const char *obj, const char *name, int64_t value, char *err,
                       size_t errlen) {
    return write_attr(o, obj, name, H5T_NATIVE_INT64, &value, err, errlen);
}

int mxb_h5out_attr_int(mxb_h5out *o, const char *obj, const char *name, int64_t value, char *err,
                       size_t errlen) {
    int rc = 0;
    MXB_H5_QUIET(rc = mxb_h5out_attr_int_loud(o, obj, name, value, err, errlen));
    return rc;
}

/* ---- reading ------------------------------------------------------------------ */

struct mxb_h5in {
    hid_t file;
    char path[4096];
};

static mxb_h5in *mxb_h5in_open_loud(const char *path, char *err, size_t errlen) {
    mxb_input_note(path); /* no output may be written over it */
    if (mxb_input_check(path, "an HDF5 file", 1, err, errlen)) return NULL;
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        mxb_seterr(err, errlen, "%s: cannot open file", path);
        return NULL;
    }
    fclose(probe);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        mxb_seterr(err, errlen, "%s: not a readable HDF5 file (truncated or corrupt?)", path);
        return NULL;
    }
    mxb_h5in *in = mxb_try_alloc0(1, sizeof *in);
    if (!in) {
        H5Fclose(f);
        mxb_seterr(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    in->file = f;
    snprintf(in->path, sizeof in->path, "%s", path);
    return in;
}

mxb_h5in *mxb_h5in_open(const char *path, char *err, size_t errlen) {
    mxb_h5in * rc = NULL;
    MXB_H5_QUIET(rc = mxb_h5in_open_loud(path, err, errlen));
    return rc;
}

static void mxb_h5in_close_loud(mxb_h5in *in) {
    if (!in) return;
    H5Fclose(in->file);
    free(in);
}

void mxb_h5in_close(mxb_h5in *in) {
    MXB_H5_QUIET(mxb_h5in_close_loud(in));
}

const char *mxb_h5in_path(const mxb_h5in *in) { return in->path; }

static uint64_t mxb_h5in_filesize_loud(const mxb_h5in *in) {
    hsize_t n = 0;
    return H5Fget_filesize(in->file, &n) < 0 ? 0 : (uint64_t)n;
}

uint64_t mxb_h5in_filesize(const mxb_h5in *in) {
    uint64_t rc = 0;
    MXB_H5_QUIET(rc = mxb_h5in_filesize_loud(in));
    return rc;
}

/* A declared shape of n elements of `elem` bytes must be backed by the dataset's
 * storage (io/h5_storage.h). Checked before anything is allocated for it, so a 1 KB
 * file cannot ask for gigabytes. */
static int storage_ok(const char *path, hid_t d, const char *name, size_t n, size_t elem, char *err,
                      size_t errlen) {
    char why[200];
    if (mxb_h5_declared_stored(d, n, elem, why, sizeof why)) {
        mxb_seterr(err, errlen, "%s: dataset '%s' %s", path, name, why);
        return 0;
    }
    return 1;
}

/* H5Lexists on "a/b/c" fails when "a" is missing; walk the components. */
static int mxb_h5in_exists_loud(mxb_h5in *in, const char *name) {
    char buf[1024];
    size_t n = strlen(name);
    if (n >= sizeof buf) return 0;
    memcpy(buf, name, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if (H5Lexists(in->file, buf, H5P_DEFAULT) <= 0) return 0;
        buf[i] = c;
    }
    return 1;
}

int mxb_h5in_exists(mxb_h5in *in, const char *name) {
    int rc = 0;
    MXB_H5_QUIET(rc = mxb_h5in_exists_loud(in, name));
    return rc;
}

static hid_t open_dataset(mxb_h5in *in, const char *name, char *err, size_t errlen) {
    if (!mxb_h5in_exists(in, name)) {
        mxb_seterr(err, errlen, "%s: no dataset '%s'", in->path, name);
        return -1;
    }
    hid_t d = H5Dopen2(in->file, name, H5P_DEFAULT);
    if (d < 0) mxb_seterr(err, errlen, "%s: '%s' is not a dataset", in->path, name);
    return d;
}

static void *mxb_h5in_read_loud(mxb_h5in *in, const char *name, mxb_h5_type type, int ndim, int64_t *dims,
                    char *err, size_t errlen) {
    hid_t d = open_dataset(in, name, err, errlen);
    if (d < 0) return NULL;
    void *buf = NULL;
    hid_t s = H5Dget_space(d), t = H5Dget_type(d);
    int nd = H5Sget_simple_extent_ndims(s);
    H5T_class_t cls = H5Tget_class(t);
    int numeric = cls == H5T_INTEGER || cls == H5T_FLOAT;
    if (!numeric || nd != ndim) {
        mxb_seterr(err, errlen, "%s: dataset '%s' is not a %d-d numeric array", in->path, name, ndim);
        goto done;
    }
    hsize_t hd[8] = {0};
    H5Sget_simple_extent_dims(s, hd, NULL);
    size_t n = 1;
    for (int i = 0; i < nd; i++) {
        if (dims[i] >= 0 && (hsize_t)dims[i] != hd[i]) {
            mxb_seterr(err, errlen, "%s: dataset '%s' has dimension %d of %llu, expected %lld", in->path,
                   name, i, (unsigned long long)hd[i], (long long)dims[i]);
            goto done;
        }
        if (hd[i] && n > ((size_t)1 << 32) / hd[i]) {
            mxb_seterr(err, errlen, "%s: dataset '%s' is too large", in->path, name);
            goto done;
        }
        n *= hd[i];
        dims[i] = (int64_t)hd[i];
    }
    if (!storage_ok(in->path, d, name, n, H5Tget_size(t), err, errlen)) goto done;
    buf = mxb_try_alloc0(n ? n : 1, type_size(type));
    if (!buf || (n && H5Dread(d, native_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)) {
        mxb_seterr(err, errlen, "%s: cannot read dataset '%s' (truncated or corrupt?)", in->path, name);
        free(buf);
        buf = NULL;
    }
done:
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(d);
    return buf;
}

void *mxb_h5in_read(mxb_h5in *in, const char *name, mxb_h5_type type, int ndim, int64_t *dims,
                    char *err, size_t errlen) {
    void * rc = NULL;
    MXB_H5_QUIET(rc = mxb_h5in_read_loud(in, name, type, ndim, dims, err, errlen));
    return rc;
}

static char **mxb_h5in_strings_loud(mxb_h5in *in, const char *name, int64_t *n, char *err, size_t errlen) {
    hid_t d = open_dataset(in, name, err, errlen);
    if (d < 0) return NULL;
    char **out = NULL;
    hid_t s = H5Dget_space(d), ft = H5Dget_type(d), t = vlen_utf8();
    hsize_t hd = 0;
    if (H5Tget_class(ft) != H5T_STRING || !H5Tis_variable_str(ft) ||
        H5Sget_simple_extent_ndims(s) != 1) {
        mxb_seterr(err, errlen, "%s: dataset '%s' is not a 1-d array of strings", in->path, name);
        goto done;
    }
    H5Sget_simple_extent_dims(s, &hd, NULL);
    if (hd > (1u << 26)) {
        mxb_seterr(err, errlen, "%s: dataset '%s' is too large", in->path, name);
        goto done;
    }
    /* each variable-length string is stored as a 16-byte global-heap reference */
    if (!storage_ok(in->path, d, name, (size_t)hd, 16, err, errlen)) goto done;
    out = mxb_try_alloc0(hd ? hd : 1, sizeof *out);
    if (!out || (hd && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)) {
        mxb_seterr(err, errlen, "%s: cannot read dataset '%s' (truncated or corrupt?)", in->path, name);
        free(out);
        out = NULL;
        goto done;
    }
    for (hsize_t i = 0; i < hd; i++)
        if (!out[i]) { /* an unset entry reads as NULL */
            out[i] = mxb_alloc0(1, 1, "an empty string"); /* one byte: not the input's size */
        }
    *n = (int64_t)hd;
done:
    H5Tclose(t);
    H5Tclose(ft);
    H5Sclose(s);
    H5Dclose(d);
    return out;
}

char **mxb_h5in_strings(mxb_h5in *in, const char *name, int64_t *n, char *err, size_t errlen) {
    char ** rc = NULL;
    MXB_H5_QUIET(rc = mxb_h5in_strings_loud(in, name, n, err, errlen));
    return rc;
}

void mxb_h5in_free_strings(char **s, int64_t n) {
    if (!s) return;
    /* HDF5 allocated the strings with the system allocator */
    for (int64_t i = 0; i < n; i++) free(s[i]);
    free(s);
}

static hid_t open_attr(mxb_h5in *in, const char *obj, const char *name, hid_t *h, char *err,
                       size_t errlen) {
    if (strcmp(obj, "/") && !mxb_h5in_exists(in, obj)) {
        mxb_seterr(err, errlen, "%s: no '%s'", in->path, obj);
        return -1;
    }
    *h = H5Oopen(in->file, obj, H5P_DEFAULT);
    if (*h < 0 || H5Aexists(*h, name) <= 0) {
        mxb_seterr(err, errlen, "%s: '%s' has no attribute '%s'", in->path, obj, name);
        if (*h >= 0) H5Oclose(*h);
        return -1;
    }
    hid_t a = H5Aopen(*h, name, H5P_DEFAULT);
    if (a < 0) {
        mxb_seterr(err, errlen, "%s: cannot read attribute '%s' of '%s'", in->path, name, obj);
        H5Oclose(*h);
    }
    return a;
}

static int mxb_h5in_attr_str_loud(mxb_h5in *in, const char *obj, const char *name, char **out, char *err,
                      size_t errlen) {
    hid_t h, a = open_attr(in, obj, name, &h, err, errlen);
    if (a < 0) return -1;
    int rc = -1;
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a), t = vlen_utf8();
    char *v = NULL;
    if (H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) && H5Sget_simple_extent_npoints(sp) == 1 &&
        H5Aread(a, t, &v) >= 0 && v) {
        *out = mxb_try_strdup(v);
        H5free_memory(v);
        rc = *out ? 0 : -1;
    }
    if (rc) mxb_seterr(err, errlen, "%s: attribute '%s' of '%s' is not a string", in->path, name, obj);
    H5Tclose(t);
    H5Sclose(sp);
    H5Tclose(ft);
    H5Aclose(a);
    H5Oclose(h);
    return rc;
}

int mxb_h5in_attr_str(mxb_h5in *in, const char *obj, const char *name, char **out, char *err,
                      size_t errlen) {
    int rc = 0;
    MXB_H5_QUIET(rc = mxb_h5in_attr_str_loud(in, obj, name, out, err, errlen));
    return rc;
}

static int mxb_h5in_attr_name_loud(mxb_h5in *in, const char *obj, int idx, char *buf, size_t n) {
    ssize_t len = H5Aget_name_by_idx(in->file, obj, H5_INDEX_NAME, H5_ITER_INC, (hsize_t)idx, buf, n, H5P_DEFAULT);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

int mxb_h5in_attr_name(mxb_h5in *in, const char *obj, int idx, char *buf, size_t n) {
    int rc = 0;
    MXB_H5_QUIET(rc = mxb_h5in_attr_name_loud(in, obj, idx, buf, n));
    return rc;
}

static int mxb_h5in_attr_num_loud(mxb_h5in *in, const char *obj, const char *name, double *out, char *err,
                      size_t errlen) {
    hid_t h, a = open_attr(in, obj, name, &h, err, errlen);
    if (a < 0) return -1;
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
    H5T_class_t c = H5Tget_class(ft);
    int rc = ((c == H5T_INTEGER || c == H5T_FLOAT) && H5Sget_simple_extent_npoints(sp) == 1 &&
              H5Aread(a, H5T_NATIVE_DOUBLE, out) >= 0) ? 0 : -1;
    if (rc) mxb_seterr(err, errlen, "%s: attribute '%s' of '%s' is not a number", in->path, name, obj);
    H5Sclose(sp);
    H5Tclose(ft);
    H5Aclose(a);
    H5Oclose(h);
    return rc;
}

int mxb_h5in_attr_num(mxb_h5in *in, const char *obj, const char *name, double *out, char *err,
                      size_t errlen) {
    int rc = 0;
    MXB_H5_QUIET(rc = mxb_h5in_attr_num_loud(in, obj, name, out, err, errlen));
    return rc;
}
