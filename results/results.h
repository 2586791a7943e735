/*
 * results — HDF5 result files: small-array I/O used by every command, and (as the
 * harness grows) the versioned results schema of results/SCHEMA.md.
 *
 * Errors: 0 on success, -1 on failure with a one-line message in err[errlen].
 */
#ifndef MXB_RESULTS_H
#define MXB_RESULTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "io/io.h" /* mxb_sha256, mxb_png_write: the floor this module stands on */

/* An HDF5 file being written: created under a temporary name and renamed into
 * place by mxb_h5out_commit(), so a crash never leaves a file that looks complete. */
typedef struct mxb_h5out mxb_h5out;

mxb_h5out *mxb_h5out_create(const char *path, char *err, size_t errlen);
/* Writes a float32 dataset (parent groups are created); ndim 0 writes a scalar. */
int mxb_h5out_floats(mxb_h5out *o, const char *name, const float *data, int ndim,
                     const int64_t *dims, char *err, size_t errlen);
int mxb_h5out_ints(mxb_h5out *o, const char *name, const int32_t *data, int ndim,
                   const int64_t *dims, char *err, size_t errlen);
int mxb_h5out_string_attr(mxb_h5out *o, const char *name, const char *value, char *err,
                          size_t errlen);
/* Closes and renames into place; on failure nothing is left at path. */
int mxb_h5out_commit(mxb_h5out *o, char *err, size_t errlen);
/* Closes and deletes the temporary file. */
void mxb_h5out_abort(mxb_h5out *o);

/* Reads a whole floating-point dataset as float32. dims (up to 8) and ndim are
 * filled when non-NULL. The caller frees *out. */
int mxb_h5_read_floats(const char *path, const char *name, float **out, int *ndim,
                       int64_t dims[8], char *err, size_t errlen);

/* Typed writes. compress != 0: chunked (whole trailing rows), shuffle + deflate. */
typedef enum { MXB_H5_U8, MXB_H5_I32, MXB_H5_F32, MXB_H5_F64 } mxb_h5_type;
/* s as valid UTF-8, malloc'd: each byte that is not part of a valid UTF-8 sequence
 * (a Latin-1 file name, say) becomes the code point of the same value (U+0080..U+00FF,
 * i.e. read as Latin-1). Every string mxb writes to a file or a report goes through it. */
char *mxb_utf8_clean(const char *s);
/* Copies every dataset under `group` of the HDF5 file `src` into o at the same
 * names (groups made as needed); a name already in o is an error. Absent group: 0. */
int mxb_h5out_copy_group(mxb_h5out *o, const char *src, const char *group, char *err, size_t errlen);
int mxb_h5out_write(mxb_h5out *o, const char *name, mxb_h5_type type, const void *data, int ndim,
                    const int64_t *dims, int compress, char *err, size_t errlen);
/* A 1-d array of variable-length UTF-8 strings (h5py reads str). */
int mxb_h5out_strings(mxb_h5out *o, const char *name, const char *const *s, int64_t n, char *err,
                      size_t errlen);
/* Scalar attributes on any object (obj "/" is the root; a missing path becomes a group). */
int mxb_h5out_attr_str(mxb_h5out *o, const char *obj, const char *name, const char *value,
                       char *err, size_t errlen);
int mxb_h5out_attr_num(mxb_h5out *o, const char *obj, const char *name, double value, char *err,
                       size_t errlen);
int mxb_h5out_attr_int(mxb_h5out *o, const char *obj, const char *name, int64_t value, char *err,
                       size_t errlen);

/* Reading, with every shape checked before anything is allocated for it: a dataset
 * must have storage (one declared but never written is an error, not zeros) and its
 * declared size must fit in that storage (1032:1, deflate's ceiling, when filtered). */
typedef struct mxb_h5in mxb_h5in;
mxb_h5in *mxb_h5in_open(const char *path, char *err, size_t errlen);
void mxb_h5in_close(mxb_h5in *in);
const char *mxb_h5in_path(const mxb_h5in *in);
uint64_t mxb_h5in_filesize(const mxb_h5in *in);
int mxb_h5in_exists(mxb_h5in *in, const char *name);
/* A numeric dataset of rank ndim converted to type; dims[i] >= 0 on entry must match
 * (-1: any); on return dims holds the shape. malloc'd; NULL with err on failure. */
void *mxb_h5in_read(mxb_h5in *in, const char *name, mxb_h5_type type, int ndim, int64_t *dims,
                    char *err, size_t errlen);
char **mxb_h5in_strings(mxb_h5in *in, const char *name, int64_t *n, char *err, size_t errlen);
void mxb_h5in_free_strings(char **s, int64_t n);
int mxb_h5in_attr_str(mxb_h5in *in, const char *obj, const char *name, char **out, char *err,
                      size_t errlen); /* *out malloc'd */
int mxb_h5in_attr_num(mxb_h5in *in, const char *obj, const char *name, double *out, char *err,
                      size_t errlen);

/* ---- the results of a run (results/store.c; the file layout is results/SCHEMA.md) ---- */

#define MXB_RESULTS_SCHEMA "mxb-results"
#define MXB_RESULTS_VERSION 1
#define MXB_RES_MAX_MODELS 8
#define MXB_RES_MAX_METHODS 16
#define MXB_RES_STEPS 10 /* perturbation fractions 0, 0.1, ..., 0.9 */
#define MXB_SEG_COUNTS 6 /* correct, labeled, inter bg, inter fg, union bg, union fg */

enum { MXB_TEST_PERTURBATION = 0, MXB_TEST_SEGMENTATION = 1, MXB_NTESTS = 2 };
enum { MXB_POSITIVE = 0, MXB_NEGATIVE = 1 };

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
} mxb_res_test;

typedef struct {
    int nmodels, nmethods;
    char models[MXB_RES_MAX_MODELS][64], methods[MXB_RES_MAX_METHODS][64];
    int grid[MXB_RES_MAX_MODELS];
    int polarity[2];               /* positive / negative perturbation run */
    int keep_maps;
    int insdel_step;               /* RISE insertion/deletion pixels per step; 0: not run */
    int auc_x_normalized, auc_y_fraction;
    mxb_res_test test[MXB_NTESTS];
    /* called by mxb_results_write before the file is marked complete (attention) */
    int (*extra)(mxb_h5out *o, void *user, char *err, size_t errlen);
    void *extra_user;
    /* provenance: root attributes, kept as (name, value) strings */
    int nattrs;
    char *attr_name[64], *attr_value[64];
} mxb_results;

/* What the tables show; the names in mxb_metric_name's list are stable. */
typedef struct {
    int64_t n;
    double accuracy[2][MXB_RES_STEPS], auc[2];
    double logit_diff[2][MXB_RES_STEPS], prob_diff[2][MXB_RES_STEPS];
    double pixel_accuracy, iou[2], miou, map, mf1, pointing;
    double insertion_auc, deletion_auc; /* means over images (NaN when not run) */
} mxb_res_summary;

/* A results file holds at most this many images per test (ImageNet val is 50000). */
#define MXB_RES_MAX_IMAGES 10000000
/* Bytes mxb_results_alloc_test takes for n images (names, counts, grid, keep_maps set). */
size_t mxb_results_test_bytes(const mxb_results *r, int t, int n);
/* Allocates the per-image arrays of test t for n images (names, counts set first). */
int mxb_results_alloc_test(mxb_results *r, int t, int n, char *err, size_t errlen);
void mxb_results_free(mxb_results *r);
void mxb_results_set_attr(mxb_results *r, const char *name, const char *value);
const char *mxb_results_attr(const mxb_results *r, const char *name);
/* Totals of one model x method on a test, from the per-image arrays in index order. */
void mxb_results_summarize(const mxb_results *r, int t, int model, int method, mxb_res_summary *s);
/* Writes the whole file atomically, marked complete. */
int mxb_results_write(const mxb_results *r, const char *path, char *err, size_t errlen);
/* Reads a complete results file of this schema version, every shape checked. */
int mxb_results_read(const char *path, mxb_results *r, char *err, size_t errlen);
/* Shards of one run (same run_key, disjoint, all of 0..N-1) -> one result equal to an
 * unsharded run's. */
int mxb_results_merge(mxb_results *const *shards, int n, mxb_results *out, char *err, size_t errlen);

/* Every summary metric under a stable name ("perturbation/deit/attribution/positive_auc"),
 * with the direction that is better (+1 higher, -1 lower, 0 neither), in a malloc'd
 * array. Returns the count, -1 when memory runs out. */
typedef struct {
    char name[192];
    double value;
    int better;
} mxb_metric;
int mxb_results_metrics(const mxb_results *r, mxb_metric **out);

/* ---- reports (results/report.c) ---- */

/* The paper's tables (rows: methods; columns: models) as "md", every summary metric
 * under its stable name as "json" or "csv". Returns -1 for an unknown format. */
int mxb_report_print(const mxb_results *r, FILE *f, const char *format);
/* Per-step accuracy curves as a Markdown table. */
void mxb_report_curves(const mxb_results *r, FILE *f);
/* ---- figures (results/figures.c, drawn with cairo) ---- */

/* The report's figures: perturbation curves, the overlay grid, and one attention figure
 * per image whose /attention matrices the file holds (results_path: the file r was
 * read from; NULL leaves the attention figures out). Fails when no font can draw text. */
typedef struct mxb_figures mxb_figures;
mxb_figures *mxb_figures_build(const mxb_results *r, const char *results_path, char *err, size_t errlen);
void mxb_figures_free(mxb_figures *F);
/* 0 when no system font is installed: cairo then draws text in its built-in stroke
 * font (ASCII only; arrows become boxes). Install fonts-dejavu-core. */
int mxb_figures_system_font(void);
/* Frees cairo's and fontconfig's caches (fonts found, faces loaded) once no figure
 * object is left: a command calls it before exiting so leak checkers see no leak. */
void mxb_figures_release(void);
int mxb_figures_count(const mxb_figures *F);
const char *mxb_figures_name(const mxb_figures *F, int i);    /* file stem: "perturbation" */
const char *mxb_figures_title(const mxb_figures *F, int i);
const char *mxb_figures_caption(const mxb_figures *F, int i); /* what is where, in words */
void mxb_figures_size(const mxb_figures *F, int i, double *w, double *h); /* points */
/* Figure i as PNG (svg 0; 2 pixels per point) or SVG (svg 1) in a malloc'd buffer. */
int mxb_figures_render(const mxb_figures *F, int i, int svg, unsigned char **out, size_t *n, char *err,
                       size_t errlen);
/* Every figure as NAME.png and NAME.svg into dir, with figures.md saying what is where. */
int mxb_report_figures(const mxb_results *r, const char *results_path, const char *dir, char *err,
                       size_t errlen);

/* ---- the HTML report (results/html.c): one self-contained page, no script ---- */

/* The tables, curves, overlays, attention figures and provenance of one results file. */
int mxb_report_html(const mxb_results *r, const char *results_path, const char *out_path, char *err,
                    size_t errlen);
/* Whether metric y (NULL: missing) moved from x past |y - x| > tol + rel * |x|; *d gets
 * the change. The rule of mxb compare, shared by its text and HTML output. */
int mxb_metric_moved(const mxb_metric *x, const mxb_metric *y, double tol, double rel, double *d);
/* mxb compare as a page: every metric, baseline, new, change, the threshold, and which moved. */
int mxb_compare_html(const mxb_results *a, const char *path_a, const mxb_results *b, const char *path_b,
                     double tol, double rel, const char *out_path, char *err, size_t errlen);

/* ---- the run journal (SIGKILL-safe progress of a run) ---- */

typedef struct mxb_journal mxb_journal;
/* Called for each whole record on resume; non-zero stops the replay there. */
typedef int (*mxb_journal_replay_fn)(void *user, const void *payload, uint32_t n);
/* Opens (creating) the journal at path for the run identified by run_key (e.g. the
 * SHA-256 of its configuration). An existing journal of another run is refused;
 * one of this run is replayed through fn and truncated after its last whole record. */
mxb_journal *mxb_journal_open(const char *path, const char *run_key, mxb_journal_replay_fn fn,
                              void *user, int *replayed, char *err, size_t errlen);
int mxb_journal_append(mxb_journal *j, const void *payload, uint32_t n, char *err, size_t errlen);
int mxb_journal_sync(mxb_journal *j);
void mxb_journal_close(mxb_journal *j, int remove_file);
uint32_t mxb_crc32(const void *data, size_t n);

/* ---- data images (results/png.c, libpng) ---- */

/* A relevance map in [0, 1] ([h, w]) over a normalised image ([3, h, w], undone with
 * mean/std), as show_cam_on_image: jet(map) + image, divided by the maximum. */
void mxb_overlay_heatmap(const float *image_chw, const float *mean, const float *std,
                         const float *map, int w, int h, uint8_t *rgb);

#endif
