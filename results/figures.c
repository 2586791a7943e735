/* The report's figures, drawn with cairo: each figure is one draw function over a
 * size in points, rendered as PNG (2 pixels per point) or SVG, to a file or to memory
 * (the HTML report embeds them). Images that are data (mxb explain --png) stay with
 * libpng (png.c); everything a person reads as a plot comes from here, with axes,
 * ticks, labelled units, titles, legends and headers. */
#include "results/results.h"

#include "io/io.h"

#include "metrics/metrics.h"

#include <cairo-svg.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FONT "DejaVu Sans"
#define PNG_SCALE 2.0
#define ATT_ROWS 4      /* layers shown per attention figure */
/* attention figures per test: every image whose attention was stored, up to this many
 * (the first; README says so). Each figure holds its matrices in memory while drawing. */
#define ATT_IMAGES 64
#define MAX_FIGS (2 + MXB_NTESTS * ATT_IMAGES)


typedef struct figure figure;
struct figure {
    char name[96], title[256];
    char *caption;                 /* Markdown-free text, malloc'd */
    double w, h;                   /* points */
    void (*draw)(cairo_t *cr, const figure *f);
    const mxb_results *r;
    int test;
    /* attention: per model, the chosen layers' L x L matrices */
    int index, row;                /* dataset index of the image, its row in the test */
    int nrows, depth[MXB_RES_MAX_MODELS], layer[MXB_RES_MAX_MODELS][ATT_ROWS];
    int L[MXB_RES_MAX_MODELS], is_vim[MXB_RES_MAX_MODELS];
    float *mat[MXB_RES_MAX_MODELS][ATT_ROWS];
    const uint8_t *image;          /* [S, S, 3] or NULL */
};

struct mxb_figures {
    int n;
    figure fig[MAX_FIGS];
};

/* ---- drawing helpers ----------------------------------------------------------------- */

/* Tableau's ten categorical colours (matplotlib's tab10), in its order */
static const double palette[MXB_PEN_COLOURS][3] = {
    {0.12, 0.47, 0.71}, {1.00, 0.50, 0.05}, {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16}, {0.58, 0.40, 0.74},
    {0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.50, 0.50, 0.50}, {0.74, 0.74, 0.13}, {0.09, 0.75, 0.81}};

void mxb_method_pen(int k, mxb_pen *p) {
    k = k < 0 ? 0 : k;
    memcpy(p->rgb, palette[k % MXB_PEN_COLOURS], sizeof p->rgb);
    p->style = (k / MXB_PEN_COLOURS) % MXB_PEN_STYLES; /* the colours wrapped: the next line style */
    p->marker = k % 4;
}

static void font(cairo_t *cr, double size, int bold) {
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static double text_width(cairo_t *cr, const char *s) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

/* Text anchored at (x, y): ax 0 left, 0.5 centre, 1 right; y is the middle of the
 * capital letters, so labels line up with ticks. */
static void text_at(cairo_t *cr, double x, double y, double ax, const char *s) {
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    cairo_move_to(cr, x - ax * text_width(cr, s), y + fe.ascent * 0.36);
    cairo_show_text(cr, s);
}

/* Text that must fit in width w: shrinks the font down to 7 points, then cuts with "…". */
static void text_fit(cairo_t *cr, double x, double y, double ax, double w, double size, int bold, const char *s) {
    font(cr, size, bold);
    while (text_width(cr, s) > w && size > 7) font(cr, size -= 0.5, bold);
    if (text_width(cr, s) <= w) {
        text_at(cr, x, y, ax, s);
        return;
    }
    char buf[256];
    size_t n = strlen(s) < sizeof buf - 4 ? strlen(s) : sizeof buf - 4;
    for (; n > 0; n--) {
        if (((unsigned char)s[n] & 0xC0) == 0x80) continue; /* never cut inside a UTF-8 sequence */
        memcpy(buf, s, n);
        memcpy(buf + n, "…", sizeof "…");
        if (text_width(cr, buf) <= w) break;
    }
    if (n == 0) memcpy(buf, "…", sizeof "…");
    text_at(cr, x, y, ax, buf);
}

static void text_vertical(cairo_t *cr, double x, double y, const char *s) {
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, -M_PI / 2);
    text_at(cr, 0, 0, 0.5, s);
    cairo_restore(cr);
}

static void colour(cairo_t *cr, double g) { cairo_set_source_rgb(cr, g, g, g); }

/* viridis: the overlay's colour map (png.c), as a colour bar's function */
static void viridis(double v, double rgb[3]) { mxb_colormap_rgb(MXB_CMAP_VIRIDIS, v, rgb); }

static void jet(double v, double rgb[3]) { /* as png.c's (OpenCV COLORMAP_JET) */
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    double c[3] = {1.5 - fabs(4 * v - 3), 1.5 - fabs(4 * v - 2), 1.5 - fabs(4 * v - 1)};
    for (int k = 0; k < 3; k++) rgb[k] = c[k] < 0 ? 0 : c[k] > 1 ? 1 : c[k];
}

/* An RGB image (rgb [h, w, 3]) as a cairo surface; NULL when out of memory. */
static cairo_surface_t *rgb_surface(const uint8_t *rgb, int w, int h) {
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) return cairo_surface_destroy(s), NULL;
    cairo_surface_flush(s);
    unsigned char *px = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const uint8_t *p = rgb + ((size_t)y * w + x) * 3;
            uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
            memcpy(px + (size_t)y * stride + x * 4, &v, 4);
        }
    cairo_surface_mark_dirty(s);
    return s;
}

/* Paints an image surface into the box (x, y, w, h), pixels as squares (no smoothing:
 * a 14 x 14 patch grid or a 65 x 65 matrix is data, not a photograph). */
static void paint_image(cairo_t *cr, cairo_surface_t *s, double x, double y, double w, double h) {
    if (!s) return;
    int iw = cairo_image_surface_get_width(s), ih = cairo_image_surface_get_height(s);
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_scale(cr, w / iw, h / ih);
    cairo_set_source_surface(cr, s, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_rectangle(cr, 0, 0, iw, ih);
    cairo_fill(cr);
    cairo_restore(cr);
}

/* An image (consumed: the surface is destroyed) with a thin black frame around it:
 * colour scales and matrices are drawn this way. */
static void paint_framed(cairo_t *cr, cairo_surface_t *s, double x, double y, double w, double h) {
    paint_image(cr, s, x, y, w, h);
    cairo_surface_destroy(s);
    colour(cr, 0);
    cairo_set_line_width(cr, 0.8);
    cairo_rectangle(cr, x, y, w, h);
    cairo_stroke(cr);
}

/* A vertical colour bar from 0 (bottom) to 1 (top) with ticks and a label. */
static void colour_bar(cairo_t *cr, double x, double y, double w, double h, void (*map)(double, double *),
                       const char *lo, const char *hi, const char *label) {
    uint8_t px[256 * 3];
    for (int i = 0; i < 256; i++) {
        double c[3];
        map((255 - i) / 255.0, c);
        for (int k = 0; k < 3; k++) px[i * 3 + k] = (uint8_t)lrint(255 * c[k]);
    }
    cairo_surface_t *s = rgb_surface(px, 1, 256);
    paint_framed(cr, s, x, y, w, h);
    font(cr, 9, 0);
    for (int j = 0; j <= 4; j++) {
        double yy = y + h - h * j / 4;
        cairo_move_to(cr, x + w, yy);
        cairo_line_to(cr, x + w + 4, yy);
        cairo_stroke(cr);
        char t[16];
        snprintf(t, sizeof t, "%.2g", j / 4.0);
        text_at(cr, x + w + 6, yy, 0, t);
    }
    font(cr, 9, 0);
    text_at(cr, x + w / 2, y - 10, 0.5, hi);
    text_at(cr, x + w / 2, y + h + 12, 0.5, lo);
    font(cr, 10, 0);
    text_vertical(cr, x + w + 40, y + h / 2, label);
}

static void background(cairo_t *cr, const figure *f) {
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_rectangle(cr, 0, 0, f->w, f->h);
    cairo_fill(cr);
}

/* ---- perturbation curves ---------------------------------------------------------------- */

enum { PW = 330, PH = 250, PML = 62, PMR = 14, PMT = 44, PMB = 50, PTITLE = 34, PLEG = 30 };

static void marker(cairo_t *cr, int k, double x, double y) {
    const double r = 3.2;
    switch (k % 4) {
    case 0: cairo_arc(cr, x, y, r, 0, 2 * M_PI); break;
    case 1: cairo_rectangle(cr, x - r, y - r, 2 * r, 2 * r); break;
    case 2: cairo_move_to(cr, x, y - r * 1.2), cairo_line_to(cr, x + r * 1.1, y + r * 0.8),
            cairo_line_to(cr, x - r * 1.1, y + r * 0.8), cairo_close_path(cr); break;
    default: cairo_move_to(cr, x, y - r * 1.3), cairo_line_to(cr, x + r, y), cairo_line_to(cr, x, y + r * 1.3),
             cairo_line_to(cr, x - r, y), cairo_close_path(cr);
    }
    cairo_fill(cr);
}

/* A method's pen (mxb_method_pen): its colour and line style set on cr; the caller
 * resets the dash (cairo_set_dash(cr, NULL, 0, 0)) before markers. */
static void method_pen(cairo_t *cr, int k) {
    mxb_pen p;
    mxb_method_pen(k, &p);
    cairo_set_source_rgb(cr, p.rgb[0], p.rgb[1], p.rgb[2]);
    cairo_set_line_width(cr, 1.8);
    static const double dashes[MXB_PEN_STYLES][4] = {{0}, {6, 3}, {1.6, 2.4}, {6, 2.4, 1.6, 2.4}};
    static const int ndash[MXB_PEN_STYLES] = {0, 2, 2, 4};
    cairo_set_dash(cr, dashes[p.style], ndash[p.style], 0);
}
static int method_marker(int k) {
    mxb_pen p;
    mxb_method_pen(k, &p);
    return p.marker;
}

/* The legend under the panels: one entry per method, in rows that fit the width, each
 * row centred. Fills row[k] and x[k] (entry k's left end within its row, from 0) and
 * each row's width; returns the number of rows. */
enum { LEG_ROW = 18 };
static double legend_entry_w(cairo_t *cr, const char *name) { return 34 + text_width(cr, name) + 18; }
static int legend_layout(cairo_t *cr, const mxb_results *r, double width, int *row, double *x, double *row_w) {
    font(cr, 10, 0);
    int rows = 1;
    double at = 0;
    row_w[0] = 0;
    for (int k = 0; k < r->nmethods; k++) {
        const double w = legend_entry_w(cr, r->methods[k]);
        if (at > 0 && at + w > width) row_w[rows - 1] = at, rows++, at = 0;
        row[k] = rows - 1, x[k] = at;
        at += w;
    }
    row_w[rows - 1] = at;
    return rows;
}

static void draw_curves(cairo_t *cr, const figure *f) {
    const mxb_results *r = f->r;
    static const char *pol[2] = {"positive: most relevant pixels removed first (AUC ↓ better)",
                                 "negative: least relevant pixels removed first (AUC ↑ better)"};
    background(cr, f);
    colour(cr, 0);
    font(cr, 14, 1);
    text_at(cr, f->w / 2, 18, 0.5, f->title);
    int py = 0;
    for (int q = 0; q < 2; q++) {
        if (!r->polarity[q]) continue;
        for (int m = 0; m < r->nmodels; m++) {
            double ox = m * PW, oy = PTITLE + py * PH;
            double x0 = ox + PML, x1 = ox + PW - PMR, y0 = oy + PMT, y1 = oy + PH - PMB;
            colour(cr, 0);
            char t[160];
            snprintf(t, sizeof t, "%s", mxb_results_model_label(r, m));
            text_fit(cr, (x0 + x1) / 2, oy + 12, 0.5, x1 - x0, 12, 1, t);
            text_fit(cr, ox + PW / 2.0, oy + 28, 0.5, PW - 8, 9.5, 0, pol[q]);
            /* grid, ticks, tick labels */
            cairo_set_line_width(cr, 0.6);
            font(cr, 9, 0);
            for (int j = 0; j <= 10; j++) { /* accuracy 0..100 % */
                double yy = y1 - (y1 - y0) * j / 10.0;
                colour(cr, j % 2 ? 0.94 : 0.86);
                cairo_move_to(cr, x0, yy), cairo_line_to(cr, x1, yy), cairo_stroke(cr);
                if (j % 2 == 0) {
                    colour(cr, 0);
                    cairo_move_to(cr, x0 - 4, yy), cairo_line_to(cr, x0, yy), cairo_stroke(cr);
                    snprintf(t, sizeof t, "%d", j * 10);
                    text_at(cr, x0 - 6, yy, 1, t);
                }
            }
            for (int j = 0; j < MXB_RES_STEPS; j++) { /* p = 0 .. 0.9 */
                double xx = x0 + (x1 - x0) * j / (MXB_RES_STEPS - 1.0);
                colour(cr, 0.9);
                cairo_move_to(cr, xx, y0), cairo_line_to(cr, xx, y1), cairo_stroke(cr);
                colour(cr, 0);
                cairo_move_to(cr, xx, y1), cairo_line_to(cr, xx, y1 + 4), cairo_stroke(cr);
                snprintf(t, sizeof t, "%.1f", j / 10.0);
                text_at(cr, xx, y1 + 12, 0.5, t);
            }
            colour(cr, 0);
            cairo_set_line_width(cr, 1);
            cairo_rectangle(cr, x0, y0, x1 - x0, y1 - y0);
            cairo_stroke(cr);
            font(cr, 10, 0);
            text_at(cr, (x0 + x1) / 2, y1 + 30, 0.5, "fraction of pixels removed, p");
            text_vertical(cr, ox + 16, (y0 + y1) / 2, "top-1 accuracy (%)");
            /* one line per method, markers at the measured steps */
            for (int k = 0; k < r->nmethods; k++) {
                if (r->skipped[m][k]) continue; /* not run on this model: no curve */
                mxb_res_summary s;
                mxb_results_summarize(r, MXB_TEST_PERTURBATION, m, k, &s);
                method_pen(cr, k);
                int pen = 0;
                for (int j = 0; j < MXB_RES_STEPS; j++) {
                    double a = s.accuracy[q][j];
                    if (isnan(a)) {
                        pen = 0;
                        continue;
                    }
                    double xx = x0 + (x1 - x0) * j / (MXB_RES_STEPS - 1.0), yy = y1 - (y1 - y0) * a;
                    pen ? cairo_line_to(cr, xx, yy) : cairo_move_to(cr, xx, yy);
                    pen = 1;
                }
                cairo_stroke(cr);
                cairo_set_dash(cr, NULL, 0, 0);
                for (int j = 0; j < MXB_RES_STEPS; j++)
                    if (!isnan(s.accuracy[q][j]))
                        marker(cr, method_marker(k), x0 + (x1 - x0) * j / (MXB_RES_STEPS - 1.0), y1 - (y1 - y0) * s.accuracy[q][j]);
            }
        }
        py++;
    }
    /* legend: one entry per method, in rows centred under the panels */
    int row[MXB_RES_MAX_METHODS];
    double xs[MXB_RES_MAX_METHODS], row_w[MXB_RES_MAX_METHODS];
    const int rows = legend_layout(cr, r, f->w - 16, row, xs, row_w);
    for (int k = 0; k < r->nmethods; k++) {
        double x = (f->w - row_w[row[k]]) / 2, y = f->h - PLEG / 2.0 - (rows - 1 - row[k]) * LEG_ROW;
        if (x < 8) x = 8;
        x += xs[k];
        method_pen(cr, k);
        cairo_move_to(cr, x, y), cairo_line_to(cr, x + 26, y), cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        marker(cr, method_marker(k), x + 13, y);
        colour(cr, 0);
        text_at(cr, x + 32, y, 0, r->methods[k]);
    }
}

/* ---- overlays ----------------------------------------------------------------------------- */

enum { OGAP = 4, OHEAD = 58, OTITLE = 30, OBAR = 56 };

static int overlay_tile(const figure *f) { /* points per tile: small images are shown larger */
    int S = f->r->test[f->test].size;
    return S >= 96 ? S : S * ((96 + S - 1) / S);
}

/* The columns before the maps: the image, and the segmentation test's ground-truth
 * mask when the file holds it (/segmentation/figure_masks) */
static int overlay_lead(const figure *f) { return 1 + (f->r->test[f->test].fig_mask != NULL); }

static double overlay_label_w(cairo_t *cr, const figure *f) {
    const mxb_res_test *T = &f->r->test[f->test];
    double w = 40;
    font(cr, 9, 0);
    for (int y = 0; y < T->nfig; y++)
        for (int i = 0; i < T->n; i++)
            if (T->index[i] == T->fig_index[y] && text_width(cr, T->ids[i]) > w) w = text_width(cr, T->ids[i]);
    return w > 160 ? 160 : w;
}

/* The map columns of the overlay grid: each model's methods in configuration order,
 * the pairs the run skipped left out. Returns their count. */
static int overlay_columns(const mxb_results *r, int *cm, int *ck) {
    int n = 0;
    for (int m = 0; m < r->nmodels; m++)
        for (int k = 0; k < r->nmethods; k++)
            if (!r->skipped[m][k]) cm[n] = m, ck[n] = k, n++;
    return n;
}

/* Past this many map columns (14 methods on two models: 24) one row of tiles is too
 * wide to read: the models are stacked instead, one block of rows each, every block
 * its own header. Fewer columns keep the one-block layout. */
enum { OVERLAY_MAX_COLS = 12 };
static int overlay_stacked(const mxb_results *r, int ncols) { return r->nmodels > 1 && ncols > OVERLAY_MAX_COLS; }
/* the map columns of the widest block */
static int overlay_block_cols(const mxb_results *r, const int *cm, int n) {
    if (!overlay_stacked(r, n)) return n;
    int most = 0;
    for (int m = 0; m < r->nmodels; m++) {
        int c = 0;
        for (int j = 0; j < n; j++) c += cm[j] == m;
        most = c > most ? c : most;
    }
    return most;
}

static void draw_overlays(cairo_t *cr, const figure *f) {
    const mxb_results *r = f->r;
    const mxb_res_test *T = &r->test[f->test];
    int cm[MXB_RES_MAX_MODELS * MXB_RES_MAX_METHODS], ck[MXB_RES_MAX_MODELS * MXB_RES_MAX_METHODS];
    const int S = T->size, D = overlay_tile(f), n = overlay_columns(r, cm, ck), stacked = overlay_stacked(r, n);
    const int lead = overlay_lead(f), cols = lead + overlay_block_cols(r, cm, n);
    background(cr, f);
    double lw = f->w - cols * (D + OGAP) - OGAP;
    colour(cr, 0);
    font(cr, 14, 1);
    text_at(cr, f->w / 2, 16, 0.5, f->title);
    float *chw = mxb_try_alloc0((size_t)3 * S * S, sizeof(float)), *up = mxb_try_alloc0((size_t)S * S, sizeof(float));
    uint8_t *tile = mxb_try_alloc0((size_t)S * S, 3);
    const float zero[3] = {0, 0, 0}, one[3] = {1, 1, 1};
    /* a block: map columns lo .. hi - 1 (all of them, or one model's when stacked) */
    for (int b = 0, lo = 0; lo < n; b++) {
        int hi = lo + 1;
        while (hi < n && (!stacked || cm[hi] == cm[lo])) hi++;
        /* headers: the image column; each model spanning its methods, method names below */
        double hx = lw + OGAP, hy = OTITLE + b * (OHEAD + T->nfig * (D + OGAP));
        colour(cr, 0);
        text_fit(cr, hx + D / 2.0, hy + 36, 0.5, D, 10, 1, "image");
        if (lead > 1) text_fit(cr, hx + (D + OGAP) + D / 2.0, hy + 36, 0.5, D, 10, 1, "ground truth");
        for (int c0 = lo; c0 < hi;) {
            int nk = 0; /* this model's columns: c0 .. c0 + nk - 1 */
            while (c0 + nk < hi && cm[c0 + nk] == cm[c0]) nk++;
            double x0 = hx + (lead + c0 - lo) * (D + OGAP), x1 = x0 + nk * (D + OGAP) - OGAP;
            colour(cr, 0);
            text_fit(cr, (x0 + x1) / 2, hy + 8, 0.5, x1 - x0, 11, 1, mxb_results_model_label(r, cm[c0]));
            cairo_set_line_width(cr, 1);
            cairo_move_to(cr, x0 + 2, hy + 20), cairo_line_to(cr, x1 - 2, hy + 20), cairo_stroke(cr);
            for (int j = 0; j < nk; j++)
                text_fit(cr, x0 + j * (D + OGAP) + D / 2.0, hy + 36, 0.5, D, 10, 0, r->methods[ck[c0 + j]]);
            c0 += nk;
        }
        font(cr, 9, 1);
        text_at(cr, lw, hy + 36, 1, "image id");
        for (int y = 0; y < T->nfig && chw && up && tile; y++) {
            int row = -1; /* the figure image's row in the per-image arrays */
            for (int i = 0; i < T->n; i++)
                if (T->index[i] == T->fig_index[y]) row = i;
            double ty = hy + OHEAD + y * (D + OGAP);
            colour(cr, 0);
            text_fit(cr, lw, ty + D / 2.0, 1, lw - 4, 9, 0, row >= 0 ? T->ids[row] : "?");
            const uint8_t *rgb = T->fig_rgb + (size_t)y * S * S * 3;
            for (int p = 0; p < S * S; p++)
                for (int ch = 0; ch < 3; ch++) chw[(size_t)ch * S * S + p] = rgb[p * 3 + ch] / 255.0f;
            for (int col = 0; col < lead + hi - lo; col++) {
                const uint8_t *src = rgb;
                if (col == 1 && lead > 1) { /* the object white on black, as the test scored it */
                    const uint8_t *mk = T->fig_mask + (size_t)y * S * S;
                    for (int p = 0; p < S * S; p++) memset(tile + (size_t)p * 3, mk[p] ? 255 : 0, 3);
                    src = tile;
                } else if (col > 0) {
                    int m = cm[lo + col - lead], k = ck[lo + col - lead], g = r->grid[m];
                    if (row < 0 || S % g || !T->cell[m][k].maps) continue;
                    /* a flat map shows as no heat */
                    mxb_map_postprocess(T->cell[m][k].maps + (size_t)row * g * g, g, S / g, MXB_FLAT_ZERO, up);
                    mxb_overlay_heatmap(chw, zero, one, up, S, S, tile);
                    src = tile;
                }
                cairo_surface_t *s = rgb_surface(src, S, S);
                paint_image(cr, s, lw + OGAP + col * (D + OGAP), ty, D, D);
                cairo_surface_destroy(s);
            }
        }
        lo = hi;
    }
    free(chw), free(up), free(tile);
    /* the colour scale, horizontal under the grid */
    double bw = 240, bx = (f->w - bw) / 2, by = f->h - OBAR + 10;
    uint8_t px[256 * 3];
    for (int i = 0; i < 256; i++) {
        double c[3];
        jet(i / 255.0, c);
        for (int k = 0; k < 3; k++) px[i * 3 + k] = (uint8_t)lrint(255 * c[k]);
    }
    cairo_surface_t *s = rgb_surface(px, 256, 1);
    paint_framed(cr, s, bx, by, bw, 10);
    font(cr, 9, 0);
    text_at(cr, bx - 6, by + 5, 1, "0 (least)");
    text_at(cr, bx + bw + 6, by + 5, 0, "1 (most relevant)");
    text_at(cr, f->w / 2, by + 24, 0.5, "relevance: map upsampled to the image, min-max normalised per map, jet added to the image");
}

/* ---- attention matrices ---------------------------------------------------------------- */

enum { AD = 220, AGAP = 34, AML = 96, AMT = 96, ABAR = 110, AMB = 30 };

static void draw_attention(cairo_t *cr, const figure *f) {
    const mxb_results *r = f->r;
    const mxb_res_test *T = &r->test[f->test];
    background(cr, f);
    colour(cr, 0);
    font(cr, 14, 1);
    text_at(cr, f->w / 2, 18, 0.5, f->title);
    if (f->image) { /* the image, as the models saw it, top left */
        cairo_surface_t *s = rgb_surface(f->image, T->size, T->size);
        paint_image(cr, s, 12, 30, 56, 56);
        cairo_surface_destroy(s);
        font(cr, 8, 0);
        text_at(cr, 40, 92, 0.5, "input");
    }
    for (int m = 0; m < r->nmodels; m++) {
        double x0 = AML + m * (AD + AGAP);
        char t[192];
        colour(cr, 0);
        text_fit(cr, x0 + AD / 2.0, AMT - 40, 0.5, AD + AGAP - 6, 12, 1, mxb_results_model_label(r, m));
        text_fit(cr, x0 + AD / 2.0, AMT - 24, 0.5, AD + AGAP - 6, 9.5, 0,
                 f->is_vim[m] ? "hidden attention, channel mean (exact)" : "attention, mean over heads");
        if (f->is_vim[m]) text_fit(cr, x0 + AD / 2.0, AMT - 11, 0.5, AD + AGAP - 6, 9.5, 0, "forward + backward direction");
        for (int i = 0; i < f->nrows; i++) {
            double y0 = AMT + i * (AD + AGAP);
            const int L = f->L[m];
            const float *a = f->mat[m][i];
            if (!a) continue;
            float lo = INFINITY, hi = -INFINITY;
            for (size_t p = 0; p < (size_t)L * L; p++)
                if (isfinite(a[p])) lo = a[p] < lo ? a[p] : lo, hi = a[p] > hi ? a[p] : hi;
            uint8_t *px = mxb_try_alloc0((size_t)L * L, 3);
            if (!px) continue;
            for (size_t p = 0; p < (size_t)L * L; p++) {
                double c[3];
                viridis(hi > lo ? (a[p] - lo) / (hi - lo) : 0, c);
                for (int k = 0; k < 3; k++) px[p * 3 + k] = (uint8_t)lrint(255 * c[k]);
            }
            cairo_surface_t *s = rgb_surface(px, L, L);
            free(px);
            paint_framed(cr, s, x0, y0, AD, AD);
            font(cr, 8, 0);
            snprintf(t, sizeof t, "%d", L - 1);
            text_at(cr, x0, y0 + AD + 7, 0.5, "0");
            text_at(cr, x0 + AD, y0 + AD + 7, 0.5, t);
            text_at(cr, x0 - 3, y0 + 3, 1, "0");
            text_at(cr, x0 - 3, y0 + AD - 3, 1, t);
            font(cr, 9, 0);
            if (isfinite(lo)) snprintf(t, sizeof t, "layer %d of %d  ·  range %.3g … %.3g", f->layer[m][i] + 1, f->depth[m], lo, hi);
            else snprintf(t, sizeof t, "layer %d of %d  ·  no finite value", f->layer[m][i] + 1, f->depth[m]);
            text_fit(cr, x0 + AD / 2.0, y0 + AD + 18, 0.5, AD + AGAP - 6, 9, 0, t);
        }
    }
    font(cr, 10, 0);
    double gy = AMT + f->nrows * (AD + AGAP);
    text_at(cr, AML + (r->nmodels * (AD + AGAP) - AGAP) / 2.0, gy + 6, 0.5, "token j (attended to), class token included");
    text_vertical(cr, AML - 30, AMT + (f->nrows * (AD + AGAP) - AGAP) / 2.0, "token i (query)");
    colour_bar(cr, AML + r->nmodels * (AD + AGAP) + 6, AMT + 20, 16, 2 * AD, viridis, "matrix minimum",
               "matrix maximum", "value, min-max scaled per matrix (range under each)");
}

/* ---- building the figures ------------------------------------------------------------------ */

static int add(mxb_figures *F, const char *name, double w, double h, void (*draw)(cairo_t *, const figure *),
               const mxb_results *r, int test) {
    figure *f = &F->fig[F->n++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    f->w = w, f->h = h, f->draw = draw, f->r = r, f->test = test;
    return 0;
}

static char *fmt_caption(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_caption(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? mxb_try_alloc((size_t)n + 1) : NULL;
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* The attention figure of the image at row i of test t, when every model has it
 * stored; 0 with nothing added when not, -1 on a read error. */
static int add_attention(mxb_figures *F, const mxb_results *r, mxb_h5in *in, int t, int i, char *err, size_t errlen) {
    const mxb_res_test *T = &r->test[t];
    char name[600];
    for (int m = 0; m < r->nmodels; m++) {
        snprintf(name, sizeof name, "/attention/%s/%s/%d", mxb_test_names[t], r->models[m], T->index[i]);
        if (!mxb_h5in_exists(in, name)) return 0;
    }
    char fname[96];
    snprintf(fname, sizeof fname, "attention_%s_%d", mxb_test_names[t], T->index[i]);
    add(F, fname, 0, 0, draw_attention, r, t);
    figure *f = &F->fig[F->n - 1];
    f->index = T->index[i], f->row = i;
    int maxdepth = 0;
    for (int m = 0; m < r->nmodels; m++) {
        snprintf(name, sizeof name, "/attention/%s/%s/%d", mxb_test_names[t], r->models[m], T->index[i]);
        int64_t d[4] = {-1, -1, -1, -1};
        float *a = mxb_h5in_read(in, name, MXB_H5_F32, 4, d, err, errlen);
        if (!a) return -1;
        char *layout = NULL, e2[8];
        /* ViM's [layer, direction, L, L]; ViT's [layer, head, L, L]: only the layout says
         * which (a two-head ViT has the same shape), and files before the ViT one had a
         * layout have it on ViM's alone */
        f->is_vim[m] = mxb_h5in_attr_str(in, name, "layout", &layout, e2, sizeof e2) == 0 && strstr(layout, "direction");
        free(layout);
        /* 32767: cairo's largest image side, far above any model's sequence */
        if (d[0] < 1 || d[0] > 4096 || d[1] < 1 || d[2] < 1 || d[2] > 32767 || d[2] != d[3] ||
            (f->is_vim[m] && d[1] != 2)) {
            free(a);
            mxb_seterr(err, errlen, "%s: '%s' is not [layers, heads or 2, L, L]", mxb_h5in_path(in), name);
            return -1;
        }
        f->depth[m] = (int)d[0], f->L[m] = (int)d[2];
        maxdepth = f->depth[m] > maxdepth ? f->depth[m] : maxdepth;
        const size_t LL = (size_t)(d[2] * d[3]);
        f->nrows = maxdepth < ATT_ROWS ? maxdepth : ATT_ROWS;
        for (int k = 0; k < ATT_ROWS; k++) {
            int rows = f->depth[m] < ATT_ROWS ? f->depth[m] : ATT_ROWS;
            if (k >= rows) break;
            /* evenly spaced from the first layer to the last */
            int l = rows > 1 ? (int)lround((double)k * (f->depth[m] - 1) / (rows - 1)) : 0;
            float *mean = mxb_try_alloc0(LL, sizeof *mean);
            if (!mean) {
                free(a);
                return mxb_seterr(err, errlen, "out of memory"), -1;
            }
            /* ViT: mean over heads; ViM: the sum of the two directions, the operator the
             * bidirectional block applies (each direction's matrix maps the same tokens) */
            const double w = f->is_vim[m] ? 1.0 : 1.0 / (double)d[1];
            for (int64_t h = 0; h < d[1]; h++)
                for (size_t p = 0; p < LL; p++) mean[p] += (float)(w * a[((size_t)l * d[1] + h) * LL + p]);
            f->layer[m][k] = l, f->mat[m][k] = mean;
        }
        free(a);
    }
    for (int y = 0; y < T->nfig; y++)
        if (T->fig_index[y] == f->index) f->image = T->fig_rgb + (size_t)y * T->size * T->size * 3;
    f->w = AML + r->nmodels * (AD + AGAP) + ABAR;
    f->h = AMT + f->nrows * (AD + AGAP) + AMB;
    snprintf(f->title, sizeof f->title, "Attention matrices, image %s (%s test)", T->ids[i], mxb_test_names[t]);
    f->caption = fmt_caption(
        "Rows: layers (evenly spaced, first to last); columns: models. ViT: the softmax attention of the "
        "block, averaged over heads. ViM: the exact hidden attention averaged over channels, forward plus "
        "backward direction (the backward one in image-token order). Each matrix is min-max scaled on its "
        "own (its range is printed under it); viridis, yellow = largest. Image %s of the %s test.",
        T->ids[i], mxb_test_names[t]);
    return 0;
}

void mxb_figures_free(mxb_figures *F) {
    if (!F) return;
    for (int i = 0; i < F->n; i++) {
        free(F->fig[i].caption);
        for (int m = 0; m < MXB_RES_MAX_MODELS; m++)
            for (int k = 0; k < ATT_ROWS; k++) free(F->fig[i].mat[m][k]);
    }
    free(F);
}

void mxb_figures_release(void) {
    cairo_debug_reset_static_data();
    FcFini();
}

int mxb_figures_system_font(void) {
    /* cairo finds fonts through fontconfig (CAIRO_FONT_TYPE_FT); with none installed it
     * falls back to its built-in stroke font ("twin", a user font): ASCII only, no bold */
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 8, 8);
    cairo_t *cr = cairo_create(s);
    font(cr, 12, 0);
    int ft = cairo_scaled_font_get_type(cairo_get_scaled_font(cr)) == CAIRO_FONT_TYPE_FT;
    cairo_destroy(cr);
    cairo_surface_destroy(s);
    return ft;
}

mxb_figures *mxb_figures_build(const mxb_results *r, const char *results_path, char *err, size_t errlen) {
    /* a machine without fonts draws figures without a single letter: refuse instead */
    cairo_surface_t *probe = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 8, 8);
    cairo_t *pc = cairo_create(probe);
    font(pc, 12, 0);
    double probe_w = text_width(pc, "Hg");
    cairo_destroy(pc);
    cairo_surface_destroy(probe);
    if (!(probe_w > 0)) {
        mxb_seterr(err, errlen, "no font for the figures' text (install fonts-dejavu-core)");
        return NULL;
    }
    mxb_figures *F = mxb_try_alloc0(1, sizeof *F);
    if (!F) return mxb_seterr(err, errlen, "out of memory"), NULL;
    const mxb_res_test *P = &r->test[MXB_TEST_PERTURBATION];
    if (P->enabled && (r->polarity[0] || r->polarity[1]) && r->nmodels > 0) {
        int panels = r->polarity[0] + r->polarity[1], row[MXB_RES_MAX_METHODS];
        double xs[MXB_RES_MAX_METHODS], row_w[MXB_RES_MAX_METHODS];
        cairo_surface_t *probe1 = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 8, 8);
        cairo_t *c1 = cairo_create(probe1);
        const int rows = legend_layout(c1, r, r->nmodels * PW - 16, row, xs, row_w); /* many methods: more rows */
        cairo_destroy(c1);
        cairo_surface_destroy(probe1);
        add(F, "perturbation", r->nmodels * PW, PTITLE + panels * PH + PLEG + (rows - 1) * LEG_ROW, draw_curves, r,
            MXB_TEST_PERTURBATION);
        figure *f = &F->fig[F->n - 1];
        snprintf(f->title, sizeof f->title, "Perturbation test, %d images", P->n);
        f->caption = fmt_caption("Top-1 accuracy (%%) after removing the fraction p of the pixels in the order of "
                                 "each method's map; columns: models, rows: positive / negative test. The "
                                 "tables' AUC is the area under these curves.");
    }
    int t = r->test[MXB_TEST_SEGMENTATION].nfig ? MXB_TEST_SEGMENTATION : MXB_TEST_PERTURBATION;
    const mxb_res_test *T = &r->test[t];
    if (T->enabled && T->nfig && r->keep_maps && r->nmodels * r->nmethods > 0) {
        add(F, "overlays", 0, 0, draw_overlays, r, t);
        figure *f = &F->fig[F->n - 1];
        cairo_surface_t *probe2 = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 8, 8);
        cairo_t *c2 = cairo_create(probe2);
        double lw = overlay_label_w(c2, f) + 8;
        cairo_destroy(c2);
        cairo_surface_destroy(probe2);
        int cm[MXB_RES_MAX_MODELS * MXB_RES_MAX_METHODS], ck[MXB_RES_MAX_MODELS * MXB_RES_MAX_METHODS];
        const int n = overlay_columns(r, cm, ck), stacked = overlay_stacked(r, n);
        int D = overlay_tile(f), cols = overlay_lead(f) + overlay_block_cols(r, cm, n);
        f->w = lw + cols * (D + OGAP) + OGAP;
        if (f->w < 560) f->w = 560;
        f->h = OTITLE + (stacked ? r->nmodels : 1) * (OHEAD + T->nfig * (D + OGAP)) + OBAR;
        snprintf(f->title, sizeof f->title, "Explanation maps, first %d images of the %s test", T->nfig, mxb_test_names[t]);
        f->caption = stacked ? fmt_caption("One block of rows per model (too many methods for one row); rows: "
                                           "images; columns: the image, then the model's maps by method, each "
                                           "upsampled to the image and min-max normalised, jet over the image "
                                           "(red = most relevant).")
                             : fmt_caption("Rows: images; columns: the image, then each model's maps by method, each "
                                           "upsampled to the image and min-max normalised, jet over the image "
                                           "(red = most relevant).");
        if (f->caption && T->fig_mask) { /* the ground-truth column, said */
            char *c = fmt_caption("%s The column after the image is the segmentation test's ground-truth object "
                                  "mask (white: object), as the test scored it.", f->caption);
            free(f->caption);
            f->caption = c;
        }
    }
    mxb_h5in *in = results_path ? mxb_h5in_open(results_path, err, errlen) : NULL;
    if (results_path && !in) return mxb_figures_free(F), NULL;
    for (int tt = 0; in && tt < MXB_NTESTS; tt++)
        for (int i = 0, k = 0; r->test[tt].enabled && i < r->test[tt].n && k < ATT_IMAGES; i++) {
            const int before = F->n; /* images without stored attention add nothing */
            if (add_attention(F, r, in, tt, i, err, errlen)) {
                mxb_h5in_close(in);
                return mxb_figures_free(F), NULL;
            }
            k += F->n > before;
        }
    if (in) mxb_h5in_close(in);
    for (int i = 0; i < F->n; i++)
        if (!F->fig[i].caption) return mxb_seterr(err, errlen, "out of memory"), mxb_figures_free(F), NULL;
    return F;
}

int mxb_figures_count(const mxb_figures *F) { return F->n; }
const char *mxb_figures_name(const mxb_figures *F, int i) { return F->fig[i].name; }
const char *mxb_figures_title(const mxb_figures *F, int i) { return F->fig[i].title; }
const char *mxb_figures_caption(const mxb_figures *F, int i) { return F->fig[i].caption; }
void mxb_figures_size(const mxb_figures *F, int i, double *w, double *h) {
    *w = F->fig[i].w;
    *h = F->fig[i].h;
}

/* ---- rendering ----------------------------------------------------------------------------- */

typedef struct {
    unsigned char *p;
    size_t n, cap;
    int failed;
} membuf;

static cairo_status_t to_mem(void *user, const unsigned char *data, unsigned int n) {
    membuf *b = user;
    if (b->n + n > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 65536) + n;
        unsigned char *p = mxb_try_realloc(b->p, cap);
        if (!p) return b->failed = 1, CAIRO_STATUS_WRITE_ERROR;
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    return CAIRO_STATUS_SUCCESS;
}

int mxb_figures_render(const mxb_figures *F, int i, int svg, unsigned char **out, size_t *n, char *err,
                       size_t errlen) {
    const figure *f = &F->fig[i];
    membuf b = {0};
    cairo_surface_t *s;
    if (svg) {
        s = cairo_svg_surface_create_for_stream(to_mem, &b, f->w, f->h);
    } else {
        s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)ceil(f->w * PNG_SCALE), (int)ceil(f->h * PNG_SCALE));
    }
    cairo_t *cr = cairo_create(s);
    if (!svg) cairo_scale(cr, PNG_SCALE, PNG_SCALE);
    f->draw(cr, f);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    if (!st && !svg) st = cairo_surface_write_to_png_stream(s, to_mem, &b);
    cairo_surface_finish(s);
    if (!st) st = cairo_surface_status(s);
    cairo_surface_destroy(s);
    if (st || b.failed) {
        free(b.p);
        mxb_seterr(err, errlen, "figure %s: %s", f->name, b.failed ? "out of memory" : cairo_status_to_string(st));
        return -1;
    }
    *out = b.p, *n = b.n;
    return 0;
}

int mxb_report_figures(const mxb_results *r, const char *results_path, const char *dir, char *err, size_t errlen) {
    mxb_figures *F = mxb_figures_build(r, results_path, err, errlen);
    if (!F) return -1;
    char path[4200];
    snprintf(path, sizeof path, "%s/figures.md", dir);
    mxb_outfile mdf;
    if (mxb_outfile_open(&mdf, path, err, errlen)) {
        mxb_figures_free(F);
        return -1;
    }
    FILE *md = mdf.f;
    fprintf(md, "# Figures\n\nEach figure is a PNG (2 pixels per point) and an SVG of the same drawing.\n\n");
    if (!r->test[MXB_TEST_PERTURBATION].enabled && !r->test[MXB_TEST_SEGMENTATION].enabled)
        fprintf(md, "The file holds no test.\n\n");
    else if (!r->keep_maps || (!r->test[0].nfig && !r->test[1].nfig))
        fprintf(md, "No overlay grid: the run kept %s.\n\n",
                r->keep_maps ? "no figure images ([run] figures = 0)" : "no maps ([run] save_maps = no)");
    int rc = 0;
    for (int i = 0; i < F->n && !rc; i++) {
        for (int svg = 0; svg < 2 && !rc; svg++) {
            unsigned char *buf;
            size_t n;
            rc = mxb_figures_render(F, i, svg, &buf, &n, err, errlen);
            if (rc) break;
            snprintf(path, sizeof path, "%s/%s.%s", dir, F->fig[i].name, svg ? "svg" : "png");
            rc = mxb_file_write(path, buf, n, 0, err, errlen);
            free(buf);
        }
        fprintf(md, "## %s.png, %s.svg — %s\n\n%s\n\n", F->fig[i].name, F->fig[i].name, F->fig[i].title, F->fig[i].caption);
    }
    if (rc) mxb_outfile_abort(&mdf);
    else rc = mxb_outfile_commit(&mdf, 0, err, errlen);
    mxb_figures_free(F);
    return rc;
}

/* ---- trend plots (mxb history html): one metric over runs ----------------------------------- */

enum { TW = 640, TH = 250, TML = 84, TMR = 16, TMT = 40, TMB = 58 };

static void draw_trend(cairo_t *cr, const mxb_trend *t) {
    const figure bg = {.w = TW, .h = TH};
    background(cr, &bg);
    const double x0 = TML, x1 = TW - TMR, y0 = TMT, y1 = TH - TMB;
    /* the y range: every value and band edge, 6 % padding; a flat series gets +-1 tolerance */
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < t->n; i++) {
        const double v[3] = {t->value[i], t->centre[i] - t->tolerance, t->centre[i] + t->tolerance};
        for (int j = 0; j < 3; j++)
            if (isfinite(v[j])) lo = v[j] < lo ? v[j] : lo, hi = v[j] > hi ? v[j] : hi;
    }
    if (!isfinite(lo)) lo = 0, hi = 1;
    if (hi - lo < 1e-12) {
        const double d = t->tolerance > 0 ? t->tolerance : fabs(lo) > 0 ? fabs(lo) * 0.01 : 1;
        lo -= d, hi += d;
    }
    const double pad = (hi - lo) * 0.06;
    lo -= pad, hi += pad;
#define TX(i) (t->n > 1 ? x0 + (x1 - x0) * (i) / (t->n - 1.0) : (x0 + x1) / 2)
#define TY(v) (y1 - (y1 - y0) * ((v) - lo) / (hi - lo))
    char s[256];
    colour(cr, 0);
    snprintf(s, sizeof s, "%s %s", t->name, mxb_better_arrow(t->better));
    text_fit(cr, TW / 2.0, 16, 0.5, TW - 16, 12, 1, s);
    /* grid and y ticks */
    cairo_set_line_width(cr, 0.6);
    font(cr, 9, 0);
    /* enough significant digits that the five tick labels differ (a flat series
     * held to 1e-6 spans 14.749998 .. 14.750002) */
    const double mag = fmax(fabs(lo), fabs(hi)) / ((hi - lo) / 4);
    const int digits = (int)fmin(15, fmax(3, 2 + ceil(log10(mag > 1 ? mag : 1))));
    for (int j = 0; j <= 4; j++) {
        const double v = lo + (hi - lo) * j / 4.0, yy = TY(v);
        colour(cr, 0.88);
        cairo_move_to(cr, x0, yy), cairo_line_to(cr, x1, yy), cairo_stroke(cr);
        colour(cr, 0);
        cairo_move_to(cr, x0 - 4, yy), cairo_line_to(cr, x0, yy), cairo_stroke(cr);
        snprintf(s, sizeof s, "%.*g", digits, v);
        text_at(cr, x0 - 6, yy, 1, s);
    }
    /* x ticks: at most 8 labels (the run's revision), evenly picked */
    const int every = t->n > 8 ? (t->n + 7) / 8 : 1;
    for (int i = 0; i < t->n; i++) {
        colour(cr, 0);
        cairo_move_to(cr, TX(i), y1), cairo_line_to(cr, TX(i), y1 + (i % every ? 2 : 4)), cairo_stroke(cr);
        if (i % every == 0 || i == t->n - 1) {
            if (i % every && i - i / every * every < every / 2) continue; /* the last, too close to the one before */
            /* centred on its tick; the last one ends at it (centred, it ran off the figure) */
            text_fit(cr, TX(i), y1 + 12, i == t->n - 1 && t->n > 1 ? 1.0 : 0.5, (x1 - x0) / 8.5, 8.5, 0, t->x[i]);
        }
    }
    /* the tolerance band: the median of the window before each run +- tolerance */
    cairo_set_source_rgba(cr, palette[0][0], palette[0][1], palette[0][2], 0.16);
    for (int i = 0; i + 1 < t->n; i++) {
        if (!isfinite(t->centre[i]) || !isfinite(t->centre[i + 1])) continue;
        cairo_move_to(cr, TX(i), TY(t->centre[i] + t->tolerance));
        cairo_line_to(cr, TX(i + 1), TY(t->centre[i + 1] + t->tolerance));
        cairo_line_to(cr, TX(i + 1), TY(t->centre[i + 1] - t->tolerance));
        cairo_line_to(cr, TX(i), TY(t->centre[i] - t->tolerance));
        cairo_close_path(cr);
        cairo_fill(cr);
    }
    for (int i = 0; i < t->n; i++) /* a lone point of band: a short bar */
        if (isfinite(t->centre[i]) && !(i > 0 && isfinite(t->centre[i - 1])) && !(i + 1 < t->n && isfinite(t->centre[i + 1]))) {
            cairo_rectangle(cr, TX(i) - 3, TY(t->centre[i] + t->tolerance), 6,
                            TY(t->centre[i] - t->tolerance) - TY(t->centre[i] + t->tolerance));
            cairo_fill(cr);
        }
    /* the values: a line through the runs that have one, a marker on each, moved ones ringed red */
    method_pen(cr, 0);
    int pen = 0;
    for (int i = 0; i < t->n; i++) {
        if (!isfinite(t->value[i])) {
            pen = 0;
            continue;
        }
        pen ? cairo_line_to(cr, TX(i), TY(t->value[i])) : cairo_move_to(cr, TX(i), TY(t->value[i]));
        pen = 1;
    }
    cairo_stroke(cr);
    for (int i = 0; i < t->n; i++) {
        if (!isfinite(t->value[i])) continue;
        method_pen(cr, 0);
        marker(cr, 0, TX(i), TY(t->value[i]));
        if (t->moved[i]) {
            cairo_set_source_rgb(cr, palette[3][0], palette[3][1], palette[3][2]);
            cairo_set_line_width(cr, 1.8);
            cairo_arc(cr, TX(i), TY(t->value[i]), 6.5, 0, 2 * M_PI);
            cairo_stroke(cr);
        }
    }
    colour(cr, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x0, y0, x1 - x0, y1 - y0);
    cairo_stroke(cr);
    font(cr, 10, 0);
    text_at(cr, (x0 + x1) / 2, y1 + 28, 0.5, "run (revision), oldest first");
    snprintf(s, sizeof s, "value%s%s", t->better ? " " : "", mxb_better_arrow(t->better));
    text_vertical(cr, 14, (y0 + y1) / 2, s);
    /* legend, under the axis title */
    const double ly = TH - 10;
    double lx = x0;
    method_pen(cr, 0);
    cairo_move_to(cr, lx, ly), cairo_line_to(cr, lx + 22, ly), cairo_stroke(cr);
    marker(cr, 0, lx + 11, ly);
    colour(cr, 0);
    text_at(cr, lx + 28, ly, 0, "value");
    lx += 28 + text_width(cr, "value") + 18;
    cairo_set_source_rgba(cr, palette[0][0], palette[0][1], palette[0][2], 0.16);
    cairo_rectangle(cr, lx, ly - 5, 22, 10);
    cairo_fill(cr);
    colour(cr, 0);
    snprintf(s, sizeof s, "median of the %d runs before ± tolerance %g", t->window, t->tolerance);
    text_at(cr, lx + 28, ly, 0, s);
    lx += 28 + text_width(cr, s) + 18;
    cairo_set_source_rgb(cr, palette[3][0], palette[3][1], palette[3][2]);
    cairo_set_line_width(cr, 1.8);
    cairo_new_sub_path(cr); /* not joined to the text's end */
    cairo_arc(cr, lx + 11, ly, 6.5, 0, 2 * M_PI);
    cairo_stroke(cr);
    colour(cr, 0);
    text_at(cr, lx + 24, ly, 0, "moved (outside the band)");
#undef TX
#undef TY
}

void mxb_trend_size(double *w, double *h) {
    *w = TW;
    *h = TH;
}

int mxb_trend_png(const mxb_trend *t, unsigned char **out, size_t *n, char *err, size_t errlen) {
    membuf b = {0};
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)(TW * PNG_SCALE), (int)(TH * PNG_SCALE));
    cairo_t *cr = cairo_create(s);
    cairo_scale(cr, PNG_SCALE, PNG_SCALE);
    draw_trend(cr, t);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    if (!st) st = cairo_surface_write_to_png_stream(s, to_mem, &b);
    cairo_surface_destroy(s);
    if (st || b.failed) {
        free(b.p);
        mxb_seterr(err, errlen, "trend figure of %s: %s", t->name, b.failed ? "out of memory" : cairo_status_to_string(st));
        return -1;
    }
    *out = b.p, *n = b.n;
    return 0;
}
