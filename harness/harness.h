/*
 * harness — the `mxb` command: argument parsing, subcommands, the run loop.
 * Subcommands return a process exit code: 0 success, 1 failure of the work,
 * 2 bad usage or bad input (messages go to stderr, one line, naming the thing).
 */
#ifndef MXB_HARNESS_H
#define MXB_HARNESS_H

#include "datasets/datasets.h"
#include "engine/engine.h"
#include "methods/method.h"

#include <stddef.h>

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
} mxb_explain_opts;

/* c: a context made with MXB_TRACE_KEEP. Writes logits [num_classes], the explained
 * class, and map [grid * grid] (class token removed, not normalised). */
int mxb_explain_one(mxb_ctx *c, const mxb_model *m, const mxb_method *method, const float *image,
                    const mxb_explain_opts *opts, float *logits, int *explained, float *map,
                    char *err, size_t errlen);

/* The harness's treatment of every map: bilinear ×(size/grid) upsampling of the
 * [grid, grid] map to [size, size] with align_corners false (as F.interpolate), then
 * min-max normalisation. size is a multiple of grid (the patch size). */
void mxb_map_upsample(const float *map, int grid, float *out, int size);
void mxb_map_minmax(float *x, size_t n);

/* "file.h5[:dataset]" (default dataset `input`): the normalised [C,S,S] (or
 * [1,C,S,S]) float input a model expects, checked for shape and finiteness. */
float *mxb_load_input_tensor(const char *arg, const mxb_config *cfg, char *err, size_t errlen);
/* A JPEG/PNG through DeiT's evaluation transform (Resize(S*256/224, bicubic) +
 * CenterCrop(S) + ImageNet mean/std), S the model's input side. */
float *mxb_load_input_image(const char *path, const mxb_config *cfg, char *err, size_t errlen);
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
    int positive, negative;       /* perturbation only */
} mxb_run_data;

typedef struct {
    char name[64], weights[4096], sha256[65];
} mxb_run_model;

typedef struct {
    char name[64], plugin[4096];
    int start_layer;
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
    long long max_pixels;         /* images over this are refused; 0: the default */
    long long max_memory_mb;      /* a run estimated over this is refused; 0: the default */
    int nmodels, nmethods;
    mxb_run_model models[MXB_MAX_MODELS];
    mxb_run_method methods[MXB_MAX_METHODS];
    mxb_run_data perturbation, segmentation;
} mxb_run_config;

void mxb_run_config_defaults(mxb_run_config *c);
/* Reads an INI configuration and applies "section.key=value" overrides; every
 * unknown section or key, bad value or missing requirement is a one-line error
 * naming file, line and key. Free with mxb_run_config_free. */
int mxb_run_config_load(const char *path, const char *const *sets, int nsets, mxb_run_config *c,
                        char *err, size_t errlen);
void mxb_run_config_free(mxb_run_config *c);

/* mxb run / report / compare / merge (harness/run.c, harness/cmd_results.c) */
int mxb_cmd_run(int argc, char **argv);
int mxb_cmd_report(int argc, char **argv);
int mxb_cmd_compare(int argc, char **argv);
int mxb_cmd_merge(int argc, char **argv);
/* mkdir -p of the folder a file goes into (every '/'-ended prefix of path). */
int mxb_make_parents(const char *path, char *err, size_t errlen);
int mxb_cmd_predict(int argc, char **argv);
int mxb_cmd_inspect(int argc, char **argv);
int mxb_cmd_explain(int argc, char **argv);
int mxb_cmd_methods(int argc, char **argv);
int mxb_cmd_bench(int argc, char **argv);
int mxb_cmd_synth(int argc, char **argv);
int mxb_cmd_dataset_info(int argc, char **argv);

#endif
