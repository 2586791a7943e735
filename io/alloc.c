/* The allocator: the only file of mxb that calls malloc, calloc or realloc. */
#include "io/io.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mxb_oom_fn oom_handler;

void mxb_set_oom_handler(mxb_oom_fn fn) { oom_handler = fn; }

static void out_of_memory(size_t n, const char *what) {
    if (oom_handler) oom_handler(n, what ? what : "a buffer");
    fprintf(stderr, "mxb: out of memory allocating %zu bytes for %s\n", n, what ? what : "a buffer");
    abort();
}

void *mxb_try_alloc(size_t n) { return malloc(n ? n : 1); }

void *mxb_try_alloc0(size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *mxb_try_realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }

char *mxb_try_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = mxb_try_alloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

char *mxb_try_strndup(const char *s, size_t n) {
    size_t len = strnlen(s, n);
    char *d = mxb_try_alloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = 0;
    }
    return d;
}

void *mxb_alloc(size_t n, const char *what) {
    void *p = mxb_try_alloc(n);
    if (!p) out_of_memory(n, what);
    return p;
}

void *mxb_alloc0(size_t count, size_t size, const char *what) {
    void *p = mxb_try_alloc0(count, size);
    if (!p) out_of_memory(size && count > SIZE_MAX / size ? SIZE_MAX : count * size, what);
    return p;
}

void *mxb_realloc(void *p, size_t n, const char *what) {
    void *q = mxb_try_realloc(p, n);
    if (!q) out_of_memory(n, what);
    return q;
}

char *mxb_strdup(const char *s) {
    char *d = mxb_try_strdup(s);
    if (!d) out_of_memory(strlen(s) + 1, "a string");
    return d;
}
