/* The allocator: the only file of mxb that calls malloc, calloc or realloc. */
#include "io/io.h"

#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mxb_oom_fn oom_handler;
static volatile sig_atomic_t oom_exiting;

int mxb_out_of_memory_exiting(void) { return oom_exiting; }

void mxb_set_oom_handler(mxb_oom_fn fn) { oom_handler = fn; }

/* MXB_TEST_OOM_AFTER (io/io.h): LONG_MIN until read, then the allocations left, or -1 */
static atomic_long oom_countdown = LONG_MIN;

static int test_out_of_memory(void) {
    long c = atomic_load(&oom_countdown);
    if (c == LONG_MIN) {
        double d;
        long v = mxb_env_number("MXB_TEST_OOM_AFTER", &d, NULL, 0) > 0 ? (long)d : -1;
        atomic_compare_exchange_strong(&oom_countdown, &c, v < 0 ? -1 : v);
        c = atomic_load(&oom_countdown);
    }
    return c >= 0 && atomic_fetch_sub(&oom_countdown, 1) <= 0;
}

static void out_of_memory(size_t n, const char *what) {
    oom_exiting = 1;
    mxb_tmpfiles_remove(); /* before any report: the handler does not return */
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
    void *p = test_out_of_memory() ? NULL : mxb_try_alloc(n);
    if (!p) out_of_memory(n, what);
    return p;
}

void *mxb_alloc0(size_t count, size_t size, const char *what) {
    void *p = test_out_of_memory() ? NULL : mxb_try_alloc0(count, size);
    if (!p) out_of_memory(size && count > SIZE_MAX / size ? SIZE_MAX : count * size, what);
    return p;
}

void *mxb_realloc(void *p, size_t n, const char *what) {
    void *q = test_out_of_memory() ? NULL : mxb_try_realloc(p, n);
    if (!q) out_of_memory(n, what);
    return q;
}

char *mxb_strdup(const char *s) {
    char *d = test_out_of_memory() ? NULL : mxb_try_strdup(s);
    if (!d) out_of_memory(strlen(s) + 1, "a string");
    return d;
}
