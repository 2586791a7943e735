/* results: SHA-256 against hashlib, the run journal's crash safety, atomic output. */
#include "mxb_test.h"
#include "results/results.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_sha256(void) {
    const char *list = mxb_test_path("%s/results/sha256.txt", mxb_test_env("MXB_TESTDATA"));
    FILE *f = fopen(list, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char path[4096], want[80], got[65], err[256];
    int n = 0;
    while (fscanf(f, "%4095s %79s", path, want) == 2) {
        CU_ASSERT_EQUAL(mxb_sha256_file(path, got, err, sizeof err), 0);
        CU_ASSERT_STRING_EQUAL(got, want);
        n++;
    }
    fclose(f);
    CU_ASSERT_EQUAL(n, 7);
    CU_ASSERT_EQUAL(mxb_sha256_file("/nonexistent/x", got, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/x"));
}

typedef struct {
    int count, sum;
} replay_state;

static int replay(void *user, const void *payload, uint32_t n) {
    replay_state *s = user;
    if (n != sizeof(int)) return 1;
    int v;
    memcpy(&v, payload, sizeof v);
    s->count++;
    s->sum += v;
    return 0;
}

static void test_journal_resume(void) {
    const char *path = mxb_test_path("%s/results/run.journal", mxb_test_env("MXB_TESTDATA"));
    char err[512];
    unlink(path);
    int replayed = -1;
    replay_state st = {0};
    mxb_journal *j = mxb_journal_open(path, "key-A", replay, &st, &replayed, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(replayed, 0);
    for (int v = 1; v <= 10; v++) CU_ASSERT_EQUAL(mxb_journal_append(j, &v, sizeof v, err, sizeof err), 0);
    mxb_journal_close(j, 0);

    /* a kill in the middle of a record: the torn tail is dropped, the rest kept */
    struct stat sb;
    stat(path, &sb);
    CU_ASSERT_EQUAL(truncate(path, sb.st_size - 3), 0);
    j = mxb_journal_open(path, "key-A", replay, &st, &replayed, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(replayed, 9);
    CU_ASSERT_EQUAL(st.sum, 45);
    int ten = 10;
    CU_ASSERT_EQUAL(mxb_journal_append(j, &ten, sizeof ten, err, sizeof err), 0);
    mxb_journal_close(j, 0);
    st = (replay_state){0};
    j = mxb_journal_open(path, "key-A", replay, &st, &replayed, err, sizeof err);
    CU_ASSERT_EQUAL(replayed, 10);
    CU_ASSERT_EQUAL(st.sum, 55);
    mxb_journal_close(j, 0);

    /* a flipped byte inside record 5: replay stops before it */
    FILE *f = fopen(path, "r+b");
    fseek(f, 80 + 4 * (12 + 4) + 12, SEEK_SET);
    fputc(0x7f, f);
    fclose(f);
    st = (replay_state){0};
    j = mxb_journal_open(path, "key-A", replay, &st, &replayed, err, sizeof err);
    CU_ASSERT_EQUAL(replayed, 4);
    mxb_journal_close(j, 0);

    /* another configuration's journal is never appended to */
    j = mxb_journal_open(path, "key-B", replay, &st, &replayed, err, sizeof err);
    CU_ASSERT_PTR_NULL(j);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "different configuration"));
    mxb_journal_close(j, 1);
    unlink(path);
}

static void test_atomic_output(void) {
    const char *path = mxb_test_path("%s/results/out.h5", mxb_test_env("MXB_TESTDATA"));
    char err[512];
    unlink(path);
    mxb_h5out *o = mxb_h5out_create(path, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    float v[3] = {1, 2, 3};
    int64_t d = 3;
    CU_ASSERT_EQUAL(mxb_h5out_floats(o, "a/b/c", v, 1, &d, err, sizeof err), 0);
    CU_ASSERT(access(path, F_OK) != 0); /* nothing at the final name while writing */
    mxb_h5out_abort(o);
    CU_ASSERT(access(path, F_OK) != 0);
    o = mxb_h5out_create(path, err, sizeof err);
    CU_ASSERT_EQUAL(mxb_h5out_floats(o, "a/b/c", v, 1, &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(mxb_h5out_commit(o, err, sizeof err), 0);
    size_t n = 0;
    float *back = mxb_test_read_h5(path, "a/b/c", &n);
    CU_ASSERT(back && n == 3 && back[2] == 3.0f);
    free(back);
    CU_ASSERT_PTR_NULL(mxb_h5out_create("/nonexistent/dir/x.h5", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/dir/x.h5"));
}

/* RISE insertion / deletion through the results store: two shards written by h5py
 * (tests/gen_results.py) -> read -> merge -> summary equal to numpy's means over the
 * whole selection -> write -> read back the same rows; the journal record carries
 * them; a file from before they existed reads and reports as before. */
static int has_metric(const mxb_results *r, const char *name, double *value, int *better) {
    mxb_metric *v = NULL;
    int n = mxb_results_metrics(r, &v), found = 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i].name, name)) {
            found = 1;
            if (value) *value = v[i].value;
            if (better) *better = v[i].better;
        }
    free(v);
    return found;
}

static void test_insertion_deletion(void) {
    const char *dir = mxb_test_env("MXB_TESTDATA");
    char err[512] = "";
    mxb_results a, b, merged, back, old, guard;
    CU_ASSERT_EQUAL_FATAL(mxb_results_read(mxb_test_path("%s/results/insdel_shard0.h5", dir), &a, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(mxb_results_read(mxb_test_path("%s/results/insdel_shard1.h5", dir), &b, err, sizeof err), 0);
    CU_ASSERT_EQUAL(a.insdel_step, 224);
    CU_ASSERT_PTR_NOT_NULL(a.test[MXB_TEST_PERTURBATION].cell[1][1].insertion_auc);
    mxb_results *shards[2] = {&b, &a}; /* any order */
    CU_ASSERT_EQUAL_FATAL(mxb_results_merge(shards, 2, &merged, err, sizeof err), 0);
    CU_ASSERT_EQUAL(merged.test[MXB_TEST_PERTURBATION].n, 7);
    CU_ASSERT_EQUAL(merged.insdel_step, 224);

    FILE *f = fopen(mxb_test_path("%s/results/insdel_means.txt", dir), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char mn[64], kn[64], name[192];
    double ins, del;
    int rows = 0;
    while (fscanf(f, "%63s %63s %lf %lf", mn, kn, &ins, &del) == 4) {
        int m = strcmp(mn, "vit") ? 1 : 0, k = strcmp(kn, "rollout") ? 1 : 0;
        mxb_res_summary s;
        mxb_results_summarize(&merged, MXB_TEST_PERTURBATION, m, k, &s);
        CU_ASSERT_DOUBLE_EQUAL(s.insertion_auc, ins, 1e-15);
        CU_ASSERT_DOUBLE_EQUAL(s.deletion_auc, del, 1e-15);
        double v = 0;
        int better = 0;
        snprintf(name, sizeof name, "perturbation/%s/%s/insertion_auc", mn, kn);
        CU_ASSERT(has_metric(&merged, name, &v, &better) && v == s.insertion_auc && better == 1);
        snprintf(name, sizeof name, "perturbation/%s/%s/deletion_auc", mn, kn);
        CU_ASSERT(has_metric(&merged, name, &v, &better) && v == s.deletion_auc && better == -1);
        rows++;
    }
    fclose(f);
    CU_ASSERT_EQUAL(rows, 4);

    /* written and read back: the same per-image rows and the step */
    const char *path = mxb_test_path("%s/results/insdel_merged.h5", dir);
    CU_ASSERT_EQUAL_FATAL(mxb_results_write(&merged, path, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(mxb_results_read(path, &back, err, sizeof err), 0);
    CU_ASSERT_EQUAL(back.insdel_step, 224);
    const mxb_res_cell *x = &merged.test[0].cell[1][0], *y = &back.test[0].cell[1][0];
    CU_ASSERT(!memcmp(x->insertion_auc, y->insertion_auc, 7 * sizeof(double)));
    CU_ASSERT(!memcmp(x->deletion_auc, y->deletion_auc, 7 * sizeof(double)));
    CU_ASSERT(!memcmp(x->maps, y->maps, 7 * 4 * sizeof(float)));

    /* the journal record of a unit carries them: put from one, get into another */
    size_t nb = mxb_results_record_bytes(&back, 0, 1);
    CU_ASSERT_EQUAL(nb, 4 + 2 * (4 + 4 * 4 + 2 * 3 * 10 * 4 + 2 * 8)); /* pred; explained, map, 2 x 3 steps, ins, del */
    unsigned char *rec = malloc(nb);
    mxb_results_record_put(&merged, 0, 1, 5, rec);
    back.test[0].cell[1][1].deletion_auc[5] = -1;
    mxb_results_record_get(&back, 0, 1, 5, rec);
    CU_ASSERT_EQUAL(back.test[0].cell[1][1].deletion_auc[5], merged.test[0].cell[1][1].deletion_auc[5]);
    free(rec);

    /* a file from before: no step, no fields, no metrics, NaN means, same report */
    CU_ASSERT_EQUAL_FATAL(mxb_results_read(mxb_test_path("%s/results/insdel_none.h5", dir), &old, err, sizeof err), 0);
    CU_ASSERT_EQUAL(old.insdel_step, 0);
    CU_ASSERT_PTR_NULL(old.test[0].cell[0][0].insertion_auc);
    CU_ASSERT(!has_metric(&old, "perturbation/vit/rollout/insertion_auc", NULL, NULL));
    CU_ASSERT(has_metric(&old, "perturbation/vit/rollout/positive_auc", NULL, NULL));
    mxb_res_summary s;
    mxb_results_summarize(&old, MXB_TEST_PERTURBATION, 0, 0, &s);
    CU_ASSERT(isnan(s.insertion_auc) && isnan(s.deletion_auc));
    CU_ASSERT_EQUAL(mxb_results_record_bytes(&old, 0, 0), 4 + 2 * (4 + 4 * 4 + 2 * 3 * 10 * 4));
    char *md = NULL, *md_new = NULL;
    size_t mdn = 0, mdn_new = 0;
    FILE *mf = open_memstream(&md, &mdn);
    mxb_report_print(&old, mf, "md");
    fclose(mf);
    mf = open_memstream(&md_new, &mdn_new);
    mxb_report_print(&merged, mf, "md");
    fclose(mf);
    CU_ASSERT_PTR_NULL(strstr(md, "insertion"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md_new, "vim insertion ↑ | vim deletion ↓"));
    free(md);
    free(md_new);

    /* a step without its datasets, a step that is not a count: refused, named */
    CU_ASSERT_EQUAL(mxb_results_read(mxb_test_path("%s/results/insdel_missing.h5", dir), &guard, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "insdel_missing.h5") && strstr(err, "/perturbation/vit/rollout/insertion_auc"));
    CU_ASSERT_EQUAL(mxb_results_read(mxb_test_path("%s/results/insdel_negative.h5", dir), &guard, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "insdel_negative.h5") && strstr(err, "insdel_step"));
    /* shards of different steps are not one run */
    b.insdel_step = 112;
    CU_ASSERT_EQUAL(mxb_results_merge(shards, 2, &guard, err, sizeof err), -1);
    mxb_results_free(&a);
    mxb_results_free(&b);
    mxb_results_free(&merged);
    mxb_results_free(&back);
    mxb_results_free(&old);
}

/* The summary-metric table (results/summary.c): names unique and spelt as the
 * schema says, every saved mean with a layout of its own, compare's tolerance taken
 * from the metric unless --tolerance is given. */
static void test_summary_table(void) {
    const char *dir = mxb_test_env("MXB_TESTDATA");
    char err[512] = "";
    mxb_results a;
    CU_ASSERT_EQUAL_FATAL(mxb_results_read(mxb_test_path("%s/results/insdel_shard0.h5", dir), &a, err, sizeof err), 0);
    mxb_metric *v = NULL;
    int n = mxb_results_metrics(&a, &v), dup = 0;
    /* per pair run: images, per polarity run the AUC and 10 accuracies, insertion, deletion */
    int pairs = 0;
    for (int m = 0; m < a.nmodels; m++)
        for (int k = 0; k < a.nmethods; k++) pairs += !a.skipped[m][k];
    CU_ASSERT_EQUAL(n, pairs * (1 + 11 * (a.polarity[0] + a.polarity[1]) + 2));
    for (int i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(v[i].tolerance, 1e-6);
        for (int j = 0; j < i; j++) dup += !strcmp(v[i].name, v[j].name);
    }
    CU_ASSERT_EQUAL(dup, 0);
    CU_ASSERT_STRING_EQUAL(v[0].name, "perturbation/vit/rollout/images");
    CU_ASSERT_STRING_EQUAL(v[1].name, "perturbation/vit/rollout/positive_auc");
    CU_ASSERT_EQUAL(v[1].better, -1);
    CU_ASSERT_EQUAL(mxb_metrics_tolerance(v, n, -1), 1e-6);
    CU_ASSERT_EQUAL(mxb_metrics_tolerance(v, n, 0.25), 0.25);
    v[2].tolerance = 1e-3; /* defaults that differ have no one value to print */
    CU_ASSERT(isnan(mxb_metrics_tolerance(v, n, -1)));
    free(v);
    for (int i = 0; i < mxb_res_nsumrows; i++) {
        const mxb_res_sumrow *w = &mxb_res_sumrows[i];
        if (w->saved) CU_ASSERT(w->layout && w->layout[0]);
        /* store.c finds a dataset's layout by its last name: a saved mean named like a
         * per-image field would get the field's */
        for (int j = 0; w->saved && j < mxb_res_nfields; j++) CU_ASSERT(strcmp(w->saved, mxb_res_fields[j].name));
        if (w->table != MXB_TAB_NONE && w->table != MXB_TAB_CURVES) CU_ASSERT_PTR_NOT_NULL(w->column[0]);
        if (!strcmp(w->name ? w->name : "", "iou")) {
            char name[256];
            mxb_res_sumrow_name(name, sizeof name, &a, MXB_TEST_SEGMENTATION, 1, 0, w, 0, 1);
            CU_ASSERT_STRING_EQUAL(name, "segmentation/vim/rollout/iou_foreground");
        }
    }
    /* compare's rule: tol < 0 is the metric's own tolerance, tol >= 0 every metric's */
    mxb_metric x = {"x", 1.0, 1, 0.5}, y = {"x", 1.4, 1, 0.5};
    double d = 0;
    CU_ASSERT_EQUAL(mxb_metric_moved(&x, &y, -1, 0, &d), 0);
    CU_ASSERT_DOUBLE_EQUAL(d, 0.4, 1e-12);
    CU_ASSERT_EQUAL(mxb_metric_moved(&x, &y, 0.1, 0, NULL), 1);
    x.tolerance = 0.1;
    CU_ASSERT_EQUAL(mxb_metric_moved(&x, &y, -1, 0, NULL), 1);
    CU_ASSERT_EQUAL(mxb_metric_moved(&x, &y, 0.5, 0, NULL), 0);
    mxb_results_free(&a);
}

/* HDF5's error stack is silenced around mxb's own calls only (MXB_H5_QUIET): the
 * caller's printer is back after, and MXB_HDF5_ERRORS lets it print during them. */
static int h5_printed;
static herr_t count_h5(hid_t stack, void *data) {
    (void)stack, (void)data;
    h5_printed++;
    return 0;
}

static void test_h5_quiet_scoped(void) {
    const char *path = mxb_test_path("%s/results/not_hdf5.h5", mxb_test_env("MXB_TESTDATA"));
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("not an HDF5 file\n", f);
    fclose(f);
    H5E_auto2_t was_fn = NULL, fn = NULL;
    void *was_data = NULL, *data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &was_fn, &was_data);
    H5Eset_auto2(H5E_DEFAULT, count_h5, NULL);
    char err[512] = "";
    unsetenv("MXB_HDF5_ERRORS");
    CU_ASSERT_PTR_NULL(mxb_h5in_open(path, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not_hdf5.h5"));
    CU_ASSERT_EQUAL(h5_printed, 0);
    H5Eget_auto2(H5E_DEFAULT, &fn, &data);
    CU_ASSERT(fn == count_h5); /* put back, not left off for the rest of the process */
    setenv("MXB_HDF5_ERRORS", "1", 1);
    CU_ASSERT_PTR_NULL(mxb_h5in_open(path, err, sizeof err));
    CU_ASSERT(h5_printed > 0);
    unsetenv("MXB_HDF5_ERRORS");
    H5Eset_auto2(H5E_DEFAULT, was_fn, was_data);
    remove(path);
}

/* The curves' pens (results/figures.c, mxb_method_pen): every method of a run (up to
 * MXB_RES_MAX_METHODS, and on to 40) has its own (colour, line style) pair; the colours
 * are ten distinct ones, and the style steps solid, dashed, dotted, dash-dot each time
 * they wrap, so methods 1 and 11 share a colour but not a style. */
static void test_method_pens(void) {
    enum { N = MXB_PEN_COLOURS * MXB_PEN_STYLES };
    _Static_assert(N >= MXB_RES_MAX_METHODS, "fewer pens than methods a run may have");
    mxb_pen p[N];
    for (int k = 0; k < N; k++) mxb_method_pen(k, &p[k]);
    int same_pair = 0, same_colour_in_wrap = 0, style_wrong = 0, range = 0;
    for (int k = 0; k < N; k++) {
        style_wrong += p[k].style != k / MXB_PEN_COLOURS;
        for (int c = 0; c < 3; c++) range += !(p[k].rgb[c] >= 0 && p[k].rgb[c] <= 1);
        for (int j = 0; j < k; j++) {
            const int colour = !memcmp(p[j].rgb, p[k].rgb, sizeof p[k].rgb);
            same_pair += colour && p[j].style == p[k].style;
            same_colour_in_wrap += colour && j / MXB_PEN_COLOURS == k / MXB_PEN_COLOURS;
        }
    }
    CU_ASSERT_EQUAL(same_pair, 0);
    CU_ASSERT_EQUAL(same_colour_in_wrap, 0);
    CU_ASSERT_EQUAL(style_wrong, 0);
    CU_ASSERT_EQUAL(range, 0);
    /* the colours are far apart, not merely unequal: at least 0.15 in some channel */
    int close = 0;
    for (int k = 0; k < MXB_PEN_COLOURS; k++)
        for (int j = 0; j < k; j++) {
            double d = 0;
            for (int c = 0; c < 3; c++) d = fmax(d, fabs(p[j].rgb[c] - p[k].rgb[c]));
            close += d < 0.15;
        }
    CU_ASSERT_EQUAL(close, 0);
    /* methods 0 and 10: one colour, solid then dashed; 12 methods all distinct */
    CU_ASSERT(!memcmp(p[0].rgb, p[10].rgb, sizeof p[0].rgb) && p[0].style == 0 && p[10].style == 1);
}

int main(void) {
    static const mxb_test_case cases[] = {
        {"SHA-256 equals hashlib", test_sha256},
        {"journal: torn and corrupt records, resume, foreign runs", test_journal_resume},
        {"output files appear only when complete", test_atomic_output},
        {"insertion/deletion: h5py shards -> merge -> summary = numpy; old files as before", test_insertion_deletion},
        {"summary table: names, layouts, compare's per-metric tolerance", test_summary_table},
        {"HDF5's error stack: silenced in mxb's calls only, MXB_HDF5_ERRORS shows it", test_h5_quiet_scoped},
        {"curve pens: (colour, line style) distinct past 10 methods", test_method_pens},
        {NULL, NULL}};
    return mxb_test_main("results", cases);
}
