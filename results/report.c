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

/* a cell with its interval's half-width: " 12.34 ± 0.56 |" */
static void cell_pm(FILE *f, double v, const mxb_ci *c, double scale) {
    if (isnan(v)) fprintf(f, " n/a |");
    else if (!c || !isfinite(c->low) || !isfinite(c->high)) fprintf(f, " %.2f ± n/a |", v * scale);
    else fprintf(f, " %.2f ± %.2f |", v * scale, (c->high - c->low) / 2 * scale);
}

void mxb_res_slot_metric(char *out, size_t len, const mxb_res_sumslot *s) {
    snprintf(out, len, "%s%s%s", s->w->polar ? mxb_polarity_names[s->q] : "", s->w->polar ? "_" : "", s->w->name);
}

#define NSLOTS (2 * MXB_RES_MAX_SUMROWS)
static size_t ci_at(int t, int m, int k, int s) {
    return (((size_t)t * MXB_RES_MAX_MODELS + (size_t)m) * MXB_RES_MAX_METHODS + (size_t)k) * NSLOTS + (size_t)s;
}

const mxb_ci *mxb_report_ci(const mxb_ci *all, int t, int m, int k, int s) {
    return all ? &all[ci_at(t, m, k, s)] : NULL;
}

mxb_ci *mxb_report_intervals(const mxb_results *r, const mxb_boot_opts *o) {
    mxb_ci *all = mxb_try_alloc0(ci_at(MXB_NTESTS, 0, 0, 0), sizeof *all);
    if (!all) return NULL;
    for (size_t i = 0; i < ci_at(MXB_NTESTS, 0, 0, 0); i++) all[i] = (mxb_ci){NAN, NAN, NAN};
    for (int t = 0; t < MXB_NTESTS; t++) {
        if (!r->test[t].enabled) continue;
        mxb_res_sumslot sl[NSLOTS];
        const int ns = mxb_res_sumslots(r, t, sl);
        for (int m = 0; m < r->nmodels; m++)
            for (int k = 0; k < r->nmethods; k++)
                if (mxb_results_bootstrap(r, t, m, k, sl, ns, o, &all[ci_at(t, m, k, 0)])) {
                    free(all);
                    return NULL;
                }
    }
    return all;
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
static void method_table(FILE *f, const mxb_results *r, int t, mxb_sum_table tab, const mxb_ci *ci) {
    mxb_res_sumslot sl[2 * MXB_RES_MAX_SUMROWS], c[2 * MXB_RES_MAX_SUMROWS];
    int ns = mxb_res_sumslots(r, t, sl), nc = 0, at[2 * MXB_RES_MAX_SUMROWS];
    for (int i = 0; i < ns; i++)
        if (sl[i].w->table == tab && sl[i].w->md) at[nc] = i, c[nc++] = sl[i];
    fprintf(f, "| Method |");
    for (int m = 0; m < r->nmodels; m++)
        for (int i = 0; i < nc; i++) {
            fputc(' ', f), md_name(f, mxb_results_model_label(r, m));
            fprintf(f, " %s %s |", c[i].w->column[c[i].q],
                    mxb_better_arrow(mxb_res_slot_better(&c[i])));
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
                else if (ci && mxb_res_sumrow_has_ci(c[i].w))
                    cell_pm(f, mxb_res_sumrow_value(&s, c[i].w, c[i].q, 0), mxb_report_ci(ci, t, m, k, at[i]),
                            c[i].w->scale);
                else cell(f, mxb_res_sumrow_value(&s, c[i].w, c[i].q, 0), c[i].w->scale);
        }
        fprintf(f, "\n");
    }
}

static double pct(double level) { return 100 * level; }

/* Every interval, a row per model x method x metric, in the tables' scale. */
static void intervals_md(const mxb_results *r, FILE *f, const mxb_boot_opts *o, const mxb_ci *ci) {
    fprintf(f, "\n### Confidence intervals: %g %% percentile bootstrap over images (%d replicates, seed %llu)\n\n",
            pct(o->level), o->replicates, (unsigned long long)o->seed);
    fprintf(f, "| Test | Model | Method | Metric | Value | %g %% interval | ± half-width |\n|---|---|---|---|---:|---:|---:|\n",
            pct(o->level));
    for (int t = 0; t < MXB_NTESTS; t++) {
        if (!r->test[t].enabled) continue;
        mxb_res_sumslot sl[NSLOTS];
        const int ns = mxb_res_sumslots(r, t, sl);
        for (int m = 0; m < r->nmodels; m++)
            for (int k = 0; k < r->nmethods; k++)
                for (int s = 0; s < ns && !r->skipped[m][k]; s++) {
                    if (!mxb_res_sumrow_has_ci(sl[s].w)) continue;
                    const mxb_ci *c = mxb_report_ci(ci, t, m, k, s);
                    const double sc = sl[s].w->scale;
                    char metric[96];
                    mxb_res_slot_metric(metric, sizeof metric, &sl[s]);
                    fprintf(f, "| %s | ", mxb_test_names[t]), md_name(f, mxb_results_model_label(r, m)), fprintf(f, " | ");
                    md_name(f, r->methods[k]), fprintf(f, " | %s |", metric);
                    cell(f, c->value, sc);
                    if (isfinite(c->low)) fprintf(f, " [%.2f, %.2f] |", c->low * sc, c->high * sc);
                    else fprintf(f, " n/a |");
                    cell(f, (c->high - c->low) / 2, sc);
                    fprintf(f, "\n");
                }
    }
}

/* The paired tests: per test and metric, a - b, its interval and p. */
static int pairs_md(const mxb_results *r, FILE *f, const mxb_report_opts *o) {
    fprintf(f, "\n### Paired tests: paired bootstrap over the images both ran (%d replicates, seed %llu; "
               "%g %% percentile interval of the difference, two-sided p of the centred bootstrap)\n\n",
            o->boot->replicates, (unsigned long long)o->boot->seed, pct(o->boot->level));
    fprintf(f, "| Test | Metric | A | B | A value | B value | A − B | %g %% interval | p | images |\n"
               "|---|---|---|---|---:|---:|---:|---:|---:|---:|\n", pct(o->boot->level));
    for (int p = 0; p < o->npairs; p++) {
        const int *q = o->pair[p];
        for (int t = 0; t < MXB_NTESTS; t++) {
            if (!r->test[t].enabled || r->skipped[q[0]][q[1]] || r->skipped[q[2]][q[3]]) continue;
            mxb_res_sumslot sl[NSLOTS];
            mxb_pair_stat st[NSLOTS];
            const int ns = mxb_res_sumslots(r, t, sl);
            if (mxb_results_pair(r, t, q[0], q[1], q[2], q[3], sl, ns, o->boot, st)) return -1;
            for (int s = 0; s < ns; s++) {
                if (!mxb_res_sumrow_has_ci(sl[s].w)) continue;
                const double sc = sl[s].w->scale;
                char metric[96];
                mxb_res_slot_metric(metric, sizeof metric, &sl[s]);
                fprintf(f, "| %s | %s | ", mxb_test_names[t], metric);
                md_name(f, r->models[q[0]]), fputc('/', f), md_name(f, r->methods[q[1]]), fprintf(f, " | ");
                md_name(f, r->models[q[2]]), fputc('/', f), md_name(f, r->methods[q[3]]), fprintf(f, " |");
                cell(f, st[s].a, sc), cell(f, st[s].b, sc), cell(f, st[s].diff, sc);
                if (isfinite(st[s].low)) fprintf(f, " [%.2f, %.2f] |", st[s].low * sc, st[s].high * sc);
                else fprintf(f, " n/a |");
                if (isfinite(st[s].p)) fprintf(f, " %.4f | %d |\n", st[s].p, st[s].n);
                else fprintf(f, " n/a | %d |\n", st[s].n);
            }
        }
    }
    return 0;
}

int mxb_results_warnings(const mxb_results *r, int stored, char *out, size_t len) {
    size_t off = 0;
    int n = 0;
    out[0] = 0;
    const char *run = mxb_results_attr(r, "warnings"), *classes = mxb_results_attr(r, "num_classes");
    if (stored && run && run[0]) {
        off += (size_t)snprintf(out, len, "%s", run);
        n++;
        for (const char *p = run; *p; p++) n += *p == '\n';
    }
    const mxb_res_test *P = &r->test[MXB_TEST_PERTURBATION];
    for (int m = 0; P->enabled && classes && m < r->nmodels; m++) {
        /* "vit=10 vim=1000": this model's count */
        char key[80];
        snprintf(key, sizeof key, "%s=", r->models[m]);
        const char *at = classes;
        while ((at = strstr(at, key)) && at != classes && at[-1] != ' ') at++;
        if (!at) continue;
        const long K = strtol(at + strlen(key), NULL, 10);
        int k0 = 0; /* the unperturbed accuracy is every method's: the first one run */
        while (k0 + 1 < r->nmethods && r->skipped[m][k0]) k0++;
        mxb_res_summary s;
        mxb_results_summarize(r, MXB_TEST_PERTURBATION, m, k0, &s);
        const double acc = s.accuracy[r->polarity[MXB_POSITIVE] ? MXB_POSITIVE : MXB_NEGATIVE][0];
        if (K < 2 || !isfinite(acc) || acc > 1.0 / (double)K || off >= len) continue;
        off += (size_t)snprintf(out + off, len - off, "%smodel %s's top-1 accuracy on the unperturbed images is "
                                "%.2f %%, at or below chance (%.2f %% for %ld classes): are the labels the model's "
                                "classes? (docs/PAPER.md, the label trap)", off ? "\n" : "", r->models[m], 100 * acc,
                                100.0 / (double)K, K);
        n++;
    }
    return n;
}

/* each line of the warnings, as "**Warning:** LINE" paragraphs */
static void warnings_md(const mxb_results *r, FILE *f) {
    char w[4096];
    if (!mxb_results_warnings(r, 1, w, sizeof w)) return;
    for (char *line = strtok(w, "\n"); line; line = strtok(NULL, "\n")) {
        fprintf(f, "\n**Warning:** ");
        md_name(f, line);
        fputc('\n', f);
    }
}

static void print_md(const mxb_results *r, FILE *f, const mxb_ci *pm) {
    const mxb_res_test *P = &r->test[MXB_TEST_PERTURBATION], *S = &r->test[MXB_TEST_SEGMENTATION];
    if (P->enabled) {
        const char *unit = r->auc_y_fraction ? "accuracy as a fraction" : "accuracy in %";
        fprintf(f, "\n### Perturbation test (%d images): AUC of top-1 %s against the fraction of pixels removed (%s)\n\n",
                P->n, unit, r->auc_x_normalized ? "x spread over [0, 1]" : "p = 0, 0.1, ..., 0.9");
        method_table(f, r, MXB_TEST_PERTURBATION, MXB_TAB_AUC, pm);
        if (r->insdel_step > 0) { /* RISE insertion / deletion: only when the run made them */
            fprintf(f, "\n### Insertion / deletion (RISE, %d pixels per step): mean AUC of the class probability, in %%\n\n",
                    r->insdel_step);
            method_table(f, r, MXB_TEST_PERTURBATION, MXB_TAB_INSDEL, pm);
        }
        fprintf(f, "\nTop-1 accuracy of the unperturbed images:");
        for (int m = 0; m < r->nmodels; m++) {
            mxb_res_summary s;
            int k0 = 0; /* the unperturbed accuracy is every method's: the first one run */
            while (k0 + 1 < r->nmethods && r->skipped[m][k0]) k0++;
            mxb_results_summarize(r, MXB_TEST_PERTURBATION, m, k0, &s);
            int q = r->polarity[MXB_POSITIVE] ? MXB_POSITIVE : MXB_NEGATIVE;
            fputc(' ', f), md_name(f, mxb_results_model_label(r, m));
            fprintf(f, " %.2f %%%s", 100 * s.accuracy[q][0], m + 1 < r->nmodels ? "," : ".\n");
        }
    }
    if (S->enabled) {
        fprintf(f, "\n### Segmentation test (%d images), in %%\n\n", S->n);
        method_table(f, r, MXB_TEST_SEGMENTATION, MXB_TAB_SEG, pm);
    }
    warnings_md(r, f);
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
                fprintf(f, "| "), md_name(f, mxb_results_model_label(r, m)), fprintf(f, " | "), md_name(f, r->methods[k]);
                fprintf(f, " | %s |", mxb_polarity_names[sl[i].q]);
                for (int j = 0; j < mxb_res_sumrow_count(sl[i].w); j++)
                    cell(f, mxb_res_sumrow_value(&s, sl[i].w, sl[i].q, j), sl[i].w->scale);
                fprintf(f, "\n");
            }
        }
}

/* JSON strings are valid UTF-8 (RFC 8259): invalid bytes become the code point of
 * their value (mxb_utf8_clean), control characters and DEL are escaped. */
void mxb_json_string(FILE *f, const char *s) {
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

void mxb_json_number(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.17g", v);
    else fputs("null", f);
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
    return mxb_report_print_with(r, f, format, NULL);
}

/* The interval of the metric named `name`, or NULL (a metric without one). */
static const mxb_ci *ci_named(const mxb_results *r, const mxb_ci *ci, const char *name) {
    for (int t = 0; ci && t < MXB_NTESTS; t++) {
        if (!r->test[t].enabled) continue;
        mxb_res_sumslot sl[NSLOTS];
        const int ns = mxb_res_sumslots(r, t, sl);
        for (int m = 0; m < r->nmodels; m++)
            for (int k = 0; k < r->nmethods; k++)
                for (int s = 0; s < ns; s++) {
                    if (!mxb_res_sumrow_has_ci(sl[s].w)) continue;
                    char nm[192];
                    mxb_res_sumrow_name(nm, sizeof nm, r, t, m, k, sl[s].w, sl[s].q, 0);
                    if (!strcmp(nm, name)) return mxb_report_ci(ci, t, m, k, s);
                }
    }
    return NULL;
}

static int pairs_json(const mxb_results *r, FILE *f, const mxb_report_opts *o) {
    fprintf(f, "  \"pairs\": [");
    int first = 1;
    for (int p = 0; p < o->npairs; p++) {
        const int *q = o->pair[p];
        for (int t = 0; t < MXB_NTESTS; t++) {
            if (!r->test[t].enabled || r->skipped[q[0]][q[1]] || r->skipped[q[2]][q[3]]) continue;
            mxb_res_sumslot sl[NSLOTS];
            mxb_pair_stat st[NSLOTS];
            const int ns = mxb_res_sumslots(r, t, sl);
            if (mxb_results_pair(r, t, q[0], q[1], q[2], q[3], sl, ns, o->boot, st)) return -1;
            for (int s = 0; s < ns; s++) {
                if (!mxb_res_sumrow_has_ci(sl[s].w)) continue;
                char metric[96], a[160], b[160];
                mxb_res_slot_metric(metric, sizeof metric, &sl[s]);
                snprintf(a, sizeof a, "%s/%s", r->models[q[0]], r->methods[q[1]]);
                snprintf(b, sizeof b, "%s/%s", r->models[q[2]], r->methods[q[3]]);
                fprintf(f, "%s\n    {\"test\": \"%s\", \"metric\": \"%s\", \"a\": ", first ? "" : ",",
                        mxb_test_names[t], metric);
                mxb_json_string(f, a), fprintf(f, ", \"b\": "), mxb_json_string(f, b);
                fprintf(f, ", \"a_value\": "), json_number(f, st[s].a);
                fprintf(f, ", \"b_value\": "), json_number(f, st[s].b);
                fprintf(f, ", \"diff\": "), json_number(f, st[s].diff);
                fprintf(f, ", \"low\": "), json_number(f, st[s].low);
                fprintf(f, ", \"high\": "), json_number(f, st[s].high);
                fprintf(f, ", \"p\": "), json_number(f, st[s].p);
                fprintf(f, ", \"images\": %d}", st[s].n);
                first = 0;
            }
        }
    }
    fprintf(f, "\n  ],\n");
    return 0;
}

/* ---- LaTeX (--format tex): booktabs tables in the paper's layout ---- */

/* Text in LaTeX: its ten special characters as the commands that print them, so a
 * method alias "ig_16" or a label "ViM-S & co" reads as written; valid UTF-8 as the
 * other writers (LaTeX since 2018 reads UTF-8 input). */
static void tex_text(FILE *f, const char *s) {
    char *clean = mxb_utf8_clean(s);
    for (const char *p = clean ? clean : ""; *p; p++) switch (*p) {
        case '\\': fputs("\\textbackslash{}", f); break;
        case '~': fputs("\\textasciitilde{}", f); break;
        case '^': fputs("\\textasciicircum{}", f); break;
        case '<': fputs("\\textless{}", f); break;  /* OT1 prints < and > as other glyphs */
        case '>': fputs("\\textgreater{}", f); break;
        case '|': fputs("\\textbar{}", f); break;
        case '_': case '%': case '&': case '#': case '$': case '{': case '}': fputc('\\', f), fputc(*p, f); break;
        default: fputc(*p, f);
        }
    free(clean);
}

static const char *tex_arrow(int better) { return better > 0 ? " $\\uparrow$" : better < 0 ? " $\\downarrow$" : ""; }

/* The method x model grid of table `tab` as a booktabs table: rows the methods, one
 * column group per model (its label over a \cmidrule), in it the Markdown columns of
 * the summary table; the best value of each column in bold (the row's better
 * direction; the negative run's is the opposite; ties all bold); "value $\pm$
 * half-width" when intervals were computed; a skipped pair "---". */
/* caption: LaTeX already (mxb's own words and numbers, no names from the file) */
static void tex_table(FILE *f, const mxb_results *r, int t, mxb_sum_table tab, const mxb_ci *ci, const char *caption,
                      const char *label) {
    mxb_res_sumslot sl[NSLOTS], c[NSLOTS];
    int ns = mxb_res_sumslots(r, t, sl), nc = 0, at[NSLOTS];
    for (int i = 0; i < ns; i++)
        if (sl[i].w->table == tab && sl[i].w->md) at[nc] = i, c[nc++] = sl[i];
    /* every value first: the best of a column needs all its rows */
    double v[MXB_RES_MAX_METHODS][MXB_RES_MAX_MODELS][NSLOTS];
    double best[MXB_RES_MAX_MODELS][NSLOTS];
    for (int m = 0; m < r->nmodels; m++)
        for (int i = 0; i < nc; i++) best[m][i] = NAN;
    for (int k = 0; k < r->nmethods; k++)
        for (int m = 0; m < r->nmodels; m++) {
            mxb_res_summary s;
            mxb_results_summarize(r, t, m, k, &s);
            for (int i = 0; i < nc; i++) {
                const int b = mxb_res_slot_better(&c[i]);
                const double x = r->skipped[m][k] ? NAN : mxb_res_sumrow_value(&s, c[i].w, c[i].q, 0);
                v[k][m][i] = x;
                if (b && isfinite(x) && (!isfinite(best[m][i]) || (b > 0 ? x > best[m][i] : x < best[m][i])))
                    best[m][i] = x;
            }
        }
    fprintf(f, "\n\\begin{table}[t]\n\\centering\n\\caption{%s}\n\\label{%s}\n\\begin{tabular}{l", caption, label);
    for (int m = 0; m < r->nmodels; m++)
        for (int i = 0; i < nc; i++) fputc('r', f);
    fprintf(f, "}\n\\toprule\n");
    for (int m = 0; m < r->nmodels; m++) {
        fprintf(f, " & \\multicolumn{%d}{c}{", nc);
        tex_text(f, mxb_results_model_label(r, m));
        fputc('}', f);
    }
    fprintf(f, " \\\\\n");
    for (int m = 0; m < r->nmodels; m++)
        fprintf(f, "%s\\cmidrule(lr){%d-%d}", m ? " " : "", 2 + m * nc, 1 + (m + 1) * nc);
    fprintf(f, "\nMethod");
    for (int m = 0; m < r->nmodels; m++)
        for (int i = 0; i < nc; i++) {
            fprintf(f, " & ");
            tex_text(f, c[i].w->column[c[i].q]);
            fputs(tex_arrow(mxb_res_slot_better(&c[i])), f);
        }
    fprintf(f, " \\\\\n\\midrule\n");
    for (int k = 0; k < r->nmethods; k++) {
        tex_text(f, r->methods[k]);
        for (int m = 0; m < r->nmodels; m++)
            for (int i = 0; i < nc; i++) {
                const double x = v[k][m][i], sc = c[i].w->scale;
                fprintf(f, " & ");
                if (r->skipped[m][k]) {
                    fprintf(f, "---");
                    continue;
                }
                if (isnan(x)) {
                    fprintf(f, "n/a");
                    continue;
                }
                if (x == best[m][i]) fprintf(f, "\\textbf{%.2f}", x * sc);
                else fprintf(f, "%.2f", x * sc);
                const mxb_ci *q = ci && mxb_res_sumrow_has_ci(c[i].w) ? mxb_report_ci(ci, t, m, k, at[i]) : NULL;
                if (q && isfinite(q->low) && isfinite(q->high)) fprintf(f, " $\\pm$ %.2f", (q->high - q->low) / 2 * sc);
                else if (q) fprintf(f, " $\\pm$ n/a");
            }
        fprintf(f, " \\\\\n");
    }
    fprintf(f, "\\bottomrule\n\\end{tabular}\n\\end{table}\n");
}

static void print_tex(const mxb_results *r, FILE *f, const mxb_ci *ci, const mxb_boot_opts *boot) {
    const mxb_res_test *P = &r->test[MXB_TEST_PERTURBATION], *S = &r->test[MXB_TEST_SEGMENTATION];
    char cap[512], iv[160] = "";
    fprintf(f, "%% mxb report --format tex: \\usepackage{booktabs} in the preamble\n");
    if (ci)
        snprintf(iv, sizeof iv, " Values $\\pm$ the half-width of their %g\\,\\%% percentile bootstrap interval over images "
                 "(%d replicates, seed %llu).", 100 * boot->level, boot->replicates, (unsigned long long)boot->seed);
    if (P->enabled) {
        snprintf(cap, sizeof cap, "Perturbation test (%d images): AUC of top-1 %s against the fraction of pixels "
                 "removed (%s); best per column in bold.%s", P->n,
                 r->auc_y_fraction ? "accuracy as a fraction" : "accuracy in \\%",
                 r->auc_x_normalized ? "x spread over [0, 1]" : "p = 0, 0.1, ..., 0.9", iv);
        tex_table(f, r, MXB_TEST_PERTURBATION, MXB_TAB_AUC, ci, cap, "tab:mxb-perturbation");
        if (r->insdel_step > 0) {
            snprintf(cap, sizeof cap, "Insertion / deletion (RISE, %d pixels per step): mean AUC of the class "
                     "probability, in \\%%; best per column in bold.%s", r->insdel_step, iv);
            tex_table(f, r, MXB_TEST_PERTURBATION, MXB_TAB_INSDEL, ci, cap, "tab:mxb-insdel");
        }
    }
    if (S->enabled) {
        snprintf(cap, sizeof cap, "Segmentation test (%d images), in \\%%; best per column in bold.%s", S->n, iv);
        tex_table(f, r, MXB_TEST_SEGMENTATION, MXB_TAB_SEG, ci, cap, "tab:mxb-segmentation");
    }
    /* the label sanity lines, as comments: seen in the source, not in the paper */
    char w[4096];
    if (mxb_results_warnings(r, 1, w, sizeof w))
        for (char *line = strtok(w, "\n"); line; line = strtok(NULL, "\n")) {
            char *clean = mxb_utf8_clean(line);
            fprintf(f, "%% Warning: %s\n", clean ? clean : line);
            free(clean);
        }
}

int mxb_report_print_with(const mxb_results *r, FILE *f, const char *format, const mxb_report_opts *o) {
    mxb_metric *mv = NULL;
    int n, rc = 0;
    const mxb_boot_opts *boot = o ? o->boot : NULL;
    if (strcmp(format, "md") && strcmp(format, "json") && strcmp(format, "csv") && strcmp(format, "tex")) return -1;
    mxb_ci *ci = boot ? mxb_report_intervals(r, boot) : NULL;
    if (boot && !ci) return -1;
    if (!strcmp(format, "tex")) {
        print_tex(r, f, ci, boot);
        free(ci);
        return 0;
    }
    if (!strcmp(format, "md")) {
        print_md(r, f, o && o->pm ? ci : NULL);
        if (ci) intervals_md(r, f, boot, ci);
        if (ci && o->npairs) rc = pairs_md(r, f, o);
        free(ci);
        return rc;
    }
    if ((n = mxb_results_metrics(r, &mv)) < 0) return free(ci), -1;
    if (!strcmp(format, "csv")) {
        fprintf(f, ci ? "metric,value,better,low,high\r\n" : "metric,value,better\r\n");
        for (int i = 0; i < n; i++) {
            csv_field(f, mv[i].name);
            fputc(',', f);
            if (isfinite(mv[i].value)) fprintf(f, "%.17g", mv[i].value);
            fprintf(f, ",%s", mv[i].better > 0 ? "higher" : mv[i].better < 0 ? "lower" : "");
            const mxb_ci *c = ci_named(r, ci, mv[i].name);
            if (ci) fputc(',', f);
            if (c && isfinite(c->low)) fprintf(f, "%.17g", c->low);
            if (ci) fputc(',', f);
            if (c && isfinite(c->high)) fprintf(f, "%.17g", c->high);
            fprintf(f, "\r\n");
        }
    } else {
        fprintf(f, "{\n  \"schema\": \"mxb-report\",\n  \"version\": 1,\n  \"provenance\": {");
        int first = 1;
        for (int i = 0; i < r->nattrs; i++) {
            fprintf(f, "%s\n    ", first ? "" : ",");
            mxb_json_string(f, r->attr_name[i]);
            fprintf(f, ": ");
            mxb_json_string(f, r->attr_value[i]);
            first = 0;
        }
        fprintf(f, "\n  },\n  \"models\": [");
        for (int m = 0; m < r->nmodels; m++) {
            fprintf(f, "%s", m ? ", " : "");
            mxb_json_string(f, r->models[m]);
        }
        /* the display names ([model:NAME] label; a model without one: its name) */
        fprintf(f, "],\n  \"model_labels\": {");
        for (int m = 0; m < r->nmodels; m++) {
            fprintf(f, "%s", m ? ", " : "");
            mxb_json_string(f, r->models[m]);
            fprintf(f, ": ");
            mxb_json_string(f, mxb_results_model_label(r, m));
        }
        fprintf(f, "},\n  \"methods\": [");
        for (int k = 0; k < r->nmethods; k++) {
            fprintf(f, "%s", k ? ", " : "");
            mxb_json_string(f, r->methods[k]);
        }
        fprintf(f, "],\n");
        /* only when the run skipped a pair, so other reports stay as they were */
        int nsk = 0;
        for (int m = 0; m < r->nmodels; m++)
            for (int k = 0; k < r->nmethods; k++)
                if (r->skipped[m][k]) {
                    fprintf(f, "%s", nsk++ ? ", [" : "  \"skipped\": [[");
                    mxb_json_string(f, r->models[m]);
                    fprintf(f, ", ");
                    mxb_json_string(f, r->methods[k]);
                    fprintf(f, "]");
                }
        if (nsk) fprintf(f, "],\n");
        /* only when there are any, as "skipped" */
        char w[4096];
        if (mxb_results_warnings(r, 1, w, sizeof w)) {
            fprintf(f, "  \"warnings\": [");
            int k = 0;
            for (char *line = strtok(w, "\n"); line; line = strtok(NULL, "\n")) {
                fprintf(f, "%s", k++ ? ", " : "");
                mxb_json_string(f, line);
            }
            fprintf(f, "],\n");
        }
        fprintf(f, "  \"metrics\": {");
        for (int i = 0; i < n; i++) {
            fprintf(f, "%s\n    ", i ? "," : "");
            mxb_json_string(f, mv[i].name);
            fprintf(f, ": ");
            json_number(f, mv[i].value);
        }
        if (ci) {
            fprintf(f, "\n  },\n  \"bootstrap\": {\"method\": \"percentile bootstrap over images\", "
                       "\"replicates\": %d, \"seed\": %llu, \"level\": %.17g},\n  \"intervals\": {",
                    boot->replicates, (unsigned long long)boot->seed, boot->level);
            int first = 1;
            for (int i = 0; i < n; i++) {
                const mxb_ci *c = ci_named(r, ci, mv[i].name);
                if (!c) continue;
                fprintf(f, "%s\n    ", first ? "" : ",");
                mxb_json_string(f, mv[i].name);
                fprintf(f, ": ["), json_number(f, c->low), fprintf(f, ", "), json_number(f, c->high), fprintf(f, "]");
                first = 0;
            }
        }
        fprintf(f, "\n  },\n");
        if (ci && o->npairs && pairs_json(r, f, o)) rc = -1;
        fprintf(f, "  \"better\": {");
        for (int i = 0; i < n; i++) {
            fprintf(f, "%s\n    ", i ? "," : "");
            mxb_json_string(f, mv[i].name);
            fprintf(f, ": \"%s\"", mv[i].better > 0 ? "higher" : mv[i].better < 0 ? "lower" : "none");
        }
        fprintf(f, "\n  }\n}\n");
    }
    free(mv);
    free(ci);
    return rc;
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
