/* ImageNet validation folders: torchvision ImageFolder's class-folder layout, or a
 * flat folder with a label file (datasets.h says which formats). */
#include "datasets/internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MAX_DEPTH 16
#define MAX_ITEMS 50000000
#define MAX_LABEL_FILE ((long)256 << 20)

/* torchvision's IMG_EXTENSIONS: listed like ImageFolder lists them, so indices
 * agree; the decoder then refuses anything that is not JPEG or PNG by content. */
static int is_image_name(const char *name) {
    static const char *ext[] = {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t m = strlen(ext[i]);
        if (n >= m && !strcasecmp(name + n - m, ext[i])) return 1;
    }
    return 0;
}

typedef struct {
    char *dir;   /* relative folder ("" at the root) */
    char *name;  /* file name */
    int label;
} entry;

typedef struct {
    entry *e;
    int n, cap;
} entries;

static int push(entries *v, const char *dir, const char *name, int label) {
    if (v->n == v->cap) {
        if (v->n >= MAX_ITEMS) return -1;
        int cap = v->cap ? 2 * v->cap : 1024;
        entry *ne = mxb_try_realloc(v->e, (size_t)cap * sizeof *ne);
        if (!ne) return -1;
        v->e = ne;
        v->cap = cap;
    }
    entry *e = &v->e[v->n];
    e->dir = mxb_try_strdup(dir);
    e->name = mxb_try_strdup(name);
    e->label = label;
    if (!e->dir || !e->name) {
        free(e->dir);
        free(e->name);
        return -1;
    }
    v->n++;
    return 0;
}

static void entries_free(entries *v) {
    for (int i = 0; i < v->n; i++) {
        free(v->e[i].dir);
        free(v->e[i].name);
    }
    free(v->e);
}

/* ImageFolder walks sorted(os.walk(...)): (folder, file) pairs in string order. */
static int cmp_entry(const void *a, const void *b) {
    const entry *x = a, *y = b;
    int c = strcmp(x->dir, y->dir);
    return c ? c : strcmp(x->name, y->name);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Names in a folder (not . or ..), sorted; dirs != 0 keeps folders, else files. */
static int list_dir(const char *path, int dirs, char ***out, int *count, char *err, size_t errlen) {
    DIR *dp = opendir(path);
    *out = NULL;
    *count = 0;
    if (!dp) {
        mxb_seterr(err, errlen, "%s: cannot open folder: %s", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    char full[PATH_MAX];
    while ((de = readdir(dp))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        snprintf(full, sizeof full, "%s/%s", path, de->d_name);
        if (dirs ? !is_dir(full) : !is_file(full)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            char **nn = cap < MAX_ITEMS ? mxb_try_realloc(names, (size_t)cap * sizeof *nn) : NULL;
            if (!nn) goto oom;
            names = nn;
        }
        if (!(names[n] = mxb_try_strdup(de->d_name))) goto oom;
        n++;
    }
    closedir(dp);
    if (n > 1) qsort(names, (size_t)n, sizeof *names, cmp_str); /* names is NULL when n == 0 */
    *out = names;
    *count = n;
    return 0;
oom:
    closedir(dp);
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    mxb_seterr(err, errlen, "%s: out of memory listing the folder", path);
    return -1;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Every image below root/rel, recursively (os.walk follows links: a depth cap
 * stops a link loop). */
static int walk(const char *root, const char *rel, int label, int depth, entries *v, char *err, size_t errlen) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    if (depth > MAX_DEPTH) {
        mxb_seterr(err, errlen, "%s: folders nested deeper than %d (a link loop?)", path, MAX_DEPTH);
        return -1;
    }
    char **files, **dirs;
    int nf, nd;
    if (list_dir(path, 0, &files, &nf, err, errlen)) return -1;
    int rc = 0;
    for (int i = 0; i < nf && !rc; i++)
        if (is_image_name(files[i]) && push(v, rel, files[i], label)) {
            mxb_seterr(err, errlen, "%s: out of memory or too many files", path);
            rc = -1;
        }
    free_names(files, nf);
    if (rc || list_dir(path, 1, &dirs, &nd, err, errlen)) return -1;
    char sub[PATH_MAX];
    for (int i = 0; i < nd && !rc; i++) {
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", dirs[i]); /* "" at the root */
        rc = walk(root, sub, label, depth + 1, v, err, errlen);
    }
    free_names(dirs, nd);
    return rc;
}

/* ---- label files ------------------------------------------------------------ */

typedef struct {
    char *name;
    int label, line;
} named_label;

static int cmp_named(const void *a, const void *b) {
    return strcmp(((const named_label *)a)->name, ((const named_label *)b)->name);
}

static int parse_label(const char *tok, int *out) {
    char *end;
    errno = 0;
    long v = strtol(tok, &end, 10);
    if (errno || end == tok || *end || v < 0 || v > INT_MAX) return -1;
    *out = (int)v;
    return 0;
}

/* The whole label file, read in chunks so that a pipe or FIFO works too. */
static char *read_text(const char *path, char *err, size_t errlen) {
    mxb_input_note(path); /* no output may be written over it */
    if (mxb_input_check(path, "a label file", 0, err, errlen)) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        mxb_seterr(err, errlen, "%s: cannot open the label file", path);
        return NULL;
    }
    char *b = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 2) {
            if (cap >= (size_t)MAX_LABEL_FILE) {
                mxb_seterr(err, errlen, "%s: label file larger than %ld bytes", path, MAX_LABEL_FILE);
                goto fail;
            }
            cap = cap ? 2 * cap : 1 << 16;
            char *nb = mxb_try_realloc(b, cap);
            if (!nb) {
                mxb_seterr(err, errlen, "%s: out of memory", path);
                goto fail;
            }
            b = nb;
        }
        size_t got = fread(b + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        mxb_seterr(err, errlen, "%s: read error", path);
        goto fail;
    }
    fclose(f);
    b[len] = 0;
    if (strlen(b) != len) {
        free(b);
        mxb_seterr(err, errlen, "%s: label file holds a NUL byte", path);
        return NULL;
    }
    /* a UTF-8 byte-order mark (editors on Windows write one) is not part of the first
     * file name */
    if (len >= 3 && !memcmp(b, "\xef\xbb\xbf", 3)) memmove(b, b + 3, len - 2);
    return b;
fail:
    fclose(f);
    free(b);
    return NULL;
}

/* Fills v->e[i].label from the label file (v sorted, flat layout). */
static int apply_label_file(const char *path, entries *v, char *err, size_t errlen) {
    char *text = read_text(path, err, errlen);
    if (!text) return -1;
    named_label *pairs = NULL;
    int npairs = 0, cap = 0, format = 0, count = 0, rc = -1, lineno = 0;
    char *save = NULL;
    for (char *line = text; line; line = save) {
        save = strchr(line, '\n');
        if (save) *save++ = 0;
        lineno++;
        char *tok[3] = {0};
        int nt = 0;
        for (char *s = line; *s && nt < 3;) {
            while (*s && isspace((unsigned char)*s)) s++;
            if (!*s) break;
            tok[nt++] = s;
            while (*s && !isspace((unsigned char)*s)) s++;
            if (*s) *s++ = 0;
        }
        if (nt == 0) continue; /* blank lines are ignored */
        if (!format) format = nt;
        int label;
        if (nt == format && nt <= 2 && tok[nt - 1][0] == '-' && parse_label(tok[nt - 1] + 1, &label) == 0) {
            mxb_seterr(err, errlen, "%s:%d: negative label %s", path, lineno, tok[nt - 1]);
            goto done;
        }
        if (nt != format || nt > 2 || parse_label(tok[nt - 1], &label)) {
            mxb_seterr(err, errlen, "%s:%d: bad line (want %s)", path, lineno,
                     format == 1 ? "one label per line" : "'filename label'");
            goto done;
        }
        if (format == 1) {
            if (count >= v->n) {
                mxb_seterr(err, errlen, "%s:%d: more labels than the %d images of the folder", path, lineno, v->n);
                goto done;
            }
            v->e[count].label = label;
        } else {
            if (npairs == cap) {
                cap = cap ? 2 * cap : 1024;
                named_label *np = mxb_try_realloc(pairs, (size_t)cap * sizeof *np);
                if (!np) {
                    mxb_seterr(err, errlen, "%s: out of memory", path);
                    goto done;
                }
                pairs = np;
            }
            pairs[npairs++] = (named_label){tok[0], label, lineno};
        }
        count++;
    }
    if (format == 1 && count != v->n) {
        mxb_seterr(err, errlen, "%s: %d labels for %d images", path, count, v->n);
        goto done;
    }
    if (format == 2) {
        qsort(pairs, (size_t)npairs, sizeof *pairs, cmp_named);
        for (int i = 1; i < npairs; i++)
            if (!strcmp(pairs[i].name, pairs[i - 1].name)) {
                mxb_seterr(err, errlen, "%s:%d: '%s' listed twice", path, pairs[i].line, pairs[i].name);
                goto done;
            }
        for (int i = 0; i < v->n; i++) {
            named_label key = {v->e[i].name, 0, 0};
            named_label *hit = bsearch(&key, pairs, (size_t)npairs, sizeof *pairs, cmp_named);
            if (!hit) {
                mxb_seterr(err, errlen, "%s: no label for '%s'", path, v->e[i].name);
                goto done;
            }
            v->e[i].label = hit->label;
        }
    }
    if (!format && v->n) {
        mxb_seterr(err, errlen, "%s: empty label file", path);
        goto done;
    }
    rc = 0;
done:
    free(pairs);
    free(text);
    return rc;
}

int mxb_imagenet_open(const char *root, const char *labels_file, mxb_dataset **out,
                      char *err, size_t errlen) {
    *out = NULL;
    if (!is_dir(root)) {
        mxb_seterr(err, errlen, "%s: not a folder", root);
        return -1;
    }
    entries v = {0};
    int rc = -1, class_folders = 0;
    if (labels_file) {
        char **files;
        int nf;
        if (list_dir(root, 0, &files, &nf, err, errlen)) return -1;
        for (int i = 0; i < nf; i++)
            if (is_image_name(files[i]) && push(&v, "", files[i], -1)) {
                mxb_seterr(err, errlen, "%s: out of memory or too many files", root);
                free_names(files, nf);
                goto done;
            }
        free_names(files, nf);
        if (apply_label_file(labels_file, &v, err, errlen)) goto done;
    } else {
        char **classes;
        int nc;
        if (list_dir(root, 1, &classes, &nc, err, errlen)) return -1;
        for (int c = 0; c < nc; c++) {
            int before = v.n;
            if (walk(root, classes[c], c, 1, &v, err, errlen)) {
                free_names(classes, nc);
                goto done;
            }
            /* sorted(os.walk(class folder)): by folder string, then file name, which
             * is not the depth-first order ("a-b" < "a/x") */
            if (v.n - before > 1) qsort(v.e + before, (size_t)(v.n - before), sizeof *v.e, cmp_entry);
            if (v.n == before) { /* torchvision refuses an empty class folder too */
                mxb_seterr(err, errlen, "%s/%s: class folder without images", root, classes[c]);
                free_names(classes, nc);
                goto done;
            }
        }
        free_names(classes, nc);
        class_folders = nc;
        if (nc == 0) {
            mxb_seterr(err, errlen, "%s: no class folders (give a label file for a flat folder)", root);
            goto done;
        }
    }
    if (labels_file && v.n > 1) qsort(v.e, (size_t)v.n, sizeof *v.e, cmp_entry);
    mxb_dataset *d = mxb_dataset_alloc(KIND_IMAGENET, root, v.n);
    if (!d || !(d->labels = mxb_try_alloc((size_t)(v.n ? v.n : 1) * sizeof *d->labels))) {
        mxb_dataset_close(d);
        mxb_seterr(err, errlen, "%s: out of memory", root);
        goto done;
    }
    for (int i = 0; i < v.n; i++) {
        const entry *e = &v.e[i];
        size_t len = strlen(e->dir) + strlen(e->name) + 2;
        d->ids[i] = mxb_try_alloc(len);
        if (!d->ids[i]) {
            mxb_dataset_close(d);
            mxb_seterr(err, errlen, "%s: out of memory", root);
            goto done;
        }
        snprintf(d->ids[i], len, "%s%s%s", e->dir, *e->dir ? "/" : "", e->name);
        d->labels[i] = e->label;
    }
    d->class_folders = class_folders;
    *out = d;
    rc = 0;
done:
    entries_free(&v);
    return rc;
}

int mxb_image_folder_list(const char *root, char ***ids, int *count, char *err, size_t errlen) {
    *ids = NULL;
    *count = 0;
    if (!is_dir(root)) {
        mxb_seterr(err, errlen, "%s: not a folder", root);
        return -1;
    }
    entries v = {0};
    int rc = -1;
    if (walk(root, "", -1, 0, &v, err, errlen)) goto done;
    if (v.n == 0) {
        mxb_seterr(err, errlen, "%s: no image files in the folder or its sub-folders (.jpg, .jpeg, .png, ...)", root);
        goto done;
    }
    if (v.n > 1) qsort(v.e, (size_t)v.n, sizeof *v.e, cmp_entry);
    char **out = mxb_try_alloc((size_t)v.n * sizeof *out);
    if (!out) {
        mxb_seterr(err, errlen, "%s: out of memory", root);
        goto done;
    }
    for (int i = 0; i < v.n; i++) {
        const entry *e = &v.e[i];
        size_t len = strlen(e->dir) + strlen(e->name) + 2;
        if (!(out[i] = mxb_try_alloc(len))) {
            free_names(out, i);
            mxb_seterr(err, errlen, "%s: out of memory", root);
            goto done;
        }
        snprintf(out[i], len, "%s%s%s", e->dir, *e->dir ? "/" : "", e->name);
    }
    *ids = out;
    *count = v.n;
    rc = 0;
done:
    entries_free(&v);
    return rc;
}

int mxb_imagenet_load(mxb_dataset *d, int item, mxb_sample *s, char *err, size_t errlen) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", d->path, d->ids[item]);
    if (mxb_image_read(path, d->max_pixels, &s->rgb, &s->h, &s->w, err, errlen)) return -1;
    s->label = d->labels[item];
    return 0;
}
