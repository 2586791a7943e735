/* A model's parameters: the state_dict layout of both families, the one allocation
 * behind it, the per-layer views, and seeded random weights. */
#include "engine/params.h"
#include "io/io.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
void mxb_params_table(mxb_model *m) {
    const mxb_config *c = &m->cfg;
    const int E = c->embed_dim, P = c->patch_size, L = c->seq_len;
    int cap = 16 + c->depth * 24; /* depth <= 1024 (mxb_config_finish): a few MB at most */
    m->params = mxb_alloc0((size_t)cap, sizeof *m->params, "the parameter table");
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

size_t mxb_params_floats(const mxb_model *m) {
    const mxb_param *last = &m->params[m->nparams - 1];
    return last->offset + ((last->numel + 15) & ~(size_t)15);
}

size_t mxb_params_derived_floats(const mxb_config *c) {
    if (c->arch != MXB_ARCH_VIM) return 0;
    const size_t DN = (size_t)c->d_inner * c->d_state, DNp = (size_t)SCAN_PADDED(c->d_inner) * c->d_state;
    const size_t KD = (size_t)c->d_conv * c->d_inner;
    return (DN + DNp + KD) * 2 * (size_t)c->depth;
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
        m->blocks = mxb_alloc0((size_t)c->depth, sizeof *m->blocks, "the block views");
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
        const size_t KD = (size_t)c->d_conv * c->d_inner;
        m->norm_w = P(m, "norm_f.weight");
        m->layers = mxb_alloc0((size_t)c->depth, sizeof *m->layers, "the layer views");
        m->derived = mxb_alloc0(mxb_params_derived_floats(c), sizeof(float), "the derived A tables");
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
                w->A = m->derived + ((size_t)i * 2 + d) * (DN + DNp + KD);
                w->At = w->A + DN;
                w->conv_wt = w->At + DNp;
            }
        }
    }
}

/* A = -exp(A_log) and the transposed conv taps are functions of the weights,
 * recomputed whenever they change. */
void mxb_model_refresh(mxb_model *m) {
    if (m->cfg.arch != MXB_ARCH_VIM) return;
    const int Di = m->cfg.d_inner, N = m->cfg.d_state, Dp = SCAN_PADDED(Di), K = m->cfg.d_conv;
    for (int i = 0; i < m->cfg.depth; i++)
        for (int d = 0; d < 2; d++) {
            vim_dir_w *w = &m->layers[i].dir[d];
            for (int c = 0; c < Di; c++)
                for (int n = 0; n < N; n++)
                    w->At[(size_t)n * Dp + c] = w->A[(size_t)c * N + n] = -expf(w->A_log[(size_t)c * N + n]);
            for (int c = 0; c < Di; c++)
                for (int k = 0; k < K; k++) w->conv_wt[(size_t)k * Di + c] = w->conv_w[(size_t)c * K + k];
        }
}

/* The parameters' size comes from a config a weights file declares (mxb_model_load
 * has checked it against the file's size): too much for this machine is an error
 * of that file, returned, not the end of the process. */
int mxb_model_new(const mxb_config *cfg, mxb_model **out, char *err, size_t errlen) {
    *out = NULL;
    mxb_config checked = *cfg;
    if (mxb_config_finish(&checked, err, errlen)) return -1;
    mxb_model *m = mxb_alloc0(1, sizeof *m, "a model");
    m->cfg = checked;
    mxb_params_table(m);
    size_t n = mxb_params_floats(m);
    m->data_raw = n <= (SIZE_MAX - 63) / sizeof(float) ? mxb_try_alloc0(n * sizeof(float) + 63, 1) : NULL;
    if (!m->data_raw) {
        mxb_seterr(err, errlen, "out of memory for %zu parameters", n);
        mxb_model_free(m);
        return -1;
    }
    m->data = (float *)(((uintptr_t)m->data_raw + 63) & ~(uintptr_t)63); /* 64-byte aligned tensors */
    bind_views(m);
    mxb_model_refresh(m);
    *out = m;
    return 0;
}

void mxb_model_free(mxb_model *m) {
    if (!m) return;
    free(m->params);
    free(m->data_raw);
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

