/*
 * methods — explanation methods behind a small, stable C ABI.
 *
 * A method sees a model only through mxb_explain_input: the geometry, the explained
 * class, and accessors into the trace of one forward (and, if it asked for them,
 * backward and LRP) pass. It writes a relevance map on the patch grid
 * [grid * grid] with the class token removed. Class choice, upsampling and
 * normalisation belong to the harness, once, for every method.
 *
 * This header is self-contained: plugins are built against it alone. A plugin is a
 * shared object that exports
 *
 *     const mxb_method *const *mxb_plugin_methods(int *count);
 *
 * returning `count` methods, each with abi_version == MXB_METHOD_ABI_VERSION.
 * Load one with `mxb explain --plugin path/to/libfoo.so --method NAME ...`.
 */
#ifndef MXB_METHOD_H
#define MXB_METHOD_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#define MXB_METHOD_ABI_VERSION 2
#define MXB_METHOD_ABI_OLDEST 1 /* the oldest ABI this header's host still loads (docs/METHODS-v2.md §1.7) */

/* mxb_explain_input.arch: the model family (part of the ABI: the values never change;
 * the host ties them to its engine's own at compile time) */
enum { MXB_METHOD_ARCH_VIT = 1, MXB_METHOD_ARCH_VIM = 2 };
/* mxb_method.archs: the families a method supports, 1 << arch */
enum { MXB_METHOD_VIT = 1u << MXB_METHOD_ARCH_VIT, MXB_METHOD_VIM = 1u << MXB_METHOD_ARCH_VIM };

enum {
    MXB_NEEDS_GRADIENT = 1u << 0,  /* a backward pass of the explained class's logit */
    MXB_NEEDS_RELEVANCE = 1u << 1, /* ViT LRP relevance of the attention (Chefer et al.) */
    MXB_NEEDS_MODEL = 1u << 2,     /* v2: uses in->model (runs the model itself) */
};

/* ==== ABI v2 (appended; the v1 layout above and in the v1 parts below is frozen) ==== */

/* mxb_method.map_kind: what explain() writes into map */
typedef enum {
    MXB_MAP_PATCHES = 0, /* [grid*grid] raster order, class token removed (v1's only kind) */
    MXB_MAP_PIXELS = 1,  /* [img_size*img_size], one value per pixel (channels already reduced) */
} mxb_map_kind;

/* A method's parameter. The host passes values in spec order as doubles (CHOICE: the
 * index into choices; INT: an integer value); a value outside [min, max], an unknown
 * key or an unknown choice is refused by the host before any image is read. */
typedef enum { MXB_PARAM_INT = 1, MXB_PARAM_REAL = 2, MXB_PARAM_CHOICE = 3 } mxb_param_type;
typedef struct {
    const char *name;     /* [a-z0-9_]{1,31}: "steps", "rule" */
    mxb_param_type type;
    double def, min, max; /* CHOICE: def is the default index (min, max unused) */
    const char *choices;  /* CHOICE: "gausslegendre|riemann_left|..." */
    const char *help;     /* one line, for `mxb methods` */
} mxb_param_spec;
#define MXB_MAX_PARAMS 16

/* What one image costs, at the run's geometry and parameters. */
typedef struct {
    double traced_forwards; /* forward with MXB_FWD_TRACE, the host's own first one included */
    double backwards;       /* backward passes */
    double plain_forwards;  /* untraced, through forward_many */
    size_t scratch_bytes;   /* peak of in->model->scratch() requests */
    /* appended: LRP passes (a modified backward each: MambaLRP, Chefer's relprop); the
     * host's default counts the needs' pass; a cost() that runs relevance() sets it */
    double lrp_passes;
} mxb_cost;

/* The run: one engine context (and a pool of plain ones) the host lends to one
 * explain() call; valid during that call only. */
typedef struct mxb_run mxb_run;

enum { MXB_FWD_TRACE = 1u << 0 }; /* forward flags: keep what backward needs */
enum {                            /* what a backward leaves readable */
    MXB_OUT_INPUT = 1u << 0,      /* at the image [in_chans, img_size, img_size] */
    MXB_OUT_TOKENS = 1u << 1,     /* at the embedded tokens [L, E] (after pos_embed, CLS included) */
    MXB_OUT_LAYERS = 1u << 2,     /* per layer: ViT block input, ViM residual_grad [L, E] */
};

typedef struct mxb_model_api {
    uint32_t struct_size; /* sizeof(mxb_model_api) of the host */
    /* one forward of image [C, S, S] (normalised); logits [num_classes] may be NULL.
     * With MXB_FWD_TRACE it replaces the trace the v1 accessors read. 0 or -1. */
    int (*forward)(mxb_run *r, const float *image, float *logits, uint32_t fwd_flags);
    /* n untraced forwards, spread over the host's plain contexts: images [n, C, S, S],
     * logits [n, num_classes] by index (the same bits on any thread count) */
    int (*forward_many)(mxb_run *r, int n, const float *images, float *logits);
    /* gradient of sum_k w[k] logit_k after a traced forward; outputs MXB_OUT_* */
    int (*backward)(mxb_run *r, const float *logit_weights, uint32_t outputs);
    /* what the last backward left (NULL when not asked for or not computed) */
    const float *(*input_grad)(mxb_run *r);            /* [C, S, S] */
    const float *(*tokens)(mxb_run *r);                /* [L, E] of the last traced forward */
    const float *(*token_grad)(mxb_run *r);            /* [L, E] */
    const float *(*layer_grad)(mxb_run *r, int layer); /* [L, E] */
    /* host memory, 64-byte aligned, freed when explain() returns. Any number of blocks
     * whose sizes sum to at most the declared cost's scratch_bytes (in total over the
     * call: the estimate must not lie); NULL past that sum, for 0 bytes, or when the
     * machine is out of memory (the method then fails with a line). A run whose declared
     * scratch (summed with checked arithmetic) is over the memory limit is refused before
     * any image. */
    void *(*scratch)(mxb_run *r, size_t bytes);
    /* ==== appended (issue 16 step 1's rest): present when struct_size reaches them ====
     * (layer_grad above: after backward with MXB_OUT_LAYERS, per layer [L, E]: ViT the
     * gradient at block `layer`'s input, ViM residual_grad's Block.get_gradients) */
    /* ViM: one S6 quantity (MXB_S6_* below) of a layer and direction of the last traced
     * forward, read in place; *ld (when not NULL) gets its row stride in floats. dir 0
     * is the forward branch, 1 the backward branch in its own (flipped) token order.
     * NULL for ViT, an untraced run, a layer, dir or what out of range, and MXB_S6_DY
     * when no backward ran since the last traced forward. */
    const float *(*vim_s6)(mxb_run *r, int layer, int dir, int what, int *ld);
    /* ViT: q, k or v (MXB_QKV_*) of a block of the last traced forward, [heads, L,
     * head_dim] (a copy the run owns: valid until the next call with the same which,
     * the next traced forward or the end of explain()); NULL for ViM or out of range */
    const float *(*vit_qkv)(mxb_run *r, int block, int which);
    /* An LRP pass after a traced forward, from relevance logit_weights [num_classes] at
     * the logits (a one-hot for a class); rules are MXB_NEEDS_LRP_PASSES bits:
     *   ViM: MXB_NEEDS_MAMBALRP | any of _LRP_SILU_IDENTITY, _LRP_NORM_DETACH,
     *        _LRP_CONV_GAMMA (the MambaLRP rule set, §3.4) -> token_relevance
     *   ViT: 0: layers_ours.py's rules (Transformer-Attribution's) -> attn_relevance of
     *        every block; MXB_NEEDS_RELEVANCE_ORIG (layers_lrp.py: Chefer's full and
     *        partial LRP) | _RELEVANCE_LAST (stop at the last block: attn_relevance of
     *        the other blocks NULL) | _RELEVANCE_INPUT (on to the pixels) -> pixel_relevance
     * 0, or -1 (a rule of the other family, unknown bits, an untraced run). It replaces
     * the last backward's token_grad, input_grad and layer_grad outputs (NULL after);
     * ViT's attention gradients (in->attn_grad) are kept. */
    int (*relevance)(mxb_run *r, const float *logit_weights, uint32_t rules);
    /* what the last relevance() left (NULL when that pass does not make it or none ran
     * since the last traced forward) */
    const float *(*token_relevance)(mxb_run *r);          /* ViM [L]: Σ_e tokens ⊙ modified gradient, CLS incl. */
    const float *(*pixel_relevance)(mxb_run *r);          /* ViT, _RELEVANCE_INPUT: [S, S], channels summed */
    const float *(*attn_relevance)(mxb_run *r, int block); /* ViT [heads, L, L] */
} mxb_model_api;

/* vim_s6's what, and each one's layout (token-major, the direction's own token order;
 * D = d_inner, N = d_state, K = d_conv, R = dt_rank; ld is the row stride it returns) */
enum {
    MXB_S6_X_PRE = 0,  /* [L, D], ld 2D: in_proj's x half, the conv's input (pre-conv x) */
    MXB_S6_U = 1,      /* [L, D], ld D: the conv output before SiLU, conv bias included */
    MXB_S6_X = 2,      /* [L, D], ld D: SiLU(u), the scan's input */
    MXB_S6_DELTA = 3,  /* [L, D], ld D: softplus(dt_proj(.) + dt bias) */
    MXB_S6_B = 4,      /* [L, N], ld R + 2N: x_proj's B columns */
    MXB_S6_C = 5,      /* [L, N], ld R + 2N: x_proj's C columns */
    MXB_S6_A = 6,      /* [D, N], ld N: -exp(A_log) (A_b_log for dir 1) */
    MXB_S6_Z = 7,      /* [L, D], ld 2D: in_proj's z half, the gate's input */
    MXB_S6_CONV_W = 8, /* [D, K], ld K: the depthwise conv (PyTorch [D, 1, K]) */
    MXB_S6_CONV_B = 9, /* [D], ld D */
    MXB_S6_D = 10,     /* [D], ld D: the skip D (D_b for dir 1) */
    MXB_S6_Y = 11,     /* [L, D], ld D: the scan output before the D skip and the gate */
    MXB_S6_DY = 12,    /* [L, D], ld D: the last backward's gradient at y */
};
#define MXB_S6_COUNT 13
/* vit_qkv's which */
enum { MXB_QKV_Q = 0, MXB_QKV_K = 1, MXB_QKV_V = 2 };

/* ---- the shared generator (static inline: plugins draw the same stream) ---------------
 * splitmix64 (as mxb_model_randomize); u01 = (x >> 11) * 2^-53; integers floor(u01 * n);
 * normals by Box-Muller in double, r = sqrt(-2 ln(1 - u1)), z0 = r cos 2 pi u2,
 * z1 = r sin 2 pi u2, in that order. The goldens' scripts carry a port of exactly this. */
typedef struct {
    uint64_t state;
    double spare; /* z1 of the last pair */
    int has_spare;
} mxb_rng;
static inline mxb_rng mxb_rng_new(uint64_t seed) { mxb_rng r = {seed, 0, 0}; return r; }
static inline uint64_t mxb_rng_next(mxb_rng *r) {
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline double mxb_rng_u01(mxb_rng *r) { return (double)(mxb_rng_next(r) >> 11) * 0x1.0p-53; }
static inline int mxb_rng_int(mxb_rng *r, int n) { return (int)(mxb_rng_u01(r) * n); }
static inline double mxb_rng_normal(mxb_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    const double u1 = mxb_rng_u01(r), u2 = mxb_rng_u01(r);
    const double rad = sqrt(-2.0 * log(1.0 - u1)), t = 6.283185307179586476925286766559 * u2;
    r->spare = rad * sin(t);
    r->has_spare = 1;
    return rad * cos(t);
}
/* ---- mxb_explain_input.variant: the form of the ViM CLS row xai_vector returns ----
 * (part of the ABI: the values never change; the host ties them to its engine's own) */
enum {
    MXB_ROW_OFFICIAL = 0,          /* compute_middle_attn_vector (HiddenMambaAttn) */
    MXB_ROW_EXACT = 1,             /* the α row incl. Ā[cls] and the diagonal */
    MXB_ROW_UIA = 2,               /* Zimerman et al.: SiLU(z_cls)·(α ⊙ σ(u)) ∘ M_convᵀ */
    MXB_ROW_NO_CONV = 1u << 8,     /* UIA ablations, OR-ed into MXB_ROW_UIA */
    MXB_ROW_NO_GATE = 1u << 9,
    MXB_ROW_NO_ACT = 1u << 10,
};
#define MXB_ROW_FORM(v) ((v) & 0xff)   /* OFFICIAL, EXACT or UIA without the ablation bits */

/* LRP passes beyond v1's (issue 16, steps 5-6). High bits, so that they never collide
 * with the next ABI's low ones. A method asks for one pass; the harness runs it after
 * the traced forward and the method reads the result through the accessors at the
 * end of mxb_explain_input (NULL from a host without them: check struct_size).
 *   MAMBALRP (ViM): MambaLRP's modified backward for the explained class, the rule
 *   bits below picking the rule set (docs/METHODS-v2.md §3.4); read token_relevance.
 *   RELEVANCE_ORIG (ViT): Chefer's layers_lrp rule set (§3.1); with LAST, attn_relevance
 *   is NULL below the last block. */
enum {
    MXB_NEEDS_MAMBALRP = 1u << 16,
    MXB_NEEDS_LRP_SILU_IDENTITY = 1u << 17, /* with MAMBALRP: 'act' */
    MXB_NEEDS_LRP_NORM_DETACH = 1u << 18,   /* with MAMBALRP: 'norm' */
    MXB_NEEDS_LRP_CONV_GAMMA = 1u << 19,    /* with MAMBALRP: 'conv1d' (gamma 0.25) */
    /* ViT: LRP by layers_lrp.py's rules (Chefer's ViT_orig_LRP: full and partial LRP)
     * instead of layers_ours.py's; read through attn_relevance */
    MXB_NEEDS_RELEVANCE_ORIG = 1u << 20,
    MXB_NEEDS_RELEVANCE_LAST = 1u << 21,    /* with ORIG: the last block only (partial LRP) */
    MXB_NEEDS_RELEVANCE_INPUT = 1u << 22,   /* with ORIG: on to the pixels; read pixel_relevance */
};
#define MXB_NEEDS_LRP_PASSES (MXB_NEEDS_MAMBALRP | MXB_NEEDS_LRP_SILU_IDENTITY | \
                              MXB_NEEDS_LRP_NORM_DETACH | MXB_NEEDS_LRP_CONV_GAMMA | \
                              MXB_NEEDS_RELEVANCE_ORIG | MXB_NEEDS_RELEVANCE_LAST | \
                              MXB_NEEDS_RELEVANCE_INPUT)

typedef struct mxb_explain_input {
    uint32_t struct_size;          /* sizeof(mxb_explain_input) of the host */
    int arch;                      /* MXB_METHOD_ARCH_VIT (ViT/DeiT) or _VIM */
    int depth, seq_len, cls_pos, grid, embed_dim, num_heads, d_inner, num_classes;
    int in_chans, img_size;
    int explained_class;
    int variant;                   /* ViM hidden attention: MXB_ROW_* above */
    int start_layer;               /* -1: the method's default */
    const float *input;            /* normalised image [in_chans, img_size, img_size] */
    const float *logits;           /* [num_classes] */

    void *trace;                   /* opaque, passed back to the accessors below */
    /* ViT: per block [num_heads, L, L]; NULL when not traced or not asked for */
    const float *(*attn)(void *trace, int block);
    const float *(*attn_grad)(void *trace, int block);
    const float *(*attn_relevance)(void *trace, int block);
    /* ViM: per layer [L, embed_dim]: the residual stream and Block.get_gradients */
    const float *(*residual)(void *trace, int layer);
    const float *(*residual_grad)(void *trace, int layer);
    /* ViM: the hidden-attention CLS row of a layer in this run's variant, into
     * out [d_inner, L]; 0 on success */
    int (*xai_vector)(void *trace, int layer, float *out);
    /* ---- v2 (a v1 method never reads past xai_vector) ---- */
    int patch_size, d_state, d_conv, dt_rank, mlp_hidden;
    const struct mxb_model_api *model; /* the run's calls; NULL unless needs has MXB_NEEDS_MODEL */
    mxb_run *run;
    const double *param_values;        /* the method's params in spec order, defaults filled in */
    /* the image's seed, for stochastic methods (draw with mxb_rng_* below, nothing
     * else): derived from the run's seed ([run] seed, mxb explain --seed) and the
     * image's id (its path relative to the data folder as the results store it, or the
     * .mat index; mxb explain: the --image file name or --id) by one splitmix64 step:
     *   h = FNV-1a-64(id bytes) (basis 0xcbf29ce484222325, prime 0x100000001b3),
     *   state = run_seed ^ h, seed = mxb_rng_next of state (the first output).
     * So a map is the same whatever the thread count, images in flight, shard or order,
     * and differs from image to image. */
    uint64_t seed;
    int image_index;                   /* for messages only: a map must not vary with it */
    /* ---- v2, the LRP passes (MXB_NEEDS_LRP_PASSES); NULL when not asked for ---- */
    /* ViM, MXB_NEEDS_MAMBALRP: [seq_len] gradient x input at the embedded tokens
     * summed over channels, class token included */
    const float *(*token_relevance)(void *trace);
    /* ViT, MXB_NEEDS_RELEVANCE_INPUT: [img_size, img_size] the pixel relevance
     * summed over channels (Chefer's full LRP, before any normalisation) */
    const float *(*pixel_relevance)(void *trace);
} mxb_explain_input;

typedef struct mxb_method {
    uint32_t abi_version;          /* MXB_METHOD_ABI_VERSION */
    const char *name;              /* as given to --method */
    const char *description;
    uint32_t archs;                /* MXB_METHOD_VIT | MXB_METHOD_VIM */
    uint32_t needs;                /* MXB_NEEDS_* */
    int class_specific;            /* depends on explained_class */
    /* map: [grid * grid], patch grid in raster order, class token removed.
     * Returns 0, or -1 with a one-line message in err. */
    int (*explain)(const mxb_explain_input *in, float *map, char *err, size_t errlen);
    /* ---- v2 (the host copies a v1 table entry into a v2 one with these zero) ---- */
    const char *family;    /* "attention", "gradient", "perturbation", ...; NULL: "-" */
    mxb_map_kind map_kind;
    const mxb_param_spec *params;
    int nparams;           /* 0..MXB_MAX_PARAMS */
    /* the cost of one image at this geometry (the v2 fields of geometry are set; model,
     * run and trace are not) and these params; NULL: one traced forward, plus one
     * backward when needs asks for a gradient */
    int (*cost)(const mxb_explain_input *geometry, const double *params, mxb_cost *out);
} mxb_method;

typedef const mxb_method *const *(*mxb_plugin_methods_fn)(int *count);

/* ---- the registry (host side) -------------------------------------------------- */

/* Decided (issue 23, class 12): a method's name follows the one rule of io/io.h
 * (mxb_name_ok: 1..40 of [A-Za-z0-9_.+-], not "." or ".."), built-in, plugin or
 * configuration alike, so every method that loads can be named in a configuration. Every
 * pointer a method passes to the host (the run, the trace, an output buffer) is checked:
 * NULL fails that call (-1 or NULL), and the method fails with its own line. */
/* A plugin method's file (its real path) and the SHA-256 of its bytes when it was
 * loaded: 1; a built-in: 0 (both NULL). For the run key and the provenance. */
int mxb_method_origin(const mxb_method *m, const char **path, const char **sha256);
/* Built-in methods first, then the plugins loaded so far. */
int mxb_methods_count(void);
const mxb_method *mxb_methods_get(int i);
const mxb_method *mxb_methods_find(const char *name);
/* dlopen()s a plugin and registers its methods; a wrong ABI version, a missing
 * entry point or a name clash is a one-line error. */
int mxb_methods_load_plugin(const char *path, char *err, size_t errlen);
/* What mxb_methods_load_plugin checks of a plugin's table before registering it
 * (path is for messages): the count, then each method's ABI version, name, explain(),
 * architectures and needs (no unknown bits), and that no name is taken. */
int mxb_methods_check(const char *path, const mxb_method *const *ms, int n, char *err,
                      size_t errlen);
/* Parameters (v2): fills values [nparams] with the defaults, then applies "key=value"
 * strings; an unknown key, a malformed number, a value outside [min, max] or an unknown
 * choice is a one-line error naming the method and the key. */
int mxb_method_params_parse(const mxb_method *m, const char *const *kv, int n, double *values, char *err,
                            size_t errlen);
/* "steps=16 rule=gausslegendre": every param, defaults filled, choices by name */
void mxb_method_params_format(const mxb_method *m, const double *values, char *buf, size_t len);
/* The cost of one image: the method's cost(), or one traced forward plus a backward
 * when needs asks for a gradient. 0 or -1 (bad params for this geometry). */
/* 0; -1 when cost() refuses the params; -2 when it returned a count that is NaN, negative,
 * infinite or over 1e15 (printed or summed as if real, it would mislead the estimate). */
int mxb_method_cost(const mxb_method *m, const mxb_explain_input *geometry, const double *params, mxb_cost *out);
/* Unloads every plugin (for tests and leak checkers). */
void mxb_methods_unload_plugins(void);

/* ---- helpers the built-ins share, usable by plugins linking libmxb ------------------ */

/* CLS row of compute_rollout_attention over layers [start, n): each layer's matrix
 * M_l (+ identity, rows normalised unless raw) multiplied as M_{n-1}···M_start.
 * mats: n matrices [L, L]. row: out [L]. */
void mxb_rollout_cls_row(const float *const *mats, int n, int start, int L, int cls,
                         int normalise_rows, float *row);
/* Gauss-Legendre nodes x and weights w [n] on [-1, 1], ascending (numpy's leggauss). */
void mxb_gauss_legendre(int n, double *x, double *w);
/* Drops position cls from a [L] vector into the [L-1] patch map. */
void mxb_drop_cls(const float *v, int L, int cls, float *map);

#endif
