/* Loading weights from HDF5 files named by state_dict keys (engine/WEIGHTS.md). */
#include "engine/params.h"
#include "io/io.h"

#include <hdf5.h>
#include "io/h5_storage.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Attribute readers return 1 when present and read, 0 when absent, -1 when unreadable. */
static int attr_read(hid_t f, const char *name, hid_t memtype, void *out) {
    if (H5Aexists(f, name) <= 0) return 0;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t sp = H5Aget_space(a);
    int ok = H5Sget_simple_extent_npoints(sp) == 1;
    if (ok && H5Tequal(memtype, H5T_NATIVE_INT) > 0) {
        /* an integer field: read as a number and refuse what an int conversion would
         * silently truncate (1.7, 1.5) or wrap */
        double x = 0;
        ok = H5Aread(a, H5T_NATIVE_DOUBLE, &x) >= 0 && isfinite(x) && x == floor(x) && x >= -2147483648.0 &&
             x <= 2147483647.0;
        if (ok) *(int *)out = (int)x;
    } else if (ok) {
        ok = H5Aread(a, memtype, out) >= 0;
        if (ok && H5Tequal(memtype, H5T_NATIVE_DOUBLE) > 0) ok = isfinite(*(double *)out);
    }
    H5Sclose(sp);
    H5Aclose(a);
    return ok ? 1 : -1;
}

static int attr_string(hid_t f, const char *name, char *out, size_t outlen) {
    if (H5Aexists(f, name) <= 0) return 0;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    int rc = -1;
    /* one string, not an array of them: H5Aread would write every element into our
     * one pointer (vlen) or our one buffer (fixed size) */
    if (H5Tget_class(t) == H5T_STRING && H5Sget_simple_extent_npoints(sp) == 1) {
        if (H5Tis_variable_str(t) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(t));
            char *s = NULL;
            if (H5Aread(a, mt, &s) >= 0 && s) {
                snprintf(out, outlen, "%s", s);
                H5free_memory(s);
                rc = 1;
            }
            H5Tclose(mt);
        } else {
            /* the string's size is the file's: too big to hold reads as malformed (-1),
             * which the caller reports naming the file and the attribute */
            size_t n = H5Tget_size(t);
            char *s = n < SIZE_MAX ? mxb_try_alloc0(n + 1, 1) : NULL;
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, n + 1);
            if (s && H5Aread(a, mt, s) >= 0) {
                snprintf(out, outlen, "%s", s);
                rc = 1;
            }
            H5Tclose(mt);
            free(s);
        }
    }
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

static int read_config(hid_t f, const char *path, mxb_config *cfg, char *err, size_t errlen) {
    memset(cfg, 0, sizeof *cfg);
    char arch[32] = "";
    if (attr_string(f, "arch", arch, sizeof arch) != 1) {
        mxb_seterr(err, errlen,
                   "%s: missing root attribute 'arch' (not an mxb weights file? convert the "
                   "checkpoint with tools/convert_checkpoint.py)",
                   path);
        return -1;
    }
    if (!strcmp(arch, "vit"))
        cfg->arch = MXB_ARCH_VIT;
    else if (!strcmp(arch, "vim"))
        cfg->arch = MXB_ARCH_VIM;
    else {
        mxb_seterr(err, errlen, "%s: unknown arch '%s' (expected 'vit' or 'vim')", path, arch);
        return -1;
    }
    int version = 0;
    if (attr_read(f, "mxb_weights_version", H5T_NATIVE_INT, &version) != 1 || version != 1) {
        mxb_seterr(err, errlen, "%s: attribute 'mxb_weights_version' is missing or not the integer 1", path);
        return -1;
    }
    struct { const char *name; int *field; int arch; } ints[] = {
        {"img_size", &cfg->img_size, 0},       {"patch_size", &cfg->patch_size, 0},
        {"in_chans", &cfg->in_chans, 0},       {"num_classes", &cfg->num_classes, 0},
        {"embed_dim", &cfg->embed_dim, 0},     {"depth", &cfg->depth, 0},
        {"num_heads", &cfg->num_heads, 1},     {"mlp_hidden", &cfg->mlp_hidden, 1},
        {"qkv_bias", &cfg->qkv_bias, 1},       {"d_state", &cfg->d_state, 2},
        {"d_inner", &cfg->d_inner, 2},         {"dt_rank", &cfg->dt_rank, 2},
        {"d_conv", &cfg->d_conv, 2},           {"divide_out", &cfg->divide_out, 2},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        if (ints[i].arch && ints[i].arch != (int)cfg->arch) continue;
        if (attr_read(f, ints[i].name, H5T_NATIVE_INT, ints[i].field) != 1) {
            mxb_seterr(err, errlen, "%s: attribute '%s' is missing or not an integer", path,
                       ints[i].name);
            return -1;
        }
    }
    double eps = 0;
    if (attr_read(f, "norm_eps", H5T_NATIVE_DOUBLE, &eps) != 1) {
        mxb_seterr(err, errlen, "%s: attribute 'norm_eps' is missing or not a finite number", path);
        return -1;
    }
    cfg->norm_eps = (float)eps;
    double feps = eps;
    int has_feps = attr_read(f, "final_norm_eps", H5T_NATIVE_DOUBLE, &feps);
    if (has_feps < 0) {
        mxb_seterr(err, errlen, "%s: attribute 'final_norm_eps' is not a finite number", path);
        return -1;
    }
    /* absent: the final norm uses norm_eps; present: it must be valid itself (0 is not
     * "absent") */
    if (has_feps == 1 && !(feps > 0 && feps < 1)) {
        mxb_seterr(err, errlen, "%s: final_norm_eps %g is not in (0, 1)", path, feps);
        return -1;
    }
    cfg->final_norm_eps = (float)feps;
    if (cfg->arch == MXB_ARCH_VIM && cfg->divide_out != 1) {
        mxb_seterr(err, errlen,
                   "%s: divide_out = %d is not supported (only the if_devide_out models)", path,
                   cfg->divide_out);
        return -1;
    }
    char msg[256];
    if (mxb_config_finish(cfg, msg, sizeof msg)) {
        mxb_seterr(err, errlen, "%s: %s", path, msg);
        return -1;
    }
    return 0;
}

typedef struct {
    const mxb_model *m;
    char bad[128];
    int is_group;
} key_scan;

static herr_t check_key(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    (void)info;
    key_scan *ks = data;
    for (int i = 0; i < ks->m->nparams; i++)
        if (!strcmp(ks->m->params[i].name, name)) return 0;
    H5O_info_t oi;
    ks->is_group = H5Oget_info_by_name(g, name, &oi, H5P_DEFAULT) >= 0 && oi.type == H5O_TYPE_GROUP;
    snprintf(ks->bad, sizeof ks->bad, "%s", name);
    return 1;
}

static int shape_str(char *out, size_t n, int nd, const hsize_t *d64, const int64_t *di) {
    size_t k = (size_t)snprintf(out, n, "[");
    for (int i = 0; i < nd && k < n; i++)
        k += (size_t)snprintf(out + k, n - k, "%s%lld", i ? ", " : "",
                              d64 ? (long long)d64[i] : (long long)di[i]);
    if (k < n) snprintf(out + k, n - k, "]");
    return 0;
}

static int read_param(hid_t f, const char *path, const mxb_param *p, float *dst, char *err,
                      size_t errlen) {
    if (H5Lexists(f, p->name, H5P_DEFAULT) <= 0) {
        mxb_seterr(err, errlen, "%s: missing key '%s'", path, p->name);
        return -1;
    }
    hid_t d = H5Dopen2(f, p->name, H5P_DEFAULT);
    if (d < 0) {
        mxb_seterr(err, errlen, "%s: key '%s' is not a dataset", path, p->name);
        return -1;
    }
    int rc = -1;
    hid_t t = H5Dget_type(d), s = H5Dget_space(d);
    hsize_t dims[8];
    int nd = H5Sget_simple_extent_ndims(s);
    char want[96], got[96];
    shape_str(want, sizeof want, p->ndim, NULL, p->shape);
    if (H5Tget_class(t) != H5T_FLOAT) {
        mxb_seterr(err, errlen, "%s: key '%s' is not floating point (expected float32 %s)", path,
                   p->name, want);
        goto done;
    }
    if (nd < 0 || nd > 8) {
        mxb_seterr(err, errlen, "%s: key '%s' has an unreadable shape", path, p->name);
        goto done;
    }
    H5Sget_simple_extent_dims(s, dims, NULL);
    int same = nd == p->ndim;
    for (int i = 0; same && i < nd; i++) same = (int64_t)dims[i] == p->shape[i];
    if (!same) {
        shape_str(got, sizeof got, nd, dims, NULL);
        mxb_seterr(err, errlen, "%s: key '%s' has shape %s, expected %s", path, p->name, got,
                   want);
        goto done;
    }
    /* never written (it reads back as zeros: a model that would load and predict
     * nonsense), partly stored, or a filter we cannot decode (io/h5_storage.h) */
    char why[200];
    if (mxb_h5_declared_stored(d, p->numel, H5Tget_size(t), why, sizeof why)) {
        mxb_seterr(err, errlen, "%s: key '%s' %s", path, p->name, why);
        goto done;
    }
    if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
        mxb_seterr(err, errlen, "%s: cannot read key '%s' (file truncated or corrupt?)", path,
                   p->name);
        goto done;
    }
    for (size_t i = 0; i < p->numel; i++)
        if (!isfinite(dst[i])) {
            mxb_seterr(err, errlen, "%s: key '%s' holds a NaN or infinite value at index %zu",
                       path, p->name, i);
            goto done;
        }
    rc = 0;
done:
    H5Sclose(s);
    H5Tclose(t);
    H5Dclose(d);
    return rc;
}

/* The weights file opened read-only, or -1 with the message: a missing file and a
 * file libhdf5 cannot read are told apart. Each public function below runs its body
 * (X_loud) under MXB_H5_QUIET, so HDF5's own error stack stays quiet unless
 * MXB_HDF5_ERRORS is set. */
static hid_t weights_open(const char *path, char *err, size_t errlen) {
    mxb_input_note(path); /* no output may be written over it */
    if (mxb_input_check(path, "a weights file", 1, err, errlen)) return -1;
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        mxb_seterr(err, errlen, "%s: cannot open weights file", path);
        return -1;
    }
    /* a PyTorch checkpoint (torch.save: a zip archive, or a legacy pickle) given where
     * mxb's HDF5 weights belong: say what it is and what converts it */
    unsigned char magic[4] = {0};
    const size_t got = fread(magic, 1, sizeof magic, probe);
    fclose(probe);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f >= 0) return f;
    if ((got >= 4 && !memcmp(magic, "PK\x03\x04", 4)) || (got >= 2 && magic[0] == 0x80 && magic[1] <= 5))
        mxb_seterr(err, errlen, "%s: a PyTorch checkpoint, not mxb's HDF5 weights: convert it with "
                   "tools/convert_checkpoint.py (tools/README.md)", path);
    else
        mxb_seterr(err, errlen, "%s: not a readable HDF5 file (truncated or corrupt?)", path);
    return f;
}

static int mxb_model_load_loud(const char *path, mxb_model **out, char *err, size_t errlen) {
    *out = NULL;
    hid_t f = weights_open(path, err, errlen);
    if (f < 0) return -1;
    mxb_config cfg;
    mxb_model *m = NULL;
    if (read_config(f, path, &cfg, err, errlen)) goto fail;
    /* The config alone decides the allocation: a few attributes in a 1 KB file may
     * declare a model of terabytes. Its parameters must fit in the file, compressed
     * at best by deflate's ceiling of 1032:1. */
    hsize_t fsize = 0;
    size_t need = 0;
    if (H5Fget_filesize(f, &fsize) < 0 || mxb_config_bytes(&cfg, &need, NULL, NULL)) {
        mxb_seterr(err, errlen, "%s: cannot size the file or the model", path);
        goto fail;
    }
    if (need / MXB_DEFLATE_MAX_RATIO > fsize) {
        mxb_seterr(err, errlen,
                   "%s: the config declares a %s model of %zu MiB of parameters but the file "
                   "has only %llu bytes (truncated, or not the model it says)",
                   path, mxb_arch_name(cfg.arch), need >> 20, (unsigned long long)fsize);
        goto fail;
    }
    char msg[256];
    if (mxb_model_new(&cfg, &m, msg, sizeof msg)) {
        mxb_seterr(err, errlen, "%s: %s", path, msg);
        goto fail;
    }
    key_scan ks = {.m = m};
    hsize_t idx = 0;
    if (H5Literate(f, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, check_key, &ks) < 0) {
        mxb_seterr(err, errlen, "%s: cannot list the datasets (corrupt file?)", path);
        goto fail;
    }
    if (ks.bad[0]) {
        mxb_seterr(err, errlen, "%s: unexpected %s '%s' for a %s model of depth %d", path,
                   ks.is_group ? "group" : "key", ks.bad, mxb_arch_name(cfg.arch), cfg.depth);
        goto fail;
    }
    for (int i = 0; i < m->nparams; i++)
        if (read_param(f, path, &m->params[i], m->data + m->params[i].offset, err, errlen))
            goto fail;
    H5Fclose(f);
    mxb_model_refresh(m);
    *out = m;
    return 0;
fail:
    mxb_model_free(m);
    H5Fclose(f);
    return -1;
}

int mxb_model_load(const char *path, mxb_model **out, char *err, size_t errlen) {
    int rc = 0;
    MXB_H5_QUIET(rc = mxb_model_load_loud(path, out, err, errlen));
    return rc;
}

static int mxb_model_peek_loud(const char *path, mxb_config *cfg, char *err, size_t errlen) {
    hid_t f = weights_open(path, err, errlen);
    if (f < 0) return -1;
    int rc = read_config(f, path, cfg, err, errlen);
    H5Fclose(f);
    return rc;
}

int mxb_model_peek(const char *path, mxb_config *cfg, char *err, size_t errlen) {
    int rc = 0;
    MXB_H5_QUIET(rc = mxb_model_peek_loud(path, cfg, err, errlen));
    return rc;
}

/* n doubles of one attribute: 1 read, 0 absent, -1 unreadable or another size */
static int attr_doubles(hid_t f, const char *name, double *out, int n) {
    if (H5Aexists(f, name) <= 0) return 0;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t sp = H5Aget_space(a);
    int ok = H5Sget_simple_extent_npoints(sp) == n && H5Aread(a, H5T_NATIVE_DOUBLE, out) >= 0;
    H5Sclose(sp);
    H5Aclose(a);
    return ok ? 1 : -1;
}

static int mxb_weights_transform_loud(const char *path, mxb_eval_transform *t, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    hid_t f = weights_open(path, err, errlen);
    if (f < 0) return -1;
    static const char *const names[] = {"eval_resize", "eval_square", "eval_crop", "eval_interpolation",
                                        "eval_mean", "eval_std"};
    int present = 0, rc = -1;
    for (int i = 0; i < 6; i++) present += H5Aexists(f, names[i]) > 0;
    if (present == 0) {
        H5Fclose(f);
        return 0;
    }
    /* all or nothing: half a transform is a broken conversion, not an old one */
    double mean[3], std[3];
    const char *bad = NULL;
    if (attr_read(f, "eval_resize", H5T_NATIVE_INT, &t->resize) != 1 || t->resize < 1 || t->resize > 8192)
        bad = "eval_resize";
    else if (attr_read(f, "eval_square", H5T_NATIVE_INT, &t->square) != 1 || (t->square != 0 && t->square != 1))
        bad = "eval_square";
    else if (attr_read(f, "eval_crop", H5T_NATIVE_INT, &t->crop) != 1 || t->crop < 0 || t->crop > 8192)
        bad = "eval_crop";
    else if (attr_string(f, "eval_interpolation", t->interpolation, sizeof t->interpolation) != 1 ||
             (strcmp(t->interpolation, "bicubic") && strcmp(t->interpolation, "bilinear") &&
              strcmp(t->interpolation, "nearest")))
        bad = "eval_interpolation";
    else if (attr_doubles(f, "eval_mean", mean, 3) != 1 || !isfinite(mean[0] + mean[1] + mean[2]))
        bad = "eval_mean";
    else if (attr_doubles(f, "eval_std", std, 3) != 1 || !(std[0] > 0 && std[1] > 0 && std[2] > 0) ||
             !isfinite(std[0] + std[1] + std[2]))
        bad = "eval_std";
    if (bad) {
        mxb_seterr(err, errlen,
                   "%s: the evaluation transform's attribute '%s' is missing or invalid (engine/WEIGHTS.md)",
                   path, bad);
    } else {
        for (int c = 0; c < 3; c++) {
            t->mean[c] = (float)mean[c];
            t->std[c] = (float)std[c];
        }
        rc = 1;
    }
    H5Fclose(f);
    return rc;
}

static int mxb_weights_source_loud(const char *path, char *source, size_t slen, char *sha, size_t shalen, char *err,
                                   size_t errlen) {
    source[0] = sha[0] = 0;
    hid_t f = weights_open(path, err, errlen);
    if (f < 0) return -1;
    if (attr_string(f, "source", source, slen) != 1) source[0] = 0;
    if (attr_string(f, "source_sha256", sha, shalen) != 1) sha[0] = 0;
    H5Fclose(f);
    /* printed on a terminal: a control byte in the file's text is not passed through */
    for (char *p = source; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    for (char *p = sha; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    return 0;
}

int mxb_weights_source(const char *path, char *source, size_t slen, char *sha, size_t shalen, char *err,
                       size_t errlen) {
    int rc = 0;
    MXB_H5_QUIET(rc = mxb_weights_source_loud(path, source, slen, sha, shalen, err, errlen));
    return rc;
}

int mxb_weights_transform(const char *path, mxb_eval_transform *t, char *err, size_t errlen) {
    int rc = 0;
    MXB_H5_QUIET(rc = mxb_weights_transform_loud(path, t, err, errlen));
    return rc;
}
