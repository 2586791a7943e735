/* mxb report, mxb compare, mxb merge: commands on finished results files. */
#include "harness/harness.h"
#include "harness/internal.h"

#include "results/results.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ERRLEN 1024

static void report_usage(FILE *f) {
    fprintf(f, "usage: mxb report RESULTS.h5 [--format md|json|csv|tex] [--curves] [--figures DIR] [--html OUT.html]\n"
               "  md (default): the paper's tables, rows methods, columns models (arrows: better)\n"
               "  tex:          the same as LaTeX booktabs tables (\\usepackage{booktabs}), a column\n"
               "                group per model, best value per column in bold; with --bootstrap\n"
               "                or --pm every cell is value $\\pm$ half-width\n"
               "  json / csv:   every summary metric under a stable name, with provenance (json)\n"
               "  --curves      per-step perturbation accuracies as a table (md)\n"
               "  --figures DIR the figures (perturbation curves, overlays, attention matrices) as\n"
               "                PNG and SVG, and figures.md saying what is where, into DIR (created)\n"
               "  --html OUT    one self-contained page: tables, figures, provenance; with --figures\n"
               "                each figure links to its full-size PNG in DIR (a relative link)\n"
               "  --bootstrap N confidence intervals of every AUC, pixel accuracy, mIoU, mAP (each\n"
               "                scalar metric): percentile bootstrap over the images, N replicates\n"
               "                (md: a table; json: \"intervals\"; csv: low, high; html: a table)\n"
               "  --seed S      the bootstrap's seed (default 0; splitmix64, results/store.h)\n"
               "  --level L     the intervals' level (default 0.95)\n"
               "  --pm          tables show value ± the half-width of its interval (--bootstrap\n"
               "                1000 unless given)\n"
               "  --pair A,B    paired bootstrap test of A - B, each MODEL/METHOD (vim/attribution,\n"
               "                vit/attribution), on the images both ran: the difference, its\n"
               "                interval, the two-sided p-value (repeatable; --bootstrap 1000\n"
               "                unless given)\n");
}

/* "MODEL/METHOD,MODEL/METHOD" against the file's names: the four indices, or -1 */
static int parse_pair(const mxb_results *r, const char *s, int *q) {
    const char *comma = strchr(s, ',');
    if (!comma || strchr(comma + 1, ',')) return -1;
    for (int side = 0; side < 2; side++) {
        const char *a = side ? comma + 1 : s, *end = side ? s + strlen(s) : comma, *slash = memchr(a, '/', (size_t)(end - a));
        if (!slash) return -1;
        q[2 * side] = q[2 * side + 1] = -1;
        for (int m = 0; m < r->nmodels; m++)
            if (strlen(r->models[m]) == (size_t)(slash - a) && !strncmp(r->models[m], a, (size_t)(slash - a))) q[2 * side] = m;
        for (int k = 0; k < r->nmethods; k++)
            if (strlen(r->methods[k]) == (size_t)(end - slash - 1) && !strncmp(r->methods[k], slash + 1, (size_t)(end - slash - 1)))
                q[2 * side + 1] = k;
        if (q[2 * side] < 0 || q[2 * side + 1] < 0) return -1;
    }
    return 0;
}

int mxb_cmd_report(int argc, char **argv) {
    const char *figdir = NULL, *html = NULL, *pos[1], *pairs[MXB_REPORT_MAX_PAIRS], *seed_s = NULL;
    int fmt = 0, show_curves = 0, npos = 0, replicates = 0, pm = 0, npairs = 0;
    double level = 0.95;
    static const char *const formats[] = {"md", "json", "csv", "tex"};
    mxb_opt opts[] = {MXB_OPT_C("format", &fmt, "md|json|csv|tex"), MXB_OPT_S("figures", &figdir),
                      MXB_OPT_F("curves", &show_curves), MXB_OPT_S("html", &html),
                      MXB_OPT_I("bootstrap", &replicates, 1, 1000000), MXB_OPT_S("seed", &seed_s),
                      MXB_OPT_D("level", &level, 1e-6, 0.999999), MXB_OPT_F("pm", &pm),
                      MXB_OPT_L("pair", pairs, &npairs, MXB_REPORT_MAX_PAIRS), MXB_OPT_END};
    int prc = mxb_opts_parse("report", argc, argv, opts, pos, 1, &npos, report_usage);
    if (prc) return prc == 1 ? 0 : 2;
    if (npos != 1) return mxb_usage_error("report", "no results file");
    const char *format = formats[fmt];
    unsigned long long seed = 0;
    if (seed_s && mxb_parse_u64(seed_s, &seed))
        return mxb_usage_error("report", "--seed: '%s' is not an unsigned 64-bit integer", seed_s);
    if ((seed_s || mxb_opt_seen(opts, "level")) && !replicates && !pm && !npairs)
        return mxb_usage_error("report", "--seed and --level go with --bootstrap N, --pm or --pair");
    if (npairs && !strcmp(format, "tex"))
        return mxb_usage_error("report", "--pair goes with --format md, json or csv, or --html (tex has no paired tests)");
    mxb_boot_opts boot = {replicates ? replicates : 1000, seed, level};
    mxb_report_opts ro = {(replicates || pm || npairs) ? &boot : NULL, pm, 0, {{0}}, NULL};
    mxb_results r;
    char err[ERRLEN];
    if (mxb_results_read(pos[0], &r, err, sizeof err)) {
        fprintf(stderr, "mxb report: %s\n", err);
        return 2;
    }
    for (int i = 0; i < npairs; i++)
        if (parse_pair(&r, pairs[i], ro.pair[ro.npairs++])) {
            fprintf(stderr, "mxb report: --pair '%s': want MODEL/METHOD,MODEL/METHOD of %s's models and methods\n",
                    pairs[i], pos[0]);
            mxb_results_free(&r);
            return 2;
        }
    /* --figures DIR's files are checked as each is written (mxb_outfile) */
    const char *outs[] = {html};
    if (mxb_outputs_check("report", pos, 1, outs, 1)) {
        mxb_results_free(&r);
        return 2;
    }
    int code = 0;
    if (mxb_report_print_with(&r, stdout, format, &ro)) {
        fprintf(stderr, "mxb report: out of memory\n");
        code = 1;
    }
    if (show_curves && !strcmp(format, "md")) mxb_report_curves(&r, stdout);
    if (!code && (figdir || html) && !mxb_figures_system_font())
        fprintf(stderr, "mxb report: warning: no system font found; figure text falls back to cairo's "
                        "built-in font (apt-get install fonts-dejavu-core)\n");
    if (!code && figdir) {
        mkdir(figdir, 0777);
        if (mxb_report_figures(&r, pos[0], figdir, err, sizeof err)) {
            fprintf(stderr, "mxb report: %s\n", err);
            code = 1;
        } else {
            fprintf(stderr, "mxb report: figures in %s (see %s/figures.md)\n", figdir, figdir);
        }
    }
    if (!code && html) {
        ro.figdir = figdir; /* each figure of the page links to the full-size one just written */
        if (mxb_report_html_with(&r, pos[0], html, &ro, err, sizeof err)) {
            fprintf(stderr, "mxb report: %s\n", err);
            code = 1;
        } else {
            fprintf(stderr, "mxb report: wrote %s\n", html);
        }
    }
    if (figdir || html) mxb_figures_release();
    mxb_results_free(&r);
    return code;
}

static void compare_usage(FILE *f) {
    fprintf(f, "usage: mxb compare BASELINE.h5 NEW.h5 [--tolerance X] [--relative R] [--metrics GLOBS]\n"
               "                   [--fail-on any|worse] [--fail-on-new] [--format text|json] [--quiet]\n"
               "                   [--html OUT.html]\n"
               "  Compares every summary metric (mxb report --format csv lists them). A metric\n"
               "  moves past tolerance when |new - baseline| > X + R * |baseline| (defaults:\n"
               "  X the metric's own, from the summary-metric table, 1e-6 for every metric today;\n"
               "  R = 0); each move is better or worse by the metric's direction. A metric\n"
               "  missing from NEW, or NaN in one file only, fails; one only in NEW is NEW.\n"
               "  --metrics GLOBS     only the metrics matching one of these comma-separated globs\n"
               "                      ('*auc,*miou')\n"
               "  --fail-on any|worse any (default): every move fails; worse: only moves to the\n"
               "                      worse side (and moves of metrics without a direction)\n"
               "  --fail-on-new       a metric only in NEW fails too (a method added to the config)\n"
               "  --format json       one JSON document on stdout: every metric with its status,\n"
               "                      the counts, the warnings and the configuration diff\n"
               "  --quiet             only the metrics that moved, are missing or are new\n"
               "  --html OUT   also a page marking what moved, by how much, against the tolerance\n"
               "  Warns when the two runs' data, image counts, models or methods differ, and lists\n"
               "  the configuration lines and method parameters that differ.\n"
               "  Exit status: 0 within tolerance, 1 a failing move (or missing, new with\n"
               "  --fail-on-new, a pair skipped in one file only), 2 bad input.\n");
}

static const mxb_metric *find_metric(const mxb_metric *v, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i].name, name)) return &v[i];
    return NULL;
}

/* keeps the metrics of v that globs selects; returns the new count */
static int select_metrics(mxb_metric *v, int n, const char *globs) {
    int k = 0;
    for (int i = 0; i < n; i++)
        if (mxb_globs_match(globs, v[i].name)) v[k++] = v[i];
    return k;
}

/* The two runs measured different things: one line each on stderr (the metrics are
 * still compared; a warning, not a failure). Returns the count; the lines also go
 * into the JSON document when jf is given. */
static int compare_warnings(const mxb_results *a, const mxb_results *b, FILE *jf) {
    static const struct {
        const char *attr, *what;
    } same[] = {{"data_sha256_perturbation", "perturbation data"},
                {"data_sha256_segmentation", "segmentation data"},
                {"selected_perturbation", "number of perturbation images"},
                {"selected_segmentation", "number of segmentation images"},
                {"models_sha256", "model weights"}};
    int n = 0;
    char line[1024];
    for (int pass = 0; pass < 2; pass++) {
        int k = 0;
        for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
            const char *x = mxb_results_attr(a, same[i].attr), *y = mxb_results_attr(b, same[i].attr);
            if ((!x && !y) || (x && y && !strcmp(x, y))) continue;
            if (x && y && strlen(x) < 24 && strlen(y) < 24)
                snprintf(line, sizeof line, "the two runs differ in their %s (%s: %s, not %s)", same[i].what,
                         same[i].attr, y, x);
            else
                snprintf(line, sizeof line, "the two runs differ in their %s (%s%s)", same[i].what, same[i].attr,
                         !x ? ": not in the baseline" : !y ? ": not in the new file" : "");
            if (pass == 0) fprintf(stderr, "mxb compare: warning: %s\n", line);
            else fprintf(jf, "%s", k ? ", " : ""), mxb_json_string(jf, line);
            k++;
        }
        /* methods and models, by name */
        for (int what = 0; what < 2; what++) {
            const int na = what ? a->nmodels : a->nmethods, nb = what ? b->nmodels : b->nmethods;
            char only[2][512] = {"", ""};
            for (int side = 0; side < 2; side++) {
                const mxb_results *r = side ? b : a, *o = side ? a : b;
                const int nr = side ? nb : na, no = side ? na : nb;
                for (int i = 0; i < nr; i++) {
                    const char *name = what ? r->models[i] : r->methods[i];
                    int found = 0;
                    for (int j = 0; j < no && !found; j++) found = !strcmp(name, what ? o->models[j] : o->methods[j]);
                    if (!found && strlen(only[side]) < 400)
                        snprintf(only[side] + strlen(only[side]), sizeof only[side] - strlen(only[side]), "%s%s",
                                 *only[side] ? ", " : "", name);
                }
            }
            if (!*only[0] && !*only[1]) continue;
            snprintf(line, sizeof line, "the two runs have different %s (only in the baseline: %s; only in the new "
                                        "file: %s)", what ? "models" : "methods", *only[0] ? only[0] : "none",
                     *only[1] ? only[1] : "none");
            if (pass == 0) fprintf(stderr, "mxb compare: warning: %s\n", line);
            else fprintf(jf, "%s", k ? ", " : ""), mxb_json_string(jf, line);
            k++;
        }
        n = k;
        if (!jf) break;
    }
    return n;
}

typedef struct {
    FILE *f;
    int json, count;
} diff_out;

static void diff_print(void *user, char side, const char *what, const char *text) {
    diff_out *d = user;
    if (d->json) {
        fprintf(d->f, "%s\n    {\"side\": \"%s\", \"what\": ", d->count ? "," : "", side == '-' ? "baseline" : "new");
        mxb_json_string(d->f, what);
        fprintf(d->f, ", \"text\": ");
        mxb_json_string(d->f, text);
        fputc('}', d->f);
    } else {
        if (!d->count) fprintf(d->f, "configuration and method parameters that differ (- baseline, + new):\n");
        if (strcmp(what, "config")) fprintf(d->f, "%c %s: %s\n", side, what, text);
        else fprintf(d->f, "%c %s\n", side, text);
    }
    d->count++;
}

/* the status of one metric of the baseline x against y: its word and whether it fails */
typedef enum { ST_OK, ST_BETTER, ST_WORSE, ST_MOVED, ST_MISSING, ST_NEW } cmp_status;
static const char *const status_word[] = {"ok", "better", "worse", "moved", "missing", "new"};

static cmp_status metric_status(const mxb_metric *x, const mxb_metric *y, double tol, double rel, double *d) {
    if (!mxb_metric_moved(x, y, tol, rel, d)) return ST_OK;
    if (!y) return ST_MISSING;
    if (isnan(*d) || !x->better) return ST_MOVED;
    return *d * x->better > 0 ? ST_BETTER : ST_WORSE;
}

int mxb_cmd_compare(int argc, char **argv) {
    double tol = -1, rel = 0; /* tol < 0: each metric's default (results/summary.c) */
    int quiet = 0, npos = 0, fail_on = 0, fail_new = 0, fmt = 0;
    const char *pos[2], *html = NULL, *globs = NULL;
    mxb_opt opts[] = {MXB_OPT_D("tolerance", &tol, 0, 1e300), MXB_OPT_D("relative", &rel, 0, 1e300),
                      MXB_OPT_F("quiet", &quiet), MXB_OPT_S("html", &html), MXB_OPT_S("metrics", &globs),
                      MXB_OPT_C("fail-on", &fail_on, "any|worse"), MXB_OPT_F("fail-on-new", &fail_new),
                      MXB_OPT_C("format", &fmt, "text|json"), MXB_OPT_END};
    int prc = mxb_opts_parse("compare", argc, argv, opts, pos, 2, &npos, compare_usage);
    if (prc) return prc == 1 ? 0 : 2;
    if (npos != 2) return mxb_usage_error("compare", "want two results files, BASELINE.h5 NEW.h5");
    mxb_results a, b;
    char err[ERRLEN];
    if (mxb_results_read(pos[0], &a, err, sizeof err)) {
        fprintf(stderr, "mxb compare: %s\n", err);
        return 2;
    }
    if (mxb_results_read(pos[1], &b, err, sizeof err)) {
        fprintf(stderr, "mxb compare: %s\n", err);
        mxb_results_free(&a);
        return 2;
    }
    const char *outs[] = {html};
    if (mxb_outputs_check("compare", pos, 2, outs, 1)) {
        mxb_results_free(&a);
        mxb_results_free(&b);
        return 2;
    }
    const int json = fmt == 1;
    mxb_metric *va = NULL, *vb = NULL;
    int na = mxb_results_metrics(&a, &va), nb = mxb_results_metrics(&b, &vb), code = 0;
    int count[ST_NEW + 1] = {0}, failing = 0;
    if (na < 0 || nb < 0) {
        fprintf(stderr, "mxb compare: out of memory\n");
        code = 2;
        goto done;
    }
    na = select_metrics(va, na, globs);
    nb = select_metrics(vb, nb, globs);
    if (globs && !na && !nb) {
        fprintf(stderr, "mxb compare: --metrics '%s' matches no metric of either file (mxb report --format csv lists "
                        "them)\n", globs);
        code = 2;
        goto done;
    }
    compare_warnings(&a, &b, NULL);
    if (json) fprintf(stdout, "{\n  \"schema\": \"mxb-compare\",\n  \"version\": 1,\n  \"baseline\": "), mxb_json_string(stdout, pos[0]),
              fprintf(stdout, ",\n  \"new\": "), mxb_json_string(stdout, pos[1]),
              fprintf(stdout, ",\n  \"fail_on\": \"%s\",\n  \"metrics\": [", fail_on ? "worse" : "any");
    else if (!quiet) printf("%-64s %14s %14s %12s\n", "metric", "baseline", "new", "change");
    for (int i = 0; i < na + nb; i++) {
        const mxb_metric *x = i < na ? &va[i] : NULL, *y = i < na ? find_metric(vb, nb, x->name) : &vb[i - na];
        if (!x && find_metric(va, na, y->name)) continue; /* in both: said from the baseline's side */
        double d = NAN;
        const cmp_status st = x ? metric_status(x, y, tol, rel, &d) : ST_NEW;
        count[st]++;
        const int fails = st == ST_MISSING || st == ST_WORSE || st == ST_MOVED || (st == ST_BETTER && !fail_on) ||
                          (st == ST_NEW && fail_new);
        failing += fails;
        const mxb_metric *m = x ? x : y;
        if (json) {
            fprintf(stdout, "%s\n    {\"name\": ", count[ST_OK] + count[ST_BETTER] + count[ST_WORSE] + count[ST_MOVED] +
                                                      count[ST_MISSING] + count[ST_NEW] > 1 ? "," : "");
            mxb_json_string(stdout, m->name);
            fprintf(stdout, ", \"better\": \"%s\", \"baseline\": ", m->better > 0 ? "higher" : m->better < 0 ? "lower" : "none");
            if (x) mxb_json_number(stdout, x->value);
            else fputs("null", stdout);
            fprintf(stdout, ", \"new\": ");
            if (y) mxb_json_number(stdout, y->value);
            else fputs("null", stdout);
            fprintf(stdout, ", \"change\": ");
            mxb_json_number(stdout, d);
            fprintf(stdout, ", \"tolerance\": %.17g, \"status\": \"%s\", \"fails\": %s}",
                    mxb_metric_tolerance(m, tol) + rel * (x && isfinite(x->value) ? fabs(x->value) : 0), status_word[st],
                    fails ? "true" : "false");
        } else if (!quiet || st != ST_OK) {
            if (st == ST_NEW) printf("%-64s %14s %14.6g %12s  NEW\n", m->name, "-", y->value, "-");
            else if (st == ST_MISSING) printf("%-64s %14.6g %14s %12s  MISSING\n", m->name, x->value, "-", "-");
            else
                printf("%-64s %14.6g %14.6g %+12.4g%s%s\n", m->name, x->value, y->value, d, st == ST_OK ? "" : "  MOVED",
                       st == ST_BETTER ? ", better" : st == ST_WORSE ? ", worse" : "");
        }
    }
    /* a (model, method) pair run in one file and skipped in the other is a difference
     * (its metrics exist on one side only); skipped in both is fine */
    char pairs[MXB_RES_MAX_MODELS * MXB_RES_MAX_METHODS][160];
    int in_b[MXB_RES_MAX_MODELS * MXB_RES_MAX_METHODS];
    const int npairs = mxb_results_skip_diff(&a, &b, pairs, in_b, MXB_RES_MAX_MODELS * MXB_RES_MAX_METHODS);
    if (json) {
        fprintf(stdout, "\n  ],\n  \"skipped_in_one_file\": [");
        for (int i = 0; i < npairs; i++)
            fprintf(stdout, "%s{\"pair\": ", i ? ", " : ""), mxb_json_string(stdout, pairs[i]),
                fprintf(stdout, ", \"skipped_in\": \"%s\"}", in_b[i] ? "new" : "baseline");
        fprintf(stdout, "],\n  \"warnings\": [");
        compare_warnings(&a, &b, stdout);
        fprintf(stdout, "],\n  \"config_diff\": [");
    } else {
        for (int i = 0; i < npairs; i++)
            printf("%-64s %14s %14s %12s  SKIPPED IN %s\n", pairs[i], in_b[i] ? "run" : "skipped",
                   in_b[i] ? "skipped" : "run", "-", in_b[i] ? "NEW" : "BASELINE");
    }
    diff_out dout = {stdout, json, 0};
    if (mxb_results_config_diff(&a, &b, diff_print, &dout) < 0) {
        fprintf(stderr, "mxb compare: out of memory\n");
        code = 2;
        goto done;
    }
    if (json) {
        const int moved = count[ST_BETTER] + count[ST_WORSE] + count[ST_MOVED];
        fprintf(stdout, "%s],\n  \"counts\": {\"metrics\": %d, \"ok\": %d, \"moved\": %d, \"better\": %d, \"worse\": %d, "
                        "\"moved_no_direction\": %d, \"missing\": %d, \"new\": %d, \"failing\": %d},\n  \"exit\": %d\n}\n",
                dout.count ? "\n  " : "", na, count[ST_OK], moved, count[ST_BETTER], count[ST_WORSE], count[ST_MOVED],
                count[ST_MISSING], count[ST_NEW], failing, failing || npairs ? 1 : 0);
    }
    /* the page is extra: failing to write it is an error of its own (2), never hiding a move */
    if (html && mxb_compare_html(&a, pos[0], &b, pos[1], tol, rel, html, err, sizeof err)) {
        fprintf(stderr, "mxb compare: %s\n", err);
        code = 2;
        goto done;
    }
    const int moved = count[ST_BETTER] + count[ST_WORSE] + count[ST_MOVED];
    if (moved) {
        const double shown = mxb_metrics_tolerance(va, na, tol); /* NaN: the defaults differ */
        char t[64];
        if (isnan(shown)) snprintf(t, sizeof t, "its own");
        else snprintf(t, sizeof t, "%g", shown);
        fprintf(stderr, "mxb compare: %d of %d metrics moved past tolerance (%s + %g x |baseline|): %d better, %d "
                        "worse%s%.0d%s\n",
                moved, na, t, rel, count[ST_BETTER], count[ST_WORSE], count[ST_MOVED] ? ", " : "", count[ST_MOVED],
                count[ST_MOVED] ? " without a direction" : "");
    }
    if (count[ST_MISSING] || count[ST_NEW])
        fprintf(stderr, "mxb compare: %d metric%s missing from the new file (failing), %d only in it (%s)\n",
                count[ST_MISSING], count[ST_MISSING] == 1 ? "" : "s", count[ST_NEW],
                fail_new ? "failing: --fail-on-new" : "not failing; --fail-on-new makes them fail");
    if (npairs)
        fprintf(stderr, "mxb compare: %d (model, method) pair%s run in one file and skipped in the other\n", npairs,
                npairs > 1 ? "s" : "");
    if (failing || npairs) {
        code = 1;
    } else if (moved) {
        fprintf(stderr, "mxb compare: no metric moved to the worse side (--fail-on worse)\n");
    } else if (!quiet) {
        fprintf(stderr, "mxb compare: all %d metrics within tolerance\n", na);
    }
done:
    free(va);
    free(vb);
    mxb_results_free(&a);
    mxb_results_free(&b);
    return code;
}

static void merge_usage(FILE *f) {
    fprintf(f, "usage: mxb merge OUT.h5 SHARD.h5...\n"
               "  Joins the shard files of one run (mxb run --shard I/N, all N of them) into\n"
               "  one results file whose totals equal a single unsharded run's. Refused: a\n"
               "  missing shard, one still being written (a journal beside it), shards of\n"
               "  different configurations, weights, data, methods, mxb revisions or BLAS.\n");
}

/* A shard file that is not there: said plainly, with what its journal tells (a run
 * writing it now, or one that stopped), instead of HDF5's "cannot open". */
static void shard_absent(const char *path) {
    char jp[4200], err[ERRLEN];
    long records = 0;
    int in_use = 0;
    snprintf(jp, sizeof jp, "%s.journal", path);
    struct stat st;
    if (stat(jp, &st) || mxb_journal_peek(jp, &records, &in_use, err, sizeof err))
        fprintf(stderr, "mxb merge: %s: no such shard file (its run has not started, or wrote elsewhere)\n", path);
    else if (in_use)
        fprintf(stderr, "mxb merge: %s: still being written (%ld unit%s done so far, %s); merge when its run ends\n",
                path, records, records == 1 ? "" : "s", jp);
    else
        fprintf(stderr, "mxb merge: %s: not finished: its run stopped after %ld unit%s (%s); run it again to finish "
                        "it\n", path, records, records == 1 ? "" : "s", jp);
}

/* The kernels part of a blas attribute: up to "CPU LEVEL", not the note after it (an
 * environment setting such as OMP_WAIT_POLICY changes no number). */
static size_t blas_kernels_len(const char *s) {
    const char *cpu = strstr(s, "CPU "), *end = cpu ? strchr(cpu, ';') : NULL;
    return end ? (size_t)(end - s) : strlen(s);
}

static int attr_differs(const char *name, const char *x, const char *y) {
    if (!x || !y) return 1;
    if (strcmp(name, "blas")) return strcmp(x, y) != 0;
    const size_t n = blas_kernels_len(x);
    return n != blas_kernels_len(y) || strncmp(x, y, n);
}

/* Shards that are not of one run, one line each: the provenance attributes that must
 * agree (the run key covers configuration, weights and data, not mxb's build nor
 * BLAS's kernels, which can change the last bits), then the shard set. 0 or -1. */
static int shards_mixed(mxb_results *const *sh, char *const *paths, int n) {
    static const struct {
        const char *attr, *what;
    } same[] = {{"config", "a different configuration"},
                {"models_sha256", "different model weights"},
                {"data_sha256_perturbation", "a different perturbation data selection"},
                {"data_sha256_segmentation", "a different segmentation data selection"},
                {"git_revision", "a different mxb code revision (git_revision)"},
                {"mxb_version", "a different mxb version"},
                {"blas", "a different BLAS kernel set (blas)"}};
    for (int s = 1; s < n; s++) {
        for (size_t a = 0; a < sizeof same / sizeof *same; a++) {
            const char *x = mxb_results_attr(sh[0], same[a].attr), *y = mxb_results_attr(sh[s], same[a].attr);
            if (!x && !y) continue;
            if (attr_differs(same[a].attr, x, y)) {
                /* short values are worth quoting; a configuration is not */
                if (x && y && strlen(x) < 80 && strlen(y) < 80 && !strchr(x, '\n') && !strchr(y, '\n'))
                    fprintf(stderr, "mxb merge: %s has %s from %s ('%s', not '%s'); merge the shards of one run\n",
                            paths[s], same[a].what, paths[0], y, x);
                else
                    fprintf(stderr, "mxb merge: %s has %s from %s; merge the shards of one run\n", paths[s],
                            same[a].what, paths[0]);
                return -1;
            }
        }
        int methods = sh[s]->nmethods != sh[0]->nmethods;
        for (int k = 0; !methods && k < sh[0]->nmethods; k++) methods = strcmp(sh[s]->methods[k], sh[0]->methods[k]) != 0;
        if (methods) {
            fprintf(stderr, "mxb merge: %s has different methods from %s; merge the shards of one run\n", paths[s], paths[0]);
            return -1;
        }
    }
    /* the set: all N of one N, once each; the missing ones named */
    int N = -1;
    for (int s = 0; s < n; s++) {
        const char *a = mxb_results_attr(sh[s], "shard");
        int i = -1, k = -1;
        char tail;
        if (!a || sscanf(a, "%d/%d%c", &i, &k, &tail) != 2 || k < 1 || i < 0 || i >= k) return 0; /* said by the merge */
        if (N < 0) N = k;
        if (k != N) {
            fprintf(stderr, "mxb merge: %s is shard %s, %s is of a run in %d shards; merge the shards of one run\n",
                    paths[s], a, paths[0], N);
            return -1;
        }
    }
    if (N > n) {
        char list[512] = "";
        int said = 0, missing = N - n;
        for (int i = 0; i < N && strlen(list) < 400; i++) {
            char want[32];
            int have = 0;
            snprintf(want, sizeof want, "%d/%d", i, N);
            for (int s = 0; s < n; s++) have |= !strcmp(mxb_results_attr(sh[s], "shard"), want);
            if (!have)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", said++ ? ", " : "", want);
        }
        fprintf(stderr, "mxb merge: %d of %d shards given: shard%s %s %s missing; give all %d\n", n, N,
                missing > 1 ? "s" : "", list, missing > 1 ? "are" : "is", N);
        return -1;
    }
    return 0;
}

typedef struct {
    char **paths;
    int n;
} merge_paths;

static int copy_attention(mxb_h5out *o, void *user, char *err, size_t errlen) {
    const merge_paths *mp = user;
    for (int i = 0; i < mp->n; i++)
        if (mxb_h5out_copy_group(o, mp->paths[i], "/attention", err, errlen)) return -1;
    return 0;
}

int mxb_cmd_merge(int argc, char **argv) {
    mxb_opt opts[] = {MXB_OPT_END};
    const char **pos = mxb_alloc0((size_t)argc + 1, sizeof *pos, "argument list");
    int npos = 0;
    int prc = mxb_opts_parse("merge", argc, argv, opts, pos, argc, &npos, merge_usage);
    if (prc || npos < 2) {
        free(pos);
        if (prc) return prc == 1 ? 0 : 2;
        return mxb_usage_error("merge", "want OUT.h5 and at least one shard file");
    }
    /* positionals in order: argv[1] the output, the shards after it */
    for (int i = 0; i < npos; i++) argv[1 + i] = (char *)pos[i];
    argc = npos + 1;
    free(pos);
    const char *out = argv[1];
    int n = argc - 2, code = 2;
    struct stat st;
    if (stat(out, &st) == 0) {
        fprintf(stderr, "mxb merge: %s exists; not overwriting it\n", out);
        return 2;
    }
    mxb_results *shards = mxb_alloc0((size_t)n, sizeof *shards, "shard table");
    mxb_results **ptrs = mxb_alloc0((size_t)n, sizeof *ptrs, "shard table"), merged;
    char err[ERRLEN];
    int loaded = 0;
    memset(&merged, 0, sizeof merged);
    for (; loaded < n; loaded++) {
        if (stat(argv[2 + loaded], &st)) {
            shard_absent(argv[2 + loaded]);
            goto done;
        }
        if (mxb_results_read(argv[2 + loaded], &shards[loaded], err, sizeof err)) {
            fprintf(stderr, "mxb merge: %s\n", err);
            goto done;
        }
        ptrs[loaded] = &shards[loaded];
    }
    if (shards_mixed(ptrs, argv + 2, n)) goto done;
    if (mxb_results_merge(ptrs, n, &merged, err, sizeof err)) {
        fprintf(stderr, "mxb merge: %s\n", err);
        goto done;
    }
    merge_paths mp = {argv + 2, n};
    merged.extra = copy_attention; /* the shards' saved attention tensors, every one */
    merged.extra_user = &mp;
    if (mxb_results_write(&merged, out, err, sizeof err)) {
        fprintf(stderr, "mxb merge: %s\n", err);
        code = 1;
        goto done;
    }
    fprintf(stderr, "mxb merge: wrote %s from %d shards\n", out, n);
    mxb_report_print(&merged, stdout, "md");
    code = 0;
done:
    for (int i = 0; i < loaded; i++) mxb_results_free(&shards[i]);
    mxb_results_free(&merged);
    free(shards);
    free(ptrs);
    return code;
}
