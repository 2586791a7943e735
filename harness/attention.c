/* The one attention dumper: mxb run's /attention/<test>/<model>/<index> and mxb
 * explain --save-attention's /attention have the same layout (results/SCHEMA.md),
 * which results/figures.c reads. */
#include "harness/internal.h"

#include "io/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIT_LAYOUT "[layer, head, L, L] softmax attention, row: query token, column: key token, class token at 0"
#define VIM_LAYOUT "[layer, direction (0 forward, 1 backward), L, L] channel mean, exact, image order"

#define VIM_UIA_LAYOUT "[layer, direction (0 forward, 1 backward), L, L] channel mean, %s (UIA's implicit attention), image order"

int mxb_attention_write(mxb_h5out *o, const char *name, mxb_ctx *c, const mxb_config *g, mxb_variant rows,
                        char *err, size_t errlen) {
    const int uia = MXB_ROW_FORM((int)rows) == MXB_ROW_UIA;
    char layout[200];
    snprintf(layout, sizeof layout, VIM_UIA_LAYOUT, mxb_variant_name(rows));
    const int vit = g->arch == MXB_ARCH_VIT, per_layer = vit ? g->num_heads : 2;
    const int64_t L = g->seq_len, dims[4] = {g->depth, per_layer, L, L};
    const size_t blk = (size_t)(L * L); /* one [L, L] matrix */
    /* bounded by the model's checked configuration (the run's memory estimate counts it) */
    float *all = mxb_alloc((size_t)g->depth * per_layer * blk * sizeof *all, "attention");
    int rc = 0;
    for (int l = 0; l < g->depth && !rc; l++) {
        float *layer = all + (size_t)l * per_layer * blk;
        if (vit) {
            memcpy(layer, mxb_vit_attn(c, l), (size_t)per_layer * blk * sizeof *all);
            continue;
        }
        for (int d = 0; d < 2 && !rc; d++)
            if (uia ? mxb_vim_uia_matrix_mean(c, l, d, 1, rows, layer + (size_t)d * blk)
                    : mxb_vim_hidden_attn_mean(c, l, d, 1, layer + (size_t)d * blk)) {
                mxb_seterr(err, errlen, "%s: hidden attention failed (out of memory?)", name);
                rc = -1;
            }
    }
    if (!rc) rc = mxb_h5out_write(o, name, MXB_H5_F32, all, 4, dims, 1, err, errlen);
    if (!rc) rc = mxb_h5out_attr_str(o, name, "layout", vit ? VIT_LAYOUT : uia ? layout : VIM_LAYOUT, err, errlen);
    free(all);
    return rc ? -1 : 0;
}
