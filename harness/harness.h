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

/* ---- one explanation of one image ---- */
typedef struct {
    int class_index;      /* -1: the predicted class */
    mxb_variant variant;  /* ViM hidden attention */
    int start_layer;      /* -1: the method's default */
    /* ---- method ABI v2 (zero: defaults) ---- */
    const double *params; /* the method's params in spec order; NULL: its defaults */
    uint64_t seed;        /* the image's seed (mxb_image_seed): stochastic methods draw from it alone */
    int image_index;      /* for the method's messages */
    mxb_ctx *const *pool; /* npool plain contexts for forward_many; NULL: one made per call */
    int npool;
    float *pixel_map;     /* a pixel method's [img_size^2] map before the patch mean, or NULL */
    mxb_gpu *gpu;         /* NULL, or the model on a GPU: forward_many's images go there in
                             batches (mxb run --device; shared, engine/gpu.c takes turns) */
} mxb_explain_opts;

/* c: a context made with MXB_TRACE_KEEP. Writes logits [num_classes], the explained
 * class, and map [grid * grid] (class token removed, not normalised). */
int mxb_explain_one(mxb_ctx *c, const mxb_model *m, const mxb_method *method, const float *image,
                    const mxb_explain_opts *opts, float *logits, int *explained, float *map,
                    char *err, size_t errlen);

/* The cost of one image of method at this geometry (params NULL: the defaults). */
int mxb_explain_cost(const mxb_config *g, const mxb_method *method, const double *params, mxb_cost *out);
/* ---- the run configuration (harness/config.c; format in configs/README.md) ---- */

#define MXB_MAX_MODELS 8
#define MXB_LABEL_MAX 64 /* [model:NAME] label, bytes */
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
    char label[MXB_LABEL_MAX + 1]; /* [model:NAME] label: the tables' and figures' name; "": NAME */
} mxb_run_model;

typedef struct {
    char name[64], plugin[4096];
    /* base = NAME: this section is an alias of method NAME with its own keys (a sweep);
     * empty: the section's name is the method's */
    char base[64];
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
    /* issue 27: cpu, cuda, cuda:N or auto (empty: cpu); mxb run --device overrides it */
    char device[16];
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
#endif
