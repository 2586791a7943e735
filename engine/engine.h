/*
 * engine — ViT/DeiT and Vision Mamba (ViM, bimamba v2, middle class token) in C.
 *
 * A model is loaded once from an HDF5 weights file whose dataset names are the
 * PyTorch state_dict keys verbatim and whose root attributes hold the config
 * (engine/WEIGHTS.md). Work happens in a context (mxb_ctx): one image at a time,
 * with every buffer allocated once when the context is made. A context run with
 * tracing on keeps what the explanation methods and the backward pass need.
 *
 * Errors: functions that can fail return 0 on success and -1 on failure, and
 * write a one-line message naming the file and the thing into err[errlen].
 */
#ifndef MXB_ENGINE_H
#define MXB_ENGINE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { MXB_ARCH_VIT = 1, MXB_ARCH_VIM = 2 } mxb_arch;

typedef struct {
    mxb_arch arch;
    int img_size, patch_size, in_chans, num_classes, embed_dim, depth;
    float norm_eps;          /* LayerNorm 1e-6 (DeiT), RMSNorm 1e-5 (ViM) */
    float final_norm_eps;    /* the last norm's: Chefer's ViT_LRP builds it with the
                                LayerNorm default 1e-5, timm with 1e-6 (WEIGHTS.md) */
    /* ViT/DeiT */
    int num_heads, mlp_hidden, qkv_bias;
    /* ViM */
    int d_state, d_inner, dt_rank, d_conv, divide_out;
    /* derived */
    int grid;                /* patches per side */
    int num_patches;         /* grid * grid */
    int seq_len;             /* num_patches + 1 */
    int cls_pos;             /* 0 for ViT, num_patches / 2 for ViM */
} mxb_config;

typedef struct mxb_model mxb_model;
typedef struct mxb_ctx mxb_ctx;

/* ---- models ---------------------------------------------------------------- */

/* Loads a weights file (engine/WEIGHTS.md). Before anything is allocated for the
 * model, its declared size must be plausible for the file: parameters of more than
 * 1032 x the file's bytes (deflate's best ratio) cannot be in it, and such a file is
 * refused. Every tensor must be stored (declared-only datasets read as zeros). */
int mxb_model_load(const char *path, mxb_model **out, char *err, size_t errlen);
/* Reads only the config (root attributes) of a weights file, checked as the loader
 * checks it; for estimating a run's memory before loading anything. */
int mxb_model_peek(const char *path, mxb_config *cfg, char *err, size_t errlen);
/* The checkpoint a weights file was converted from: the optional root attributes
 * `source` and `source_sha256` (engine/WEIGHTS.md) into source and sha ("" when absent,
 * control bytes as '?'). 0, or -1 with the message (the file cannot be read). */
int mxb_weights_source(const char *path, char *source, size_t slen, char *sha, size_t shalen, char *err,
                       size_t errlen);
/* The model's evaluation transform, the eval_* root attributes (engine/WEIGHTS.md):
 * Resize(resize) (square: Resize((resize, resize))) with the named interpolation,
 * CenterCrop(crop) unless crop is 0, ToTensor, Normalize(mean, std). Returns 1 when
 * the file has one (in *t), 0 when it has none (an older conversion), -1 (with the
 * message) when it is incomplete or malformed. */
typedef struct {
    int resize, square, crop;
    char interpolation[16];  /* "bicubic", "bilinear" or "nearest" */
    float mean[3], std[3];
} mxb_eval_transform;
int mxb_weights_transform(const char *path, mxb_eval_transform *t, char *err, size_t errlen);
/* A model with the given config and all-zero parameters; fill them through
 * mxb_model_param(). Used by tests and the benchmark (random weights). */
int mxb_model_new(const mxb_config *cfg, mxb_model **out, char *err, size_t errlen);
void mxb_model_free(mxb_model *m);
/* Recomputes what is derived from the parameters (A = -exp(A_log)) after they
 * were written through mxb_model_param_name()'s data pointer. */
void mxb_model_refresh(mxb_model *m);
const mxb_config *mxb_model_config(const mxb_model *m);
size_t mxb_model_param_count(const mxb_model *m);
/* Number of state_dict tensors and the i-th one's key, shape and storage. */
int mxb_model_num_params(const mxb_model *m);
const char *mxb_model_param_name(const mxb_model *m, int i, int *ndim, int64_t shape[4],
                                 float **data);
const char *mxb_arch_name(mxb_arch a);
/* Seeded random weights at the scale of the models' own initialisers. */
void mxb_model_randomize(mxb_model *m, uint64_t seed);
/* The paper's geometries: "deit-s", "deit-t" (Chefer's final norm), "vim-s", "vim-t";
 * arch 0 for an unknown name. */
mxb_config mxb_config_preset(const char *name);
/* Validates a config read from a file; fills the derived fields. */
int mxb_config_finish(mxb_config *cfg, char *err, size_t errlen);

/* ---- forward ---------------------------------------------------------------- */

enum {
    MXB_TRACE_NONE = 0,
    /* keep activations for backward, attention, hidden attention; a traced ViT
     * context also holds the LRP workspace (mxb_relevance) */
    MXB_TRACE_KEEP = 1,
};

/* One allocation (the context's arena), sized from the model's checked config;
 * never NULL (out of memory goes to the io/io.h handler). */
mxb_ctx *mxb_ctx_new(const mxb_model *m, int flags);
void mxb_ctx_free(mxb_ctx *c);
/* what the context allocated: its struct and its arena (with the alignment slack) */
size_t mxb_ctx_bytes(const mxb_ctx *c);
/* What mxb_model_new and mxb_ctx_new would allocate for this config (model: the
 * parameters and derived tables; a context with MXB_TRACE_KEEP and one without),
 * without allocating it: the contexts' numbers are mxb_ctx_bytes of the contexts,
 * exactly (the same layout functions size both). -1 for an invalid config. Any
 * pointer may be NULL. */
int mxb_config_bytes(const mxb_config *cfg, size_t *model_bytes, size_t *ctx_keep_bytes,
                     size_t *ctx_plain_bytes);

/* image: normalised float [in_chans, img_size, img_size]. logits: [num_classes]. */
void mxb_forward(mxb_ctx *c, const float *image, float *logits);

/* ---- backward and trace (valid after a forward with MXB_TRACE_KEEP) --------- */

/* Gradient of dot(seed, logits) with respect to every traced activation;
 * seed [num_classes] (a one-hot for a class). */
void mxb_backward(mxb_ctx *c, const float *seed);

/* ViT: per block softmax probabilities [heads, L, L] and, after mxb_backward,
 * their gradient. NULL for ViM. */
const float *mxb_vit_attn(const mxb_ctx *c, int block);
const float *mxb_vit_attn_grad(const mxb_ctx *c, int block);
/* ViT LRP (Chefer et al.'s relprop rules, alpha 1): relevance of every block's
 * attention probabilities for the relevance `seed` [num_classes] at the logits
 * (a one-hot), in the context's own workspace. -1 for ViM or an untraced context. */
int mxb_relevance(mxb_ctx *c, const float *seed);
const float *mxb_vit_attn_relevance(const mxb_ctx *c, int block);
/* (method ABI v2) After mxb_backward: the gradient at block `block`'s input (the
 * residual stream entering it) [L, E]; block 0's is mxb_token_grad's. Kept per block in
 * a traced context (depth x L x E floats). NULL for ViM or an untraced context. */
const float *mxb_vit_block_grad(const mxb_ctx *c, int block);
/* (method ABI v2) A block's qkv Linear output [L, 3E] of the last traced forward:
 * q | k | v, heads contiguous inside each (column h*hd + j of q is head h's j). */
const float *mxb_vit_qkv(const mxb_ctx *c, int block);

/* ViM: the residual stream returned by layer `layer` ([L, embed_dim]: the sum that
 * entered its add+norm) and the mixer output. After mxb_backward, residual_grad is
 * what HiddenMambaAttn's Block.get_gradients returns: the gradient at
 * residual + mixer_out, the stream entering the NEXT norm (the fused add+norm's
 * autograd hook sees only downstream gradient); for the last layer, at norm_f's input. */
const float *mxb_vim_residual(const mxb_ctx *c, int layer);
const float *mxb_vim_residual_grad(const mxb_ctx *c, int layer);
const float *mxb_vim_mixer_out(const mxb_ctx *c, int layer);

/* The S6 quantities of one ViM layer and direction (dir 0 = forward, 1 = the
 * backward branch, in its own flipped order). Layout token-major:
 * x, delta, y [L, d_inner] (x after conv+SiLU, delta after softplus, y the
 * scan output before the D skip and the z gate); B, C [L, d_state];
 * A [d_inner, d_state] = -exp(A_log). dy (after mxb_backward) is the gradient
 * at y. */
typedef struct {
    int L, D, N;
    int bc_stride;           /* row stride of B and C (they are views into x_proj's output) */
    const float *x, *delta, *B, *C, *A, *y, *dy;
    /* ---- UIA (Zimerman et al.): the conv and the gate around the scan ----
     * x_pre, z: the in_proj halves (row stride xz_stride) in this direction's order:
     * the conv's input and the gate; u [L, d_inner]: the conv output before SiLU
     * (x = SiLU(u)); conv_w [d_inner, d_conv], conv_b [d_inner], D_skip [d_inner]:
     * this direction's weights (u[t,c] = b[c] + Σ_k w[c,k] x_pre[t-(K-1)+k, c]). */
    const float *x_pre, *z, *u, *conv_w, *conv_b, *D_skip;
    int xz_stride, K;
} mxb_s6_view;
int mxb_vim_s6(const mxb_ctx *c, int layer, int dir, mxb_s6_view *out);

/* The hidden-attention CLS row of a layer, both branches in image-token order:
 * out [d_inner, L]. OFFICIAL is compute_middle_attn_vector as HiddenMambaAttn
 * calls it (forward branch for t < cls with the product stopping at cls-1,
 * position cls 0, backward branch flipped for t > cls); EXACT is the CLS row of
 * α_f + flip(α_b) (the layer's hidden attention up to if_devide_out's ½),
 * including Ā[cls] and the diagonal. Uses the context's scratch: call between
 * forward/backward passes, not during. */
typedef enum {
    MXB_VARIANT_OFFICIAL = 0, MXB_VARIANT_EXACT = 1,
    /* UIA (Zimerman, Ali, Wolf 2025; docs/METHODS-v2.md 3.2): per direction the CLS row
     * of diag(SiLU(z))·α·diag(σ(u))·M_conv acting on the pre-conv x, from the EXACT α
     * row: ⊙σ(u), the causal conv's transpose, ×SiLU(z[cls]); both directions summed
     * (position cls holds both diagonals). The ablation bits are OR-ed into UIA and
     * combine: NO_CONV skips the conv transpose, NO_GATE the gate, NO_ACT σ(u). The
     * values are the plugin ABI's MXB_ROW_* (methods/method.h). */
    MXB_VARIANT_UIA = 2,
    MXB_VARIANT_UIA_NO_CONV = 1 << 8,
    MXB_VARIANT_UIA_NO_GATE = 1 << 9,
    MXB_VARIANT_UIA_NO_ACT = 1 << 10,
} mxb_variant;
/* -1 for an untraced layer or a variant outside these forms. Not const: it works in
 * the context's [D, L] scratch (free outside forward and backward). */
int mxb_vim_xai_vector(mxb_ctx *c, int layer, mxb_variant variant, float *out);
/* UIA's full implicit-attention matrices of one layer and direction for channels
 * [c0, c1) into out [c1-c0, L, L], the direction's own token order (row i, column s:
 * SiLU(z[i])·Σ_j α[i,j]σ(u[j])·w[K-1-(j-s)]; saveAttnMat); variant = UIA with the
 * ablation bits. Row cls of the two directions is the UIA CLS row. */
int mxb_vim_uia_matrix(const mxb_ctx *c, int layer, int dir, int c0, int c1, mxb_variant variant,
                       float *out);
/* Their channel mean into out [L, L], as mxb_vim_hidden_attn_mean (image_order: the
 * backward branch's flipped on both axes); -1 also when out of memory. */
int mxb_vim_uia_matrix_mean(const mxb_ctx *c, int layer, int dir, int image_order, mxb_variant variant,
                            float *out);

/* The exact hidden-attention matrices of one layer and direction, streamed per
 * channel (never D×L×L for more than the channels asked for):
 * per channel for channels [c0, c1) into out [c1-c0, L, L] (lower triangular, the
 * direction's own token order), or the channel mean into out [L, L] (in image-token
 * order when image_order is set: the backward branch's matrix flipped on both axes).
 * With the scan input x, y[i,c] = Σ_j α[c,i,j] x[j,c] is the scan output. */
int mxb_vim_hidden_attn(const mxb_ctx *c, int layer, int dir, int c0, int c1, float *out);
int mxb_vim_hidden_attn_mean(const mxb_ctx *c, int layer, int dir, int image_order, float *out);
/* The most the two channel means above allocate for one call (outside the context's
 * arena: it depends on the call's thread count), for the run's memory estimate. */
size_t mxb_vim_attn_mean_scratch_bytes(int L, int d_inner, int d_state, int nthreads);

/* ---- MambaLRP (ViM; docs/METHODS-v2.md §3.4) ---------------------------------------- */

/* Rule flags of the MambaLRP modified backward. Always on: A, B, C detached and the
 * half rule on the gate (params_to_detach A, B, C, z), LRP-0 on the Linear layers.
 * The vision wrapper's default (layer_transforms = []) is 0; the paper's rule set
 * (['act', 'norm']) is SILU_IDENTITY | NORM_DETACH; CONV_GAMMA adds 'conv1d' (γ 0.25). */
enum {
    MXB_MAMBALRP_SILU_IDENTITY = 1u << 0,
    MXB_MAMBALRP_NORM_DETACH = 1u << 1,
    MXB_MAMBALRP_CONV_GAMMA = 1u << 2,
};
/* After a traced forward: the modified gradient of dot(seed, logits) down to the
 * embedded tokens, and the token relevance token_rel [seq_len] = Σ_e tokens ⊙ gradient
 * (CLS included), what vision_relevance_propagation returns. Uses the backward's
 * workspace (the residual gradients of mxb_backward are left as they were).
 * -1 for ViT or an untraced context. */
int mxb_vim_mambalrp(mxb_ctx *c, const float *seed, unsigned rules, float *token_rel);

/* ---- Chefer's ViT LRP baselines (docs/METHODS-v2.md §3.1) ------------------------------ */

/* Rule flags of mxb_vit_lrp_rules. 0 is mxb_relevance (layers_ours.py: Transformer-
 * Attribution's rules). ORIG: layers_lrp.py's (ViT_orig_LRP: full and partial LRP).
 * LAST_BLOCK: stop at the last block's attention relevance (partial LRP; the other
 * blocks' relevance is not computed). TO_INPUT: on through block 0 and the patch
 * embedding to the pixels (full LRP). */
enum {
    MXB_LRP_ORIG = 1u << 0,
    MXB_LRP_LAST_BLOCK = 1u << 1,
    MXB_LRP_TO_INPUT = 1u << 2,
};
/* After a traced forward of image: LRP from the relevance seed [num_classes] at the
 * logits; attention relevance through mxb_vit_attn_relevance; with TO_INPUT the
 * pixel relevance summed over channels into input_rel [img_size, img_size].
 * -1 for ViM, an untraced context, or TO_INPUT without image or input_rel. */
int mxb_vit_lrp_rules(mxb_ctx *c, const float *seed, unsigned rules, const float *image, float *input_rel);

/* ---- tokens and gradients to the input (engine/grad_input.c; method ABI v2) ----------
 * Valid after a forward with MXB_TRACE_KEEP (and, for the gradients, mxb_backward);
 * NULL / -1 for an untraced context. */
/* the embedded tokens [L, E] of the last forward (after pos_embed, class token included) */
const float *mxb_tokens(const mxb_ctx *c);
/* the gradient of the last backward's dot(seed, logits) at those tokens [L, E] */
const float *mxb_token_grad(const mxb_ctx *c);
/* that gradient on through the patch embedding: out [in_chans, img_size, img_size] */
int mxb_input_grad(const mxb_ctx *c, float *out);

/* ---- the BLAS (engine/blas.c) ------------------------------------------------ */

/* Which BLAS the engine's matrix products run on (CMake MXB_BLAS) and its kernel set. */
typedef struct {
    char name[16];      /* OpenBLAS, BLIS, oneDNN */
    char version[32];
    char kernels[48];   /* OpenBLAS core (SkylakeX, Haswell, Prescott ...), BLIS arch, ... */
    char cpu[16];       /* the CPU's vector level: AVX-512, AVX2, no AVX2 */
    char openblas[64];  /* the OpenBLAS linked in every build (gemv, bench yardstick) */
    char note[320];     /* what the start-up check did, or "" */
} mxb_blas_info;
/* Call first thing in main(), before any thread or BLAS call: when the BLAS picked a
 * generic kernel set on a CPU with AVX2 / AVX-512, re-executes the program once with
 * OPENBLAS_CORETYPE (or BLIS_ARCH_TYPE) set, announced on stderr when it is a terminal;
 * when OMP_WAIT_POLICY and GOMP_SPINCOUNT are unset, re-executes once with
 * OMP_WAIT_POLICY=passive (a shared machine, engine/blas.c). Returns when nothing is
 * to be done or the restart is not possible (slow kernels are then reported). */
void mxb_blas_startup(char **argv);
void mxb_blas_get_info(mxb_blas_info *out);
/* one line: "OpenBLAS 0.3.21, kernels SkylakeX; CPU AVX-512; <note>" */
const char *mxb_blas_describe(void);
/* C = alpha op(A) op(B) + beta C, row-major, as the engine computes it: fixed column
 * panels, one serial BLAS call each, shared among the OpenMP threads (same bits on
 * any thread count). trans_a / trans_b: 0 or 1. */
void mxb_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc);

/* Where a forward's time goes, for mxb bench: milliseconds in the matrix products and
 * in the selective scan since the last reset, per thread. Only the model's own calls
 * are counted — those at the OpenMP level the profile was enabled at, not the ones
 * made from inside the engine's regions — so each of several images in flight (one
 * thread each) can time its own forward; off unless enabled. */
typedef struct {
    double gemm_ms, scan_ms;
} mxb_profile;
void mxb_profile_enable(int on); /* also resets */
mxb_profile mxb_profile_get(void);

/* ---- the GPU (engine/gpu.c, CMake MXB_CUDA) ----------------------------------------- */

/* "CUDA 13.0, cuBLAS, sm_90" when CUDA is compiled in, NULL when not. */
const char *mxb_gpu_build(void);
/* How many CUDA GPUs the driver shows; 0 with the reason in err (none, no driver, or
 * built without CUDA). */
int mxb_gpu_count(char *err, size_t errlen);
/* "NVIDIA H100 80GB HBM3 (sm_90, 79 GiB)"; -1 when there is no such GPU. */
int mxb_gpu_name(int device, char *buf, size_t n);
/* A model on a GPU: its parameters copied to device memory in the CPU's layout
 * (engine/params.c's offsets), and buffers for batches of up to max_batch images.
 * Plain forwards only (stage 1 of issue 27); the CPU engine is the reference
 * (tests/test_gpu.c). m must outlive it. */
typedef struct mxb_gpu mxb_gpu;
int mxb_gpu_new(const mxb_model *m, int device, int max_batch, mxb_gpu **out, char *err, size_t errlen);
int mxb_gpu_max_batch(const mxb_gpu *g);
/* images: n normalised images [n, in_chans, img_size, img_size] in host memory;
 * logits [n, num_classes] in host memory. FP32 products (TF32 off); deterministic.
 * Thread-safe: calls on one context from several threads take turns (its lock). */
int mxb_gpu_forward(mxb_gpu *g, const float *images, int n, float *logits, char *err, size_t errlen);
void mxb_gpu_free(mxb_gpu *g);

#endif
