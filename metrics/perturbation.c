/* Perturbation test (generate_visualizations.py + pertubation_eval_from_hdf5.py)
 * and RISE's insertion / deletion. */
#include "metrics/metrics.h"
#include "metrics/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mxb_perturb_count(int npix, int step) {
    if (step <= 0 || npix <= 0) return 0;
    /* step / 10.0 is correctly rounded, so it is the same double as the literal 0.3
     * in the reference's list, and int() truncates like the cast. */
    double p = step / 10.0;
    return (int)((double)npix * p);
}

int mxb_perturb_order(const float *vis, int npix, int negative, int32_t *order,
                      char *err, size_t errlen) {
    if (npix <= 0) {
        mxb_seterr(err, errlen, "perturbation: empty map");
        return -1;
    }
    const float *key = vis;
    float *neg = NULL;
    if (negative) {
        neg = mxb_try_alloc((size_t)npix * sizeof *neg);
        if (!neg) {
            mxb_seterr(err, errlen, "perturbation: out of memory for %d pixels", npix);
            return -1;
        }
        for (int i = 0; i < npix; i++) neg[i] = -vis[i];
        key = neg;
    }
    int rc = mxb_argsort_desc(key, (size_t)npix, order);
    free(neg);
    if (rc) mxb_seterr(err, errlen, "perturbation: out of memory for %d pixels", npix);
    return rc;
}

void mxb_perturb_mask(float *image, int channels, int npix, const int32_t *order, int count) {
    if (count > npix) count = npix;
    for (int c = 0; c < channels; c++) {
        float *plane = image + (size_t)c * npix;
        for (int i = 0; i < count; i++) plane[order[i]] = 0.0f;
    }
}

int mxb_argmax(const float *v, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return b;
}

/* max logit, its class (first on ties) and the max softmax probability */
static void logit_stats(const float *logits, int ncls, int *arg, double *max_logit, double *max_prob) {
    int b = mxb_argmax(logits, ncls);
    double m = logits[b], z = 0;
    for (int i = 0; i < ncls; i++) z += exp((double)logits[i] - m);
    *arg = b;
    *max_logit = m;
    *max_prob = 1.0 / z;
}

void mxb_perturb_outcome_of(const float *logits, const float *orig_logits, int ncls,
                            int label, mxb_perturb_outcome *out) {
    int pred, opred;
    double logit, prob, ologit, oprob;
    logit_stats(logits, ncls, &pred, &logit, &prob);
    logit_stats(orig_logits, ncls, &opred, &ologit, &oprob);
    out->pred = pred;
    out->hit = pred == label;
    out->logit_diff = logit - ologit;
    out->prob_diff = prob - oprob;
}

void mxb_perturb_add(mxb_perturb_curve *c, int step, const mxb_perturb_outcome *o) {
    if (step < 0 || step >= MXB_PERTURB_STEPS) return;
    c->n[step]++;
    c->hits[step] += o->hit != 0;
    c->logit_diff_sum[step] += o->logit_diff;
    c->prob_diff_sum[step] += o->prob_diff;
}

void mxb_perturb_accuracy(const mxb_perturb_curve *c, double accuracy[MXB_PERTURB_STEPS]) {
    for (int s = 0; s < MXB_PERTURB_STEPS; s++)
        accuracy[s] = c->n[s] ? (double)c->hits[s] / (double)c->n[s] : NAN;
}

double mxb_trapezoid(const double *x, const double *y, int n) {
    double a = 0;
    for (int i = 0; i + 1 < n; i++) a += (x[i + 1] - x[i]) * (y[i] + y[i + 1]) / 2.0;
    return a;
}

double mxb_perturb_auc(const double accuracy[MXB_PERTURB_STEPS], mxb_auc_convention conv) {
    double x[MXB_PERTURB_STEPS], y[MXB_PERTURB_STEPS];
    for (int s = 0; s < MXB_PERTURB_STEPS; s++) {
        x[s] = conv.x_normalized ? s / (double)(MXB_PERTURB_STEPS - 1) : s / 10.0;
        y[s] = conv.y_fraction ? accuracy[s] : 100.0 * accuracy[s];
    }
    return mxb_trapezoid(x, y, MXB_PERTURB_STEPS);
}

int mxb_rise_steps(int npix, int step) {
    if (npix <= 0 || step <= 0) return 0;
    return (int)(((int64_t)npix + step - 1) / step);
}

void mxb_rise_blend(const float *start, const float *finish, int channels, int npix,
                    const int32_t *order, int count, float *out) {
    if (count > npix) count = npix;
    if (count < 0) count = 0;
    memcpy(out, start, (size_t)channels * npix * sizeof *out);
    for (int c = 0; c < channels; c++)
        for (int i = 0; i < count; i++)
            out[(size_t)c * npix + order[i]] = finish[(size_t)c * npix + order[i]];
}

double mxb_rise_auc(const double *scores, int nscores) {
    if (nscores < 2) return NAN;
    double s = 0;
    for (int i = 0; i < nscores; i++) s += scores[i];
    return (s - scores[0] / 2 - scores[nscores - 1] / 2) / (nscores - 1);
}

/* scipy.ndimage.gaussian_filter(delta, 5) on 11 samples is separable: each axis is
 * correlate1d with a radius-20 Gaussian under 'reflect' boundaries (d c b a | a b c d
 * | d c b a, period 22), so a tap that falls outside folds back onto the array. */
void mxb_rise_kernel(float k[121]) {
    const int len = 11, centre = 5, radius = 20;
    const double sigma = 5.0;
    double g[41], sum = 0;
    for (int j = -radius; j <= radius; j++) {
        g[j + radius] = exp(-0.5 / (sigma * sigma) * (double)(j * j));
        sum += g[j + radius];
    }
    for (int j = 0; j < 41; j++) g[j] /= sum;
    double k1[11];
    for (int i = 0; i < len; i++) {
        k1[i] = 0;
        for (int j = -radius; j <= radius; j++) {
            int m = ((i + j) % (2 * len) + 2 * len) % (2 * len);
            if (m >= len) m = 2 * len - 1 - m;
            if (m == centre) k1[i] += g[j + radius];
        }
    }
    for (int a = 0; a < len; a++)
        for (int b = 0; b < len; b++) k[a * len + b] = (float)(k1[a] * k1[b]);
}

void mxb_rise_blur(const float *image, int channels, int h, int w, float *out) {
    float k[121];
    mxb_rise_kernel(k);
    for (int c = 0; c < channels; c++) {
        const float *in = image + (size_t)c * h * w;
        float *o = out + (size_t)c * h * w;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                float s = 0;
                for (int a = 0; a < 11; a++) {
                    int yy = y + a - 5;
                    if (yy < 0 || yy >= h) continue;
                    for (int b = 0; b < 11; b++) {
                        int xx = x + b - 5;
                        if (xx < 0 || xx >= w) continue;
                        s += k[a * 11 + b] * in[(size_t)yy * w + xx];
                    }
                }
                o[(size_t)y * w + x] = s;
            }
    }
}
