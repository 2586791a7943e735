/* A model's config: the checks a config read from a file must pass, its derived
 * fields, and the paper's geometries. */
#include "engine/engine.h"
#include "io/io.h"

#include <string.h>

const char *mxb_arch_name(mxb_arch a) {
    return a == MXB_ARCH_VIT ? "vit" : a == MXB_ARCH_VIM ? "vim" : "unknown";
}

/* Bounds keep a hostile config from asking for absurd allocations. */
#define CHECK_RANGE(field, lo, hi)                                                          \
    do {                                                                                    \
        if (cfg->field < (lo) || cfg->field > (hi)) {                                       \
            mxb_seterr(err, errlen, "config: %s = %d is out of range [%d, %d]", #field,     \
                       cfg->field, (lo), (hi));                                             \
            return -1;                                                                      \
        }                                                                                   \
    } while (0)

int mxb_config_finish(mxb_config *cfg, char *err, size_t errlen) {
    if (cfg->arch != MXB_ARCH_VIT && cfg->arch != MXB_ARCH_VIM) {
        mxb_seterr(err, errlen, "config: unknown arch");
        return -1;
    }
    CHECK_RANGE(img_size, 1, 4096);
    CHECK_RANGE(patch_size, 1, 1024);
    CHECK_RANGE(in_chans, 1, 16);
    CHECK_RANGE(num_classes, 1, 1000000);
    CHECK_RANGE(embed_dim, 1, 16384);
    CHECK_RANGE(depth, 1, 1024);
    if (cfg->img_size % cfg->patch_size) {
        mxb_seterr(err, errlen, "config: img_size %d is not a multiple of patch_size %d",
                   cfg->img_size, cfg->patch_size);
        return -1;
    }
    if (!(cfg->norm_eps > 0 && cfg->norm_eps < 1)) {
        mxb_seterr(err, errlen, "config: norm_eps %g is not in (0, 1)", cfg->norm_eps);
        return -1;
    }
    if (cfg->final_norm_eps == 0) cfg->final_norm_eps = cfg->norm_eps;
    if (!(cfg->final_norm_eps > 0 && cfg->final_norm_eps < 1)) {
        mxb_seterr(err, errlen, "config: final_norm_eps %g is not in (0, 1)", cfg->final_norm_eps);
        return -1;
    }
    cfg->grid = cfg->img_size / cfg->patch_size;
    cfg->num_patches = cfg->grid * cfg->grid;
    cfg->seq_len = cfg->num_patches + 1;
    if (cfg->seq_len > 65536) {
        mxb_seterr(err, errlen, "config: %d tokens is more than 65536", cfg->seq_len);
        return -1;
    }
    if (cfg->arch == MXB_ARCH_VIT) {
        CHECK_RANGE(num_heads, 1, 1024);
        CHECK_RANGE(mlp_hidden, 1, 65536);
        if (cfg->embed_dim % cfg->num_heads) {
            mxb_seterr(err, errlen, "config: embed_dim %d is not divisible by num_heads %d",
                       cfg->embed_dim, cfg->num_heads);
            return -1;
        }
        cfg->cls_pos = 0;
    } else {
        CHECK_RANGE(d_state, 1, 64); /* the scan keeps a state of at most 64 per channel */
        CHECK_RANGE(d_inner, 1, 65536);
        CHECK_RANGE(dt_rank, 1, 4096);
        CHECK_RANGE(d_conv, 1, 64);
        /* middle class token: inserted before patch M//2 (models_mamba.py) */
        cfg->cls_pos = cfg->num_patches / 2;
    }
    return 0;
}

mxb_config mxb_config_preset(const char *name) {
    mxb_config c = {0};
    c.img_size = 224;
    c.patch_size = 16;
    c.in_chans = 3;
    c.num_classes = 1000;
    if (!strcmp(name, "deit-s") || !strcmp(name, "deit-t")) {
        c.arch = MXB_ARCH_VIT;
        c.embed_dim = name[5] == 's' ? 384 : 192;
        c.num_heads = c.embed_dim / 64;
        c.depth = 12;
        c.mlp_hidden = 4 * c.embed_dim;
        c.qkv_bias = 1;
        c.norm_eps = 1e-6f;
        c.final_norm_eps = 1e-5f;
    } else if (!strcmp(name, "vim-s") || !strcmp(name, "vim-t")) {
        c.arch = MXB_ARCH_VIM;
        c.embed_dim = name[4] == 's' ? 384 : 192;
        c.depth = 24;
        c.d_state = 16;
        c.d_inner = 2 * c.embed_dim;
        c.dt_rank = (c.embed_dim + 15) / 16;
        c.d_conv = 4;
        c.divide_out = 1;
        c.norm_eps = 1e-5f;
    }
    return c;
}
