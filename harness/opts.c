/* One option parser for every command, driven by a table (harness.h, mxb_opt).
 *
 * Every option error is one line on stderr that names the command and the option
 * and points to the command's --help, with exit code 2; --help prints the usage on
 * stdout. Numbers go through one strict parser: all of the string, no leading
 * space, in range, so "3x", "1e", "" and "-1" for a count are refused rather than
 * read as something else. */
#include "harness/harness.h"
#include "harness/internal.h"
#include "methods/method.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int mxb_parse_ll(const char *s, long long lo, long long hi, long long *out) {
    if (!s || !*s || !((*s >= '0' && *s <= '9') || *s == '-' || *s == '+')) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int mxb_parse_long(const char *s, long lo, long hi, long *out) {
    long long v;
    if (mxb_parse_ll(s, lo, hi, &v)) return -1;
    *out = (long)v;
    return 0;
}

/* up to 2^64 - 1: no sign at all, so "-1" cannot wrap around */
int mxb_parse_u64(const char *s, unsigned long long *out) {
    if (!s || *s < '0' || *s > '9') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int mxb_parse_double(const char *s, double lo, double hi, double *out) {
    /* strtod also reads "inf", "nan" and hex floats: only plain decimal numbers here */
    if (!s || !*s || strspn(s, "0123456789+-.eE") != strlen(s)) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int mxb_usage_error(const char *cmd, const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    mxb_vseterr(msg, sizeof msg, fmt, ap); /* quotes what was typed: one printable line */
    va_end(ap);
    fprintf(stderr, "mxb %s: %s (see mxb %s --help)\n", cmd, msg, cmd);
    return 2;
}

int mxb_load_plugins(const char *cmd, const char *const *paths, int n) {
    for (int i = 0; i < n; i++) {
        char err[512];
        if (mxb_methods_load_plugin(paths[i], err, sizeof err)) {
            fprintf(stderr, "mxb %s: %s\n", cmd, err);
            mxb_methods_unload_plugins();
            return 2;
        }
    }
    return 0;
}

/* "a positive integer", "a non-negative integer", "a number", ...: what the option takes */
static void describe(const mxb_opt *o, char *buf, size_t n) {
    if (o->kind == MXB_OPT_DOUBLE || o->kind == MXB_OPT_DOUBLE_OPT)
        snprintf(buf, n, o->dlo == 0 ? "a non-negative number" : "a number");
    else
        snprintf(buf, n, o->lo == 1 ? "a positive integer" : o->lo == 0 ? "a non-negative integer" : "an integer");
}

static int set_value(const char *cmd, mxb_opt *o, const char *v) {
    char what[96];
    switch (o->kind) {
    case MXB_OPT_FLAG: *(int *)o->out = 1; break;
    case MXB_OPT_STR:
        if (!*v) return mxb_usage_error(cmd, "--%s: the value is empty", o->name);
        *(const char **)o->out = v;
        break;
    case MXB_OPT_LIST:
        if (!*v) return mxb_usage_error(cmd, "--%s: the value is empty", o->name);
        if (*o->count >= o->max) return mxb_usage_error(cmd, "--%s: at most %d of them", o->name, o->max);
        ((const char **)o->out)[(*o->count)++] = v;
        break;
    case MXB_OPT_INT: {
        long x;
        describe(o, what, sizeof what);
        if (mxb_parse_long(v, LONG_MIN, LONG_MAX, &x) || (x < o->lo && o->lo <= 1))
            return mxb_usage_error(cmd, "--%s: '%s' is not %s", o->name, v, what);
        if (x < o->lo || x > o->hi)
            return mxb_usage_error(cmd, "--%s: '%s' is out of range [%ld, %ld]", o->name, v, o->lo, o->hi);
        *(int *)o->out = (int)x;
        break;
    }
    case MXB_OPT_DOUBLE_OPT:
        if (!v) break; /* given alone: the default stays */
        /* fall through */
    case MXB_OPT_DOUBLE: {
        double x;
        describe(o, what, sizeof what);
        if (mxb_parse_double(v, -HUGE_VAL, HUGE_VAL, &x) || (x < o->dlo && o->dlo <= 0))
            return mxb_usage_error(cmd, "--%s: '%s' is not %s", o->name, v, what);
        if (x < o->dlo || x > o->dhi)
            return mxb_usage_error(cmd, "--%s: '%s' is out of range [%g, %g]", o->name, v, o->dlo, o->dhi);
        *(double *)o->out = x;
        break;
    }
    case MXB_OPT_CHOICE: {
        /* choices "a|b|c": the index of the one given */
        const char *c = o->choices;
        for (int i = 0; c && *c; i++) {
            size_t len = strcspn(c, "|");
            if (strlen(v) == len && !strncmp(c, v, len)) {
                *(int *)o->out = i;
                return 0;
            }
            c += len + (c[len] == '|');
        }
        char list[128];
        snprintf(list, sizeof list, "%s", o->choices);
        for (char *p = list; *p; p++)
            if (*p == '|') *p = ',';
        return mxb_usage_error(cmd, "--%s: '%s' is not one of %s", o->name, v, list);
    }
    }
    return 0;
}

int mxb_opts_parse(const char *cmd, int argc, char **argv, mxb_opt *opts, const char **pos, int max_pos,
                   int *npos, void (*usage)(FILE *)) {
    int n = 0, only_pos = 0;
    for (mxb_opt *o = opts; o->name; o++) o->seen = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || !a[1]) {
            if (n >= max_pos) return mxb_usage_error(cmd, "unexpected argument '%s'", a);
            pos[n++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        }
        if (a[1] != '-') return mxb_usage_error(cmd, "unknown option '%s'", a);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        mxb_opt *o = opts;
        for (; o->name; o++)
            if (strlen(o->name) == len && !strncmp(o->name, name, len)) break;
        if (!o->name) return mxb_usage_error(cmd, "unknown option '--%.*s'", (int)len, name);
        const char *v = NULL;
        if (o->kind == MXB_OPT_FLAG) {
            if (eq) return mxb_usage_error(cmd, "--%s takes no value", o->name);
        } else if (o->kind == MXB_OPT_DOUBLE_OPT) {
            if (eq) v = eq + 1; /* its value only as --name=VALUE: it is optional */
        } else if (eq) {
            v = eq + 1;
        } else if (i + 1 < argc && !(o->kind != MXB_OPT_INT && o->kind != MXB_OPT_DOUBLE &&
                                     !strncmp(argv[i + 1], "--", 2) && argv[i + 1][2])) {
            /* "--out --top 3": --out was given no value, rather than a file named --top */
            v = argv[++i];
        } else {
            return mxb_usage_error(cmd, "--%s needs a value", o->name);
        }
        if (o->seen && o->kind != MXB_OPT_LIST)
            return mxb_usage_error(cmd, "--%s given twice", o->name);
        o->seen = 1;
        if (set_value(cmd, o, v)) return 2;
    }
    if (npos) *npos = n;
    return 0;
}

int mxb_opt_seen(const mxb_opt *opts, const char *name) {
    for (const mxb_opt *o = opts; o->name; o++)
        if (!strcmp(o->name, name)) return o->seen;
    return 0;
}

int mxb_outputs_check(const char *cmd, const char *const *inputs, int nin, const char *const *outputs, int nout) {
    for (int i = 0; i < nin; i++) {
        const char *in = inputs[i], *colon = in ? strrchr(in, ':') : NULL;
        struct stat st;
        if (in && stat(in, &st) && colon) { /* T.h5:DATASET */
            char path[4096];
            snprintf(path, sizeof path, "%.*s", (int)(colon - in), in);
            mxb_input_note(path);
        } else if (in) {
            mxb_input_note(in);
        }
    }
    char err[4400];
    for (int i = 0; i < nout; i++) {
        if (!outputs[i]) continue;
        if (mxb_output_check(outputs[i], err, sizeof err)) {
            fprintf(stderr, "mxb %s: %s\n", cmd, err);
            return 2;
        }
        for (int j = 0; j < i; j++)
            if (outputs[j] && !strcmp(outputs[i], outputs[j])) {
                mxb_seterr(err, sizeof err, "%s: named as two outputs; give each its own file", outputs[i]);
                fprintf(stderr, "mxb %s: %s\n", cmd, err);
                return 2;
            }
    }
    return 0;
}
