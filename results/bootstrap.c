/* Uncertainty over images: percentile bootstrap intervals of the summary metrics and a
 * paired bootstrap test between two model x method pairs (results/store.h says the
 * exact resampling, so that an independent implementation draws the same indices;
 * tests/cli_report_ci.sh does, in numpy). The metrics are the summary table's
 * (results/summary.c), recomputed over each resample by mxb_results_summarize_w: no
 * metric is defined twice. */
#include "results/results.h"

#include "io/io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int mxb_res_sumrow_has_ci(const mxb_res_sumrow *w) {
    return w->name && w->extent == MXB_SUM_ONE && w->how != MXB_SUM_COUNT;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* numpy.quantile's default ('linear'): position q (m - 1) in the sorted values */
static double quantile(const double *v, int m, double q) {
    if (m <= 0) return NAN;
    const double pos = q * (m - 1);
    const int lo = (int)floor(pos), hi = lo + 1 < m ? lo + 1 : lo;
    return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}

/* The images done for both pairs, in index order; the count. */
static int common_images(const mxb_res_test *T, int ma, int mb, int *D) {
    int n = 0;
    for (int i = 0; i < T->n; i++)
        if (T->done[ma][i] && T->done[mb][i]) D[n++] = i;
    return n;
}

/* Replicate b's multiplicities: n draws from the stream, each D[floor(u01 n)]. */
static void resample(uint64_t *state, const int *D, int n, int32_t *mult, int nall) {
    memset(mult, 0, (size_t)nall * sizeof *mult);
    for (int j = 0; j < n; j++) {
        const double u = (double)(mxb_splitmix64(state) >> 11) * 0x1.0p-53;
        mult[D[(int)(u * n)]]++;
    }
}

/* values[s * B + b]: slot s's value in replicate b for pair (m, k), or the difference
 * with pair (mb, kb) when mb >= 0; point[s] the same on D itself. */
static int replicates(const mxb_results *r, int t, int m, int k, int mb, int kb, const mxb_res_sumslot *sl, int ns,
                      const mxb_boot_opts *o, double *point, double *pa, double *pb, double **values_out, int *n_out) {
    const mxb_res_test *T = &r->test[t];
    const int B = o->replicates, nall = T->n;
    int *D = mxb_try_alloc0((size_t)(nall ? nall : 1), sizeof *D);
    int32_t *mult = mxb_try_alloc0((size_t)(nall ? nall : 1), sizeof *mult);
    double *values = mxb_try_alloc0((size_t)ns * (size_t)B, sizeof *values);
    if (!D || !mult || !values) {
        free(D), free(mult), free(values);
        return -1;
    }
    const int n = common_images(T, m, mb >= 0 ? mb : m, D);
    mxb_res_summary sa, sb;
    for (int i = 0; i < nall; i++) mult[i] = 0;
    for (int j = 0; j < n; j++) mult[D[j]] = 1;
    mxb_results_summarize_w(r, t, m, k, mult, &sa);
    if (mb >= 0) mxb_results_summarize_w(r, t, mb, kb, mult, &sb);
    for (int s = 0; s < ns; s++) {
        const double a = mxb_res_sumrow_value(&sa, sl[s].w, sl[s].q, 0);
        const double b = mb >= 0 ? mxb_res_sumrow_value(&sb, sl[s].w, sl[s].q, 0) : 0;
        if (pa) pa[s] = a;
        if (pb) pb[s] = b;
        point[s] = n ? a - b : NAN;
    }
    uint64_t state = o->seed;
    for (int b = 0; b < B && n; b++) {
        resample(&state, D, n, mult, nall);
        mxb_results_summarize_w(r, t, m, k, mult, &sa);
        if (mb >= 0) mxb_results_summarize_w(r, t, mb, kb, mult, &sb);
        for (int s = 0; s < ns; s++)
            values[(size_t)s * B + b] = mxb_res_sumrow_value(&sa, sl[s].w, sl[s].q, 0) -
                                        (mb >= 0 ? mxb_res_sumrow_value(&sb, sl[s].w, sl[s].q, 0) : 0);
    }
    free(D), free(mult);
    *values_out = values;
    *n_out = n;
    return 0;
}

/* The finite values of v[0..B), sorted, to the front; their count. */
static int finite_sorted(double *v, int B) {
    int m = 0;
    for (int b = 0; b < B; b++)
        if (isfinite(v[b])) v[m++] = v[b];
    qsort(v, (size_t)m, sizeof *v, cmp_double);
    return m;
}

int mxb_results_bootstrap(const mxb_results *r, int t, int m, int k, const mxb_res_sumslot *sl, int ns,
                          const mxb_boot_opts *o, mxb_ci *ci) {
    for (int s = 0; s < ns; s++) ci[s] = (mxb_ci){NAN, NAN, NAN};
    if (!r->test[t].enabled || r->skipped[m][k]) return 0;
    double *point = mxb_try_alloc0((size_t)(ns ? ns : 1), sizeof *point), *values = NULL;
    int n;
    if (!point || replicates(r, t, m, k, -1, 0, sl, ns, o, point, NULL, NULL, &values, &n)) {
        free(point);
        return -1;
    }
    const double a = (1 - o->level) / 2;
    for (int s = 0; s < ns; s++) {
        if (!mxb_res_sumrow_has_ci(sl[s].w)) continue;
        double *v = values + (size_t)s * o->replicates;
        const int mf = n ? finite_sorted(v, o->replicates) : 0;
        ci[s] = (mxb_ci){point[s], quantile(v, mf, a), quantile(v, mf, 1 - a)};
    }
    free(point), free(values);
    return 0;
}

int mxb_results_pair(const mxb_results *r, int t, int ma, int ka, int mb, int kb, const mxb_res_sumslot *sl,
                     int ns, const mxb_boot_opts *o, mxb_pair_stat *out) {
    for (int s = 0; s < ns; s++) out[s] = (mxb_pair_stat){NAN, NAN, NAN, NAN, NAN, NAN, 0};
    if (!r->test[t].enabled || r->skipped[ma][ka] || r->skipped[mb][kb]) return 0;
    const size_t nn = (size_t)(ns ? ns : 1);
    double *point = mxb_try_alloc0(nn, sizeof *point), *pa = mxb_try_alloc0(nn, sizeof *pa),
           *pb = mxb_try_alloc0(nn, sizeof *pb), *values = NULL;
    int n;
    if (!point || !pa || !pb || replicates(r, t, ma, ka, mb, kb, sl, ns, o, point, pa, pb, &values, &n)) {
        free(point), free(pa), free(pb);
        return -1;
    }
    const double a = (1 - o->level) / 2;
    for (int s = 0; s < ns; s++) {
        if (!mxb_res_sumrow_has_ci(sl[s].w)) continue;
        double *v = values + (size_t)s * o->replicates;
        const int mf = n ? finite_sorted(v, o->replicates) : 0;
        const double d = point[s];
        int extreme = 0;
        for (int b = 0; b < mf; b++) extreme += fabs(v[b] - d) >= fabs(d);
        out[s] = (mxb_pair_stat){pa[s], pb[s], d, quantile(v, mf, a), quantile(v, mf, 1 - a),
                                 mf && isfinite(d) ? (1.0 + extreme) / (mf + 1.0) : NAN, n};
    }
    free(point), free(pa), free(pb), free(values);
    return 0;
}
