/* Reports from a results file: the paper's two tables, every metric under a stable
 * name (JSON, CSV), per-step curves, and PNG figures. */
#include "results/results.h"

#include "metrics/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *test_name[MXB_NTESTS] = {"perturbation", "segmentation"};

static void cell(FILE *f, double v, double scale) {
    if (isnan(v)) fprintf(f, " n/a |");
    else fprintf(f, " %.2f |", v * scale);
}

static void print_md(const mxb_results *r, FILE *f) {
    const mxb_res_test *P = &r->test[MXB_TEST_PERTURBATION], *S = &r->test[MXB_TEST_SEGMENTATION];
    if (P->enabled) {
        const char *unit = r->auc_y_fraction ? "accuracy as a fraction" : "accuracy in %";
        fprintf(f, "\n### Perturbation test (%d images): AUC of top-1 %s against the fraction of pixels removed (%s)\n\n",
                P->n, unit, r->auc_x_normalized ? "x spread over [0, 1]" : "p = 0, 0.1, ..., 0.9");
        fprintf(f, "| Method |");
        for (int m = 0; m < r->nmodels; m++) {
            if (r->polarity[MXB_POSITIVE]) fprintf(f, " %s positive ↓ |", r->models[m]);
            if (r->polarity[MXB_NEGATIVE]) fprintf(f, " %s negative ↑ |", r->models[m]);
        }
        fprintf(f, "\n|---|");
        for (int m = 0; m < r->nmodels; m++)
            for (int q = 0; q < 2; q++)
                if (r->polarity[q]) fprintf(f, "---:|");
        fprintf(f, "\n");
        for (int k = 0; k < r->nmethods; k++) {
            fprintf(f, "| %s |", r->methods[k]);
            for (int m = 0; m < r->nmodels; m++) {
                mxb_res_summary s;
                mxb_results_summarize(r, MXB_TEST_PERTURBATION, m, k, &s);
                for (int q = 0; q < 2; q++)
                    if (r->polarity[q]) cell(f, s.auc[q], 1);
            }
            fprintf(f, "\n");
        }
        fprintf(f, "\nTop-1 accuracy of the unperturbed images:");
        for (int m = 0; m < r->nmodels; m++) {
            mxb_res_summary s;
            mxb_results_summarize(r, MXB_TEST_PERTURBATION, m, 0, &s);
            int q = r->polarity[MXB_POSITIVE] ? MXB_POSITIVE : MXB_NEGATIVE;
            fprintf(f, " %s %.2f %%%s", r->models[m], 100 * s.accuracy[q][0], m + 1 < r->nmodels ? "," : ".\n");
        }
    }
    if (S->enabled) {
        fprintf(f, "\n### Segmentation test (%d images), in %%\n\n| Method |", S->n);
        for (int m = 0; m < r->nmodels; m++)
            fprintf(f, " %s pixel acc. ↑ | %s mIoU ↑ | %s mAP ↑ |", r->models[m], r->models[m], r->models[m]);
        fprintf(f, "\n|---|");
        for (int m = 0; m < r->nmodels; m++) fprintf(f, "---:|---:|---:|");
        fprintf(f, "\n");
        for (int k = 0; k < r->nmethods; k++) {
            fprintf(f, "| %s |", r->methods[k]);
            for (int m = 0; m < r->nmodels; m++) {
                mxb_res_summary s;
                mxb_results_summarize(r, MXB_TEST_SEGMENTATION, m, k, &s);
                cell(f, s.pixel_accuracy, 100);
                cell(f, s.miou, 100);
                cell(f, s.map, 100);
            }
            fprintf(f, "\n");
        }
    }
}

void mxb_report_curves(const mxb_results *r, FILE *f) {
    if (!r->test[MXB_TEST_PERTURBATION].enabled) return;
    static const char *pol[2] = {"positive", "negative"};
    fprintf(f, "\n### Perturbation curves: top-1 accuracy (%%) after removing a fraction p of the pixels\n\n");
    fprintf(f, "| Model | Method | Test |");
    for (int k = 0; k < MXB_RES_STEPS; k++) fprintf(f, " p=%.1f |", k / 10.0);
    fprintf(f, "\n|---|---|---|");
    for (int k = 0; k < MXB_RES_STEPS; k++) fprintf(f, "---:|");
    fprintf(f, "\n");
    for (int m = 0; m < r->nmodels; m++)
        for (int k = 0; k < r->nmethods; k++) {
            mxb_res_summary s;
            mxb_results_summarize(r, MXB_TEST_PERTURBATION, m, k, &s);
            for (int q = 0; q < 2; q++) {
                if (!r->polarity[q]) continue;
                fprintf(f, "| %s | %s | %s |", r->models[m], r->methods[k], pol[q]);
                for (int j = 0; j < MXB_RES_STEPS; j++) cell(f, s.accuracy[q][j], 100);
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
        fprintf(f, "],\n  \"metrics\": {");
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

/* ---- figures ------------------------------------------------------------------------ */

typedef struct {
    uint8_t *px;
    int w, h;
} canvas;

static void dot(canvas *c, int x, int y, const uint8_t rgb[3]) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    memcpy(c->px + ((size_t)y * c->w + x) * 3, rgb, 3);
}

static void line(canvas *c, int x0, int y0, int x1, int y1, const uint8_t rgb[3], int thick) {
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy;
    for (;;) {
        for (int a = 0; a < thick; a++)
            for (int b = 0; b < thick; b++) dot(c, x0 + a - thick / 2, y0 + b - thick / 2, rgb);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * e;
        if (e2 >= dy) e += dy, x0 += sx;
        if (e2 <= dx) e += dx, y0 += sy;
    }
}

static const uint8_t palette[8][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40},
                                      {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127}};

static int overlays(const mxb_results *r, const char *dir, FILE *md, char *err, size_t errlen) {
    int t = r->test[MXB_TEST_SEGMENTATION].nfig ? MXB_TEST_SEGMENTATION : MXB_TEST_PERTURBATION;
    const mxb_res_test *T = &r->test[t];
    if (!T->nfig || !r->keep_maps) {
        fprintf(md, "No overlay grid: the run kept %s.\n\n", r->keep_maps ? "no figure images ([run] figures = 0)"
                                                                          : "no maps ([run] save_maps = no)");
        return 0;
    }
    const int S = T->size, gap = 4, cols = 1 + r->nmodels * r->nmethods, rows = T->nfig;
    canvas c = {NULL, cols * S + (cols + 1) * gap, rows * S + (rows + 1) * gap};
    c.px = malloc((size_t)c.w * c.h * 3);
    float *chw = malloc((size_t)3 * S * S * sizeof(float)), *up = malloc((size_t)S * S * sizeof(float));
    uint8_t *tile = malloc((size_t)S * S * 3);
    if (!c.px || !chw || !up || !tile) {
        free(c.px), free(chw), free(up), free(tile);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    memset(c.px, 255, (size_t)c.w * c.h * 3);
    const float zero[3] = {0, 0, 0}, one[3] = {1, 1, 1};
    for (int y = 0; y < rows; y++) {
        int row = -1; /* the figure image's row in the per-image arrays */
        for (int i = 0; i < T->n; i++)
            if (T->index[i] == T->fig_index[y]) row = i;
        const uint8_t *rgb = T->fig_rgb + (size_t)y * S * S * 3;
        for (int p = 0; p < S * S; p++)
            for (int ch = 0; ch < 3; ch++) chw[(size_t)ch * S * S + p] = rgb[p * 3 + ch] / 255.0f;
        for (int col = 0; col < cols; col++) {
            const uint8_t *src = rgb;
            if (col > 0) {
                int m = (col - 1) / r->nmethods, k = (col - 1) % r->nmethods, g = r->grid[m];
                if (row < 0 || S % g) continue;
                mxb_upsample_bilinear(T->cell[m][k].maps + (size_t)row * g * g, g, g, S / g, up);
                if (mxb_minmax_normalize(up, (size_t)S * S))
                    for (int p = 0; p < S * S; p++) up[p] = 0; /* a flat map shows as no heat */
                mxb_overlay_heatmap(chw, zero, one, up, S, S, tile);
                src = tile;
            }
            for (int yy = 0; yy < S; yy++)
                memcpy(c.px + (((size_t)(gap + y * (S + gap) + yy)) * c.w + gap + col * (S + gap)) * 3,
                       src + (size_t)yy * S * 3, (size_t)S * 3);
        }
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/overlays.png", dir);
    int rc = mxb_png_write_rgb(path, c.px, c.w, c.h, err, errlen);
    free(c.px), free(chw), free(up), free(tile);
    if (rc) return -1;
    fprintf(md, "## overlays.png\n\nRows: the first %d images of the %s test (ids:", rows, test_name[t]);
    for (int y = 0; y < rows; y++)
        for (int i = 0; i < T->n; i++)
            if (T->index[i] == T->fig_index[y]) fprintf(md, " %s", T->ids[i]);
    fprintf(md, ").\nColumns: the image, then");
    for (int m = 0; m < r->nmodels; m++)
        for (int k = 0; k < r->nmethods; k++) fprintf(md, " %s/%s,", r->models[m], r->methods[k]);
    fprintf(md, " each map upsampled and min-max normalised, jet colours over the image (red = most relevant).\n\n");
    return 0;
}

static int curves(const mxb_results *r, const char *dir, FILE *md, char *err, size_t errlen) {
    if (!r->test[MXB_TEST_PERTURBATION].enabled) return 0;
    const int W = 320, H = 240, pad = 20, ml = 36, mb = 24;
    int panels = 0;
    for (int q = 0; q < 2; q++) panels += r->polarity[q];
    canvas c = {NULL, r->nmodels * W, panels * H};
    c.px = malloc((size_t)c.w * c.h * 3);
    if (!c.px) return snprintf(err, errlen, "out of memory"), -1;
    memset(c.px, 255, (size_t)c.w * c.h * 3);
    const uint8_t axis[3] = {0, 0, 0}, grid[3] = {225, 225, 225};
    int py = 0;
    for (int q = 0; q < 2; q++) {
        if (!r->polarity[q]) continue;
        for (int m = 0; m < r->nmodels; m++) {
            int x0 = m * W + ml, y0 = py * H + pad, x1 = (m + 1) * W - pad, y1 = (py + 1) * H - mb;
            for (int j = 0; j <= 10; j++) { /* accuracy 0..100 % every 10, p 0..0.9 */
                int yy = y1 - (y1 - y0) * j / 10;
                line(&c, x0, yy, x1, yy, grid, 1);
                if (j < 10) {
                    int xx = x0 + (x1 - x0) * j / 9;
                    line(&c, xx, y0, xx, y1, grid, 1);
                }
            }
            line(&c, x0, y1, x1, y1, axis, 1);
            line(&c, x0, y0, x0, y1, axis, 1);
            for (int k = 0; k < r->nmethods; k++) {
                mxb_res_summary s;
                mxb_results_summarize(r, MXB_TEST_PERTURBATION, m, k, &s);
                for (int j = 0; j + 1 < MXB_RES_STEPS; j++) {
                    double a = s.accuracy[q][j], b = s.accuracy[q][j + 1];
                    if (isnan(a) || isnan(b)) continue;
                    line(&c, x0 + (x1 - x0) * j / 9, y1 - (int)lround((y1 - y0) * a), x0 + (x1 - x0) * (j + 1) / 9,
                         y1 - (int)lround((y1 - y0) * b), palette[k % 8], 2);
                }
            }
        }
        py++;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/perturbation.png", dir);
    int rc = mxb_png_write_rgb(path, c.px, c.w, c.h, err, errlen);
    free(c.px);
    if (rc) return -1;
    static const char *pol[2] = {"positive (lower is better)", "negative (higher is better)"};
    static const char *colour[8] = {"blue", "orange", "green", "red", "purple", "brown", "pink", "grey"};
    fprintf(md, "## perturbation.png\n\nTop-1 accuracy (y, 0 to 100 %%, grid every 10 %%) against the fraction of pixels removed (x, p = 0 to 0.9, grid every 0.1).\nColumns: models (");
    for (int m = 0; m < r->nmodels; m++) fprintf(md, "%s%s", m ? ", " : "", r->models[m]);
    fprintf(md, "). Rows:");
    for (int q = 0, first = 1; q < 2; q++)
        if (r->polarity[q]) fprintf(md, "%s %s", first ? "" : ",", pol[q]), first = 0;
    fprintf(md, ".\nLines:");
    for (int k = 0; k < r->nmethods; k++) fprintf(md, "%s %s %s", k ? "," : "", colour[k % 8], r->methods[k]);
    fprintf(md, ".\n\n");
    return 0;
}

int mxb_report_figures(const mxb_results *r, const char *dir, char *err, size_t errlen) {
    char path[4200];
    snprintf(path, sizeof path, "%s/figures.md", dir);
    FILE *md = fopen(path, "w");
    if (!md) return snprintf(err, errlen, "%s: cannot write (does the folder exist?)", path), -1;
    fprintf(md, "# Figures\n\n");
    int rc = overlays(r, dir, md, err, errlen) || curves(r, dir, md, err, errlen) ? -1 : 0;
    if (fclose(md) && !rc) {
        snprintf(err, errlen, "%s: write failed", path);
        rc = -1;
    }
    return rc;
}
