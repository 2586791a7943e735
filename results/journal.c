/* The run journal: an append-only file of checksummed records, one per finished
 * task, written beside the results file while a run is in progress. A run killed at
 * any point (SIGKILL included) loses at most the record being written: on resume the
 * journal is read up to its last whole record, truncated there, and the run goes on.
 *
 * Layout: a header {magic "MXBJRNL1", run key (64 hex chars + NUL, padded to 72)}
 * then records {u32 magic, u32 payload length, u32 crc32(payload), payload}. */
#include "results/results.h"

#include "io/io.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_MAGIC "MXBJRNL1"
#define RECORD_MAGIC 0x4d58424au /* "MXBJ" */
#define HEADER_SIZE 80
#define MAX_RECORD (64u << 20)

/* Tests only: MXB_TEST_KILL_AFTER_RECORDS=N kills the process (SIGKILL, nothing runs
 * after it) when the journal comes to hold N records, "N:INT" sends it SIGINT and
 * "N:TERM" SIGTERM instead (the run's handler stops it between units; SIGTERM is what
 * Slurm sends at a time limit or a preemption), so a test can stop a run at a known
 * point instead of racing a timer against a run that may take 50 ms. The count is the
 * journal's, replayed records included: a resumed run (a requeued Slurm task, whose
 * environment is the same) is not stopped again at the same point. The appends of one
 * process are serialised by the caller (one writer). */
static void test_kill_after_records(long records) {
    static long at = -2; /* -2: not read yet; -1: not set */
    static int sig = SIGKILL;
    if (at == -2) {
        const char *s = getenv("MXB_TEST_KILL_AFTER_RECORDS");
        char *end = NULL;
        at = s && *s ? strtol(s, &end, 10) : -1;
        if (end && strcmp(end, ":INT") == 0) sig = SIGINT;
        if (end && strcmp(end, ":TERM") == 0) sig = SIGTERM;
    }
    if (at > 0 && records == at) raise(sig);
}

struct mxb_journal {
    int fd;
    long records; /* whole records in the file: replayed + appended */
    char path[4096];
};

uint32_t mxb_crc32(const void *data, size_t n) {
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    uint32_t c = 0xFFFFFFFFu;
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static int write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t n) {
    char *p = buf;
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* The whole records after the header, from fd's position: each one's length and crc
 * checked, handed to fn (NULL: only counted) until the first torn or corrupt record or
 * fn's non-zero. Counts them into *count; returns the bytes they take. One walk for the
 * resume's replay and for mxb_journal_peek, so both count what a resume would. */
static off_t records_walk(int fd, mxb_journal_replay_fn fn, void *user, long *count) {
    uint32_t hdr[3];
    char *buf = NULL;
    size_t cap = 0;
    off_t bytes = 0;
    while (read_all(fd, hdr, sizeof hdr) == 0) {
        if (hdr[0] != RECORD_MAGIC || hdr[1] > MAX_RECORD) break;
        if (hdr[1] > cap) {
            char *nb = mxb_try_realloc(buf, hdr[1]); /* the length is the file's (<= MAX_RECORD) */
            if (!nb) break;
            buf = nb;
            cap = hdr[1];
        }
        if (read_all(fd, buf, hdr[1]) || mxb_crc32(buf, hdr[1]) != hdr[2]) break;
        if (fn && fn(user, buf, hdr[1])) break;
        bytes += (off_t)(sizeof hdr + hdr[1]);
        (*count)++;
    }
    free(buf);
    return bytes;
}

mxb_journal *mxb_journal_open(const char *path, const char *run_key, mxb_journal_replay_fn fn,
                              void *user, int *replayed, char *err, size_t errlen) {
    *replayed = 0;
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) {
        mxb_seterr(err, errlen, "%s: cannot open the run journal: %s", path, strerror(errno));
        return NULL;
    }
    /* one run per journal: a second mxb run of the same output would do every image
     * again (the lock goes with the descriptor, so a killed run never holds it) */
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        int e = errno;
        if (e == EWOULDBLOCK)
            mxb_seterr(err, errlen, "%s: another mxb run is writing this output now; wait for it, or write elsewhere",
                     path);
        else
            mxb_seterr(err, errlen, "%s: cannot lock the run journal: %s", path, strerror(e));
        close(fd);
        return NULL;
    }
    char header[HEADER_SIZE] = {0};
    struct stat st;
    fstat(fd, &st);
    off_t good = HEADER_SIZE;
    if (st.st_size == 0) { /* a new run */
        memcpy(header, JOURNAL_MAGIC, 8);
        snprintf(header + 8, HEADER_SIZE - 8, "%s", run_key);
        if (write_all(fd, header, HEADER_SIZE) || fsync(fd)) {
            mxb_seterr(err, errlen, "%s: cannot write the run journal", path);
            close(fd);
            return NULL;
        }
    } else {
        if (st.st_size < HEADER_SIZE || read_all(fd, header, HEADER_SIZE) ||
            memcmp(header, JOURNAL_MAGIC, 8)) {
            mxb_seterr(err, errlen, "%s: not an mxb run journal (remove it to start over)", path);
            close(fd);
            return NULL;
        }
        if (strncmp(header + 8, run_key, HEADER_SIZE - 8)) {
            mxb_seterr(err, errlen,
                     "%s: belongs to a run with a different configuration or build; refusing to mix "
                     "results (remove it, or write the results elsewhere)",
                     path);
            close(fd);
            return NULL;
        }
        /* replay whole records; stop at the first torn or corrupt one */
        long n = 0;
        good += records_walk(fd, fn, user, &n);
        *replayed = (int)n;
        if (ftruncate(fd, good) || lseek(fd, good, SEEK_SET) != good) {
            mxb_seterr(err, errlen, "%s: cannot truncate the run journal", path);
            close(fd);
            return NULL;
        }
    }
    mxb_journal *j = mxb_alloc0(1, sizeof *j, "the run journal");
    j->fd = fd;
    j->records = *replayed;
    snprintf(j->path, sizeof j->path, "%s", path);
    return j;
}

int mxb_journal_append(mxb_journal *j, const void *payload, uint32_t n, char *err, size_t errlen) {
    uint32_t hdr[3] = {RECORD_MAGIC, n, mxb_crc32(payload, n)};
    /* one write of header and payload keeps a torn record detectable by its crc */
    char *buf = mxb_try_alloc(sizeof hdr + n);
    if (!buf) {
        mxb_seterr(err, errlen, "%s: out of memory", j->path);
        return -1;
    }
    memcpy(buf, hdr, sizeof hdr);
    memcpy(buf + sizeof hdr, payload, n);
    int rc = write_all(j->fd, buf, sizeof hdr + n);
    free(buf);
    if (rc) mxb_seterr(err, errlen, "%s: cannot append to the run journal: %s", j->path, strerror(errno));
    else test_kill_after_records(++j->records);
    return rc;
}

int mxb_journal_sync(mxb_journal *j) { return fsync(j->fd); }

void mxb_journal_close(mxb_journal *j, int remove_file) {
    if (!j) return;
    if (remove_file) unlink(j->path); /* while still holding the lock */
    close(j->fd);
    free(j);
}

int mxb_journal_peek(const char *path, long *records, int *in_use, char *err, size_t errlen) {
    *records = 0;
    *in_use = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        mxb_seterr(err, errlen, "%s: cannot open the run journal: %s", path, strerror(errno));
        return -1;
    }
    /* the writer holds an exclusive lock for its whole life: a shared one fails then */
    if (flock(fd, LOCK_SH | LOCK_NB)) *in_use = errno == EWOULDBLOCK;
    char header[HEADER_SIZE];
    if (read_all(fd, header, HEADER_SIZE) || memcmp(header, JOURNAL_MAGIC, 8)) {
        /* a run creating it writes the header first: empty means just started */
        struct stat st;
        int empty = fstat(fd, &st) == 0 && st.st_size == 0;
        close(fd);
        if (empty) return 0;
        mxb_seterr(err, errlen, "%s: not an mxb run journal", path);
        return -1;
    }
    /* whole records only, as a resume would count them: lengths and checksums */
    records_walk(fd, NULL, NULL, records);
    close(fd);
    return 0;
}
