/* The summary metrics, described once (results/store.h, mxb_res_sumrow): what each
 * is made of, its stable name, which direction is better, where its mean is saved,
 * its table column and compare's default tolerance; and the totals of one model x
 * method made from the per-image fields. The saved means (store.c), the tables
 * (report.c, html.c), the metric list (JSON, CSV) and mxb compare walk this table. */
#include "results/results.h"

#include "io/io.h"
#include "metrics/metrics.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const mxb_test_names[MXB_NTESTS] = {"perturbation", "segmentation"};
const char *const mxb_polarity_names[2] = {"positive", "negative"};

#define AT(member) offsetof(mxb_res_summary, member)
#define TOL MXB_METRIC_TOLERANCE
enum { PERT = MXB_TEST_PERTURBATION, SEG = MXB_TEST_SEGMENTATION, BOTH = -1 };
enum { LOWER = -1, NONE = 0, HIGHER = 1 };

/* Order is the metric list's (JSON, CSV, compare) and the tables' column order: per
 * test, table order, a run of per-polarity rows walked positive then negative. */
const mxb_res_sumrow mxb_res_sumrows[] = {
    /* name, test, polar, extent, when, better, how, from, at, saved, layout, table, md, column, scale, tolerance */
    {"images", BOTH, 0, MXB_SUM_ONE, MXB_RES_ALWAYS, NONE, MXB_SUM_COUNT, NULL, AT(n), NULL, NULL, MXB_TAB_NONE, 0,
     {NULL, NULL}, 1, TOL},
    /* removing the most relevant pixels first should hurt fast (positive, lower is
     * better), the least relevant first hardly at all (negative, higher) */
    {"auc", PERT, 1, MXB_SUM_ONE, MXB_RES_ALWAYS, LOWER, MXB_SUM_CURVE, NULL, AT(auc), "auc",
     "scalar: area under accuracy, in the file's AUC convention", MXB_TAB_AUC, 1, {"positive", "negative"}, 1, TOL},
    {"accuracy", PERT, 1, MXB_SUM_PER_STEP, MXB_RES_ALWAYS, LOWER, MXB_SUM_CURVE, NULL, AT(accuracy), "accuracy",
     "[step] mean of hits over images; step/10 of the pixels removed", MXB_TAB_CURVES, 1, {NULL, NULL}, 100, TOL},
    {NULL, PERT, 1, MXB_SUM_PER_STEP, MXB_RES_ALWAYS, NONE, MXB_SUM_CURVE, NULL, AT(logit_diff), "logit_diff_mean",
     "[step] mean of logit_diff over images", MXB_TAB_NONE, 0, {NULL, NULL}, 1, TOL},
    {NULL, PERT, 1, MXB_SUM_PER_STEP, MXB_RES_ALWAYS, NONE, MXB_SUM_CURVE, NULL, AT(prob_diff), "prob_diff_mean",
     "[step] mean of prob_diff over images", MXB_TAB_NONE, 0, {NULL, NULL}, 1, TOL},
    /* RISE: the class stays likely as relevant pixels come back (insertion), drops
     * fast as they go (deletion) */
    {"insertion_auc", PERT, 0, MXB_SUM_ONE, MXB_RES_IF_INSDEL, HIGHER, MXB_SUM_MEAN, "insertion_auc",
     AT(insertion_auc), "mean_insertion_auc", "scalar: mean of insertion_auc over images", MXB_TAB_INSDEL, 1,
     {"insertion", NULL}, 100, TOL},
    {"deletion_auc", PERT, 0, MXB_SUM_ONE, MXB_RES_IF_INSDEL, LOWER, MXB_SUM_MEAN, "deletion_auc", AT(deletion_auc),
     "mean_deletion_auc", "scalar: mean of deletion_auc over images", MXB_TAB_INSDEL, 1, {"deletion", NULL}, 100, TOL},
    {"pixel_accuracy", SEG, 0, MXB_SUM_ONE, MXB_RES_ALWAYS, HIGHER, MXB_SUM_SEG, NULL, AT(pixel_accuracy),
     "pixel_accuracy", "scalar: sum of correct / sum of labelled", MXB_TAB_SEG, 1, {"pixel acc.", NULL}, 100, TOL},
    {"miou", SEG, 0, MXB_SUM_ONE, MXB_RES_ALWAYS, HIGHER, MXB_SUM_SEG, NULL, AT(miou), "miou",
     "scalar: mean over classes of sum(I) / sum(U)", MXB_TAB_SEG, 1, {"mIoU", NULL}, 100, TOL},
    {"mean_ap", SEG, 0, MXB_SUM_ONE, MXB_RES_ALWAYS, HIGHER, MXB_SUM_SEG, NULL, AT(map), "mean_ap",
     "scalar: mean of ap", MXB_TAB_SEG, 1, {"mAP", NULL}, 100, TOL},
    {"mean_f1", SEG, 0, MXB_SUM_ONE, MXB_RES_ALWAYS, HIGHER, MXB_SUM_SEG, NULL, AT(mf1), "mean_f1",
     "scalar: mean of f1", MXB_TAB_SEG, 0, {"mean F1", NULL}, 100, TOL},
    {"iou", SEG, 0, MXB_SUM_PER_CLASS, MXB_RES_ALWAYS, HIGHER, MXB_SUM_SEG, NULL, AT(iou), "iou",
     "[class] background, foreground: sum(I) / sum(U)", MXB_TAB_NONE, 0, {NULL, NULL}, 100, TOL},
    {"pointing_game", SEG, 0, MXB_SUM_ONE, MXB_RES_ALWAYS, HIGHER, MXB_SUM_SEG, NULL, AT(pointing), "pointing_game",
     "scalar: hits / (hits + misses)", MXB_TAB_SEG, 0, {"pointing", NULL}, 100, TOL},
};
const int mxb_res_nsumrows = (int)(sizeof mxb_res_sumrows / sizeof *mxb_res_sumrows);
_Static_assert(sizeof mxb_res_sumrows / sizeof *mxb_res_sumrows <= MXB_RES_MAX_SUMROWS, "raise MXB_RES_MAX_SUMROWS");

static const char *const class_names[2] = {"background", "foreground"};

int mxb_res_sumrow_present(const mxb_results *r, int t, const mxb_res_sumrow *w) {
    if (w->test != BOTH && w->test != t) return 0;
    return w->when != MXB_RES_IF_INSDEL || r->insdel_step > 0;
}

int mxb_res_sumrow_count(const mxb_res_sumrow *w) {
    return w->extent == MXB_SUM_PER_STEP ? MXB_RES_STEPS : w->extent == MXB_SUM_PER_CLASS ? 2 : 1;
}

static size_t value_at(const mxb_res_sumrow *w, int q, int j) {
    return w->at + ((size_t)(w->polar ? q * mxb_res_sumrow_count(w) : 0) + (size_t)j) * sizeof(double);
}

double mxb_res_sumrow_value(const mxb_res_summary *s, const mxb_res_sumrow *w, int q, int j) {
    if (w->how == MXB_SUM_COUNT) return (double)s->n;
    double v;
    memcpy(&v, (const char *)s + value_at(w, q, j), sizeof v);
    return v;
}

static void set_value(mxb_res_summary *s, const mxb_res_sumrow *w, int q, int j, double v) {
    memcpy((char *)s + value_at(w, q, j), &v, sizeof v);
}

void mxb_res_sumrow_name(char *out, size_t len, const mxb_results *r, int t, int m, int k, const mxb_res_sumrow *w,
                         int q, int j) {
    char tail[32] = "";
    if (w->extent == MXB_SUM_PER_STEP) snprintf(tail, sizeof tail, "_%d0", j);
    else if (w->extent == MXB_SUM_PER_CLASS) snprintf(tail, sizeof tail, "_%s", class_names[j]);
    snprintf(out, len, "%s/%s/%s/%s%s%s%s", mxb_test_names[t], r->models[m], r->methods[k],
             w->polar ? mxb_polarity_names[q] : "", w->polar ? "_" : "", w->name, tail);
}

int mxb_res_slot_better(const mxb_res_sumslot *s) { return s->q == MXB_NEGATIVE ? -s->w->better : s->w->better; }

int mxb_res_sumslots(const mxb_results *r, int t, mxb_res_sumslot *out) {
    int n = 0;
    for (int i = 0; i < mxb_res_nsumrows;) {
        int e = i + 1;
        if (mxb_res_sumrows[i].polar)
            while (e < mxb_res_nsumrows && mxb_res_sumrows[e].polar) e++;
        for (int q = 0; q < (mxb_res_sumrows[i].polar ? 2 : 1); q++)
            for (int g = i; g < e; g++) {
                const mxb_res_sumrow *w = &mxb_res_sumrows[g];
                if (mxb_res_sumrow_present(r, t, w) && (!w->polar || r->polarity[q])) out[n++] = (mxb_res_sumslot){w, q};
            }
        i = e;
    }
    return n;
}

const char *mxb_better_arrow(int better) { return better > 0 ? "↑" : better < 0 ? "↓" : ""; }

/* ---- totals ------------------------------------------------------------------- */

/* Every value of every row NaN (the count stays): a pair not run, a mean of nothing. */
static void set_nan(mxb_res_summary *s, int only_how) {
    for (int i = 0; i < mxb_res_nsumrows; i++) {
        const mxb_res_sumrow *w = &mxb_res_sumrows[i];
        if (w->how == MXB_SUM_COUNT || (only_how >= 0 && (int)w->how != only_how)) continue;
        for (int q = 0; q < (w->polar ? 2 : 1); q++)
            for (int j = 0; j < mxb_res_sumrow_count(w); j++) set_value(s, w, q, j, NAN);
    }
}

static const mxb_res_field *field_named(const char *name) {
    for (int i = 0; i < mxb_res_nfields; i++)
        if (!strcmp(mxb_res_fields[i].name, name)) return &mxb_res_fields[i];
    return NULL;
}

void mxb_results_summarize(const mxb_results *r, int t, int model, int method, mxb_res_summary *s) {
    mxb_results_summarize_w(r, t, model, method, NULL, s);
}

/* How many times image i counts: the bootstrap's multiplicity, or once when done. */
static int copies(const mxb_res_test *T, int model, const int32_t *mult, int i) {
    return mult ? mult[i] : T->done[model][i] != 0;
}

void mxb_results_summarize_w(const mxb_results *r, int t, int model, int method, const int32_t *mult,
                             mxb_res_summary *s) {
    memset(s, 0, sizeof *s);
    set_nan(s, MXB_SUM_MEAN);
    const mxb_res_test *T = &r->test[t];
    const mxb_res_cell *c = &T->cell[model][method];
    if (!T->enabled) return;
    if (r->skipped[model][method]) { /* not run: nothing to sum, every number NaN */
        set_nan(s, -1);
        return;
    }
    /* the plain means: one loop for every MXB_SUM_MEAN row of the table */
    for (int w = 0; w < mxb_res_nsumrows; w++) {
        const mxb_res_sumrow *row = &mxb_res_sumrows[w];
        if (row->how != MXB_SUM_MEAN || !mxb_res_sumrow_present(r, t, row)) continue;
        const double *v = mxb_res_field_data(c, field_named(row->from), 0);
        double sum = 0;
        int64_t nd = 0;
        for (int i = 0; i < T->n; i++)
            for (int w = copies(T, model, mult, i); w > 0; w--) {
                sum += v[i];
                nd++;
            }
        set_value(s, row, 0, 0, nd ? sum / (double)nd : NAN);
    }
    if (t == MXB_TEST_PERTURBATION) {
        mxb_auc_convention conv = {r->auc_x_normalized, r->auc_y_fraction};
        for (int p = 0; p < 2; p++) {
            mxb_perturb_curve curve;
            memset(&curve, 0, sizeof curve);
            for (int i = 0; i < T->n; i++)
                for (int w = copies(T, model, mult, i); w > 0; w--)
                for (int k = 0; k < MXB_RES_STEPS; k++) {
                    mxb_perturb_outcome o = {c->hits[p][i * MXB_RES_STEPS + k], 0,
                                             c->logit_diff[p][i * MXB_RES_STEPS + k],
                                             c->prob_diff[p][i * MXB_RES_STEPS + k]};
                    mxb_perturb_add(&curve, k, &o);
                }
            s->n = curve.n[0];
            mxb_perturb_accuracy(&curve, s->accuracy[p]);
            s->auc[p] = r->polarity[p] ? mxb_perturb_auc(s->accuracy[p], conv) : NAN;
            for (int k = 0; k < MXB_RES_STEPS; k++) {
                s->logit_diff[p][k] = curve.n[k] ? curve.logit_diff_sum[k] / (double)curve.n[k] : NAN;
                s->prob_diff[p][k] = curve.n[k] ? curve.prob_diff_sum[k] / (double)curve.n[k] : NAN;
            }
        }
    } else {
        mxb_seg_totals tot;
        memset(&tot, 0, sizeof tot);
        int64_t points = 0, hits = 0;
        for (int i = 0; i < T->n; i++)
            for (int w = copies(T, model, mult, i); w > 0; w--) {
                const int32_t *k = c->seg_counts + (size_t)i * MXB_SEG_COUNTS;
                mxb_seg_image im = {k[0], k[1], {k[2], k[3]}, {k[4], k[5]}, c->ap[i], c->f1[i], 0};
                mxb_seg_accumulate(&tot, &im);
                if (c->pointing[i] >= 0) {
                    points++;
                    hits += c->pointing[i];
                }
            }
        mxb_seg_summary sum;
        mxb_seg_summarize(&tot, &sum);
        s->n = tot.images;
        s->pixel_accuracy = sum.pixel_accuracy;
        s->iou[0] = sum.iou[0];
        s->iou[1] = sum.iou[1];
        s->miou = sum.miou;
        s->map = sum.map;
        s->mf1 = sum.mf1;
        s->pointing = points ? (double)hits / (double)points : NAN;
    }
}

int mxb_results_metrics(const mxb_results *r, mxb_metric **out) {
    int cap = 64, n = 0;
    mxb_metric *v = mxb_try_alloc0((size_t)cap, sizeof *v);
    if (!v) return -1;
    for (int t = 0; t < MXB_NTESTS; t++) {
        if (!r->test[t].enabled) continue;
        for (int m = 0; m < r->nmodels; m++)
            for (int k = 0; k < r->nmethods; k++) {
                if (r->skipped[m][k]) continue; /* no metric: absent, not NaN */
                mxb_res_summary s;
                mxb_results_summarize(r, t, m, k, &s);
                mxb_res_sumslot sl[2 * MXB_RES_MAX_SUMROWS];
                const int ns = mxb_res_sumslots(r, t, sl);
                for (int i = 0; i < ns; i++) {
                    const mxb_res_sumrow *w = sl[i].w;
                    for (int j = 0; w->name && j < mxb_res_sumrow_count(w); j++) {
                        if (n == cap) {
                            mxb_metric *nv = mxb_try_realloc(v, (size_t)(cap *= 2) * sizeof *v);
                            if (!nv) {
                                free(v);
                                return -1;
                            }
                            v = nv;
                        }
                        mxb_res_sumrow_name(v[n].name, sizeof v[n].name, r, t, m, k, w, sl[i].q, j);
                        v[n].value = mxb_res_sumrow_value(&s, w, sl[i].q, j);
                        v[n].better = mxb_res_slot_better(&sl[i]);
                        v[n].tolerance = w->tolerance;
                        n++;
                    }
                }
            }
    }
    *out = v;
    return n;
}
