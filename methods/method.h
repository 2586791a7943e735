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

#include <stddef.h>
#include <stdint.h>

#define MXB_METHOD_ABI_VERSION 1

/* mxb_explain_input.arch: the model family (part of the ABI: the values never change;
 * the host ties them to its engine's own at compile time) */
enum { MXB_METHOD_ARCH_VIT = 1, MXB_METHOD_ARCH_VIM = 2 };
/* mxb_method.archs: the families a method supports, 1 << arch */
enum { MXB_METHOD_VIT = 1u << MXB_METHOD_ARCH_VIT, MXB_METHOD_VIM = 1u << MXB_METHOD_ARCH_VIM };

enum {
    MXB_NEEDS_GRADIENT = 1u << 0,  /* a backward pass of the explained class's logit */
    MXB_NEEDS_RELEVANCE = 1u << 1, /* ViT LRP relevance of the attention (Chefer et al.) */
};

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
    MXB_NEEDS_RELEVANCE_INPUT = 1u << 22,   /* with ORIG: on to the pixels; read input_relevance */
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
    /* ---- the LRP passes (MXB_NEEDS_LRP_PASSES); NULL when not asked for ---- */
    /* ViM, MXB_NEEDS_MAMBALRP: [seq_len] gradient x input at the embedded tokens
     * summed over channels, class token included */
    const float *(*token_relevance)(void *trace);
    /* ViT, MXB_NEEDS_RELEVANCE_INPUT: [img_size, img_size] the pixel relevance
     * summed over channels (Chefer's full LRP, before any normalisation) */
    const float *(*input_relevance)(void *trace);
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
} mxb_method;

typedef const mxb_method *const *(*mxb_plugin_methods_fn)(int *count);

/* ---- the registry (host side) -------------------------------------------------- */

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
/* Unloads every plugin (for tests and leak checkers). */
void mxb_methods_unload_plugins(void);

/* ---- helpers the built-ins share, usable by plugins linking libmxb ------------------ */

/* CLS row of compute_rollout_attention over layers [start, n): each layer's matrix
 * M_l (+ identity, rows normalised unless raw) multiplied as M_{n-1}···M_start.
 * mats: n matrices [L, L]. row: out [L]. */
void mxb_rollout_cls_row(const float *const *mats, int n, int start, int L, int cls,
                         int normalise_rows, float *row);
/* Drops position cls from a [L] vector into the [L-1] patch map. */
void mxb_drop_cls(const float *v, int L, int cls, float *map);

#endif
