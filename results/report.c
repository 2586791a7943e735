/* Reports from a results file: the paper's two tables, every metric under a stable
 * name (JSON, CSV) and per-step curves. Figures are figures.c, the HTML page html.c. */
#include "results/results.h"

#include "io/io.h"
#include "metrics/metrics.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cell(FILE *f, double v, double scale) {
    if (isnan(v)) fprintf(f, " n/a |");
    else fprintf(f, " %.2f |", v * scale);
}

/* A name in a markdown table cell: '|' would end the cell and a backslash escapes, so
 * both are escaped; names from a results file may hold any byte (issue 23, class 10). */
static void md_name(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '|' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
}

/* The one method x model grid every table of the report is: rows the methods, per
 * model the Markdown columns of table `tab` of the summary table (results/summary.c),
 * a pair the run skipped (the method does not support the model) as an em dash,
 * unlike a number that could not be computed (n/a). */
static void method_table(FILE *f, const mxb_results *r, int t, mxb_sum_table tab) {
    mxb_res_sumslot sl[2 * MXB_RES_MAX_SUMROWS], c[2 * MXB_RES_MAX_SUMROWS];
    int ns = mxb_res_sumslots(r, t, sl), nc = 0;
    for (int i = 0; i < ns; i++)
        if (sl[i].w->table == tab && sl[i].w->md) c[nc++] = sl[i];
    fprintf(f, "| Method |");
    for (int m = 0; m < r->nmodels; m++)
        for (int i = 0; i < nc; i++) {
            fputc(' ', f), md_name(f, r->models[m]);
            fprintf(f, " %s %s |", c[i].w->column[c[i].q],
                    mxb_better_arrow(c[i].q == MXB_NEGATIVE ? -c[i].w->better : c[i].w->better));
        }
    fprintf(f, "\n|---|");
    for (int m = 0; m < r->nmodels; m++)
        for (int i = 0; i < nc; i++) fprintf(f, "---:|");
    fprintf(f, "\n");
    for (int k = 0; k < r->nmethods; k++) {
        fprintf(f, "| "), md_name(f, r->methods[k]), fprintf(f, " |");
        for (int m = 0; m < r->nmodels; m++) {
            mxb_res_summary s;
            mxb_results_summarize(r, t, m, k, &s);
            for (int i = 0; i < nc; i++)
                if (r->skipped[m][k]) fprintf(f, " — |");
                else cell(f, mxb_res_sumrow_value(&s, c[i].w, c[i].q, 0), c[i].w->scale);
        }
        fprintf(f, "\n");
    }
}

static void print_md(const mxb_results *r, FILE *f) {
    const mxb_res_test *P = &r->test[MXB_TEST_PERTURBATION], *S = &r->test[MXB_TEST_SEGMENTATION];
    if (P->enabled) {
        const char *unit = r->auc_y_fraction ? "accuracy as a fraction" : "accuracy in %";
        fprintf(f, "\n### Perturbation test (%d images): AUC of top-1 %s against the fraction of pixels removed (%s)\n\n",
                P->n, unit, r->auc_x_normalized ? "x spread over [0, 1]" : "p = 0, 0.1, ..., 0.9");
        method_table(f, r, MXB_TEST_PERTURBATION, MXB_TAB_AUC);
        if (r->insdel_step > 0) { /* RISE insertion / deletion: only when the run made them */
            fprintf(f, "\n### Insertion / deletion (RISE, %d pixels per step): mean AUC of the class probability, in %%\n\n",
                    r->insdel_step);
            method_table(f, r, MXB_TEST_PERTURBATION, MXB_TAB_INSDEL);
        }
        fprintf(f, "\nTop-1 accuracy of the unperturbed images:");
        for (int m = 0; m < r->nmodels; m++) {
            mxb_res_summary s;
            int k0 = 0; /* the unperturbed accuracy is every method's: the first one run */
            while (k0 + 1 < r->nmethods && r->skipped[m][k0]) k0++;
            mxb_results_summarize(r, MXB_TEST_PERTURBATION, m, k0, &s);
            int q = r->polarity[MXB_POSITIVE] ? MXB_POSITIVE : MXB_NEGATIVE;
            fprintf(f, " %s %.2f %%%s", r->models[m], 100 * s.accuracy[q][0], m + 1 < r->nmodels ? "," : ".\n");
        }
    }
    if (S->enabled) {
        fprintf(f, "\n### Segmentation test (%d images), in %%\n\n", S->n);
        method_table(f, r, MXB_TEST_SEGMENTATION, MXB_TAB_SEG);
    }
}

void mxb_report_curves(const mxb_results *r, FILE *f) {
    if (!r->test[MXB_TEST_PERTURBATION].enabled) return;
    mxb_res_sumslot sl[2 * MXB_RES_MAX_SUMROWS];
    const int ns = mxb_res_sumslots(r, MXB_TEST_PERTURBATION, sl);
    fprintf(f, "\n### Perturbation curves: top-1 accuracy (%%) after removing a fraction p of the pixels\n\n");
    fprintf(f, "| Model | Method | Test |");
    for (int k = 0; k < MXB_RES_STEPS; k++) fprintf(f, " p=%.1f |", k / 10.0);
    fprintf(f, "\n|---|---|---|");
    for (int k = 0; k < MXB_RES_STEPS; k++) fprintf(f, "---:|");
    fprintf(f, "\n");
    for (int m = 0; m < r->nmodels; m++)
        for (int k = 0; k < r->nmethods; k++) {
            if (r->skipped[m][k]) continue; /* not run: no curve */
            mxb_res_summary s;
            mxb_results_summarize(r, MXB_TEST_PERTURBATION, m, k, &s);
            for (int i = 0; i < ns; i++) {
                if (sl[i].w->table != MXB_TAB_CURVES) continue;
                fprintf(f, "| "), md_name(f, r->models[m]), fprintf(f, " | "), md_name(f, r->methods[k]);
                fprintf(f, " | %s |", mxb_polarity_names[sl[i].q]);
                for (int j = 0; j < mxb_res_sumrow_count(sl[i].w); j++)
                    cell(f, mxb_res_sumrow_value(&s, sl[i].w, sl[i].q, j), sl[i].w->scale);
                fprintf(f, "\n");
            }
        }
}

/* JSON strings are valid UTF-8 (RFC 8259): invalid bytes become the code point of
 * their value (mxb_utf8_clean), control characters and DEL are escaped. */
static void json_string(FILE *f, const char *s) {
    char *clean = mxb_utf8_clean(s);
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(clean ? clean : ""); *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fprintf(f, "\\n");
        else if (*p == '\t') fprintf(f, "\\t");
        else if (*p < 0x20 || *p == 0x7f) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
    free(clean);
}

/* A CSV field (RFC 4180): quoted, with quotes doubled, when it holds a comma, a
 * quote, CR or LF; valid UTF-8 as above. */
static void csv_field(FILE *f, const char *s) {
    char *clean = mxb_utf8_clean(s);
    const char *v = clean ? clean : "";
    if (!strpbrk(v, ",\"\r\n")) {
        fputs(v, f);
    } else {
        fputc('"', f);
        for (const char *p = v; *p; p++) {
            if (*p == '"') fputc('"', f);
            fputc(*p, f);
        }
        fputc('"', f);
    }
    free(clean);
}

static void json_number(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.17g", v);
    else fprintf(f, "null");
}

int mxb_report_print(const mxb_results *r, FILE *f, const char *format) {
    mxb_metric *mv = NULL;
    int n;
    if (!strcmp(format, "md")) {
        print_md(r, f);
        return 0;
    }
    if (strcmp(format, "json") && strcmp(format, "csv")) return -1;
    if ((n = mxb_results_metrics(r, &mv)) < 0) return -1;
    if (!strcmp(format, "csv")) {
        fprintf(f, "metric,value,better\r\n");
        for (int i = 0; i < n; i++) {
            csv_field(f, mv[i].name);
            fputc(',', f);
            if (isfinite(mv[i].value)) fprintf(f, "%.17g", mv[i].value);
            fprintf(f, ",%s\r\n", mv[i].better > 0 ? "higher" : mv[i].better < 0 ? "lower" : "");
        }
    } else {
        fprintf(f, "{\n  \"schema\": \"mxb-report\",\n  \"version\": 1,\n  \"provenance\": {");
        int first = 1;
        for (int i = 0; i < r->nattrs; i++) {
            fprintf(f, "%s\n    ", first ? "" : ",");
            json_string(f, r->attr_name[i]);
            fprintf(f, ": ");
            json_string(f, r->attr_value[i]);
            first = 0;
        }
        fprintf(f, "\n  },\n  \"models\": [");
        for (int m = 0; m < r->nmodels; m++) {
            fprintf(f, "%s", m ? ", " : "");
            json_string(f, r->models[m]);
        }
        fprintf(f, "],\n  \"methods\": [");
        for (int k = 0; k < r->nmethods; k++) {
            fprintf(f, "%s", k ? ", " : "");
            json_string(f, r->methods[k]);
        }
        fprintf(f, "],\n");
        /* only when the run skipped a pair, so other reports stay as they were */
        int nsk = 0;
        for (int m = 0; m < r->nmodels; m++)
            for (int k = 0; k < r->nmethods; k++)
                if (r->skipped[m][k]) {
                    fprintf(f, "%s", nsk++ ? ", [" : "  \"skipped\": [[");
                    json_string(f, r->models[m]);
                    fprintf(f, ", ");
                    json_string(f, r->methods[k]);
                    fprintf(f, "]");
                }
        if (nsk) fprintf(f, "],\n");
        fprintf(f, "  \"metrics\": {");
        for (int i = 0; i < n; i++) {
            fprintf(f, "%s\n    ", i ? "," : "");
            json_string(f, mv[i].name);
            fprintf(f, ": ");
            json_number(f, mv[i].value);
        }
        fprintf(f, "\n  },\n  \"better\": {");
        for (int i = 0; i < n; i++) {
            fprintf(f, "%s\n    ", i ? "," : "");
            json_string(f, mv[i].name);
            fprintf(f, ": \"%s\"", mv[i].better > 0 ? "higher" : mv[i].better < 0 ? "lower" : "none");
        }
        fprintf(f, "\n  }\n}\n");
    }
    free(mv);
    return 0;
}

double mxb_metric_tolerance(const mxb_metric *x, double tol) { return tol >= 0 ? tol : x->tolerance; }

double mxb_metrics_tolerance(const mxb_metric *v, int n, double tol) {
    if (tol >= 0) return tol;
    double t = n ? v[0].tolerance : MXB_METRIC_TOLERANCE;
    for (int i = 1; i < n; i++)
        if (v[i].tolerance != t) return NAN;
    return t;
}

int mxb_metric_moved(const mxb_metric *x, const mxb_metric *y, double tol, double rel, double *d) {
    tol = mxb_metric_tolerance(x, tol);
    double change = NAN;
    int bad;
    if (!y) {
        bad = 1;
    } else if (isnan(x->value) || isnan(y->value)) {
        bad = isnan(x->value) != isnan(y->value);
    } else {
        change = y->value - x->value;
        bad = fabs(change) > tol + rel * fabs(x->value);
    }
    if (d) *d = change;
    return bad;
}

/* ---- what two runs' configurations differ in (mxb compare: text, JSON, HTML) ---- */

/* line i of text (lines split at '\n', '\r' and trailing blanks dropped) into out */
static int config_lines(const char *text, const char ***starts, size_t **lens) {
    int n = 0, cap = 0;
    *starts = NULL, *lens = NULL;
    for (const char *p = text; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        size_t l = len;
        while (l && (p[l - 1] == '\r' || p[l - 1] == ' ' || p[l - 1] == '\t')) l--;
        size_t lead = strspn(p, " \t");
        /* blank lines and comments change no run */
        if (lead < l && p[lead] != ';' && p[lead] != '#') {
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                const char **s2 = mxb_try_realloc((void *)*starts, (size_t)cap * sizeof **starts);
                if (!s2) return -1;
                *starts = s2;
                size_t *l2 = mxb_try_realloc(*lens, (size_t)cap * sizeof **lens);
                if (!l2) return -1;
                *lens = l2;
            }
            (*starts)[n] = p, (*lens)[n] = l;
            n++;
        }
        p = e ? e + 1 : NULL;
    }
    return n;
}

static int config_side(const char *x, const char *y, char side, mxb_diff_fn fn, void *user) {
    const char **sx, **sy;
    size_t *lx, *ly;
    int nx = config_lines(x ? x : "", &sx, &lx), ny = config_lines(y ? y : "", &sy, &ly), n = 0;
    for (int i = 0; i < nx && ny >= 0; i++) {
        int found = 0;
        for (int j = 0; j < ny && !found; j++) found = lx[i] == ly[j] && !memcmp(sx[i], sy[j], lx[i]);
        if (found) continue;
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)(lx[i] < sizeof line ? lx[i] : sizeof line - 1), sx[i]);
        fn(user, side, "config", line);
        n++;
    }
    free((void *)sx), free(lx), free((void *)sy), free(ly);
    return nx < 0 || ny < 0 ? -1 : n;
}

int mxb_results_config_diff(const mxb_results *a, const mxb_results *b, mxb_diff_fn fn, void *user) {
    const char *ca = mxb_results_attr(a, "config"), *cb = mxb_results_attr(b, "config");
    int n1 = config_side(ca, cb, '-', fn, user), n2 = config_side(cb, ca, '+', fn, user);
    if (n1 < 0 || n2 < 0) return -1;
    int n = n1 + n2;
    /* each method's resolved parameters (method ABI v2), named in either file */
    static const char prefix[] = "method_params_";
    for (int side = 0; side < 2; side++) {
        const mxb_results *r = side ? b : a, *o = side ? a : b;
        for (int i = 0; i < r->nattrs; i++) {
            const char *name = r->attr_name[i];
            if (strncmp(name, prefix, sizeof prefix - 1)) continue;
            const char *x = r->attr_value[i], *y = mxb_results_attr(o, name);
            if (side && y) continue; /* in both: said once, from a's side */
            if (y && !strcmp(x, y)) continue;
            fn(user, side ? '+' : '-', name, x);
            if (y) fn(user, '+', name, y);
            n++;
        }
    }
    return n;
}
