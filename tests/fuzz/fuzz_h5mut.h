/* Structure-aware HDF5 inputs for the loaders of weights, gtsegs and results files.
 *
 * libhdf5 is not robust against byte-mutated files (tests/fuzz/README.md), so these
 * targets never hand it random bytes. Instead a valid template file (tests/fuzz/
 * templates/) is read once into a list of objects — groups, datasets with their
 * type, shape and data, object references by target name, attributes — and each
 * fuzz input is a *mutation script* over that list: per object one op byte (keep,
 * drop, retype, reshape, declare without data, poison one value, rename, duplicate),
 * per attribute one (keep, drop, new value, new type). The result is written with the
 * HDF5 API into a real file, which the loader under test then opens by path, as
 * `mxb` does. An empty input is the template itself (a valid file).
 *
 * Shapes may be declared up to 2^40 elements; data is written only when it takes at
 * most 4 MiB, so a "2 GB shape in a 1 KB file" is one of the inputs and a loader
 * that trusts it would trip libFuzzer's malloc limit. */
#ifndef MXB_FUZZ_H5MUT_H
#define MXB_FUZZ_H5MUT_H

#include "fuzz_util.h"

#include <hdf5.h>
#include <math.h>

typedef struct {
    const uint8_t *p;
    size_t n;
} fz_src;

static inline uint8_t fz_u8(fz_src *s) {
    if (!s->n) return 0;
    s->n--;
    return *s->p++;
}

static inline uint32_t fz_u32(fz_src *s) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v = v << 8 | fz_u8(s);
    return v;
}

typedef struct {
    char name[256];
    int group;           /* 1: a group (no data) */
    hid_t ftype, mtype;  /* file type and the memory type the data is held in */
    int vlen, ref;       /* variable-length strings (char * data) / object references */
    int rank;
    hsize_t dims[8];
    size_t nelem;
    void *data;          /* nelem * H5Tget_size(mtype) bytes, or char *[nelem] */
    char (*targets)[256]; /* ref: the target object's name per element ("" = null) */
} fz_obj;

typedef struct {
    char obj[256], name[128];
    hid_t ftype, mtype;
    int vlen, rank;
    hsize_t dims[8];
    size_t nelem;
    void *data;
} fz_attr;

typedef struct {
    fz_obj *o;
    int no;
    fz_attr *a;
    int na;
    hid_t file; /* open while the template is being read */
} fz_template;

static inline hid_t fz_memtype(hid_t ftype, int *vlen) {
    *vlen = 0;
    if (H5Tget_class(ftype) == H5T_STRING) {
        *vlen = H5Tis_variable_str(ftype) > 0;
        return H5Tcopy(ftype);
    }
    return H5Tget_native_type(ftype, H5T_DIR_ASCEND);
}

static inline size_t fz_space(hid_t sp, int *rank, hsize_t dims[8]) {
    *rank = H5Sget_simple_extent_ndims(sp);
    if (*rank < 0 || *rank > 8) abort();
    H5Sget_simple_extent_dims(sp, dims, NULL);
    size_t n = 1;
    for (int i = 0; i < *rank; i++) n *= dims[i];
    return n;
}

static inline herr_t fz_attr_cb(hid_t loc, const char *name, const H5A_info_t *info, void *user) {
    (void)info;
    void **u = user;
    fz_template *t = u[0];
    const char *obj = u[1];
    t->a = realloc(t->a, (size_t)(t->na + 1) * sizeof *t->a);
    fz_attr *a = &t->a[t->na++];
    memset(a, 0, sizeof *a);
    snprintf(a->obj, sizeof a->obj, "%s", obj);
    snprintf(a->name, sizeof a->name, "%s", name);
    hid_t at = H5Aopen(loc, name, H5P_DEFAULT);
    a->ftype = H5Aget_type(at);
    a->mtype = fz_memtype(a->ftype, &a->vlen);
    hid_t sp = H5Aget_space(at);
    a->nelem = fz_space(sp, &a->rank, a->dims);
    H5Sclose(sp);
    a->data = calloc(a->nelem ? a->nelem : 1, a->vlen ? sizeof(char *) : H5Tget_size(a->mtype));
    if (H5Aread(at, a->mtype, a->data) < 0) abort();
    H5Aclose(at);
    return 0;
}

static inline void fz_attrs_of(fz_template *t, const char *obj) {
    hid_t o = H5Oopen(t->file, obj, H5P_DEFAULT);
    if (o < 0) abort();
    void *u[2] = {t, (void *)obj};
    hsize_t idx = 0;
    H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_INC, &idx, fz_attr_cb, u);
    H5Oclose(o);
}

static inline herr_t fz_visit_cb(hid_t f, const char *name, const H5O_info_t *info, void *user) {
    fz_template *t = user;
    char full[256];
    snprintf(full, sizeof full, "/%s", strcmp(name, ".") ? name : "");
    if (!strcmp(name, ".")) {
        fz_attrs_of(t, "/");
        return 0;
    }
    if (info->type != H5O_TYPE_GROUP && info->type != H5O_TYPE_DATASET) return 0;
    t->o = realloc(t->o, (size_t)(t->no + 1) * sizeof *t->o);
    fz_obj *o = &t->o[t->no++];
    memset(o, 0, sizeof *o);
    snprintf(o->name, sizeof o->name, "%s", full);
    if (info->type == H5O_TYPE_GROUP) {
        o->group = 1;
    } else {
        hid_t d = H5Dopen2(f, full, H5P_DEFAULT);
        o->ftype = H5Dget_type(d);
        hid_t sp = H5Dget_space(d);
        o->nelem = fz_space(sp, &o->rank, o->dims);
        H5Sclose(sp);
        if (H5Tget_class(o->ftype) == H5T_REFERENCE) {
            o->ref = 1;
            o->mtype = H5Tcopy(H5T_STD_REF_OBJ);
            hobj_ref_t *r = calloc(o->nelem ? o->nelem : 1, sizeof *r);
            if (H5Dread(d, H5T_STD_REF_OBJ, H5S_ALL, H5S_ALL, H5P_DEFAULT, r) < 0) abort();
            o->targets = calloc(o->nelem ? o->nelem : 1, sizeof *o->targets);
            for (size_t i = 0; i < o->nelem; i++)
                if (H5Rget_name(f, H5R_OBJECT, &r[i], o->targets[i], 256) <= 0) o->targets[i][0] = 0;
            free(r);
        } else {
            o->mtype = fz_memtype(o->ftype, &o->vlen);
            o->data = calloc(o->nelem ? o->nelem : 1, o->vlen ? sizeof(char *) : H5Tget_size(o->mtype));
            if (o->nelem && H5Dread(d, o->mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, o->data) < 0) abort();
        }
        H5Dclose(d);
    }
    fz_attrs_of(t, full);
    return 0;
}

/* Reads tests/fuzz/templates/NAME once (kept for the life of the process). */
static inline fz_template *fz_template_load(const char *name) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", MXB_FUZZ_TEMPLATES, name);
    fz_template *t = calloc(1, sizeof *t);
    t->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (t->file < 0) {
        fprintf(stderr, "cannot open the template %s\n", path);
        abort();
    }
    H5Ovisit(t->file, H5_INDEX_NAME, H5_ITER_INC, fz_visit_cb, t);
    H5Fclose(t->file);
    t->file = -1;
    return t;
}

/* The types a retype picks from: what a converter or a careless script might write. */
static inline hid_t fz_pick_type(uint8_t k, int *vlen) {
    *vlen = 0;
    switch (k % 10) {
    case 0: return H5Tcopy(H5T_IEEE_F32LE);
    case 1: return H5Tcopy(H5T_IEEE_F64LE);
    case 2: return H5Tcopy(H5T_STD_U8LE);
    case 3: return H5Tcopy(H5T_STD_I8LE);
    case 4: return H5Tcopy(H5T_STD_I32LE);
    case 5: return H5Tcopy(H5T_STD_I64BE);
    case 6: return H5Tcopy(H5T_STD_U16LE);
    case 7: return H5Tcopy(H5T_IEEE_F32BE);
    case 8: {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        H5Tset_cset(t, H5T_CSET_UTF8);
        *vlen = 1;
        return t;
    }
    default: {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, 8);
        return t;
    }
    }
}

static const char *fz_strings[] = {"", "deit", "vim", "rollout", "attribution", "mxb-results", "0/1",
                                   "vit", "a/b", "x\ny", "predicted", "exact", "1"};
#define FZ_NSTRINGS (sizeof fz_strings / sizeof *fz_strings)

/* Fills n elements of memory type mt (vlen: char *) cyclically from src bytes. */
static inline void *fz_fill(hid_t mt, int vlen, size_t n, const void *src, size_t srcbytes, fz_src *in) {
    size_t es = vlen ? sizeof(char *) : H5Tget_size(mt);
    void *buf = calloc(n ? n : 1, es);
    if (vlen) {
        for (size_t i = 0; i < n; i++) ((const char **)buf)[i] = fz_strings[(i + fz_u8(in)) % FZ_NSTRINGS];
    } else if (src && srcbytes) {
        for (size_t i = 0; i < n * es; i++) ((uint8_t *)buf)[i] = ((const uint8_t *)src)[i % srcbytes];
    }
    return buf;
}

/* Sets element i of buf to an odd value: NaN, inf, -1, a huge or a zero value. */
static inline void fz_poison(hid_t mt, int vlen, void *buf, size_t i, fz_src *in) {
    uint8_t k = fz_u8(in);
    if (vlen) {
        static char s[300];
        size_t len = fz_u8(in);
        for (size_t j = 0; j < len; j++) s[j] = (char)(fz_u8(in) | 1);
        s[len] = 0;
        ((const char **)buf)[i] = k & 1 ? s : fz_strings[k % FZ_NSTRINGS];
        return;
    }
    size_t es = H5Tget_size(mt);
    uint8_t *e = (uint8_t *)buf + i * es;
    if (H5Tget_class(mt) == H5T_FLOAT && es == 4) {
        float v[] = {NAN, INFINITY, -INFINITY, -1, 1e30f, 0, 3e9f, -0.5f};
        memcpy(e, &v[k % 8], 4);
    } else if (H5Tget_class(mt) == H5T_FLOAT && es == 8) {
        double v[] = {NAN, INFINITY, -INFINITY, -1, 1e300, 0, 3e9, -0.5};
        memcpy(e, &v[k % 8], 8);
    } else {
        uint32_t v = k & 1 ? fz_u32(in) : (k & 2 ? 0xFFFFFFFFu : 0x7FFFFFFFu);
        for (size_t j = 0; j < es; j++) e[j] = (uint8_t)(v >> (8 * (j % 4)));
    }
}

#define FZ_MAX_WRITE ((size_t)4 << 20)

static inline hid_t fz_make_space(int rank, const hsize_t *dims) {
    return rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
}

/* Writes one dataset; data NULL = declared only (no storage). */
static inline void fz_put(hid_t f, hid_t lcpl, const char *name, hid_t ft, hid_t mt, int rank,
                   const hsize_t *dims, const void *data) {
    hid_t sp = fz_make_space(rank, dims);
    if (sp < 0) return;
    hid_t d = H5Dcreate2(f, name, ft, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0) {
        if (data) H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
        H5Dclose(d);
    }
    H5Sclose(sp);
}

static inline void fz_write_refs(hid_t f, hid_t lcpl, const fz_template *t, const fz_obj *o, const char *name,
                          int rank, const hsize_t *dims, size_t n, int op, fz_src *in) {
    hobj_ref_t *r = calloc(n ? n : 1, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        const char *target = o->nelem ? o->targets[i % o->nelem] : "";
        if (target[0] && H5Rcreate(&r[i], f, target, H5R_OBJECT, -1) < 0) r[i] = 0;
    }
    if (op == 13 && n) { /* poison: one reference to another object, or null */
        size_t i = fz_u32(in) % n;
        uint8_t k = fz_u8(in);
        const char *target = k == 0 ? "" : k == 1 ? "/" : t->o[k % t->no].name;
        if (!target[0] || H5Rcreate(&r[i], f, target, H5R_OBJECT, -1) < 0) r[i] = 0;
    }
    fz_put(f, lcpl, name, H5T_STD_REF_OBJ, H5T_STD_REF_OBJ, rank, dims, r);
    free(r);
}

/* Types whose in-memory form holds pointers or structure (VLEN sequences such as
 * MATLAB_fields, compounds): their bytes are never mutated, only kept, dropped or
 * replaced by another type. */
static inline int fz_opaque(hid_t t) {
    H5T_class_t c = H5Tget_class(t);
    return c != H5T_INTEGER && c != H5T_FLOAT && c != H5T_STRING;
}

static inline void fz_write_attr(hid_t f, const fz_attr *a, fz_src *in) {
    uint8_t op = fz_u8(in) % 10;
    if (op == 6) return; /* dropped */
    if (op == 7 && fz_opaque(a->ftype)) op = 0;
    if (H5Lexists(f, a->obj, H5P_DEFAULT) <= 0 && strcmp(a->obj, "/")) return;
    hid_t o = H5Oopen(f, a->obj, H5P_DEFAULT);
    if (o < 0) return;
    hid_t ft = a->ftype, mt = a->mtype, own_ft = -1;
    int vlen = a->vlen, rank = a->rank;
    hsize_t dims[8];
    memcpy(dims, a->dims, sizeof dims);
    void *data = a->data, *own = NULL;
    size_t n = a->nelem;
    if (op == 7 || op == 8) { /* a new value (7) or a new type and value (8) */
        if (op == 8) {
            own_ft = ft = fz_pick_type(fz_u8(in), &vlen);
            mt = ft;
        }
        if (fz_u8(in) & 1) { /* sometimes an array instead of a scalar */
            rank = 1;
            dims[0] = fz_u8(in) % 4;
        }
        n = rank ? dims[0] : 1;
        if (op == 8 && rank == a->rank && n == a->nelem && !vlen)
            own = fz_fill(mt, vlen, n, NULL, 0, in); /* zeros of the new type */
        else
            own = fz_fill(mt, vlen, n, vlen == a->vlen ? a->data : NULL,
                          vlen == a->vlen && !vlen ? a->nelem * H5Tget_size(a->mtype) : 0, in);
        if (n) fz_poison(mt, vlen, own, fz_u32(in) % n, in);
        data = own;
    }
    hid_t sp = fz_make_space(rank, dims);
    hid_t at = H5Acreate2(o, a->name, ft, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (at >= 0) {
        H5Awrite(at, mt, data);
        H5Aclose(at);
    }
    H5Sclose(sp);
    if (own_ft >= 0) H5Tclose(own_ft);
    free(own);
    H5Oclose(o);
}

/* Writes the mutated template to path. */
static inline void fz_h5_build(const fz_template *t, const uint8_t *data, size_t size, const char *path) {
    fz_src in = {data, size};
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) abort();
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    /* references need their targets: plain datasets and groups first, then refs */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < t->no; i++) {
            const fz_obj *o = &t->o[i];
            if (o->ref != pass) continue;
            uint8_t op = fz_u8(&in) % 16;
            if (op == 9) continue; /* dropped */
            char name[300];
            snprintf(name, sizeof name, "%s", o->name);
            if (op == 14) { /* renamed: an unexpected name, or another object's */
                uint8_t k = fz_u8(&in);
                if (k & 1)
                    snprintf(name, sizeof name, "%s", t->o[(k >> 1) % t->no].name);
                else
                    snprintf(name, sizeof name, "%s_%u", o->name, k);
            }
            if (o->group) {
                hid_t g = H5Gcreate2(f, name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
                if (g >= 0) H5Gclose(g);
                continue;
            }
            hid_t ft = o->ftype, mt = o->mtype, own_ft = -1;
            int vlen = o->vlen, rank = o->rank;
            hsize_t dims[8];
            memcpy(dims, o->dims, sizeof dims);
            if (op == 10 && !o->ref) { /* retyped */
                own_ft = ft = fz_pick_type(fz_u8(&in), &vlen);
                mt = vlen || H5Tget_class(ft) == H5T_STRING ? H5Tcopy(ft) : H5Tget_native_type(ft, H5T_DIR_ASCEND);
            }
            if (op == 13 && !o->ref && fz_opaque(ft)) op = 0;
            if (op == 11) { /* reshaped */
                uint8_t k = fz_u8(&in);
                if (k % 4 == 0) {
                    rank = fz_u8(&in) % 5;
                    for (int j = 0; j < rank; j++) dims[j] = fz_u8(&in) % 17;
                } else if (rank > 0 && k % 4 == 1) {
                    dims[fz_u8(&in) % rank] = fz_u8(&in);
                } else if (rank > 0 && k % 4 == 2) { /* large: up to 2^39 along one axis */
                    uint8_t b = fz_u8(&in);
                    dims[fz_u8(&in) % rank] = ((hsize_t)b + 1) << (16 + fz_u8(&in) % 24);
                } else if (rank > 1) {
                    hsize_t x = dims[0];
                    dims[0] = dims[rank - 1];
                    dims[rank - 1] = x;
                }
            }
            size_t n = 1;
            int fits = 1;
            for (int j = 0; j < rank; j++) {
                if (dims[j] && n > ((size_t)1 << 40) / dims[j]) fits = 0;
                n *= dims[j];
            }
            size_t es = vlen ? sizeof(char *) : H5Tget_size(mt);
            int declared_only = op == 12 || !fits || n > FZ_MAX_WRITE / es ||
                                (n != o->nelem && !o->ref && fz_opaque(ft));
            if (o->ref) {
                if (!declared_only)
                    fz_write_refs(f, lcpl, t, o, name, rank, dims, n, op, &in);
                else
                    fz_put(f, lcpl, name, H5T_STD_REF_OBJ, H5T_STD_REF_OBJ, rank, dims, NULL);
            } else {
                void *buf = NULL;
                const void *w = NULL;
                if (!declared_only) {
                    int same = ft == o->ftype && n == o->nelem;
                    if (same && op != 13) {
                        w = o->data;
                    } else {
                        buf = fz_fill(mt, vlen, n, vlen == o->vlen ? o->data : NULL,
                                      vlen == o->vlen && !vlen ? o->nelem * H5Tget_size(o->mtype) : 0, &in);
                        if (vlen && vlen == o->vlen) /* keep the template's strings where they fit */
                            for (size_t j = 0; j < n && o->nelem; j++) ((char **)buf)[j] = ((char **)o->data)[j % o->nelem];
                        if (op == 13 && n) fz_poison(mt, vlen, buf, fz_u32(&in) % n, &in);
                        w = buf;
                    }
                }
                fz_put(f, lcpl, name, ft, mt, rank, dims, w);
                if (op == 15) /* duplicated under an unexpected name as well */
                    fz_put(f, lcpl, "/unexpected", ft, mt, rank, dims, w);
                free(buf);
            }
            if (own_ft >= 0) {
                H5Tclose(mt);
                H5Tclose(own_ft);
            }
        }
    for (int i = 0; i < t->na; i++) fz_write_attr(f, &t->a[i], &in);
    H5Pclose(lcpl);
    if (H5Fclose(f) < 0) abort();
}

/* Every HDF5 object the loader opened must be closed again (a leaked id is a leaked
 * file handle in a long run). Files, datasets, groups, attributes: the template holds
 * transient datatypes of its own. Call after the loader's own close. */
static inline void fz_h5_no_open_ids(void) {
    ssize_t n = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_FILE | H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_ATTR);
    if (n != 0) {
        fprintf(stderr, "%zd HDF5 objects left open\n", n);
        abort();
    }
}

#endif
