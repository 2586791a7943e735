/*
 * io — the floor every other module stands on: one way to report an error, one
 * allocation policy, and the checks every reader of outside files shares.
 *
 * Errors: a function that can fail returns 0 / -1 (or NULL) and writes one printable
 * line into err[errlen] through mxb_seterr; library code never exits.
 *
 * Allocation policy (tests/cli_alloc.sh fails on a bare malloc/calloc/realloc
 * anywhere else):
 *   - mxb_alloc / mxb_alloc0 / mxb_realloc: sizes bounded by a checked configuration
 *     (the run's buffers, a table of a few names). Out of memory is not an input
 *     error but the machine's limit: the handler the command layer installed reports
 *     it in one line and ends the process cleanly (temporary files removed); without
 *     one, abort(). They never return NULL.
 *   - mxb_try_alloc / mxb_try_alloc0 / mxb_try_realloc: sizes that come from input (a
 *     dataset's shape, a file's length). NULL on overflow or out of memory, which the
 *     caller must check (the compiler warns when the result is ignored) and return as
 *     an error naming the file and the thing.
 * Everything is released with free().
 */
#ifndef MXB_IO_H
#define MXB_IO_H

#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__)
#define MXB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define MXB_CHECKED __attribute__((warn_unused_result, malloc))
#define MXB_WUR __attribute__((warn_unused_result))
#else
#define MXB_PRINTF(a, b)
#define MXB_CHECKED
#define MXB_WUR
#endif

/* snprintf into err, then every control byte (a name read from a file may hold any
 * byte) becomes '?': the message stays one printable line. err NULL or errlen 0: no-op. */
void mxb_seterr(char *err, size_t errlen, const char *fmt, ...) MXB_PRINTF(3, 4);
void mxb_vseterr(char *err, size_t errlen, const char *fmt, va_list ap);

/* Configuration-bounded sizes; never NULL (see above). `what` names the buffer in the
 * out-of-memory message ("run buffers", "attention matrices"). */
void *mxb_alloc(size_t n, const char *what);
void *mxb_alloc0(size_t count, size_t size, const char *what); /* zeroed, count*size checked */
void *mxb_realloc(void *p, size_t n, const char *what);
char *mxb_strdup(const char *s);

/* Input-bounded sizes: NULL on overflow (count*size) or out of memory. */
void *mxb_try_alloc(size_t n) MXB_CHECKED;
void *mxb_try_alloc0(size_t count, size_t size) MXB_CHECKED;
void *mxb_try_realloc(void *p, size_t n) MXB_WUR;
char *mxb_try_strdup(const char *s) MXB_CHECKED;

/* The command layer's out-of-memory report: called with the size and `what`; it must
 * not return (if it does, abort()). NULL restores the default (a line on stderr, abort). */
typedef void (*mxb_oom_fn)(size_t n, const char *what);
void mxb_set_oom_handler(mxb_oom_fn fn);

#endif
