/* The iterator every reader sits behind, and the subsets. */
#include "datasets/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void mxb_sample_free(mxb_sample *s) {
    if (!s) return;
    free(s->rgb);
    free(s->mask);
    s->rgb = s->mask = NULL;
}

mxb_dataset *mxb_dataset_alloc(int kind, const char *path, int total) {
    mxb_dataset *d = mxb_try_alloc0(1, sizeof *d);
    if (!d) return NULL;
    d->kind = kind;
    d->file = -1;
    d->total = total;
    d->max_pixels = mxb_default_max_pixels();
    d->path = mxb_try_strdup(path);
    d->sel = mxb_try_alloc((size_t)(total > 0 ? total : 1) * sizeof *d->sel);
    d->ids = mxb_try_alloc0((size_t)(total > 0 ? total : 1), sizeof *d->ids);
    if (!d->path || !d->sel || !d->ids) {
        free(d->path); free(d->sel); free(d->ids); free(d);
        return NULL;
    }
    for (int i = 0; i < total; i++) d->sel[i] = i;
    d->nsel = total;
    return d;
}

void mxb_dataset_close(mxb_dataset *d) {
    if (!d) return;
    if (d->kind == KIND_SEGMENTATION) mxb_segmentation_release(d);
    if (d->ids)
        for (int i = 0; i < d->total; i++) free(d->ids[i]);
    free(d->ids);
    free(d->labels);
    free(d->sel);
    free(d->path);
    free(d);
}

int mxb_dataset_open(const char *path, const char *labels_file, mxb_dataset **out,
                     char *err, size_t errlen) {
    struct stat st;
    *out = NULL;
    if (stat(path, &st) != 0) {
        mxb_seterr(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) return mxb_imagenet_open(path, labels_file, out, err, errlen);
    return mxb_segmentation_open(path, out, err, errlen);
}

int mxb_dataset_size(const mxb_dataset *d) { return d->nsel; }
int mxb_dataset_total(const mxb_dataset *d) { return d->total; }
int mxb_dataset_index(const mxb_dataset *d, int i) { return i >= 0 && i < d->nsel ? d->sel[i] : -1; }
const char *mxb_dataset_id(const mxb_dataset *d, int i) {
    return i >= 0 && i < d->nsel && d->ids ? d->ids[d->sel[i]] : NULL;
}
int mxb_dataset_label(const mxb_dataset *d, int i) {
    return i >= 0 && i < d->nsel && d->labels ? d->labels[d->sel[i]] : -1;
}
int mxb_dataset_class_folders(const mxb_dataset *d) { return d->class_folders; }
void mxb_dataset_set_max_pixels(mxb_dataset *d, size_t max_pixels) {
    d->max_pixels = max_pixels ? max_pixels : mxb_default_max_pixels();
}

int mxb_dataset_get(mxb_dataset *d, int i, mxb_sample *s, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    s->label = -1;
    if (i < 0 || i >= d->nsel) {
        mxb_seterr(err, errlen, "%s: sample %d out of range (%d selected)", d->path, i, d->nsel);
        return -1;
    }
    int item = d->sel[i];
    snprintf(s->id, sizeof s->id, "%s", d->ids[item]);
    int rc = d->kind == KIND_IMAGENET ? mxb_imagenet_load(d, item, s, err, errlen)
                                      : mxb_segmentation_load(d, item, s, err, errlen);
    if (rc) mxb_sample_free(s);
    return rc;
}

int mxb_dataset_next(mxb_dataset *d, mxb_sample *s, char *err, size_t errlen) {
    if (d->cursor >= d->nsel) return 0;
    return mxb_dataset_get(d, d->cursor++, s, err, errlen) ? -1 : 1;
}

void mxb_dataset_rewind(mxb_dataset *d) { d->cursor = 0; }

int mxb_dataset_select_first(mxb_dataset *d, int n, char *err, size_t errlen) {
    if (n < 0) {
        mxb_seterr(err, errlen, "%s: cannot select the first %d samples", d->path, n);
        return -1;
    }
    if (n < d->nsel) d->nsel = n;
    d->cursor = 0;
    return 0;
}

int mxb_dataset_select_every(mxb_dataset *d, int k, int offset, char *err, size_t errlen) {
    if (k <= 0 || offset < 0) {
        mxb_seterr(err, errlen, "%s: cannot select every %d-th sample from %d", d->path, k, offset);
        return -1;
    }
    int m = 0;
    for (int i = offset; i < d->nsel; i += k) d->sel[m++] = d->sel[i];
    d->nsel = m;
    d->cursor = 0;
    return 0;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int mxb_dataset_select_random(mxb_dataset *d, int n, uint64_t seed, char *err, size_t errlen) {
    if (n < 0) {
        mxb_seterr(err, errlen, "%s: cannot select %d random samples", d->path, n);
        return -1;
    }
    if (n > d->nsel) n = d->nsel;
    uint64_t state = seed;
    /* partial Fisher-Yates: position i takes a uniform draw from [i, nsel) */
    for (int i = 0; i < n; i++) {
        uint64_t m = (uint64_t)(d->nsel - i);
        /* the draws at or above 2^64 - (2^64 mod m) would favour the low residues:
         * they are redrawn (none when m divides 2^64) */
        uint64_t tail = (UINT64_MAX % m + 1) % m, r;
        do r = mxb_splitmix64(&state);
        while (tail && r >= 0 - tail);
        int j = i + (int)(r % m);
        int t = d->sel[i];
        d->sel[i] = d->sel[j];
        d->sel[j] = t;
    }
    d->nsel = n;
    qsort(d->sel, (size_t)n, sizeof *d->sel, cmp_int);
    d->cursor = 0;
    return 0;
}

/* Each selected sample answers to three names: its id, its file name, and its file
 * name without the extension. A sorted table of them makes a long id list cheap. */
typedef struct {
    char *key;
    int pos;
} id_key;

static int cmp_key(const void *a, const void *b) {
    const id_key *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

int mxb_dataset_select_ids(mxb_dataset *d, const char *const *ids, int n, char *err, size_t errlen) {
    size_t nk = 0, cap = (size_t)(d->nsel > 0 ? d->nsel : 1) * 3;
    id_key *keys = mxb_try_alloc(cap * sizeof *keys);
    char *keep = mxb_try_alloc0((size_t)(d->nsel > 0 ? d->nsel : 1), 1);
    int rc = -1;
    if (!keys || !keep) goto oom;
    for (int i = 0; i < d->nsel; i++) {
        const char *id = d->ids[d->sel[i]];
        const char *base = strrchr(id, '/');
        base = base ? base + 1 : id;
        const char *dot = strrchr(base, '.');
        if (!(keys[nk].key = mxb_try_strdup(id))) goto oom;
        keys[nk++].pos = i;
        if (base != id) {
            if (!(keys[nk].key = mxb_try_strdup(base))) goto oom;
            keys[nk++].pos = i;
        }
        if (dot) {
            if (!(keys[nk].key = mxb_try_strndup(base, (size_t)(dot - base)))) goto oom;
            keys[nk++].pos = i;
        }
    }
    qsort(keys, nk, sizeof *keys, cmp_key);
    for (int k = 0; k < n; k++) {
        /* lower bound of ids[k] */
        size_t lo = 0, hi = nk;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(keys[mid].key, ids[k]) < 0) lo = mid + 1; else hi = mid;
        }
        if (lo == nk || strcmp(keys[lo].key, ids[k])) {
            mxb_seterr(err, errlen, "%s: no sample with id '%s'", d->path, ids[k]);
            goto done;
        }
        for (; lo < nk && !strcmp(keys[lo].key, ids[k]); lo++) keep[keys[lo].pos] = 1;
    }
    int m = 0;
    for (int i = 0; i < d->nsel; i++)
        if (keep[i]) d->sel[m++] = d->sel[i];
    d->nsel = m;
    d->cursor = 0;
    rc = 0;
    goto done;
oom:
    mxb_seterr(err, errlen, "%s: out of memory selecting ids", d->path);
done:
    for (size_t i = 0; i < nk; i++) free(keys[i].key);
    free(keys);
    free(keep);
    return rc;
}

int mxb_dataset_select_ids_file(mxb_dataset *d, const char *path, char *err, size_t errlen) {
    mxb_input_note(path); /* no output may be written over it */
    if (mxb_input_check(path, "an id list", 0, err, errlen)) return -1;
    FILE *f = fopen(path, "r");
    if (!f) {
        mxb_seterr(err, errlen, "%s: cannot open the id list", path);
        return -1;
    }
    char **ids = NULL;
    int n = 0, cap = 0, rc = -1;
    char line[4096];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            mxb_seterr(err, errlen, "%s:%d: line too long", path, lineno);
            goto done;
        }
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        char *e = s + strlen(s);
        while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) *--e = 0;
        if (!*s || *s == '#') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **ni = mxb_try_realloc(ids, (size_t)cap * sizeof *ni);
            if (!ni) {
                mxb_seterr(err, errlen, "%s: out of memory", path);
                goto done;
            }
            ids = ni;
        }
        if (!(ids[n] = mxb_try_strdup(s))) {
            mxb_seterr(err, errlen, "%s: out of memory", path);
            goto done;
        }
        n++;
    }
    if (ferror(f)) {
        mxb_seterr(err, errlen, "%s: read error", path);
        goto done;
    }
    rc = mxb_dataset_select_ids(d, (const char *const *)ids, n, err, errlen);
done:
    for (int i = 0; i < n; i++) free(ids[i]);
    free(ids);
    fclose(f);
    return rc;
}
