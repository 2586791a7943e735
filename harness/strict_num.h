/* Strict number parsing for values typed by people (config files, --set, flags):
 * the whole string is the number, in range, finite; no silent truncation, wrap-
 * around or trailing text. Header-only so any module can use it. */
#ifndef MXB_STRICT_NUM_H
#define MXB_STRICT_NUM_H

#include <errno.h>
#include <math.h>
#include <stdlib.h>

/* A decimal integer in [lo, hi] ("-1" is not a uint64). 0 on success. */
static inline int mxb_parse_ll(const char *s, long long lo, long long hi, long long *out) {
    if (!s || !*s || (*s != '-' && (*s < '0' || *s > '9'))) return -1;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || *end || x < lo || x > hi) return -1;
    *out = x;
    return 0;
}

/* A non-negative decimal integer up to 2^64 - 1, no sign. */
static inline int mxb_parse_u64(const char *s, unsigned long long *out) {
    if (!s || *s < '0' || *s > '9') return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = x;
    return 0;
}

/* A finite decimal number in [lo, hi] (no nan, inf, hex floats). */
static inline int mxb_parse_double(const char *s, double lo, double hi, double *out) {
    if (!s || !*s) return -1;
    for (const char *p = s; *p; p++)
        if (*p == 'x' || *p == 'X' || *p == 'n' || *p == 'N' || *p == 'i' || *p == 'I') return -1;
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (*end || !isfinite(x) || x < lo || x > hi) return -1;
    *out = x;
    return 0;
}

#endif
