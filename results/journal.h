/*
 * results/journal.h — the run journal (results/journal.c): records appended with a
 * CRC, replayed on resume, a torn tail dropped. What a record holds is the caller's
 * (mxb_results_record_put/get in results/store.h for a run's units).
 */
#ifndef MXB_RESULTS_JOURNAL_H
#define MXB_RESULTS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

/* ---- the run journal (SIGKILL-safe progress of a run) ---- */

typedef struct mxb_journal mxb_journal;
/* Called for each whole record on resume; non-zero stops the replay there. */
typedef int (*mxb_journal_replay_fn)(void *user, const void *payload, uint32_t n);
/* Opens (creating) the journal at path for the run identified by run_key (e.g. the
 * SHA-256 of its configuration). An existing journal of another run is refused;
 * one of this run is replayed through fn and truncated after its last whole record. */
mxb_journal *mxb_journal_open(const char *path, const char *run_key, mxb_journal_replay_fn fn,
                              void *user, int *replayed, char *err, size_t errlen);
/* Tests only: MXB_TEST_KILL_AFTER_RECORDS=N SIGKILLs the process when the journal comes
 * to hold N records, replayed ones included (N:INT sends SIGINT, N:TERM SIGTERM). */
int mxb_journal_append(mxb_journal *j, const void *payload, uint32_t n, char *err, size_t errlen);
int mxb_journal_sync(mxb_journal *j);
void mxb_journal_close(mxb_journal *j, int remove_file);
/* For a reader (mxb merge, mxb slurm --status): the whole records in the journal at
 * path, and whether a run holds it now (*in_use); changes nothing. -1 with err set
 * when it cannot be opened or is not a journal. */
int mxb_journal_peek(const char *path, long *records, int *in_use, char *err, size_t errlen);
uint32_t mxb_crc32(const void *data, size_t n);

#endif
