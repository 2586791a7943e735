/* ImageNet-segmentation's gtsegs_ijcv.mat: MATLAB v7.3, i.e. HDF5 behind a 512-byte
 * userblock, read through object references the way Chefer's h5py code does it;
 * and a writer of files with the same structure. */
#include "datasets/internal.h"
#include "io/h5_storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#define MAX_IMAGES 10000000

/* ---- reading ------------------------------------------------------------------ */

/* The declared n elements must be stored (io/h5_storage.h): a [3, 65535, 1000] image
 * declared in a small file, or one created and never written (it reads as zeros), is
 * refused before the allocation it asks for. */
static int stored(const char *path, hid_t ds, const char *what, size_t n, char *err, size_t errlen) {
    hid_t t = H5Dget_type(ds);
    size_t elem = t >= 0 ? H5Tget_size(t) : 1;
    if (t >= 0) H5Tclose(t);
    char why[200];
    if (mxb_h5_declared_stored(ds, n, elem, why, sizeof why)) {
        mxb_seterr(err, errlen, "%s: %s: %s", path, what, why);
        return 0;
    }
    return 1;
}

/* /value/img or /value/gt: an N x 1 (or 1 x N) array of object references. */
static int read_ref_array(hid_t f, const char *path, const char *name, hobj_ref_t **out, int *n,
                          char *err, size_t errlen) {
    *out = NULL;
    if (H5Lexists(f, "/value", H5P_DEFAULT) <= 0 || H5Lexists(f, name, H5P_DEFAULT) <= 0) {
        mxb_seterr(err, errlen, "%s: %s: missing", path, name);
        return -1;
    }
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) {
        mxb_seterr(err, errlen, "%s: %s: not a dataset", path, name);
        return -1;
    }
    hid_t t = H5Dget_type(d), s = H5Dget_space(d);
    int rc = -1;
    hsize_t dims[2] = {0, 0};
    int rank = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    if (t < 0 || H5Tget_class(t) != H5T_REFERENCE || H5Tequal(t, H5T_STD_REF_OBJ) <= 0) {
        mxb_seterr(err, errlen, "%s: %s: not an array of object references", path, name);
        goto done;
    }
    if (rank != 2 || H5Sget_simple_extent_dims(s, dims, NULL) != 2 || (dims[1] != 1 && dims[0] != 1)) {
        mxb_seterr(err, errlen, "%s: %s: want an N x 1 array of references", path, name);
        goto done;
    }
    hsize_t count = dims[1] == 1 ? dims[0] : dims[1];
    if (count > MAX_IMAGES) {
        mxb_seterr(err, errlen, "%s: %s: %llu entries is too many", path, name, (unsigned long long)count);
        goto done;
    }
    if (count && !stored(path, d, name, (size_t)count, err, errlen)) goto done;
    *out = mxb_try_alloc((size_t)(count ? count : 1) * sizeof **out);
    if (!*out) {
        mxb_seterr(err, errlen, "%s: %s: out of memory", path, name);
        goto done;
    }
    if (count && H5Dread(d, H5T_STD_REF_OBJ, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0) {
        mxb_seterr(err, errlen, "%s: %s: cannot read the references", path, name);
        free(*out);
        *out = NULL;
        goto done;
    }
    *n = (int)count;
    rc = 0;
done:
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    H5Dclose(d);
    return rc;
}

static int open_file(const char *path, mxb_dataset **out, char *err, size_t errlen) {
    mxb_input_note(path); /* no output may be written over it */
    if (mxb_input_check(path, "a gtsegs .mat file", 1, err, errlen)) return -1;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        mxb_seterr(err, errlen, "%s: not an HDF5 (MATLAB v7.3) file", path);
        return -1;
    }
    hobj_ref_t *img = NULL, *gt = NULL;
    int ni = 0, ng = 0;
    if (read_ref_array(f, path, "/value/img", &img, &ni, err, errlen) ||
        read_ref_array(f, path, "/value/gt", &gt, &ng, err, errlen))
        goto fail;
    if (ni != ng) {
        mxb_seterr(err, errlen, "%s: /value/img has %d entries but /value/gt %d", path, ni, ng);
        goto fail;
    }
    mxb_dataset *d = mxb_dataset_alloc(KIND_SEGMENTATION, path, ni);
    if (!d) {
        mxb_seterr(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    d->file = f;
    d->img_refs = img;
    d->gt_refs = gt;
    for (int i = 0; i < ni; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        if (!(d->ids[i] = mxb_try_strdup(id))) {
            mxb_dataset_close(d);
            mxb_seterr(err, errlen, "%s: out of memory", path);
            return -1;
        }
    }
    *out = d;
    return 0;
fail:
    free(img);
    free(gt);
    H5Fclose(f);
    return -1;
}

int mxb_segmentation_open(const char *path, mxb_dataset **out, char *err, size_t errlen) {
    int rc = -1;
    *out = NULL;
    /* HDF5 would print its error stack on every failed call: we report our own */
    MXB_H5_QUIET(rc = open_file(path, out, err, errlen));
    return rc;
}

void mxb_segmentation_release(mxb_dataset *d) {
    if (d->file >= 0) MXB_H5_QUIET(H5Fclose(d->file));
    d->file = -1;
    free(d->img_refs);
    free(d->gt_refs);
    d->img_refs = d->gt_refs = NULL;
}

/* Follows a reference to a dataset; what = "/value/img[17]" for messages. */
static hid_t deref_dataset(mxb_dataset *d, hobj_ref_t *ref, const char *what, char *err, size_t errlen) {
    if (*ref == 0) {
        mxb_seterr(err, errlen, "%s: %s: null object reference", d->path, what);
        return -1;
    }
    hid_t o = H5Rdereference2(d->file, H5P_DEFAULT, H5R_OBJECT, ref);
    if (o < 0) {
        mxb_seterr(err, errlen, "%s: %s: dangling object reference", d->path, what);
        return -1;
    }
    if (H5Iget_type(o) != H5I_DATASET) {
        mxb_seterr(err, errlen, "%s: %s: reference to something that is not a dataset", d->path, what);
        H5Oclose(o);
        return -1;
    }
    return o;
}

/* dims of a dataset of rank 2 or 3 (rank 0 on failure) */
static int dataset_dims(hid_t ds, hsize_t dims[3]) {
    hid_t s = H5Dget_space(ds);
    if (s < 0) return 0;
    int rank = H5Sget_simple_extent_ndims(s);
    if (rank < 1 || rank > 3 || H5Sget_simple_extent_dims(s, dims, NULL) != rank) rank = 0;
    H5Sclose(s);
    return rank;
}

static int load_item(mxb_dataset *d, int item, mxb_sample *s, char *err, size_t errlen) {
    char what[64];
    hid_t img = -1, cell = -1, mask = -1, t = -1;
    uint8_t *buf = NULL;
    double *mbuf = NULL;
    int rc = -1;

    snprintf(what, sizeof what, "/value/img[%d]", item);
    if ((img = deref_dataset(d, &d->img_refs[item], what, err, errlen)) < 0) goto done;
    hsize_t dims[3];
    int rank = dataset_dims(img, dims);
    /* MATLAB's H x W x 3 stored column-major reads back as [3, W, H]; grey [W, H] */
    if (!((rank == 3 && dims[0] == 3) || rank == 2)) {
        mxb_seterr(err, errlen, "%s: %s: want a [3, W, H] or [W, H] array", d->path, what);
        goto done;
    }
    hsize_t W = rank == 3 ? dims[1] : dims[0], H = rank == 3 ? dims[2] : dims[1];
    if (W == 0 || H == 0 || W > 65535 || H > 65535 || W * H > d->max_pixels) {
        mxb_seterr(err, errlen, "%s: %s: image of %llux%llu pixels is empty or over the limit of %zu",
                 d->path, what, (unsigned long long)W, (unsigned long long)H, d->max_pixels);
        goto done;
    }
    t = H5Dget_type(img);
    if (t < 0 || H5Tget_class(t) != H5T_INTEGER || H5Tget_size(t) != 1 || H5Tget_sign(t) != H5T_SGN_NONE) {
        mxb_seterr(err, errlen, "%s: %s: image is not uint8", d->path, what);
        goto done;
    }
    size_t npix = (size_t)W * H, planes = rank == 3 ? 3 : 1;
    if (!stored(d->path, img, what, npix * planes, err, errlen)) goto done;
    buf = mxb_try_alloc(npix * planes);
    s->rgb = mxb_try_alloc(npix * 3);
    if (!buf || !s->rgb) {
        mxb_seterr(err, errlen, "%s: %s: out of memory", d->path, what);
        goto done;
    }
    if (H5Dread(img, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        mxb_seterr(err, errlen, "%s: %s: cannot read the image data", d->path, what);
        goto done;
    }
    /* np.array(...).transpose((2, 1, 0)): rgb[y][x][c] = stored[c][x][y] */
    for (size_t x = 0; x < W; x++)
        for (size_t y = 0; y < H; y++)
            for (size_t c = 0; c < 3; c++)
                s->rgb[(y * W + x) * 3 + c] = buf[(planes == 3 ? c : 0) * npix + x * H + y];
    s->h = (int)H;
    s->w = (int)W;

    /* gt[i] -> a 1 x 1 cell of references -> the mask [W, H] */
    snprintf(what, sizeof what, "/value/gt[%d]", item);
    if ((cell = deref_dataset(d, &d->gt_refs[item], what, err, errlen)) < 0) goto done;
    hid_t ct = H5Dget_type(cell);
    int is_ref = ct >= 0 && H5Tget_class(ct) == H5T_REFERENCE && H5Tequal(ct, H5T_STD_REF_OBJ) > 0;
    if (ct >= 0) H5Tclose(ct);
    hsize_t cd[3];
    int crank = dataset_dims(cell, cd);
    if (!is_ref || crank < 1 || cd[0] * (crank > 1 ? cd[1] : 1) * (crank > 2 ? cd[2] : 1) != 1) {
        mxb_seterr(err, errlen, "%s: %s: want a 1 x 1 cell (an array of one object reference)", d->path, what);
        goto done;
    }
    hobj_ref_t inner;
    if (H5Dread(cell, H5T_STD_REF_OBJ, H5S_ALL, H5S_ALL, H5P_DEFAULT, &inner) < 0) {
        mxb_seterr(err, errlen, "%s: %s: cannot read the cell", d->path, what);
        goto done;
    }
    snprintf(what, sizeof what, "/value/gt[%d]{1}", item);
    if ((mask = deref_dataset(d, &inner, what, err, errlen)) < 0) goto done;
    hsize_t md[3];
    if (dataset_dims(mask, md) != 2) {
        mxb_seterr(err, errlen, "%s: %s: want a [W, H] mask", d->path, what);
        goto done;
    }
    if (md[0] != W || md[1] != H) {
        mxb_seterr(err, errlen, "%s: %s: mask is %llux%llu but the image %llux%llu", d->path, what,
                 (unsigned long long)md[1], (unsigned long long)md[0], (unsigned long long)H,
                 (unsigned long long)W);
        goto done;
    }
    hid_t mt = H5Dget_type(mask);
    H5T_class_t mc = mt >= 0 ? H5Tget_class(mt) : H5T_NO_CLASS;
    if (mt >= 0) H5Tclose(mt);
    if (mc != H5T_INTEGER && mc != H5T_FLOAT) {
        mxb_seterr(err, errlen, "%s: %s: mask is not numeric", d->path, what);
        goto done;
    }
    if (!stored(d->path, mask, what, npix, err, errlen)) goto done;
    mbuf = mxb_try_alloc(npix * sizeof *mbuf);
    s->mask = mxb_try_alloc(npix);
    if (!mbuf || !s->mask) {
        mxb_seterr(err, errlen, "%s: %s: out of memory", d->path, what);
        goto done;
    }
    if (H5Dread(mask, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, mbuf) < 0) {
        mxb_seterr(err, errlen, "%s: %s: cannot read the mask", d->path, what);
        goto done;
    }
    for (size_t x = 0; x < W; x++)
        for (size_t y = 0; y < H; y++) {
            double v = mbuf[x * H + y];
            if (v != 0.0 && v != 1.0) {
                mxb_seterr(err, errlen, "%s: %s: mask value %g at (%zu, %zu), want 0 or 1", d->path, what, v, y, x);
                goto done;
            }
            s->mask[y * W + x] = (uint8_t)v;
        }
    rc = 0;
done:
    if (t >= 0) H5Tclose(t);
    if (img >= 0) H5Oclose(img);
    if (cell >= 0) H5Oclose(cell);
    if (mask >= 0) H5Oclose(mask);
    free(buf);
    free(mbuf);
    return rc;
}

int mxb_segmentation_load(mxb_dataset *d, int item, mxb_sample *s, char *err, size_t errlen) {
    int rc = -1;
    MXB_H5_QUIET(rc = load_item(d, item, s, err, errlen));
    return rc;
}

/* ---- writing ------------------------------------------------------------------ */

struct mxb_gtsegs_writer {
    char *path;
    mxb_outfile out; /* libhdf5 writes out.tmp by name; renamed onto path at close */
    hid_t file, refs, ocpl;
    hobj_ref_t *img, *gt;
    int n, cap, names;
};

/* MATLAB names the members of #refs# a, b, ..., z, A, ..., Z, ba, bb, ... */
static void ref_name(int k, char *out) {
    static const char digits[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    char tmp[16];
    int n = 0;
    do {
        tmp[n++] = digits[k % 52];
        k /= 52;
    } while (k);
    for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    out[n] = 0;
}

static int set_class(hid_t obj, const char *cls) {
    hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR);
    H5Tset_size(t, strlen(cls));
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    hid_t a = H5Acreate2(obj, "MATLAB_class", t, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a >= 0 && H5Awrite(a, t, cls) >= 0 ? 0 : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    return rc;
}

/* MATLAB_fields on a struct group: its field names, each a variable-length array
 * of 1-byte strings (img, gt). */
static int set_fields(hid_t obj) {
    static char img[] = "img", gt[] = "gt";
    hvl_t names[2] = {{3, img}, {2, gt}};
    const hsize_t two = 2;
    hid_t c = H5Tcopy(H5T_C_S1);
    H5Tset_size(c, 1);
    hid_t t = H5Tvlen_create(c), s = H5Screate_simple(1, &two, NULL);
    hid_t a = H5Acreate2(obj, "MATLAB_fields", t, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a >= 0 && H5Awrite(a, t, names) >= 0 ? 0 : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    H5Tclose(c);
    return rc;
}

static int set_u8_attr(hid_t obj, const char *name, uint8_t v) {
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_STD_U8LE, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a >= 0 && H5Awrite(a, H5T_NATIVE_UINT8, &v) >= 0 ? 0 : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    return rc;
}

/* A dataset in #refs# (or at an absolute path when name starts with '/'). */
static int write_dataset(mxb_gtsegs_writer *w, const char *name, hid_t type, int rank, const hsize_t *dims,
                         const void *data, const char *cls, hobj_ref_t *ref) {
    hid_t s = H5Screate_simple(rank, dims, NULL);
    hid_t loc = name[0] == '/' ? w->file : w->refs;
    hid_t d = H5Dcreate2(loc, name, type, s, H5P_DEFAULT, w->ocpl, H5P_DEFAULT);
    int rc = -1;
    if (d >= 0 && (!data || H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0) &&
        set_class(d, cls) == 0)
        rc = 0;
    if (rc == 0 && ref) rc = H5Rcreate(ref, loc, name, H5R_OBJECT, -1) >= 0 ? 0 : -1;
    if (d >= 0) H5Dclose(d);
    H5Sclose(s);
    return rc;
}

static int create(const char *path, mxb_gtsegs_writer **out, char *err, size_t errlen) {
    mxb_gtsegs_writer *w = mxb_try_alloc0(1, sizeof *w);
    if (!w || !(w->path = mxb_try_strdup(path))) {
        free(w);
        mxb_seterr(err, errlen, "%s: out of memory", path);
        return -1;
    }
    w->file = w->refs = w->ocpl = -1;
    if (mxb_outfile_open(&w->out, path, err, errlen)) {
        free(w->path);
        free(w);
        return -1;
    }
    /* the temporary was made O_EXCL (never a planted link); libhdf5 reopens it by name */
    fclose(w->out.f);
    w->out.f = NULL;
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_userblock(fcpl, 512);
    w->file = H5Fcreate(w->out.tmp, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    H5Pclose(fcpl);
    if (w->file < 0) {
        mxb_seterr(err, errlen, "%s: cannot create", path);
        goto fail;
    }
    /* no modification times: the same content gives the same bytes */
    w->ocpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(w->ocpl, 0);
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_obj_track_times(gcpl, 0);
    w->refs = H5Gcreate2(w->file, "#refs#", H5P_DEFAULT, gcpl, H5P_DEFAULT);
    hid_t value = H5Gcreate2(w->file, "value", H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    int bad = w->refs < 0 || value < 0 || set_class(value, "struct") || set_fields(value);
    if (value >= 0) H5Gclose(value);
    /* MATLAB's #refs#/a: the canonical empty array, which the refs then skip */
    char name[16];
    ref_name(w->names++, name);
    const uint64_t zeros[2] = {0, 0};
    const hsize_t two = 2;
    hid_t empty = -1;
    if (!bad) bad = write_dataset(w, name, H5T_NATIVE_UINT64, 1, &two, zeros, "canonical empty", NULL);
    if (!bad) bad = (empty = H5Dopen2(w->refs, name, H5P_DEFAULT)) < 0 || set_u8_attr(empty, "MATLAB_empty", 1);
    if (empty >= 0) H5Dclose(empty);
    if (bad) {
        mxb_seterr(err, errlen, "%s: cannot create the MATLAB groups", path);
        goto fail;
    }
    *out = w;
    return 0;
fail:
    if (w->refs >= 0) H5Gclose(w->refs);
    if (w->ocpl >= 0) H5Pclose(w->ocpl);
    if (w->file >= 0) H5Fclose(w->file);
    mxb_outfile_abort(&w->out);
    free(w->path);
    free(w);
    return -1;
}

int mxb_gtsegs_create(const char *path, mxb_gtsegs_writer **out, char *err, size_t errlen) {
    int rc = -1;
    *out = NULL;
    MXB_H5_QUIET(rc = create(path, out, err, errlen));
    return rc;
}

static int append(mxb_gtsegs_writer *w, const uint8_t *rgb, const uint8_t *mask, int h, int wd,
                  char *err, size_t errlen) {
    if (h <= 0 || wd <= 0 || h > 65535 || wd > 65535) {
        mxb_seterr(err, errlen, "%s: cannot store a %dx%d image", w->path, h, wd);
        return -1;
    }
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 64;
        hobj_ref_t *ni = mxb_try_realloc(w->img, (size_t)cap * sizeof *ni);
        if (ni) w->img = ni;
        hobj_ref_t *ng = ni ? mxb_try_realloc(w->gt, (size_t)cap * sizeof *ng) : NULL;
        if (ng) w->gt = ng;
        if (!ni || !ng) {
            mxb_seterr(err, errlen, "%s: out of memory", w->path);
            return -1;
        }
        w->cap = cap;
    }
    size_t npix = (size_t)h * wd;
    uint8_t *t = mxb_try_alloc(npix * 3);
    if (!t) {
        mxb_seterr(err, errlen, "%s: out of memory", w->path);
        return -1;
    }
    /* column-major MATLAB storage: [3, W, H] with stored[c][x][y] = rgb[y][x][c] */
    for (size_t x = 0; x < (size_t)wd; x++)
        for (size_t y = 0; y < (size_t)h; y++)
            for (size_t c = 0; c < 3; c++) t[c * npix + x * h + y] = rgb[(y * wd + x) * 3 + c];
    char ni[16], nm[16], nc[16];
    ref_name(w->names++, ni);
    ref_name(w->names++, nm);
    ref_name(w->names++, nc);
    hsize_t di[3] = {3, (hsize_t)wd, (hsize_t)h}, dm[2] = {(hsize_t)wd, (hsize_t)h}, dc[2] = {1, 1};
    hobj_ref_t mref;
    int rc = write_dataset(w, ni, H5T_NATIVE_UCHAR, 3, di, t, "uint8", &w->img[w->n]);
    if (!rc) {
        for (size_t x = 0; x < (size_t)wd; x++)
            for (size_t y = 0; y < (size_t)h; y++) t[x * h + y] = mask[y * wd + x];
        rc = write_dataset(w, nm, H5T_NATIVE_UCHAR, 2, dm, t, "uint8", &mref);
    }
    if (!rc) rc = write_dataset(w, nc, H5T_STD_REF_OBJ, 2, dc, &mref, "cell", &w->gt[w->n]);
    free(t);
    if (rc) {
        mxb_seterr(err, errlen, "%s: #refs#/%s: cannot write sample %d", w->path, ni, w->n);
        return -1;
    }
    w->n++;
    return 0;
}

int mxb_gtsegs_append(mxb_gtsegs_writer *w, const uint8_t *rgb, const uint8_t *mask, int h, int wd,
                      char *err, size_t errlen) {
    int rc = -1;
    MXB_H5_QUIET(rc = append(w, rgb, mask, h, wd, err, errlen));
    return rc;
}

/* MATLAB's 128-byte v7.3 header at the start of the userblock; fixed text, not a
 * date, so the bytes depend on the content only. */
static int write_header(const char *path) {
    char h[128];
    memset(h, ' ', 116);
    const char *text = "MATLAB 7.3 MAT-file, Platform: GLNXA64, Created by mxb. HDF5 schema 1.00 .";
    memcpy(h, text, strlen(text));
    memset(h + 116, 0, 8);      /* no subsystem data */
    h[124] = 0x00;              /* version 0x0200, little-endian */
    h[125] = 0x02;
    h[126] = 'I';               /* endian indicator "IM" */
    h[127] = 'M';
    int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC); /* our own temporary (mxb_outfile) */
    if (fd < 0) return -1;
    int rc = pwrite(fd, h, sizeof h, 0) == (ssize_t)sizeof h ? 0 : -1;
    if (close(fd)) rc = -1;
    return rc;
}

static int finish(mxb_gtsegs_writer *w, char *err, size_t errlen) {
    hsize_t dims[2] = {(hsize_t)w->n, 1};
    int rc = 0;
    if (write_dataset(w, "/value/img", H5T_STD_REF_OBJ, 2, dims, w->n ? w->img : NULL, "cell", NULL) ||
        write_dataset(w, "/value/gt", H5T_STD_REF_OBJ, 2, dims, w->n ? w->gt : NULL, "cell", NULL)) {
        mxb_seterr(err, errlen, "%s: cannot write /value/img and /value/gt", w->path);
        rc = -1;
    }
    H5Gclose(w->refs);
    H5Pclose(w->ocpl);
    if (H5Fclose(w->file) < 0 && !rc) {
        mxb_seterr(err, errlen, "%s: cannot close the file", w->path);
        rc = -1;
    }
    if (!rc && write_header(w->out.tmp)) {
        mxb_seterr(err, errlen, "%s: cannot write the MATLAB header", w->path);
        rc = -1;
    }
    if (rc) mxb_outfile_abort(&w->out);
    else rc = mxb_outfile_commit(&w->out, 0, err, errlen);
    return rc;
}

int mxb_gtsegs_close(mxb_gtsegs_writer *w, char *err, size_t errlen) {
    if (!w) return 0;
    int rc = -1;
    MXB_H5_QUIET(rc = finish(w, err, errlen));
    free(w->img);
    free(w->gt);
    free(w->path);
    free(w);
    return rc;
}
