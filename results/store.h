/*
 * results/store.h — the results of a run (results/store.c, results/fields.c; the file
 * layout is results/SCHEMA.md): the per-image field table, allocation, write, read,
 * merge, totals, the stable metric names and the journal record of one unit.
 *
 * Errors: 0 on success, -1 on failure with a one-line message in err[errlen].
 */
#ifndef MXB_RESULTS_STORE_H
#define MXB_RESULTS_STORE_H

#include "results/h5.h"

#include <stddef.h>
#include <stdint.h>

/* ---- the results of a run (results/store.c; the file layout is results/SCHEMA.md) ---- */

#define MXB_RESULTS_SCHEMA "mxb-results"
#define MXB_RESULTS_VERSION 1
#define MXB_RES_MAX_MODELS 8
#define MXB_RES_MAX_METHODS 16
#define MXB_RES_MAX_ATTRS 96
#define MXB_RES_STEPS 10 /* perturbation fractions 0, 0.1, ..., 0.9 */
#define MXB_SEG_COUNTS 6 /* correct, labeled, inter bg, inter fg, union bg, union fg */

enum { MXB_TEST_PERTURBATION = 0, MXB_TEST_SEGMENTATION = 1, MXB_NTESTS = 2 };
enum { MXB_POSITIVE = 0, MXB_NEGATIVE = 1 };
/* The one spelling of the tests and polarities (results/summary.c): group names in
 * the file, metric names, table and log text. */
extern const char *const mxb_test_names[MXB_NTESTS];    /* "perturbation", "segmentation" */
extern const char *const mxb_polarity_names[2];          /* "positive", "negative" */

/* Per image, per model and method, everything the metrics are made of. */
typedef struct {
    int32_t *explained;            /* [n] the class explained */
    float *maps;                   /* [n, grid*grid] patch-grid map (NULL when not kept) */
    int32_t *hits[2];              /* [n, 10] perturbation: top-1 == label, per polarity */
    float *logit_diff[2];          /* [n, 10] */
    float *prob_diff[2];           /* [n, 10] */
    int32_t *seg_counts;           /* [n, 6] segmentation */
    double *ap, *f1;               /* [n] */
    int32_t *pointing;             /* [n] 1 hit, 0 miss, -1 empty mask */
    double *insertion_auc;         /* [n] RISE insertion / deletion (perturbation test, */
    double *deletion_auc;          /*     allocated only when insdel_step > 0) */
} mxb_res_cell;

typedef struct {
    int enabled, n, size;          /* images in this file, model input side */
    int32_t *index;                /* [n] position in the dataset, ascending */
    char **ids;                    /* [n] */
    int32_t *label;                /* [n] (-1: none) */
    int32_t *pred[MXB_RES_MAX_MODELS];  /* [n] prediction on the unperturbed image */
    uint8_t *done[MXB_RES_MAX_MODELS];  /* [n] unit present (runs and merges) */
    mxb_res_cell cell[MXB_RES_MAX_MODELS][MXB_RES_MAX_METHODS];
    int nfig;                      /* images kept for figures: [nfig, size, size, 3] */
    int32_t *fig_index;
    uint8_t *fig_rgb;
    uint8_t *fig_mask;             /* [nfig, size, size] segmentation: their object masks (0/1), the
                                    * overlay grid's ground-truth column; NULL in earlier files */
} mxb_res_test;

typedef struct mxb_results mxb_results;
struct mxb_results {
    int nmodels, nmethods;
    char models[MXB_RES_MAX_MODELS][64], methods[MXB_RES_MAX_METHODS][64];
    int grid[MXB_RES_MAX_MODELS];
    int polarity[2];               /* positive / negative perturbation run */
    int keep_maps;
    int insdel_step;               /* RISE insertion/deletion pixels per step; 0: not run */
    int auc_x_normalized, auc_y_fraction;
    mxb_res_test test[MXB_NTESTS];
    /* (model, method) pairs not run: the method does not support the model's family
     * (mxb run skips them). A skipped pair has no arrays, no journal bytes, no datasets
     * and no metrics; the tables print "—" in its cell. On disk: /skipped [model,
     * method], written only when a pair is skipped (results/SCHEMA.md). */
    uint8_t skipped[MXB_RES_MAX_MODELS][MXB_RES_MAX_METHODS];
    /* called by mxb_results_write before the file is marked complete (attention) */
    int (*extra)(mxb_h5out *o, void *user, char *err, size_t errlen);
    void *extra_user;
    /* provenance: root attributes, kept as (name, value) strings (about 25, plus per
     * method its params and base, per model its label) */
    int nattrs;
    char *attr_name[MXB_RES_MAX_ATTRS], *attr_value[MXB_RES_MAX_ATTRS];
};

/* What the tables show; the names in mxb_metric_name's list are stable. */
typedef struct {
    int64_t n;
    double accuracy[2][MXB_RES_STEPS], auc[2];
    double logit_diff[2][MXB_RES_STEPS], prob_diff[2][MXB_RES_STEPS];
    double pixel_accuracy, iou[2], miou, map, mf1, pointing;
    double insertion_auc, deletion_auc; /* means over images (NaN when not run) */
} mxb_res_summary;

/* ---- the per-image fields (results/fields.c) ----------------------------------
 * One row per array of mxb_res_cell; alloc, the byte estimate, free, write, read,
 * merge (every field merges by copying its image's row, in dataset order) and the
 * journal record all walk this table, so a new per-image metric is one row here, one
 * member in mxb_res_cell and the code that fills it. */

/* elements per image */
typedef enum { MXB_RES_ONE, MXB_RES_PER_STEP, MXB_RES_PER_COUNT, MXB_RES_PER_PATCH } mxb_res_extent;
/* when the field exists (in memory, in the journal record and in the file) */
typedef enum { MXB_RES_ALWAYS, MXB_RES_IF_MAPS, MXB_RES_IF_INSDEL } mxb_res_when;

typedef struct {
    const char *name;       /* dataset name on disk: /<test>/<model>/<method>[/<polarity>]/<name> */
    mxb_h5_type type;       /* in memory and on disk: MXB_H5_I32, F32 or F64 */
    int test;               /* MXB_TEST_*; -1: both tests */
    int polar;              /* one array per polarity (cell->X[2]), under <polarity>/; both are
                             * kept in memory and in the record, only enabled ones are written */
    mxb_res_when when;
    mxb_res_extent extent;  /* ONE: [n]; PER_STEP: [n, MXB_RES_STEPS]; PER_COUNT: [n,
                             * MXB_SEG_COUNTS]; PER_PATCH: [n, grid, grid] */
    size_t offset;          /* offsetof(mxb_res_cell, member) */
    const char *layout;     /* the dataset's `layout` attribute */
} mxb_res_field;

#define MXB_RES_MAX_FIELDS 32 /* rows of the table, at most */
extern const mxb_res_field mxb_res_fields[];
extern const int mxb_res_nfields;

/* The fields of test t, one entry per array (a per-polarity field twice), in the
 * order of the journal record: table order, except that a run of per-polarity rows is
 * walked positive then negative. Returns the count (at most 2 * mxb_res_nfields). */
typedef struct {
    const mxb_res_field *f;
    int q; /* polarity, 0 for a field without */
} mxb_res_slot;
int mxb_res_slots(const mxb_results *r, int t, mxb_res_slot *out);
/* Whether field f exists for test t of r (its test, keep_maps, insdel_step). */
int mxb_res_field_present(const mxb_results *r, int t, const mxb_res_field *f);
/* Elements of f per image of model m. */
size_t mxb_res_field_elems(const mxb_results *r, int m, const mxb_res_field *f);
size_t mxb_res_type_size(mxb_h5_type type);
/* The array of field f (polarity q when f->polar) in cell c (NULL when absent). The
 * member is found by f->offset; its pointer is copied out with memcpy, not read
 * through a void ** (the members are int32_t *, float *, double *). */
void *mxb_res_field_data(const mxb_res_cell *c, const mxb_res_field *f, int q);

/* A results file holds at most this many images per test (ImageNet val is 50000). */
#define MXB_RES_MAX_IMAGES 10000000
/* Bytes mxb_results_alloc_test takes for n images (names, counts, grid, keep_maps set). */
size_t mxb_results_test_bytes(const mxb_results *r, int t, int n);
/* Allocates the per-image arrays of test t for n images (names, counts set first). */
int mxb_results_alloc_test(mxb_results *r, int t, int n, char *err, size_t errlen);
void mxb_results_free(mxb_results *r);
void mxb_results_set_attr(mxb_results *r, const char *name, const char *value);
const char *mxb_results_attr(const mxb_results *r, const char *name);
/* The name tables and figures show for model m: its label ([model:NAME] label, the
 * attribute model_label_NAME), or its name when it has none. */
const char *mxb_results_model_label(const mxb_results *r, int m);
/* Totals of one model x method on a test, from the per-image arrays in index order
 * (a skipped pair: n = 0 and every number NaN). */
void mxb_results_summarize(const mxb_results *r, int t, int model, int method, mxb_res_summary *s);
/* The same over a multiset of images: image i counted mult[i] times (the bootstrap's
 * resample; NULL: each done image once, as mxb_results_summarize). */
void mxb_results_summarize_w(const mxb_results *r, int t, int model, int method, const int32_t *mult,
                             mxb_res_summary *s);
/* Writes the whole file atomically, marked complete. */
int mxb_results_write(const mxb_results *r, const char *path, char *err, size_t errlen);
/* Reads a complete results file of this schema version, every shape checked. */
int mxb_results_read(const char *path, mxb_results *r, char *err, size_t errlen);
/* Shards of one run (same run_key, disjoint, all of 0..N-1) -> one result equal to an
 * unsharded run's. */
int mxb_results_merge(mxb_results *const *shards, int n, mxb_results *out, char *err, size_t errlen);

/* The journal record of one unit (test t, model m, image row i: the fields of every
 * method): the byte count, and the copy into / out of r's arrays. The same table walk
 * does both, so a record and the arrays can never disagree; the byte format is the
 * one harness/run.c wrote before the table (fields in table order, per-polarity
 * fields interleaved positive then negative). */
size_t mxb_results_record_bytes(const mxb_results *r, int t, int m);
void mxb_results_record_put(const mxb_results *r, int t, int m, int i, void *buf);
void mxb_results_record_get(mxb_results *r, int t, int m, int i, const void *buf);

/* The (model, method) pairs both files name that exactly one of them skipped (a pair
 * skipped in both, or named in one file only, is not counted): each as "MODEL/METHOD"
 * into names[i] (up to max of them), in_b[i] = 1 when b is the file that skipped it.
 * Returns the count (all of them, even past max). mxb compare reports each. */
int mxb_results_skip_diff(const mxb_results *a, const mxb_results *b, char (*names)[160], int *in_b, int max);

/* ---- the summary metrics (results/summary.c) ------------------------------------
 * One row per quantity of mxb_res_summary: its stable name, test, polarity, better
 * direction, how it is made from the per-image fields, the dataset its mean is saved
 * in, its column in the tables and compare's default tolerance. The saved means
 * (store.c), every table (report.c, html.c), the metric list (JSON, CSV) and mxb
 * compare walk this table, so a new summary metric is one row here and one member in
 * mxb_res_summary (and, unless it is a plain mean, the code in summarize). */

/* how the row's value is made from the per-image fields of the images done */
typedef enum {
    MXB_SUM_COUNT, /* the images done (mxb_res_summary.n) */
    MXB_SUM_CURVE, /* the perturbation curve over the images (metrics/: mxb_perturb_*) */
    MXB_SUM_SEG,   /* the segmentation totals over the images (metrics/: mxb_seg_*) */
    MXB_SUM_MEAN,  /* the plain mean of the per-image field `from` (NaN when none) */
} mxb_sum_how;
/* values of a row: one; one per perturbation step (name_00 .. name_90); one per class
 * (name_background, name_foreground) */
typedef enum { MXB_SUM_ONE, MXB_SUM_PER_STEP, MXB_SUM_PER_CLASS } mxb_sum_extent;
/* the method x model table a row is a column of (report.c, html.c) */
typedef enum { MXB_TAB_NONE, MXB_TAB_AUC, MXB_TAB_INSDEL, MXB_TAB_SEG, MXB_TAB_CURVES } mxb_sum_table;

typedef struct {
    const char *name;       /* stable metric name after <test>/<model>/<method>/ (a per-polarity
                             * row's is prefixed "<polarity>_"); NULL: saved only, not a metric */
    int test;               /* MXB_TEST_*; -1: both tests */
    int polar;              /* one value set per polarity run; walked positive then negative */
    mxb_sum_extent extent;
    mxb_res_when when;      /* ALWAYS or IF_INSDEL */
    int better;             /* +1 higher, -1 lower, 0 neither; a per-polarity row gives the
                             * positive run's, the negative's is the opposite */
    mxb_sum_how how;
    const char *from;       /* MXB_SUM_MEAN: the per-image field (results/fields.c), [image] F64 */
    size_t at;              /* offsetof(mxb_res_summary, member); a per-polarity member is [2][values] */
    const char *saved;      /* dataset of the mean in /<test>/<model>/<method>[/<polarity>]/; NULL: not saved */
    const char *layout;     /* that dataset's `layout` attribute: how the value is made, in words */
    mxb_sum_table table;
    int md;                 /* also in the Markdown table (the HTML page shows every column) */
    const char *column[2];  /* column title, followed by " " and the better arrow; per polarity
                             * when polar (the negative run's arrow is the opposite) */
    double scale;           /* the tables show value x scale (100: in %) */
    double tolerance;       /* mxb compare's default: moved when |new - baseline| > tolerance
                             * (+ --relative x |baseline|) */
} mxb_res_sumrow;

/* compare's default tolerance of every row today: the summary is recomputed exactly
 * from the same per-image values, so only rounding may differ */
#define MXB_METRIC_TOLERANCE 1e-6
#define MXB_RES_MAX_SUMROWS 32 /* rows of the table, at most */
extern const mxb_res_sumrow mxb_res_sumrows[];
extern const int mxb_res_nsumrows;
/* The rows present for test t of r, one entry per polarity run of a per-polarity row,
 * in the order of the metric list and the tables: table order, a run of per-polarity
 * rows walked positive then negative. Returns the count (at most 2 * mxb_res_nsumrows). */
typedef struct {
    const mxb_res_sumrow *w;
    int q; /* polarity, 0 for a row without */
} mxb_res_sumslot;
int mxb_res_sumslots(const mxb_results *r, int t, mxb_res_sumslot *out);
/* The direction that is better for slot s (+1 higher, -1 lower, 0 neither): its row's,
 * the opposite for a per-polarity row's negative run. */
int mxb_res_slot_better(const mxb_res_sumslot *s);
/* Whether row w exists for test t of r (its test, insdel_step; a polarity not run is
 * the caller's check, r->polarity[q]). */
int mxb_res_sumrow_present(const mxb_results *r, int t, const mxb_res_sumrow *w);
/* Values of the row: 1, MXB_RES_STEPS or 2. */
int mxb_res_sumrow_count(const mxb_res_sumrow *w);
/* Value j of row w (polarity q when w->polar) in s. */
double mxb_res_sumrow_value(const mxb_res_summary *s, const mxb_res_sumrow *w, int q, int j);
/* The stable name of value j of row w for model m and method k of test t:
 * "perturbation/deit/attribution/positive_accuracy_30". */
void mxb_res_sumrow_name(char *out, size_t len, const mxb_results *r, int t, int m, int k, const mxb_res_sumrow *w,
                         int q, int j);
/* "↑", "↓" or "" for a better direction (+1, -1, 0): the tables' column arrows. */
const char *mxb_better_arrow(int better);

/* Every summary metric under a stable name ("perturbation/deit/attribution/positive_auc"),
 * with the direction that is better (+1 higher, -1 lower, 0 neither) and compare's
 * default tolerance, in a malloc'd array, in table order. Returns the count, -1 when
 * memory runs out. */
typedef struct {
    char name[192];
    double value;
    int better;
    double tolerance;
} mxb_metric;
int mxb_results_metrics(const mxb_results *r, mxb_metric **out);

/* ---- uncertainty over images (results/bootstrap.c) ----
 * A percentile bootstrap over the images of a test. The images D are those done for the
 * pair (both pairs for a paired test), in index order, n = |D|. One stream of
 * splitmix64 (io/io.h) from `seed`, restarted for every interval and every paired
 * test, so every method and model of a file is resampled the same way: replicate b
 * (0 .. replicates-1) draws n indices D[floor(u01 * n)], u01 = (x >> 11) * 2^-53, in
 * order, and recomputes the metric from the per-image values by the summary table
 * (mxb_results_summarize_w). The interval is the (1-level)/2 and 1-(1-level)/2
 * quantiles of the finite replicate values, linearly interpolated at q * (m - 1) of
 * the m sorted ones (numpy's default). */
typedef struct {
    int replicates;  /* B, >= 1 */
    uint64_t seed;
    double level;    /* 0.95 */
} mxb_boot_opts;
/* Whether row w gets an interval: a named scalar metric (AUCs, pixel accuracy, mIoU,
 * mAP, mean F1, pointing game; not the image count, not the per-step curves). */
int mxb_res_sumrow_has_ci(const mxb_res_sumrow *w);
typedef struct {
    double value, low, high; /* the metric on D and its interval; NaN when none */
} mxb_ci;
/* The interval of every slot of sl[0..ns) (mxb_res_sumslots of test t) that has one,
 * for model m, method k; ci[i] of a slot without stays NaN. 0, or -1 out of memory. */
int mxb_results_bootstrap(const mxb_results *r, int t, int m, int k, const mxb_res_sumslot *sl, int ns,
                          const mxb_boot_opts *o, mxb_ci *ci);
/* A paired bootstrap test of a - b (model ma, method ka against mb, kb) on the images
 * done for both, resampled together: the difference on D, its interval, and the
 * two-sided p-value of the centred bootstrap, p = (1 + #{|d_b - d| >= |d|}) / (m + 1)
 * over the m finite replicate differences d_b. */
typedef struct {
    double a, b, diff, low, high, p;
    int n;
} mxb_pair_stat;
int mxb_results_pair(const mxb_results *r, int t, int ma, int ka, int mb, int kb, const mxb_res_sumslot *sl,
                     int ns, const mxb_boot_opts *o, mxb_pair_stat *out);

#endif
