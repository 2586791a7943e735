/* The run configuration: an INI file (parsed by libinih) plus --set overrides.
 * Every key is checked; a typo is an error naming the file, the line and the key. */
#include "harness/harness.h"

#include <ini.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    mxb_run_config *cfg;
    const char *path;
    char *err;
    size_t errlen;
    int line;
    int err_line;  /* the line of the first error a handler reported */
} parse_state;

static int fail(parse_state *st, const char *section, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(parse_state *st, const char *section, const char *key, const char *fmt, ...) {
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    st->err_line = st->line;
    if (st->line > 0)
        snprintf(st->err, st->errlen, "%s:%d: [%s] %s: %s", st->path, st->line, section, key, msg);
    else
        snprintf(st->err, st->errlen, "%s: --set %s.%s: %s", st->path, section, key, msg);
    return 0;
}

static int parse_bool(const char *v, int *out) {
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "on"))
        *out = 1;
    else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "off"))
        *out = 0;
    else
        return -1;
    return 0;
}

static int parse_int(const char *v, long lo, long hi, int *out) {
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) return -1;
    *out = (int)x;
    return 0;
}

/* Relative paths in a config are relative to the config file's folder. */
static void resolve_path(const mxb_run_config *c, const char *v, char *out, size_t n) {
    if (v[0] == '/' || !c->base_dir[0])
        snprintf(out, n, "%s", v);
    else
        snprintf(out, n, "%s/%s", c->base_dir, v);
}

static int parse_subset(const char *v, mxb_subset *s) {
    memset(s, 0, sizeof *s);
    char rest[1024];
    if (!strcmp(v, "all")) {
        s->kind = MXB_SUBSET_ALL;
    } else if (sscanf(v, "first:%d", &s->n) == 1 && s->n > 0) {
        s->kind = MXB_SUBSET_FIRST;
    } else if (sscanf(v, "every:%d", &s->n) == 1 && s->n > 0) {
        s->kind = MXB_SUBSET_EVERY;
    } else if (sscanf(v, "random:%d", &s->n) == 1 && s->n > 0) {
        s->kind = MXB_SUBSET_RANDOM;
    } else if (sscanf(v, "ids:%1023s", rest) == 1) {
        s->kind = MXB_SUBSET_IDS;
        snprintf(s->ids_file, sizeof s->ids_file, "%s", rest);
    } else {
        return -1;
    }
    return 0;
}

static int model_index(mxb_run_config *c, const char *name) {
    for (int i = 0; i < c->nmodels; i++)
        if (!strcmp(c->models[i].name, name)) return i;
    if (c->nmodels >= MXB_MAX_MODELS) return -1;
    snprintf(c->models[c->nmodels].name, sizeof c->models[0].name, "%s", name);
    return c->nmodels++;
}

static int method_index(mxb_run_config *c, const char *name) {
    for (int i = 0; i < c->nmethods; i++)
        if (!strcmp(c->methods[i].name, name)) return i;
    if (c->nmethods >= MXB_MAX_METHODS) return -1;
    mxb_run_method *m = &c->methods[c->nmethods];
    snprintf(m->name, sizeof m->name, "%s", name);
    m->start_layer = -1;
    return c->nmethods++;
}

static int on_key(void *user, const char *section, const char *key, const char *v) {
    parse_state *st = user;
    mxb_run_config *c = st->cfg;
    char path[4096];
    if (!key) { /* a section header alone declares a model or method */
        if (!strncmp(section, "model:", 6)) {
            if (!section[6] || model_index(c, section + 6) < 0)
                return fail(st, section, "-", "bad or too many models (at most %d)", MXB_MAX_MODELS);
        } else if (!strncmp(section, "method:", 7)) {
            if (!section[7] || method_index(c, section + 7) < 0)
                return fail(st, section, "-", "bad or too many methods (at most %d)", MXB_MAX_METHODS);
        } else if (strcmp(section, "run") && strcmp(section, "perturbation") &&
                   strcmp(section, "segmentation")) {
            return fail(st, section, "-",
                        "unknown section (run, model:NAME, method:NAME, perturbation, segmentation)");
        }
        return 1;
    }
    if (!strcmp(section, "run")) {
        if (!strcmp(key, "output")) {
            resolve_path(c, v, c->output, sizeof c->output);
        } else if (!strcmp(key, "seed")) {
            char *end;
            c->seed = strtoull(v, &end, 10);
            if (!*v || *end) return fail(st, section, key, "'%s' is not a non-negative integer", v);
        } else if (!strcmp(key, "variant")) {
            if (!strcmp(v, "official")) c->variant = MXB_VARIANT_OFFICIAL;
            else if (!strcmp(v, "exact")) c->variant = MXB_VARIANT_EXACT;
            else return fail(st, section, key, "'%s' is not official or exact", v);
        } else if (!strcmp(key, "class")) {
            if (!strcmp(v, "predicted")) c->use_target = 0;
            else if (!strcmp(v, "target")) c->use_target = 1;
            else return fail(st, section, key, "'%s' is not predicted or target", v);
        } else if (!strcmp(key, "save_maps")) {
            if (parse_bool(v, &c->save_maps)) return fail(st, section, key, "'%s' is not yes or no", v);
        } else if (!strcmp(key, "save_attention")) {
            if (parse_int(v, 0, 1000000, &c->save_attention))
                return fail(st, section, key, "'%s' is not a count of images", v);
        } else if (!strcmp(key, "figures")) {
            if (parse_int(v, 0, 64, &c->figures))
                return fail(st, section, key, "'%s' is not a count of images (0..64)", v);
        } else if (!strcmp(key, "max_pixels") || !strcmp(key, "max_memory_mb")) {
            char *end;
            long long x = strtoll(v, &end, 10);
            if (!*v || *end || x < 1 || x > (1ll << 40))
                return fail(st, section, key, "'%s' is not a positive integer", v);
            *(key[4] == 'p' ? &c->max_pixels : &c->max_memory_mb) = x;
        } else {
            return fail(st, section, key,
                        "unknown key (output, seed, variant, class, save_maps, save_attention, figures, "
                        "max_pixels, max_memory_mb)");
        }
    } else if (!strncmp(section, "model:", 6)) {
        int i = model_index(c, section + 6);
        if (i < 0) return fail(st, section, key, "too many models (at most %d)", MXB_MAX_MODELS);
        if (!strcmp(key, "weights")) {
            resolve_path(c, v, c->models[i].weights, sizeof c->models[i].weights);
        } else if (!strcmp(key, "sha256")) {
            if (strlen(v) != 64 || strspn(v, "0123456789abcdef") != 64)
                return fail(st, section, key, "'%s' is not 64 lowercase hex digits", v);
            snprintf(c->models[i].sha256, sizeof c->models[i].sha256, "%s", v);
        } else {
            return fail(st, section, key, "unknown key (weights, sha256)");
        }
    } else if (!strncmp(section, "method:", 7)) {
        int i = method_index(c, section + 7);
        if (i < 0) return fail(st, section, key, "too many methods (at most %d)", MXB_MAX_METHODS);
        if (!strcmp(key, "start_layer")) {
            if (parse_int(v, -1, 100000, &c->methods[i].start_layer))
                return fail(st, section, key, "'%s' is not a layer index (or -1)", v);
        } else if (!strcmp(key, "plugin")) {
            resolve_path(c, v, c->methods[i].plugin, sizeof c->methods[i].plugin);
        } else {
            return fail(st, section, key, "unknown key (start_layer, plugin)");
        }
    } else if (!strcmp(section, "perturbation") || !strcmp(section, "segmentation")) {
        mxb_run_data *d = !strcmp(section, "perturbation") ? &c->perturbation : &c->segmentation;
        d->enabled = 1;
        d->pre_set |= mxb_preprocess_key_bit(key); /* set here, so not the model's (run.c) */
        if (!strcmp(key, "data")) {
            resolve_path(c, v, d->data, sizeof d->data);
        } else if (!strcmp(key, "labels")) {
            resolve_path(c, v, path, sizeof path);
            snprintf(d->labels, sizeof d->labels, "%s", path);
        } else if (!strcmp(key, "subset")) {
            if (parse_subset(v, &d->subset))
                return fail(st, section, key, "'%s' is not all, first:N, every:K, random:N or ids:FILE", v);
            if (d->subset.kind == MXB_SUBSET_IDS) {
                resolve_path(c, d->subset.ids_file, path, sizeof path);
                snprintf(d->subset.ids_file, sizeof d->subset.ids_file, "%s", path);
            }
        } else if (!strcmp(key, "resize")) {
            if (parse_int(v, 1, 8192, &d->pre.size)) return fail(st, section, key, "'%s' is not a size", v);
        } else if (!strcmp(key, "crop")) {
            if (parse_int(v, 0, 8192, &d->pre.crop)) return fail(st, section, key, "'%s' is not a size", v);
        } else if (!strcmp(key, "square")) {
            if (parse_bool(v, &d->pre.square)) return fail(st, section, key, "'%s' is not yes or no", v);
        } else if (!strcmp(key, "filter")) {
            if (!strcmp(v, "bicubic")) d->pre.filter = MXB_FILTER_BICUBIC;
            else if (!strcmp(v, "bilinear")) d->pre.filter = MXB_FILTER_BILINEAR;
            else if (!strcmp(v, "nearest")) d->pre.filter = MXB_FILTER_NEAREST;
            else return fail(st, section, key, "'%s' is not bicubic, bilinear or nearest", v);
        } else if (!strcmp(key, "mean") || !strcmp(key, "std")) {
            float *dst = !strcmp(key, "mean") ? d->pre.mean : d->pre.std, x[3];
            char tail;
            if (sscanf(v, "%f ,%f ,%f %c", &x[0], &x[1], &x[2], &tail) != 3 ||
                (dst == d->pre.std && (x[0] <= 0 || x[1] <= 0 || x[2] <= 0)))
                return fail(st, section, key, "'%s' is not three numbers (R, G, B)%s", v,
                            dst == d->pre.std ? " above 0" : "");
            memcpy(dst, x, sizeof x);
        } else if (!strcmp(key, "pointing_tolerance") && d == &c->segmentation) {
            char *end;
            c->pointing_tolerance = strtod(v, &end);
            if (!*v || *end || c->pointing_tolerance < 0)
                return fail(st, section, key, "'%s' is not a distance in pixels", v);
        } else if (!strcmp(key, "tests") && d == &c->perturbation) {
            d->positive = strstr(v, "positive") != NULL;
            d->negative = strstr(v, "negative") != NULL;
            char copy[256], *save = NULL;
            snprintf(copy, sizeof copy, "%s", v);
            for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
                if (strcmp(t, "positive") && strcmp(t, "negative"))
                    return fail(st, section, key, "'%s' is not positive or negative", t);
        } else if (!strcmp(key, "maps") && d == &c->perturbation) {
            resolve_path(c, v, d->maps, sizeof d->maps);
        } else if (!strcmp(key, "auc") && d == &c->perturbation) {
            if (!strcmp(v, "percent")) c->auc_fraction = 0;
            else if (!strcmp(v, "fraction")) c->auc_fraction = 1;
            else return fail(st, section, key, "'%s' is not percent or fraction", v);
        } else if (!strcmp(key, "auc_x") && d == &c->perturbation) {
            if (!strcmp(v, "steps")) c->auc_x_normalized = 0;
            else if (!strcmp(v, "unit")) c->auc_x_normalized = 1;
            else return fail(st, section, key, "'%s' is not steps (p in 0..0.9) or unit (0..1)", v);
        } else {
            return fail(st, section, key,
                        d == &c->perturbation
                            ? "unknown key (data, labels, subset, resize, crop, square, filter, mean, std, tests, auc, auc_x, maps)"
                            : "unknown key (data, labels, subset, resize, crop, square, filter, mean, std, pointing_tolerance)");
        }
    } else {
        return fail(st, section, key, "unknown section");
    }
    return 1;
}

void mxb_run_config_defaults(mxb_run_config *c) {
    memset(c, 0, sizeof *c);
    c->save_maps = 1;
    c->figures = 4;
    c->perturbation.subset.kind = c->segmentation.subset.kind = MXB_SUBSET_ALL;
    /* the references: ImageNet val Resize(256, bicubic) + CenterCrop(224);
     * segmentation Resize((224, 224)) bilinear; ImageNet mean/std */
    c->perturbation.pre = mxb_preprocess_imagenet();
    c->segmentation.pre = mxb_preprocess_segmentation();
    c->perturbation.positive = c->perturbation.negative = 1;
    c->pointing_tolerance = 15; /* TorchRay's, at 224 px */
}

/* libinih reads through this, one line per call: we count lines for messages and
 * declare sections at their headers (Debian's build calls no handler for a header,
 * so a [method:rollout] with no keys would otherwise go unseen). */
typedef struct {
    parse_state *st;
    const char *p;
} line_reader;

static char *read_line(char *buf, int num, void *stream) {
    line_reader *r = stream;
    if (!*r->p) return NULL;
    int n = 0;
    while (r->p[n] && r->p[n] != '\n' && n < num - 2) n++;
    memcpy(buf, r->p, (size_t)n);
    if (r->p[n] == '\n') buf[n++] = '\n';
    buf[n] = 0;
    r->p += n;
    r->st->line++;
    const char *s = buf;
    while (*s == ' ' || *s == '\t') s++;
    const char *close = *s == '[' ? strchr(s, ']') : NULL;
    if (close && !r->st->err[0]) {
        char section[256];
        snprintf(section, sizeof section, "%.*s", (int)(close - s - 1), s + 1);
        on_key(r->st, section, NULL, NULL);
    }
    return buf;
}

static int handler(void *user, const char *section, const char *key, const char *v) {
    parse_state *st = user;
    if (st->err[0]) return 0;
    return on_key(st, section, key, v);
}

int mxb_run_config_load(const char *path, const char *const *sets, int nsets, mxb_run_config *c,
                        char *err, size_t errlen) {
    mxb_run_config_defaults(c);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open the configuration", path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0 || n > (1 << 20)) {
        fclose(f);
        snprintf(err, errlen, "%s: not a configuration file (over 1 MiB)", path);
        return -1;
    }
    c->text = calloc((size_t)n + 4096, 1);
    size_t got = fread(c->text, 1, (size_t)n, f);
    fclose(f);
    c->text[got] = 0;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    snprintf(c->base_dir, sizeof c->base_dir, "%s", dirname(tmp));
    snprintf(c->path, sizeof c->path, "%s", path);
    err[0] = 0;
    parse_state st = {c, path, err, errlen, 0, 0};
    line_reader lr = {&st, c->text};
    int rc = ini_parse_stream(read_line, &lr, handler, &st);
    /* libinih goes on after a malformed line, so a later key may be reported in the
     * wrong section ('[run' then 'output = x' is "[] output"): the first error wins.
     * (A handler's refusal counts as an error of its own line for libinih too.) */
    if (rc > 0 && (!err[0] || rc < st.err_line)) {
        snprintf(err, errlen, "%s:%d: syntax error (want [section], key = value, or a ; comment)", path, rc);
        return -1;
    }
    if (rc != 0 || err[0]) {
        if (!err[0]) snprintf(err, errlen, "%s:%d: syntax error", path, rc);
        return -1;
    }
    /* --set section.key=value, applied after the file; recorded in the config text */
    for (int i = 0; i < nsets; i++) {
        const char *eq = strchr(sets[i], '='), *dot = eq ? memchr(sets[i], '.', (size_t)(eq - sets[i])) : NULL;
        const char *lastdot = dot;
        for (const char *p = dot; p && p < eq; p++)
            if (*p == '.') lastdot = p;
        if (!eq || !lastdot) {
            snprintf(err, errlen, "%s: --set '%s' is not section.key=value", path, sets[i]);
            return -1;
        }
        char section[128], key[128];
        snprintf(section, sizeof section, "%.*s", (int)(lastdot - sets[i]), sets[i]);
        snprintf(key, sizeof key, "%.*s", (int)(eq - lastdot - 1), lastdot + 1);
        st.line = 0;
        on_key(&st, section, NULL, NULL);
        if (!err[0]) on_key(&st, section, key, eq + 1);
        if (err[0]) return -1;
        size_t len = strlen(c->text);
        c->text = realloc(c->text, len + strlen(sets[i]) + 32);
        sprintf(c->text + len, "\n; --set %s\n", sets[i]);
    }
    /* what a run needs */
    if (!c->output[0]) return snprintf(err, errlen, "%s: [run] output is missing", path), -1;
    if (!c->nmodels) return snprintf(err, errlen, "%s: no [model:NAME] section", path), -1;
    if (!c->nmethods) return snprintf(err, errlen, "%s: no [method:NAME] section", path), -1;
    for (int i = 0; i < c->nmodels; i++)
        if (!c->models[i].weights[0])
            return snprintf(err, errlen, "%s: [model:%s] has no weights", path, c->models[i].name), -1;
    if (!c->perturbation.enabled && !c->segmentation.enabled)
        return snprintf(err, errlen, "%s: neither [perturbation] nor [segmentation] is configured", path), -1;
    mxb_run_data *ds[2] = {&c->perturbation, &c->segmentation};
    for (int i = 0; i < 2; i++)
        if (ds[i]->enabled && !ds[i]->data[0])
            return snprintf(err, errlen, "%s: [%s] has no data", path, i ? "segmentation" : "perturbation"), -1;
    if (c->perturbation.enabled && !c->perturbation.positive && !c->perturbation.negative)
        return snprintf(err, errlen, "%s: [perturbation] tests names neither positive nor negative", path), -1;
    return 0;
}

void mxb_run_config_free(mxb_run_config *c) {
    free(c->text);
    c->text = NULL;
}
