/* mxb report, mxb compare, mxb merge: commands on finished results files. */
#include "harness/harness.h"

#include "results/results.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ERRLEN 1024

static void report_usage(FILE *f) {
    fprintf(f, "usage: mxb report RESULTS.h5 [--format md|json|csv] [--curves] [--figures DIR]\n"
               "  md (default): the paper's tables, rows methods, columns models (arrows: better)\n"
               "  json / csv:   every summary metric under a stable name, with provenance (json)\n"
               "  --curves      per-step perturbation accuracies as a table (md)\n"
               "  --figures DIR overlays.png, perturbation.png and figures.md into DIR (created)\n");
}

int mxb_cmd_report(int argc, char **argv) {
    static const struct option opts[] = {{"format", required_argument, 0, 'f'},
                                         {"figures", required_argument, 0, 'F'},
                                         {"curves", no_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *format = "md", *figdir = NULL;
    int ch, show_curves = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'f': format = optarg; break;
        case 'F': figdir = optarg; break;
        case 'c': show_curves = 1; break;
        case 'h': report_usage(stdout); return 0;
        default: report_usage(stderr); return 2;
        }
    }
    if (strcmp(format, "md") && strcmp(format, "json") && strcmp(format, "csv")) {
        fprintf(stderr, "mxb report: --format must be md, json or csv, not '%s'\n", format);
        return 2;
    }
    if (optind != argc - 1) {
        report_usage(stderr);
        return 2;
    }
    mxb_results r;
    char err[ERRLEN];
    if (mxb_results_read(argv[optind], &r, err, sizeof err)) {
        fprintf(stderr, "mxb report: %s\n", err);
        return 2;
    }
    int code = 0;
    if (mxb_report_print(&r, stdout, format)) {
        fprintf(stderr, "mxb report: out of memory\n");
        code = 1;
    }
    if (show_curves && !strcmp(format, "md")) mxb_report_curves(&r, stdout);
    if (!code && figdir) {
        mkdir(figdir, 0777);
        if (mxb_report_figures(&r, figdir, err, sizeof err)) {
            fprintf(stderr, "mxb report: %s\n", err);
            code = 1;
        } else {
            fprintf(stderr, "mxb report: figures in %s (see %s/figures.md)\n", figdir, figdir);
        }
    }
    mxb_results_free(&r);
    return code;
}

static void compare_usage(FILE *f) {
    fprintf(f, "usage: mxb compare BASELINE.h5 NEW.h5 [--tolerance X] [--relative R] [--quiet]\n"
               "  Compares every summary metric (mxb report --format csv lists them). A metric\n"
               "  moves past tolerance when |new - baseline| > X + R * |baseline| (defaults\n"
               "  X = 1e-6, R = 0); a metric missing from NEW, or NaN in one file only, fails.\n"
               "  Exit status: 0 within tolerance, 1 a metric moved, 2 bad input.\n");
}

static const mxb_metric *find_metric(const mxb_metric *v, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i].name, name)) return &v[i];
    return NULL;
}

int mxb_cmd_compare(int argc, char **argv) {
    static const struct option opts[] = {{"tolerance", required_argument, 0, 't'},
                                         {"relative", required_argument, 0, 'r'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    double tol = 1e-6, rel = 0;
    int ch, quiet = 0;
    char *end;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 't':
        case 'r': {
            double v = strtod(optarg, &end);
            if (*end || !(v >= 0)) {
                fprintf(stderr, "mxb compare: --%s needs a number >= 0, not '%s'\n", ch == 't' ? "tolerance" : "relative", optarg);
                return 2;
            }
            *(ch == 't' ? &tol : &rel) = v;
            break;
        }
        case 'q': quiet = 1; break;
        case 'h': compare_usage(stdout); return 0;
        default: compare_usage(stderr); return 2;
        }
    }
    if (optind != argc - 2) {
        compare_usage(stderr);
        return 2;
    }
    mxb_results a, b;
    char err[ERRLEN];
    if (mxb_results_read(argv[optind], &a, err, sizeof err)) {
        fprintf(stderr, "mxb compare: %s\n", err);
        return 2;
    }
    if (mxb_results_read(argv[optind + 1], &b, err, sizeof err)) {
        fprintf(stderr, "mxb compare: %s\n", err);
        mxb_results_free(&a);
        return 2;
    }
    mxb_metric *va = NULL, *vb = NULL;
    int na = mxb_results_metrics(&a, &va), nb = mxb_results_metrics(&b, &vb), moved = 0, code = 0;
    if (na < 0 || nb < 0) {
        fprintf(stderr, "mxb compare: out of memory\n");
        code = 2;
        goto done;
    }
    if (!quiet) printf("%-64s %14s %14s %12s\n", "metric", "baseline", "new", "change");
    for (int i = 0; i < na; i++) {
        const mxb_metric *x = &va[i], *y = find_metric(vb, nb, x->name);
        int bad;
        double d = NAN;
        if (!y) {
            bad = 1;
        } else if (isnan(x->value) || isnan(y->value)) {
            bad = isnan(x->value) != isnan(y->value);
        } else {
            d = y->value - x->value;
            bad = fabs(d) > tol + rel * fabs(x->value);
        }
        moved += bad;
        if (!quiet || bad) {
            if (!y) printf("%-64s %14.6g %14s %12s  MISSING\n", x->name, x->value, "-", "-");
            else printf("%-64s %14.6g %14.6g %+12.4g%s\n", x->name, x->value, y->value, d, bad ? "  MOVED" : "");
        }
    }
    for (int i = 0; i < nb; i++)
        if (!find_metric(va, na, vb[i].name) && !quiet) printf("%-64s %14s %14.6g %12s  NEW\n", vb[i].name, "-", vb[i].value, "-");
    if (moved) {
        fprintf(stderr, "mxb compare: %d of %d metrics moved past tolerance (%g + %g x |baseline|)\n", moved, na, tol, rel);
        code = 1;
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
    if (argc < 3 || !strcmp(argv[1], "--help")) {
        FILE *f = argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr;
        fprintf(f, "usage: mxb merge OUT.h5 SHARD.h5...\n"
                   "  Joins the shard files of one run (mxb run --shard I/N, all N of them) into\n"
                   "  one results file whose totals equal a single unsharded run's.\n");
        return f == stdout ? 0 : 2;
    }
    const char *out = argv[1];
    int n = argc - 2, code = 2;
    struct stat st;
    if (stat(out, &st) == 0) {
        fprintf(stderr, "mxb merge: %s exists; not overwriting it\n", out);
        return 2;
    }
    mxb_results *shards = calloc((size_t)n, sizeof *shards);
    mxb_results **ptrs = calloc((size_t)n, sizeof *ptrs), merged;
    char err[ERRLEN];
    int loaded = 0;
    memset(&merged, 0, sizeof merged);
    if (!shards || !ptrs) {
        fprintf(stderr, "mxb merge: out of memory\n");
        goto done;
    }
    for (; loaded < n; loaded++) {
        if (mxb_results_read(argv[2 + loaded], &shards[loaded], err, sizeof err)) {
            fprintf(stderr, "mxb merge: %s\n", err);
            goto done;
        }
        ptrs[loaded] = &shards[loaded];
    }
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
