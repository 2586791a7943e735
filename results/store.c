/* The results of a run in memory and in HDF5 (results/SCHEMA.md). Everything a
 * table shows is recomputed from the per-image arrays in dataset order, so a file
 * written in one go, one resumed after a kill, and one merged from shards hold the
 * same numbers. */
#include "results/results.h"
#include "results/internal.h"

#include "io/io.h"

#include "metrics/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mxb_results_free(mxb_results *r) {
    for (int t = 0; t < MXB_NTESTS; t++) mxb_results_free_test(&r->test[t]);
    for (int i = 0; i < r->nattrs; i++) {
        free(r->attr_name[i]);
        free(r->attr_value[i]);
    }
    r->nattrs = 0;
}

void mxb_results_set_attr(mxb_results *r, const char *name, const char *value) {
    for (int i = 0; i < r->nattrs; i++)
        if (!strcmp(r->attr_name[i], name)) {
            char *v = mxb_try_strdup(value);
            if (v) {
                free(r->attr_value[i]);
                r->attr_value[i] = v;
            }
            return;
        }
    if (r->nattrs >= MXB_RES_MAX_ATTRS) return;
    r->attr_name[r->nattrs] = mxb_try_strdup(name);
    r->attr_value[r->nattrs] = mxb_try_strdup(value);
    if (r->attr_name[r->nattrs] && r->attr_value[r->nattrs]) {
        r->nattrs++;
    } else {
        free(r->attr_name[r->nattrs]);
        free(r->attr_value[r->nattrs]);
    }
}

const char *mxb_results_attr(const mxb_results *r, const char *name) {
    for (int i = 0; i < r->nattrs; i++)
        if (!strcmp(r->attr_name[i], name)) return r->attr_value[i];
    return NULL;
}

const char *mxb_results_model_label(const mxb_results *r, int m) {
    char name[96];
    snprintf(name, sizeof name, "model_label_%s", r->models[m]);
    const char *v = mxb_results_attr(r, name);
    return v && v[0] ? v : r->models[m];
}

static int name_at(const char (*names)[64], int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return i;
    return -1;
}

int mxb_results_skip_diff(const mxb_results *a, const mxb_results *b, char (*names)[160], int *in_b, int max) {
    int n = 0;
    for (int m = 0; m < a->nmodels; m++) {
        const int mb = name_at(b->models, b->nmodels, a->models[m]);
        for (int k = 0; mb >= 0 && k < a->nmethods; k++) {
            const int kb = name_at(b->methods, b->nmethods, a->methods[k]);
            if (kb < 0 || a->skipped[m][k] == b->skipped[mb][kb]) continue;
            if (n < max) {
                snprintf(names[n], 160, "%s/%s", a->models[m], a->methods[k]);
                in_b[n] = b->skipped[mb][kb] != 0;
            }
            n++;
        }
    }
    return n;
}

/* ---- writing ------------------------------------------------------------------- */

/* Every dataset carries a `layout` attribute naming its axes (results/SCHEMA.md), so a
 * reader needs no outside knowledge to tell [image, step] from [step, image]. The
 * layouts are looked up by the dataset's last path component; a name missing from
 * the table is a writer bug, reported rather than written without one. */
static const char *const layouts[][2] = {
    {"index", "[image] position in the dataset"},
    {"id", "[image] file id"},
    {"label", "[image] class label (-1: none)"},
    {"figure_index", "[figure image] position in the dataset"},
    {"figure_images", "[figure image, y, x, channel (R, G, B)] as the models saw them"},
    {"figure_masks", "[figure image, y, x] the segmentation test's object mask (1 object, 0 background), as scored"},
    {"prediction", "[image] top-1 class on the unperturbed image"},
    {"models", "[model] names, configuration order"},
    {"methods", "[method] names, configuration order"},
    {"model_grid", "[model] patches per side of the model's map"},
    {"skipped", "[model, method] 1: the pair was not run (the method does not support the model), no group"},
};

static int set_layout(mxb_h5out *o, const char *name, char *err, size_t errlen) {
    const char *leaf = strrchr(name, '/');
    leaf = leaf ? leaf + 1 : name;
    for (int i = 0; i < mxb_res_nfields; i++) /* the per-image fields carry their own */
        if (!strcmp(mxb_res_fields[i].name, leaf))
            return mxb_h5out_attr_str(o, name, "layout", mxb_res_fields[i].layout, err, errlen);
    for (int i = 0; i < mxb_res_nsumrows; i++) /* the saved means too (results/summary.c) */
        if (mxb_res_sumrows[i].saved && !strcmp(mxb_res_sumrows[i].saved, leaf))
            return mxb_h5out_attr_str(o, name, "layout", mxb_res_sumrows[i].layout, err, errlen);
    for (size_t i = 0; i < sizeof layouts / sizeof *layouts; i++)
        if (!strcmp(layouts[i][0], leaf)) return mxb_h5out_attr_str(o, name, "layout", layouts[i][1], err, errlen);
    mxb_seterr(err, errlen, "dataset '%s' has no layout in results/store.c, fields.c or summary.c (a writer bug)", name);
    return -1;
}

static int put(mxb_h5out *o, const char *name, mxb_h5_type type, const void *data, int ndim, const int64_t *dims,
               int compress, char *err, size_t errlen) {
    if (mxb_h5out_write(o, name, type, data, ndim, dims, compress, err, errlen)) return -1;
    return set_layout(o, name, err, errlen);
}

static int put_strings(mxb_h5out *o, const char *name, const char *const *v, int64_t n, char *err, size_t errlen) {
    if (mxb_h5out_strings(o, name, v, n, err, errlen)) return -1;
    return set_layout(o, name, err, errlen);
}

#define TRY(x)                                                                           \
    do {                                                                                 \
        if (x) goto fail;                                                                \
    } while (0)

/* The dataset of per-image field slot s of model m, method k: its path into
 * p[plen] and its shape into d; returns the rank. Write and read both use it. */
static int field_dataset(const mxb_results *r, int t, int m, int k, mxb_res_slot s, char *p, size_t plen,
                         int64_t d[3]) {
    const mxb_res_field *f = s.f;
    int nd = 1;
    d[0] = r->test[t].n, d[1] = d[2] = 0;
    if (f->extent == MXB_RES_PER_PATCH) d[1] = d[2] = r->grid[m], nd = 3;
    else if (f->extent != MXB_RES_ONE) d[1] = (int64_t)mxb_res_field_elems(r, m, f), nd = 2;
    if (f->polar)
        snprintf(p, plen, "/%s/%s/%s/%s/%s", mxb_test_names[t], r->models[m], r->methods[k], mxb_polarity_names[s.q],
                 f->name);
    else snprintf(p, plen, "/%s/%s/%s/%s", mxb_test_names[t], r->models[m], r->methods[k], f->name);
    return nd;
}

static int write_test(mxb_h5out *o, const mxb_results *r, int t, char *err, size_t errlen) {
    const mxb_res_test *T = &r->test[t];
    char p[512];
    const char *tn = mxb_test_names[t];
    int64_t n = T->n;
    mxb_res_slot sl[2 * MXB_RES_MAX_FIELDS];
    int ns = mxb_res_slots(r, t, sl);
    mxb_res_sumslot sum[2 * MXB_RES_MAX_SUMROWS];
    int nsum = mxb_res_sumslots(r, t, sum);
    snprintf(p, sizeof p, "/%s/index", tn);
    TRY(put(o, p, MXB_H5_I32, T->index, 1, &n, 0, err, errlen));
    snprintf(p, sizeof p, "/%s/id", tn);
    TRY(put_strings(o, p, (const char *const *)T->ids, n, err, errlen));
    snprintf(p, sizeof p, "/%s/label", tn);
    TRY(put(o, p, MXB_H5_I32, T->label, 1, &n, 0, err, errlen));
    snprintf(p, sizeof p, "/%s", tn);
    TRY(mxb_h5out_attr_int(o, p, "input_size", T->size, err, errlen));
    if (T->nfig) {
        int64_t fd[4] = {T->nfig, T->size, T->size, 3}, fn = T->nfig;
        snprintf(p, sizeof p, "/%s/figure_index", tn);
        TRY(put(o, p, MXB_H5_I32, T->fig_index, 1, &fn, 0, err, errlen));
        snprintf(p, sizeof p, "/%s/figure_images", tn);
        TRY(put(o, p, MXB_H5_U8, T->fig_rgb, 4, fd, 1, err, errlen));
        if (T->fig_mask) {
            snprintf(p, sizeof p, "/%s/figure_masks", tn);
            TRY(put(o, p, MXB_H5_U8, T->fig_mask, 3, fd, 1, err, errlen));
        }
    }
    for (int m = 0; m < r->nmodels; m++) {
        const char *mn = r->models[m];
        snprintf(p, sizeof p, "/%s/%s/prediction", tn, mn);
        TRY(put(o, p, MXB_H5_I32, T->pred[m], 1, &n, 0, err, errlen));
        for (int k = 0; k < r->nmethods; k++) {
            if (r->skipped[m][k]) continue; /* no group: /skipped says why */
            const mxb_res_cell *c = &T->cell[m][k];
            const char *kn = r->methods[k];
            mxb_res_summary s;
            mxb_results_summarize(r, t, m, k, &s);
            /* the per-image fields (results/fields.c), each [n, ...] */
            for (int j = 0; j < ns; j++) {
                const mxb_res_field *f = sl[j].f;
                if (f->polar && !r->polarity[sl[j].q]) continue;
                int64_t d[3];
                int nd = field_dataset(r, t, m, k, sl[j], p, sizeof p, d);
                TRY(put(o, p, f->type, mxb_res_field_data(c, f, sl[j].q), nd, d, nd > 1, err, errlen));
            }
            /* the saved means (results/summary.c): a scalar or [values] */
            for (int j = 0; j < nsum; j++) {
                const mxb_res_sumrow *w = sum[j].w;
                if (!w->saved) continue;
                double val[MXB_RES_STEPS];
                int64_t nv = mxb_res_sumrow_count(w);
                for (int e = 0; e < nv; e++) val[e] = mxb_res_sumrow_value(&s, w, sum[j].q, e);
                if (w->polar) snprintf(p, sizeof p, "/%s/%s/%s/%s/%s", tn, mn, kn, mxb_polarity_names[sum[j].q], w->saved);
                else snprintf(p, sizeof p, "/%s/%s/%s/%s", tn, mn, kn, w->saved);
                TRY(put(o, p, MXB_H5_F64, val, w->extent == MXB_SUM_ONE ? 0 : 1, &nv, 0, err, errlen));
            }
        }
    }
    return 0;
fail:
    return -1;
}

int mxb_results_write(const mxb_results *r, const char *path, char *err, size_t errlen) {
    for (int t = 0; t < MXB_NTESTS; t++)
        for (int m = 0; r->test[t].enabled && m < r->nmodels; m++)
            for (int i = 0; i < r->test[t].n; i++)
                if (!r->test[t].done[m][i]) {
                    mxb_seterr(err, errlen, "%s: %s of model %s is missing image %s; not writing an incomplete file",
                             path, mxb_test_names[t], r->models[m], r->test[t].ids[i]);
                    return -1;
                }
    mxb_h5out *o = mxb_h5out_create(path, err, errlen);
    if (!o) return -1;
    TRY(mxb_h5out_attr_str(o, "/", "schema", MXB_RESULTS_SCHEMA, err, errlen));
    TRY(mxb_h5out_attr_int(o, "/", "schema_version", MXB_RESULTS_VERSION, err, errlen));
    for (int i = 0; i < r->nattrs; i++)
        TRY(mxb_h5out_attr_str(o, "/", r->attr_name[i], r->attr_value[i], err, errlen));
    {
        const char *mn[MXB_RES_MAX_MODELS], *kn[MXB_RES_MAX_METHODS];
        for (int m = 0; m < r->nmodels; m++) mn[m] = r->models[m];
        for (int k = 0; k < r->nmethods; k++) kn[k] = r->methods[k];
        TRY(put_strings(o, "/models", mn, r->nmodels, err, errlen));
        TRY(put_strings(o, "/methods", kn, r->nmethods, err, errlen));
        int32_t grid[MXB_RES_MAX_MODELS];
        for (int m = 0; m < r->nmodels; m++) grid[m] = r->grid[m];
        int64_t nm = r->nmodels;
        TRY(put(o, "/model_grid", MXB_H5_I32, grid, 1, &nm, 0, err, errlen));
        /* only when a pair was skipped: files of runs that skip nothing stay as they were */
        uint8_t sk[MXB_RES_MAX_MODELS * MXB_RES_MAX_METHODS];
        int any = 0;
        for (int m = 0; m < r->nmodels; m++)
            for (int k = 0; k < r->nmethods; k++) any |= sk[m * r->nmethods + k] = r->skipped[m][k] != 0;
        int64_t sd[2] = {r->nmodels, r->nmethods};
        if (any) TRY(put(o, "/skipped", MXB_H5_U8, sk, 2, sd, 0, err, errlen));
    }
    TRY(mxb_h5out_attr_int(o, "/", "positive", r->polarity[0], err, errlen));
    TRY(mxb_h5out_attr_int(o, "/", "negative", r->polarity[1], err, errlen));
    TRY(mxb_h5out_attr_int(o, "/", "auc_x_normalized", r->auc_x_normalized, err, errlen));
    TRY(mxb_h5out_attr_int(o, "/", "auc_y_fraction", r->auc_y_fraction, err, errlen));
    TRY(mxb_h5out_attr_int(o, "/", "insdel_step", r->insdel_step, err, errlen));
    for (int t = 0; t < MXB_NTESTS; t++)
        if (r->test[t].enabled) TRY(write_test(o, r, t, err, errlen));
    if (r->extra) TRY(r->extra(o, r->extra_user, err, errlen));
    /* last, so a reader that sees it knows everything before it was written */
    TRY(mxb_h5out_attr_int(o, "/", "complete", 1, err, errlen));
    return mxb_h5out_commit(o, err, errlen);
fail:
    mxb_h5out_abort(o);
    return -1;
}

/* ---- reading ------------------------------------------------------------------- */

static int read_into(mxb_h5in *in, const char *name, mxb_h5_type type, int ndim, const int64_t *shape,
                     void *dst, size_t elem, char *err, size_t errlen) {
    int64_t d[4];
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        d[i] = shape[i];
        n *= (size_t)shape[i];
    }
    void *buf = mxb_h5in_read(in, name, type, ndim, d, err, errlen);
    if (!buf) return -1;
    memcpy(dst, buf, n * elem);
    free(buf);
    return 0;
}

static int read_test(mxb_h5in *in, mxb_results *r, int t, char *err, size_t errlen) {
    const char *tn = mxb_test_names[t];
    char p[512];
    int64_t n = -1;
    mxb_res_test *T = &r->test[t];
    snprintf(p, sizeof p, "/%s/index", tn);
    int32_t *idx = mxb_h5in_read(in, p, MXB_H5_I32, 1, &n, err, errlen);
    if (!idx) return -1;
    /* n sizes every per-image array of every model and method: check it against what
     * the file can hold (deflate's 1032:1 at best) before allocating them */
    size_t need = mxb_results_test_bytes(r, t, n > MXB_RES_MAX_IMAGES ? 0 : (int)n);
    if (n > MXB_RES_MAX_IMAGES || need / MXB_DEFLATE_MAX_RATIO > mxb_h5in_filesize(in)) {
        mxb_seterr(err, errlen, "%s: /%s/index declares %lld images, more than the file can hold",
                 mxb_h5in_path(in), tn, (long long)n);
        free(idx);
        return -1;
    }
    if (mxb_results_alloc_test(r, t, (int)n, err, errlen)) {
        free(idx);
        return -1;
    }
    memcpy(T->index, idx, (size_t)n * sizeof *idx);
    free(idx);
    for (int64_t i = 1; i < n; i++)
        if (T->index[i] <= T->index[i - 1]) {
            mxb_seterr(err, errlen, "%s: /%s/index is not ascending", mxb_h5in_path(in), tn);
            return -1;
        }
    int64_t nids = 0;
    snprintf(p, sizeof p, "/%s/id", tn);
    char **ids = mxb_h5in_strings(in, p, &nids, err, errlen);
    if (!ids) return -1;
    if (nids != n) {
        mxb_h5in_free_strings(ids, nids);
        mxb_seterr(err, errlen, "%s: /%s/id has %lld entries, /%s/index %lld", mxb_h5in_path(in), tn,
                 (long long)nids, tn, (long long)n);
        return -1;
    }
    for (int64_t i = 0; i < n; i++) T->ids[i] = ids[i];
    free(ids);
    snprintf(p, sizeof p, "/%s/label", tn);
    TRY(read_into(in, p, MXB_H5_I32, 1, &n, T->label, 4, err, errlen));
    double size = 0;
    snprintf(p, sizeof p, "/%s", tn);
    TRY(mxb_h5in_attr_num(in, p, "input_size", &size, err, errlen));
    if (!(size >= 1 && size <= 8192) || size != (int)size) { /* NaN is out of range too */
        mxb_seterr(err, errlen, "%s: /%s input_size %.17g is not an integer in [1, 8192]", mxb_h5in_path(in), tn, size);
        return -1;
    }
    T->size = (int)size;
    snprintf(p, sizeof p, "/%s/figure_index", tn);
    if (mxb_h5in_exists(in, p)) {
        int64_t fn = -1;
        T->fig_index = mxb_h5in_read(in, p, MXB_H5_I32, 1, &fn, err, errlen);
        if (!T->fig_index) return -1;
        int64_t fd[4] = {fn, T->size, T->size, 3};
        snprintf(p, sizeof p, "/%s/figure_images", tn);
        T->fig_rgb = mxb_h5in_read(in, p, MXB_H5_U8, 4, fd, err, errlen);
        if (!T->fig_rgb) return -1;
        snprintf(p, sizeof p, "/%s/figure_masks", tn);
        if (mxb_h5in_exists(in, p)) { /* files before it have none: no ground-truth column */
            T->fig_mask = mxb_h5in_read(in, p, MXB_H5_U8, 3, fd, err, errlen);
            if (!T->fig_mask) return -1;
        }
        T->nfig = (int)fn;
    }
    mxb_res_slot sl[2 * MXB_RES_MAX_FIELDS];
    int ns = mxb_res_slots(r, t, sl);
    for (int m = 0; m < r->nmodels; m++) {
        const char *mn = r->models[m];
        memset(T->done[m], 1, (size_t)n);
        snprintf(p, sizeof p, "/%s/%s/prediction", tn, mn);
        TRY(read_into(in, p, MXB_H5_I32, 1, &n, T->pred[m], 4, err, errlen));
        for (int k = 0; k < r->nmethods; k++) {
            if (r->skipped[m][k]) continue;
            mxb_res_cell *c = &T->cell[m][k];
            /* every per-image field of the table, its whole shape checked */
            for (int j = 0; j < ns; j++) {
                const mxb_res_field *f = sl[j].f;
                if (f->polar && !r->polarity[sl[j].q]) continue;
                int64_t d[3];
                int nd = field_dataset(r, t, m, k, sl[j], p, sizeof p, d);
                TRY(read_into(in, p, f->type, nd, d, mxb_res_field_data(c, f, sl[j].q), mxb_res_type_size(f->type), err,
                              errlen));
            }
        }
    }
    return 0;
fail:
    return -1;
}

static int read_names(mxb_h5in *in, const char *name, char (*out)[64], int max, int *count, char *err,
                      size_t errlen) {
    int64_t n = 0;
    char **s = mxb_h5in_strings(in, name, &n, err, errlen);
    if (!s) return -1;
    int rc = 0;
    if (n < 1 || n > max) {
        mxb_seterr(err, errlen, "%s: %s holds %lld names (1..%d allowed)", mxb_h5in_path(in), name,
                 (long long)n, max);
        rc = -1;
    }
    for (int64_t i = 0; !rc && i < n; i++) {
        /* names become group names and table headers: no '/', no control bytes */
        int odd = !s[i][0] || strlen(s[i]) >= 64 || strchr(s[i], '/');
        for (const char *c = s[i]; *c; c++) odd |= (unsigned char)*c < 0x20 || *c == 0x7f;
        if (odd) {
            char shown[41];
            snprintf(shown, sizeof shown, "%s", s[i]);
            for (char *c = shown; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
            mxb_seterr(err, errlen, "%s: %s has a bad name '%s'", mxb_h5in_path(in), name, shown);
            rc = -1;
        } else {
            snprintf(out[i], 64, "%s", s[i]);
        }
    }
    *count = (int)n;
    mxb_h5in_free_strings(s, n);
    return rc;
}

static const char *root_attrs[] = {"mxb_version", "git_revision", "blas", "config", "config_path", "run_key",
                                   "host", "threads", "started", "finished", "shard", "seed",
                                   "variant", "class", "data_sha256_perturbation",
                                   "data_sha256_segmentation", "models_sha256", "timings",
                                   "selected_perturbation", "selected_segmentation", "merged_shards",
                                   "code", "code_key"};

int mxb_results_read(const char *path, mxb_results *r, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    mxb_h5in *in = mxb_h5in_open(path, err, errlen);
    if (!in) return -1;
    char *schema = NULL;
    double version = 0, complete = 0, v = 0;
    if (mxb_h5in_attr_str(in, "/", "schema", &schema, err, errlen) || strcmp(schema, MXB_RESULTS_SCHEMA)) {
        mxb_seterr(err, errlen, "%s: not an mxb results file (no schema attribute '%s')", path, MXB_RESULTS_SCHEMA);
        goto fail;
    }
    TRY(mxb_h5in_attr_num(in, "/", "schema_version", &version, err, errlen));
    if (version != MXB_RESULTS_VERSION) { /* the shortest exact form: 1.0000001 must not print as 1 */
        char v[32];
        snprintf(v, sizeof v, "%.15g", version);
        if (strtod(v, NULL) != version) snprintf(v, sizeof v, "%.17g", version);
        mxb_seterr(err, errlen, "%s: results schema version %s, this mxb reads version %d", path, v,
                 MXB_RESULTS_VERSION);
        goto fail;
    }
    if (mxb_h5in_attr_num(in, "/", "complete", &complete, err, errlen) || complete != 1) {
        mxb_seterr(err, errlen, "%s: the results file is not marked complete", path);
        goto fail;
    }
    TRY(read_names(in, "/models", r->models, MXB_RES_MAX_MODELS, &r->nmodels, err, errlen));
    TRY(read_names(in, "/methods", r->methods, MXB_RES_MAX_METHODS, &r->nmethods, err, errlen));
    {
        int64_t nm = r->nmodels;
        int32_t grid[MXB_RES_MAX_MODELS];
        TRY(read_into(in, "/model_grid", MXB_H5_I32, 1, &nm, grid, 4, err, errlen));
        for (int m = 0; m < r->nmodels; m++) {
            if (grid[m] < 1 || grid[m] > 512) {
                mxb_seterr(err, errlen, "%s: /model_grid[%d] = %d is out of range", path, m, grid[m]);
                goto fail;
            }
            r->grid[m] = grid[m];
        }
    }
    const char *flags[] = {"positive", "negative", "auc_x_normalized", "auc_y_fraction"};
    int *dst[] = {&r->polarity[0], &r->polarity[1], &r->auc_x_normalized, &r->auc_y_fraction};
    for (int i = 0; i < 4; i++) {
        TRY(mxb_h5in_attr_num(in, "/", flags[i], &v, err, errlen));
        if (v != 0 && v != 1) {
            mxb_seterr(err, errlen, "%s: attribute '%s' is %.17g, not 0 or 1", path, flags[i], v);
            goto fail;
        }
        *dst[i] = v != 0;
    }
    /* RISE insertion/deletion pixels per step; absent (files before it): not run */
    if (mxb_h5in_attr_num(in, "/", "insdel_step", &v, err, errlen) == 0) {
        if (!(v >= 0 && v <= 1 << 24) || v != (int)v) {
            mxb_seterr(err, errlen, "%s: attribute 'insdel_step' is %.17g, not an integer in [0, %d]", path, v, 1 << 24);
            goto fail;
        }
        r->insdel_step = (int)v;
    }
    err[0] = 0;
    for (size_t i = 0; i < sizeof root_attrs / sizeof *root_attrs; i++) {
        char *s = NULL;
        if (mxb_h5in_attr_str(in, "/", root_attrs[i], &s, err, errlen) == 0) {
            mxb_results_set_attr(r, root_attrs[i], s);
            free(s);
        }
    }
    /* and every other string attribute of the root (transforms, images_in_flight,
     * method_params_*, ... : provenance a merge or a rewrite must keep, whatever its
     * name): the list above is their order; the schema is the writer's own */
    char aname[128];
    for (int i = 0; r->nattrs < MXB_RES_MAX_ATTRS && mxb_h5in_attr_name(in, "/", i, aname, sizeof aname) == 0; i++) {
        char *s = NULL;
        if (!strcmp(aname, "schema") || mxb_results_attr(r, aname)) continue;
        if (mxb_h5in_attr_str(in, "/", aname, &s, err, errlen) == 0) {
            /* a model's label is drawn in the figures (cairo takes UTF-8 only) and
             * printed in every table: made valid UTF-8 once, here */
            char *clean = strncmp(aname, "model_label_", 12) ? NULL : mxb_utf8_clean(s);
            mxb_results_set_attr(r, aname, clean ? clean : s);
            free(clean);
            free(s);
        }
    }
    err[0] = 0;
    if (mxb_h5in_exists(in, "/skipped")) { /* pairs not run (absent: none) */
        int64_t sd[2] = {r->nmodels, r->nmethods};
        uint8_t *sk = mxb_h5in_read(in, "/skipped", MXB_H5_U8, 2, sd, err, errlen);
        if (!sk) goto fail;
        int bad = 0;
        for (int m = 0; m < r->nmodels; m++)
            for (int k = 0; k < r->nmethods; k++) {
                bad |= sk[m * r->nmethods + k] > 1;
                r->skipped[m][k] = sk[m * r->nmethods + k] == 1;
            }
        free(sk);
        if (bad) {
            mxb_seterr(err, errlen, "%s: /skipped holds a value other than 0 or 1", path);
            goto fail;
        }
    }
    /* the maps are kept for every pair or none: probe the first pair that ran */
    int pm = -1, pk = -1;
    for (int m = 0; m < r->nmodels && pm < 0; m++)
        for (int k = 0; k < r->nmethods && pm < 0; k++)
            if (!r->skipped[m][k]) pm = m, pk = k;
    if (pm < 0) {
        mxb_seterr(err, errlen, "%s: /skipped says no (model, method) pair was run", path);
        goto fail;
    }
    char probe[512];
    snprintf(probe, sizeof probe, "/perturbation/%s/%s/map", r->models[pm], r->methods[pk]);
    r->keep_maps = mxb_h5in_exists(in, probe);
    snprintf(probe, sizeof probe, "/segmentation/%s/%s/map", r->models[pm], r->methods[pk]);
    r->keep_maps |= mxb_h5in_exists(in, probe);
    for (int t = 0; t < MXB_NTESTS; t++) {
        snprintf(probe, sizeof probe, "/%s/index", mxb_test_names[t]);
        if (mxb_h5in_exists(in, probe)) TRY(read_test(in, r, t, err, errlen));
    }
    TRY(mxb_results_validate(r, path, err, errlen)); /* results/validate.c */
    free(schema);
    mxb_h5in_close(in);
    return 0;
fail:
    free(schema);
    mxb_h5in_close(in);
    mxb_results_free(r);
    return -1;
}

/* ---- merging shards -------------------------------------------------------------- */

static int same_layout(const mxb_results *a, const mxb_results *b) {
    if (a->nmodels != b->nmodels || a->nmethods != b->nmethods || a->keep_maps != b->keep_maps ||
        a->polarity[0] != b->polarity[0] || a->polarity[1] != b->polarity[1] ||
        a->auc_x_normalized != b->auc_x_normalized || a->auc_y_fraction != b->auc_y_fraction ||
        a->insdel_step != b->insdel_step)
        return 0;
    for (int m = 0; m < a->nmodels; m++)
        if (strcmp(a->models[m], b->models[m]) || a->grid[m] != b->grid[m]) return 0;
    for (int k = 0; k < a->nmethods; k++)
        if (strcmp(a->methods[k], b->methods[k])) return 0;
    for (int m = 0; m < a->nmodels; m++) /* a pair run in one shard and skipped in another */
        for (int k = 0; k < a->nmethods; k++)
            if (a->skipped[m][k] != b->skipped[m][k]) return 0;
    for (int t = 0; t < MXB_NTESTS; t++)
        if (a->test[t].enabled != b->test[t].enabled || a->test[t].size != b->test[t].size) return 0;
    return 1;
}

typedef struct {
    int shard, row;
    int32_t index;
} merge_key;

static int by_index(const void *x, const void *y) {
    const merge_key *a = x, *b = y;
    return (a->index > b->index) - (a->index < b->index);
}

/* Copies row `from` of test t in src into row `to` of dst. */
static int copy_row(mxb_results *dst, const mxb_results *src, int t, int to, int from) {
    mxb_res_test *D = &dst->test[t];
    const mxb_res_test *S = &src->test[t];
    D->index[to] = S->index[from];
    D->label[to] = S->label[from];
    for (int m = 0; m < dst->nmodels; m++) {
        D->pred[m][to] = S->pred[m][from];
        D->done[m][to] = S->done[m][from];
    }
    mxb_results_copy_cells(dst, src, t, to, from);
    return (D->ids[to] = mxb_try_strdup(S->ids[from])) ? 0 : -1; /* the id's length is the file's */
}

int mxb_results_merge(mxb_results *const *shards, int n, mxb_results *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (n < 1) {
        mxb_seterr(err, errlen, "nothing to merge");
        return -1;
    }
    const mxb_results *a = shards[0];
    const char *key = mxb_results_attr(a, "run_key");
    for (int s = 0; s < n; s++) {
        const mxb_results *b = shards[s];
        const char *kb = mxb_results_attr(b, "run_key"), *sh = mxb_results_attr(b, "shard");
        int i = -1, N = -1;
        if (!key || !kb || strcmp(key, kb) || !same_layout(a, b)) {
            mxb_seterr(err, errlen, "shard %d is from a different run (run_key or layout differs from the first)", s + 1);
            return -1;
        }
        char tail;
        if (!sh || sscanf(sh, "%d/%d%c", &i, &N, &tail) != 2 || N < 1 || i < 0 || i >= N) {
            mxb_seterr(err, errlen, "shard %d has a bad shard attribute '%s' (want I/N)", s + 1, sh ? sh : "?");
            return -1;
        }
        if (N != n) {
            mxb_seterr(err, errlen, "shard %d is '%s', one of a run in %d shards, but %d file%s given; give all %d", s + 1,
                     sh, N, n, n == 1 ? " was" : "s were", N);
            return -1;
        }
        for (int s2 = 0; s2 < s; s2++)
            if (!strcmp(mxb_results_attr(shards[s2], "shard"), sh)) {
                mxb_seterr(err, errlen, "shard %s is given twice", sh);
                return -1;
            }
    }
    out->nmodels = a->nmodels;
    out->nmethods = a->nmethods;
    memcpy(out->models, a->models, sizeof a->models);
    memcpy(out->methods, a->methods, sizeof a->methods);
    memcpy(out->grid, a->grid, sizeof a->grid);
    memcpy(out->skipped, a->skipped, sizeof a->skipped);
    memcpy(out->polarity, a->polarity, sizeof a->polarity);
    out->keep_maps = a->keep_maps;
    out->insdel_step = a->insdel_step;
    out->auc_x_normalized = a->auc_x_normalized;
    out->auc_y_fraction = a->auc_y_fraction;
    for (int i = 0; i < a->nattrs; i++) mxb_results_set_attr(out, a->attr_name[i], a->attr_value[i]);
    mxb_results_set_attr(out, "shard", "0/1");
    /* the whole run's times: the earliest start, the last finish, work summed */
    {
        const char *st = mxb_results_attr(a, "started"), *fi = mxb_results_attr(a, "finished");
        double work[2] = {0, 0};
        int have_work = 1;
        for (int s = 0; s < n; s++) {
            const char *x = mxb_results_attr(shards[s], "started"), *y = mxb_results_attr(shards[s], "finished");
            const char *tm = mxb_results_attr(shards[s], "timings");
            if (x && (!st || strcmp(x, st) < 0)) st = x;
            if (y && (!fi || strcmp(y, fi) > 0)) fi = y;
            double p = 0, g = 0;
            if (!tm || sscanf(tm, "perturbation=%lf segmentation=%lf", &p, &g) != 2) have_work = 0;
            work[0] += p, work[1] += g;
        }
        if (st) mxb_results_set_attr(out, "started", st);
        if (fi) mxb_results_set_attr(out, "finished", fi);
        if (have_work) {
            char tb[160];
            snprintf(tb, sizeof tb, "perturbation=%.3f segmentation=%.3f (seconds of work, summed over resumes and %d shards)",
                     work[0], work[1], n);
            mxb_results_set_attr(out, "timings", tb);
        }
    }
    char merged[64];
    snprintf(merged, sizeof merged, "%d", n);
    mxb_results_set_attr(out, "merged_shards", merged);
    for (int t = 0; t < MXB_NTESTS; t++) {
        if (!a->test[t].enabled) continue;
        int rows = 0;
        for (int s = 0; s < n; s++) rows += shards[s]->test[t].n;
        merge_key *keys = mxb_try_alloc0((size_t)(rows ? rows : 1), sizeof *keys);
        if (!keys || mxb_results_alloc_test(out, t, rows, err, errlen)) {
            free(keys);
            mxb_results_free(out);
            if (!err[0]) mxb_seterr(err, errlen, "out of memory");
            return -1;
        }
        int k = 0;
        for (int s = 0; s < n; s++)
            for (int i = 0; i < shards[s]->test[t].n; i++) keys[k++] = (merge_key){s, i, shards[s]->test[t].index[i]};
        qsort(keys, (size_t)rows, sizeof *keys, by_index);
        for (int i = 1; i < rows; i++)
            if (keys[i].index == keys[i - 1].index) {
                mxb_seterr(err, errlen, "image %d of the %s test is in two shards", keys[i].index, mxb_test_names[t]);
                free(keys);
                mxb_results_free(out);
                return -1;
            }
        /* shard I holds rows I, I+N, I+2N, ... of the selection: in index order the
         * rows must alternate between the shards, so a shard missing a row (or holding
         * one too many) is caught here instead of merging into a smaller run; the
         * selection's size, when recorded, catches a missing last row too */
        const char *want_n = mxb_results_attr(a, t == MXB_TEST_PERTURBATION ? "selected_perturbation" : "selected_segmentation");
        char *endp = NULL;
        long wn = want_n ? strtol(want_n, &endp, 10) : -1;
        if (want_n && (!*want_n || *endp)) wn = -1;
        if (wn >= 0 && wn != rows) {
            mxb_seterr(err, errlen, "the %s test has %d images in these shards, the run selected %ld: a shard is missing rows",
                     mxb_test_names[t], rows, wn);
            free(keys);
            mxb_results_free(out);
            return -1;
        }
        for (int i = 0; i < rows; i++) {
            int si = -1, N = 0;
            sscanf(mxb_results_attr(shards[keys[i].shard], "shard"), "%d/%d", &si, &N);
            if (si != i % n || keys[i].row != i / n) {
                mxb_seterr(err, errlen, "shard %d/%d of the %s test lacks a row before image %s (the rows do not alternate)",
                         si, N, mxb_test_names[t], shards[keys[i].shard]->test[t].ids[keys[i].row]);
                free(keys);
                mxb_results_free(out);
                return -1;
            }
        }
        for (int i = 0; i < rows; i++)
            if (copy_row(out, shards[keys[i].shard], t, i, keys[i].row)) {
                mxb_seterr(err, errlen, "out of memory merging the %s test", mxb_test_names[t]);
                free(keys);
                mxb_results_free(out);
                return -1;
            }
        free(keys);
        mxb_res_test *O = &out->test[t];
        O->size = a->test[t].size;
        /* figures: the first images of the whole selection, from whichever shard had them */
        int nfig = 0, maxfig = 0;
        for (int s = 0; s < n; s++) maxfig += shards[s]->test[t].nfig;
        size_t im = (size_t)O->size * O->size * 3, mk = (size_t)O->size * O->size;
        /* the masks only when every shard with figures has them */
        int masks = 1;
        for (int s = 0; s < n; s++) masks &= !shards[s]->test[t].nfig || shards[s]->test[t].fig_mask != NULL;
        if (maxfig) {
            O->fig_index = mxb_try_alloc0((size_t)maxfig, sizeof(int32_t));
            O->fig_rgb = mxb_try_alloc0((size_t)maxfig, im);
            O->fig_mask = masks ? mxb_try_alloc0((size_t)maxfig, mk) : NULL;
            if (!O->fig_index || !O->fig_rgb || (masks && !O->fig_mask)) {
                mxb_seterr(err, errlen, "out of memory");
                mxb_results_free(out);
                return -1;
            }
            /* every shard's: shard I of N keeps the figures of its rows among the run's
             * first `figures` (rows I, I+N, ...), so together they are the unsharded run's.
             * (Sizing this by the largest shard's count lost the figures of the others.) */
            for (int taken = 0; taken < maxfig; taken++) { /* a k-way pick of the smallest index */
                int bs = -1, bi = -1;
                for (int s = 0; s < n; s++)
                    for (int i = 0; i < shards[s]->test[t].nfig; i++) {
                        int32_t v = shards[s]->test[t].fig_index[i];
                        int used = 0;
                        for (int j = 0; j < nfig; j++) used |= O->fig_index[j] == v;
                        if (!used && (bs < 0 || v < shards[bs]->test[t].fig_index[bi])) bs = s, bi = i;
                    }
                if (bs < 0) break;
                O->fig_index[nfig] = shards[bs]->test[t].fig_index[bi];
                memcpy(O->fig_rgb + nfig * im, shards[bs]->test[t].fig_rgb + bi * im, im);
                if (masks) memcpy(O->fig_mask + nfig * mk, shards[bs]->test[t].fig_mask + bi * mk, mk);
                nfig++;
            }
        }
        O->nfig = nfig;
    }
    return 0;
}
