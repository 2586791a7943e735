/* harness/internal.h — what the files of harness/ share and nothing outside needs:
 * the commands, the option parser, progress lines, a model's input (input.c), the
 * ViM row forms by name, and what the files of `mxb run` share (run.c the loop,
 * run_setup.c the set-up, evaluate.c the protocols of one image, attention.c the
 * attention dumper, provenance.c the run's identity and attributes). Not installed,
 * not for other modules; harness/harness.h is what tests and mxb_main need. */
#ifndef MXB_HARNESS_INTERNAL_H
#define MXB_HARNESS_INTERNAL_H

#include "harness/harness.h"
#include "results/results.h"

#include <stdint.h>

/* ---- the commands (harness/cli.c dispatches them) ---- */
/* mxb run / report / compare / merge (harness/run.c, harness/cmd_results.c) */
int mxb_cmd_run(int argc, char **argv);
int mxb_cmd_report(int argc, char **argv);
int mxb_cmd_compare(int argc, char **argv);
int mxb_cmd_merge(int argc, char **argv);
int mxb_cmd_history(int argc, char **argv);
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
/* --device SPEC (harness/device.c): cpu, cuda, cuda:N or auto into *gpu (-1: the
 * CPU); what names where SPEC came from in messages ("--device", "[run] device").
 * 0, or 2 after one line on stderr (a GPU asked for and not there; auto falling
 * back to the CPU says so in one line and returns 0). */
int mxb_device_pick(const char *cmd, const char *what, const char *spec, int *gpu);
/* The syntax alone (no driver asked): 0 for cpu, auto (index -1), cuda (0), cuda:N
 * (N <= 1023); -1 otherwise. The configuration's check of [run] device. */
int mxb_device_parse(const char *spec, long *index);
/* mxb --version's CUDA lines: compiled in or not, and the GPUs the driver shows */
void mxb_device_describe(FILE *f);
/* --plugin LIB.so given after the command (mxb explain/methods/run: the same as before
 * it): loads each; on a failure "mxb CMD: the loader's line" on stderr, every plugin
 * unloaded, 2 */
int mxb_load_plugins(const char *cmd, const char *const *paths, int n);
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

/* ---- ViM CLS-row forms by name (UIA, docs/METHODS-v2.md 3.2) ----
 * The choices of `--variant` and `[run] variant`, in this order; the name of a form
 * for messages, provenance and results files. */
#define MXB_VARIANT_CHOICES "official|exact|uia|uia-noconv|uia-nogate|uia-noact"
mxb_variant mxb_variant_from_choice(int index);
const char *mxb_variant_name(mxb_variant v);
/* The form of the rows method reads under the run's variant v: v, except for the uia
 * method, which always reads UIA rows (plain UIA when v is official or exact). */
mxb_variant mxb_explain_rows(const mxb_method *method, mxb_variant v);

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


/* ---- the evaluation transform of a model (harness/input.c) ----
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
/* The k best classes: "class probability logit" lines (and the name, names non-NULL:
 * names[num_classes]), or as a JSON array of {"class", "probability", "logit"[, "name"]} */
void mxb_print_topk(const float *logits, int n, int k, const char *const *names);
void mxb_json_topk(const float *logits, int n, int k, const char *const *names);
/* A class-name file (--classes; mxb synth's classes.txt): one name a line, line i
 * naming class i - 1, exactly num_classes lines (a last line end optional; CR LF
 * taken); an empty line, a NUL byte or another count is an error naming the file and
 * the line. NULL on error. */
char **mxb_class_names_read(const char *path, int num_classes, char *err, size_t errlen);
void mxb_class_names_free(char **names, int n);

/* The images of `--images SPEC` (predict, explain), in order:
 *   a folder   its image files and its sub-folders', recursively, by the dataset
 *              reader's rule (mxb_image_folder_list: names .jpg, .jpeg, .png, ...;
 *              by folder, then name); id = the path relative to the folder, as mxb
 *              run's
 *   a pattern  (quoted, so that mxb expands it) when no file has that name: glob(3),
 *              sorted; folders it matches are skipped; id = the file name
 *   a file     a list: one path a line (relative: to the current folder), blank
 *              lines and '#' comments skipped; id = the file name
 * The images are not read here: a file that is missing or no JPEG/PNG is the
 * reader's error when its turn comes. An empty folder, a pattern matching nothing,
 * a list naming nothing are errors (one line in err naming SPEC). */
typedef struct {
    char **path, **id;
    int n;
} mxb_image_list;
int mxb_image_list_open(const char *spec, mxb_image_list *l, char *err, size_t errlen);
void mxb_image_list_free(mxb_image_list *l);
/* predict's and explain's output, one image or (batch) every image of a list: a float
 * dataset of the given dims, with a leading [n] image axis when batch, and its layout
 * attribute ("[class]" becomes "[image, class]"); with_id adds the list's /id to its
 * /image. 0, or -1 with err. */
int mxb_h5out_per_image(mxb_h5out *o, const char *name, const float *data, int batch, int64_t n, int rank,
                        const int64_t *dims, const char *layout, char *err, size_t errlen);
int mxb_image_list_write(mxb_h5out *o, const mxb_image_list *l, int with_id, char *err, size_t errlen);

/* the bit of a [perturbation]/[segmentation] transform key (resize, square, crop,
 * filter, mean, std) in mxb_run_data.pre_set; 0 for any other key */
unsigned mxb_preprocess_key_bit(const char *key);


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

/* ---- mxb run ---- */

/* One image in flight: every per-image buffer of the run and its own engine contexts,
 * allocated once for the run (slots_alloc in run_setup.c). The loop body takes
 * (slot, unit); [run] images_in_flight = N gives N slots, each worked on by one thread
 * of the outer team with `nthreads` threads of its own inside (issue #13). */
typedef struct {
    int nthreads;       /* threads inside this image (the engine's regions) */
    int nplain;         /* its plain contexts: the perturbation steps run at once, min(nthreads, 9) */
    mxb_ctx *traced[MXB_MAX_MODELS];                  /* the explanation's (MXB_TRACE_KEEP) */
    mxb_ctx *step_ctx[MXB_MAX_MODELS][MXB_RES_STEPS]; /* plain forwards, one per inner thread */
    float *u;           /* [3, npix] the image in [0, 1] (what the perturbation test masks) */
    float *x;           /* [3, npix] the model's normalised input */
    float *blurred;     /* [3, npix] RISE's insertion substrate: blur(x); only when insdel_step > 0 */
    float *map;         /* [max_grid2] one method's map */
    float *vis;         /* [npix] the evaluated map (mxb_map_postprocess) */
    int32_t *order;     /* [npix] a pixel order */
    float *logits;      /* [max_classes] the explained forward's */
    float *orig;        /* [max_classes] the unperturbed image's (plain forward) */
    float *work;        /* [nplain, 3, npix] one perturbed image per inner thread */
    float *step_logits; /* [nplain, max_classes] */
    double *scores;     /* [2, insdel states] RISE's curves */
    uint8_t *rgb;       /* [npix, 3] the transformed image */
    uint8_t *mask;      /* [npix] the segmentation mask */
    uint8_t *record;    /* one journal record */
    /* on a GPU ([run] device): the protocols' forwards of one image as one batch */
    float *batch;        /* [MXB_RUN_GPU_BATCH, 3, npix] */
    float *batch_logits; /* [MXB_RUN_GPU_BATCH, max_classes] */
} mxb_run_slot;

/* A GPU batch: both polarities' perturbed images of one map (9 steps each); RISE's
 * insertion/deletion states go in batches of this many. */
#define MXB_RUN_GPU_BATCH (2 * (MXB_RES_STEPS - 1))

/* The forwards of a protocol, model-free: `forward` classifies a normalised image
 * into logits [nclasses] on thread `thread` (< nthreads; one engine context each). */
typedef struct {
    void (*forward)(void *ctx, int thread, const float *normalised, float *logits);
    void *ctx;
    int nthreads, nclasses;
    /* NULL, or n <= MXB_RUN_GPU_BATCH images at once (a GPU: the images are made on the
     * slot's threads into s->batch, then classified in one call); 0 or -1 with err */
    int (*forward_batch)(void *ctx, const float *normalised, int n, float *logits, char *err, size_t errlen);
} mxb_classifier;

typedef struct {
    mxb_run_config cfg;
    int shard_i, shard_n;
    char output[4200], journal_path[4300];
    mxb_model *model[MXB_MAX_MODELS];
    /* the threads of the run (omp_get_max_threads()), shared by the images in flight:
     * in_flight slots of nthreads / in_flight threads each (at least 1) */
    int nthreads, in_flight;
    int in_flight_arg;              /* mxb run --in-flight N (0: [run] images_in_flight, then auto) */
    const char *device_arg;         /* mxb run --device (NULL: [run] device) */
    int gpu;                        /* the GPU the protocols' forwards run on; -1: the CPU */
    char gpu_name[256];             /* its mxb_gpu_name, for the provenance and code key */
    mxb_gpu *gpu_model[MXB_MAX_MODELS]; /* each model on it, shared by the images in flight */
    int plan_only;                  /* mxb slurm: set up to plan the shards; an existing output is no concern */
    char model_sha[MXB_MAX_MODELS][65];
    const mxb_method *method[MXB_MAX_METHODS];
    mxb_dataset *data[MXB_NTESTS];
    const mxb_run_data *rd[MXB_NTESTS];
    /* each model's transform per test: the configuration's keys over the model's own
     * (resolve_transforms); one geometry per test, mean/std per model */
    mxb_preprocess pre[MXB_NTESTS][MXB_MAX_MODELS];
    char data_sha[MXB_NTESTS][65];
    int selected[MXB_NTESTS];       /* images selected, before sharding */
    char run_key[65], journal_key[65];
    char code_key[65];              /* SHA-256 of what ran: mxb's build, methods' ABI, params, plugin bytes */
    mxb_results res;
    mxb_results maps_src;           /* [perturbation] maps = FILE: stored maps */
    int have_maps_src;
    int *maps_row;                  /* perturbation row -> row in maps_src */
    int maps_model[MXB_MAX_MODELS], maps_method[MXB_MAX_METHODS];
    mxb_journal *journal;
    int size;                       /* the model input side, shared by every model */
    unsigned long long memory_mb;   /* the estimate check_memory made */
    unsigned long long slot_bytes;  /* its contexts and buffers of one image in flight: what slots_alloc takes */
    double seconds[MXB_NTESTS];     /* work time per test, this process and replayed */
    int quiet;
    mxb_progress stage;             /* the progress of the stage after the units */
    mxb_run_slot *slots;            /* [in_flight] the images in flight; slots[0] does the serial work */
    int max_classes, max_grid2;
    /* the data's sanity checks (check_data_fit): lines, each said once on stderr and
     * kept in the results (attribute "warnings"); each model's class count ("num_classes") */
    char warnings[1024], num_classes[512];
} mxb_run_state;

/* ---- run_setup.c: configuration to loaded models, data, results arrays ---- */

/* Everything before the loop: shard, configuration, methods, models' configs, data
 * lists, labels, the memory estimate, weights, transforms, the run key, the results
 * arrays, the maps source, the slot. Returns 0, or the command's exit code with err
 * set (2 bad input, 1 failure); *done = 1 when the output is already complete (its
 * tables printed, exit 0). */
int mxb_run_setup(mxb_run_state *R, const char *config, const char *const *sets, int nsets, int *done,
                  char *err, size_t errlen);
void mxb_run_state_free(mxb_run_state *R);
/* The methods model m runs: the configured ones less the pairs skipped (R->res.skipped). */
int mxb_run_nmethods(const mxb_run_state *R, int m);
/* MiB: the environment's MXB_MAX_MEMORY_MB, else the machine's physical memory; *from
 * names which ("MXB_MAX_MEMORY_MB", or machine_from: the caller's hint). mxb run's
 * limit without [run] max_memory_mb; mxb bench's. */
unsigned long long mxb_memory_limit_default_mb(const char **from, const char *machine_from);

/* ---- evaluate.c: the protocols of one image (docs/PROTOCOLS.md 6, 7, RISE) ---- */

/* The perturbation test, each polarity q with polarity[q] set (MXB_POSITIVE,
 * MXB_NEGATIVE): the order of s->vis (negated for the negative test), then steps 0..9
 * masking s->u, normalised with mean/std, classified (step 0 is s->orig); hits, logit
 * and probability drops into row i of cell. With c->forward_batch both polarities'
 * 18 images are one batch. */
int mxb_run_perturbation(mxb_run_slot *s, const mxb_classifier *c, int size, const float mean[3],
                         const float std[3], const int polarity[2], int label, mxb_res_cell *cell, int i, char *err,
                         size_t errlen);
/* RISE's deletion (s->x to zeros) and insertion (s->blurred to s->x) curves of class
 * cls's softmax probability in s->vis's order, `step` pixels at a time; their AUCs. */
int mxb_run_insertion_deletion(mxb_run_slot *s, const mxb_classifier *c, int size, int step, int cls,
                               double *insertion, double *deletion, char *err, size_t errlen);
/* The forwards one map costs: 2 (mxb_rise_steps + 1). */
long mxb_run_insdel_forwards(int size, int step);
/* The segmentation test of s->vis against s->mask, and the pointing game, into row i. */
int mxb_run_segmentation(const mxb_run_slot *s, int size, double tolerance_px, mxb_res_cell *cell, int i,
                         char *err, size_t errlen);

/* ---- attention.c: the one attention dumper (results/SCHEMA.md, Attention) ---- */

/* The attention of the image c last traced (a MXB_TRACE_KEEP forward) as one float32
 * dataset `name`: ViT [depth, heads, L, L], ViM [depth, 2, L, L] channel mean, with
 * its `layout` attribute. Used by mxb run (save_attention) and mxb explain. ViM:
 * the exact α matrices, or UIA's (mxb_vim_uia_matrix_mean) when rows is a UIA form. */
int mxb_attention_write(mxb_h5out *o, const char *name, mxb_ctx *c, const mxb_config *g, mxb_variant rows,
                        char *err, size_t errlen);

/* ---- provenance.c ---- */
void mxb_run_iso_time(char *buf, size_t n);
/* The run's identity (configuration, weights, data lists, and the code: mxb's build id,
 * each method's ABI, resolved parameters and plugin file + SHA-256; the shard on top). */
const char *mxb_build_id(void); /* "VERSION REV build GNU-BUILD-ID" */
void mxb_run_keys(mxb_run_state *R);
void mxb_run_set_provenance(mxb_run_state *R, const char *started);

#endif
