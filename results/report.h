/*
 * results/report.h — what a person reads from a results file: the paper's tables,
 * JSON/CSV metrics, curves (report.c), figures (figures.c, cairo), the HTML report and
 * mxb compare's page (html.c).
 */
#ifndef MXB_RESULTS_REPORT_H
#define MXB_RESULTS_REPORT_H

#include "results/store.h"

#include <stddef.h>
#include <stdio.h>

/* ---- reports (results/report.c) ---- */

/* The paper's tables (rows: methods; columns: models) as "md" or as LaTeX booktabs
 * tables, "tex" (best per column in bold), every summary metric under its stable name
 * as "json" or "csv". Returns -1 for an unknown format. */
int mxb_report_print(const mxb_results *r, FILE *f, const char *format);
/* Uncertainty in a report (results/bootstrap.c; docs: mxb report --help): intervals of
 * every scalar metric when boot is set, "value ± half-width" cells in the tables when
 * pm, and paired bootstrap tests of model/method pairs. */
#define MXB_REPORT_MAX_PAIRS 8
typedef struct {
    const mxb_boot_opts *boot;              /* NULL: no intervals, no pairs */
    int pm;                                 /* tables: value ± half-width of its interval */
    int npairs;
    int pair[MXB_REPORT_MAX_PAIRS][4];      /* model a, method a, model b, method b */
    /* html: the folder the figures were written to (mxb_report_figures): each figure of
     * the page links to its full-size PNG there, by a path relative to the page; NULL:
     * no links */
    const char *figdir;
} mxb_report_opts;
/* mxb_report_print with intervals and paired tests (md: a section each; json: the
 * "bootstrap", "intervals" and "pairs" members; csv: low and high columns; tex: every
 * cell "value $\pm$ half-width" when intervals are computed, no paired tests). -1: an
 * unknown format or out of memory. */
int mxb_report_print_with(const mxb_results *r, FILE *f, const char *format, const mxb_report_opts *o);
/* Every interval of r: ci[((t * MXB_RES_MAX_MODELS + m) * MXB_RES_MAX_METHODS + k) *
 * 2 * MXB_RES_MAX_SUMROWS + s] for slot s of mxb_res_sumslots(r, t); NULL out of memory. */
mxb_ci *mxb_report_intervals(const mxb_results *r, const mxb_boot_opts *o);
const mxb_ci *mxb_report_ci(const mxb_ci *all, int t, int m, int k, int s);
/* The metric of a slot without "<test>/<model>/<method>/": "positive_auc", "miou". */
void mxb_res_slot_metric(char *out, size_t len, const mxb_res_sumslot *s);
/* The label sanity lines of r (docs/PAPER.md, the label trap), '\n'-separated into out:
 * with stored != 0 first the run's own (the "warnings" attribute: class folders that do
 * not fit a model, one label for every image), then one per model whose top-1 accuracy
 * on the unperturbed images is at or below chance (1 / its classes, the "num_classes"
 * attribute). Returns the count. */
int mxb_results_warnings(const mxb_results *r, int stored, char *out, size_t len);
/* A JSON string (RFC 8259): valid UTF-8 (invalid bytes as their code point), quotes,
 * backslashes and control characters escaped; the report's and mxb methods' writer. */
void mxb_json_string(FILE *f, const char *s);
/* A JSON number: %.17g (round-trips a double), null when not finite */
void mxb_json_number(FILE *f, double v);
/* Per-step accuracy curves as a Markdown table. */
void mxb_report_curves(const mxb_results *r, FILE *f);
/* ---- figures (results/figures.c, drawn with cairo) ---- */

/* Method k's pen in the curves and their legend: colour k % MXB_PEN_COLOURS of the
 * palette (tab10), line style (0 solid, 1 dashed, 2 dotted, 3 dash-dot) the number of
 * times the colours wrapped, so the first MXB_PEN_COLOURS * MXB_PEN_STYLES methods
 * differ in (colour, style) pairwise; marker k % 4 (circle, square, triangle, diamond). */
#define MXB_PEN_COLOURS 10
#define MXB_PEN_STYLES 4
typedef struct {
    double rgb[3];
    int style, marker;
} mxb_pen;
void mxb_method_pen(int k, mxb_pen *p);

/* The report's figures: perturbation curves, the overlay grid, and one attention figure
 * per image whose /attention matrices the file holds (results_path: the file r was
 * read from; NULL leaves the attention figures out). Fails when no font can draw text. */
typedef struct mxb_figures mxb_figures;
mxb_figures *mxb_figures_build(const mxb_results *r, const char *results_path, char *err, size_t errlen);
void mxb_figures_free(mxb_figures *F);
/* 0 when no system font is installed: cairo then draws text in its built-in stroke
 * font (ASCII only; arrows become boxes). Install fonts-dejavu-core. */
int mxb_figures_system_font(void);
/* Frees cairo's and fontconfig's caches (fonts found, faces loaded) once no figure
 * object is left: a command calls it before exiting so leak checkers see no leak. */
void mxb_figures_release(void);
int mxb_figures_count(const mxb_figures *F);
const char *mxb_figures_name(const mxb_figures *F, int i);    /* file stem: "perturbation" */
const char *mxb_figures_title(const mxb_figures *F, int i);
const char *mxb_figures_caption(const mxb_figures *F, int i); /* what is where, in words */
void mxb_figures_size(const mxb_figures *F, int i, double *w, double *h); /* points */
/* Figure i as PNG (svg 0; 2 pixels per point) or SVG (svg 1) in a malloc'd buffer. */
int mxb_figures_render(const mxb_figures *F, int i, int svg, unsigned char **out, size_t *n, char *err,
                       size_t errlen);
/* Every figure as NAME.png and NAME.svg into dir, with figures.md saying what is where. */
int mxb_report_figures(const mxb_results *r, const char *results_path, const char *dir, char *err,
                       size_t errlen);

/* ---- the HTML report (results/html.c): one self-contained page, no script ---- */

/* The tables, curves, overlays, attention figures and provenance of one results file. */
int mxb_report_html(const mxb_results *r, const char *results_path, const char *out_path, char *err,
                    size_t errlen);
/* The same with intervals, ± cells and paired tests (o may be NULL). */
int mxb_report_html_with(const mxb_results *r, const char *results_path, const char *out_path,
                         const mxb_report_opts *o, char *err, size_t errlen);
/* Whether metric y (NULL: missing) moved from x past |y - x| > tol + rel * |x|; *d gets
 * the change. tol < 0: the metric's own default (x->tolerance, the summary table's).
 * The rule of mxb compare, shared by its text and HTML output. */
int mxb_metric_moved(const mxb_metric *x, const mxb_metric *y, double tol, double rel, double *d);
/* The tolerance metric x is held to: tol, or its own default when tol < 0. */
double mxb_metric_tolerance(const mxb_metric *x, double tol);
/* The tolerance every metric of v is held to, for the one-line rule compare prints:
 * tol, or (tol < 0) the metrics' common default; NaN when their defaults differ. */
double mxb_metrics_tolerance(const mxb_metric *v, int n, double tol);
/* What the two runs' configurations differ in: every configuration line (comments and
 * blank lines left out) of a that b lacks as fn(user, '-', "config", LINE), of b that a
 * lacks as '+', and each method's resolved parameters (method_params_NAME) that differ
 * as '-' a's value then '+' b's (one side only when the other lacks it). Returns the
 * number of differences, -1 when memory runs out. */
typedef void (*mxb_diff_fn)(void *user, char side, const char *what, const char *text);
int mxb_results_config_diff(const mxb_results *a, const mxb_results *b, mxb_diff_fn fn, void *user);
/* mxb compare as a page: every metric, baseline, new, change, the threshold, and which moved. */
int mxb_compare_html(const mxb_results *a, const char *path_a, const mxb_results *b, const char *path_b,
                     double tol, double rel, const char *out_path, char *err, size_t errlen);

/* ---- trend pages (mxb history html): one metric over many runs ---- */

/* One metric's series, oldest run first: its values, the band it is held to at each
 * run (centre +- tolerance; centre: the median of the `window` runs before it, NaN
 * where there is none) and which runs moved out of it. */
typedef struct {
    const char *name;
    int better;                  /* +1 higher, -1 lower, 0 neither */
    double tolerance;
    int window;
    int n;                       /* runs */
    const double *value;         /* [n] NaN: absent or NaN */
    const double *centre;        /* [n] */
    const unsigned char *moved;  /* [n] */
    const char *const *x;        /* [n] the x tick labels (the runs' revisions) */
} mxb_trend;
/* A trend figure (results/figures.c): value, band, moved points, axes, labels, legend;
 * PNG at 2 pixels per point in a malloc'd buffer. */
int mxb_trend_png(const mxb_trend *t, unsigned char **out, size_t *n, char *err, size_t errlen);
void mxb_trend_size(double *w, double *h); /* points */
/* The runs of a trend page, oldest first: id and three columns of text each. */
typedef struct {
    int n;
    const long *id;
    const char *const *finished, *const *revision, *const *label;
} mxb_trend_runs;
/* The trend page (results/html.c): one self-contained page, a summary at the top of
 * what moved in the last run against the run before it and against the median of the
 * window, then a figure and a table of values per metric, then the runs. Every number
 * carries its exact value (data-value). */
int mxb_trend_html(const char *title, const mxb_trend *t, int ntrends, const mxb_trend_runs *runs,
                   const char *out_path, char *err, size_t errlen);

#endif
