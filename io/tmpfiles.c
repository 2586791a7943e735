/* Temporary files that must not outlive the process: a writer registers PATH.partial
 * while it exists on disk (from its creation to its rename), and an exit on out of
 * memory removes whatever is registered (io/alloc.c), so no partial result is left
 * beside the real ones. A resumable journal is not registered: it is meant to stay.
 * No allocation and no lock: the removal may run in a signal handler or after malloc
 * failed; slots are claimed with atomics so OpenMP threads may register at once. */
#include "io/io.h"

#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define MAX_TMPFILES 32

enum { FREE, CLAIMED, HELD };
static char paths[MAX_TMPFILES][4400];
static atomic_int state[MAX_TMPFILES];

int mxb_tmpfile_register(const char *path) {
    size_t n = strlen(path);
    if (n >= sizeof paths[0]) return -1;
    for (int i = 0; i < MAX_TMPFILES; i++) {
        int expect = FREE;
        if (!atomic_compare_exchange_strong(&state[i], &expect, CLAIMED)) continue;
        memcpy(paths[i], path, n + 1);
        atomic_store(&state[i], HELD);
        return 0;
    }
    return -1;
}

void mxb_tmpfile_unregister(const char *path) {
    for (int i = 0; i < MAX_TMPFILES; i++)
        if (atomic_load(&state[i]) == HELD && !strcmp(paths[i], path)) {
            atomic_store(&state[i], FREE);
            return;
        }
}

void mxb_tmpfiles_remove(void) {
    for (int i = 0; i < MAX_TMPFILES; i++) {
        int expect = HELD;
        if (atomic_compare_exchange_strong(&state[i], &expect, CLAIMED)) {
            unlink(paths[i]); /* async-signal-safe */
            atomic_store(&state[i], FREE);
        }
    }
}
