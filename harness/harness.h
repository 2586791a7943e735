/*
 * harness — the `mxb` command: argument parsing, subcommands, the run loop.
 * Subcommands return a process exit code: 0 success, 1 failure of the work,
 * 2 bad usage or bad input (messages go to stderr, one line, naming the thing).
 */
#ifndef MXB_HARNESS_H
#define MXB_HARNESS_H

#include "engine/engine.h"
#include "methods/method.h"

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


int mxb_cmd_predict(int argc, char **argv);
int mxb_cmd_inspect(int argc, char **argv);

#endif
