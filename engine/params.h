/* Private to engine/: a model's parameters — the state_dict table (engine/params.c),
 * the one allocation behind it, and the per-layer views the families compute with. */
#ifndef MXB_ENGINE_PARAMS_H
#define MXB_ENGINE_PARAMS_H

#include "engine/engine.h"

#include <stddef.h>
#include <stdint.h>

/* channels per vector block in the scan and hidden-attention kernels; the derived
 * At tables are padded to it */
#define SCAN_CB 16
#define SCAN_PADDED(D) ((((D) + SCAN_CB - 1) / SCAN_CB) * SCAN_CB)

typedef struct {
    char name[64];
    int ndim;
    int64_t shape[4];
    size_t offset, numel;
} mxb_param;

typedef struct {
    const float *ln1_w, *ln1_b, *qkv_w, *qkv_b, *proj_w, *proj_b;
    const float *ln2_w, *ln2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} vit_block_w;

/* One direction of a bimamba v2 mixer: dir 0 uses conv1d/x_proj/dt_proj/A_log/D,
 * dir 1 the *_b twins. A = -exp(A_log) is derived once at load. */
typedef struct {
    const float *conv_w, *conv_b, *x_proj_w, *dt_proj_w, *dt_proj_b, *A_log, *D;
    float *A;  /* [Di, N] */
    float *At; /* [N, Dp] the same, transposed and zero-padded to Dp = SCAN_CB blocks */
    float *conv_wt; /* [K, Di] conv_w transposed: a tap's weights contiguous over channels */
} vim_dir_w;

typedef struct {
    const float *norm_w, *in_proj_w, *out_proj_w;
    vim_dir_w dir[2];
} vim_layer_w;

struct mxb_model {
    mxb_config cfg;
    int nparams;
    mxb_param *params;
    float *data;            /* every parameter, 64-byte aligned inside data_raw */
    void *data_raw;         /* what was allocated (and is freed) */
    float *derived;         /* A = -exp(A_log), At and conv_wt for every ViM layer and direction */
    const float *cls_token, *pos_embed, *patch_w, *patch_b, *norm_w, *norm_b, *head_w, *head_b;
    vit_block_w *blocks;
    vim_layer_w *layers;
};

/* The state_dict table of m->cfg (a finished config) into m->params, in the order the
 * original models register their keys; 64-byte aligned offsets. */
void mxb_params_table(mxb_model *m);
/* floats behind the table (the parameter allocation) and the derived ViM tables */
size_t mxb_params_floats(const mxb_model *m);
size_t mxb_params_derived_floats(const mxb_config *cfg);

#endif
