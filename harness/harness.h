/*
 * harness — the `mxb` command: argument parsing, subcommands, the run loop.
 * Subcommands return a process exit code: 0 success, 1 failure of the work,
 * 2 bad usage or bad input (messages go to stderr, one line, naming the thing).
 */
#ifndef MXB_HARNESS_H
#define MXB_HARNESS_H

#include "datasets/datasets.h"
#include "io/io.h"
#include "engine/engine.h"
#include "methods/method.h"

#include <stddef.h>
#include <stdio.h>

/* set by CMake from the project version and `git describe` */
#ifndef MXB_VERSION
#define MXB_VERSION "dev"
#endif
#ifndef MXB_GIT_REV
#define MXB_GIT_REV "unknown"
#endif

int mxb_main(int argc, char **argv);

/* ---- command-line options (harness/opts.c): one table-driven parser ---- */

typedef enum {
    MXB_OPT_FLAG,    /* --name            out: int, set to 1 */
    MXB_OPT_STR,     /* --name VALUE      out: const char * (not empty) */
    MXB_OPT_LIST,    /* --name VALUE...   out: const char *[max], count: how many */
    MXB_OPT_INT,     /* out: int in [lo, hi] */
    MXB_OPT_DOUBLE,  /* out: double in [dlo, dhi] */
    MXB_OPT_DOUBLE_OPT, /* --name alone, or --name=VALUE: out: double in [dlo, dhi]; `seen` says given */
    MXB_OPT_CHOICE,  /* out: int, the index of VALUE in choices "a|b|c" */
} mxb_opt_kind;

typedef struct {
    const char *name;  /* without the leading "--"; NULL ends the table */
    mxb_opt_kind kind;
    void *out;
    long lo, hi;
    double dlo, dhi;
    const char *choices;
    int *count, max;   /* MXB_OPT_LIST */
    int seen;          /* set by the parser: the option was given */
} mxb_opt;

#define MXB_OPT_F(n, p) {.name = (n), .kind = MXB_OPT_FLAG, .out = (p)}
#define MXB_OPT_S(n, p) {.name = (n), .kind = MXB_OPT_STR, .out = (p)}
#define MXB_OPT_L(n, p, cnt, mx) {.name = (n), .kind = MXB_OPT_LIST, .out = (p), .count = (cnt), .max = (mx)}
#define MXB_OPT_I(n, p, l, h) {.name = (n), .kind = MXB_OPT_INT, .out = (p), .lo = (l), .hi = (h)}
#define MXB_OPT_D(n, p, l, h) {.name = (n), .kind = MXB_OPT_DOUBLE, .out = (p), .dlo = (l), .dhi = (h)}
#define MXB_OPT_DO(n, p, l, h) {.name = (n), .kind = MXB_OPT_DOUBLE_OPT, .out = (p), .dlo = (l), .dhi = (h)}
#define MXB_OPT_C(n, p, ch) {.name = (n), .kind = MXB_OPT_CHOICE, .out = (p), .choices = (ch)}
#define MXB_OPT_END {.name = NULL}

/* Parses argv[1..]: "--name VALUE", "--name=VALUE", flags, "--" (then positionals
 * only) and up to max_pos positional arguments, in any order. 0: parsed; 1: --help
 * was printed on stdout (exit 0); 2: a one-line error naming the option and
 * pointing to `mxb CMD --help` was printed (exit 2). */
int mxb_opts_parse(const char *cmd, int argc, char **argv, mxb_opt *opts, const char **pos, int max_pos,
                   int *npos, void (*usage)(FILE *));
int mxb_opt_seen(const mxb_opt *opts, const char *name);
/* "mxb CMD: MESSAGE (see mxb CMD --help)" on stderr; returns 2 */
int mxb_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A command's outputs against its inputs, before any work (issue 23, class 1): every
 * input is noted (io's mxb_input_note; "T.h5:DATASET" notes T.h5), then every output is
 * checked (mxb_output_check: the same file as an input, by device + inode, or a folder),
 * and two outputs of one name are refused. NULL entries are skipped. 0, or 2 after one
 * line "mxb CMD: MESSAGE" on stderr. */
int mxb_outputs_check(const char *cmd, const char *const *inputs, int nin, const char *const *outputs, int nout);
/* The most threads (OpenMP's, and images in flight) a command uses on this machine: 8 x
 * its online cores, at least 64, at most 4096 (configs/README.md, images_in_flight). */
int mxb_thread_bound(void);
/* Strict numbers: all of the string, decimal, finite, in [lo, hi]; 0 or -1. */
int mxb_parse_ll(const char *s, long long lo, long long hi, long long *out);
int mxb_parse_long(const char *s, long lo, long hi, long *out);
int mxb_parse_u64(const char *s, unsigned long long *out);
int mxb_parse_double(const char *s, double lo, double hi, double *out);

/* ---- one explanation of one image ---- */
typedef struct {
    int class_index;      /* -1: the predicted class */
    mxb_variant variant;  /* ViM hidden attention */
    int start_layer;      /* -1: the method's default */
    /* ---- method ABI v2 (zero: defaults) ---- */
    const double *params; /* the method's params in spec order; NULL: its defaults */
    uint64_t seed;        /* [run] seed: stochastic methods draw from it alone */
    int image_index;      /* for the method's messages */
    mxb_ctx *const *pool; /* npool plain contexts for forward_many; NULL: one made per call */
    int npool;
    float *pixel_map;     /* a pixel method's [img_size^2] map before the patch mean, or NULL */
} mxb_explain_opts;

/* ---- ViM CLS-row forms by name (UIA, docs/METHODS-v2.md 3.2) ----
 * The choices of `--variant` and `[run] variant`, in this order; the name of a form
 * for messages, provenance and results files. */
#define MXB_VARIANT_CHOICES "official|exact|uia|uia-noconv|uia-nogate|uia-noact"
mxb_variant mxb_variant_from_choice(int index);
const char *mxb_variant_name(mxb_variant v);
/* The form of the rows method reads under the run's variant v: v, except for the uia
 * method, which always reads UIA rows (plain UIA when v is official or exact). */
mxb_variant mxb_explain_rows(const mxb_method *method, mxb_variant v);

/* c: a context made with MXB_TRACE_KEEP. Writes logits [num_classes], the explained
 * class, and map [grid * grid] (class token removed, not normalised). */
int mxb_explain_one(mxb_ctx *c, const mxb_model *m, const mxb_method *method, const float *image,
                    const mxb_explain_opts *opts, float *logits, int *explained, float *map,
                    char *err, size_t errlen);

/* The cost of one image of method at this geometry (params NULL: the defaults). */
int mxb_explain_cost(const mxb_config *g, const mxb_method *method, const double *params, mxb_cost *out);
/* Why mxb_explain_cost returned rc (-1 or -2), in why[n]: "its parameters do not fit
 * this model: steps = 5000" (the first parameter that alone, the others at their
 * defaults, makes cost() refuse; else "this combination: a = 1, b = 2"), or "its cost()
 * returned traced_forwards nan, backwards -5, ... (want finite counts >= 0)". */
void mxb_explain_cost_why(const mxb_config *g, const mxb_method *method, const double *params, int rc, char *why,
                          size_t n);
/* What the run of a v2 method with MXB_NEEDS_MODEL allocates besides its declared
 * scratch, at most (the input gradient, the logits, the traced image's copy, vit_qkv's
 * copies, relevance()'s token and pixel relevance): for the memory estimate. */
size_t mxb_explain_run_bytes(const mxb_config *g);

/* ---- the evaluation transform of a model (harness/cmd_model.c) ----
 * A weights file carries its model's transform (engine/WEIGHTS.md, eval_*); predict,
 * explain and run use it unless options or configuration keys say otherwise. */

/* Options that override it, for predict and explain (MXB_TRANSFORM_OPTS in a table) */
typedef struct {
    int resize, crop, square, filter; /* square 0/1; filter: index in "nearest|bilinear|bicubic" */
    const char *mean, *std;           /* "R,G,B" */
} mxb_transform_args;
#define MXB_TRANSFORM_OPTS(a)                                                                              \
    MXB_OPT_I("resize", &(a).resize, 1, 8192), MXB_OPT_I("crop", &(a).crop, 0, 8192),                    \
        MXB_OPT_C("square", &(a).square, "no|yes"), MXB_OPT_C("filter", &(a).filter, "nearest|bilinear|bicubic"), \
        MXB_OPT_S("mean", &(a).mean), MXB_OPT_S("std", &(a).std)
#define MXB_TRANSFORM_HELP                                                                                 \
    "  --resize N --crop N (0: none) --square yes|no --filter nearest|bilinear|bicubic\n"          \
    "  --mean R,G,B --std R,G,B\n"          \
    "                         override the model's evaluation transform (mxb inspect shows it)\n"

/* The transform stored in the weights file. A file without one (an older
 * conversion) gets *fallback, or with fallback NULL DeiT's ImageNet transform scaled
 * to the model's side (Resize(S*256/224, bicubic) + CenterCrop(S)); that is said
 * once on stderr, as "mxb CMD: ...". 0: from the file, 1: the fallback, -1: error. */
int mxb_model_preprocess(const char *cmd, const char *weights, const mxb_config *cfg,
                         const mxb_preprocess *fallback, mxb_preprocess *p, char *err, size_t errlen);
/* The options given in opts (a table holding MXB_TRANSFORM_OPTS(*a)) over p, checked
 * against the model's input side; 0, or 2 after a one-line usage error. */
int mxb_transform_apply(const char *cmd, const mxb_opt *opts, const mxb_transform_args *a,
                        const mxb_config *cfg, mxb_preprocess *p);
/* "Resize(73, bicubic) + CenterCrop(64), mean 0.485,0.456,0.406, std 0.229,0.224,0.225" */
void mxb_preprocess_describe(const mxb_preprocess *p, char *buf, size_t n);
/* "R,G,B": three finite numbers (positive ones if positive); 0 or -1 */
int mxb_parse_rgb(const char *s, int positive, float out[3]);

/* "file.h5[:dataset]" (default dataset `input`): the normalised [C,S,S] (or
 * [1,C,S,S]) float input a model expects, checked for shape and finiteness. */
float *mxb_load_input_tensor(const char *arg, const mxb_config *cfg, char *err, size_t errlen);
/* A JPEG/PNG through the transform p (mxb_model_preprocess), which must make the
 * model's input side. rgb (may be NULL): the transformed image, S*S*3 bytes. */
float *mxb_load_input_image(const char *path, const mxb_config *cfg, const mxb_preprocess *p, uint8_t **rgb,
                            char *err, size_t errlen);
void mxb_print_topk(const float *logits, int n, int k);

/* ---- the run configuration (harness/config.c; format in configs/README.md) ---- */

#define MXB_MAX_MODELS 8
#define MXB_MAX_METHODS 16

typedef enum {
    MXB_SUBSET_ALL, MXB_SUBSET_FIRST, MXB_SUBSET_EVERY, MXB_SUBSET_RANDOM, MXB_SUBSET_IDS
} mxb_subset_kind;

typedef struct {
    mxb_subset_kind kind;
    int n;
    char ids_file[4096];
} mxb_subset;

typedef struct {
    int enabled;
    char data[4096], labels[4096];
    char maps[4096];              /* perturbation: take the maps from this results file */
    mxb_subset subset;
    mxb_preprocess pre;           /* resize, crop, filter, mean/std */
    unsigned pre_set;             /* the keys of pre the file sets (mxb_preprocess_key_bit);
                                     the others come from each model (harness/run.c) */
    int positive, negative;       /* perturbation only */
} mxb_run_data;

typedef struct {
    char name[64], weights[4096], sha256[65];
} mxb_run_model;

typedef struct {
    char name[64], plugin[4096];
    int start_layer;
    /* ---- method ABI v2: [method:NAME] key = value lines, resolved against the method's
     * specs when the run is set up (params: spec order, defaults filled; NULL: none) ---- */
    char param_kv[MXB_MAX_PARAMS][128];
    int nparam_kv;
    double param_values[MXB_MAX_PARAMS];
    const double *params;         /* param_values once resolved (run setup), else NULL */
} mxb_run_method;

typedef struct {
    char path[4096], base_dir[4096], output[4096];
    char *text;                   /* the file as read, plus any --set lines */
    uint64_t seed;
    mxb_variant variant;
    int use_target;               /* explain the label instead of the prediction */
    int save_maps, save_attention, figures;
    int auc_fraction;             /* AUC over accuracy as a fraction instead of % */
    int auc_x_normalized;         /* AUC over x in [0, 1] instead of p in [0, 0.9] */
    double pointing_tolerance;    /* pixels at 224 px, scaled with the input size */
    int insdel_step;              /* RISE insertion/deletion pixels per step; 0: off */
    long long max_pixels;         /* images over this are refused; 0: the default */
    long long max_memory_mb;      /* a run estimated over this is refused; 0: the default */
    /* issue #13: images worked on at once, each with its own buffers and contexts; 0: auto */
    int images_in_flight;
    int nmodels, nmethods;
    mxb_run_model models[MXB_MAX_MODELS];
    mxb_run_method methods[MXB_MAX_METHODS];
    mxb_run_data perturbation, segmentation;
    /* [segmentation] normalise = none: the map is thresholded and ranked as upsampled,
     * without the min-max (UIA's own imagenet_seg_eval.py; changes mAP only) */
    int seg_no_minmax;
} mxb_run_config;

void mxb_run_config_defaults(mxb_run_config *c);
/* Reads an INI configuration and applies "section.key=value" overrides; every
 * unknown section or key, bad value or missing requirement is a one-line error
 * naming file, line and key. Free with mxb_run_config_free. */
int mxb_run_config_load(const char *path, const char *const *sets, int nsets, mxb_run_config *c,
                        char *err, size_t errlen);
void mxb_run_config_free(mxb_run_config *c);
/* the bit of a [perturbation]/[segmentation] transform key (resize, square, crop,
 * filter, mean, std) in mxb_run_data.pre_set; 0 for any other key */
unsigned mxb_preprocess_key_bit(const char *key);

/* mxb run / report / compare / merge (harness/run.c, harness/cmd_results.c) */
int mxb_cmd_run(int argc, char **argv);
int mxb_cmd_report(int argc, char **argv);
int mxb_cmd_compare(int argc, char **argv);
int mxb_cmd_merge(int argc, char **argv);
int mxb_cmd_slurm(int argc, char **argv);
/* mkdir -p of the folder a file goes into (every '/'-ended prefix of path). */
int mxb_make_parents(const char *path, char *err, size_t errlen);
int mxb_cmd_predict(int argc, char **argv);
int mxb_cmd_inspect(int argc, char **argv);
int mxb_cmd_explain(int argc, char **argv);
int mxb_cmd_methods(int argc, char **argv);
int mxb_cmd_bench(int argc, char **argv);
int mxb_cmd_synth(int argc, char **argv);
int mxb_cmd_dataset_info(int argc, char **argv);


/* ---- progress (harness/progress.c) ---- */

/* On a terminal one line redrawn in place (at most 4 times a second); otherwise
 * (a log, CI) a plain line every MXB_PROGRESS_SECONDS seconds (default 5), or after
 * 10 % more of the work (at most one a fifth of that interval), and at the end;
 * quiet: nothing. The plain line is
 *   mxb CMD: WHAT DONE/TOTAL UNITS (P%), R UNITS/s, ETA H:MM:SS
 * (ETA "?" until there is a rate). Everything goes to stderr. */
typedef struct {
    const char *cmd, *units;
    int mode;             /* 0 quiet, 1 terminal, 2 plain lines */
    double start, last, interval;
    long done_before, done, total, last_done;
    int open;             /* a terminal line is drawn and not yet ended */
} mxb_progress;
void mxb_progress_init(mxb_progress *p, const char *cmd, const char *units, long total, int quiet);
/* done so far (replayed units included: done_before, set after init, do not count
 * for the rate) */
void mxb_progress_show(mxb_progress *p, const char *what, long done);
/* the final line (a plain line, or the terminal line ended with a newline) */
void mxb_progress_end(mxb_progress *p, const char *what);

#endif
