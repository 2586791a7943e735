/* Model config, the state_dict layout of both families, and contexts. */
#include "engine/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ---- the state_dict layout ------------------------------------------------------ */

static void add_param(mxb_model *m, int cap, const char *name, int ndim, const int64_t *shape) {
    if (m->nparams >= cap) abort(); /* a bug in the key table, never input-dependent */
    mxb_param *p = &m->params[m->nparams++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    p->numel = 1;
    for (int i = 0; i < ndim; i++) {
        p->shape[i] = shape[i];
        p->numel *= (size_t)shape[i];
    }
}

#define P1(a) (int64_t[]){a}, 1
#define P2(a, b) (int64_t[]){a, b}, 2
#define P3(a, b, c) (int64_t[]){a, b, c}, 3
#define P4(a, b, c, d) (int64_t[]){a, b, c, d}, 4

static void addp(mxb_model *m, int cap, const int64_t *shape, int ndim, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void addp(mxb_model *m, int cap, const int64_t *shape, int ndim, const char *fmt, ...) {
    char name[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    add_param(m, cap, name, ndim, shape);
}

/* Keys in the order the original models register them (timm VisionTransformer,
 * hustvl VisionMamba), so listings read like the checkpoints. */
static void build_param_table(mxb_model *m) {
    const mxb_config *c = &m->cfg;
    const int E = c->embed_dim, P = c->patch_size, L = c->seq_len;
    int cap = 16 + c->depth * 24;
    m->params = calloc((size_t)cap, sizeof *m->params);
    m->nparams = 0;
    addp(m, cap, P3(1, 1, E), "cls_token");
    addp(m, cap, P3(1, L, E), "pos_embed");
    addp(m, cap, P4(E, c->in_chans, P, P), "patch_embed.proj.weight");
    addp(m, cap, P1(E), "patch_embed.proj.bias");
    if (c->arch == MXB_ARCH_VIT) {
        const int H3 = 3 * E, F = c->mlp_hidden;
        for (int i = 0; i < c->depth; i++) {
            addp(m, cap, P1(E), "blocks.%d.norm1.weight", i);
            addp(m, cap, P1(E), "blocks.%d.norm1.bias", i);
            addp(m, cap, P2(H3, E), "blocks.%d.attn.qkv.weight", i);
            if (c->qkv_bias) addp(m, cap, P1(H3), "blocks.%d.attn.qkv.bias", i);
            addp(m, cap, P2(E, E), "blocks.%d.attn.proj.weight", i);
            addp(m, cap, P1(E), "blocks.%d.attn.proj.bias", i);
            addp(m, cap, P1(E), "blocks.%d.norm2.weight", i);
            addp(m, cap, P1(E), "blocks.%d.norm2.bias", i);
            addp(m, cap, P2(F, E), "blocks.%d.mlp.fc1.weight", i);
            addp(m, cap, P1(F), "blocks.%d.mlp.fc1.bias", i);
            addp(m, cap, P2(E, F), "blocks.%d.mlp.fc2.weight", i);
            addp(m, cap, P1(E), "blocks.%d.mlp.fc2.bias", i);
        }
        addp(m, cap, P1(E), "norm.weight");
        addp(m, cap, P1(E), "norm.bias");
        addp(m, cap, P2(c->num_classes, E), "head.weight");
        addp(m, cap, P1(c->num_classes), "head.bias");
    } else {
        const int Di = c->d_inner, N = c->d_state, R = c->dt_rank, K = c->d_conv;
        addp(m, cap, P2(c->num_classes, E), "head.weight");
        addp(m, cap, P1(c->num_classes), "head.bias");
        for (int i = 0; i < c->depth; i++) {
            addp(m, cap, P2(Di, N), "layers.%d.mixer.A_log", i);
            addp(m, cap, P1(Di), "layers.%d.mixer.D", i);
            addp(m, cap, P2(Di, N), "layers.%d.mixer.A_b_log", i);
            addp(m, cap, P1(Di), "layers.%d.mixer.D_b", i);
            addp(m, cap, P2(2 * Di, E), "layers.%d.mixer.in_proj.weight", i);
            addp(m, cap, P3(Di, 1, K), "layers.%d.mixer.conv1d.weight", i);
            addp(m, cap, P1(Di), "layers.%d.mixer.conv1d.bias", i);
            addp(m, cap, P2(R + 2 * N, Di), "layers.%d.mixer.x_proj.weight", i);
            addp(m, cap, P2(Di, R), "layers.%d.mixer.dt_proj.weight", i);
            addp(m, cap, P1(Di), "layers.%d.mixer.dt_proj.bias", i);
            addp(m, cap, P3(Di, 1, K), "layers.%d.mixer.conv1d_b.weight", i);
            addp(m, cap, P1(Di), "layers.%d.mixer.conv1d_b.bias", i);
            addp(m, cap, P2(R + 2 * N, Di), "layers.%d.mixer.x_proj_b.weight", i);
            addp(m, cap, P2(Di, R), "layers.%d.mixer.dt_proj_b.weight", i);
            addp(m, cap, P1(Di), "layers.%d.mixer.dt_proj_b.bias", i);
            addp(m, cap, P2(E, Di), "layers.%d.mixer.out_proj.weight", i);
            addp(m, cap, P1(E), "layers.%d.norm.weight", i);
        }
        addp(m, cap, P1(E), "norm_f.weight");
    }
    size_t off = 0;
    for (int i = 0; i < m->nparams; i++) {
        m->params[i].offset = off;
        off += (m->params[i].numel + 15) & ~(size_t)15; /* 64-byte aligned tensors */
    }
}

static size_t param_arena_floats(const mxb_model *m) {
    const mxb_param *last = &m->params[m->nparams - 1];
    return last->offset + ((last->numel + 15) & ~(size_t)15);
}

static float *P(const mxb_model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static float *P(const mxb_model *m, const char *fmt, ...) {
    char name[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    for (int i = 0; i < m->nparams; i++)
        if (!strcmp(m->params[i].name, name)) return m->data + m->params[i].offset;
    return NULL;
}

static void bind_views(mxb_model *m) {
    const mxb_config *c = &m->cfg;
    m->cls_token = P(m, "cls_token");
    m->pos_embed = P(m, "pos_embed");
    m->patch_w = P(m, "patch_embed.proj.weight");
    m->patch_b = P(m, "patch_embed.proj.bias");
    m->head_w = P(m, "head.weight");
    m->head_b = P(m, "head.bias");
    if (c->arch == MXB_ARCH_VIT) {
        m->norm_w = P(m, "norm.weight");
        m->norm_b = P(m, "norm.bias");
        m->blocks = calloc((size_t)c->depth, sizeof *m->blocks);
        for (int i = 0; i < c->depth; i++) {
            vit_block_w *b = &m->blocks[i];
            b->ln1_w = P(m, "blocks.%d.norm1.weight", i);
            b->ln1_b = P(m, "blocks.%d.norm1.bias", i);
            b->qkv_w = P(m, "blocks.%d.attn.qkv.weight", i);
            b->qkv_b = P(m, "blocks.%d.attn.qkv.bias", i); /* NULL without qkv bias */
            b->proj_w = P(m, "blocks.%d.attn.proj.weight", i);
            b->proj_b = P(m, "blocks.%d.attn.proj.bias", i);
            b->ln2_w = P(m, "blocks.%d.norm2.weight", i);
            b->ln2_b = P(m, "blocks.%d.norm2.bias", i);
            b->fc1_w = P(m, "blocks.%d.mlp.fc1.weight", i);
            b->fc1_b = P(m, "blocks.%d.mlp.fc1.bias", i);
            b->fc2_w = P(m, "blocks.%d.mlp.fc2.weight", i);
            b->fc2_b = P(m, "blocks.%d.mlp.fc2.bias", i);
        }
    } else {
        const size_t DN = (size_t)c->d_inner * c->d_state;
        const size_t DNp = (size_t)SCAN_PADDED(c->d_inner) * c->d_state;
        m->norm_w = P(m, "norm_f.weight");
        m->layers = calloc((size_t)c->depth, sizeof *m->layers);
        m->derived = calloc((DN + DNp) * 2 * (size_t)c->depth, sizeof(float));
        for (int i = 0; i < c->depth; i++) {
            vim_layer_w *l = &m->layers[i];
            l->norm_w = P(m, "layers.%d.norm.weight", i);
            l->in_proj_w = P(m, "layers.%d.mixer.in_proj.weight", i);
            l->out_proj_w = P(m, "layers.%d.mixer.out_proj.weight", i);
            for (int d = 0; d < 2; d++) {
                const char *s = d ? "_b" : "";
                vim_dir_w *w = &l->dir[d];
                w->conv_w = P(m, "layers.%d.mixer.conv1d%s.weight", i, s);
                w->conv_b = P(m, "layers.%d.mixer.conv1d%s.bias", i, s);
                w->x_proj_w = P(m, "layers.%d.mixer.x_proj%s.weight", i, s);
                w->dt_proj_w = P(m, "layers.%d.mixer.dt_proj%s.weight", i, s);
                w->dt_proj_b = P(m, "layers.%d.mixer.dt_proj%s.bias", i, s);
                w->A_log = P(m, "layers.%d.mixer.A%s_log", i, s);
                w->D = P(m, "layers.%d.mixer.D%s", i, s);
                w->A = m->derived + ((size_t)i * 2 + d) * (DN + DNp);
                w->At = w->A + DN;
            }
        }
    }
}

/* A = -exp(A_log) is a function of the weights, recomputed whenever they change. */
void mxb_model_refresh(mxb_model *m) {
    if (m->cfg.arch != MXB_ARCH_VIM) return;
    const int Di = m->cfg.d_inner, N = m->cfg.d_state, Dp = SCAN_PADDED(Di);
    for (int i = 0; i < m->cfg.depth; i++)
        for (int d = 0; d < 2; d++) {
            vim_dir_w *w = &m->layers[i].dir[d];
            for (int c = 0; c < Di; c++)
                for (int n = 0; n < N; n++)
                    w->At[(size_t)n * Dp + c] = w->A[(size_t)c * N + n] = -expf(w->A_log[(size_t)c * N + n]);
        }
}

int mxb_model_new(const mxb_config *cfg, mxb_model **out, char *err, size_t errlen) {
    *out = NULL;
    mxb_model *m = calloc(1, sizeof *m);
    m->cfg = *cfg;
    if (mxb_config_finish(&m->cfg, err, errlen)) {
        free(m);
        return -1;
    }
    build_param_table(m);
    size_t n = param_arena_floats(m);
    m->data = aligned_alloc(64, ((n * sizeof(float)) + 63) & ~(size_t)63);
    if (!m->data) {
        mxb_seterr(err, errlen, "out of memory for %zu parameters", n);
        mxb_model_free(m);
        return -1;
    }
    memset(m->data, 0, n * sizeof(float));
    bind_views(m);
    mxb_model_refresh(m);
    *out = m;
    return 0;
}

void mxb_model_free(mxb_model *m) {
    if (!m) return;
    free(m->params);
    free(m->data);
    free(m->derived);
    free(m->blocks);
    free(m->layers);
    free(m);
}

const mxb_config *mxb_model_config(const mxb_model *m) { return &m->cfg; }

size_t mxb_model_param_count(const mxb_model *m) {
    size_t n = 0;
    for (int i = 0; i < m->nparams; i++) n += m->params[i].numel;
    return n;
}

int mxb_model_num_params(const mxb_model *m) { return m->nparams; }

const char *mxb_model_param_name(const mxb_model *m, int i, int *ndim, int64_t shape[4],
                                 float **data) {
    if (i < 0 || i >= m->nparams) return NULL;
    const mxb_param *p = &m->params[i];
    if (ndim) *ndim = p->ndim;
    if (shape)
        for (int k = 0; k < 4; k++) shape[k] = k < p->ndim ? p->shape[k] : 1;
    if (data) *data = m->data + p->offset;
    return p->name;
}

/* ---- contexts --------------------------------------------------------------------- */

/* Carves named buffers out of one arena: a first pass counts, the second assigns. */
typedef struct {
    float *base;
    size_t used;
} carver;

static float *carve(carver *cv, size_t n) {
    float *p = cv->base ? cv->base + cv->used : NULL;
    cv->used += (n + 15) & ~(size_t)15;
    return p;
}

static void layout_ctx(mxb_ctx *c, carver *cv) {
    const mxb_config *g = &c->m->cfg;
    const size_t L = (size_t)g->seq_len, E = (size_t)g->embed_dim, M = (size_t)g->num_patches;
    const size_t K = (size_t)g->in_chans * g->patch_size * g->patch_size;
    const int keep = c->flags & MXB_TRACE_KEEP;
    c->tokens = carve(cv, L * E);
    c->patches = carve(cv, M * K);
    c->final_in = carve(cv, E);
    c->final_norm = carve(cv, E);
    if (g->arch == MXB_ARCH_VIT) {
        const size_t H = (size_t)g->num_heads, F = (size_t)g->mlp_hidden;
        for (int i = 0; i < c->nact; i++) {
            vit_block_act *a = &c->vit[i];
            a->x_in = carve(cv, L * E);
            a->ln1 = carve(cv, L * E);
            a->ln1_rstd = carve(cv, L);
            a->qkv = carve(cv, L * 3 * E);
            a->attn = carve(cv, H * L * L);
            a->ctx = carve(cv, L * E);
            a->x_mid = carve(cv, L * E);
            a->ln2 = carve(cv, L * E);
            a->ln2_rstd = carve(cv, L);
            a->fc1 = carve(cv, L * F);
            a->gelu = carve(cv, L * F);
            a->attn_grad = keep ? carve(cv, H * L * L) : NULL;
            a->attn_rel = keep ? carve(cv, H * L * L) : NULL;
        }
        /* backward: gradients of the stream, qkv, hidden, and one attention map */
        c->scratch_floats = keep ? 4 * L * E + L * 3 * E + 2 * L * F + H * L * L : L * E;
    } else {
        const size_t Di = (size_t)g->d_inner, N = (size_t)g->d_state, R = (size_t)g->dt_rank;
        for (int i = 0; i < c->nact; i++) {
            vim_layer_act *a = &c->vim[i];
            a->residual = carve(cv, L * E);
            a->normed = carve(cv, L * E);
            a->rstd = carve(cv, L);
            a->mixer_out = carve(cv, L * E);
            a->residual_grad = keep ? carve(cv, L * E) : NULL;
            for (int d = 0; d < 2; d++) {
                vim_dir_act *s = &a->dir[d];
                s->xz = carve(cv, L * 2 * Di);
                s->conv_pre = carve(cv, L * Di);
                s->x = carve(cv, L * Di);
                s->x_dbl = carve(cv, L * (R + 2 * N));
                s->delta_pre = carve(cv, L * Di);
                s->delta = carve(cv, L * Di);
                s->y = carve(cv, L * Di);
                s->out = carve(cv, L * Di);
                s->dy = keep ? carve(cv, L * Di) : NULL;
            }
        }
        /* forward: the summed branch output; backward: stream gradients, per-direction
         * gradients and the scan's hidden states of one layer (L * Dp * N) */
        const size_t Dp = SCAN_PADDED(Di);
        c->scratch_floats = keep ? 4 * L * E + 12 * L * Di + L * (R + 2 * N) * 2 + L * Dp * N +
                                       2 * L * N * (Dp / SCAN_CB) /* scan backward partials */
                                 : L * Di;
    }
    c->scratch = carve(cv, c->scratch_floats);
}

mxb_ctx *mxb_ctx_new(const mxb_model *m, int flags) {
    mxb_ctx *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->m = m;
    c->flags = flags;
    /* Without a trace one set of layer buffers is reused by every layer. */
    c->nact = (flags & MXB_TRACE_KEEP) ? m->cfg.depth : 1;
    if (m->cfg.arch == MXB_ARCH_VIT)
        c->vit = calloc((size_t)c->nact, sizeof *c->vit);
    else
        c->vim = calloc((size_t)c->nact, sizeof *c->vim);
    carver cv = {0};
    layout_ctx(c, &cv);
    c->arena_floats = cv.used;
    c->arena = aligned_alloc(64, cv.used * sizeof(float));
    if (!c->arena || (!c->vit && !c->vim)) {
        mxb_ctx_free(c);
        return NULL;
    }
    memset(c->arena, 0, cv.used * sizeof(float));
    cv = (carver){c->arena, 0};
    layout_ctx(c, &cv);
    return c;
}

void mxb_ctx_free(mxb_ctx *c) {
    if (!c) return;
    free(c->arena);
    free(c->lrp_ws);
    free(c->vit);
    free(c->vim);
    free(c);
}

size_t mxb_ctx_bytes(const mxb_ctx *c) { return c->arena_floats * sizeof(float); }

/* The same tables and layout the allocating code builds, with nothing behind them:
 * what a run would take, known before a byte of it is allocated. */
int mxb_config_bytes(const mxb_config *cfg, size_t *model_bytes, size_t *ctx_keep_bytes,
                     size_t *ctx_plain_bytes) {
    mxb_model m = {.cfg = *cfg};
    if (mxb_config_finish(&m.cfg, NULL, 0)) return -1;
    build_param_table(&m);
    if (!m.params) return -1;
    const mxb_config *g = &m.cfg;
    size_t derived = 0;
    if (g->arch == MXB_ARCH_VIM) {
        const size_t DN = (size_t)g->d_inner * g->d_state, DNp = (size_t)SCAN_PADDED(g->d_inner) * g->d_state;
        derived = (DN + DNp) * 2 * (size_t)g->depth;
    }
    if (model_bytes) *model_bytes = (param_arena_floats(&m) + derived) * sizeof(float);
    for (int keep = 0; keep < 2; keep++) {
        size_t *out = keep ? ctx_keep_bytes : ctx_plain_bytes;
        if (!out) continue;
        mxb_ctx c = {.m = &m, .flags = keep ? MXB_TRACE_KEEP : MXB_TRACE_NONE};
        c.nact = keep ? g->depth : 1;
        size_t act = g->arch == MXB_ARCH_VIT ? sizeof *c.vit : sizeof *c.vim;
        if (g->arch == MXB_ARCH_VIT)
            c.vit = calloc((size_t)c.nact, sizeof *c.vit);
        else
            c.vim = calloc((size_t)c.nact, sizeof *c.vim);
        if (!c.vit && !c.vim) {
            free(m.params);
            return -1;
        }
        carver cv = {0};
        layout_ctx(&c, &cv);
        *out = cv.used * sizeof(float) + (size_t)c.nact * act;
        free(c.vit);
        free(c.vim);
    }
    free(m.params);
    return 0;
}

void mxb_forward(mxb_ctx *c, const float *image, float *logits) {
    if (c->m->cfg.arch == MXB_ARCH_VIT)
        mxb_vit_forward(c, image, logits);
    else
        mxb_vim_forward(c, image, logits);
}

void mxb_backward(mxb_ctx *c, const float *seed) {
    if (!(c->flags & MXB_TRACE_KEEP)) return;
    if (c->m->cfg.arch == MXB_ARCH_VIT)
        mxb_vit_backward(c, seed);
    else
        mxb_vim_backward(c, seed);
}

/* ---- trace accessors ----------------------------------------------------------------- */

static int traced_layer(const mxb_ctx *c, int layer) {
    return (c->flags & MXB_TRACE_KEEP) && layer >= 0 && layer < c->m->cfg.depth;
}

const float *mxb_vit_attn(const mxb_ctx *c, int b) {
    return c->vit && traced_layer(c, b) ? c->vit[b].attn : NULL;
}
const float *mxb_vit_attn_grad(const mxb_ctx *c, int b) {
    return c->vit && traced_layer(c, b) ? c->vit[b].attn_grad : NULL;
}
const float *mxb_vit_attn_relevance(const mxb_ctx *c, int b) {
    return c->vit && traced_layer(c, b) ? c->vit[b].attn_rel : NULL;
}

int mxb_relevance(mxb_ctx *c, const float *seed) {
    if (!(c->flags & MXB_TRACE_KEEP) || c->m->cfg.arch != MXB_ARCH_VIT) return -1;
    return mxb_vit_lrp(c, seed);
}

const float *mxb_vim_residual(const mxb_ctx *c, int l) {
    return c->vim && traced_layer(c, l) ? c->vim[l].residual : NULL;
}
const float *mxb_vim_residual_grad(const mxb_ctx *c, int l) {
    return c->vim && traced_layer(c, l) ? c->vim[l].residual_grad : NULL;
}
const float *mxb_vim_mixer_out(const mxb_ctx *c, int l) {
    return c->vim && traced_layer(c, l) ? c->vim[l].mixer_out : NULL;
}

int mxb_vim_s6(const mxb_ctx *c, int layer, int dir, mxb_s6_view *v) {
    if (!c->vim || !traced_layer(c, layer) || dir < 0 || dir > 1) return -1;
    const mxb_config *g = &c->m->cfg;
    const vim_dir_act *a = &c->vim[layer].dir[dir];
    const int R = g->dt_rank, N = g->d_state;
    *v = (mxb_s6_view){
        
        .L = g->seq_len, .D = g->d_inner, .N = N, .bc_stride = R + 2 * N, .x = a->x, .delta = a->delta,
        .B = a->x_dbl + R, .C = a->x_dbl + R + N, .A = c->m->layers[layer].dir[dir].A,
        .y = a->y, .dy = a->dy,
    };
    return 0;
}

/* ---- seeded random weights (benchmarks, tests) ------------------------------------ */

static float uniform01(uint64_t *s) { return (float)((mxb_splitmix64(s) >> 40) * (1.0 / 16777216.0)); }

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* Scales like the models' own initialisers, so activations stay O(1) through depth:
 * linear weights uniform with std 0.02 (trunc_normal(0.02) in timm and Vim), norms 1,
 * biases 0, A_log = log(1..N), D = 1, dt bias = softplus⁻¹ of dt in [1e-3, 1e-1]. */
void mxb_model_randomize(mxb_model *m, uint64_t seed) {
    uint64_t s = seed;
    const float amp = 0.02f * 1.7320508f; /* uniform(-a, a) has std a/√3 */
    for (int i = 0; i < m->nparams; i++) {
        const mxb_param *p = &m->params[i];
        float *d = m->data + p->offset;
        const char *n = p->name;
        if (strstr(n, "norm") && ends_with(n, ".weight")) {
            for (size_t k = 0; k < p->numel; k++) d[k] = 1.0f;
        } else if (ends_with(n, "A_log") || ends_with(n, "A_b_log")) {
            for (size_t k = 0; k < p->numel; k++) d[k] = logf((float)(k % (size_t)p->shape[1] + 1));
        } else if (ends_with(n, ".D") || ends_with(n, ".D_b")) {
            for (size_t k = 0; k < p->numel; k++) d[k] = 1.0f;
        } else if (strstr(n, "dt_proj") && ends_with(n, ".bias")) {
            for (size_t k = 0; k < p->numel; k++) {
                float dt = expf(logf(1e-3f) + uniform01(&s) * (logf(1e-1f) - logf(1e-3f)));
                d[k] = dt + logf(-expm1f(-dt));
            }
        } else if (strstr(n, "conv1d") && ends_with(n, ".weight")) {
            const float a = 1.0f / sqrtf((float)m->cfg.d_conv);
            for (size_t k = 0; k < p->numel; k++) d[k] = a * (2 * uniform01(&s) - 1);
        } else if (ends_with(n, ".bias") && !strstr(n, "conv1d")) {
            for (size_t k = 0; k < p->numel; k++) d[k] = 0.0f;
        } else {
            for (size_t k = 0; k < p->numel; k++) d[k] = amp * (2 * uniform01(&s) - 1);
        }
    }
    mxb_model_refresh(m);
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
