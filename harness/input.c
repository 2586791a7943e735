/* A model's input, shared by the commands that feed one image or tensor to a model
 * (mxb predict, mxb explain) and by mxb run's set-up: the transform (the weights
 * file's own, options over it), loading and transforming an image or a tensor, and
 * the top-k line. */
#include "engine/engine.h"
#include "harness/harness.h"
#include "harness/internal.h"
#include "results/results.h"

#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* "file.h5:dataset" -> file, dataset (default `input`) */
static void split_tensor_arg(const char *arg, char *file, size_t fl, char *dset, size_t dl) {
    const char *colon = strrchr(arg, ':');
    if (colon && colon != arg) {
        snprintf(file, fl, "%.*s", (int)(colon - arg), arg);
        snprintf(dset, dl, "%s", colon + 1);
    } else {
        snprintf(file, fl, "%s", arg);
        snprintf(dset, dl, "input");
    }
}

float *mxb_load_input_tensor(const char *arg, const mxb_config *cfg, char *err, size_t errlen) {
    char file[4096], dset[256];
    split_tensor_arg(arg, file, sizeof file, dset, sizeof dset);
    float *x = NULL;
    int nd = 0;
    int64_t dims[8];
    if (mxb_h5_read_floats(file, dset, &x, &nd, dims, err, errlen)) return NULL;
    int64_t S = cfg->img_size;
    int ok = (nd == 3 && dims[0] == cfg->in_chans && dims[1] == S && dims[2] == S) ||
             (nd == 4 && dims[0] == 1 && dims[1] == cfg->in_chans && dims[2] == S && dims[3] == S);
    if (!ok) {
        mxb_seterr(err, errlen, "%s: dataset '%s' has the wrong shape for this model (want [%d, %d, %d])",
                 file, dset, cfg->in_chans, cfg->img_size, cfg->img_size);
        free(x);
        return NULL;
    }
    for (int64_t i = 0; i < cfg->in_chans * S * S; i++)
        if (!isfinite(x[i])) {
            mxb_seterr(err, errlen, "%s: dataset '%s' holds NaN or infinite values", file, dset);
            free(x);
            return NULL;
        }
    return x;
}

int mxb_parse_rgb(const char *s, int positive, float out[3]) {
    char buf[128];
    if (!s || strlen(s) >= sizeof buf) return -1;
    snprintf(buf, sizeof buf, "%s", s);
    char *p = buf;
    for (int c = 0; c < 3; c++) {
        char *comma = strchr(p, ',');
        if ((c < 2) != (comma != NULL)) return -1;
        if (comma) *comma = 0;
        double v;
        if (mxb_parse_double(p, positive ? 1e-30 : -1e30, 1e30, &v)) return -1;
        out[c] = (float)v;
        p = comma ? comma + 1 : p;
    }
    return 0;
}

static const char *filter_name(mxb_filter f) {
    return f == MXB_FILTER_BICUBIC ? "bicubic" : f == MXB_FILTER_BILINEAR ? "bilinear" : "nearest";
}

void mxb_preprocess_describe(const mxb_preprocess *p, char *buf, size_t n) {
    char crop[48] = "";
    if (p->crop) snprintf(crop, sizeof crop, " + CenterCrop(%d)", p->crop);
    char size[48];
    if (p->square) snprintf(size, sizeof size, "(%d, %d)", p->size, p->size);
    else snprintf(size, sizeof size, "%d", p->size);
    snprintf(buf, n, "Resize(%s, %s)%s, mean %g,%g,%g, std %g,%g,%g", size, filter_name(p->filter), crop, p->mean[0],
             p->mean[1], p->mean[2], p->std[0], p->std[1], p->std[2]);
}

int mxb_model_preprocess(const char *cmd, const char *weights, const mxb_config *cfg,
                         const mxb_preprocess *fallback, mxb_preprocess *p, char *err, size_t errlen) {
    mxb_eval_transform t;
    int has = mxb_weights_transform(weights, &t, err, errlen);
    if (has < 0) return -1;
    if (has == 0) {
        if (fallback) {
            *p = *fallback;
        } else {
            /* what predict did before weights files carried a transform: DeiT's and
             * ViM's evaluation transform, scaled to the model's input side */
            *p = mxb_preprocess_imagenet();
            p->crop = cfg->img_size;
            p->size = (int)(cfg->img_size * 256.0 / 224.0);
        }
        char d[200];
        mxb_preprocess_describe(p, d, sizeof d);
        fprintf(stderr, "mxb %s: %s has no evaluation transform (an older conversion); using %s\n", cmd, weights, d);
        return 1;
    }
    p->size = t.resize;
    p->square = t.square;
    p->crop = t.crop;
    p->filter = !strcmp(t.interpolation, "bicubic")    ? MXB_FILTER_BICUBIC
                : !strcmp(t.interpolation, "bilinear") ? MXB_FILTER_BILINEAR
                                                       : MXB_FILTER_NEAREST;
    memcpy(p->mean, t.mean, sizeof p->mean);
    memcpy(p->std, t.std, sizeof p->std);
    if (mxb_preprocess_out_size(p) != cfg->img_size) {
        mxb_seterr(err, errlen, "%s: the evaluation transform makes %d px inputs but the model takes %d px", weights,
                 mxb_preprocess_out_size(p), cfg->img_size);
        return -1;
    }
    return 0;
}

int mxb_transform_apply(const char *cmd, const mxb_opt *opts, const mxb_transform_args *a,
                        const mxb_config *cfg, mxb_preprocess *p) {
    static const mxb_filter filters[3] = {MXB_FILTER_NEAREST, MXB_FILTER_BILINEAR, MXB_FILTER_BICUBIC};
    if (mxb_opt_seen(opts, "resize")) p->size = a->resize;
    if (mxb_opt_seen(opts, "crop")) p->crop = a->crop;
    if (mxb_opt_seen(opts, "square")) p->square = a->square;
    if (mxb_opt_seen(opts, "filter")) p->filter = filters[a->filter];
    if (a->mean && mxb_parse_rgb(a->mean, 0, p->mean))
        return mxb_usage_error(cmd, "--mean: '%s' is not three numbers R,G,B", a->mean);
    if (a->std && mxb_parse_rgb(a->std, 1, p->std))
        return mxb_usage_error(cmd, "--std: '%s' is not three positive numbers R,G,B", a->std);
    if (mxb_preprocess_out_size(p) != cfg->img_size)
        return mxb_usage_error(cmd, "--resize/--crop make %d px inputs but the model takes %d px",
                               mxb_preprocess_out_size(p), cfg->img_size);
    return 0;
}

float *mxb_load_input_image(const char *path, const mxb_config *cfg, const mxb_preprocess *p, uint8_t **rgb_out,
                            char *err, size_t errlen) {
    if (cfg->in_chans != 3) {
        mxb_seterr(err, errlen, "%s: the model takes %d channels; --image makes RGB", path, cfg->in_chans);
        return NULL;
    }
    uint8_t *rgb = NULL, *small = NULL;
    int h, w;
    if (mxb_image_read(path, 0, &rgb, &h, &w, err, errlen)) return NULL;
    const size_t S = (size_t)cfg->img_size;
    float *x = mxb_alloc(3 * S * S * sizeof *x, "image buffers");
    small = mxb_alloc(3 * S * S, "image buffers");
    if (mxb_preprocess_image(p, rgb, h, w, small, x, err, errlen)) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s: %s", path, err); /* name the image */
        mxb_seterr(err, errlen, "%s", msg);
        free(x);
        x = NULL;
    }
    free(rgb);
    if (x && rgb_out) *rgb_out = small;
    else free(small);
    return x;
}

/* the k best classes of logits[n] (ties: the lower index), their softmax probabilities */
static int topk(const float *logits, int n, int k, int *cls, double *prob) {
    if (n < 1) return 0;
    double mx = logits[0], sum = 0;
    for (int i = 1; i < n; i++) mx = logits[i] > mx ? logits[i] : mx;
    for (int i = 0; i < n; i++) sum += exp(logits[i] - mx);
    int *used = mxb_alloc0((size_t)n, sizeof *used, "class table");
    int r = 0;
    for (; r < k && r < n; r++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!used[i] && (best < 0 || logits[i] > logits[best])) best = i;
        used[best] = 1;
        cls[r] = best;
        prob[r] = exp(logits[best] - mx) / sum;
    }
    free(used);
    return r;
}

void mxb_print_topk(const float *logits, int n, int k, const char *const *names) {
    k = k < n ? k : n;
    if (k < 1) return;
    int *cls = mxb_alloc((size_t)k * sizeof *cls, "class table");
    double *prob = mxb_alloc((size_t)k * sizeof *prob, "class table");
    k = topk(logits, n, k, cls, prob);
    printf("class   probability   logit%s\n", names ? "       name" : "");
    for (int r = 0; r < k; r++) {
        printf("%5d   %11.6f   %9.4f", cls[r], prob[r], logits[cls[r]]);
        if (names) printf("   %s", names[cls[r]]);
        printf("\n");
    }
    free(cls);
    free(prob);
}

void mxb_json_topk(const float *logits, int n, int k, const char *const *names) {
    k = k < n ? k : n;
    printf("[");
    if (k < 1) {
        printf("]");
        return;
    }
    int *cls = mxb_alloc((size_t)k * sizeof *cls, "class table");
    double *prob = mxb_alloc((size_t)k * sizeof *prob, "class table");
    k = topk(logits, n, k, cls, prob);
    for (int r = 0; r < k; r++) {
        printf("%s{\"class\": %d, \"probability\": ", r ? ", " : "", cls[r]);
        mxb_json_number(stdout, prob[r]);
        printf(", \"logit\": ");
        mxb_json_number(stdout, logits[cls[r]]);
        if (names) printf(", \"name\": "), mxb_json_string(stdout, names[cls[r]]);
        printf("}");
    }
    printf("]");
    free(cls);
    free(prob);
}

#define MAX_TEXT_FILE ((long long)256 << 20) /* as a label file's bound (datasets/imagenet.c) */

/* a small text file (a class-name file, an image list) opened for reading; NULL after
 * one line in err. A file of more than 256 MiB is no such file: refused unread. */
static FILE *open_text(const char *path, const char *what, char *err, size_t errlen) {
    mxb_input_note(path); /* no output may be written over it */
    if (mxb_input_check(path, what, 0, err, errlen)) return NULL;
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f) {
        mxb_seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (!fstat(fileno(f), &st) && S_ISREG(st.st_mode) && (long long)st.st_size > MAX_TEXT_FILE) {
        mxb_seterr(err, errlen, "%s: %lld bytes, more than %s holds (256 MiB at most)", path, (long long)st.st_size, what);
        fclose(f);
        return NULL;
    }
    return f;
}

char **mxb_class_names_read(const char *path, int num_classes, char *err, size_t errlen) {
    FILE *f = open_text(path, "a class-name file", err, errlen);
    if (!f) return NULL;
    char **names = mxb_alloc0((size_t)num_classes, sizeof *names, "the class names"); /* a checked config's count */
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int n = 0, ok = 0;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        if (memchr(line, 0, (size_t)len)) {
            mxb_seterr(err, errlen, "%s:%d: not text (a NUL byte)", path, n + 1);
            goto done;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len > 1024) {
            mxb_seterr(err, errlen, "%s:%d: a class name longer than 1024 bytes", path, n + 1);
            goto done;
        }
        for (ssize_t i = 0; i < len; i++) /* printed as is in predict's table: no terminal control bytes */
            if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) {
                mxb_seterr(err, errlen, "%s:%d: a control byte (0x%02x) in a class name", path, n + 1,
                           (unsigned char)line[i]);
                goto done;
            }
        if (n >= num_classes) { /* counted on, for the message */
            n++;
            continue;
        }
        if (!len) {
            mxb_seterr(err, errlen, "%s:%d: an empty line (one name a line, line i naming class i - 1)", path, n + 1);
            goto done;
        }
        names[n++] = mxb_strdup(line);
    }
    if (ferror(f)) {
        mxb_seterr(err, errlen, "%s: read error", path);
        goto done;
    }
    if (n != num_classes) {
        mxb_seterr(err, errlen, "%s: %d class names for a model of %d classes (one name a line)", path, n, num_classes);
        goto done;
    }
    ok = 1;
done:
    free(line);
    fclose(f);
    if (!ok) {
        mxb_class_names_free(names, num_classes);
        names = NULL;
    }
    return names;
}

void mxb_class_names_free(char **names, int n) {
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

/* ---- many images: --images FOLDER | 'GLOB' | LIST ---- */

#define MAX_LIST_IMAGES 10000000
#define MAX_LIST_LINE 4096 /* a path (PATH_MAX) and its line end */

static int list_push(mxb_image_list *l, const char *path, const char *id, int *cap, char *err, size_t errlen,
                     const char *spec) {
    if (l->n == *cap) {
        int nc = *cap ? 2 * *cap : 64;
        char **np = nc <= MAX_LIST_IMAGES ? mxb_try_realloc(l->path, (size_t)nc * sizeof *np) : NULL;
        if (np) l->path = np;
        char **ni = np ? mxb_try_realloc(l->id, (size_t)nc * sizeof *ni) : NULL;
        if (ni) l->id = ni;
        if (!np || !ni) {
            mxb_seterr(err, errlen, "%s: out of memory or more than %d images", spec, MAX_LIST_IMAGES);
            return -1;
        }
        *cap = nc;
    }
    const char *slash = strrchr(path, '/');
    mxb_input_note(path); /* no output may be written over an image */
    l->path[l->n] = mxb_try_strdup(path);
    l->id[l->n] = mxb_try_strdup(id ? id : slash ? slash + 1 : path);
    if (!l->path[l->n] || !l->id[l->n]) {
        free(l->path[l->n]);
        free(l->id[l->n]);
        mxb_seterr(err, errlen, "%s: out of memory", spec);
        return -1;
    }
    l->n++;
    return 0;
}

int mxb_h5out_per_image(mxb_h5out *o, const char *name, const float *data, int batch, int64_t n, int rank,
                        const int64_t *dims, const char *layout, char *err, size_t errlen) {
    MXB_ASSERT(layout[0] == '[' && rank >= 0 && rank < 8);
    int64_t d[8] = {n};
    memcpy(d + 1, dims, (size_t)rank * sizeof *dims);
    char lay[512];
    snprintf(lay, sizeof lay, "[%s%s", batch ? "image, " : "", layout + 1);
    return mxb_h5out_floats(o, name, data, rank + !!batch, d + !batch, err, errlen) ||
                   mxb_h5out_attr_str(o, name, "layout", lay, err, errlen)
               ? -1
               : 0;
}

int mxb_image_list_write(mxb_h5out *o, const mxb_image_list *l, int with_id, char *err, size_t errlen) {
    return mxb_h5out_strings(o, "image", (const char *const *)l->path, l->n, err, errlen) ||
                   mxb_h5out_attr_str(o, "image", "layout", "[image] the image's path, in --images' order", err,
                                      errlen) ||
                   (with_id && mxb_h5out_strings(o, "id", (const char *const *)l->id, l->n, err, errlen)) ||
                   (with_id && mxb_h5out_attr_str(o, "id", "layout", "[image] the image's id, its seed's (--id)",
                                                  err, errlen))
               ? -1
               : 0;
}

void mxb_image_list_free(mxb_image_list *l) {
    for (int i = 0; i < l->n; i++) free(l->path[i]), free(l->id[i]);
    free(l->path);
    free(l->id);
    *l = (mxb_image_list){0};
}

/* one path a line; blank lines and '#' comments skipped; surrounding blanks trimmed */
static int read_list_file(const char *spec, mxb_image_list *l, int *cap, char *err, size_t errlen) {
    FILE *f = open_text(spec, "an image list", err, errlen);
    if (!f) return -1;
    unsigned char head[8];
    char *line = NULL;
    size_t lcap = 0;
    int lineno = 0, rc = -1;
    size_t got = fread(head, 1, sizeof head, f);
    /* an image given as the list: say so rather than "not text" */
    if ((got >= 8 && !memcmp(head, "\x89PNG\r\n\x1a\n", 8)) || (got >= 3 && !memcmp(head, "\xff\xd8\xff", 3))) {
        mxb_seterr(err, errlen, "%s: an image, not a list of images (--image takes one image)", spec);
        goto done;
    }
    rewind(f);
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        if (len > MAX_LIST_LINE) {
            mxb_seterr(err, errlen, "%s:%d: line longer than %d bytes", spec, lineno, MAX_LIST_LINE);
            goto done;
        }
        if (memchr(line, 0, (size_t)len)) {
            mxb_seterr(err, errlen, "%s:%d: not text (a NUL byte)", spec, lineno);
            goto done;
        }
        char *s = line, *e = line + len;
        while (*s == ' ' || *s == '\t') s++;
        while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) *--e = 0;
        if (!*s || *s == '#') continue;
        if (list_push(l, s, NULL, cap, err, errlen, spec)) goto done;
    }
    if (ferror(f)) {
        mxb_seterr(err, errlen, "%s: read error", spec);
        goto done;
    }
    if (!l->n) {
        mxb_seterr(err, errlen, "%s: the image list names no image", spec);
        goto done;
    }
    rc = 0;
done:
    free(line);
    fclose(f);
    return rc;
}

int mxb_image_list_open(const char *spec, mxb_image_list *l, char *err, size_t errlen) {
    *l = (mxb_image_list){0};
    int cap = 0, rc = -1;
    struct stat st;
    const int exists = !stat(spec, &st); /* a file of that name wins over a pattern */
    if (exists && S_ISDIR(st.st_mode)) {
        char **ids = NULL;
        int n = 0;
        if (mxb_image_folder_list(spec, &ids, &n, err, errlen)) return -1;
        char path[8192];
        rc = 0;
        for (int i = 0; i < n; i++) {
            snprintf(path, sizeof path, "%s/%s", spec, ids[i]);
            if (!rc) rc = list_push(l, path, ids[i], &cap, err, errlen, spec); /* the id: as mxb run's */
            free(ids[i]);
        }
        free(ids);
    } else if (!exists && strpbrk(spec, "*?[")) {
        glob_t gl;
        const int g = glob(spec, GLOB_ERR, NULL, &gl); /* sorted (strcmp in the C locale) */
        if (g == GLOB_NOMATCH) {
            mxb_seterr(err, errlen, "%s: the pattern matches no file", spec);
        } else if (g) {
            mxb_seterr(err, errlen, "%s: cannot expand the pattern (%s)", spec,
                       g == GLOB_NOSPACE ? "out of memory" : "a folder cannot be read");
        } else {
            rc = 0;
            for (size_t i = 0; i < gl.gl_pathc && !rc; i++) {
                /* a folder the pattern matches is not an image: skipped as the folder walk skips it */
                if (!stat(gl.gl_pathv[i], &st) && S_ISDIR(st.st_mode)) continue;
                rc = list_push(l, gl.gl_pathv[i], NULL, &cap, err, errlen, spec);
            }
            if (!rc && !l->n) mxb_seterr(err, errlen, "%s: the pattern matches folders only", spec), rc = -1;
        }
        if (g != GLOB_NOMATCH) globfree(&gl);
    } else if (!exists) {
        mxb_seterr(err, errlen, "%s: no such folder, file or matching pattern", spec);
    } else {
        rc = read_list_file(spec, l, &cap, err, errlen);
    }
    if (rc) mxb_image_list_free(l);
    return rc;
}
