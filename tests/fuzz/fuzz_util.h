/* Shared by the libFuzzer targets of tests/fuzz: a scratch folder per process and
 * writing the input to a file there, because the parsers under test take paths
 * (that is what `mxb` hands them). Header-only: each target is one translation unit. */
#ifndef MXB_FUZZ_UTIL_H
#define MXB_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One folder per process, made on first use under $TMPDIR (tmpfs is faster). */
static inline const char *fz_dir(void) {
    static char dir[512];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/mxb-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) abort(); /* the harness itself is broken: stop loudly */
    }
    return dir;
}

/* dir/name; the buffer is static (one path per name at a time is all we need). */
static inline const char *fz_path(const char *name) {
    static char p[8][600];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", fz_dir(), name);
    return p[k];
}

static inline const char *fz_write(const char *name, const uint8_t *data, size_t n) {
    const char *path = fz_path(name);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n && fwrite(data, 1, n, f) != n) abort();
    if (fclose(f)) abort();
    return path;
}

/* Every error message our readers produce is one line, never empty. */
static inline void fz_check_err(const char *err) {
    if (!err[0] || strchr(err, '\n')) {
        fprintf(stderr, "bad error message: '%s'\n", err);
        abort();
    }
}

#endif
