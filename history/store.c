/* The history database (history/history.h; the schema is docs/HISTORY.md): open and
 * check, add one run in one transaction, load a filtered series. SQLite does the
 * durability: an add is BEGIN IMMEDIATE ... COMMIT with a rollback journal and
 * synchronous=FULL, so two adds at once serialise on the lock (each waits up to the
 * busy timeout) and a killed add is rolled back by the next opener. The database is
 * therefore written in place by SQLite, not through io/outfile.c's rename: a rename
 * would lose a concurrent writer's run. */
#include "history/history.h"

#include "io/io.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct mxb_history {
    sqlite3 *db;
    char path[4096];
    double busy; /* seconds */
};

/* The provenance columns of the runs table, in order: the results file's root
 * attribute each is read from (NULL: made here). One table drives the schema, the
 * insert, the load and every output. */
enum { P_CONFIG_SHA = 8, P_SOURCE = 16, P_ADDED = 17, P_LABEL = MXB_HISTORY_P_LABEL };
const char *const mxb_history_prov_names[MXB_HISTORY_NPROV] = {
    "finished", "started", "revision", "version", "host", "blas", "run_key", "code_key", "config_sha256",
    "models_sha256", "data_perturbation", "data_segmentation", "images_perturbation", "images_segmentation",
    "shard", "label", "source", "added"};
static const char *const prov_attr[MXB_HISTORY_NPROV] = {
    "finished", "started", "git_revision", "mxb_version", "host", "blas", "run_key", "code_key", NULL,
    "models_sha256", "data_sha256_perturbation", "data_sha256_segmentation", "selected_perturbation",
    "selected_segmentation", "shard", NULL, NULL, NULL};

/* ---- errors ---------------------------------------------------------------------------- */

static int fail(mxb_history *h, int rc, char *err, size_t errlen) {
    const int base = rc & 0xff;
    if (base == SQLITE_BUSY || base == SQLITE_LOCKED)
        mxb_seterr(err, errlen,
                   "%s: locked by another writer for over %gs (another mxb history add?); nothing changed, try "
                   "again (MXB_HISTORY_BUSY_SECONDS waits longer)",
                   h->path, h->busy);
    else if (base == SQLITE_NOTADB)
        mxb_seterr(err, errlen, "%s: not an mxb history database (not an SQLite file)", h->path);
    else if (base == SQLITE_CORRUPT)
        mxb_seterr(err, errlen, "%s: a damaged SQLite database (%s)", h->path, sqlite3_errmsg(h->db));
    else if (base == SQLITE_FULL || base == SQLITE_IOERR)
        mxb_seterr(err, errlen, "%s: cannot write (%s); nothing changed", h->path, sqlite3_errmsg(h->db));
    else
        mxb_seterr(err, errlen, "%s: SQLite: %s", h->path, h->db ? sqlite3_errmsg(h->db) : sqlite3_errstr(rc));
    return -1;
}

static int exec(mxb_history *h, const char *sql, char *err, size_t errlen) {
    int rc = sqlite3_exec(h->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : fail(h, rc, err, errlen);
}

static void rollback(mxb_history *h) { sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL); }

/* One integer from a query of no parameters (0 when it gives no row). */
static int query_int(mxb_history *h, const char *sql, long long *out, char *err, size_t errlen) {
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) return fail(h, rc, err, errlen);
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(h, rc, err, errlen);
}

/* ---- open ------------------------------------------------------------------------------ */

static int create_schema(mxb_history *h, char *err, size_t errlen) {
    char sql[2048];
    size_t off = (size_t)snprintf(sql, sizeof sql,
                                  "CREATE TABLE mxb_schema(version INTEGER NOT NULL);"
                                  "INSERT INTO mxb_schema VALUES(%d);"
                                  "CREATE TABLE runs(id INTEGER PRIMARY KEY",
                                  MXB_HISTORY_SCHEMA_VERSION);
    for (int p = 0; p < MXB_HISTORY_NPROV; p++)
        off += (size_t)snprintf(sql + off, sizeof sql - off, ", %s TEXT NOT NULL", mxb_history_prov_names[p]);
    snprintf(sql + off, sizeof sql - off,
             ", UNIQUE(run_key, started, finished, shard));"
             "CREATE TABLE metrics(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, better INTEGER NOT NULL,"
             " tolerance REAL NOT NULL, first_run INTEGER NOT NULL);"
             "CREATE TABLE points(run INTEGER NOT NULL REFERENCES runs(id), metric INTEGER NOT NULL REFERENCES "
             "metrics(id), value REAL, PRIMARY KEY(run, metric)) WITHOUT ROWID;"
             "PRAGMA application_id = %d;",
             MXB_HISTORY_APP_ID);
    return exec(h, sql, err, errlen);
}

/* The file is a history of a schema this build reads (inside a transaction). */
static int check_identity(mxb_history *h, int create, char *err, size_t errlen) {
    long long app = 0, tables = 0, version = 0;
    if (query_int(h, "PRAGMA application_id", &app, err, errlen) ||
        query_int(h, "SELECT count(*) FROM sqlite_master", &tables, err, errlen))
        return -1;
    if (app == 0 && tables == 0) {
        if (!create) {
            mxb_seterr(err, errlen, "%s: an empty history (mxb history add fills it)", h->path);
            return -1;
        }
        return create_schema(h, err, errlen);
    }
    if (app != MXB_HISTORY_APP_ID) {
        mxb_seterr(err, errlen, "%s: an SQLite database, but not an mxb history (application_id %lld)", h->path, app);
        return -1;
    }
    if (query_int(h, "SELECT max(version) FROM mxb_schema", &version, err, errlen)) return -1;
    if (version > MXB_HISTORY_SCHEMA_VERSION) {
        mxb_seterr(err, errlen, "%s: history schema version %lld is newer than this mxb's (%d); use a newer mxb",
                   h->path, version, MXB_HISTORY_SCHEMA_VERSION);
        return -1;
    }
    if (version < 1) {
        mxb_seterr(err, errlen, "%s: an mxb history without a schema version; not reading it", h->path);
        return -1;
    }
    return 0;
}

int mxb_history_open(const char *path, int create, mxb_history **out, char *err, size_t errlen) {
    *out = NULL;
    if (mxb_input_check(path, "a history database", 1, err, errlen)) return -1;
    struct stat st;
    if (stat(path, &st)) {
        if (!create || errno != ENOENT) {
            mxb_seterr(err, errlen, "%s: no such history database (mxb history add creates it)", path);
            return -1;
        }
    }
    double busy = MXB_HISTORY_BUSY_DEFAULT;
    if (mxb_env_number("MXB_HISTORY_BUSY_SECONDS", &busy, err, errlen) < 0) return -1;
    mxb_history *h = mxb_try_alloc0(1, sizeof *h);
    if (!h) {
        mxb_seterr(err, errlen, "%s: out of memory", path);
        return -1;
    }
    snprintf(h->path, sizeof h->path, "%s", path);
    h->busy = busy;
    int rc = sqlite3_open_v2(path, &h->db, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0), NULL);
    if (rc != SQLITE_OK) {
        fail(h, rc, err, errlen);
        mxb_history_close(h);
        return -1;
    }
    sqlite3_extended_result_codes(h->db, 1);
    sqlite3_busy_timeout(h->db, (int)(busy * 1000));
    /* a rollback journal (not WAL): the database stays one file between nights (a CI
     * cache or artifact), and FULL sync makes a commit durable */
    if (exec(h, "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", err, errlen) ||
        exec(h, "BEGIN IMMEDIATE", err, errlen)) {
        mxb_history_close(h);
        return -1;
    }
    if (check_identity(h, create, err, errlen) || exec(h, "COMMIT", err, errlen)) {
        rollback(h);
        mxb_history_close(h);
        return -1;
    }
    *out = h;
    return 0;
}

void mxb_history_close(mxb_history *h) {
    if (!h) return;
    sqlite3_close(h->db);
    free(h);
}

/* ---- add ------------------------------------------------------------------------------- */

static int bind_text(sqlite3_stmt *st, int i, const char *s) {
    return sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_TRANSIENT);
}

/* The test hook MXB_TEST_HISTORY_KILL_AFTER=N: SIGKILL after N values are written in
 * the open transaction (tests/cli_history.sh: the database stays as it was). */
static long kill_after(void) {
    double d = 0;
    char e[256];
    return mxb_env_number("MXB_TEST_HISTORY_KILL_AFTER", &d, e, sizeof e) > 0 ? (long)d : 0;
}

static int add_body(mxb_history *h, const mxb_results *r, const char *const prov[], const mxb_metric *mv, int n,
                    mxb_history_added *o, char *err, size_t errlen) {
    sqlite3_stmt *st = NULL, *up = NULL, *pt = NULL;
    int rc;
    long long prev = 0;
    (void)r;
    /* the same run already there: a no-op */
    rc = sqlite3_prepare_v2(h->db, "SELECT id FROM runs WHERE run_key=?1 AND started=?2 AND finished=?3 AND shard=?4",
                            -1, &st, NULL);
    if (rc != SQLITE_OK) return fail(h, rc, err, errlen);
    bind_text(st, 1, prov[6]);
    bind_text(st, 2, prov[1]);
    bind_text(st, 3, prov[0]);
    bind_text(st, 4, prov[14]);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        o->run = (long)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return 0;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return fail(h, rc, err, errlen);
    if (query_int(h, "SELECT max(id) FROM runs", &prev, err, errlen)) return -1;

    char sql[1024];
    size_t off = (size_t)snprintf(sql, sizeof sql, "INSERT INTO runs(");
    for (int p = 0; p < MXB_HISTORY_NPROV; p++)
        off += (size_t)snprintf(sql + off, sizeof sql - off, "%s%s", p ? "," : "", mxb_history_prov_names[p]);
    off += (size_t)snprintf(sql + off, sizeof sql - off, ") VALUES(");
    for (int p = 0; p < MXB_HISTORY_NPROV; p++) off += (size_t)snprintf(sql + off, sizeof sql - off, "%s?", p ? "," : "");
    snprintf(sql + off, sizeof sql - off, ")");
    rc = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) return fail(h, rc, err, errlen);
    for (int p = 0; p < MXB_HISTORY_NPROV; p++) bind_text(st, p + 1, prov[p]);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return fail(h, rc, err, errlen);
    const long long run = sqlite3_last_insert_rowid(h->db);

    /* the metric's better direction and tolerance follow the summary table of the
     * latest run added */
    rc = sqlite3_prepare_v2(h->db,
                            "INSERT INTO metrics(name, better, tolerance, first_run) VALUES(?1, ?2, ?3, ?4) "
                            "ON CONFLICT(name) DO UPDATE SET better=excluded.better, tolerance=excluded.tolerance "
                            "RETURNING id, first_run",
                            -1, &up, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(h->db, "INSERT INTO points(run, metric, value) VALUES(?1, ?2, ?3)", -1, &pt, NULL);
    const long kill_n = kill_after();
    for (int i = 0; rc == SQLITE_OK && i < n; i++) {
        bind_text(up, 1, mv[i].name);
        sqlite3_bind_int(up, 2, mv[i].better);
        sqlite3_bind_double(up, 3, mv[i].tolerance);
        sqlite3_bind_int64(up, 4, run);
        rc = sqlite3_step(up);
        if (rc != SQLITE_ROW) break;
        const long long id = sqlite3_column_int64(up, 0), first = sqlite3_column_int64(up, 1);
        rc = sqlite3_step(up); /* SQLITE_DONE: the statement ends */
        sqlite3_reset(up);
        if (rc != SQLITE_DONE) break;
        if (first == run && prev > 0 && o->new_metrics++ == 0) snprintf(o->first_new, sizeof o->first_new, "%s", mv[i].name);
        sqlite3_bind_int64(pt, 1, run);
        sqlite3_bind_int64(pt, 2, id);
        if (isnan(mv[i].value)) sqlite3_bind_null(pt, 3);
        else sqlite3_bind_double(pt, 3, mv[i].value);
        rc = sqlite3_step(pt);
        sqlite3_reset(pt);
        if (rc != SQLITE_DONE) break;
        rc = SQLITE_OK;
        o->values++;
        if (kill_n && o->values == kill_n) raise(SIGKILL);
    }
    sqlite3_finalize(up);
    sqlite3_finalize(pt);
    if (rc != SQLITE_OK) return fail(h, rc, err, errlen);

    /* metrics of the previous run this one lacks: ended (said, never stored as zero) */
    if (prev > 0) {
        rc = sqlite3_prepare_v2(h->db,
                                "SELECT m.name FROM points p JOIN metrics m ON m.id = p.metric WHERE p.run = ?1 AND "
                                "p.metric NOT IN (SELECT metric FROM points WHERE run = ?2) ORDER BY m.id",
                                -1, &st, NULL);
        if (rc != SQLITE_OK) return fail(h, rc, err, errlen);
        sqlite3_bind_int64(st, 1, prev);
        sqlite3_bind_int64(st, 2, run);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            if (o->ended_metrics++ == 0)
                snprintf(o->first_ended, sizeof o->first_ended, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return fail(h, rc, err, errlen);
    }
    o->run = (long)run;
    o->added = 1;
    return 0;
}

int mxb_history_add(mxb_history *h, const mxb_results *r, const char *source, const char *label,
                    mxb_history_added *o, char *err, size_t errlen) {
    memset(o, 0, sizeof *o);
    const char *prov[MXB_HISTORY_NPROV];
    char cfg_sha[65] = "", added[32] = "";
    for (int p = 0; p < MXB_HISTORY_NPROV; p++) prov[p] = prov_attr[p] ? mxb_results_attr(r, prov_attr[p]) : NULL;
    const char *cfg = mxb_results_attr(r, "config");
    if (cfg) {
        mxb_sha256 s;
        mxb_sha256_init(&s);
        mxb_sha256_update(&s, cfg, strlen(cfg));
        mxb_sha256_hex(&s, cfg_sha);
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(added, sizeof added, "%Y-%m-%dT%H:%M:%SZ", &tm);
    prov[P_CONFIG_SHA] = cfg_sha;
    prov[P_LABEL] = label;
    prov[P_SOURCE] = source;
    prov[P_ADDED] = added;

    mxb_metric *mv = NULL;
    const int n = mxb_results_metrics(r, &mv);
    if (n < 0) {
        mxb_seterr(err, errlen, "%s: out of memory listing the metrics of %s", h->path, source);
        return -1;
    }
    int code = exec(h, "BEGIN IMMEDIATE", err, errlen);
    if (!code) {
        code = add_body(h, r, prov, mv, n, o, err, errlen);
        if (code || !o->added) rollback(h);
        else if (exec(h, "COMMIT", err, errlen)) {
            rollback(h);
            memset(o, 0, sizeof *o);
            code = -1;
        }
    }
    free(mv);
    return code;
}

/* ---- load ------------------------------------------------------------------------------ */

void mxb_history_series_free(mxb_history_series *s) {
    for (int i = 0; s->runs && i < s->nruns; i++)
        for (int p = 0; p < MXB_HISTORY_NPROV; p++) free(s->runs[i].prov[p]);
    free(s->runs);
    free(s->metrics);
    free(s->value);
    free(s->has);
    memset(s, 0, sizeof *s);
}

/* name is TEST/MODEL/METHOD/METRIC: component i (0-based) equals want */
static int component_is(const char *name, int i, const char *want) {
    const char *p = name;
    for (int k = 0; k < i && p; k++) {
        p = strchr(p, '/');
        if (p) p++;
    }
    if (!p) return 0;
    const char *e = strchr(p, '/');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    return strlen(want) == len && !strncmp(p, want, len);
}

static int selected(const mxb_history_filter *f, const char *name) {
    if (!mxb_globs_match(f->metric, name)) return 0;
    if (f->model && !component_is(name, 1, f->model)) return 0;
    if (f->method && !component_is(name, 2, f->method)) return 0;
    return 1;
}

static int load_body(mxb_history *h, const mxb_history_filter *f, mxb_history_series *s, char *err, size_t errlen) {
    sqlite3_stmt *st = NULL;
    char sql[1024];
    int rc;
    long long nruns_all = 0, maxmetric = 0;
    /* the runs (of the label), oldest first, the last N kept */
    size_t off = (size_t)snprintf(sql, sizeof sql, "SELECT id");
    for (int p = 0; p < MXB_HISTORY_NPROV; p++)
        off += (size_t)snprintf(sql + off, sizeof sql - off, ", %s", mxb_history_prov_names[p]);
    snprintf(sql + off, sizeof sql - off, " FROM runs WHERE ?1 IS NULL OR label = ?1 ORDER BY id");
    if (query_int(h, "SELECT count(*) FROM runs", &nruns_all, err, errlen) ||
        query_int(h, "SELECT max(id) FROM metrics", &maxmetric, err, errlen))
        return -1;
    s->runs = mxb_try_alloc0((size_t)nruns_all + 1, sizeof *s->runs);
    int *mindex = mxb_try_alloc0((size_t)maxmetric + 1, sizeof *mindex);
    s->metrics = mxb_try_alloc0((size_t)maxmetric + 1, sizeof *s->metrics);
    if (!s->runs || !mindex || !s->metrics) goto oom;
    rc = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) goto sqlfail;
    if (f->label) bind_text(st, 1, f->label);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && s->nruns < nruns_all) {
        mxb_history_run *u = &s->runs[s->nruns++];
        u->id = (long)sqlite3_column_int64(st, 0);
        for (int p = 0; p < MXB_HISTORY_NPROV; p++) {
            const unsigned char *t = sqlite3_column_text(st, p + 1);
            if (!(u->prov[p] = mxb_try_strdup(t ? (const char *)t : ""))) goto oom;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) goto sqlfail;
    if (f->last > 0 && s->nruns > f->last) {
        const int drop = s->nruns - f->last;
        for (int i = 0; i < drop; i++)
            for (int p = 0; p < MXB_HISTORY_NPROV; p++) free(s->runs[i].prov[p]);
        memmove(s->runs, s->runs + drop, (size_t)f->last * sizeof *s->runs);
        s->nruns = f->last;
    }
    /* the metrics selected, first seen first */
    rc = sqlite3_prepare_v2(h->db, "SELECT id, name, better, tolerance FROM metrics ORDER BY id", -1, &st, NULL);
    if (rc != SQLITE_OK) goto sqlfail;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const long long id = sqlite3_column_int64(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        if (id < 1 || id > maxmetric || !name || !selected(f, name)) continue;
        mxb_metric *m = &s->metrics[s->nmetrics];
        snprintf(m->name, sizeof m->name, "%s", name);
        m->better = sqlite3_column_int(st, 2);
        m->tolerance = sqlite3_column_double(st, 3);
        mindex[id] = ++s->nmetrics; /* 0: not selected */
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_DONE) goto sqlfail;
    const size_t cells = (size_t)s->nruns * (size_t)s->nmetrics;
    s->value = mxb_try_alloc(cells ? cells * sizeof *s->value : 1);
    s->has = mxb_try_alloc0(cells ? cells : 1, 1);
    if (!s->value || !s->has) goto oom;
    for (size_t i = 0; i < cells; i++) s->value[i] = NAN;
    if (s->nruns) {
        rc = sqlite3_prepare_v2(h->db, "SELECT run, metric, value FROM points WHERE run >= ?1 ORDER BY run", -1, &st,
                                NULL);
        if (rc != SQLITE_OK) goto sqlfail;
        sqlite3_bind_int64(st, 1, s->runs[0].id);
        int ri = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const long long run = sqlite3_column_int64(st, 0), mid = sqlite3_column_int64(st, 1);
            while (ri < s->nruns && s->runs[ri].id < run) ri++;
            if (ri == s->nruns) break;
            if (s->runs[ri].id != run || mid < 1 || mid > maxmetric || !mindex[mid]) continue;
            const size_t c = (size_t)ri * (size_t)s->nmetrics + (size_t)(mindex[mid] - 1);
            s->has[c] = 1;
            if (sqlite3_column_type(st, 2) != SQLITE_NULL) s->value[c] = sqlite3_column_double(st, 2);
        }
        sqlite3_finalize(st);
        st = NULL;
        if (rc != SQLITE_DONE && rc != SQLITE_ROW) goto sqlfail;
    }
    /* a metric none of the selected runs has (it ended before them) has nothing to show */
    int k = 0;
    for (int m = 0; m < s->nmetrics; m++) {
        int any = 0;
        for (int i = 0; i < s->nruns && !any; i++) any = s->has[(size_t)i * (size_t)s->nmetrics + (size_t)m];
        if (!any) continue;
        for (int i = 0; i < s->nruns; i++) {
            s->value[(size_t)i * (size_t)s->nmetrics + (size_t)k] = s->value[(size_t)i * (size_t)s->nmetrics + (size_t)m];
            s->has[(size_t)i * (size_t)s->nmetrics + (size_t)k] = s->has[(size_t)i * (size_t)s->nmetrics + (size_t)m];
        }
        s->metrics[k++] = s->metrics[m];
    }
    /* compact the rows to the new width */
    for (int i = 0; i < s->nruns && k != s->nmetrics; i++) {
        memmove(s->value + (size_t)i * (size_t)k, s->value + (size_t)i * (size_t)s->nmetrics, (size_t)k * sizeof *s->value);
        memmove(s->has + (size_t)i * (size_t)k, s->has + (size_t)i * (size_t)s->nmetrics, (size_t)k);
    }
    s->nmetrics = k;
    free(mindex);
    return 0;
oom:
    sqlite3_finalize(st);
    free(mindex);
    mxb_seterr(err, errlen, "%s: out of memory loading the history", h->path);
    return -1;
sqlfail:
    sqlite3_finalize(st);
    free(mindex);
    return fail(h, rc, err, errlen);
}

int mxb_history_load(mxb_history *h, const mxb_history_filter *f, mxb_history_series *s, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    /* one read transaction: a consistent snapshot while another add commits */
    if (exec(h, "BEGIN", err, errlen)) return -1;
    int code = load_body(h, f, s, err, errlen);
    rollback(h);
    if (code) mxb_history_series_free(s);
    return code;
}

int mxb_history_last_with(const mxb_history_series *s, int m) {
    for (int i = s->nruns - 1; i >= 0; i--)
        if (s->has[(size_t)i * (size_t)s->nmetrics + (size_t)m]) return i;
    return -1;
}
_Static_assert(sizeof mxb_history_prov_names / sizeof *mxb_history_prov_names == MXB_HISTORY_NPROV, "prov table");
