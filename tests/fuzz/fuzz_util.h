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

/* One image decode (mxb_image_decode, the readers' entry) of the input with its first
 * bytes forced to the format's signature, so every input reaches the decoder and our
 * checks around it; a success must hand back a buffer of h * w * 3 bytes, a failure
 * none, with a one-line message. Needs datasets/datasets.h included first. */
#ifdef MXB_DATASETS_H
static inline int fz_image(const uint8_t *data, size_t size, const uint8_t *sig, size_t nsig,
                           const char *name) {
    uint8_t *buf = malloc(size + nsig);
    memcpy(buf, sig, nsig);
    if (size > nsig) memcpy(buf + nsig, data + nsig, size - nsig);
    size_t n = size > nsig ? size : nsig;
    uint8_t *rgb = NULL;
    int h = 0, w = 0;
    char err[512] = "";
    /* a modest pixel limit keeps each input cheap; the limit logic is the same */
    if (mxb_image_decode(buf, n, name, (size_t)1 << 22, &rgb, &h, &w, err, sizeof err) == 0) {
        if (h < 1 || w < 1 || (size_t)h * w > (size_t)1 << 22) abort();
        volatile uint8_t s = 0; /* touch every byte: the buffer really is h * w * 3 */
        for (size_t i = 0; i < (size_t)h * w * 3; i++) s ^= rgb[i];
        (void)s;
    } else {
        if (rgb) abort();
        fz_check_err(err);
    }
    free(rgb);
    free(buf);
    return 0;
}
#endif

#endif
