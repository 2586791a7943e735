/* Segmentation test, pointing game, and the map post-processing shared with the
 * harness: exact to imagenet_seg_eval.py + utils/metrices.py (sklearn 1.2). */
#include "metrics/metrics.h"
#include "metrics/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void mxb_upsample_bilinear(const float *in, int h, int w, int factor, float *out) {
    int oh = h * factor, ow = w * factor;
    /* PyTorch uses 1 / scale_factor (as float) when a scale factor is given. */
    float scale = (float)(1.0 / factor);
    for (int y = 0; y < oh; y++) {
        float sy = scale * ((float)y + 0.5f) - 0.5f;
        if (sy < 0) sy = 0;
        int y0 = (int)sy;
        if (y0 > h - 1) y0 = h - 1;
        int y1 = y0 < h - 1 ? y0 + 1 : y0;
        float ly1 = sy - (float)y0, ly0 = 1.0f - ly1;
        for (int x = 0; x < ow; x++) {
            float sx = scale * ((float)x + 0.5f) - 0.5f;
            if (sx < 0) sx = 0;
            int x0 = (int)sx;
            if (x0 > w - 1) x0 = w - 1;
            int x1 = x0 < w - 1 ? x0 + 1 : x0;
            float lx1 = sx - (float)x0, lx0 = 1.0f - lx1;
            /* Same association as torch's CPU kernel: width first, then height,
             * both terms even at the border where the neighbour is the pixel itself. */
            float t0 = in[y0 * w + x0] * lx0 + in[y0 * w + x1] * lx1;
            float t1 = in[y1 * w + x0] * lx0 + in[y1 * w + x1] * lx1;
            out[y * ow + x] = t0 * ly0 + t1 * ly1;
        }
    }
}

int mxb_minmax_normalize(float *x, size_t n) {
    if (!n) return 0;
    float lo = x[0], hi = x[0];
    for (size_t i = 1; i < n; i++) {
        /* torch.min/max propagate NaN */
        if (x[i] != x[i] || lo != lo) { lo = hi = NAN; break; }
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    float range = hi - lo;
    /* Scale-invariant over the whole finite range: a map near FLT_MAX (±1.5·2^127) has
     * hi - lo = inf in float, every value 0 or NaN. Halving is exact (a power of two),
     * so the halved map gives the very bits the map at any smaller scale gives. */
    const float s = isinf(range) && isfinite(hi) && isfinite(lo) ? 0.5f : 1.0f;
    if (s != 1.0f) range = hi * s - lo * s;
    for (size_t i = 0; i < n; i++) x[i] = (x[i] * s - lo * s) / range;
    return range == 0.0f ? 1 : 0;
}

int mxb_map_postprocess(const float *map, int grid, int patch, mxb_flat_policy flat, float *vis) {
    const size_t n = (size_t)grid * patch * grid * patch;
    mxb_upsample_bilinear(map, grid, grid, patch, vis);
    if (!mxb_minmax_normalize(vis, n)) return 0;
    if (flat == MXB_FLAT_ZERO)
        for (size_t i = 0; i < n; i++) vis[i] = 0.0f;
    return 1;
}

double mxb_ap_score(const float *score, const uint8_t *label, size_t n) {
    if (n == 0 || n > INT32_MAX) return NAN;
    size_t npos = 0;
    for (size_t i = 0; i < n; i++) {
        if (score[i] != score[i]) return NAN;
        npos += label[i] != 0;
    }
    if (npos == 0) return 0.0;
    int32_t *order = mxb_try_alloc(n * sizeof *order);
    if (!order || mxb_argsort_desc(score, n, order)) {
        free(order);
        return NAN;
    }
    /* One point per distinct threshold, highest first: AP = Σ (R_k - R_{k-1}) P_k. */
    double tp = 0, fp = 0, prev_recall = 0, ap = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t j = order[i];
        if (label[j]) tp += 1; else fp += 1;
        if (i + 1 < n && score[order[i + 1]] == score[j]) continue;
        double precision = tp / (tp + fp);
        double recall = tp / (double)npos;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    free(order);
    return ap;
}

double mxb_f1_score(const uint8_t *label, const uint8_t *pred, size_t n) {
    double tp = 0, fp = 0, fn = 0;
    for (size_t i = 0; i < n; i++) {
        int t = label[i] != 0, p = pred[i] != 0;
        tp += t && p;
        fp += !t && p;
        fn += t && !p;
    }
    /* sklearn 1.2: ill-defined ratios are 0, then F = (1 + β²) P R / (β² P + R)
     * with a zero denominator replaced by 1. */
    double precision = tp + fp > 0 ? tp / (tp + fp) : 0.0;
    double recall = tp + fn > 0 ? tp / (tp + fn) : 0.0;
    double denom = 1.0 * precision + recall;
    if (denom == 0.0) denom = 1.0;
    return 2.0 * precision * recall / denom;
}

int mxb_seg_evaluate(const float *relevance, const uint8_t *mask, int h, int w,
                     mxb_seg_image *out, char *err, size_t errlen) {
    if (h <= 0 || w <= 0 || (int64_t)h * w > INT32_MAX / 2) {
        mxb_seterr(err, errlen, "segmentation: bad map size %dx%d", h, w);
        return -1;
    }
    size_t n = (size_t)h * (size_t)w;
    for (size_t i = 0; i < n; i++) {
        if (mask[i] > 1) {
            mxb_seterr(err, errlen, "segmentation: mask value %d at pixel %zu (want 0 or 1)",
                     mask[i], i);
            return -1;
        }
    }
    float *score = mxb_try_alloc(2 * n * sizeof *score);
    uint8_t *label = mxb_try_alloc(2 * n);
    uint8_t *pred = mxb_try_alloc(n);
    if (!score || !label || !pred) {
        free(score); free(label); free(pred);
        mxb_seterr(err, errlen, "segmentation: out of memory for a %dx%d map", h, w);
        return -1;
    }
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += relevance[i];
    float t = (float)(sum / (double)n);
    *out = (mxb_seg_image){0};
    out->threshold = t;
    out->labeled = (int64_t)n;
    int64_t count_pred[2] = {0, 0}, count_lab[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        float r = relevance[i];
        /* NaN > t is false: both one-hot channels 0, torch.max says background. */
        int p = r > t;
        int m = mask[i];
        pred[i] = (uint8_t)p;
        out->correct += p == m;
        if (p == m) out->inter[m]++;
        count_pred[p]++;
        count_lab[m]++;
        float rr = r == r ? r : 0.0f;
        float rb = 1.0f - r;
        score[i] = rb == rb ? rb : 0.0f;
        label[i] = m == 0;
        score[n + i] = rr;
        label[n + i] = m == 1;
    }
    for (int c = 0; c < 2; c++) out->uni[c] = count_pred[c] + count_lab[c] - out->inter[c];
    double ap = mxb_ap_score(score, label, 2 * n);
    free(score);
    free(label);
    if (ap != ap) {
        free(pred);
        mxb_seterr(err, errlen, "segmentation: out of memory computing AP");
        return -1;
    }
    out->ap = ap;
    double f1 = 0;
    for (int y = 0; y < h; y++) f1 += mxb_f1_score(mask + (size_t)y * w, pred + (size_t)y * w, (size_t)w);
    out->f1 = f1 / h;
    free(pred);
    return 0;
}

void mxb_seg_accumulate(mxb_seg_totals *t, const mxb_seg_image *img) {
    t->images++;
    t->correct += img->correct;
    t->labeled += img->labeled;
    for (int c = 0; c < 2; c++) {
        t->inter[c] += img->inter[c];
        t->uni[c] += img->uni[c];
    }
    t->ap_sum += img->ap;
    t->f1_sum += img->f1;
}

void mxb_seg_summarize(const mxb_seg_totals *t, mxb_seg_summary *out) {
    /* np.spacing(1, dtype=float64) guards the divisions, as in the reference. */
    const double eps = 2.220446049250313e-16;
    out->pixel_accuracy = 1.0 * (double)t->correct / (eps + (double)t->labeled);
    for (int c = 0; c < 2; c++) out->iou[c] = 1.0 * (double)t->inter[c] / (eps + (double)t->uni[c]);
    out->miou = (out->iou[0] + out->iou[1]) / 2;
    out->map = t->images ? t->ap_sum / (double)t->images : NAN;
    out->mf1 = t->images ? t->f1_sum / (double)t->images : NAN;
}

int mxb_pointing_game(const float *map, const uint8_t *mask, int h, int w, double tolerance) {
    size_t n = (size_t)h * (size_t)w, best = n;
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        any |= mask[i] != 0;
        /* np.argmax: NaN wins at once, else the first of the largest values */
        if (map[i] != map[i]) { if (best == n || map[best] == map[best]) best = i; break; }
        if (best == n || map[i] > map[best]) best = i;
    }
    for (size_t i = 0; i < n && !any; i++) any |= mask[i] != 0;
    if (!any || best == n) return -1;
    int by = (int)(best / (size_t)w), bx = (int)(best % (size_t)w);
    int r = tolerance > 0 ? (int)ceil(tolerance) : 0;
    double t2 = tolerance * tolerance;
    for (int y = by - r; y <= by + r; y++) {
        if (y < 0 || y >= h) continue;
        for (int x = bx - r; x <= bx + r; x++) {
            if (x < 0 || x >= w) continue;
            double dy = y - by, dx = x - bx;
            if (dy * dy + dx * dx <= t2 && mask[(size_t)y * w + x]) return 1;
        }
    }
    return 0;
}
