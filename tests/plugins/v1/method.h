/* FROZEN: methods/method.h as it was at method ABI 1 (commit 313b9e2), for the test that
 * v1 plugins keep loading (docs/METHODS-v2.md §1.7). Never edit. */
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

typedef struct mxb_explain_input {
    uint32_t struct_size;          /* sizeof(mxb_explain_input) of the host */
    int arch;                      /* MXB_METHOD_ARCH_VIT (ViT/DeiT) or _VIM */
    int depth, seq_len, cls_pos, grid, embed_dim, num_heads, d_inner, num_classes;
    int in_chans, img_size;
    int explained_class;
    int variant;                   /* ViM hidden attention: 0 official, 1 exact */
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
