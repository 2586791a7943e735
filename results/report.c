/* Reports from a results file: the paper's two tables, every metric under a stable
 * name (JSON, CSV) and per-step curves. Figures are figures.c, the HTML page html.c. */
#include "results/results.h"

#include "metrics/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a pair the run skipped (the method does not support the model): an em dash, unlike
 * a number that could not be computed (n/a) */
static void skipped(FILE *f) { fprintf(f, " — |"); }

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
                    if (r->polarity[q]) r->skipped[m][k] ? skipped(f) : cell(f, s.auc[q], 1);
            }
            fprintf(f, "\n");
        }
        if (r->insdel_step > 0) { /* RISE insertion / deletion: only when the run made them */
            fprintf(f, "\n### Insertion / deletion (RISE, %d pixels per step): mean AUC of the class probability, in %%\n\n| Method |",
                    r->insdel_step);
            for (int m = 0; m < r->nmodels; m++) fprintf(f, " %s insertion ↑ | %s deletion ↓ |", r->models[m], r->models[m]);
            fprintf(f, "\n|---|");
            for (int m = 0; m < r->nmodels; m++) fprintf(f, "---:|---:|");
            fprintf(f, "\n");
            for (int k = 0; k < r->nmethods; k++) {
                fprintf(f, "| %s |", r->methods[k]);
                for (int m = 0; m < r->nmodels; m++) {
                    mxb_res_summary s;
                    mxb_results_summarize(r, MXB_TEST_PERTURBATION, m, k, &s);
                    if (r->skipped[m][k]) {
                        skipped(f);
                        skipped(f);
                        continue;
                    }
                    cell(f, s.insertion_auc, 100);
                    cell(f, s.deletion_auc, 100);
                }
                fprintf(f, "\n");
            }
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
                if (r->skipped[m][k]) {
                    skipped(f);
                    skipped(f);
                    skipped(f);
                    continue;
                }
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
            if (r->skipped[m][k]) continue; /* not run: no curve */
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

int mxb_metric_moved(const mxb_metric *x, const mxb_metric *y, double tol, double rel, double *d) {
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
