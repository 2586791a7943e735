/* The one error writer: every module's messages pass through it. */
#include "io/io.h"

#include <stdio.h>
#include <stdlib.h>

void mxb_vseterr(char *err, size_t errlen, const char *fmt, va_list ap) {
    if (!err || !errlen) return;
    vsnprintf(err, errlen, fmt, ap);
    /* Messages quote names and strings taken from files (keys, attributes, paths),
     * which may hold any byte: keep the message one printable line. */
    for (char *p = err; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
}

void mxb_seterr(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    mxb_vseterr(err, errlen, fmt, ap);
    va_end(ap);
}

void mxb_assert_fail(const char *cond, const char *file, int line) {
    fprintf(stderr, "%s:%d: mxb internal error: %s does not hold (a bug: please report it)\n", file, line, cond);
    fflush(stderr);
    abort();
}
