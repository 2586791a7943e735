/*
 * history/history.h — the metric history of many runs (issue 24): every summary metric
 * of every results file added, with its provenance, in one SQLite database
 * (history/store.c, schema in docs/HISTORY.md), and what is read back from it:
 * the series (show, export), the step check (check).
 *
 * The metric names, the better direction and the tolerance are the summary-metric
 * table's (results/summary.c, through mxb_results_metrics): nothing here spells a
 * metric. Errors: 0 on success, -1 with a one-line message in err[errlen] naming the
 * database.
 */
#ifndef MXB_HISTORY_H
#define MXB_HISTORY_H

#include "results/results.h"

#include <stddef.h>
#include <stdio.h>

#define MXB_HISTORY_SCHEMA_VERSION 1
/* PRAGMA application_id of a history database: "mxbh" */
#define MXB_HISTORY_APP_ID 0x6d786268
/* how long an add or a read waits for another writer's lock (seconds) before it gives
 * up with one line; MXB_HISTORY_BUSY_SECONDS sets it (io/env.c) */
#define MXB_HISTORY_BUSY_DEFAULT 30.0

typedef struct mxb_history mxb_history;

/* Opens the database at path. create: a missing file (or an empty one) becomes a new
 * history; otherwise a missing file is an error. Refused, one line each: a file that
 * is not SQLite, a SQLite file that is not an mxb history, a history of a newer
 * schema than this build's. */
int mxb_history_open(const char *path, int create, mxb_history **out, char *err, size_t errlen);
void mxb_history_close(mxb_history *h);

/* What an add did. The same run (run_key, started, finished and shard all equal) added
 * again is a no-op: added = 0 and run = the id it already has. */
typedef struct {
    long run;
    int added;                  /* 1: a new run; 0: already there, nothing written */
    int values;                 /* metric values written */
    int new_metrics;            /* metrics the history had never seen (first: one of them) */
    int ended_metrics;          /* metrics of the previous run missing from this one */
    char first_new[192], first_ended[192];
} mxb_history_added;
/* Adds every summary metric of r (NaN stored as NULL) and its provenance, in one
 * transaction: a killed add leaves the database as it was. source: the results file's
 * path (recorded); label: NULL or a tag ("nightly"). */
int mxb_history_add(mxb_history *h, const mxb_results *r, const char *source, const char *label,
                    mxb_history_added *out, char *err, size_t errlen);

/* ---- reading ---- */

/* The provenance of one run, as columns of the runs table (history/store.c's table) */
#define MXB_HISTORY_NPROV 18
extern const char *const mxb_history_prov_names[MXB_HISTORY_NPROV];
/* the columns the outputs name by position (the order of mxb_history_prov_names) */
enum { MXB_HISTORY_P_FINISHED = 0, MXB_HISTORY_P_REVISION = 2, MXB_HISTORY_P_LABEL = 15 };

typedef struct {
    long id;
    char *prov[MXB_HISTORY_NPROV]; /* malloc'd strings, "" when absent */
} mxb_history_run;

typedef struct {
    const char *metric; /* comma-separated fnmatch globs on the whole name; NULL: every metric */
    const char *model, *method, *label; /* exact; NULL: any */
    int last;           /* the last N runs (of the label); 0: all */
} mxb_history_filter;

/* The selected runs (oldest first) x metrics (first seen order), in memory. */
typedef struct {
    int nruns, nmetrics;
    mxb_history_run *runs;
    mxb_metric *metrics;   /* name, better, tolerance (value unused) */
    double *value;         /* [run * nmetrics + metric]; NaN: stored NaN or absent */
    unsigned char *has;    /* 1: the run has the metric */
} mxb_history_series;
int mxb_history_load(mxb_history *h, const mxb_history_filter *f, mxb_history_series *s, char *err, size_t errlen);
void mxb_history_series_free(mxb_history_series *s);
/* The last run that has metric m (-1: none); a metric whose last run is not the
 * series' last has ended. */
int mxb_history_last_with(const mxb_history_series *s, int m);

/* The series as "table" (one line per run x metric, then the ended metrics), "csv"
 * (the same, a header line first), "json" (one document) or "jsonl" (one line per run:
 * its provenance and its metrics). -1 for an unknown format. */
int mxb_history_print(const mxb_history_series *s, FILE *f, const char *format);

/* The step check of the series' last run: a metric moved when it is past tolerance
 * (tol; < 0: the metric's own, results/summary.c) from the median of the `window`
 * runs before it that have it (mxb_metric_moved: compare's rule). Each moved metric is
 * one line on f (name, median, new value, change, better/worse, the first run at the
 * new level); metrics new in the last run and metrics that ended are said too, neither
 * is a move. Returns the number of metrics that moved. */
int mxb_history_check(const mxb_history_series *s, int window, double tol, FILE *f);

/* The trend page (results/html.c's mxb_trend_html): per metric the value at each run,
 * the band of the check (the median of the `window` runs before each ± tolerance) and
 * the runs outside it; a summary of what moved in the last run at the top. */
int mxb_history_html(const mxb_history_series *s, int window, double tol, const char *title, const char *out_path,
                     char *err, size_t errlen);

#endif
