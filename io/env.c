/* Every environment variable mxb reads, one table and one strict parser (issue 23,
 * class 6): a limit set to "1MB", "1e0", "0x1", "abc", "-1", "1 " or 2^44 was ignored
 * without a word (or wrapped to 0). A number is all of the string, decimal digits only
 * (a real may have a point and an exponent), in the variable's range; anything else is
 * refused at the start of every command (mxb_env_check) with one line naming the
 * variable. An empty variable counts as unset. Flags (MXB_HDF5_ERRORS,
 * MXB_BLAS_KEEP_KERNELS, MXB_OMP_PASSIVE) are on when set to anything, as documented;
 * OMP_NUM_THREADS is libgomp's, bounded by the command layer (harness/cli.c). */
#include "io/io.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    int integer;      /* 1: whole numbers only */
    double lo, hi;    /* the range, inclusive */
    const char *unit; /* for the message */
} env_var;

/* 2^40: MiB and pixels far past any machine, and MiB << 20 still fits 64 bits */
static const env_var vars[] = {
    {"MXB_MAX_MEMORY_MB", 1, 1, 1099511627776.0, "MiB"},
    {"MXB_MAX_PIXELS", 1, 1, 1099511627776.0, "pixels"},
    {"MXB_PROGRESS_SECONDS", 0, 0, 1e6, "seconds"},
    {"MXB_TEST_OOM_AFTER", 1, 0, 1e15, "allocations"},
    {"MXB_HISTORY_BUSY_SECONDS", 0, 0, 3600, "seconds"},
    {"MXB_TEST_HISTORY_KILL_AFTER", 1, 1, 1e9, "values"}, /* test hook: history/store.c */
};

static const env_var *find(const char *name) {
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (!strcmp(vars[i].name, name)) return &vars[i];
    return NULL;
}

static int parse(const env_var *v, const char *s, double *out) {
    if (strspn(s, v->integer ? "0123456789" : "0123456789.eE+-") != strlen(s) || !(*s >= '0' && *s <= '9'))
        return -1;
    char *end;
    errno = 0;
    double d;
    if (v->integer) {
        unsigned long long x = strtoull(s, &end, 10);
        if (errno || *end || x > (unsigned long long)v->hi) return -1;
        d = (double)x;
    } else {
        d = strtod(s, &end);
        if (errno || *end || !isfinite(d)) return -1;
    }
    if (!(d >= v->lo && d <= v->hi)) return -1;
    *out = d;
    return 0;
}

static void refuse(const env_var *v, const char *s, char *err, size_t errlen) {
    mxb_seterr(err, errlen, "%s='%.40s': not %s in [%.0f, %.0f] %s (unset it for the default)", v->name, s,
               v->integer ? "a whole number" : "a decimal number", v->lo, v->hi, v->unit);
}

int mxb_env_number(const char *name, double *out, char *err, size_t errlen) {
    const env_var *v = find(name);
    const char *s = getenv(name);
    if (!v || !s || !*s) return 0;
    if (parse(v, s, out)) {
        refuse(v, s, err, errlen);
        return -1;
    }
    return 1;
}

int mxb_env_check(char *err, size_t errlen) {
    double d;
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (mxb_env_number(vars[i].name, &d, err, errlen) < 0) return -1;
    /* a test hook: N, N:INT or N:TERM (the signal; results/journal.c) */
    const char *k = getenv("MXB_TEST_KILL_AFTER_RECORDS");
    if (k && *k) {
        size_t n = strspn(k, "0123456789");
        if (!n || n > 9 || (k[n] && strcmp(k + n, ":INT") && strcmp(k + n, ":TERM"))) {
            mxb_seterr(err, errlen, "MXB_TEST_KILL_AFTER_RECORDS='%.40s': not N, N:INT or N:TERM", k);
            return -1;
        }
    }
    return 0;
}
