/* mxb history: the metric history of many runs in one SQLite database (history/):
 * add a results file, show or export the series, check the last run for a step. */
#include "harness/harness.h"
#include "harness/internal.h"

#include "history/history.h"
#include "io/io.h"
#include "results/results.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRLEN 1024
#define DEFAULT_DB "history.db"

static void history_usage(FILE *f) {
    fprintf(f,
            "usage: mxb history add RESULTS.h5 [--db FILE] [--label L]\n"
            "       mxb history show [--db FILE] [--metric GLOBS] [--model M] [--method M] [--label L]\n"
            "                        [--last N] [--format table|json|csv]\n"
            "       mxb history export [--db FILE] [--format csv|jsonl] (the same filters)\n"
            "       mxb history check [--db FILE] [--window K] [--tolerance T] (the same filters)\n"
            "       mxb history html OUT.html [--db FILE] [--window K] [--tolerance T] (the same filters)\n"
            "  The history of every summary metric (mxb report --format csv lists them) of every\n"
            "  run added, with its provenance, in one SQLite database (default " DEFAULT_DB
            "; docs/HISTORY.md).\n"
            "  add      appends one results file in one transaction (two adds at once both land; a\n"
            "           killed add changes nothing); the same run (run key, start, finish, shard)\n"
            "           added again is a no-op, said on stderr, exit 0\n"
            "  show     the series, one line per run x metric; metrics that ended are said\n"
            "  export   every value, for people who keep the series in git (csv: one row per run x\n"
            "           metric; jsonl: one line per run)\n"
            "  check    the last run against the median of the K runs before it (default 5): each\n"
            "           metric past tolerance (default its own, results/summary.c's) is one line\n"
            "           with the old and new values, better/worse, and the first run at the new level\n"
            "  html     one self-contained page: what moved in the last run (against the run before\n"
            "           and the median of the K before), then per metric a trend figure (value,\n"
            "           the check's band, the runs outside it) and its values\n"
            "  --metric GLOBS  comma-separated globs on the whole name ('*auc,*/vim/*')\n"
            "  Exit status: 0 done (check: nothing moved), 1 check: a metric moved, 2 bad input.\n");
}

static int open_db(const char *cmd, const char *db, int create, mxb_history **h) {
    char err[ERRLEN];
    if (mxb_history_open(db, create, h, err, sizeof err)) {
        fprintf(stderr, "mxb %s: %s\n", cmd, err);
        return 2;
    }
    return 0;
}

static int history_add(int argc, char **argv) {
    const char *db = DEFAULT_DB, *label = NULL, *pos[1];
    int npos = 0;
    mxb_opt opts[] = {MXB_OPT_S("db", &db), MXB_OPT_S("label", &label), MXB_OPT_END};
    int prc = mxb_opts_parse("history add", argc, argv, opts, pos, 1, &npos, history_usage);
    if (prc) return prc == 1 ? 0 : 2;
    if (npos != 1) return mxb_usage_error("history add", "no results file");
    /* the database is written in place (SQLite's transactions), never over the input */
    const char *outs[] = {db};
    if (mxb_outputs_check("history add", pos, 1, outs, 1)) return 2;
    mxb_results r;
    char err[ERRLEN];
    if (mxb_results_read(pos[0], &r, err, sizeof err)) {
        fprintf(stderr, "mxb history add: %s\n", err);
        return 2;
    }
    mxb_history *h = NULL;
    int code = open_db("history add", db, 1, &h);
    mxb_history_added a;
    if (!code && mxb_history_add(h, &r, pos[0], label, &a, err, sizeof err)) {
        fprintf(stderr, "mxb history add: %s\n", err);
        code = 2;
    } else if (!code && !a.added) {
        fprintf(stderr, "mxb history add: %s is already in %s as run %ld (same run key, start, finish and shard); "
                        "nothing added\n", pos[0], db, a.run);
    } else if (!code) {
        if (a.new_metrics)
            fprintf(stderr, "mxb history add: %d metric%s the history had never seen (added), e.g. %s\n", a.new_metrics,
                    a.new_metrics == 1 ? "" : "s", a.first_new);
        if (a.ended_metrics)
            fprintf(stderr, "mxb history add: %d metric%s of the previous run not in this one (ended, not zero), e.g. %s\n",
                    a.ended_metrics, a.ended_metrics == 1 ? "" : "s", a.first_ended);
        fprintf(stderr, "mxb history add: run %ld: %d values from %s into %s\n", a.run, a.values, pos[0], db);
    }
    mxb_history_close(h);
    mxb_results_free(&r);
    return code;
}

/* show, export and check: the filters, the series, then what each does with it */
enum { SHOW, EXPORT, CHECK, HTML };

static int history_read(int what, const char *cmd, int argc, char **argv) {
    const char *db = DEFAULT_DB, *pos[1] = {NULL};
    mxb_history_filter f = {0};
    int fmt = 0, npos = 0, window = 5;
    double tol = -1;
    mxb_opt opts[] = {MXB_OPT_S("db", &db),
                      MXB_OPT_S("metric", &f.metric),
                      MXB_OPT_S("model", &f.model),
                      MXB_OPT_S("method", &f.method),
                      MXB_OPT_S("label", &f.label),
                      MXB_OPT_I("last", &f.last, 1, 100000000),
                      what == SHOW     ? (mxb_opt)MXB_OPT_C("format", &fmt, "table|json|csv")
                      : what == EXPORT ? (mxb_opt)MXB_OPT_C("format", &fmt, "csv|jsonl")
                                       : (mxb_opt)MXB_OPT_I("window", &window, 1, 100000),
                      what >= CHECK ? (mxb_opt)MXB_OPT_D("tolerance", &tol, 0, 1e300) : (mxb_opt)MXB_OPT_END,
                      MXB_OPT_END};
    int prc = mxb_opts_parse(cmd, argc, argv, opts, pos, what == HTML, &npos, history_usage);
    if (prc) return prc == 1 ? 0 : 2;
    if (what == HTML) {
        if (npos != 1) return mxb_usage_error(cmd, "want the page's path, OUT.html");
        const char *ins[] = {db}, *outs[] = {pos[0]};
        if (mxb_outputs_check(cmd, ins, 1, outs, 1)) return 2;
    }
    mxb_history *h = NULL;
    int code = open_db(cmd, db, 0, &h);
    if (code) return code;
    /* check needs the window before the last run, and no more */
    if (what == CHECK && f.last && f.last < window + 1) f.last = window + 1;
    mxb_history_series s;
    char err[ERRLEN];
    if (mxb_history_load(h, &f, &s, err, sizeof err)) {
        fprintf(stderr, "mxb %s: %s\n", cmd, err);
        mxb_history_close(h);
        return 2;
    }
    if (what == HTML) {
        char title[4200];
        snprintf(title, sizeof title, "mxb history: %s", db);
        if (!mxb_figures_system_font())
            fprintf(stderr, "mxb %s: warning: no system font found; figure text falls back to cairo's built-in font "
                            "(apt-get install fonts-dejavu-core)\n", cmd);
        if (mxb_history_html(&s, window, tol, title, pos[0], err, sizeof err)) {
            fprintf(stderr, "mxb %s: %s\n", cmd, err);
            code = 2;
        } else {
            fprintf(stderr, "mxb %s: wrote %s (%d runs, %d metrics)\n", cmd, pos[0], s.nruns, s.nmetrics);
        }
        mxb_figures_release();
    } else if (what == CHECK) {
        if (s.nruns < 2) {
            fprintf(stderr, "mxb %s: %d run%s in %s%s: nothing to check against yet\n", cmd, s.nruns,
                    s.nruns == 1 ? "" : "s", db, f.label ? " with that label" : "");
        } else {
            const int moved = mxb_history_check(&s, window, tol, stdout);
            if (moved) {
                fprintf(stderr, "mxb %s: %d of %d metrics of run %ld moved from the median of up to %d runs before it\n",
                        cmd, moved, s.nmetrics, s.runs[s.nruns - 1].id, window);
                code = 1;
            } else {
                fprintf(stderr, "mxb %s: run %ld: all %d metrics within tolerance of the median of up to %d runs before it\n",
                        cmd, s.runs[s.nruns - 1].id, s.nmetrics, window);
            }
        }
    } else {
        static const char *const show_f[] = {"table", "json", "csv"}, *const export_f[] = {"csv", "jsonl"};
        mxb_history_print(&s, stdout, what == SHOW ? show_f[fmt] : export_f[fmt]);
        if (fflush(stdout)) {
            fprintf(stderr, "mxb %s: cannot write the output\n", cmd);
            code = 2;
        }
    }
    mxb_history_series_free(&s);
    mxb_history_close(h);
    return code;
}

int mxb_cmd_history(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "add")) return history_add(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "show")) return history_read(SHOW, "history show", argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "export")) return history_read(EXPORT, "history export", argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "check")) return history_read(CHECK, "history check", argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "html")) return history_read(HTML, "history html", argc - 1, argv + 1);
    mxb_opt opts[] = {MXB_OPT_END};
    const char *pos[1];
    int npos = 0;
    int prc = mxb_opts_parse("history", argc, argv, opts, pos, 1, &npos, history_usage);
    if (prc) return prc == 1 ? 0 : 2;
    if (npos) return mxb_usage_error("history", "unknown subcommand '%s': add, show, export, check or html", pos[0]);
    return mxb_usage_error("history", "want a subcommand: add, show, export, check or html");
}
