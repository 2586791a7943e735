/* The one way mxb writes a file, and the one check that an output is not an input.
 *
 * Inputs: every reader of an outside file notes it (device + inode, and the path to
 * name it by); an output whose target exists and is one of them (through any spelling,
 * symlink or hard link) is refused before anything is written. Names cannot decide
 * this: "R.h5", "./../x/R.h5" and a link to it are one file.
 *
 * Writing: a file is created under a unique temporary name in the target's own folder
 * (PATH.partial-PID-XXXXXXXX with O_CREAT|O_EXCL|O_NOFOLLOW, so a planted or stale
 * symlink there is never followed and two writers never share one), registered with
 * io/tmpfiles.c from creation to rename (removed on out of memory and on SIGINT /
 * SIGTERM / SIGHUP), written, optionally fsync'ed, and renamed over the target: the
 * target is the old file or the complete new one, never a half. Every failure names
 * the file and carries the OS's reason (strerror). */
#include "io/io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- inputs ---- */

typedef struct {
    dev_t dev;
    ino_t ino;
    char *path;
} input_file;

static input_file *inputs;
static size_t ninputs, cap_inputs;
static atomic_flag inputs_lock = ATOMIC_FLAG_INIT; /* images are read by several threads */

static void lock(void) {
    while (atomic_flag_test_and_set_explicit(&inputs_lock, memory_order_acquire)) {
    }
}
static void unlock(void) { atomic_flag_clear_explicit(&inputs_lock, memory_order_release); }

void mxb_input_note(const char *path) {
    struct stat st;
    if (!path || stat(path, &st) || !S_ISREG(st.st_mode)) return; /* not there: nothing to protect */
    lock();
    for (size_t i = 0; i < ninputs; i++)
        if (inputs[i].dev == st.st_dev && inputs[i].ino == st.st_ino) {
            unlock();
            return;
        }
    if (ninputs == cap_inputs) {
        cap_inputs = cap_inputs ? 2 * cap_inputs : 16;
        inputs = mxb_realloc(inputs, cap_inputs * sizeof *inputs, "the list of input files");
    }
    inputs[ninputs++] = (input_file){st.st_dev, st.st_ino, mxb_strdup(path)};
    unlock();
}

int mxb_input_check(const char *path, const char *what, int regular, char *err, size_t errlen) {
    struct stat st;
    if (!path || stat(path, &st)) return 0; /* missing: the reader names it */
    if (S_ISDIR(st.st_mode)) {
        mxb_seterr(err, errlen, "%s: is a folder, not %s", path, what);
        return -1;
    }
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISSOCK(st.st_mode)) { /* /dev/zero: endless */
        mxb_seterr(err, errlen, "%s: not a regular file (a device or socket is not read as %s)", path, what);
        return -1;
    }
    if (regular && !S_ISREG(st.st_mode)) {
        mxb_seterr(err, errlen, "%s: not a regular file (%s must be one)", path, what);
        return -1;
    }
    return 0;
}

int mxb_output_check(const char *path, char *err, size_t errlen) {
    struct stat st;
    if (!path || stat(path, &st)) return 0; /* nothing there yet (or unreachable: the write will say) */
    if (S_ISDIR(st.st_mode)) {
        mxb_seterr(err, errlen, "%s: is a folder, not a file to write", path);
        return -1;
    }
    int rc = 0;
    lock();
    for (size_t i = 0; i < ninputs && !rc; i++)
        if (inputs[i].dev == st.st_dev && inputs[i].ino == st.st_ino) {
            mxb_seterr(err, errlen, "%s: is the input file %s; refusing to write over it", path, inputs[i].path);
            rc = -1;
        }
    unlock();
    return rc;
}

void mxb_inputs_forget(void) {
    lock();
    for (size_t i = 0; i < ninputs; i++) free(inputs[i].path);
    free(inputs);
    inputs = NULL;
    ninputs = cap_inputs = 0;
    unlock();
}

/* ---- the temporary's lifetime ---- */

/* SIGINT / SIGTERM / SIGHUP while a temporary exists: remove it, then die of the signal
 * as before. Installed once, only over the default action (a caller's own handler, such
 * as mxb run's stop request, or an ignored signal, is left alone). */
static pid_t owner; /* a forked child (mxb bench's contenders) removes nothing of ours */
static void on_fatal_signal(int sig) {
    if (getpid() == owner) mxb_tmpfiles_remove(); /* both async-signal-safe */
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_signal_cleanup(void) {
    static atomic_int done;
    if (atomic_exchange(&done, 1)) return;
    owner = getpid();
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old, sa;
        if (sigaction(sigs[i], NULL, &old) || old.sa_handler != SIG_DFL) continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_fatal_signal;
        sigaction(sigs[i], &sa, NULL);
    }
}

/* "dir/base" -> dir ("." for a bare name, "/" for "/x") and base */
static void split(const char *path, char *dir, size_t dn, const char **base) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, dn, ".");
    else if (slash == path) snprintf(dir, dn, "/");
    else snprintf(dir, dn, "%.*s", (int)(slash - path), path);
    *base = slash ? slash + 1 : path;
}

/* Temporaries BASE.partial-PID[-X] of processes that no longer exist (killed while
 * writing, where no handler could run): removed before a new one is made. A live
 * process's are left alone. */
static void remove_stale(const char *path) {
    char dir[4096], prefix[4200];
    const char *base;
    split(path, dir, sizeof dir, &base);
    snprintf(prefix, sizeof prefix, "%s.partial-", base);
    DIR *d = opendir(dir);
    if (!d) return;
    size_t bn = strlen(prefix);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, bn)) continue;
        const char *num = e->d_name + bn;
        char *end;
        long pid = strtol(num, &end, 10);
        if (!*num || (*end && *end != '-') || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to judge */
        char full[8400];
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        unlink(full);
    }
    closedir(d);
}

/* ---- the writer ---- */

int mxb_outfile_open(mxb_outfile *o, const char *path, char *err, size_t errlen) {
    memset(o, 0, sizeof *o);
    if (strlen(path) >= sizeof o->path) {
        mxb_seterr(err, errlen, "%s: path too long", path);
        return -1;
    }
    if (mxb_output_check(path, err, errlen)) return -1;
    snprintf(o->path, sizeof o->path, "%s", path);
    install_signal_cleanup();
    remove_stale(path);
    static atomic_ulong counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 20) ^
                    (uint64_t)atomic_fetch_add(&counter, 1) * 0x9e3779b97f4a7c15ull;
    int fd = -1, e = 0;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(o->tmp, sizeof o->tmp, "%s.partial-%ld-%08x", path, (long)getpid(),
                 (unsigned)(mxb_splitmix64(&seed) & 0xffffffffu));
        /* O_EXCL: a name that exists (a file, a planted symlink) is never opened */
        fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        e = errno;
        if (fd < 0 && e != EEXIST) break;
    }
    if (fd < 0) {
        mxb_seterr(err, errlen, "%s: cannot create the file: %s", path, strerror(e));
        o->tmp[0] = 0;
        return -1;
    }
    mxb_tmpfile_register(o->tmp);
    if (!(o->f = fdopen(fd, "wb"))) {
        e = errno;
        close(fd);
        mxb_outfile_abort(o);
        mxb_seterr(err, errlen, "%s: cannot write: %s", path, strerror(e));
        return -1;
    }
    return 0;
}

void mxb_outfile_abort(mxb_outfile *o) {
    if (o->f) fclose(o->f);
    o->f = NULL;
    if (o->tmp[0]) {
        unlink(o->tmp);
        mxb_tmpfile_unregister(o->tmp);
        o->tmp[0] = 0;
    }
}

int mxb_outfile_commit(mxb_outfile *o, int sync, char *err, size_t errlen) {
    int e = 0;
    if (o->f) {
        errno = 0;
        if (fflush(o->f) || ferror(o->f)) e = errno ? errno : EIO;
        if (!e && sync && fsync(fileno(o->f))) e = errno;
        if (fclose(o->f) && !e) e = errno ? errno : EIO;
        o->f = NULL;
    } else if (sync) { /* written by a library through the temporary's name */
        int fd = open(o->tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || fsync(fd)) e = errno;
        if (fd >= 0) close(fd);
    }
    /* the target may have become an input since the open (a reader in between) */
    if (!e && mxb_output_check(o->path, err, errlen)) {
        mxb_outfile_abort(o);
        return -1;
    }
    if (!e && rename(o->tmp, o->path)) e = errno;
    if (e) {
        mxb_outfile_abort(o);
        mxb_seterr(err, errlen, "%s: cannot write the file: %s", o->path, strerror(e));
        return -1;
    }
    mxb_tmpfile_unregister(o->tmp);
    o->tmp[0] = 0;
    return 0;
}

int mxb_file_write(const char *path, const void *p, size_t n, int sync, char *err, size_t errlen) {
    mxb_outfile o;
    if (mxb_outfile_open(&o, path, err, errlen)) return -1;
    if (n && fwrite(p, 1, n, o.f) != n) {
        int e = errno ? errno : EIO;
        mxb_outfile_abort(&o);
        mxb_seterr(err, errlen, "%s: cannot write the file: %s", path, strerror(e));
        return -1;
    }
    return mxb_outfile_commit(&o, sync, err, errlen);
}
