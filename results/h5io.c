/* Small-array HDF5 I/O with atomic publication of written files. */
#include "results/results.h"

#include <hdf5.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mxb_h5out {
    hid_t file;
    char path[4096], tmp[4200];
};

static void seterr(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

mxb_h5out *mxb_h5out_create(const char *path, char *err, size_t errlen) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    mxb_h5out *o = calloc(1, sizeof *o);
    if (strlen(path) >= sizeof o->path) {
        seterr(err, errlen, "%s: path too long", path);
        free(o);
        return NULL;
    }
    snprintf(o->path, sizeof o->path, "%s", path);
    snprintf(o->tmp, sizeof o->tmp, "%s.partial-%ld", path, (long)getpid());
    o->file = H5Fcreate(o->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (o->file < 0) {
        seterr(err, errlen, "%s: cannot create output file", path);
        free(o);
        return NULL;
    }
    return o;
}

static int write_dataset(mxb_h5out *o, const char *name, hid_t type, const void *data, int ndim,
                         const int64_t *dims, char *err, size_t errlen) {
    hsize_t hd[8];
    if (ndim < 0 || ndim > 8) {
        seterr(err, errlen, "%s: dataset %s: bad rank %d", o->path, name, ndim);
        return -1;
    }
    for (int i = 0; i < ndim; i++) hd[i] = (hsize_t)dims[i];
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t s = ndim ? H5Screate_simple(ndim, hd, NULL) : H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(o->file, name, type, s, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (d >= 0 && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0) ? 0 : -1;
    if (rc) seterr(err, errlen, "%s: cannot write dataset %s", o->path, name);
    if (d >= 0) H5Dclose(d);
    H5Sclose(s);
    H5Pclose(lcpl);
    return rc;
}

int mxb_h5out_floats(mxb_h5out *o, const char *name, const float *data, int ndim,
                     const int64_t *dims, char *err, size_t errlen) {
    return write_dataset(o, name, H5T_NATIVE_FLOAT, data, ndim, dims, err, errlen);
}

int mxb_h5out_ints(mxb_h5out *o, const char *name, const int32_t *data, int ndim,
                   const int64_t *dims, char *err, size_t errlen) {
    return write_dataset(o, name, H5T_NATIVE_INT32, data, ndim, dims, err, errlen);
}

int mxb_h5out_string_attr(mxb_h5out *o, const char *name, const char *value, char *err,
                          size_t errlen) {
    /* variable-length UTF-8, which h5py reads back as str */
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(o->file, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a >= 0 && H5Awrite(a, t, &value) >= 0) ? 0 : -1;
    if (rc) seterr(err, errlen, "%s: cannot write attribute %s", o->path, name);
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    return rc;
}

int mxb_h5out_commit(mxb_h5out *o, char *err, size_t errlen) {
    int rc = H5Fclose(o->file) >= 0 ? 0 : -1;
    if (!rc && rename(o->tmp, o->path) != 0) rc = -1;
    if (rc) {
        seterr(err, errlen, "%s: cannot finish writing the output file", o->path);
        unlink(o->tmp);
    }
    free(o);
    return rc;
}

void mxb_h5out_abort(mxb_h5out *o) {
    if (!o) return;
    H5Fclose(o->file);
    unlink(o->tmp);
    free(o);
}

int mxb_h5_read_floats(const char *path, const char *name, float **out, int *ndim,
                       int64_t dims[8], char *err, size_t errlen) {
    *out = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        seterr(err, errlen, "%s: cannot open file", path);
        return -1;
    }
    fclose(probe);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        seterr(err, errlen, "%s: not a readable HDF5 file (truncated or corrupt?)", path);
        return -1;
    }
    int rc = -1;
    hid_t d = -1, s = -1, t = -1;
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0 || (d = H5Dopen2(f, name, H5P_DEFAULT)) < 0) {
        seterr(err, errlen, "%s: no dataset '%s'", path, name);
        goto done;
    }
    t = H5Dget_type(d);
    s = H5Dget_space(d);
    int nd = H5Sget_simple_extent_ndims(s);
    if (H5Tget_class(t) != H5T_FLOAT || nd < 0 || nd > 8) {
        seterr(err, errlen, "%s: dataset '%s' is not a floating-point array", path, name);
        goto done;
    }
    hsize_t hd[8];
    H5Sget_simple_extent_dims(s, hd, NULL);
    size_t n = 1;
    for (int i = 0; i < nd; i++) {
        if (hd[i] > ((size_t)1 << 31) / (n ? n : 1)) {
            seterr(err, errlen, "%s: dataset '%s' is too large", path, name);
            goto done;
        }
        n *= hd[i];
        if (dims) dims[i] = (int64_t)hd[i];
    }
    if (ndim) *ndim = nd;
    float *buf = malloc((n ? n : 1) * sizeof(float));
    if (!buf || H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        seterr(err, errlen, "%s: cannot read dataset '%s' (truncated or corrupt?)", path, name);
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
