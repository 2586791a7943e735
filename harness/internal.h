/* harness/internal.h — what the files of `mxb run` share (run.c the loop,
 * run_setup.c the set-up, evaluate.c the protocols of one image, attention.c the
 * attention dumper, provenance.c the run's identity and attributes). Not installed,
 * not for other modules. */
#ifndef MXB_HARNESS_INTERNAL_H
#define MXB_HARNESS_INTERNAL_H

#include "harness/harness.h"
#include "results/results.h"

#include <stdint.h>

/* One image in flight: every per-image buffer of the run and its own engine contexts,
 * allocated once for the run (slots_alloc in run_setup.c). The loop body takes
 * (slot, unit); [run] images_in_flight = N gives N slots, each worked on by one thread
 * of the outer team with `nthreads` threads of its own inside (issue #13). */
typedef struct {
    int nthreads;       /* threads inside this image (the engine's regions) */
    int nplain;         /* its plain contexts: the perturbation steps run at once, min(nthreads, 9) */
    mxb_ctx *traced[MXB_MAX_MODELS];                  /* the explanation's (MXB_TRACE_KEEP) */
    mxb_ctx *step_ctx[MXB_MAX_MODELS][MXB_RES_STEPS]; /* plain forwards, one per inner thread */
    float *u;           /* [3, npix] the image in [0, 1] (what the perturbation test masks) */
    float *x;           /* [3, npix] the model's normalised input */
    float *blurred;     /* [3, npix] RISE's insertion substrate: blur(x); only when insdel_step > 0 */
    float *map;         /* [max_grid2] one method's map */
    float *vis;         /* [npix] the evaluated map (mxb_map_postprocess) */
    int32_t *order;     /* [npix] a pixel order */
    float *logits;      /* [max_classes] the explained forward's */
    float *orig;        /* [max_classes] the unperturbed image's (plain forward) */
    float *work;        /* [nplain, 3, npix] one perturbed image per inner thread */
    float *step_logits; /* [nplain, max_classes] */
    double *scores;     /* [2, insdel states] RISE's curves */
    uint8_t *rgb;       /* [npix, 3] the transformed image */
    uint8_t *mask;      /* [npix] the segmentation mask */
    uint8_t *record;    /* one journal record */
} mxb_run_slot;

/* The forwards of a protocol, model-free: `forward` classifies a normalised image
 * into logits [nclasses] on thread `thread` (< nthreads; one engine context each). */
typedef struct {
    void (*forward)(void *ctx, int thread, const float *normalised, float *logits);
    void *ctx;
    int nthreads, nclasses;
} mxb_classifier;

typedef struct {
    mxb_run_config cfg;
    int shard_i, shard_n;
    char output[4200], journal_path[4300];
    mxb_model *model[MXB_MAX_MODELS];
    /* the threads of the run (omp_get_max_threads()), shared by the images in flight:
     * in_flight slots of nthreads / in_flight threads each (at least 1) */
    int nthreads, in_flight;
    int in_flight_arg;              /* mxb run --in-flight N (0: [run] images_in_flight, then auto) */
    char model_sha[MXB_MAX_MODELS][65];
    const mxb_method *method[MXB_MAX_METHODS];
    mxb_dataset *data[MXB_NTESTS];
    const mxb_run_data *rd[MXB_NTESTS];
    /* each model's transform per test: the configuration's keys over the model's own
     * (resolve_transforms); one geometry per test, mean/std per model */
    mxb_preprocess pre[MXB_NTESTS][MXB_MAX_MODELS];
    char data_sha[MXB_NTESTS][65];
    int selected[MXB_NTESTS];       /* images selected, before sharding */
    char run_key[65], journal_key[65];
    mxb_results res;
    mxb_results maps_src;           /* [perturbation] maps = FILE: stored maps */
    int have_maps_src;
    int *maps_row;                  /* perturbation row -> row in maps_src */
    int maps_model[MXB_MAX_MODELS], maps_method[MXB_MAX_METHODS];
    mxb_journal *journal;
    int size;                       /* the model input side, shared by every model */
    unsigned long long memory_mb;   /* the estimate check_memory made */
    double seconds[MXB_NTESTS];     /* work time per test, this process and replayed */
    int quiet;
    mxb_progress stage;             /* the progress of the stage after the units */
    mxb_run_slot *slots;            /* [in_flight] the images in flight; slots[0] does the serial work */
    int max_classes, max_grid2;
} mxb_run_state;

/* ---- run_setup.c: configuration to loaded models, data, results arrays ---- */

/* Everything before the loop: shard, configuration, methods, models' configs, data
 * lists, labels, the memory estimate, weights, transforms, the run key, the results
 * arrays, the maps source, the slot. Returns 0, or the command's exit code with err
 * set (2 bad input, 1 failure); *done = 1 when the output is already complete (its
 * tables printed, exit 0). */
int mxb_run_setup(mxb_run_state *R, const char *config, const char *const *sets, int nsets, int *done,
                  char *err, size_t errlen);
void mxb_run_state_free(mxb_run_state *R);
/* The methods model m runs: the configured ones less the pairs skipped (R->res.skipped). */
int mxb_run_nmethods(const mxb_run_state *R, int m);
/* MiB: the environment's MXB_MAX_MEMORY_MB, else the machine's physical memory; *from
 * names which ("MXB_MAX_MEMORY_MB", or machine_from: the caller's hint). mxb run's
 * limit without [run] max_memory_mb; mxb bench's. */
unsigned long long mxb_memory_limit_default_mb(const char **from, const char *machine_from);

/* ---- evaluate.c: the protocols of one image (docs/PROTOCOLS.md 6, 7, RISE) ---- */

/* One polarity of the perturbation test: the order of s->vis (negated for the
 * negative test), then steps 0..9 masking s->u, normalised with mean/std, classified
 * (step 0 is s->orig); hits, logit and probability drops into row i of cell. */
int mxb_run_perturbation(mxb_run_slot *s, const mxb_classifier *c, int size, const float mean[3],
                         const float std[3], int negative, int label, mxb_res_cell *cell, int i, char *err,
                         size_t errlen);
/* RISE's deletion (s->x to zeros) and insertion (s->blurred to s->x) curves of class
 * cls's softmax probability in s->vis's order, `step` pixels at a time; their AUCs. */
int mxb_run_insertion_deletion(mxb_run_slot *s, const mxb_classifier *c, int size, int step, int cls,
                               double *insertion, double *deletion, char *err, size_t errlen);
/* The forwards one map costs: 2 (mxb_rise_steps + 1). */
long mxb_run_insdel_forwards(int size, int step);
/* The segmentation test of s->vis against s->mask, and the pointing game, into row i. */
int mxb_run_segmentation(const mxb_run_slot *s, int size, double tolerance_px, mxb_res_cell *cell, int i,
                         char *err, size_t errlen);

/* ---- attention.c: the one attention dumper (results/SCHEMA.md, Attention) ---- */

/* The attention of the image c last traced (a MXB_TRACE_KEEP forward) as one float32
 * dataset `name`: ViT [depth, heads, L, L], ViM [depth, 2, L, L] channel mean, with
 * its `layout` attribute. Used by mxb run (save_attention) and mxb explain. ViM:
 * the exact α matrices, or UIA's (mxb_vim_uia_matrix_mean) when rows is a UIA form. */
int mxb_attention_write(mxb_h5out *o, const char *name, mxb_ctx *c, const mxb_config *g, mxb_variant rows,
                        char *err, size_t errlen);

/* ---- provenance.c ---- */
void mxb_run_iso_time(char *buf, size_t n);
/* The run's identity (configuration, weights, data lists; the shard on top). */
void mxb_run_keys(mxb_run_state *R);
void mxb_run_set_provenance(mxb_run_state *R, const char *started);

#endif
