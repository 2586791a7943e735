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

enum { P_FINISHED = 0, P_REVISION = 2, P_LABEL = 15 };

static size_t cell(const mxb_history_series *s, int i, int m) { return (size_t)i * (size_t)s->nmetrics + (size_t)m; }

static const char *better_word(int b) { return b > 0 ? "higher" : b < 0 ? "lower" : "none"; }

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void json_number(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.17g", v);
    else fputs("null", f);
}

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
        json_string(f, mxb_history_prov_names[p]);
        fprintf(f, ": ");
        json_string(f, u->prov[p]);
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
                json_string(f, s->metrics[m].name);
                fprintf(f, ": ");
                json_number(f, s->value[cell(s, i, m)]);
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
            json_string(f, s->metrics[m].name);
            fprintf(f, ", \"better\": \"%s\", \"tolerance\": %.17g, \"ended_after_run\": ",
                    better_word(s->metrics[m].better), s->metrics[m].tolerance);
            if (l >= 0 && l < last) fprintf(f, "%ld", s->runs[l].id);
            else fputs("null", f);
            fprintf(f, ", \"values\": [");
            int first = 1;
            for (int i = 0; i < s->nruns; i++) {
                if (!s->has[cell(s, i, m)]) continue;
                fprintf(f, "%s[%ld, ", first ? "" : ", ", s->runs[i].id);
                json_number(f, s->value[cell(s, i, m)]);
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
        int k = 0, seen = 0;
        for (int i = last - 1; i >= 0 && k < window; i--) {
            if (!s->has[cell(s, i, m)]) continue;
            seen = 1;
            if (isfinite(s->value[cell(s, i, m)])) w[k++] = s->value[cell(s, i, m)];
        }
        const double v = s->value[cell(s, last, m)];
        if (!seen) {
            if (last > 0) fprintf(f, "new: %s = %.6g (no run before %ld has it)\n", M->name, v, L->id);
            continue;
        }
        if (!k) continue; /* NaN in every run of the window: nothing to step from */
        qsort(w, (size_t)k, sizeof *w, cmp_double);
        mxb_metric x = *M, y = *M;
        x.value = k % 2 ? w[k / 2] : 0.5 * (w[k / 2 - 1] + w[k / 2]);
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
