/* metrics/ against sklearn, torch, scipy and numpy (tests/gen_metrics.py writes
 * their answers), and against segmentation.golden.h5 made by the original code. */
#include "io/io.h"
#include "metrics/metrics.h"
#include "mxb_test.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* own buffers: mxb_test_path's rotate and would be overwritten by dataset names */
static const char *gold(void) {
    static char p[4096];
    if (!p[0]) snprintf(p, sizeof p, "%s/metrics/metrics.h5", mxb_test_env("MXB_TESTDATA"));
    return p;
}
static const char *fixture(void) {
    static char p[4096];
    if (!p[0]) snprintf(p, sizeof p, "%s/segmentation.golden.h5", mxb_test_env("MXB_FIXTURES"));
    return p;
}

/* Reads a whole dataset converted to the given memory type; NULL when missing. */
static void *read_as(const char *file, const char *dset, hid_t type, size_t elem, size_t *count) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) { fprintf(stderr, "test: cannot open %s\n", file); return NULL; }
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
    if (d < 0) { fprintf(stderr, "test: %s has no %s\n", file, dset); H5Fclose(f); return NULL; }
    hid_t s = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    void *buf = malloc((size_t)(n > 0 ? n : 1) * elem);
    if (H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) { free(buf); buf = NULL; }
    if (count) *count = (size_t)n;
    H5Sclose(s); H5Dclose(d); H5Fclose(f);
    return buf;
}
static double *rd(const char *file, const char *dset, size_t *n) {
    return read_as(file, dset, H5T_NATIVE_DOUBLE, sizeof(double), n);
}
static float *rf(const char *file, const char *dset, size_t *n) {
    return read_as(file, dset, H5T_NATIVE_FLOAT, sizeof(float), n);
}
static int64_t *ri(const char *file, const char *dset, size_t *n) {
    return read_as(file, dset, H5T_NATIVE_INT64, sizeof(int64_t), n);
}
static uint8_t *ru8(const char *file, const char *dset, size_t *n) {
    return read_as(file, dset, H5T_NATIVE_UCHAR, 1, n);
}
static int32_t *ri32(const char *file, const char *dset, size_t *n) {
    return read_as(file, dset, H5T_NATIVE_INT32, sizeof(int32_t), n);
}
static double scalar(const char *file, const char *dset) {
    size_t n = 0;
    double *v = rd(file, dset, &n);
    double r = v && n ? v[0] : NAN;
    free(v);
    return r;
}
static const char *P(const char *fmt, int k) { return mxb_test_path(fmt, k); }

/* sklearn average_precision_score on 400 cases: ties, no positives, n = 1 */
static void test_ap_vs_sklearn(void) {
    size_t ns, nl, no, ne;
    float *s = rf(gold(), "ap/scores", &ns);
    uint8_t *l = ru8(gold(), "ap/labels", &nl);
    int64_t *off = ri(gold(), "ap/offsets", &no);
    double *e = rd(gold(), "ap/expected", &ne);
    CU_ASSERT_FATAL(s && l && off && e && ns == nl && no == ne + 1);
    double worst = 0;
    int bad = 0;
    for (size_t k = 0; k < ne; k++) {
        size_t a = (size_t)off[k], n = (size_t)(off[k + 1] - off[k]);
        double ap = mxb_ap_score(s + a, l + a, n);
        double d = fabs(ap - e[k]);
        if (!(d <= worst)) worst = d;
        if (!(d <= 1e-6)) { if (bad++ < 5) printf("\n  case %zu (n=%zu): %.9f vs sklearn %.9f", k, n, ap, e[k]); }
    }
    printf("\n  %zu AP cases: max |AP - sklearn| = %.3g", ne, worst);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(worst <= 1e-6);
    float nan_score[2] = {0.5f, NAN};
    uint8_t lab2[2] = {1, 0};
    CU_ASSERT(isnan(mxb_ap_score(nan_score, lab2, 2)));
    CU_ASSERT(isnan(mxb_ap_score(nan_score, lab2, 0)));
    free(s); free(l); free(off); free(e);
}

static void test_f1_vs_sklearn(void) {
    size_t nl, np_, no, ne;
    uint8_t *l = ru8(gold(), "f1/labels", &nl);
    uint8_t *p = ru8(gold(), "f1/preds", &np_);
    int64_t *off = ri(gold(), "f1/offsets", &no);
    double *e = rd(gold(), "f1/expected", &ne);
    CU_ASSERT_FATAL(l && p && off && e && no == ne + 1);
    double worst = 0;
    for (size_t k = 0; k < ne; k++) {
        size_t a = (size_t)off[k], n = (size_t)(off[k + 1] - off[k]);
        double d = fabs(mxb_f1_score(l + a, p + a, n) - e[k]);
        if (!(d <= worst)) worst = d;
    }
    printf("\n  %zu F1 cases: max |F1 - sklearn| = %.3g", ne, worst);
    CU_ASSERT(worst <= 1e-12);
    free(l); free(p); free(off); free(e);
}

/* bilinear ×factor and min-max against F.interpolate */
static void test_upsample_vs_torch(void) {
    int count = (int)scalar(gold(), "ups/count");
    CU_ASSERT_FATAL(count > 0);
    double worst = 0, worst_norm = 0;
    for (int k = 0; k < count; k++) {
        int64_t *shape = ri(gold(), P("ups/shape_%d", k), NULL);
        float *in = rf(gold(), P("ups/in_%d", k), NULL);
        size_t n = 0;
        float *up = rf(gold(), P("ups/up_%d", k), &n);
        float *norm = rf(gold(), P("ups/norm_%d", k), NULL);
        CU_ASSERT_FATAL(shape && in && up && norm);
        int h = (int)shape[0], w = (int)shape[1], s = (int)shape[2];
        CU_ASSERT_FATAL(n == (size_t)h * s * w * s);
        float *out = malloc(n * sizeof *out);
        mxb_upsample_bilinear(in, h, w, s, out);
        double d = mxb_test_max_abs_diff(out, up, n);
        if (!(d <= worst)) worst = d;
        int constant = mxb_minmax_normalize(out, n);
        if (h * w == 1) {
            CU_ASSERT_EQUAL(constant, 1); /* 0/0: NaN everywhere, as torch */
            CU_ASSERT(isnan(out[0]) && isnan(norm[0]));
        } else {
            CU_ASSERT_EQUAL(constant, 0);
            d = mxb_test_max_abs_diff(out, norm, n);
            if (!(d <= worst_norm)) worst_norm = d;
        }
        free(shape); free(in); free(up); free(norm); free(out);
    }
    printf("\n  upsample max diff %.3g, after min-max %.3g", worst, worst_norm);
    CU_ASSERT(worst <= 1e-6);
    CU_ASSERT(worst_norm <= 1e-6);
}

/* per-image segmentation numbers against the reference's metrices.py functions */
static void test_seg_vs_reference(void) {
    int count = (int)scalar(gold(), "seg/count");
    size_t ni;
    int64_t *ints = ri(gold(), "seg/ints", &ni);
    int64_t *amb = ri(gold(), "seg/ambiguous", NULL);
    double *ap = rd(gold(), "seg/ap", NULL), *f1 = rd(gold(), "seg/f1", NULL);
    CU_ASSERT_FATAL(count > 0 && ints && ap && f1 && amb && ni == (size_t)count * 6);
    mxb_seg_totals tot = {0};
    double wap = 0, wf1 = 0;
    int skipped = 0;
    for (int k = 0; k < count; k++) {
        size_t n = 0;
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        float *r = rf(gold(), P("seg/relevance_%d", k), &n);
        uint8_t *m = ru8(gold(), P("seg/mask_%d", k), NULL);
        CU_ASSERT_FATAL(r && m);
        /* the shape: read dims */
        hid_t f = H5Fopen(gold(), H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t d = H5Dopen2(f, P("seg/mask_%d", k), H5P_DEFAULT);
        hid_t sp = H5Dget_space(d);
        hsize_t dims[2];
        H5Sget_simple_extent_dims(sp, dims, NULL);
        H5Sclose(sp); H5Dclose(d); H5Fclose(f);
        mxb_seg_image img;
        char err[256];
        int rc = mxb_seg_evaluate(r, m, (int)dims[0], (int)dims[1], &img, err, sizeof err);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        const int64_t *e = ints + 6 * k;
        double da = fabs(img.ap - ap[k]);
        if (!(da <= wap)) wap = da;
        /* the threshold equals the correctly rounded mean */
        double sum = 0;
        for (size_t i = 0; i < n; i++) sum += r[i];
        CU_ASSERT(img.threshold == (float)(sum / (double)n) || isnan(img.threshold));
        if (amb[k]) { /* pixels within an ulp of the mean: torch's reduction order decides */
            skipped++;
            free(r); free(m);
            continue;
        }
        CU_ASSERT_EQUAL(img.correct, e[0]);
        CU_ASSERT_EQUAL(img.labeled, e[1]);
        CU_ASSERT_EQUAL(img.inter[0], e[2]);
        CU_ASSERT_EQUAL(img.inter[1], e[3]);
        CU_ASSERT_EQUAL(img.uni[0], e[4]);
        CU_ASSERT_EQUAL(img.uni[1], e[5]);
        if (img.correct != e[0] || img.inter[1] != e[3])
            printf("\n  case %d: correct %lld vs %lld, inter1 %lld vs %lld", k, (long long)img.correct,
                   (long long)e[0], (long long)img.inter[1], (long long)e[3]);
        double df = fabs(img.f1 - f1[k]);
        if (!(df <= wf1)) wf1 = df;
        mxb_seg_accumulate(&tot, &img);
        free(r); free(m);
    }
    mxb_seg_summary s;
    mxb_seg_summarize(&tot, &s);
    printf("\n  %d images (%d with pixels within an ulp of the mean: AP only): max |AP - ref| %.3g,"
           " |F1 - ref| %.3g; pixAcc %.6f", count, skipped, wap, wf1, s.pixel_accuracy);
    CU_ASSERT(skipped < count / 2);
    CU_ASSERT(wap <= 1e-6);
    CU_ASSERT(wf1 <= 1e-9);
    double *iou = rd(gold(), "seg/iou", NULL);
    CU_ASSERT_FATAL(iou != NULL);
    CU_ASSERT(fabs(s.pixel_accuracy - scalar(gold(), "seg/pixel_accuracy")) <= 1e-12);
    CU_ASSERT(fabs(s.iou[0] - iou[0]) <= 1e-12);
    CU_ASSERT(fabs(s.iou[1] - iou[1]) <= 1e-12);
    CU_ASSERT(fabs(s.miou - scalar(gold(), "seg/miou")) <= 1e-12);
    CU_ASSERT(fabs(s.map - scalar(gold(), "seg/map")) <= 1e-6);
    CU_ASSERT(fabs(s.mf1 - scalar(gold(), "seg/mf1_image_mean")) <= 1e-9);
    free(iou); free(ints); free(ap); free(f1); free(amb);
}

/* segmentation.golden.h5: grids through the harness's post-processing, then the
 * 12-image totals computed by the original code */
static void test_seg_golden_fixture(void) {
    const char *fx = fixture();
    int count = (int)scalar(fx, "count");
    CU_ASSERT_EQUAL_FATAL(count, 12);
    mxb_seg_totals tot = {0};
    double worst_rel = 0, worst_ap = 0;
    float *up = malloc(224 * 224 * sizeof *up);
    for (int k = 0; k < count; k++) {
        size_t ng = 0, nr = 0, nm = 0;
        float *grid = rf(fx, P("grid_%d", k), &ng);
        float *rel = rf(fx, P("relevance_%d", k), &nr);
        uint8_t *m = ru8(fx, P("mask_%d", k), &nm);
        CU_ASSERT_FATAL(grid && rel && m && ng == 196 && nr == 224 * 224 && nm == nr);
        /* the one post-processing every caller uses, against the reference's vis */
        CU_ASSERT_EQUAL(mxb_map_postprocess(grid, 14, 16, MXB_FLAT_NAN, up), 0);
        double d = mxb_test_max_abs_diff(up, rel, nr);
        if (!(d <= worst_rel)) worst_rel = d;
        mxb_seg_image img;
        char err[256];
        CU_ASSERT_EQUAL_FATAL(mxb_seg_evaluate(up, m, 224, 224, &img, err, sizeof err), 0);
        double da = fabs(img.ap - scalar(fx, P("ap_%d", k)));
        if (!(da <= worst_ap)) worst_ap = da;
        mxb_seg_accumulate(&tot, &img);
        free(grid); free(rel); free(m);
    }
    /* a flat map: 0/0 in the reference (NaN everywhere), or zeros when the caller asks */
    float flat[196];
    for (int i = 0; i < 196; i++) flat[i] = 0.25f;
    CU_ASSERT_EQUAL(mxb_map_postprocess(flat, 14, 16, MXB_FLAT_NAN, up), 1);
    int nan = 0, zero = 0;
    for (int i = 0; i < 224 * 224; i++) nan += isnan(up[i]);
    CU_ASSERT_EQUAL(mxb_map_postprocess(flat, 14, 16, MXB_FLAT_ZERO, up), 1);
    for (int i = 0; i < 224 * 224; i++) zero += up[i] == 0.0f && !signbit(up[i]);
    CU_ASSERT_EQUAL(nan, 224 * 224);
    CU_ASSERT_EQUAL(zero, 224 * 224);
    free(up);
    mxb_seg_summary s;
    mxb_seg_summarize(&tot, &s);
    double *iou = rd(fx, "iou_per_class", NULL);
    CU_ASSERT_FATAL(iou != NULL);
    double dpa = fabs(s.pixel_accuracy - scalar(fx, "pixel_accuracy"));
    double diou = fmax(fabs(s.iou[0] - iou[0]), fabs(s.iou[1] - iou[1]));
    double dmiou = fabs(s.miou - scalar(fx, "miou"));
    double dmap = fabs(s.map - scalar(fx, "map"));
    double dmf1 = fabs(s.mf1 - scalar(fx, "mf1"));
    printf("\n  fixture: relevance %.3g, ap %.3g, pixAcc %.3g, IoU %.3g, mIoU %.3g, mAP %.3g, mF1 %.3g",
           worst_rel, worst_ap, dpa, diou, dmiou, dmap, dmf1);
    CU_ASSERT(worst_rel <= 1e-6);
    CU_ASSERT(worst_ap <= 1e-6);
    CU_ASSERT(dpa <= 1e-9);
    CU_ASSERT(diou <= 1e-9);
    CU_ASSERT(dmiou <= 1e-9);
    CU_ASSERT(dmap <= 1e-6);
    CU_ASSERT(dmf1 <= 1e-9);
    free(iou);
}

static void test_seg_bad_input(void) {
    float r[4] = {0, 0.5f, 1, 0.2f};
    uint8_t m[4] = {0, 1, 2, 0};
    mxb_seg_image img;
    char err[256] = "";
    CU_ASSERT_EQUAL(mxb_seg_evaluate(r, m, 2, 2, &img, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "mask value 2") != NULL);
    CU_ASSERT_EQUAL(mxb_seg_evaluate(r, m, 0, 2, &img, err, sizeof err), -1);
}

/* the pixel order: the documented stable order (numpy), and torch.topk's choices */
static void test_perturb_order(void) {
    int count = (int)scalar(gold(), "order/count");
    CU_ASSERT_FATAL(count > 0);
    int order_bad = 0, set_bad = 0, val_bad = 0, checked_sets = 0;
    for (int k = 0; k < count; k++) {
        size_t n = 0;
        float *v = rf(gold(), P("order/vis_%d", k), &n);
        int32_t *want = ri32(gold(), P("order/order_%d", k), NULL);
        int64_t *counts = ri(gold(), P("order/counts_%d", k), NULL);
        int32_t *sets = ri32(gold(), P("order/topk_sets_%d", k), NULL);
        double *valsum = rd(gold(), P("order/topk_valsum_%d", k), NULL);
        int neg = (int)scalar(gold(), P("order/neg_%d", k));
        int tied = (int)scalar(gold(), P("order/tied_%d", k));
        CU_ASSERT_FATAL(v && want && counts && sets && valsum);
        int32_t *order = malloc(n * sizeof *order);
        char err[256];
        CU_ASSERT_EQUAL_FATAL(mxb_perturb_order(v, (int)n, neg, order, err, sizeof err), 0);
        if (memcmp(order, want, n * sizeof *order)) order_bad++;
        size_t at = 0;
        for (int s = 1; s < MXB_PERTURB_STEPS; s++) {
            int kk = mxb_perturb_count((int)n, s);
            CU_ASSERT_EQUAL(kk, counts[s - 1]);
            /* the values removed are the top-k values whatever the ties */
            double sum = 0;
            for (int i = 0; i < kk; i++) sum += neg ? -(double)v[order[i]] : (double)v[order[i]];
            if (fabs(sum - valsum[s - 1]) > 1e-6 * (1 + fabs(sum))) val_bad++;
            if (!tied) {
                /* without ties the chosen set is unique: it must be torch's */
                int32_t *mine = malloc((size_t)(kk ? kk : 1) * sizeof *mine);
                memcpy(mine, order, (size_t)kk * sizeof *mine);
                char *hitmap = calloc(n, 1);
                for (int i = 0; i < kk; i++) hitmap[mine[i]] = 1;
                for (int i = 0; i < kk; i++) if (!hitmap[sets[at + i]]) { set_bad++; break; }
                checked_sets++;
                free(mine); free(hitmap);
            }
            at += (size_t)kk;
        }
        free(v); free(want); free(counts); free(sets); free(valsum); free(order);
    }
    printf("\n  %d maps: order mismatches %d, topk set mismatches %d of %d, value-sum mismatches %d",
           count, order_bad, set_bad, checked_sets, val_bad);
    CU_ASSERT_EQUAL(order_bad, 0);
    CU_ASSERT_EQUAL(set_bad, 0);
    CU_ASSERT_EQUAL(val_bad, 0);

    /* NaN first, -0.0 ties with 0.0 (ascending index), negative is not the reverse */
    float x[6] = {0.0f, NAN, -0.0f, 1.0f, 1.0f, -1.0f};
    int32_t o[6];
    char err[64];
    CU_ASSERT_EQUAL(mxb_perturb_order(x, 6, 0, o, err, sizeof err), 0);
    int32_t want_pos[6] = {1, 3, 4, 0, 2, 5};
    CU_ASSERT(memcmp(o, want_pos, sizeof o) == 0);
    CU_ASSERT_EQUAL(mxb_perturb_order(x, 6, 1, o, err, sizeof err), 0);
    int32_t want_neg[6] = {1, 5, 0, 2, 3, 4};
    CU_ASSERT(memcmp(o, want_neg, sizeof o) == 0);
}

static void test_perturb_counts(void) {
    size_t nn, ne;
    int64_t *npix = ri(gold(), "counts/npix", &nn);
    int64_t *e = ri(gold(), "counts/expected", &ne);
    CU_ASSERT_FATAL(npix && e && ne == nn * 10);
    for (size_t i = 0; i < nn; i++)
        for (int s = 0; s < 10; s++) CU_ASSERT_EQUAL(mxb_perturb_count((int)npix[i], s), e[i * 10 + s]);
    CU_ASSERT_EQUAL(mxb_perturb_count(50176, 1), 5017);
    free(npix); free(e);
}

/* masking the un-normalised image as the reference's scatter_ does, then its
 * normalize (mean = std = 0.5) */
static void test_perturb_mask(void) {
    size_t ni, nv;
    float *img = rf(gold(), "mask/image", &ni);
    float *vis = rf(gold(), "mask/vis", &nv);
    CU_ASSERT_FATAL(img && vis && ni == 3 * nv);
    int npix = (int)nv;
    int32_t *order = malloc((size_t)npix * sizeof *order);
    float *x = malloc(ni * sizeof *x);
    double worst = 0, worst_norm = 0;
    for (int neg = 0; neg < 2; neg++) {
        char err[64];
        CU_ASSERT_EQUAL_FATAL(mxb_perturb_order(vis, npix, neg, order, err, sizeof err), 0);
        for (int s = 1; s < MXB_PERTURB_STEPS; s++) {
            memcpy(x, img, ni * sizeof *x);
            mxb_perturb_mask(x, 3, npix, order, mxb_perturb_count(npix, s));
            float *want = rf(gold(), mxb_test_path("mask/masked_%d_%d", neg, s), NULL);
            float *wantn = rf(gold(), mxb_test_path("mask/normalized_%d_%d", neg, s), NULL);
            CU_ASSERT_FATAL(want && wantn);
            double d = mxb_test_max_abs_diff(x, want, ni);
            if (!(d <= worst)) worst = d;
            for (int c = 0; c < 3; c++)
                for (int i = 0; i < npix; i++) {
                    float *p = &x[(size_t)c * npix + i];
                    *p = (*p - 0.5f) / 0.5f;
                }
            d = mxb_test_max_abs_diff(x, wantn, ni);
            if (!(d <= worst_norm)) worst_norm = d;
            free(want); free(wantn);
        }
    }
    printf("\n  masked image max diff %.3g, normalised %.3g", worst, worst_norm);
    CU_ASSERT(worst == 0);
    CU_ASSERT(worst_norm == 0);
    free(img); free(vis); free(order); free(x);
}

static void test_perturb_outcome_and_curve(void) {
    size_t nl, ne, nlab;
    float *logits = rf(gold(), "outcome/logits", &nl);
    int64_t *labels = ri(gold(), "outcome/labels", &nlab);
    double *e = rd(gold(), "outcome/expected", &ne);
    CU_ASSERT_FATAL(logits && labels && e && ne == nlab * 4);
    int ncls = (int)(nl / nlab / 2);
    mxb_perturb_curve curve = {0};
    int64_t hits = 0;
    double worst = 0, logit_sum = 0;
    for (size_t k = 0; k < nlab; k++) {
        mxb_perturb_outcome o;
        mxb_perturb_outcome_of(logits + (2 * k + 1) * ncls, logits + 2 * k * ncls, ncls, (int)labels[k], &o);
        CU_ASSERT_EQUAL(o.hit, (int)e[4 * k]);
        CU_ASSERT_EQUAL(o.pred, (int)e[4 * k + 1]);
        worst = fmax(worst, fabs(o.logit_diff - e[4 * k + 2]));
        worst = fmax(worst, fabs(o.prob_diff - e[4 * k + 3]));
        mxb_perturb_add(&curve, 3, &o);
        hits += o.hit;
        logit_sum += o.logit_diff;
    }
    printf("\n  logit/prob drops max diff %.3g", worst);
    CU_ASSERT(worst <= 1e-5);
    CU_ASSERT_EQUAL(curve.n[3], (int64_t)nlab);
    CU_ASSERT_EQUAL(curve.hits[3], hits);
    CU_ASSERT(fabs(curve.logit_diff_sum[3] - logit_sum) < 1e-9);
    double acc[MXB_PERTURB_STEPS];
    mxb_perturb_accuracy(&curve, acc);
    CU_ASSERT(isnan(acc[0]));
    CU_ASSERT(fabs(acc[3] - (double)hits / (double)nlab) < 1e-12);
    free(logits); free(labels); free(e);
}

static void test_auc_conventions(void) {
    size_t na;
    double *acc = rd(gold(), "auc/acc", &na);
    double *fp = rd(gold(), "auc/frac_percent", NULL), *ff = rd(gold(), "auc/frac_fraction", NULL);
    double *np_ = rd(gold(), "auc/norm_percent", NULL), *nf = rd(gold(), "auc/norm_fraction", NULL);
    CU_ASSERT_FATAL(acc && fp && ff && np_ && nf);
    double worst = 0;
    for (size_t k = 0; k < na / 10; k++) {
        const double *a = acc + 10 * k;
        worst = fmax(worst, fabs(mxb_perturb_auc(a, (mxb_auc_convention){0, 0}) - fp[k]));
        worst = fmax(worst, fabs(mxb_perturb_auc(a, (mxb_auc_convention){0, 1}) - ff[k]));
        worst = fmax(worst, fabs(mxb_perturb_auc(a, (mxb_auc_convention){1, 0}) - np_[k]));
        worst = fmax(worst, fabs(mxb_perturb_auc(a, (mxb_auc_convention){1, 1}) - nf[k]));
    }
    printf("\n  AUC max diff vs np.trapz %.3g", worst);
    CU_ASSERT(worst <= 1e-12);
    double ones[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    CU_ASSERT(fabs(mxb_perturb_auc(ones, (mxb_auc_convention){0, 0}) - 90.0) < 1e-9); /* the default's maximum */
    free(acc); free(fp); free(ff); free(np_); free(nf);
}

static void test_rise(void) {
    size_t nk;
    float *kern = rf(gold(), "rise/kernel", &nk);
    CU_ASSERT_FATAL(kern && nk == 121);
    float k[121];
    mxb_rise_kernel(k);
    double dk = mxb_test_max_abs_diff(k, kern, 121);
    size_t ni;
    float *img = rf(gold(), "rise/image", &ni);
    float *blur = rf(gold(), "rise/blurred", NULL);
    CU_ASSERT_FATAL(img && blur && ni == 3 * 20 * 23);
    float *out = malloc(ni * sizeof *out);
    mxb_rise_blur(img, 3, 20, 23, out);
    double db = mxb_test_max_abs_diff(out, blur, ni);
    size_t ns;
    double *scores = rd(gold(), "rise/scores", &ns), *auc = rd(gold(), "rise/auc", NULL);
    CU_ASSERT_FATAL(scores && auc);
    double da = 0;
    for (size_t r = 0; r < ns / 33; r++) da = fmax(da, fabs(mxb_rise_auc(scores + 33 * r, 33) - auc[r]));
    int64_t *steps = ri(gold(), "rise/steps", NULL);
    CU_ASSERT_FATAL(steps != NULL);
    for (int i = 0; i < 4; i++) CU_ASSERT_EQUAL(mxb_rise_steps((int)steps[3 * i], (int)steps[3 * i + 1]), steps[3 * i + 2]);
    printf("\n  RISE kernel %.3g, blur %.3g, auc %.3g", dk, db, da);
    CU_ASSERT(dk <= 1e-7);
    CU_ASSERT(db <= 1e-5);
    CU_ASSERT(da <= 1e-12);
    /* blend: first count pixels of the order come from finish */
    float start[8] = {1, 2, 3, 4, 10, 20, 30, 40}, finish[8] = {0}, o8[8];
    int32_t ord[4] = {2, 0, 3, 1};
    mxb_rise_blend(start, finish, 2, 4, ord, 2, o8);
    float want[8] = {0, 2, 0, 4, 0, 20, 0, 40};
    CU_ASSERT(memcmp(o8, want, sizeof o8) == 0);
    free(kern); free(img); free(blur); free(out); free(scores); free(auc); free(steps);
}

/* Issue 23, class 4(b): min-max normalisation is scale-invariant over the whole finite
 * float range. A map, the same map x 2^120 and the same map at ±1.5·2^127 (where hi - lo
 * overflows in float) give the very same normalised map and segmentation metrics: the
 * reference is the plain map itself (no golden needed: scaling by a power of two is
 * exact, so every scale must give its bits). */
static void test_minmax_scale_invariant(void) {
    enum { G = 4, P = 4, S = G * P };
    float base[G * G], big[G * G], edge[G * G], v0[S * S], v1[S * S], v2[S * S];
    uint64_t st = 7;
    for (int i = 0; i < G * G; i++) base[i] = (float)((double)(mxb_splitmix64(&st) >> 11) / 9007199254740992.0 * 3.0 - 1.5);
    base[0] = -1.5f, base[5] = 1.5f; /* the extremes: ±1.5 · 2^127 below */
    for (int i = 0; i < G * G; i++) big[i] = ldexpf(base[i], 120), edge[i] = ldexpf(base[i], 127);
    CU_ASSERT(isinf(edge[5] - edge[0]) && isfinite(edge[5])); /* the case: hi - lo overflows */
    CU_ASSERT_EQUAL(mxb_map_postprocess(base, G, P, MXB_FLAT_NAN, v0), 0);
    CU_ASSERT_EQUAL(mxb_map_postprocess(big, G, P, MXB_FLAT_NAN, v1), 0);
    CU_ASSERT_EQUAL(mxb_map_postprocess(edge, G, P, MXB_FLAT_NAN, v2), 0);
    int same1 = 1, same2 = 1, finite = 1;
    for (int i = 0; i < S * S; i++) {
        same1 &= v0[i] == v1[i];
        same2 &= v0[i] == v2[i];
        finite &= isfinite(v2[i]) && v2[i] >= 0 && v2[i] <= 1;
    }
    CU_ASSERT(same1);
    CU_ASSERT(same2);
    CU_ASSERT(finite);
    uint8_t mask[S * S];
    for (int i = 0; i < S * S; i++) mask[i] = (uint8_t)((i % S) < S / 2);
    mxb_seg_image a, b;
    char err[256];
    CU_ASSERT_EQUAL(mxb_seg_evaluate(v0, mask, S, S, &a, err, sizeof err), 0);
    CU_ASSERT_EQUAL(mxb_seg_evaluate(v2, mask, S, S, &b, err, sizeof err), 0);
    CU_ASSERT(a.ap == b.ap && a.f1 == b.f1 && a.correct == b.correct && a.inter[1] == b.inter[1]);
    CU_ASSERT(a.ap > 0 && a.ap <= 1);
}

static void test_pointing_game(void) {
    int count = (int)scalar(gold(), "pointing/count");
    double *e = rd(gold(), "pointing/expected", NULL);
    CU_ASSERT_FATAL(count > 0 && e);
    int bad = 0, hits = 0;
    for (int k = 0; k < count; k++) {
        size_t n;
        float *map = rf(gold(), P("pointing/map_%d", k), &n);
        uint8_t *m = ru8(gold(), P("pointing/mask_%d", k), NULL);
        hid_t f = H5Fopen(gold(), H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t d = H5Dopen2(f, P("pointing/map_%d", k), H5P_DEFAULT);
        hid_t sp = H5Dget_space(d);
        hsize_t dims[2];
        H5Sget_simple_extent_dims(sp, dims, NULL);
        H5Sclose(sp); H5Dclose(d); H5Fclose(f);
        int r = mxb_pointing_game(map, m, (int)dims[0], (int)dims[1], e[2 * k]);
        bad += r != (int)e[2 * k + 1];
        hits += r == 1;
        free(map); free(m);
    }
    printf("\n  pointing game: %d cases, %d hits, %d mismatches", count, hits, bad);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(hits > 0);
    free(e);
}

int main(void) {
    static const mxb_test_case cases[] = {
        {"AP equals sklearn 1.2 on 400 random cases (ties, no positives)", test_ap_vs_sklearn},
        {"F1 equals sklearn 1.2", test_f1_vs_sklearn},
        {"bilinear upsampling and min-max equal torch", test_upsample_vs_torch},
        {"segmentation per image and totals equal metrices.py", test_seg_vs_reference},
        {"segmentation.golden.h5 (original code) matched", test_seg_golden_fixture},
        {"segmentation rejects bad masks", test_seg_bad_input},
        {"perturbation order: stable ties, torch.topk sets", test_perturb_order},
        {"perturbation counts int(npix * p)", test_perturb_counts},
        {"perturbation masking equals the reference's scatter", test_perturb_mask},
        {"perturbation hits, logit and probability drops", test_perturb_outcome_and_curve},
        {"AUC conventions equal np.trapz", test_auc_conventions},
        {"RISE kernel, blur and AUC equal scipy/torch", test_rise},
        {"pointing game", test_pointing_game},
        {"min-max normalisation: the same bits at x2^120 and at ±1.5*2^127", test_minmax_scale_invariant},
        {NULL, NULL},
    };
    return mxb_test_main("metrics", cases);
}
