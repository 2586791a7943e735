/* The run configuration: an INI file (parsed by libinih) plus --set overrides.
 * Every key is checked; a typo is an error naming the file, the line and the key. */
#include "harness/harness.h"
#include "harness/internal.h"

#include <ctype.h>
#include <ini.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <sys/stat.h>

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
        mxb_seterr(st->err, st->errlen, "%s:%d: [%s] %s: %s", st->path, st->line, section, key, msg);
    else
        mxb_seterr(st->err, st->errlen, "%s: --set %s.%s: %s", st->path, section, key, msg);
    return 0;
}

/* ---- the one table of keys ---------------------------------------------------------
 * Every value, from the file or from --set, goes through check_value (type, finiteness,
 * range, length, control bytes, emptiness) before apply() stores it: a key that is
 * not in this table is an unknown key, so a new key cannot skip the checks. */
enum { S_RUN = 1, S_MODEL = 2, S_METHOD = 4, S_PERT = 8, S_SEG = 16 };
typedef enum { T_PATH, T_INT, T_SEED, T_BOOL, T_CHOICE, T_NUMBER, T_RGB, T_HEX64, T_SUBSET, T_TESTS, T_NAME, T_TEXT,
               T_DEVICE } vtype;

typedef struct {
    unsigned sections;
    const char *key;
    vtype type;
    double lo, hi;           /* T_INT, T_NUMBER, T_RGB (each of the three) */
    const char *choices;     /* T_CHOICE: "a|b|c" (the index is the value) */
} key_spec;

#define I(lo, hi) T_INT, lo, hi, NULL
#define C(list) T_CHOICE, 0, 0, list
#define P T_PATH, 0, 0, NULL
#define B T_BOOL, 0, 0, NULL
static const key_spec keys[] = {
    {S_RUN, "output", P},
    {S_RUN, "seed", T_SEED, 0, 0, NULL},
    {S_RUN, "variant", C(MXB_VARIANT_CHOICES)},
    {S_RUN, "class", C("predicted|target")},
    {S_RUN, "save_maps", B},
    {S_RUN, "save_attention", I(0, 1000000)},
    {S_RUN, "figures", I(0, 64)},
    {S_RUN, "max_pixels", I(1, 1099511627776.0)},
    {S_RUN, "max_memory_mb", I(1, 1099511627776.0)},
    {S_RUN, "insertion_deletion_step", I(0, 1000000000)},
    {S_RUN, "images_in_flight", I(0, 4096)}, /* issue #13; 0: auto */
    {S_RUN, "device", T_DEVICE, 0, 0, NULL}, /* where the protocols' forwards run */
    {S_MODEL, "weights", P},
    {S_MODEL, "sha256", T_HEX64, 0, 0, NULL},
    /* the display name in tables and figures ("ViM-S"); the section name stays the
     * model's name in the file's groups and metric names */
    {S_MODEL, "label", T_TEXT, 1, MXB_LABEL_MAX, NULL},
    {S_METHOD, "start_layer", I(-1, 100000)},
    {S_METHOD, "plugin", P},
    /* [method:ALIAS] base = NAME: a second configuration of method NAME under its own
     * name (docs/METHODS-v2.md §1.5: a sweep, e.g. ig at 16 and 50 steps side by side) */
    {S_METHOD, "base", T_NAME, 0, 0, NULL},
    {S_PERT | S_SEG, "data", P},
    {S_PERT | S_SEG, "labels", P},
    {S_PERT | S_SEG, "subset", T_SUBSET, 0, 0, NULL},
    {S_PERT | S_SEG, "resize", I(1, 8192)},
    {S_PERT | S_SEG, "crop", I(0, 8192)},
    {S_PERT | S_SEG, "square", B},
    {S_PERT | S_SEG, "filter", C("bicubic|bilinear|nearest")},
    {S_PERT | S_SEG, "mean", T_RGB, -1e6, 1e6, NULL},
    {S_PERT | S_SEG, "std", T_RGB, 1e-30, 1e6, NULL},
    {S_PERT, "tests", T_TESTS, 0, 0, NULL},
    {S_PERT, "auc", C("percent|fraction")},
    {S_PERT, "auc_x", C("steps|unit")},
    {S_PERT, "maps", P},
    {S_SEG, "pointing_tolerance", T_NUMBER, 0, 1e6, NULL},
    {S_SEG, "normalise", C("minmax|none")},
};
#undef I
#undef C
#undef P
#undef B

/* The longest value we keep (paths are stored in 4096-byte fields). */
#define MAX_VALUE 4000

typedef struct {
    long long i;
    unsigned long long u;
    double d, rgb[3];
    int choice, flag;
    mxb_subset subset;
    int positive, negative;
} value;

static int choice_index(const char *choices, const char *v) {
    int idx = 0;
    size_t n = strlen(v);
    for (const char *p = choices; *p; idx++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n)) return idx;
        p += len + (bar ? 1 : 0);
    }
    return -1;
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

static int parse_count(const char *v, const char *prefix, int *n) {
    size_t k = strlen(prefix);
    long long x;
    if (strncmp(v, prefix, k) || mxb_parse_ll(v + k, 1, 1 << 30, &x)) return -1;
    *n = (int)x;
    return 0;
}

static int parse_subset(const char *v, mxb_subset *s) {
    memset(s, 0, sizeof *s);
    if (!strcmp(v, "all")) {
        s->kind = MXB_SUBSET_ALL;
    } else if (!parse_count(v, "first:", &s->n)) {
        s->kind = MXB_SUBSET_FIRST;
    } else if (!parse_count(v, "every:", &s->n)) {
        s->kind = MXB_SUBSET_EVERY;
    } else if (!parse_count(v, "random:", &s->n)) {
        s->kind = MXB_SUBSET_RANDOM;
    } else if (!strncmp(v, "ids:", 4) && v[4]) { /* the rest of the value, spaces included */
        s->kind = MXB_SUBSET_IDS;
        snprintf(s->ids_file, sizeof s->ids_file, "%s", v + 4);
    } else {
        return -1;
    }
    return 0;
}

/* Three finite numbers "R, G, B" in [lo, hi]. */
static int parse_rgb(const char *v, double lo, double hi, double out[3]) {
    char buf[256];
    if (strlen(v) >= sizeof buf) return -1;
    snprintf(buf, sizeof buf, "%s", v);
    char *save = NULL, *t = strtok_r(buf, ",", &save);
    int n = 0;
    for (; t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ' || *t == '\t') t++;
        char *e = t + strlen(t);
        while (e > t && (e[-1] == ' ' || e[-1] == '\t')) *--e = 0;
        if (n == 3 || mxb_parse_double(t, lo, hi, &out[n])) return -1;
        n++;
    }
    return n == 3 ? 0 : -1;
}

/* A model or method name becomes an HDF5 group name, a table header and a file name
 * part: io's one name rule (mxb_name_ok), the plugins' too. */
static int bad_name(const char *name) { return !mxb_name_ok(name); }

/* Type, finiteness, range, length and bytes of one value; the message says what a
 * valid value is. */
static int check_value(const key_spec *k, const char *v, value *out, char *why, size_t n) {
    memset(out, 0, sizeof *out);
    size_t len = strlen(v);
    if (len > MAX_VALUE) return snprintf(why, n, "the value is %zu bytes long (at most %d)", len, MAX_VALUE), -1;
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return snprintf(why, n, "the value holds a control byte (0x%02x)", (unsigned char)*p), -1;
    switch (k->type) {
    case T_PATH:
        if (!len) return snprintf(why, n, "is empty (give a path)"), -1;
        return 0;
    case T_INT:
        if (mxb_parse_ll(v, (long long)k->lo, (long long)k->hi, &out->i))
            return snprintf(why, n, "'%.80s' is not an integer in [%.0f, %.0f]", v, k->lo, k->hi), -1;
        return 0;
    case T_SEED:
        if (mxb_parse_u64(v, &out->u))
            return snprintf(why, n, "'%.80s' is not an integer in [0, 2^64 - 1]", v), -1;
        return 0;
    case T_BOOL:
        if (parse_bool(v, &out->flag)) return snprintf(why, n, "'%.80s' is not yes or no", v), -1;
        return 0;
    case T_CHOICE:
        if ((out->choice = choice_index(k->choices, v)) < 0) {
            /* "a|b|c" reads "a, b or c" */
            char list[128];
            snprintf(list, sizeof list, "%s", k->choices);
            char *last = strrchr(list, '|');
            if (last) *last = 0;
            size_t m = (size_t)snprintf(why, n, "'%.80s' is not ", v);
            if (m >= n) m = n - 1; /* truncated */
            for (char *p = list; *p && m + 3 < n; p++) {
                if (*p == '|') why[m++] = ',', why[m++] = ' ';
                else why[m++] = *p;
            }
            why[m] = 0;
            if (last && m < n) snprintf(why + m, n - m, " or %s", last + 1);
            return -1;
        }
        return 0;
    case T_NUMBER:
        if (mxb_parse_double(v, k->lo, k->hi, &out->d))
            return snprintf(why, n, "'%.80s' is not a number in [%g, %g]", v, k->lo, k->hi), -1;
        return 0;
    case T_RGB:
        if (parse_rgb(v, k->lo, k->hi, out->rgb))
            return snprintf(why, n, "'%.80s' is not three finite numbers (R, G, B)%s", v,
                            k->lo > 0 ? " above 0" : ""), -1;
        return 0;
    case T_HEX64:
        if (len != 64 || strspn(v, "0123456789abcdef") != 64)
            return snprintf(why, n, "'%.80s' is not 64 lowercase hex digits", v), -1;
        return 0;
    case T_TEXT: /* any text but control bytes (refused above), valid UTF-8, lo..hi bytes */
        if (len < (size_t)k->lo || len > (size_t)k->hi)
            return snprintf(why, n, "is %zu bytes long (give %.0f to %.0f)", len, k->lo, k->hi), -1;
        {
            char *clean = mxb_utf8_clean(v); /* the same text back when v is valid UTF-8 */
            const int same = clean && !strcmp(clean, v);
            free(clean);
            if (!same) return snprintf(why, n, "is not valid UTF-8"), -1;
        }
        return 0;
    case T_NAME:
        if (!mxb_name_ok(v))
            return snprintf(why, n, "'%.80s' is not a method name (1..40 letters, digits, '_', '-', '.', '+'; not '.' or '..')", v), -1;
        return 0;
    case T_DEVICE: { /* the syntax of mxb predict's --device; whether the GPU is there is the run's question */
        long index;
        if (mxb_device_parse(v, &index))
            return snprintf(why, n, "'%.80s' is not cpu, cuda, cuda:N or auto", v), -1;
        return 0;
    }
    case T_SUBSET:
        if (parse_subset(v, &out->subset))
            return snprintf(why, n, "'%.80s' is not all, first:N, every:K, random:N or ids:FILE", v), -1;
        return 0;
    case T_TESTS: {
        char copy[256], *save = NULL;
        if (len >= sizeof copy) return snprintf(why, n, "'%.80s' is not positive and/or negative", v), -1;
        snprintf(copy, sizeof copy, "%s", v);
        for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
            if (!strcmp(t, "positive")) out->positive = 1;
            else if (!strcmp(t, "negative")) out->negative = 1;
            else return snprintf(why, n, "'%.80s' is not positive or negative", t), -1;
        }
        if (!out->positive && !out->negative)
            return snprintf(why, n, "'%.80s' names neither positive nor negative", v), -1;
        return 0;
    }
    }
    return -1;
}

/* Relative paths in a config are relative to the config file's folder. */
static int resolve_path(const mxb_run_config *c, const char *v, char *out, size_t n) {
    int k = v[0] == '/' || !c->base_dir[0] ? snprintf(out, n, "%s", v) : snprintf(out, n, "%s/%s", c->base_dir, v);
    return k < 0 || (size_t)k >= n ? -1 : 0;
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

static void key_list(unsigned section, char *out, size_t n) {
    size_t k = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof keys / sizeof *keys && k < n; i++)
        if (keys[i].sections & section)
            k += (size_t)snprintf(out + k, n - k, "%s%s", k ? ", " : "", keys[i].key);
}

/* Stores a checked value. */
static int apply(parse_state *st, unsigned sec, int idx, const char *key, const char *v, const value *x) {
    mxb_run_config *c = st->cfg;
    char path[4096];
    mxb_run_data *d = sec == S_PERT ? &c->perturbation : &c->segmentation;
    char *dst = NULL;
    size_t dstn = 0;
    if (!strcmp(key, "output")) dst = c->output, dstn = sizeof c->output;
    else if (!strcmp(key, "weights")) dst = c->models[idx].weights, dstn = sizeof c->models[idx].weights;
    else if (!strcmp(key, "plugin")) dst = c->methods[idx].plugin, dstn = sizeof c->methods[idx].plugin;
    else if (!strcmp(key, "data")) dst = d->data, dstn = sizeof d->data;
    else if (!strcmp(key, "labels")) dst = d->labels, dstn = sizeof d->labels;
    else if (!strcmp(key, "maps")) dst = d->maps, dstn = sizeof d->maps;
    if (dst) {
        if (resolve_path(c, v, path, sizeof path) || strlen(path) >= dstn) return -1;
        memcpy(dst, path, strlen(path) + 1);
    } else if (!strcmp(key, "seed")) c->seed = x->u;
    else if (!strcmp(key, "variant")) c->variant = mxb_variant_from_choice(x->choice);
    else if (!strcmp(key, "class")) c->use_target = x->choice;
    else if (!strcmp(key, "save_maps")) c->save_maps = x->flag;
    else if (!strcmp(key, "save_attention")) c->save_attention = (int)x->i;
    else if (!strcmp(key, "figures")) c->figures = (int)x->i;
    else if (!strcmp(key, "max_pixels")) c->max_pixels = x->i;
    else if (!strcmp(key, "max_memory_mb")) c->max_memory_mb = x->i;
    else if (!strcmp(key, "insertion_deletion_step")) c->insdel_step = (int)x->i;
    else if (!strcmp(key, "images_in_flight")) c->images_in_flight = (int)x->i;
    else if (!strcmp(key, "device")) snprintf(c->device, sizeof c->device, "%s", v);
    else if (!strcmp(key, "sha256")) snprintf(c->models[idx].sha256, sizeof c->models[idx].sha256, "%s", v);
    else if (!strcmp(key, "label")) snprintf(c->models[idx].label, sizeof c->models[idx].label, "%s", v);
    else if (!strcmp(key, "start_layer")) c->methods[idx].start_layer = (int)x->i;
    else if (!strcmp(key, "base")) snprintf(c->methods[idx].base, sizeof c->methods[idx].base, "%s", v);
    else if (!strcmp(key, "subset")) {
        d->subset = x->subset;
        if (d->subset.kind == MXB_SUBSET_IDS) {
            if (resolve_path(c, d->subset.ids_file, path, sizeof path)) return -1;
            snprintf(d->subset.ids_file, sizeof d->subset.ids_file, "%s", path);
        }
    } else if (!strcmp(key, "resize")) d->pre.size = (int)x->i;
    else if (!strcmp(key, "crop")) d->pre.crop = (int)x->i;
    else if (!strcmp(key, "square")) d->pre.square = x->flag;
    else if (!strcmp(key, "filter"))
        d->pre.filter = x->choice == 0 ? MXB_FILTER_BICUBIC : x->choice == 1 ? MXB_FILTER_BILINEAR : MXB_FILTER_NEAREST;
    else if (!strcmp(key, "mean") || !strcmp(key, "std")) {
        float *f = key[0] == 'm' ? d->pre.mean : d->pre.std;
        for (int j = 0; j < 3; j++) f[j] = (float)x->rgb[j];
    } else if (!strcmp(key, "tests")) d->positive = x->positive, d->negative = x->negative;
    else if (!strcmp(key, "auc")) c->auc_fraction = x->choice;
    else if (!strcmp(key, "auc_x")) c->auc_x_normalized = x->choice;
    else if (!strcmp(key, "pointing_tolerance")) c->pointing_tolerance = x->d;
    else if (!strcmp(key, "normalise")) c->seg_no_minmax = x->choice;
    else abort(); /* a key in the table without a store: a bug, never input-dependent */
    return 0;
}

/* a method parameter's name as method.h allows it: [a-z0-9_]{1,31} */
static int method_param_key(const char *k) {
    size_t n = strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_");
    return n > 0 && n <= 31 && !k[n];
}

static int on_key(void *user, const char *section, const char *key, const char *v) {
    parse_state *st = user;
    mxb_run_config *c = st->cfg;
    unsigned sec = 0;
    int idx = 0;
    if (!strcmp(section, "run")) sec = S_RUN;
    else if (!strcmp(section, "perturbation")) sec = S_PERT;
    else if (!strcmp(section, "segmentation")) sec = S_SEG;
    else if (!strncmp(section, "model:", 6) || !strncmp(section, "method:", 7)) {
        int model = section[1] == 'o' && section[2] == 'd';
        const char *name = section + (model ? 6 : 7);
        if (bad_name(name))
            return fail(st, section, key ? key : "-",
                        "bad name (1..40 letters, digits, '_', '-', '.', '+'; not '.' or '..')");
        sec = model ? S_MODEL : S_METHOD;
        idx = model ? model_index(c, name) : method_index(c, name);
        if (idx < 0)
            return fail(st, section, key ? key : "-", "too many %s (at most %d)", model ? "models" : "methods",
                        model ? MXB_MAX_MODELS : MXB_MAX_METHODS);
    } else {
        return fail(st, section, key ? key : "-",
                    "unknown section (run, model:NAME, method:NAME, perturbation, segmentation)");
    }
    if (sec & (S_PERT | S_SEG)) (sec == S_PERT ? &c->perturbation : &c->segmentation)->enabled = 1;
    if (!key) return 1; /* a section header alone declares a model, method or test */
    const key_spec *k = NULL;
    for (size_t i = 0; i < sizeof keys / sizeof *keys && !k; i++)
        if ((keys[i].sections & sec) && !strcmp(keys[i].key, key)) k = &keys[i];
    if (!k && sec == S_METHOD && method_param_key(key)) {
        /* method ABI v2: a key of the method's own params, checked against its specs when
         * the run loads the method (its plugin may not be loaded yet) */
        mxb_run_method *rm = &c->methods[idx];
        int slot = rm->nparam_kv;
        for (int i = 0; i < rm->nparam_kv; i++)
            if (!strncmp(rm->param_kv[i], key, strlen(key)) && rm->param_kv[i][strlen(key)] == '=') {
                /* twice in the file is a mistake; a --set (line 0) overrides, as for every key */
                if (st->line) return fail(st, section, key, "given twice");
                slot = i;
            }
        if (slot == rm->nparam_kv && rm->nparam_kv >= MXB_MAX_PARAMS) return fail(st, section, key, "too many params (at most %d)", MXB_MAX_PARAMS);
        if (strlen(key) + 1 + strlen(v) >= sizeof rm->param_kv[0])
            return fail(st, section, key, "the value is too long (at most %zu bytes)", sizeof rm->param_kv[0] - 2 - strlen(key));
        for (const char *q = v; *q; q++)
            if ((unsigned char)*q < 0x20 || *q == 0x7f)
                return fail(st, section, key, "the value holds a control byte (0x%02x)", (unsigned char)*q);
        snprintf(rm->param_kv[slot], sizeof rm->param_kv[0], "%s=%s", key, v);
        if (slot == rm->nparam_kv) rm->nparam_kv++;
        return 1;
    }
    if (!k) {
        char list[512];
        key_list(sec, list, sizeof list);
        return fail(st, section, key, sec == S_METHOD ? "unknown key (%s, or a parameter of the method)" : "unknown key (%s)",
                    list);
    }
    value x;
    char why[300];
    if (check_value(k, v, &x, why, sizeof why)) return fail(st, section, key, "%s", why);
    if (apply(st, sec, idx, key, v, &x)) return fail(st, section, key, "the path is too long");
    if (sec & (S_PERT | S_SEG)) /* set here, so not taken from the model's transform (run.c) */
        (sec == S_PERT ? &c->perturbation : &c->segmentation)->pre_set |= mxb_preprocess_key_bit(key);
    return 1;
}

/* The bit of a transform key in mxb_dataset_config.pre_set: the keys a section sets
 * win over the model's own transform (run_setup.c reads them). Here, with the key
 * table that parses them, so run_setup.c uses config.c and not the other way. */
unsigned mxb_preprocess_key_bit(const char *key) {
    static const char *const keys[] = {"resize", "square", "crop", "filter", "mean", "std"};
    for (unsigned i = 0; i < 6; i++)
        if (!strcmp(key, keys[i])) return 1u << i;
    return 0;
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
    if (!*r->p || r->st->err[0]) return NULL;
    size_t n = strcspn(r->p, "\n");
    r->st->line++;
    /* libinih's line buffer is fixed (200 bytes in Debian's build): a longer line
     * would be split and its tail read as a line of its own. Refused, naming it. */
    if (n + 2 > (size_t)num) {
        mxb_seterr(r->st->err, r->st->errlen,
                 "%s:%d: the line is %zu bytes long, over libinih's limit of %d (shorten it, or give the "
                 "value with --set section.key=value)",
                 r->st->path, r->st->line, n, num - 2);
        r->st->err_line = r->st->line;
        return NULL;
    }
    memcpy(buf, r->p, n);
    if (r->p[n] == '\n') buf[n++] = '\n';
    buf[n] = 0;
    r->p += n;
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
    mxb_input_note(path); /* no output may be written over it */
    if (mxb_input_check(path, "a configuration file", 0, err, errlen)) return -1;
    FILE *f = fopen(path, "rb");
    if (!f) {
        mxb_seterr(err, errlen, "%s: cannot open the configuration (%s)", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode)) {
        fclose(f);
        mxb_seterr(err, errlen, "%s: not a configuration file (not a regular file)", path);
        return -1;
    }
    if (sb.st_size > (1 << 20)) {
        fclose(f);
        mxb_seterr(err, errlen, "%s: not a configuration file (over 1 MiB)", path);
        return -1;
    }
    size_t n = (size_t)sb.st_size;
    c->text = mxb_alloc0(n + 4096, 1, "configuration text");
    size_t got = fread(c->text, 1, n, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr || got != n) {
        mxb_seterr(err, errlen, "%s: read error", path);
        return -1;
    }
    c->text[got] = 0;
    /* a NUL byte would silently end the text for every reader below */
    const char *nul = memchr(c->text, 0, got);
    if (nul) {
        int line = 1;
        for (const char *p = c->text; p < nul; p++) line += *p == '\n';
        mxb_seterr(err, errlen, "%s:%d: a NUL byte (a text file holds none)", path, line);
        return -1;
    }
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
        mxb_seterr(err, errlen, "%s:%d: syntax error (want [section], key = value, or a ; comment)", path, rc);
        return -1;
    }
    if (rc != 0 || err[0]) {
        if (!err[0]) mxb_seterr(err, errlen, "%s:%d: syntax error", path, rc);
        return -1;
    }
    /* --set section.key=value, applied after the file; recorded in the config text */
    for (int i = 0; i < nsets; i++) {
        const char *eq = strchr(sets[i], '='), *dot = eq ? memchr(sets[i], '.', (size_t)(eq - sets[i])) : NULL;
        const char *lastdot = dot;
        for (const char *p = dot; p && p < eq; p++)
            if (*p == '.') lastdot = p;
        if (!eq || !lastdot) {
            mxb_seterr(err, errlen, "%s: --set '%s' is not section.key=value", path, sets[i]);
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
        c->text = mxb_realloc(c->text, len + strlen(sets[i]) + 32, "configuration text");
        sprintf(c->text + len, "\n; --set %s\n", sets[i]);
    }
    /* what a run needs */
    if (!c->output[0]) return mxb_seterr(err, errlen, "%s: [run] output is missing", path), -1;
    if (!c->nmodels) return mxb_seterr(err, errlen, "%s: no [model:NAME] section", path), -1;
    if (!c->nmethods) return mxb_seterr(err, errlen, "%s: no [method:NAME] section", path), -1;
    for (int i = 0; i < c->nmodels; i++)
        if (!c->models[i].weights[0])
            return mxb_seterr(err, errlen, "%s: [model:%s] has no weights", path, c->models[i].name), -1;
    if (!c->perturbation.enabled && !c->segmentation.enabled)
        return mxb_seterr(err, errlen, "%s: neither [perturbation] nor [segmentation] is configured", path), -1;
    mxb_run_data *ds[2] = {&c->perturbation, &c->segmentation};
    for (int i = 0; i < 2; i++)
        if (ds[i]->enabled && !ds[i]->data[0])
            return mxb_seterr(err, errlen, "%s: [%s] has no data", path, i ? "segmentation" : "perturbation"), -1;
    if (c->perturbation.enabled && !c->perturbation.positive && !c->perturbation.negative)
        return mxb_seterr(err, errlen, "%s: [perturbation] tests names neither positive nor negative", path), -1;
    /* insertion/deletion runs in the perturbation test (its images and labels) */
    if (c->insdel_step && !c->perturbation.enabled)
        return mxb_seterr(err, errlen, "%s: [run] insertion_deletion_step needs a [perturbation] section", path), -1;
    return 0;
}

void mxb_run_config_free(mxb_run_config *c) {
    free(c->text);
    c->text = NULL;
}
