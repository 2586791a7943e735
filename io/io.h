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
#include <stdint.h>
#include <stdio.h>

#if defined(__GNUC__)
#define MXB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define MXB_CHECKED __attribute__((warn_unused_result, malloc))
#define MXB_WUR __attribute__((warn_unused_result))
#else
#define MXB_PRINTF(a, b)
#define MXB_CHECKED
#define MXB_WUR
#endif

/* deflate's best ratio: at most 1032 bytes out of one. A file (or a dataset's
 * storage) smaller than what it declares / MXB_DEFLATE_MAX_RATIO cannot hold it:
 * PNG, HDF5 datasets, weights and results files are checked with it before the
 * allocation they ask for. */
#define MXB_DEFLATE_MAX_RATIO 1032

/* snprintf into err, then every control byte (a name read from a file may hold any
 * byte) becomes '?': the message stays one printable line. err NULL or errlen 0: no-op. */
void mxb_seterr(char *err, size_t errlen, const char *fmt, ...) MXB_PRINTF(3, 4);
void mxb_vseterr(char *err, size_t errlen, const char *fmt, va_list ap);

/* A caller's bug (a function's contract broken: an untraced context where a traced
 * one is required, a model of the wrong family), never bad input: file:line and the
 * condition on stderr, then abort(), so the bug shows where it is instead of as a
 * message that guesses at a cause. Always on, Release builds too. Bad input still
 * gets a message through mxb_seterr. */
#define MXB_ASSERT(cond) ((cond) ? (void)0 : mxb_assert_fail(#cond, __FILE__, __LINE__))
_Noreturn void mxb_assert_fail(const char *cond, const char *file, int line);

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
char *mxb_try_strndup(const char *s, size_t n) MXB_CHECKED; /* at most n bytes of s, NUL-terminated */

/* The command layer's out-of-memory report: called with the size and `what`; it must
 * not return (if it does, abort()). NULL restores the default (a line on stderr, abort). */
typedef void (*mxb_oom_fn)(size_t n, const char *what);
void mxb_set_oom_handler(mxb_oom_fn fn);
/* 1 once an out-of-memory exit has begun: an atexit guard (harness/explain.c's, which
 * reports a plugin calling exit()) tells the allocator's exit from a plain exit(). */
int mxb_out_of_memory_exiting(void);
/* Tests only: with MXB_TEST_OOM_AFTER=N in the environment (read at the first call),
 * the configuration-bounded allocations after the first N fail as out of memory would
 * (tests/test_io.c, tests/cli_oom.sh). */

/* ---- outputs (io/outfile.c): the one writer, and outputs that are inputs ---- */

/* Every reader of an outside file notes it (a results file, weights, a configuration,
 * labels, an image, a plugin); mxb_output_check refuses a path whose existing target is
 * one of them, compared by device + inode (so through any spelling, symlink or hard
 * link), or a folder: -1 and "PATH: is the input file IN; refusing to write over it".
 * Commands call it on every output option before any work; mxb_outfile_open calls it
 * again, so no writer can miss it. */
void mxb_input_note(const char *path);
int mxb_output_check(const char *path, char *err, size_t errlen) MXB_WUR;
void mxb_inputs_forget(void); /* tests: an empty list */
/* What a reader checks before opening an outside file: a folder is refused ("PATH: is a
 * folder, not WHAT", e.g. "a label file"), so is a device or socket (/dev/zero would be
 * read without end), and with `regular` a pipe too (HDF5 files and configurations are
 * read as files). A missing file passes: the reader's open names it. 0 or -1. */
int mxb_input_check(const char *path, const char *what, int regular, char *err, size_t errlen) MXB_WUR;

/* The one writer of every file mxb makes (results, pages, figures, PNGs, JSON, synthetic
 * data): open creates PATH.partial-PID-XXXXXXXX in PATH's folder with
 * O_CREAT|O_EXCL|O_NOFOLLOW (a unique name: no planted symlink is followed, concurrent
 * writers never share one), registers it (removed on out of memory and on
 * SIGINT/SIGTERM/SIGHUP) and gives a FILE to write; commit flushes, fsyncs when `sync`
 * (results files: they are the run's product; not for thousands of synthetic images),
 * and renames it over PATH; abort removes it. A writer that needs the name (libhdf5)
 * may fclose f, set it NULL and write `tmp` itself before commit. Errors name PATH and
 * carry strerror. Temporaries of dead processes beside PATH are removed at open. */
typedef struct {
    FILE *f;
    char path[4096], tmp[4200];
} mxb_outfile;
int mxb_outfile_open(mxb_outfile *o, const char *path, char *err, size_t errlen) MXB_WUR;
int mxb_outfile_commit(mxb_outfile *o, int sync, char *err, size_t errlen) MXB_WUR;
void mxb_outfile_abort(mxb_outfile *o);
/* the whole of p[n] as PATH, through the above */
int mxb_file_write(const char *path, const void *p, size_t n, int sync, char *err, size_t errlen) MXB_WUR;

/* ---- names (io/names.c) ---- */

/* The one rule for model and method names (built-in, plugin, configuration): 1..40 of
 * [A-Za-z0-9_.+-], not "." or "..": a group name, a table header and a file name part
 * that needs no quoting. 1 when s follows it. */
#define MXB_NAME_MAX 40
int mxb_name_ok(const char *s);
/* 1 when name matches one of the comma-separated fnmatch globs of globs (NULL: every
 * name; a glob of 256 bytes or more matches nothing): --metric and --metrics selections */
int mxb_globs_match(const char *globs, const char *name);

/* ---- the environment (io/env.c): one strict parser for every variable mxb reads ---- */

/* MXB_MAX_MEMORY_MB, MXB_MAX_PIXELS (whole numbers in [1, 2^40]), MXB_PROGRESS_SECONDS (a
 * decimal number in [0, 1e6]), MXB_TEST_OOM_AFTER: all of the string, decimal, in range
 * ("1MB", "1e0", "0x1", "-1", "1 " are refused). 0 unset or empty, 1 *out set, -1 not
 * valid (err: one line naming the variable). mxb_env_check: every one of them (and the
 * test hooks), -1 at the first that is not valid; the command layer calls it first. */
int mxb_env_number(const char *name, double *out, char *err, size_t errlen);
int mxb_env_check(char *err, size_t errlen);

/* ---- temporary files (io/tmpfiles.c) ---- */

/* A file written under a temporary name (mxb_outfile's) is registered from its creation
 * to its rename or removal; an exit on out of memory (mxb_alloc's handler) or a fatal
 * signal removes every registered file first, so no partial result is left that looks
 * like one. At most 32 at once: -1 when full or the path is too long (the file is then
 * simply not protected). mxb_tmpfiles_remove is async-signal-safe. */
int mxb_tmpfile_register(const char *path);
void mxb_tmpfile_unregister(const char *path);
void mxb_tmpfiles_remove(void);

/* ---- SHA-256 (io/sha256.c, FIPS 180-4): provenance of weights files and data lists ---- */

typedef struct {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t fill;
} mxb_sha256;
void mxb_sha256_init(mxb_sha256 *s);
void mxb_sha256_update(mxb_sha256 *s, const void *data, size_t n);
void mxb_sha256_hex(mxb_sha256 *s, char hex[65]); /* finishes s */
int mxb_sha256_file(const char *path, char hex[65], char *err, size_t errlen);

/* ---- PNG (io/png.c, libpng): the one writer, for synthetic data and for maps ---- */

/* 8-bit PNG of width x height pixels, channels 1 (grey) or 3 (RGB), rows top to
 * bottom (pixels[(y * width + x) * channels + c]). Written through mxb_outfile, so a
 * failed write never leaves a file that looks complete; deterministic bytes (zlib
 * level 6, no time chunk). Width first, as libpng's IHDR. */
int mxb_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels,
                  char *err, size_t errlen);

/* ---- splitmix64 (io/rng.c) ---- */

/* splitmix64 (Steele, Lea, Flood 2014): state += 0x9e3779b97f4a7c15, then the
 * finaliser; the one generator of the synthetic data, sample draws and random weights,
 * so every platform and compiler draws the same numbers. */
uint64_t mxb_splitmix64(uint64_t *state);
/* An image's seed for the stochastic methods (methods/method.h, mxb_explain_input.seed):
 * one splitmix64 step from the state run_seed XOR FNV-1a-64(id's bytes), id the image's
 * id as the results store it. Depends on nothing else: the same map whatever the
 * threads, images in flight, shard or order. */
uint64_t mxb_image_seed(uint64_t run_seed, const char *id);

#endif
