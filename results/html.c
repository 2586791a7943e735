/* The HTML report: one self-contained page per results file (tables, figures as
 * base64 data: URIs, provenance) and one per comparison of two files. No script, no
 * external file: it opens from a mail attachment. Every number in a table carries the
 * exact value of its metric (data-value, as --format json prints it) beside the
 * rounded text, and every text from a file is escaped. */
#include "results/results.h"

#include "io/io.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *test_title[MXB_NTESTS] = {"Perturbation test", "Segmentation test"};

/* ---- writing safely ------------------------------------------------------------------- */

/* Text from a file as HTML: markup characters escaped, control characters dropped
 * (but newline and tab), and bytes that are not UTF-8 shown as U+FFFD, so the page
 * is valid UTF-8 whatever the file holds. */
static void esc(FILE *f, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c < 0x80) {
            if (c == '&') fputs("&amp;", f);
            else if (c == '<') fputs("&lt;", f);
            else if (c == '>') fputs("&gt;", f);
            else if (c == '"') fputs("&quot;", f);
            else if (c == '\'') fputs("&#39;", f);
            else if (c >= 0x20 || c == '\n' || c == '\t') fputc((int)c, f);
            p++;
            continue;
        }
        int len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
        int ok = len > 0;
        for (int i = 1; ok && i < len; i++) ok = (p[i] & 0xC0) == 0x80;
        if (ok && len == 3) { /* no overlong forms, no surrogates */
            unsigned v = (c & 0x0F) << 12 | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3Fu);
            ok = v >= 0x800 && (v < 0xD800 || v > 0xDFFF);
        }
        if (ok && len == 4) {
            unsigned v = (c & 0x07) << 18 | (p[1] & 0x3Fu) << 12 | (p[2] & 0x3Fu) << 6 | (p[3] & 0x3Fu);
            ok = v >= 0x10000 && v <= 0x10FFFF;
        }
        if (ok) {
            fwrite(p, 1, (size_t)len, f);
            p += len;
        } else {
            fputs("\xEF\xBF\xBD", f);
            p++;
        }
    }
}

static void base64(FILE *f, const unsigned char *p, size_t n) {
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        fputc(a[v >> 18 & 63], f);
        fputc(a[v >> 12 & 63], f);
        fputc(i + 1 < n ? a[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? a[v & 63] : '=', f);
    }
}

typedef struct {
    FILE *f;
    mxb_outfile out; /* io/outfile.c: a unique temporary, renamed into place */
} page;

static const char *style =
    "body{font-family:'DejaVu Sans',system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;"
    "color:#222;line-height:1.4}"
    "h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ccc;padding-bottom:.2em}"
    "table{border-collapse:collapse;margin:.6em 0;font-size:.92em}"
    "th,td{border:1px solid #ccc;padding:.25em .6em}th{background:#f2f2f2}tr>th:first-child{white-space:nowrap;text-align:left}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums;font-family:'DejaVu Sans Mono',monospace}"
    "tr.moved td{background:#fde2e1}tr.moved td.status{font-weight:bold;color:#a00}td.moved{background:#fde2e1}"
    "tr.missing td{background:#fde2e1}tr.new td{background:#e8f0fe}"
    ".verdict{padding:.6em 1em;border-radius:4px;font-weight:bold;display:inline-block}"
    ".pass{background:#e3f4e1;color:#1b5e20}.fail{background:#fde2e1;color:#a00}"
    "figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #ddd}"
    "figcaption{font-size:.9em;color:#444;max-width:900px}"
    "pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:.85em}"
    ".small{font-size:.85em;color:#555}"
    "#table-provenance{table-layout:fixed;width:100%}#table-provenance th:first-child{width:15em}"
    "#table-provenance td{overflow-wrap:anywhere;font-size:.9em}";

static int page_open(page *pg, const char *path, const char *title, char *err, size_t errlen) {
    if (mxb_outfile_open(&pg->out, path, err, errlen)) return -1;
    pg->f = pg->out.f;
    fprintf(pg->f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    esc(pg->f, title);
    fprintf(pg->f, "</title>\n<style>%s</style>\n</head>\n<body>\n", style);
    return 0;
}

/* Finishes the page and renames it into place; on any failure nothing is left at path. */
static int page_close(page *pg, int ok, char *err, size_t errlen) {
    if (ok) fprintf(pg->f, "<p class=\"small\">Written by mxb %s (%s).</p>\n</body>\n</html>\n", MXB_VERSION,
                    MXB_GIT_REV);
    if (!ok) {
        mxb_outfile_abort(&pg->out);
        return -1;
    }
    return mxb_outfile_commit(&pg->out, 1, err, errlen);
}

/* ---- the report page ------------------------------------------------------------------- */

static const mxb_metric *find(const mxb_metric *v, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i].name, name)) return &v[i];
    return NULL;
}

/* One number: the rounded text (value x scale, 2 decimals) and the metric's exact value. */
static void num(FILE *f, const mxb_metric *v, int n, double scale, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void num(FILE *f, const mxb_metric *v, int n, double scale, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const mxb_metric *m = find(v, n, name);
    fprintf(f, "<td class=\"num\" data-metric=\"");
    esc(f, name);
    if (!m) {
        fprintf(f, "\">–</td>");
    } else if (!isfinite(m->value)) {
        fprintf(f, "\" data-value=\"null\">n/a</td>");
    } else {
        fprintf(f, "\" data-value=\"%.17g\" data-scale=\"%g\">%.2f</td>", m->value, scale, m->value * scale);
    }
}

/* a pair the run skipped (the method does not support the model) */
static void skipped_td(FILE *f, int ncols) {
    for (int i = 0; i < ncols; i++)
        fprintf(f, "<td class=\"num skipped\" title=\"not run: the method does not support this model\">—</td>");
}

/* One method x model table of the summary table's columns `tab` (results/summary.c):
 * rows the methods, per model each column, a skipped pair as em dashes. */
static void method_table(FILE *f, const mxb_results *r, int t, mxb_sum_table tab, const char *id,
                         const mxb_metric *v, int n, const mxb_ci *pm) {
    mxb_res_sumslot sl[2 * MXB_RES_MAX_SUMROWS], c[2 * MXB_RES_MAX_SUMROWS];
    int ns = mxb_res_sumslots(r, t, sl), nc = 0, at[2 * MXB_RES_MAX_SUMROWS];
    for (int i = 0; i < ns; i++)
        if (sl[i].w->table == tab) at[nc] = i, c[nc++] = sl[i];
    fprintf(f, "<table class=\"metrics\" id=\"%s\">\n<tr><th>Method</th>", id);
    for (int m = 0; m < r->nmodels; m++)
        for (int i = 0; i < nc; i++) {
            fprintf(f, "<th>");
            esc(f, mxb_results_model_label(r, m));
            fprintf(f, " %s %s</th>", c[i].w->column[c[i].q],
                    mxb_better_arrow(mxb_res_slot_better(&c[i])));
        }
    fprintf(f, "</tr>\n");
    for (int k = 0; k < r->nmethods; k++) {
        fprintf(f, "<tr><th>");
        esc(f, r->methods[k]);
        fprintf(f, "</th>");
        for (int m = 0; m < r->nmodels; m++)
            for (int i = 0; i < nc; i++) {
                char name[256];
                mxb_res_sumrow_name(name, sizeof name, r, t, m, k, c[i].w, c[i].q, 0);
                if (r->skipped[m][k]) {
                    skipped_td(f, 1);
                } else if (pm && mxb_res_sumrow_has_ci(c[i].w)) { /* value ± half-width of its interval */
                    const mxb_ci *ci = mxb_report_ci(pm, t, m, k, at[i]);
                    const double sc = c[i].w->scale;
                    fprintf(f, "<td class=\"num\" data-metric=\"");
                    esc(f, name);
                    if (!isfinite(ci->value)) fprintf(f, "\">n/a</td>");
                    else if (!isfinite(ci->low)) fprintf(f, "\">%.2f ± n/a</td>", ci->value * sc);
                    else
                        fprintf(f, "\" data-low=\"%.17g\" data-high=\"%.17g\">%.2f ± %.2f</td>", ci->low, ci->high,
                                ci->value * sc, (ci->high - ci->low) / 2 * sc);
                } else {
                    num(f, v, n, c[i].w->scale, "%s", name);
                }
            }
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n");
}

/* The intervals of every scalar metric, and the paired tests, as tables. */
static int stats(FILE *f, const mxb_results *r, const mxb_report_opts *o, const mxb_ci *ci) {
    const mxb_boot_opts *b = o->boot;
    fprintf(f, "<h2 id=\"intervals\">Confidence intervals</h2>\n<p>%g %% percentile bootstrap over images (%d "
               "replicates, seed %llu), in the tables' units.</p>\n<table class=\"metrics\" id=\"table-intervals\">\n"
               "<tr><th>Test</th><th>Model</th><th>Method</th><th>Metric</th><th>Value</th><th>Low</th><th>High</th></tr>\n",
            100 * b->level, b->replicates, (unsigned long long)b->seed);
    for (int t = 0; t < MXB_NTESTS; t++) {
        if (!r->test[t].enabled) continue;
        mxb_res_sumslot sl[2 * MXB_RES_MAX_SUMROWS];
        const int ns = mxb_res_sumslots(r, t, sl);
        for (int m = 0; m < r->nmodels; m++)
            for (int k = 0; k < r->nmethods; k++)
                for (int s = 0; s < ns && !r->skipped[m][k]; s++) {
                    if (!mxb_res_sumrow_has_ci(sl[s].w)) continue;
                    const mxb_ci *c = mxb_report_ci(ci, t, m, k, s);
                    const double sc = sl[s].w->scale;
                    char metric[96];
                    mxb_res_slot_metric(metric, sizeof metric, &sl[s]);
                    fprintf(f, "<tr><td>%s</td><td>", mxb_test_names[t]);
                    esc(f, mxb_results_model_label(r, m));
                    fprintf(f, "</td><td>");
                    esc(f, r->methods[k]);
                    fprintf(f, "</td><td>%s</td><td class=\"num\">%.2f</td><td class=\"num\">%.2f</td>"
                               "<td class=\"num\">%.2f</td></tr>\n", metric, c->value * sc, c->low * sc, c->high * sc);
                }
    }
    fprintf(f, "</table>\n");
    if (!o->npairs) return 0;
    fprintf(f, "<h2 id=\"pairs\">Paired tests</h2>\n<p>Paired bootstrap over the images both ran (%d replicates, "
               "seed %llu): the difference A − B, its %g %% percentile interval and the two-sided p-value of the "
               "centred bootstrap.</p>\n<table class=\"metrics\" id=\"table-pairs\">\n<tr><th>Test</th><th>Metric</th>"
               "<th>A</th><th>B</th><th>A value</th><th>B value</th><th>A − B</th><th>Low</th><th>High</th><th>p</th><th>images</th></tr>\n",
            b->replicates, (unsigned long long)b->seed, 100 * b->level);
    for (int p = 0; p < o->npairs; p++) {
        const int *q = o->pair[p];
        for (int t = 0; t < MXB_NTESTS; t++) {
            if (!r->test[t].enabled || r->skipped[q[0]][q[1]] || r->skipped[q[2]][q[3]]) continue;
            mxb_res_sumslot sl[2 * MXB_RES_MAX_SUMROWS];
            mxb_pair_stat st[2 * MXB_RES_MAX_SUMROWS];
            const int ns = mxb_res_sumslots(r, t, sl);
            if (mxb_results_pair(r, t, q[0], q[1], q[2], q[3], sl, ns, b, st)) return -1;
            for (int s = 0; s < ns; s++) {
                if (!mxb_res_sumrow_has_ci(sl[s].w)) continue;
                const double sc = sl[s].w->scale;
                char metric[96];
                mxb_res_slot_metric(metric, sizeof metric, &sl[s]);
                fprintf(f, "<tr><td>%s</td><td>%s</td><td>", mxb_test_names[t], metric);
                esc(f, r->models[q[0]]), fputc('/', f), esc(f, r->methods[q[1]]);
                fprintf(f, "</td><td>");
                esc(f, r->models[q[2]]), fputc('/', f), esc(f, r->methods[q[3]]);
                fprintf(f, "</td><td class=\"num\">%.2f</td><td class=\"num\">%.2f</td><td class=\"num\">%.2f</td>"
                           "<td class=\"num\">%.2f</td><td class=\"num\">%.2f</td><td class=\"num\">%.4f</td>"
                           "<td class=\"num\">%d</td></tr>\n",
                        st[s].a * sc, st[s].b * sc, st[s].diff * sc, st[s].low * sc, st[s].high * sc, st[s].p, st[s].n);
            }
        }
    }
    fprintf(f, "</table>\n");
    return 0;
}

static void tables(FILE *f, const mxb_results *r, const mxb_metric *v, int n, const mxb_ci *pm) {
    const mxb_res_test *P = &r->test[MXB_TEST_PERTURBATION], *S = &r->test[MXB_TEST_SEGMENTATION];
    if (P->enabled) {
        fprintf(f, "<h2 id=\"perturbation\">%s (%d images)</h2>\n", test_title[0], P->n);
        fprintf(f, "<p>Area under the top-1 accuracy curve (%s) against the fraction of pixels removed (%s). "
                   "Positive: the most relevant pixels go first, lower is better; negative: the least "
                   "relevant first, higher is better.</p>\n",
                r->auc_y_fraction ? "accuracy as a fraction" : "accuracy in %",
                r->auc_x_normalized ? "x spread over [0, 1]" : "p = 0, 0.1, …, 0.9");
        method_table(f, r, MXB_TEST_PERTURBATION, MXB_TAB_AUC, "table-perturbation", v, n, pm);
        if (r->insdel_step > 0) { /* RISE insertion / deletion: only when the run made them */
            fprintf(f, "<h3>Insertion / deletion (RISE, %d pixels per step), in %%</h3>\n", r->insdel_step);
            fprintf(f, "<p>Mean area under the class probability as the most relevant pixels are put back on a "
                       "blurred image (insertion, higher is better) or removed (deletion, lower is better).</p>\n");
            method_table(f, r, MXB_TEST_PERTURBATION, MXB_TAB_INSDEL, "table-insdel", v, n, pm);
        }
        mxb_res_sumslot sl[2 * MXB_RES_MAX_SUMROWS];
        const int ns = mxb_res_sumslots(r, MXB_TEST_PERTURBATION, sl);
        fprintf(f, "<h3>Top-1 accuracy (%%) after removing the fraction p of the pixels</h3>\n");
        fprintf(f, "<table class=\"metrics\" id=\"table-curves\">\n<tr><th>Model</th><th>Method</th><th>Test</th>");
        for (int j = 0; j < MXB_RES_STEPS; j++) fprintf(f, "<th>p = %.1f</th>", j / 10.0);
        fprintf(f, "</tr>\n");
        for (int m = 0; m < r->nmodels; m++)
            for (int k = 0; k < r->nmethods; k++)
                for (int i = 0; i < ns; i++) {
                    const mxb_res_sumrow *w = sl[i].w;
                    if (w->table != MXB_TAB_CURVES || r->skipped[m][k]) continue; /* a skipped pair has no curve */
                    fprintf(f, "<tr><td>");
                    esc(f, mxb_results_model_label(r, m));
                    fprintf(f, "</td><td>");
                    esc(f, r->methods[k]);
                    fprintf(f, "</td><td>%s</td>", mxb_polarity_names[sl[i].q]);
                    for (int j = 0; j < mxb_res_sumrow_count(w); j++) {
                        char name[256];
                        mxb_res_sumrow_name(name, sizeof name, r, MXB_TEST_PERTURBATION, m, k, w, sl[i].q, j);
                        num(f, v, n, w->scale, "%s", name);
                    }
                    fprintf(f, "</tr>\n");
                }
        fprintf(f, "</table>\n");
    }
    if (S->enabled) {
        fprintf(f, "<h2 id=\"segmentation\">%s (%d images), in %%</h2>\n", test_title[1], S->n);
        fprintf(f, "<p>The map, upsampled, min-max normalised and thresholded at its mean, against the object "
                   "mask: pixel accuracy, mean IoU over background and object, mean average precision, mean "
                   "F1 and the pointing game (the map's maximum inside the mask); all higher is better.</p>\n");
        method_table(f, r, MXB_TEST_SEGMENTATION, MXB_TAB_SEG, "table-segmentation", v, n, pm);
    }
}

/* The path of folder `dir` relative to the folder of page `page` ("figs", "../out/figs"),
 * both resolved (realpath: symbolic links, "..") and split at '/'; -1 when either
 * cannot be resolved or the result does not fit. */
static int relative_dir(const char *page, const char *dir, char *out, size_t n) {
    char *pd = mxb_try_strdup(page), *a = NULL, *b = NULL;
    int rc = -1;
    if (!pd) return -1;
    char *slash = strrchr(pd, '/');
    if (!slash) a = realpath(".", NULL);
    else if (slash == pd) a = realpath("/", NULL);
    else *slash = 0, a = realpath(pd, NULL);
    b = realpath(dir, NULL);
    if (a && b) {
        if (!strcmp(a, "/")) a[0] = 0; /* the root: no component */
        if (!strcmp(b, "/")) b[0] = 0;
        /* the common leading components */
        size_t i = 0, last = 0;
        while (a[i] && a[i] == b[i]) {
            if (a[i] == '/') last = i;
            i++;
        }
        if (!a[i] && (!b[i] || b[i] == '/')) last = i;      /* a is b or a folder above it */
        else if (!b[i] && a[i] == '/') last = i;            /* b is a folder above a */
        size_t k = 0;
        out[0] = 0;
        int up = 0;
        for (const char *p = a + last; *p; p++) up += *p == '/';
        for (int u = 0; u < up && k + 4 < n; u++) k += (size_t)snprintf(out + k, n - k, "../");
        const char *rest = b + last + (b[last] == '/');
        if (k + strlen(rest) + 2 < n) {
            k += (size_t)snprintf(out + k, n - k, "%s", rest);
            if (!k) snprintf(out, n, ".");
            else if (out[k - 1] == '/') out[k - 1] = 0;
            rc = 0;
        }
    }
    free(pd), free(a), free(b);
    return rc;
}

/* A relative URL path: every byte but letters, digits and - . _ ~ / as %XX (RFC 3986) */
static void url_path(FILE *f, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~/", *p))
            fputc(*p, f);
        else
            fprintf(f, "%%%02X", *p);
}

static int figures(FILE *f, const mxb_results *r, const char *results_path, const char *href_dir, char *err,
                   size_t errlen) {
    mxb_figures *F = mxb_figures_build(r, results_path, err, errlen);
    if (!F) return -1;
    fprintf(f, "<h2 id=\"figures\">Figures</h2>\n");
    if (!mxb_figures_count(F)) fprintf(f, "<p>The file holds nothing to draw.</p>\n");
    int rc = 0;
    for (int i = 0; i < mxb_figures_count(F) && !rc; i++) {
        /* curves as vector graphics; the image grids as PNG (they are pixels anyway) */
        const int svg = !strcmp(mxb_figures_name(F, i), "perturbation");
        unsigned char *buf;
        size_t n;
        double w, h;
        if ((rc = mxb_figures_render(F, i, svg, &buf, &n, err, errlen))) break;
        mxb_figures_size(F, i, &w, &h);
        fprintf(f, "<figure id=\"fig-");
        esc(f, mxb_figures_name(F, i));
        fprintf(f, "\">");
        if (href_dir) { /* the thumbnail opens the full-size PNG that --figures wrote */
            fprintf(f, "<a href=\"");
            url_path(f, href_dir);
            fputc('/', f);
            url_path(f, mxb_figures_name(F, i));
            fprintf(f, ".png\">");
        }
        fprintf(f, "<img width=\"%.0f\" height=\"%.0f\" alt=\"", w, h);
        esc(f, mxb_figures_title(F, i));
        fprintf(f, "\" src=\"data:image/%s;base64,", svg ? "svg+xml" : "png");
        base64(f, buf, n);
        free(buf);
        fprintf(f, "\">%s\n<figcaption><b>", href_dir ? "</a>" : "");
        esc(f, mxb_figures_title(F, i));
        fprintf(f, ".</b> ");
        esc(f, mxb_figures_caption(F, i));
        fprintf(f, "</figcaption></figure>\n");
    }
    mxb_figures_free(F);
    return rc;
}

static void provenance(FILE *f, const mxb_results *r) {
    fprintf(f, "<h2 id=\"provenance\">Provenance</h2>\n<table id=\"table-provenance\">\n");
    for (int i = 0; i < r->nattrs; i++) {
        if (!strcmp(r->attr_name[i], "config")) continue;
        fprintf(f, "<tr><th>");
        esc(f, r->attr_name[i]);
        fprintf(f, "</th><td>");
        esc(f, r->attr_value[i]);
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</table>\n");
    const char *config = mxb_results_attr(r, "config");
    if (config) {
        fprintf(f, "<h3>Configuration, as read</h3>\n<pre id=\"config\">");
        esc(f, config);
        fprintf(f, "</pre>\n");
    }
}

int mxb_report_html(const mxb_results *r, const char *results_path, const char *out_path, char *err,
                    size_t errlen) {
    return mxb_report_html_with(r, results_path, out_path, NULL, err, errlen);
}

int mxb_report_html_with(const mxb_results *r, const char *results_path, const char *out_path,
                         const mxb_report_opts *o, char *err, size_t errlen) {
    mxb_metric *v = NULL;
    int n = mxb_results_metrics(r, &v);
    if (n < 0) return mxb_seterr(err, errlen, "out of memory"), -1;
    mxb_ci *ci = o && o->boot ? mxb_report_intervals(r, o->boot) : NULL;
    if (o && o->boot && !ci) return free(v), mxb_seterr(err, errlen, "out of memory"), -1;
    page pg;
    char title[4200];
    snprintf(title, sizeof title, "mxb report: %s", results_path);
    if (page_open(&pg, out_path, title, err, errlen)) return free(v), free(ci), -1;
    FILE *f = pg.f;
    fprintf(f, "<h1>mxb report</h1>\n<p><code>");
    esc(f, results_path);
    fprintf(f, "</code>: models");
    for (int m = 0; m < r->nmodels; m++) {
        fprintf(f, "%s<b>", m ? ", " : " ");
        esc(f, mxb_results_model_label(r, m));
        fprintf(f, "</b>");
        if (strcmp(mxb_results_model_label(r, m), r->models[m])) { /* a label: the name in the file too */
            fprintf(f, " (");
            esc(f, r->models[m]);
            fprintf(f, ")");
        }
    }
    fprintf(f, "; methods");
    for (int k = 0; k < r->nmethods; k++) {
        fprintf(f, "%s<b>", k ? ", " : " ");
        esc(f, r->methods[k]);
        fprintf(f, "</b>");
    }
    fprintf(f, ".</p>\n<p class=\"small\">Contents: %s%s<a href=\"#figures\">figures</a> · "
               "<a href=\"#provenance\">provenance</a></p>\n",
            r->test[MXB_TEST_PERTURBATION].enabled ? "<a href=\"#perturbation\">perturbation</a> · " : "",
            r->test[MXB_TEST_SEGMENTATION].enabled ? "<a href=\"#segmentation\">segmentation</a> · " : "");
    char w[4096];
    if (mxb_results_warnings(r, 1, w, sizeof w))
        for (char *line = strtok(w, "\n"); line; line = strtok(NULL, "\n")) {
            fprintf(f, "<p class=\"warning\"><b>Warning:</b> ");
            esc(f, line);
            fprintf(f, "</p>\n");
        }
    tables(f, r, v, n, o && o->pm ? ci : NULL);
    free(v);
    int rc = ci && stats(f, r, o, ci) ? (mxb_seterr(err, errlen, "out of memory"), -1) : 0;
    free(ci);
    char href[4096];
    if (!rc && o && o->figdir && relative_dir(out_path, o->figdir, href, sizeof href)) {
        mxb_seterr(err, errlen, "%s: cannot link the figures in %s from the page (a path that does not resolve)",
                   out_path, o->figdir);
        rc = -1;
    }
    if (!rc) rc = figures(f, r, results_path, o && o->figdir ? href : NULL, err, errlen);
    if (!rc) provenance(f, r);
    return page_close(&pg, rc == 0, err, errlen) || rc ? -1 : 0;
}

/* ---- the comparison page ------------------------------------------------------------------ */

typedef struct {
    FILE *f;
    int open;
} diff_page;

static void diff_line(void *user, char side, const char *what, const char *text) {
    diff_page *d = user;
    if (!d->open) fprintf(d->f, "<pre id=\"config-diff-lines\">"), d->open = 1;
    fprintf(d->f, "<span class=\"%s\">%c ", side == '-' ? "old" : "new", side);
    if (strcmp(what, "config")) {
        esc(d->f, what);
        fputs(": ", d->f);
    }
    esc(d->f, text);
    fputs("</span>\n", d->f);
}

int mxb_compare_html(const mxb_results *a, const char *path_a, const mxb_results *b, const char *path_b,
                     double tol, double rel, const char *out_path, char *err, size_t errlen) {
    mxb_metric *va = NULL, *vb = NULL;
    int na = mxb_results_metrics(a, &va), nb = mxb_results_metrics(b, &vb);
    if (na < 0 || nb < 0) {
        free(va), free(vb);
        return mxb_seterr(err, errlen, "out of memory"), -1;
    }
    page pg;
    if (page_open(&pg, out_path, "mxb compare", err, errlen)) return free(va), free(vb), -1;
    FILE *f = pg.f;
    int moved = 0, added = 0;
    for (int i = 0; i < na; i++) moved += mxb_metric_moved(&va[i], find(vb, nb, va[i].name), tol, rel, NULL);
    for (int i = 0; i < nb; i++) added += !find(va, na, vb[i].name);
    fprintf(f, "<h1>mxb compare</h1>\n<table id=\"files\"><tr><th>baseline</th><td><code>");
    esc(f, path_a);
    fprintf(f, "</code></td></tr><tr><th>new</th><td><code>");
    esc(f, path_b);
    fprintf(f, "</code></td></tr></table>\n");
    const double shown = mxb_metrics_tolerance(va, na, tol); /* NaN: the metrics' defaults differ */
    fprintf(f, "<p>A metric moves when |new − baseline| &gt; ");
    if (isnan(shown)) fprintf(f, "its tolerance (allowed, below)");
    else fprintf(f, "%g", shown);
    fprintf(f, " + %g × |baseline|; a metric missing from the new file, or NaN in one file only, counts as "
               "moved.</p>\n", rel);
    char pairs[MXB_RES_MAX_MODELS * MXB_RES_MAX_METHODS][160];
    int in_b[MXB_RES_MAX_MODELS * MXB_RES_MAX_METHODS];
    const int npairs = mxb_results_skip_diff(a, b, pairs, in_b, MXB_RES_MAX_MODELS * MXB_RES_MAX_METHODS);
    if (moved) fprintf(f, "<p class=\"verdict fail\" id=\"verdict\">%d of %d metrics moved past tolerance</p>\n", moved, na);
    else if (npairs) fprintf(f, "<p class=\"verdict fail\" id=\"verdict\">a (model, method) pair is run in one file and skipped in the other</p>\n");
    else fprintf(f, "<p class=\"verdict pass\" id=\"verdict\">all %d metrics within tolerance</p>\n", na);
    if (npairs) { /* skipped in both is fine; in one only, a difference */
        fprintf(f, "<h2>Pairs skipped in one file only</h2>\n<ul id=\"skipped-list\">\n");
        for (int i = 0; i < npairs && i < MXB_RES_MAX_MODELS * MXB_RES_MAX_METHODS; i++) {
            fprintf(f, "<li><code>");
            esc(f, pairs[i]);
            fprintf(f, "</code>: skipped in the %s file</li>\n", in_b[i] ? "new" : "baseline");
        }
        fprintf(f, "</ul>\n");
    }
    if (moved) {
        fprintf(f, "<h2>Moved</h2>\n<ul id=\"moved-list\">\n");
        for (int i = 0; i < na; i++) {
            const mxb_metric *y = find(vb, nb, va[i].name);
            double d;
            if (!mxb_metric_moved(&va[i], y, tol, rel, &d)) continue;
            fprintf(f, "<li><code>");
            esc(f, va[i].name);
            if (!y) fprintf(f, "</code>: missing from the new file</li>\n");
            else if (isnan(d)) fprintf(f, "</code>: NaN in one file only</li>\n");
            else
                fprintf(f, "</code>: %.6g → %.6g (%+.4g, %s)</li>\n", va[i].value, y->value, d,
                        va[i].better == 0 ? "no better direction" : (d > 0) == (va[i].better > 0) ? "better" : "worse");
        }
        fprintf(f, "</ul>\n");
    }
    /* the files' provenance side by side: what changed between the two runs */
    static const char *keys[] = {"git_revision", "mxb_version", "finished", "host", "threads", "variant",
                                 "class", "models_sha256", "data_sha256_perturbation", "data_sha256_segmentation",
                                 "run_key"};
    fprintf(f, "<h2>Provenance</h2>\n<table id=\"table-provenance\"><tr><th>attribute</th><th>baseline</th>"
               "<th>new</th></tr>\n");
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        const char *x = mxb_results_attr(a, keys[k]), *y = mxb_results_attr(b, keys[k]);
        if (!x && !y) continue;
        fprintf(f, "<tr%s><th>%s</th><td>", x && y && strcmp(x, y) ? " class=\"new\"" : "", keys[k]);
        esc(f, x ? x : "–");
        fprintf(f, "</td><td>");
        esc(f, y ? y : "–");
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</table>\n");
    fprintf(f, "<h2>Every metric</h2>\n<table class=\"metrics\" id=\"table-compare\">\n<tr><th>metric</th>"
               "<th>better</th><th>baseline</th><th>new</th><th>change</th><th>allowed</th><th>status</th></tr>\n");
    for (int i = 0; i < na; i++) {
        const mxb_metric *x = &va[i], *y = find(vb, nb, x->name);
        double d;
        int bad = mxb_metric_moved(x, y, tol, rel, &d);
        fprintf(f, "<tr class=\"%s\" data-metric=\"", !y ? "missing moved" : bad ? "moved" : "within");
        esc(f, x->name);
        fprintf(f, "\"><td>");
        esc(f, x->name);
        fprintf(f, "</td><td>%s</td><td class=\"num\">%.6g</td>", x->better > 0 ? "↑" : x->better < 0 ? "↓" : "",
                x->value);
        if (y) fprintf(f, "<td class=\"num\">%.6g</td>", y->value);
        else fprintf(f, "<td class=\"num\">–</td>");
        if (isnan(d)) fprintf(f, "<td class=\"num\">–</td>");
        else fprintf(f, "<td class=\"num\">%+.4g</td>", d);
        fprintf(f, "<td class=\"num\">%.3g</td><td class=\"status\">%s</td></tr>\n",
                mxb_metric_tolerance(x, tol) + rel * fabs(x->value),
                !y ? "MISSING" : !bad ? "ok" : isnan(d) || !x->better ? "MOVED" : d * x->better > 0 ? "MOVED, better"
                                                                                              : "MOVED, worse");
    }
    for (int i = 0; i < nb; i++) {
        if (find(va, na, vb[i].name)) continue;
        fprintf(f, "<tr class=\"new\" data-metric=\"");
        esc(f, vb[i].name);
        fprintf(f, "\"><td>");
        esc(f, vb[i].name);
        fprintf(f, "</td><td></td><td class=\"num\">–</td><td class=\"num\">%.6g</td><td></td><td></td>"
                   "<td class=\"status\">NEW</td></tr>\n", vb[i].value);
    }
    fprintf(f, "</table>\n");
    if (added) fprintf(f, "<p>%d metric(s) only in the new file (not counted as moved).</p>\n", added);
    /* what the two runs were told to do differently */
    fprintf(f, "<h2 id=\"config-diff\">Configuration and method parameters</h2>\n");
    diff_page dp = {f, 0};
    const int ndiff = mxb_results_config_diff(a, b, diff_line, &dp);
    if (dp.open) fprintf(f, "</pre>\n");
    if (ndiff == 0) fprintf(f, "<p>The same in both runs (comments and blank lines aside).</p>\n");
    free(va), free(vb);
    return page_close(&pg, 1, err, errlen);
}

/* ---- the trend page (mxb history html) ------------------------------------------------------ */

static void exact_td(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "<td class=\"num\" data-value=\"%.17g\">%.6g</td>", v, v);
    else fprintf(f, "<td class=\"num\" data-value=\"null\">n/a</td>");
}

/* the word for a change d of a metric whose better direction is b */
static const char *change_word(double d, int b) {
    return isnan(d) || !b ? "moved" : d * b > 0 ? "better" : "worse";
}

int mxb_trend_html(const char *title, const mxb_trend *t, int ntrends, const mxb_trend_runs *runs,
                   const char *out_path, char *err, size_t errlen) {
    page pg;
    if (page_open(&pg, out_path, title, err, errlen)) return -1;
    FILE *f = pg.f;
    const int last = runs->n - 1;
    fprintf(f, "<h1>");
    esc(f, title);
    fprintf(f, "</h1>\n<p>%d run%s, %d metric%s.", runs->n, runs->n == 1 ? "" : "s", ntrends, ntrends == 1 ? "" : "s");
    if (last >= 0) {
        fprintf(f, " Latest: run %ld (", runs->id[last]);
        esc(f, runs->finished[last]);
        fprintf(f, ", revision <code>");
        esc(f, runs->revision[last]);
        fprintf(f, "</code>).");
    }
    fprintf(f, "</p>\n<p class=\"small\">Contents: <a href=\"#summary\">what moved</a> · <a href=\"#trends\">trends</a>"
               " · <a href=\"#runs\">runs</a></p>\n");
    /* what moved in the last run: against the run before it, against the window's median */
    fprintf(f, "<h2 id=\"summary\">What moved in the latest run</h2>\n");
    int nmoved = 0;
    for (int m = 0; m < ntrends && last >= 1; m++) {
        const mxb_trend *T = &t[m];
        const double v = T->value[last], p = T->value[last - 1], c = T->centre[last];
        const int vs_prev = isnan(v) != isnan(p) || (!isnan(v) && fabs(v - p) > T->tolerance);
        if (!vs_prev && !T->moved[last]) continue;
        if (!nmoved++)
            fprintf(f, "<table id=\"table-moved\">\n<tr><th>metric</th><th>latest</th><th>previous</th><th>change</th>"
                       "<th>median of the runs before</th><th>change</th><th>tolerance</th></tr>\n");
        fprintf(f, "<tr data-metric=\"");
        esc(f, T->name);
        fprintf(f, "\"><th><a href=\"#trend-%d\">", m);
        esc(f, T->name);
        fprintf(f, "</a> %s</th>", mxb_better_arrow(T->better));
        exact_td(f, v);
        exact_td(f, p);
        fprintf(f, "<td>%s%s</td>", vs_prev ? change_word(v - p, T->better) : "within", vs_prev ? "" : " tolerance");
        exact_td(f, c);
        fprintf(f, "<td>%s%s</td>", T->moved[last] ? change_word(v - c, T->better) : "within",
                T->moved[last] ? "" : " tolerance");
        exact_td(f, T->tolerance);
        fprintf(f, "</tr>\n");
    }
    if (nmoved) fprintf(f, "</table>\n");
    else fprintf(f, "<p id=\"nothing-moved\">Nothing moved past its tolerance%s.</p>\n",
                 last >= 1 ? "" : " (one run: nothing to compare with yet)");
    /* one figure and one table per metric */
    fprintf(f, "<h2 id=\"trends\">Trends</h2>\n");
    double w, h;
    mxb_trend_size(&w, &h);
    int rc = 0;
    for (int m = 0; m < ntrends && !rc; m++) {
        const mxb_trend *T = &t[m];
        unsigned char *buf;
        size_t n;
        if ((rc = mxb_trend_png(T, &buf, &n, err, errlen))) break;
        fprintf(f, "<section id=\"trend-%d\" data-metric=\"", m);
        esc(f, T->name);
        fprintf(f, "\">\n<h3>");
        esc(f, T->name);
        fprintf(f, " %s</h3>\n<figure><img width=\"%.0f\" height=\"%.0f\" alt=\"trend of ", mxb_better_arrow(T->better), w, h);
        esc(f, T->name);
        fprintf(f, "\" src=\"data:image/png;base64,");
        base64(f, buf, n);
        free(buf);
        fprintf(f, "\">\n<figcaption>The value at each run (x: revision, oldest first), the band it is held to (the "
                   "median of the %d runs before it ± %g) and the runs outside it, ringed. %s is better.</figcaption>"
                   "</figure>\n<table class=\"values\"><tr><th>run</th>",
                T->window, T->tolerance, T->better > 0 ? "Higher" : T->better < 0 ? "Lower" : "Neither direction");
        for (int i = 0; i < T->n; i++) fprintf(f, "<th>%ld</th>", runs->id[i]);
        fprintf(f, "</tr>\n<tr><th>value</th>");
        for (int i = 0; i < T->n; i++) {
            if (isnan(T->value[i])) fprintf(f, "<td class=\"num\" data-run=\"%ld\" data-value=\"null\">–</td>", runs->id[i]);
            else fprintf(f, "<td class=\"num%s\" data-run=\"%ld\" data-value=\"%.17g\">%.4g</td>", T->moved[i] ? " moved" : "",
                         runs->id[i], T->value[i], T->value[i]);
        }
        fprintf(f, "</tr>\n</table>\n</section>\n");
    }
    if (!rc) {
        fprintf(f, "<h2 id=\"runs\">Runs</h2>\n<table id=\"table-runs\"><tr><th>run</th><th>finished</th>"
                   "<th>revision</th><th>label</th></tr>\n");
        for (int i = 0; i < runs->n; i++) {
            fprintf(f, "<tr><td>%ld</td><td>", runs->id[i]);
            esc(f, runs->finished[i]);
            fprintf(f, "</td><td><code>");
            esc(f, runs->revision[i]);
            fprintf(f, "</code></td><td>");
            esc(f, runs->label[i]);
            fprintf(f, "</td></tr>\n");
        }
        fprintf(f, "</table>\n");
    }
    return page_close(&pg, rc == 0, err, errlen) || rc ? -1 : 0;
}
