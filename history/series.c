/* What is read from a history (history/history.h): the series printed as a table, CSV,
 * JSON or JSON lines, and the step check of the last run against the median of the
 * runs before it (compare's rule, mxb_metric_moved, with the summary table's
 * tolerance of each metric unless one is given). */
#include "history/history.h"

#include "io/io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { P_FINISHED = MXB_HISTORY_P_FINISHED, P_REVISION = MXB_HISTORY_P_REVISION, P_LABEL = MXB_HISTORY_P_LABEL };

static size_t cell(const mxb_history_series *s, int i, int m) { return (size_t)i * (size_t)s->nmetrics + (size_t)m; }

static const char *better_word(int b) { return b > 0 ? "higher" : b < 0 ? "lower" : "none"; }

/* a CSV field: quoted when it holds a comma, quote or line break */
static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void json_run(FILE *f, const mxb_history_run *u) {
    fprintf(f, "{\"run\": %ld", u->id);
    for (int p = 0; p < MXB_HISTORY_NPROV; p++) {
        fprintf(f, ", ");
        mxb_json_string(f, mxb_history_prov_names[p]);
        fprintf(f, ": ");
        mxb_json_string(f, u->prov[p]);
    }
}

int mxb_history_print(const mxb_history_series *s, FILE *f, const char *format) {
    const int last = s->nruns - 1;
    if (!strcmp(format, "table")) {
        fprintf(f, "%5s  %-20s  %-12s  %-10s  %-64s %14s\n", "run", "finished", "revision", "label", "metric", "value");
        for (int i = 0; i < s->nruns; i++)
            for (int m = 0; m < s->nmetrics; m++)
                if (s->has[cell(s, i, m)])
                    fprintf(f, "%5ld  %-20.20s  %-12.12s  %-10.10s  %-64s %14.6g\n", s->runs[i].id,
                            s->runs[i].prov[P_FINISHED], s->runs[i].prov[P_REVISION], s->runs[i].prov[P_LABEL],
                            s->metrics[m].name, s->value[cell(s, i, m)]);
        for (int m = 0; m < s->nmetrics; m++) {
            const int l = mxb_history_last_with(s, m);
            if (l >= 0 && l < last)
                fprintf(f, "ended: %s (last in run %ld, %s)\n", s->metrics[m].name, s->runs[l].id,
                        s->runs[l].prov[P_FINISHED]);
        }
    } else if (!strcmp(format, "csv")) {
        fprintf(f, "run,metric,value,better,tolerance");
        for (int p = 0; p < MXB_HISTORY_NPROV; p++) fprintf(f, ",%s", mxb_history_prov_names[p]);
        fprintf(f, "\r\n");
        for (int i = 0; i < s->nruns; i++)
            for (int m = 0; m < s->nmetrics; m++) {
                if (!s->has[cell(s, i, m)]) continue;
                const double v = s->value[cell(s, i, m)];
                fprintf(f, "%ld,", s->runs[i].id);
                csv_field(f, s->metrics[m].name);
                fputc(',', f);
                if (isfinite(v)) fprintf(f, "%.17g", v);
                fprintf(f, ",%s,%.17g", better_word(s->metrics[m].better), s->metrics[m].tolerance);
                for (int p = 0; p < MXB_HISTORY_NPROV; p++) {
                    fputc(',', f);
                    csv_field(f, s->runs[i].prov[p]);
                }
                fprintf(f, "\r\n");
            }
    } else if (!strcmp(format, "jsonl")) {
        for (int i = 0; i < s->nruns; i++) {
            json_run(f, &s->runs[i]);
            fprintf(f, ", \"metrics\": {");
            int first = 1;
            for (int m = 0; m < s->nmetrics; m++) {
                if (!s->has[cell(s, i, m)]) continue;
                fprintf(f, "%s", first ? "" : ", ");
                mxb_json_string(f, s->metrics[m].name);
                fprintf(f, ": ");
                mxb_json_number(f, s->value[cell(s, i, m)]);
                first = 0;
            }
            fprintf(f, "}}\n");
        }
    } else if (!strcmp(format, "json")) {
        fprintf(f, "{\n  \"schema\": \"mxb-history\",\n  \"version\": %d,\n  \"runs\": [", MXB_HISTORY_SCHEMA_VERSION);
        for (int i = 0; i < s->nruns; i++) {
            fprintf(f, "%s\n    ", i ? "," : "");
            json_run(f, &s->runs[i]);
            fputc('}', f);
        }
        fprintf(f, "\n  ],\n  \"metrics\": [");
        for (int m = 0; m < s->nmetrics; m++) {
            const int l = mxb_history_last_with(s, m);
            fprintf(f, "%s\n    {\"name\": ", m ? "," : "");
            mxb_json_string(f, s->metrics[m].name);
            fprintf(f, ", \"better\": \"%s\", \"tolerance\": %.17g, \"ended_after_run\": ",
                    better_word(s->metrics[m].better), s->metrics[m].tolerance);
            if (l >= 0 && l < last) fprintf(f, "%ld", s->runs[l].id);
            else fputs("null", f);
            fprintf(f, ", \"values\": [");
            int first = 1;
            for (int i = 0; i < s->nruns; i++) {
                if (!s->has[cell(s, i, m)]) continue;
                fprintf(f, "%s[%ld, ", first ? "" : ", ", s->runs[i].id);
                mxb_json_number(f, s->value[cell(s, i, m)]);
                fputc(']', f);
                first = 0;
            }
            fprintf(f, "]}");
        }
        fprintf(f, "\n  ]\n}\n");
    } else {
        return -1;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of the finite values of metric m in up to `window` runs before run i
 * that have it (w: room for window values). Returns how many (0: none); *seen: 1 when
 * any run before i has the metric (NaN or not). */
static int window_median(const mxb_history_series *s, int m, int i, int window, double *w, double *median, int *seen) {
    int k = 0;
    *seen = 0;
    for (int j = i - 1; j >= 0 && k < window; j--) {
        if (!s->has[cell(s, j, m)]) continue;
        *seen = 1;
        if (isfinite(s->value[cell(s, j, m)])) w[k++] = s->value[cell(s, j, m)];
    }
    if (k) {
        qsort(w, (size_t)k, sizeof *w, cmp_double);
        *median = k % 2 ? w[k / 2] : 0.5 * (w[k / 2 - 1] + w[k / 2]);
    }
    return k;
}

int mxb_history_check(const mxb_history_series *s, int window, double tol, FILE *f) {
    const int last = s->nruns - 1;
    int moved = 0;
    if (last < 0) return 0;
    double *w = mxb_alloc((size_t)(window > 0 ? window : 1) * sizeof *w, "the check's window");
    const mxb_history_run *L = &s->runs[last];
    for (int m = 0; m < s->nmetrics; m++) {
        const mxb_metric *M = &s->metrics[m];
        const int l = mxb_history_last_with(s, m);
        if (l < 0) continue;
        if (l < last) {
            fprintf(f, "ended: %s (last in run %ld, %s; not in run %ld)\n", M->name, s->runs[l].id,
                    s->runs[l].prov[P_FINISHED], L->id);
            continue;
        }
        /* the window: the K runs before the last that have the metric (a NaN value is
         * no level: left out) */
        int seen;
        mxb_metric x = *M, y = *M;
        const int k = window_median(s, m, last, window, w, &x.value, &seen);
        const double v = s->value[cell(s, last, m)];
        if (!seen) {
            if (last > 0) fprintf(f, "new: %s = %.6g (no run before %ld has it)\n", M->name, v, L->id);
            continue;
        }
        if (!k) continue; /* NaN in every run of the window: nothing to step from */
        y.value = v;
        double d;
        if (!mxb_metric_moved(&x, &y, tol, 0, &d)) continue;
        moved++;
        const double t = mxb_metric_tolerance(M, tol);
        /* the first run at the new level: back from the last while within tolerance of it */
        int first = last;
        for (int i = last - 1; i >= 0; i--) {
            if (!s->has[cell(s, i, m)]) continue;
            const double u = s->value[cell(s, i, m)];
            if (isnan(v) ? !isnan(u) : !(fabs(u - v) <= t)) break;
            first = i;
        }
        const char *word = isnan(d) || !M->better ? "MOVED" : d * M->better > 0 ? "BETTER" : "WORSE";
        fprintf(f, "%s %s: median of %d run%s before = %.6g, run %ld = %.6g (change %+.6g, tolerance %g); first run at "
                   "the new level: run %ld (%s, revision %s)\n",
                word, M->name, k, k == 1 ? "" : "s", x.value, L->id, v, d, t, s->runs[first].id,
                s->runs[first].prov[P_FINISHED], s->runs[first].prov[P_REVISION]);
    }
    free(w);
    return moved;
}

int mxb_history_html(const mxb_history_series *s, int window, double tol, const char *title, const char *out_path,
                     char *err, size_t errlen) {
    const size_t R = (size_t)(s->nruns ? s->nruns : 1), M = (size_t)(s->nmetrics ? s->nmetrics : 1);
    mxb_trend *t = mxb_try_alloc0(M, sizeof *t);
    double *centre = mxb_try_alloc0(R * M, sizeof *centre), *w = mxb_try_alloc0((size_t)window, sizeof *w);
    unsigned char *moved = mxb_try_alloc0(R * M, 1);
    long *id = mxb_try_alloc0(R, sizeof *id);
    const char **x = mxb_try_alloc0(R * 3, sizeof *x);
    int rc = -1;
    if (!t || !centre || !w || !moved || !id || !x) {
        mxb_seterr(err, errlen, "out of memory for the trend page");
        goto done;
    }
    for (int i = 0; i < s->nruns; i++) {
        id[i] = s->runs[i].id;
        x[i] = s->runs[i].prov[P_REVISION];
        x[R + (size_t)i] = s->runs[i].prov[P_FINISHED];
        x[2 * R + (size_t)i] = s->runs[i].prov[P_LABEL];
    }
    /* the series are run-major in s; a trend wants one metric's values in a row */
    double *value = mxb_try_alloc0(R * M, sizeof *value);
    if (!value) {
        mxb_seterr(err, errlen, "out of memory for the trend page");
        goto done;
    }
    for (int m = 0; m < s->nmetrics; m++) {
        const mxb_metric *Mm = &s->metrics[m];
        double *cv = centre + (size_t)m * R, *vv = value + (size_t)m * R;
        unsigned char *mv = moved + (size_t)m * R;
        for (int i = 0; i < s->nruns; i++) {
            int seen;
            double med = NAN;
            vv[i] = s->has[cell(s, i, m)] ? s->value[cell(s, i, m)] : NAN;
            cv[i] = window_median(s, m, i, window, w, &med, &seen) ? med : NAN;
            if (s->has[cell(s, i, m)] && isfinite(cv[i])) {
                mxb_metric a = *Mm, b = *Mm;
                a.value = cv[i], b.value = vv[i];
                mv[i] = (unsigned char)mxb_metric_moved(&a, &b, tol, 0, NULL);
            }
        }
        t[m] = (mxb_trend){Mm->name, Mm->better, mxb_metric_tolerance(Mm, tol), window, s->nruns, vv, cv, mv, x};
    }
    const mxb_trend_runs runs = {s->nruns, id, x + R, x, x + 2 * R};
    rc = mxb_trend_html(title, t, s->nmetrics, &runs, out_path, err, errlen);
    free(value);
done:
    free(t), free(centre), free(w), free(moved), free(id), free(x);
    return rc;
}
