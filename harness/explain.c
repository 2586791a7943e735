/* One explanation: forward (traced), the passes the method needs, the method. The
 * class choice lives here, once, for every method. */
#include "harness/harness.h"
#include "harness/internal.h"
#include "metrics/metrics.h"

#include "io/io.h"

#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    mxb_ctx *c;
    mxb_variant variant;
    const float *token_rel; /* MXB_NEEDS_MAMBALRP's result (NULL otherwise) */
    const float *input_rel; /* MXB_NEEDS_RELEVANCE_INPUT's (NULL otherwise) */
    int rel_from;           /* attn_relevance below this block was not computed */
} trace_handle;

static const float *tr_attn(void *t, int b) { return t ? mxb_vit_attn(((trace_handle *)t)->c, b) : NULL; }
static const float *tr_attn_grad(void *t, int b) {
    if (!t) return NULL; /* a plugin's NULL: no crash (issue 23) */
    return mxb_vit_attn_grad(((trace_handle *)t)->c, b);
}
static const float *tr_attn_rel(void *t, int b) {
    if (!t) return NULL;
    if (b < ((trace_handle *)t)->rel_from) return NULL; /* partial LRP stopped above it */
    return mxb_vit_attn_relevance(((trace_handle *)t)->c, b);
}
static const float *tr_residual(void *t, int l) {
    if (!t) return NULL;
    return mxb_vim_residual(((trace_handle *)t)->c, l);
}
static const float *tr_residual_grad(void *t, int l) {
    if (!t) return NULL;
    return mxb_vim_residual_grad(((trace_handle *)t)->c, l);
}
static int tr_xai(void *t, int l, float *out) {
    if (!t || !out) return -1;
    trace_handle *h = t;
    return mxb_vim_xai_vector(h->c, l, h->variant, out);
}

/* ---- ViM CLS-row forms (UIA): names, the ABI's values, the uia method's rows ---- */
_Static_assert((int)MXB_ROW_OFFICIAL == (int)MXB_VARIANT_OFFICIAL && (int)MXB_ROW_EXACT == (int)MXB_VARIANT_EXACT &&
                   (int)MXB_ROW_UIA == (int)MXB_VARIANT_UIA && (int)MXB_ROW_NO_CONV == (int)MXB_VARIANT_UIA_NO_CONV &&
                   (int)MXB_ROW_NO_GATE == (int)MXB_VARIANT_UIA_NO_GATE &&
                   (int)MXB_ROW_NO_ACT == (int)MXB_VARIANT_UIA_NO_ACT,
               "CLS-row form ABI");
static const mxb_variant variant_by_choice[] = { /* MXB_VARIANT_CHOICES' order */
    MXB_VARIANT_OFFICIAL, MXB_VARIANT_EXACT, MXB_VARIANT_UIA,
    (mxb_variant)(MXB_VARIANT_UIA | MXB_VARIANT_UIA_NO_CONV), (mxb_variant)(MXB_VARIANT_UIA | MXB_VARIANT_UIA_NO_GATE),
    (mxb_variant)(MXB_VARIANT_UIA | MXB_VARIANT_UIA_NO_ACT)};
static const char *const variant_names[] = {"official", "exact", "uia", "uia-noconv", "uia-nogate", "uia-noact"};

mxb_variant mxb_variant_from_choice(int index) {
    return index >= 0 && index < (int)(sizeof variant_by_choice / sizeof *variant_by_choice) ? variant_by_choice[index]
                                                                                          : MXB_VARIANT_OFFICIAL;
}
const char *mxb_variant_name(mxb_variant v) {
    for (size_t i = 0; i < sizeof variant_by_choice / sizeof *variant_by_choice; i++)
        if (variant_by_choice[i] == v) return variant_names[i];
    return "uia-ablations"; /* an OR of several ablation bits (no name of its own) */
}

/* The uia method (methods/uia.c) is UIA's attribution: it always reads UIA rows — the
 * run's form when that is UIA (so `variant = uia-noconv` gives its ablation), plain
 * UIA when the run's rows are official or exact (for raw-attention, rollout and
 * attribution in the same run). */
mxb_variant mxb_explain_rows(const mxb_method *method, mxb_variant v) {
    if (!strcmp(method->name, "uia") && MXB_ROW_FORM((int)v) != MXB_ROW_UIA) return MXB_VARIANT_UIA;
    return v;
}

/* ---- the LRP passes (MXB_NEEDS_LRP_PASSES, methods/method.h) ---- */
/* the engine's rule bits for a method's needs (or an ABI v2 relevance call's rules) */
static unsigned vit_lrp_rules(uint32_t needs) {
    return MXB_LRP_ORIG | (needs & MXB_NEEDS_RELEVANCE_LAST ? MXB_LRP_LAST_BLOCK : 0) |
           (needs & MXB_NEEDS_RELEVANCE_INPUT ? MXB_LRP_TO_INPUT : 0);
}
static unsigned mambalrp_rules(uint32_t needs) {
    return (needs & MXB_NEEDS_LRP_SILU_IDENTITY ? MXB_MAMBALRP_SILU_IDENTITY : 0) |
           (needs & MXB_NEEDS_LRP_NORM_DETACH ? MXB_MAMBALRP_NORM_DETACH : 0) |
           (needs & MXB_NEEDS_LRP_CONV_GAMMA ? MXB_MAMBALRP_CONV_GAMMA : 0);
}
static const float *tr_token_rel(void *t) { return t ? ((trace_handle *)t)->token_rel : NULL; }
static const float *tr_input_rel(void *t) { return t ? ((trace_handle *)t)->input_rel : NULL; }

/* Runs the LRP pass the method asks for, for the relevance seed at the logits, into
 * buffers the caller frees (token_rel [L], input_rel [S, S]); *rel_from: the first
 * block whose attention relevance it computed. The engine refuses only an untraced
 * context or a model of the other family: a caller's bug, asserted. */
static void lrp_passes(mxb_ctx *c, const mxb_config *g, uint32_t needs, const float *seed, const float *image,
                       float **token_rel, float **input_rel, int *rel_from) {
    if ((needs & MXB_NEEDS_RELEVANCE_ORIG) && g->arch == MXB_ARCH_VIT) {
        const int last = !!(needs & MXB_NEEDS_RELEVANCE_LAST), to_input = !!(needs & MXB_NEEDS_RELEVANCE_INPUT);
        const unsigned rules = vit_lrp_rules(needs);
        if (to_input) /* a checked config's size */
            *input_rel = mxb_alloc((size_t)g->img_size * g->img_size * sizeof **input_rel, "the input relevance");
        const int rc = mxb_vit_lrp_rules(c, seed, rules, image, *input_rel);
        MXB_ASSERT(rc == 0);
        *rel_from = last && !to_input ? g->depth - 1 : 0;
        return;
    }
    if (!(needs & MXB_NEEDS_MAMBALRP)) return;
    if (g->arch != MXB_ARCH_VIM) return; /* the registry's archs say where it runs */
    const unsigned rules = mambalrp_rules(needs);
    *token_rel = mxb_alloc((size_t)g->seq_len * sizeof **token_rel, "the token relevance"); /* checked config */
    const int rc = mxb_vim_mambalrp(c, seed, rules, *token_rel);
    MXB_ASSERT(rc == 0);
}

/* Decided: a method (a plugin) that calls exit() while explaining ends mxb; it runs
 * in-process and cannot be stopped from doing so. What mxb guarantees is that this is
 * not mistaken for success: the exit is reported as the method's, on one line, with
 * status 1 (mxb run's finished images are in its journal; the same command resumes). */
/* the plugin ABI's family numbers are the engine's (mxb_explain_input.arch = cfg.arch) */
_Static_assert((int)MXB_METHOD_ARCH_VIT == (int)MXB_ARCH_VIT && (int)MXB_METHOD_ARCH_VIM == (int)MXB_ARCH_VIM, "arch ABI");
/* per thread: with several images in flight (issue 13) methods run on several threads
 * at once, and atexit handlers run on the thread that called exit() */
static _Thread_local const char *volatile in_method;
static atomic_int exit_guard_set;
static void exit_guard(void) {
    if (!in_method || mxb_out_of_memory_exiting()) return; /* the allocator's exit, reported */
    fprintf(stderr, "mxb: method '%s' called exit() while explaining an image; stopped (mxb run resumes from its "
                    "journal)\n", in_method);
    fflush(stderr);
    _exit(1);
}

/* ==== the run (method ABI v2): the model calls a v2 method makes during explain() ==== */

struct mxb_run {
    mxb_ctx *c;                 /* the traced context */
    const mxb_model *m;
    const mxb_config *g;
    mxb_ctx *const *pool;       /* plain contexts for forward_many */
    int npool;
    mxb_gpu *gpu;               /* or the model on a GPU, for forward_many (opts->gpu) */
    char gpu_err[256];          /* a GPU forward's failure, said after the method's own line */
    mxb_ctx *own_plain;         /* made here when the caller lent none */
    float *logits_tmp;          /* [num_classes] when a forward's caller passes NULL */
    float *input_grad;          /* [C, S, S], made on the first MXB_OUT_INPUT */
    int have_input, have_tokens;
    /* ---- the rest of the v2 calls (layer_grad, vim_s6, vit_qkv, relevance) ---- */
    int have_layers, have_grad; /* MXB_OUT_LAYERS asked; a backward since the traced forward */
    const float *image;         /* the traced forward's image (LRP to the pixels reads it) */
    float *image_copy;          /* [C, S, S]: the method's own traced image, copied */
    float *qkv[3];              /* [H, L, hd] vit_qkv's copies */
    float *token_rel, *input_rel; /* [L], [S, S]: relevance()'s outputs, made on first use */
    const float *cur_token_rel, *cur_input_rel; /* the last pass's (the host's own at first) */
    int have_rel, rel_from;     /* attn_relevance below rel_from not computed */
    size_t scratch_limit, scratch_used; /* the declared cost's scratch_bytes; the sum asked so far */
    void **scratch;             /* [cap_scratch] the blocks given, freed when explain() returns */
    size_t nscratch, cap_scratch;
};

static mxb_ctx *run_plain(mxb_run *r, int k) {
    if (r->npool > 0) return r->pool[k];
    if (!r->own_plain) r->own_plain = mxb_ctx_new(r->m, MXB_TRACE_NONE);
    return r->own_plain;
}

static int run_forward(mxb_run *r, const float *image, float *logits, uint32_t flags) {
    if (!r) return -1; /* the ABI's pointers are the plugin's: a NULL fails the call */
    if (!image || (flags & ~(uint32_t)MXB_FWD_TRACE)) return -1;
    if (!logits) logits = r->logits_tmp;
    if (flags & MXB_FWD_TRACE) {
        mxb_forward(r->c, image, logits);
        r->have_input = r->have_tokens = 0; /* a new trace: the last backward's outputs are gone */
        r->have_layers = r->have_grad = r->have_rel = 0;
        r->cur_token_rel = r->cur_input_rel = NULL;
        const size_t n = (size_t)r->g->in_chans * r->g->img_size * r->g->img_size;
        if (!r->image_copy) r->image_copy = mxb_alloc(n * sizeof(float), "the traced image"); /* checked config */
        if (image != r->image_copy) memcpy(r->image_copy, image, n * sizeof(float));
        r->image = r->image_copy; /* the method's buffer may be gone when relevance() runs */
    } else {
        mxb_forward(run_plain(r, 0), image, logits);
    }
    return 0;
}

static int run_forward_many(mxb_run *r, int n, const float *images, float *logits) {
    if (!r) return -1;
    if (n < 0 || (n > 0 && (!images || !logits))) return -1;
    const size_t in = (size_t)r->g->in_chans * r->g->img_size * r->g->img_size, nc = (size_t)r->g->num_classes;
    const int nt = r->npool > 0 ? r->npool : 1;
    if (r->gpu) { /* occlusion's windows, RISE's masks: the GPU's batches, in order */
        const int B = mxb_gpu_max_batch(r->gpu);
        for (int i = 0; i < n; i += B)
            if (mxb_gpu_forward(r->gpu, images + i * in, n - i < B ? n - i : B, logits + i * nc, r->gpu_err,
                                sizeof r->gpu_err))
                return -1;
        return 0;
    }
    if (nt == 1) {
        for (int i = 0; i < n; i++) mxb_forward(run_plain(r, 0), images + i * in, logits + i * nc);
        return 0;
    }
    /* each image on one context, logits by index: the same bits on any thread count */
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int i = 0; i < n; i++) mxb_forward(r->pool[omp_get_thread_num()], images + i * in, logits + i * nc);
    return 0;
}

static int run_backward(mxb_run *r, const float *w, uint32_t outputs) {
    if (!r) return -1;
    if (!w || (outputs & ~(uint32_t)(MXB_OUT_INPUT | MXB_OUT_TOKENS | MXB_OUT_LAYERS))) return -1;
    mxb_backward(r->c, w);
    r->have_tokens = (outputs & MXB_OUT_TOKENS) != 0;
    r->have_layers = (outputs & MXB_OUT_LAYERS) != 0;
    r->have_grad = 1;
    r->have_input = 0;
    if (outputs & MXB_OUT_INPUT) {
        if (!r->input_grad)
            r->input_grad = mxb_alloc((size_t)r->g->in_chans * r->g->img_size * r->g->img_size * sizeof(float),
                                      "the input gradient"); /* a checked config's size */
        if (mxb_input_grad(r->c, r->input_grad)) return -1;
        r->have_input = 1;
    }
    return 0;
}

static const float *run_input_grad(mxb_run *r) { return r && r->have_input ? r->input_grad : NULL; }
static const float *run_tokens(mxb_run *r) { return r ? mxb_tokens(r->c) : NULL; }
static const float *run_token_grad(mxb_run *r) { return r && r->have_tokens ? mxb_token_grad(r->c) : NULL; }

/* ---- per-layer gradients, S6 internals, q/k/v, LRP passes (appended calls) ---- */
static const float *run_layer_grad(mxb_run *r, int layer) {
    if (!r) return NULL;
    if (!r->have_layers || layer < 0 || layer >= r->g->depth) return NULL;
    return r->g->arch == MXB_ARCH_VIT ? mxb_vit_block_grad(r->c, layer) : mxb_vim_residual_grad(r->c, layer);
}

static const float *run_vim_s6(mxb_run *r, int layer, int dir, int what, int *ld) {
    if (!r) return NULL;
    mxb_s6_view v;
    if (r->g->arch != MXB_ARCH_VIM || mxb_vim_s6(r->c, layer, dir, &v)) return NULL;
    const int D = v.D, N = v.N;
    const float *p = NULL;
    int stride = D;
    switch (what) {
    case MXB_S6_X_PRE: p = v.x_pre, stride = v.xz_stride; break;
    case MXB_S6_U: p = v.u; break;
    case MXB_S6_X: p = v.x; break;
    case MXB_S6_DELTA: p = v.delta; break;
    case MXB_S6_B: p = v.B, stride = v.bc_stride; break;
    case MXB_S6_C: p = v.C, stride = v.bc_stride; break;
    case MXB_S6_A: p = v.A, stride = N; break;
    case MXB_S6_Z: p = v.z, stride = v.xz_stride; break;
    case MXB_S6_CONV_W: p = v.conv_w, stride = v.K; break;
    case MXB_S6_CONV_B: p = v.conv_b; break;
    case MXB_S6_D: p = v.D_skip; break;
    case MXB_S6_Y: p = v.y; break;
    case MXB_S6_DY: p = r->have_grad ? v.dy : NULL; break;
    default: return NULL;
    }
    if (p && ld) *ld = stride;
    return p;
}

static const float *run_vit_qkv(mxb_run *r, int block, int which) {
    if (!r) return NULL;
    const float *qkv = r->g->arch == MXB_ARCH_VIT ? mxb_vit_qkv(r->c, block) : NULL;
    if (!qkv || which < 0 || which > 2) return NULL;
    const int L = r->g->seq_len, E = r->g->embed_dim, H = r->g->num_heads, hd = E / H;
    if (!r->qkv[which]) r->qkv[which] = mxb_alloc((size_t)L * E * sizeof(float), "q, k or v"); /* checked config */
    float *out = r->qkv[which];
    for (int h = 0; h < H; h++) /* [L, 3E] (heads contiguous) -> [H, L, hd] */
        for (int t = 0; t < L; t++)
            memcpy(out + ((size_t)h * L + t) * hd, qkv + (size_t)t * 3 * E + (size_t)which * E + (size_t)h * hd,
                   (size_t)hd * sizeof(float));
    return out;
}

static int run_relevance(mxb_run *r, const float *w, uint32_t rules) {
    if (!r) return -1;
    const mxb_config *g = r->g;
    const uint32_t vim_bits = MXB_NEEDS_MAMBALRP | MXB_NEEDS_LRP_SILU_IDENTITY | MXB_NEEDS_LRP_NORM_DETACH |
                              MXB_NEEDS_LRP_CONV_GAMMA;
    const uint32_t vit_bits = MXB_NEEDS_RELEVANCE_ORIG | MXB_NEEDS_RELEVANCE_LAST | MXB_NEEDS_RELEVANCE_INPUT;
    if (!w || !r->image) return -1;
    if (g->arch == MXB_ARCH_VIM ? (rules & ~vim_bits) || !(rules & MXB_NEEDS_MAMBALRP)
                                : (rules & ~vit_bits) || (rules && !(rules & MXB_NEEDS_RELEVANCE_ORIG)))
        return -1; /* LAST and INPUT are the orig rule set's */
    /* a pass replaces the backward's workspace outputs (MambaLRP reuses its buffers) */
    r->have_input = r->have_tokens = r->have_layers = 0;
    r->have_rel = 0;
    r->cur_token_rel = r->cur_input_rel = NULL;
    if (g->arch == MXB_ARCH_VIM) {
        if (!r->token_rel) r->token_rel = mxb_alloc((size_t)g->seq_len * sizeof(float), "the token relevance");
        if (mxb_vim_mambalrp(r->c, w, mambalrp_rules(rules), r->token_rel)) return -1;
        r->cur_token_rel = r->token_rel;
        r->have_rel = 1;
        return 0;
    }
    if (!(rules & MXB_NEEDS_RELEVANCE_ORIG)) {
        if (mxb_relevance(r->c, w)) return -1;
        r->have_rel = 1, r->rel_from = 0;
        return 0;
    }
    const int last = !!(rules & MXB_NEEDS_RELEVANCE_LAST), to_input = !!(rules & MXB_NEEDS_RELEVANCE_INPUT);
    if (to_input && !r->input_rel) /* a checked config's size */
        r->input_rel = mxb_alloc((size_t)g->img_size * g->img_size * sizeof(float), "the input relevance");
    if (mxb_vit_lrp_rules(r->c, w, vit_lrp_rules(rules), r->image, to_input ? r->input_rel : NULL)) return -1;
    r->cur_input_rel = to_input ? r->input_rel : NULL;
    r->have_rel = 1, r->rel_from = last && !to_input ? g->depth - 1 : 0;
    return 0;
}

static const float *run_token_relevance(mxb_run *r) { return r ? r->cur_token_rel : NULL; }
static const float *run_pixel_relevance(mxb_run *r) { return r ? r->cur_input_rel : NULL; }
static const float *run_attn_relevance(mxb_run *r, int block) {
    if (!r) return NULL;
    if (!r->have_rel || r->g->arch != MXB_ARCH_VIT || block < r->rel_from) return NULL;
    return mxb_vit_attn_relevance(r->c, block);
}

/* The contract of method.h: any number of blocks whose sizes sum to at most the declared
 * scratch_bytes; NULL past it, for 0 bytes, or when the machine has no memory. Sizes come
 * from the plugin: every sum is checked, none may wrap (bytes + 64 of SIZE_MAX - 8 was a
 * 55-byte block). */
static void *run_scratch(mxb_run *r, size_t bytes) {
    if (!r || !bytes || bytes > r->scratch_limit - r->scratch_used || bytes > SIZE_MAX - 64) return NULL;
    if (r->nscratch == r->cap_scratch) {
        size_t cap = r->cap_scratch ? 2 * r->cap_scratch : 16;
        void **list = mxb_try_realloc(r->scratch, cap * sizeof *list); /* at most one entry per byte declared */
        if (!list) return NULL;
        r->scratch = list, r->cap_scratch = cap;
    }
    void *raw = mxb_try_alloc(bytes + 64);
    if (!raw) return NULL;
    r->scratch[r->nscratch++] = raw;
    r->scratch_used += bytes;
    return (void *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
}

static const mxb_model_api run_api = {
    .struct_size = sizeof(mxb_model_api), .forward = run_forward, .forward_many = run_forward_many,
    .backward = run_backward, .input_grad = run_input_grad, .tokens = run_tokens,
    .token_grad = run_token_grad, .scratch = run_scratch,
    .layer_grad = run_layer_grad, .vim_s6 = run_vim_s6, .vit_qkv = run_vit_qkv, .relevance = run_relevance,
    .token_relevance = run_token_relevance, .pixel_relevance = run_pixel_relevance,
    .attn_relevance = run_attn_relevance,
};

size_t mxb_explain_run_bytes(const mxb_config *g) {
    const size_t img = (size_t)g->in_chans * g->img_size * g->img_size, L = (size_t)g->seq_len;
    size_t f = 2 * img + (size_t)g->num_classes; /* input_grad, image_copy, logits_tmp */
    if (g->arch == MXB_ARCH_VIT)
        f += 3 * L * g->embed_dim + (size_t)g->img_size * g->img_size; /* qkv[3], input_rel */
    else
        f += L; /* token_rel */
    return f * sizeof(float);
}

static void run_release(mxb_run *r) {
    for (size_t i = 0; i < r->nscratch; i++) free(r->scratch[i]);
    free(r->scratch);
    free(r->input_grad);
    free(r->logits_tmp);
    free(r->image_copy);
    for (int i = 0; i < 3; i++) free(r->qkv[i]);
    free(r->token_rel);
    free(r->input_rel);
    mxb_ctx_free(r->own_plain);
}

/* the patch mean of a pixel map: the grid map that is stored and evaluated (§3.6) */
static void patch_mean(const float *px, int S, int P, float *map) {
    const int G = S / P;
    for (int gy = 0; gy < G; gy++)
        for (int gx = 0; gx < G; gx++) {
            double s = 0;
            for (int y = 0; y < P; y++)
                for (int x = 0; x < P; x++) s += px[(size_t)(gy * P + y) * S + gx * P + x];
            map[gy * G + gx] = (float)(s / ((double)P * P));
        }
}

/* the geometry part of an input (what cost() sees) */
static void fill_geometry(const mxb_config *g, mxb_explain_input *in) {
    in->struct_size = sizeof *in;
    in->arch = g->arch, in->depth = g->depth, in->seq_len = g->seq_len, in->cls_pos = g->cls_pos;
    in->grid = g->grid, in->embed_dim = g->embed_dim, in->num_heads = g->num_heads, in->d_inner = g->d_inner;
    in->num_classes = g->num_classes, in->in_chans = g->in_chans, in->img_size = g->img_size;
    in->patch_size = g->patch_size, in->d_state = g->d_state, in->d_conv = g->d_conv;
    in->dt_rank = g->dt_rank, in->mlp_hidden = g->mlp_hidden;
}

int mxb_explain_cost(const mxb_config *g, const mxb_method *method, const double *params, mxb_cost *out) {
    mxb_explain_input in = {0};
    fill_geometry(g, &in);
    double defaults[MXB_MAX_PARAMS];
    if (!params) {
        if (mxb_method_params_parse(method, NULL, 0, defaults, NULL, 0)) return -1;
        params = defaults;
    }
    return mxb_method_cost(method, &in, params, out);
}

void mxb_explain_cost_why(const mxb_config *g, const mxb_method *method, const double *params, int rc, char *why,
                          size_t n) {
    mxb_cost c = {0};
    double defaults[MXB_MAX_PARAMS], one[MXB_MAX_PARAMS];
    if (rc == -2 || mxb_method_params_parse(method, NULL, 0, defaults, NULL, 0)) {
        mxb_explain_cost(g, method, params, &c);
        snprintf(why, n, "its cost() returned %g traced forwards, %g backwards, %g plain forwards, %g LRP passes "
                 "(want finite counts >= 0)", c.traced_forwards, c.backwards, c.plain_forwards, c.lrp_passes);
        return;
    }
    char list[600] = "";
    if (params) mxb_method_params_format(method, params, list, sizeof list);
    /* the parameter that alone (the others at their defaults) makes cost() refuse */
    for (int i = 0; params && i < method->nparams; i++) {
        memcpy(one, defaults, sizeof one);
        one[i] = params[i];
        if (mxb_explain_cost(g, method, one, &c)) {
            char item[200];
            const mxb_method single = {.abi_version = 2, .name = method->name, .params = &method->params[i], .nparams = 1};
            mxb_method_params_format(&single, &params[i], item, sizeof item);
            snprintf(why, n, "its parameters do not fit this model: %s", item);
            return;
        }
    }
    snprintf(why, n, "its parameters do not fit this model together%s%s", list[0] ? ": " : "", list);
}

int mxb_explain_one(mxb_ctx *c, const mxb_model *m, const mxb_method *method, const float *image,
                    const mxb_explain_opts *opts, float *logits, int *explained, float *map,
                    char *err, size_t errlen) {
    const mxb_config *g = mxb_model_config(m);
    if (!(method->archs & (1u << g->arch))) {
        mxb_seterr(err, errlen, "method '%s' does not support %s models", method->name,
                 mxb_arch_name(g->arch));
        return -1;
    }
    if (opts->class_index >= g->num_classes) {
        mxb_seterr(err, errlen, "class %d is outside 0..%d", opts->class_index, g->num_classes - 1);
        return -1;
    }
    /* from here on one exit (done:) frees what the image took */
    int rc = -1;
    float *token_rel = NULL, *input_rel = NULL, *px = NULL;
    mxb_run run = {.c = c, .m = m, .g = g, .pool = opts->pool, .npool = opts->pool ? opts->npool : 0, .gpu = opts->gpu};
    mxb_forward(c, image, logits);
    int cls = opts->class_index;
    if (cls < 0) cls = mxb_argmax(logits, g->num_classes); /* the prediction */
    *explained = cls;
    int rel_from = 0;
    if (method->needs & (MXB_NEEDS_LRP_PASSES | MXB_NEEDS_GRADIENT | MXB_NEEDS_RELEVANCE)) {
        float *seed = mxb_alloc0((size_t)g->num_classes, sizeof *seed, "the seed"); /* a checked config's size */
        seed[cls] = 1;
        if (method->needs & MXB_NEEDS_LRP_PASSES)
            lrp_passes(c, g, method->needs, seed, image, &token_rel, &input_rel, &rel_from);
        if (method->needs & MXB_NEEDS_GRADIENT) mxb_backward(c, seed);
        if ((method->needs & MXB_NEEDS_RELEVANCE) && g->arch == MXB_ARCH_VIT &&
            !(method->needs & MXB_NEEDS_RELEVANCE_ORIG)) { /* the orig rule set's pass ran above */
            const int lrp = mxb_relevance(c, seed); /* refuses only an untraced context: a caller's bug */
            MXB_ASSERT(lrp == 0);
        }
        free(seed);
    }
    const mxb_variant variant = mxb_explain_rows(method, opts->variant);
    trace_handle h = {c, variant, token_rel, input_rel, rel_from};
    mxb_explain_input in = {
        .struct_size = sizeof in, .arch = g->arch, .depth = g->depth, .seq_len = g->seq_len,
        .cls_pos = g->cls_pos, .grid = g->grid, .embed_dim = g->embed_dim,
        .num_heads = g->num_heads, .d_inner = g->d_inner, .num_classes = g->num_classes,
        .in_chans = g->in_chans, .img_size = g->img_size, .explained_class = cls,
        .variant = (int)variant, .start_layer = opts->start_layer, .input = image,
        .logits = logits, .trace = &h, .attn = tr_attn, .attn_grad = tr_attn_grad,
        .attn_relevance = tr_attn_rel, .residual = tr_residual,
        .residual_grad = tr_residual_grad, .xai_vector = tr_xai,
        .token_relevance = tr_token_rel, .pixel_relevance = tr_input_rel,
    };
    /* v2: the run, the params (defaults filled in), the seed */
    fill_geometry(g, &in);
    double params[MXB_MAX_PARAMS];
    if (!opts->params && mxb_method_params_parse(method, NULL, 0, params, err, errlen)) goto done;
    in.param_values = opts->params ? opts->params : params;
    in.seed = opts->seed;
    in.image_index = opts->image_index;
    /* the host's own passes are the run's until the method's first traced forward */
    run.image = image;
    run.have_grad = !!(method->needs & MXB_NEEDS_GRADIENT);
    run.cur_token_rel = token_rel, run.cur_input_rel = input_rel;
    run.have_rel = g->arch == MXB_ARCH_VIT && (method->needs & (MXB_NEEDS_RELEVANCE | MXB_NEEDS_RELEVANCE_ORIG));
    run.rel_from = rel_from;
    const int v2 = method->abi_version >= 2;
    const int pixels = v2 && method->map_kind == MXB_MAP_PIXELS;
    const size_t npx = (size_t)g->img_size * g->img_size;
    if (v2 && (method->needs & MXB_NEEDS_MODEL)) {
        mxb_cost cost;
        const int crc = mxb_method_cost(method, &in, in.param_values, &cost);
        if (crc) {
            char why[800];
            mxb_explain_cost_why(g, method, in.param_values, crc, why, sizeof why);
            mxb_seterr(err, errlen, "method '%s': %s", method->name, why);
            goto done;
        }
        run.scratch_limit = cost.scratch_bytes;
        run.logits_tmp = mxb_alloc((size_t)g->num_classes * sizeof(float), "the run's logits");
        in.model = &run_api;
        in.run = &run;
    }
    if (pixels) px = mxb_alloc0(npx, sizeof *px, "the pixel map"); /* a checked config's size */
    char msg[400] = "";
    in_method = method->name;
    if (!atomic_load(&exit_guard_set) && !atomic_exchange(&exit_guard_set, 1)) atexit(exit_guard);
    const int failed = method->explain(&in, pixels ? px : map, msg, sizeof msg);
    in_method = NULL;
    if (failed) {
        /* a plugin's message may hold line breaks or other control bytes: one line */
        msg[sizeof msg - 1] = 0;
        for (char *p = msg; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
        /* the method's message says only that the forwards failed; the GPU's says why */
        mxb_seterr(err, errlen, "method '%s': %s%s%s", method->name, msg[0] ? msg : "failed",
                   run.gpu_err[0] ? ": " : "", run.gpu_err);
        goto done;
    }
    if (pixels) {
        int bad = 0;
        for (size_t i = 0; i < npx; i++) bad += !isfinite(px[i]);
        if (bad) {
            mxb_seterr(err, errlen, "method '%s' returned a pixel map with %d of %zu values NaN or infinite",
                     method->name, bad, npx);
            goto done;
        }
        patch_mean(px, g->img_size, g->patch_size, map);
        if (opts->pixel_map) memcpy(opts->pixel_map, px, npx * sizeof *px);
    }
    /* Decided: a map with a NaN or infinite value is the method's error, not a result.
     * Scoring it would order pixels by NaN (an arbitrary order) and report normal-looking
     * numbers; so the image fails with this message (mxb run stops; the journal keeps
     * the finished images). */
    int bad = 0;
    for (int i = 0; i < g->num_patches; i++) bad += !isfinite(map[i]);
    if (bad) {
        mxb_seterr(err, errlen, "method '%s' returned a map with %d of %d values NaN or infinite", method->name, bad,
                 g->num_patches);
        goto done;
    }
    rc = 0;
done:
    run_release(&run);
    free(px);
    free(token_rel);
    free(input_rel);
    return rc;
}
