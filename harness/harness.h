/*
 * harness — the `mxb` command: argument parsing, subcommands, the run loop.
 * Subcommands return a process exit code: 0 success, 1 failure of the work,
 * 2 bad usage or bad input (messages go to stderr, one line, naming the thing).
 */
#ifndef MXB_HARNESS_H
#define MXB_HARNESS_H

#include "engine/engine.h"
#include "methods/method.h"

#include <stddef.h>

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

/* The harness's treatment of every map: bilinear ×(oh/gh) upsampling with
 * align_corners false (as F.interpolate), then min-max normalisation. */
void mxb_map_upsample(const float *map, int gh, int gw, float *out, int oh, int ow);
void mxb_map_minmax(float *x, size_t n);

/* "file.h5[:dataset]" (default dataset `input`): the normalised [C,S,S] (or
 * [1,C,S,S]) float input a model expects, checked for shape and finiteness. */
float *mxb_load_input_tensor(const char *arg, const mxb_config *cfg, char *err, size_t errlen);
void mxb_print_topk(const float *logits, int n, int k);

int mxb_cmd_predict(int argc, char **argv);
int mxb_cmd_inspect(int argc, char **argv);
int mxb_cmd_explain(int argc, char **argv);
int mxb_cmd_methods(int argc, char **argv);
int mxb_cmd_bench(int argc, char **argv);
int mxb_cmd_synth(int argc, char **argv);
int mxb_cmd_dataset_info(int argc, char **argv);

#endif
