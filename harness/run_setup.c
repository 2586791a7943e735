/* mxb run's set-up: from the configuration to loaded models, selected data, sized
 * results arrays and the slot, every check before any large allocation (the memory
 * estimate comes from the models' configurations, before their weights). */
#include "harness/internal.h"

#include "io/io.h"

#include <errno.h>
#include <omp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- set-up -------------------------------------------------------------------- */

static int open_data(mxb_run_state *R, int t, char *err, size_t errlen) {
    const mxb_run_data *d = t == MXB_TEST_PERTURBATION ? &R->cfg.perturbation : &R->cfg.segmentation;
    R->rd[t] = d;
    if (!d->enabled) return 0;
    /* the real data is not part of mxb: a missing folder or file says where it comes from */
    const char *absent = access(d->data, F_OK) ? d->data : d->labels[0] && access(d->labels, F_OK) ? d->labels : NULL;
    if (absent) {
        mxb_seterr(err, errlen, "%s: no such file or folder ([%s] %s); ImageNet's validation images, their labels and "
                   "gtsegs_ijcv.mat are not part of mxb: docs/PAPER.md says where each comes from (mxb synth makes a "
                   "synthetic stand-in)", absent, mxb_test_names[t], absent == d->data ? "data" : "labels");
        return -1;
    }
    if (mxb_dataset_open(d->data, d->labels[0] ? d->labels : NULL, &R->data[t], err, errlen)) return -1;
    mxb_dataset *D = R->data[t];
    mxb_dataset_set_max_pixels(D, (size_t)R->cfg.max_pixels); /* 0: the default */
    int rc = 0;
    switch (d->subset.kind) {
    case MXB_SUBSET_FIRST: rc = mxb_dataset_select_first(D, d->subset.n, err, errlen); break;
    case MXB_SUBSET_EVERY: rc = mxb_dataset_select_every(D, d->subset.n, 0, err, errlen); break;
    case MXB_SUBSET_RANDOM: rc = mxb_dataset_select_random(D, d->subset.n, R->cfg.seed, err, errlen); break;
    case MXB_SUBSET_IDS: rc = mxb_dataset_select_ids_file(D, d->subset.ids_file, err, errlen); break;
    default: break;
    }
    if (rc) return -1;
    if (mxb_dataset_size(D) == 0) {
        mxb_seterr(err, errlen, "%s: the %s data selection is empty", d->data, mxb_test_names[t]);
        return -1;
    }
    if (t == MXB_TEST_PERTURBATION && mxb_dataset_label(D, 0) < 0) {
        mxb_seterr(err, errlen, "%s: the perturbation test needs class labels and this data has none", d->data);
        return -1;
    }
    /* the data list (before sharding) is part of what identifies the run */
    mxb_sha256 h;
    mxb_sha256_init(&h);
    char line[512];
    for (int i = 0; i < mxb_dataset_size(D); i++) {
        int n = snprintf(line, sizeof line, "%d\t%s\t%d\n", mxb_dataset_index(D, i), mxb_dataset_id(D, i),
                         mxb_dataset_label(D, i));
        mxb_sha256_update(&h, line, (size_t)n);
    }
    mxb_sha256_hex(&h, R->data_sha[t]);
    R->selected[t] = mxb_dataset_size(D);
    if (R->shard_n > 1 && mxb_dataset_select_every(D, R->shard_n, R->shard_i, err, errlen)) return -1;
    return 0;
}

/* ---- the transform of each model and test ------------------------------------------ */

/* "Resize(73, bicubic) + CenterCrop(64)": the geometry alone */
static void geometry(const mxb_preprocess *p, char *buf, size_t n) {
    char d[256];
    mxb_preprocess_describe(p, d, sizeof d);
    char *comma = strstr(d, ", mean");
    if (comma) *comma = 0;
    snprintf(buf, n, "%s", d);
}

/* Every key the configuration's [perturbation] / [segmentation] sets wins; the rest
 * comes from the model's evaluation transform (its weights file). The perturbation
 * test is classification, so it takes the whole transform; the segmentation test
 * keeps the references' geometry (Resize((S, S)), no crop: the mask must cover the
 * object) and takes the model's mean/std. A weights file without a transform falls
 * back to the configuration's defaults (said once per model). Models may normalise
 * differently (per model), but the maps, masks and figures of a test share one pixel
 * grid: different geometries in one test are refused. */
static int resolve_transforms(mxb_run_state *R, const mxb_config *cfg, char *err, size_t errlen) {
    const mxb_run_data *ds[MXB_NTESTS] = {&R->cfg.perturbation, &R->cfg.segmentation};
    for (int m = 0; m < R->cfg.nmodels; m++) {
        /* without a transform in the file: what the configuration says (its defaults
         * for what it leaves out); the message names the first enabled test's */
        mxb_preprocess own, fallback = ds[0]->enabled ? ds[0]->pre : ds[1]->pre;
        if (!ds[0]->enabled && !(ds[1]->pre_set & mxb_preprocess_key_bit("resize"))) fallback.size = cfg[m].img_size;
        int rc = mxb_model_preprocess("run", R->cfg.models[m].weights, &cfg[m], &fallback, &own, err, errlen);
        if (rc < 0) return -1;
        const int from_file = rc == 0; /* else own is the fallback, said on stderr */
        for (int t = 0; t < MXB_NTESTS; t++) {
            const mxb_run_data *d = ds[t];
            mxb_preprocess *p = &R->pre[t][m];
            *p = d->pre;
            if (from_file && t == MXB_TEST_PERTURBATION) {
                *p = own;
            } else if (t == MXB_TEST_SEGMENTATION) {
                p->size = cfg[m].img_size;
                if (from_file) {
                    memcpy(p->mean, own.mean, sizeof p->mean);
                    memcpy(p->std, own.std, sizeof p->std);
                }
            }
            const unsigned set = d->pre_set;
            if (set & mxb_preprocess_key_bit("resize")) p->size = d->pre.size;
            if (set & mxb_preprocess_key_bit("square")) p->square = d->pre.square;
            if (set & mxb_preprocess_key_bit("crop")) p->crop = d->pre.crop;
            if (set & mxb_preprocess_key_bit("filter")) p->filter = d->pre.filter;
            if (set & mxb_preprocess_key_bit("mean")) memcpy(p->mean, d->pre.mean, sizeof p->mean);
            if (set & mxb_preprocess_key_bit("std")) memcpy(p->std, d->pre.std, sizeof p->std);
        }
    }
    for (int t = 0; t < MXB_NTESTS; t++) {
        if (!ds[t]->enabled) continue;
        for (int m = 0; m < R->cfg.nmodels; m++) {
            const mxb_preprocess *p = &R->pre[t][m], *p0 = &R->pre[t][0];
            if (mxb_preprocess_out_size(p) != R->size) {
                mxb_seterr(err, errlen, "%s: [%s] makes %d px inputs for model %s but it takes %d px (set resize/crop)",
                         R->cfg.path, mxb_test_names[t], mxb_preprocess_out_size(p), R->cfg.models[m].name, R->size);
                return -1;
            }
            if (p->size != p0->size || p->square != p0->square || p->crop != p0->crop || p->filter != p0->filter) {
                char g0[128], g1[128];
                geometry(p0, g0, sizeof g0);
                geometry(p, g1, sizeof g1);
                mxb_seterr(err, errlen,
                         "%s: [%s] model %s's transform is %s, model %s's %s; one test needs one geometry "
                         "(set resize, square, crop and filter in [%s])",
                         R->cfg.path, mxb_test_names[t], R->cfg.models[0].name, g0, R->cfg.models[m].name, g1,
                         mxb_test_names[t]);
                return -1;
            }
        }
    }
    return 0;
}

/* ---- memory: estimated from the configuration before anything large is allocated ---- */

/* The environment's MXB_MAX_MEMORY_MB, else the machine's physical memory (also the
 * bench's limit for its in-flight contexts); *from = machine_from in the second case. */
unsigned long long mxb_memory_limit_default_mb(const char **from, const char *machine_from) {
    double x; /* checked by mxb_env_check when the command started: at most 2^40 MiB */
    if (mxb_env_number("MXB_MAX_MEMORY_MB", &x, NULL, 0) > 0) {
        *from = "MXB_MAX_MEMORY_MB";
        return (unsigned long long)x;
    }
    *from = machine_from;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (unsigned long long)pages * (unsigned long long)page >> 20 : ~0ull >> 20;
}

/* The limit: [run] max_memory_mb, else mxb_memory_limit_default_mb. */
static unsigned long long memory_limit_mb(const mxb_run_state *R, const char **from) {
    if (R->cfg.max_memory_mb > 0) {
        *from = "[run] max_memory_mb";
        return (unsigned long long)R->cfg.max_memory_mb;
    }
    return mxb_memory_limit_default_mb(from, "the machine's memory; set [run] max_memory_mb or MXB_MAX_MEMORY_MB");
}

/* The models' configs (their root attributes only), checked for one input size. */
static int peek_models(mxb_run_state *R, mxb_config *cfg, char *err, size_t errlen) {
    for (int m = 0; m < R->cfg.nmodels; m++) {
        const mxb_run_model *rm = &R->cfg.models[m];
        struct stat st;
        if (stat(rm->weights, &st) != 0) {
            mxb_seterr(err, errlen, "%s: no such weights file ([model:%s] weights in %s)", rm->weights, rm->name,
                     R->cfg.path);
            return -1;
        }
        if (mxb_model_peek(rm->weights, &cfg[m], err, errlen) || mxb_config_finish(&cfg[m], err, errlen))
            return -1;
        /* every sample is an RGB image: a model of other channels would read past it */
        if (cfg[m].in_chans != 3) {
            mxb_seterr(err, errlen, "%s: the model takes %d input channels; mxb run feeds RGB images (3) ([model:%s])",
                     rm->weights, cfg[m].in_chans, rm->name);
            return -1;
        }
        if (m == 0) R->size = cfg[m].img_size;
        if (cfg[m].img_size != R->size) {
            mxb_seterr(err, errlen, "%s: model input is %d px, model %s's is %d px; one run needs one input size",
                     rm->weights, cfg[m].img_size, R->cfg.models[0].name, R->size);
            return -1;
        }
    }
    return 0;
}

/* A label the models cannot predict would be scored as a miss on every image (a
 * 1-based label file, another label set): refused before any work. */
static int check_labels(mxb_run_state *R, const mxb_config *cfg, char *err, size_t errlen) {
    for (int t = 0; t < MXB_NTESTS; t++) {
        /* segmentation scores the mask, not the label, unless the label is explained */
        if (!R->data[t] || (t == MXB_TEST_SEGMENTATION && !R->cfg.use_target)) continue;
        for (int m = 0; m < R->cfg.nmodels; m++)
            for (int i = 0; i < mxb_dataset_size(R->data[t]); i++) {
                int label = mxb_dataset_label(R->data[t], i);
                if (label >= cfg[m].num_classes) {
                    mxb_seterr(err, errlen,
                             "%s: image %s has label %d, but model %s has %d classes (0..%d; a 1-based label file?)",
                             R->rd[t]->labels[0] ? R->rd[t]->labels : R->rd[t]->data, mxb_dataset_id(R->data[t], i),
                             label, R->cfg.models[m].name, cfg[m].num_classes, cfg[m].num_classes - 1);
                    return -1;
                }
            }
    }
    return 0;
}

/* The label trap (docs/PAPER.md): labels that are valid indices but not the model's
 * classes. ImageFolder labels a class folder by its sorted index, which is the model's
 * class only when every one of the model's classes has its folder; a label set of one
 * class is a label file of another kind. Warnings, not errors (a deliberate subset is
 * allowed): one line each on stderr, kept in the results, repeated by mxb report. */
static void check_data_fit(mxb_run_state *R, const mxb_config *cfg) {
    size_t off = 0;
    for (int m = 0; m < R->cfg.nmodels; m++)
        off += (size_t)snprintf(R->num_classes + off, sizeof R->num_classes - off, "%s%s=%d", m ? " " : "",
                                R->cfg.models[m].name, cfg[m].num_classes);
    off = 0;
    for (int t = 0; t < MXB_NTESTS; t++) {
        const mxb_dataset *D = R->data[t];
        if (!D || (t == MXB_TEST_SEGMENTATION && !R->cfg.use_target)) continue;
        char line[600] = "";
        const int folders = mxb_dataset_class_folders(D);
        for (int m = 0; m < R->cfg.nmodels && !line[0]; m++)
            if (folders && folders != cfg[m].num_classes)
                snprintf(line, sizeof line, "%s has %d class folders but model %s has %d classes: a folder's label is "
                         "its sorted index, the model's class only when every class has its folder (docs/PAPER.md, "
                         "the label trap)", R->rd[t]->data, folders, R->cfg.models[m].name, cfg[m].num_classes);
        const int n = mxb_dataset_size(D), first = n ? mxb_dataset_label(D, 0) : -1;
        int same = n >= 10;
        for (int i = 1; i < n && same; i++) same = mxb_dataset_label(D, i) == first;
        if (!line[0] && same)
            snprintf(line, sizeof line, "%s: all %d %s images have label %d (a label file of another kind? "
                     "docs/PAPER.md, the label trap)", R->rd[t]->labels[0] ? R->rd[t]->labels : R->rd[t]->data, n,
                     mxb_test_names[t], first);
        if (!line[0]) continue;
        fprintf(stderr, "mxb run: warning: %s\n", line);
        off += (size_t)snprintf(R->warnings + off, off < sizeof R->warnings ? sizeof R->warnings - off : 0, "%s%s",
                                off ? "\n" : "", line);
        if (off >= sizeof R->warnings) off = sizeof R->warnings - 1;
    }
}

/* ---- the (model, method) pairs a run skips ---------------------------------------- */

/* A method that does not support a model's family (methods/method.h `archs`: uia and
 * mambalrp are ViM-only, the LRP baselines ViT-only) is skipped for that model rather
 * than refusing the configuration, so one configuration can hold every method of both
 * families. Only a method that no configured model supports, or a model that none of
 * the methods supports, is an error. Skipped pairs go into R->res.skipped before
 * anything is sized from it (the memory estimate, the results arrays, the journal
 * record); said once on stderr unless --quiet. */
static int plan_pairs(mxb_run_state *R, const mxb_config *cfg, char *err, size_t errlen) {
    char said[1024] = "";
    int nskipped = 0;
    for (int k = 0; k < R->cfg.nmethods; k++) {
        const mxb_method *me = R->method[k];
        int ran = 0;
        for (int m = 0; m < R->cfg.nmodels; m++) {
            const int ok = (me->archs & (1u << cfg[m].arch)) != 0;
            R->res.skipped[m][k] = !ok;
            ran += ok;
            if (!ok && strlen(said) < sizeof said - 140)
                snprintf(said + strlen(said), sizeof said - strlen(said), "%s%s/%s", nskipped ? ", " : "",
                         R->cfg.models[m].name, R->cfg.methods[k].name);
            nskipped += !ok;
        }
        if (!ran) {
            char models[512] = "";
            for (int m = 0; m < R->cfg.nmodels; m++)
                snprintf(models + strlen(models), sizeof models - strlen(models), "%s%s (%s)", m ? ", " : "",
                         R->cfg.models[m].name, mxb_arch_name(cfg[m].arch));
            mxb_seterr(err, errlen, "%s: method '%s' supports none of the configured models: %s", R->cfg.path,
                     me->name, models);
            return -1;
        }
    }
    for (int m = 0; m < R->cfg.nmodels; m++) {
        int ran = 0;
        for (int k = 0; k < R->cfg.nmethods; k++) ran += !R->res.skipped[m][k];
        if (!ran) {
            mxb_seterr(err, errlen, "%s: model %s (%s) is supported by none of the configured methods", R->cfg.path,
                     R->cfg.models[m].name, mxb_arch_name(cfg[m].arch));
            return -1;
        }
    }
    if (nskipped && !R->quiet)
        fprintf(stderr, "mxb run: skipping %d (model, method) pair%s the method does not support: %s%s\n", nskipped,
                nskipped > 1 ? "s" : "", said, strlen(said) >= sizeof said - 140 ? ", ..." : "");
    return 0;
}

int mxb_run_nmethods(const mxb_run_state *R, int m) {
    int n = 0;
    for (int k = 0; k < R->cfg.nmethods; k++) n += !R->res.skipped[m][k];
    return n;
}

/* The parts of the estimate, from the same formulas as what set-up allocates: the
 * models' weights (shared) and save_attention's buffer, one image in flight (per model
 * its traced context and min(tps, 9) plain ones, and its buffers), and the results
 * arrays of both tests. */
typedef struct {
    unsigned long long models, slot, results;
    unsigned long long slot_alloc; /* of slot: the contexts and buffers slots_alloc takes (no method scratch) */
    const char *method; /* the method of the largest per-image need, and its scratch */
    size_t method_scratch;
} mem_parts;

static int tps_of(int nthreads, int n) { /* the threads inside one of n images in flight */
    int t = nthreads / n;
    return t < 1 ? 1 : t;
}
/* its plain contexts: one per perturbation step that runs at once (9 at most) */
static int nplain_of(int tps) { return tps > MXB_RES_STEPS - 1 ? MXB_RES_STEPS - 1 : tps; }

/* Saturating sums and products: a plugin's cost() may declare any size_t, and a wrapped
 * total would pass the limit and fail (or overrun) at the first image; saturated, it is
 * over any limit and the run is refused before any work. */
static unsigned long long sat_add(unsigned long long a, unsigned long long b) {
    unsigned long long r;
    return __builtin_add_overflow(a, b, &r) ? ULLONG_MAX : r;
}
static unsigned long long sat_mul(unsigned long long a, unsigned long long b) {
    unsigned long long r;
    return __builtin_mul_overflow(a, b, &r) ? ULLONG_MAX : r;
}

/* The buffers of one image in flight, walked once to count them (s NULL: the
 * estimate's bytes) and once to allocate them into s (slots_alloc), so the estimate
 * is what set-up takes, to the byte, as the engine's layout walk does for its
 * contexts (mxb_config_bytes: keep and plain). nc, grid2: the largest classes and
 * patch grid of the models. */
static unsigned long long slot_buffers(const mxb_run_state *R, int nplain, size_t nc, size_t grid2, mxb_run_slot *s) {
    const size_t npix = (size_t)R->size * R->size, f = sizeof(float), np = (size_t)nplain;
    const int insdel = R->cfg.insdel_step > 0;
    const size_t curves = insdel ? (size_t)mxb_run_insdel_forwards(R->size, R->cfg.insdel_step) : 0;
#define AT(member) offsetof(mxb_run_slot, member)
    const struct {
        size_t at, bytes;
        const char *what;
    } b[] = {
        {AT(u), 3 * npix * f, "the run's image"},
        {AT(x), 3 * npix * f, "the run's input"},
        {AT(work), np * 3 * npix * f, "the perturbed images"},
        {AT(step_logits), np * nc * f, "the perturbed logits"},
        {AT(vis), npix * f, "the evaluated map"},
        {AT(order), npix * sizeof(int32_t), "the pixel order"},
        {AT(rgb), 3 * npix, "the transformed image"},
        {AT(mask), npix, "the mask"},
        {AT(logits), nc * f, "the logits"},
        {AT(orig), nc * f, "the logits"},
        {AT(map), grid2 * f, "the map"},
        /* RISE insertion/deletion: the blurred image and the curves */
        {AT(blurred), insdel ? 3 * npix * f : 0, "the blurred image"},
        {AT(scores), curves * sizeof(double), "the insertion/deletion curves"},
        /* on a GPU: one batch of the protocols' images and their logits */
        {AT(batch), R->gpu >= 0 ? (size_t)MXB_RUN_GPU_BATCH * 3 * npix * f : 0, "the GPU batch"},
        {AT(batch_logits), R->gpu >= 0 ? (size_t)MXB_RUN_GPU_BATCH * nc * f : 0, "the GPU batch's logits"},
    };
#undef AT
    unsigned long long total = 0;
    for (size_t i = 0; i < sizeof b / sizeof *b; i++) {
        if (!b[i].bytes) continue; /* not this run's: stays NULL */
        total += b[i].bytes;
        if (s) { /* the member's pointer set with memcpy, whatever its type (float *, int32_t *, ...) */
            void *p = mxb_alloc(b[i].bytes, b[i].what);
            memcpy((char *)s + b[i].at, &p, sizeof p);
        }
    }
    return total;
}

static int memory_parts(mxb_run_state *R, const mxb_config *cfg, int n, mem_parts *P, char *err, size_t errlen) {
    unsigned long long models = 0, results = 0, slot = 0;
    const unsigned long long tps = (unsigned long long)nplain_of(tps_of(R->nthreads, n));
    mxb_results shape = {.nmodels = R->cfg.nmodels, .nmethods = R->cfg.nmethods, .keep_maps = R->cfg.save_maps,
                         .insdel_step = R->cfg.perturbation.enabled ? R->cfg.insdel_step : 0};
    memcpy(shape.skipped, R->res.skipped, sizeof shape.skipped); /* no arrays for a skipped pair */
    for (int m = 0; m < R->cfg.nmodels; m++) {
        size_t mb = 0, keep = 0, plain = 0;
        if (mxb_config_bytes(&cfg[m], &mb, &keep, &plain)) {
            mxb_seterr(err, errlen, "%s: cannot size model %s", R->cfg.path, R->cfg.models[m].name);
            return -1;
        }
        models += mb;
        slot += keep + tps * plain;
        shape.grid[m] = cfg[m].grid;
        /* save_attention: one image's [depth, heads or 2, L, L] at a time */
        unsigned long long L = (unsigned long long)cfg[m].seq_len;
        if (R->cfg.save_attention)
            models += (unsigned long long)cfg[m].depth * (cfg[m].arch == MXB_ARCH_VIT ? cfg[m].num_heads : 2) * L * L * 4 +
                      (cfg[m].arch == MXB_ARCH_VIM ? mxb_vim_attn_mean_scratch_bytes(cfg[m].seq_len, cfg[m].d_inner,
                                                                                     cfg[m].d_state, R->nthreads)
                                                   : 0);
    }
    for (int t = 0; t < MXB_NTESTS; t++)
        if (R->data[t]) results += mxb_results_test_bytes(&shape, t, mxb_dataset_size(R->data[t]));
    /* at the end the arrays, the in-memory results file and its image for write(2) */
    results *= 3;
    size_t nc = 0, grid2 = 0; /* what load_models makes max_classes and max_grid2 */
    for (int m = 0; m < R->cfg.nmodels; m++) {
        if ((size_t)cfg[m].num_classes > nc) nc = (size_t)cfg[m].num_classes;
        if ((size_t)cfg[m].num_patches > grid2) grid2 = (size_t)cfg[m].num_patches;
    }
    slot += slot_buffers(R, (int)tps, nc, grid2, NULL);
    P->slot_alloc = slot;
    /* method ABI v2: the largest per-image need of a method (one runs at a time in an image): its
     * declared scratch, a pixel map, the run's own buffers (mxb_explain_run_bytes); a method
     * whose params do not fit a model is refused here, before any image */
    unsigned long long method_bytes = 0;
    P->method = NULL, P->method_scratch = 0;
    for (int m = 0; m < R->cfg.nmodels; m++)
        for (int k = 0; k < R->cfg.nmethods; k++) {
            const mxb_method *me = R->method[k];
            if (me->abi_version < 2 || R->res.skipped[m][k]) continue;
            mxb_cost cost;
            const int crc = mxb_explain_cost(&cfg[m], me, R->cfg.methods[k].params, &cost);
            if (crc) {
                char why[800];
                mxb_explain_cost_why(&cfg[m], me, R->cfg.methods[k].params, crc, why, sizeof why);
                mxb_seterr(err, errlen, "%s: [method:%s] on model %s: %s", R->cfg.path, R->cfg.methods[k].name,
                       R->cfg.models[m].name, why);
                return -1;
            }
            const unsigned long long px = (unsigned long long)cfg[m].img_size * cfg[m].img_size;
            unsigned long long b = sat_add(cost.scratch_bytes, me->map_kind == MXB_MAP_PIXELS ? px * 4 : 0);
            if (me->needs & MXB_NEEDS_MODEL) b = sat_add(b, mxb_explain_run_bytes(&cfg[m])); /* the run's own buffers */
            if (b > method_bytes) method_bytes = b, P->method = me->name, P->method_scratch = cost.scratch_bytes;
        }
    slot = sat_add(slot, method_bytes); /* per image in flight: each explains on its own */
    P->models = models;
    P->slot = slot;
    P->results = results;
    return 0;
}

/* Refused before any large allocation when over the limit. Also picks the images in
 * flight (issue #13): --in-flight, else [run] images_in_flight, else auto = one image
 * per thread (no thread waits on another inside an image), as many as there are units
 * and as fit under the limit. More than the units would only cost memory. */
static int check_memory(mxb_run_state *R, const mxb_config *cfg, char *err, size_t errlen) {
    long units = 0;
    for (int t = 0; t < MXB_NTESTS; t++)
        if (R->data[t]) units += (long)R->cfg.nmodels * mxb_dataset_size(R->data[t]);
    int asked = R->in_flight_arg ? R->in_flight_arg : R->cfg.images_in_flight;
    if (asked > mxb_thread_bound()) { /* each image in flight is a thread of the outer team */
        fprintf(stderr, "mxb run: %d images in flight is over this machine's bound of %d threads; using %d\n", asked,
                mxb_thread_bound(), mxb_thread_bound());
        asked = mxb_thread_bound();
    }
    int n = asked ? asked : R->nthreads;
    if (n > units) n = units < 1 ? 1 : (int)units;
    const char *from;
    const unsigned long long limit = memory_limit_mb(R, &from) << 20;
    mem_parts P;
    for (;;) {
        if (memory_parts(R, cfg, n, &P, err, errlen)) return -1;
        if (sat_add(sat_add(P.models, P.results), sat_mul((unsigned long long)n, P.slot)) <= limit || asked || n == 1)
            break;
        n--; /* auto: fewer images in flight until it fits */
    }
    const unsigned long long total = sat_add(sat_add(P.models, P.results), sat_mul((unsigned long long)n, P.slot));
    if (total == ULLONG_MAX) { /* saturated: a declared size past any machine */
        mxb_seterr(err, errlen, "%s: this run needs more memory than 2^64 bytes (method '%s' declares %zu bytes of "
                 "scratch per image), over the limit of %llu MiB (%s)", R->cfg.path, P.method ? P.method : "?",
                 P.method_scratch, limit >> 20, from);
        return -1;
    }
    if (total > limit) {
        mxb_seterr(err, errlen,
                 "%s: this run needs about %.1f MiB (models %.1f, results %.1f, %d image%s in flight at %.1f each: "
                 "contexts and buffers), over the limit of %llu MiB (%s)%s",
                 R->cfg.path, total / 1048576.0, P.models / 1048576.0, P.results / 1048576.0, n, n > 1 ? "s" : "",
                 P.slot / 1048576.0, limit >> 20, from,
                 asked > 1 ? "; fewer images in flight (--in-flight, [run] images_in_flight) need less" : "");
        return -1;
    }
    R->in_flight = n;
    R->memory_mb = (total + (1 << 20) - 1) >> 20;
    R->slot_bytes = P.slot_alloc;
    return 0;
}

/* after peek_models, which has said which weights file is missing */
static int load_models(mxb_run_state *R, char *err, size_t errlen) {
    for (int m = 0; m < R->cfg.nmodels; m++) {
        const mxb_run_model *rm = &R->cfg.models[m];
        if (mxb_sha256_file(rm->weights, R->model_sha[m], err, errlen)) return -1;
        if (rm->sha256[0] && strcmp(rm->sha256, R->model_sha[m])) {
            mxb_seterr(err, errlen, "%s: SHA-256 is %s, the configuration ([model:%s] sha256) says %s", rm->weights,
                     R->model_sha[m], rm->name, rm->sha256);
            return -1;
        }
        if (mxb_model_load(rm->weights, &R->model[m], err, errlen)) return -1;
        const mxb_config *g = mxb_model_config(R->model[m]);
        if (m == 0) R->size = g->img_size;
        if (g->img_size != R->size) {
            mxb_seterr(err, errlen, "%s: model input is %d px, model %s's is %d px; one run needs one input size",
                     rm->weights, g->img_size, R->cfg.models[0].name, R->size);
            return -1;
        }
        if (g->num_classes > R->max_classes) R->max_classes = g->num_classes;
        if (g->num_patches > R->max_grid2) R->max_grid2 = g->num_patches;
        for (int k = 0; k < R->cfg.nmethods; k++) { /* plan_pairs read the same arch from the peek */
            const mxb_method *me = R->method[k];
            if (!R->res.skipped[m][k] && !(me->archs & (1u << g->arch))) {
                mxb_seterr(err, errlen, "%s: method '%s' does not support %s models (model %s)", R->cfg.path,
                         me->name, mxb_arch_name(g->arch), rm->name);
                return -1;
            }
        }
    }
    return 0;
}

static int load_methods(mxb_run_state *R, char *err, size_t errlen) {
    for (int k = 0; k < R->cfg.nmethods; k++) {
        const mxb_run_method *rm = &R->cfg.methods[k];
        /* plugin = FILE is always loaded (a plugin naming a built-in method is refused
         * as a duplicate there), once per file */
        int loaded = 0;
        for (int j = 0; j < k && !loaded; j++) loaded = !strcmp(R->cfg.methods[j].plugin, rm->plugin);
        if (rm->plugin[0] && !loaded && mxb_methods_load_plugin(rm->plugin, err, errlen)) return -1;
        const char *name = rm->base[0] ? rm->base : rm->name;
        if (!(R->method[k] = mxb_methods_find(name))) {
            if (rm->base[0])
                mxb_seterr(err, errlen, "%s: [method:%s] base = %s is not a known method (mxb methods lists them; "
                           "plugin = FILE loads one)", R->cfg.path, rm->name, rm->base);
            else
                mxb_seterr(err, errlen, "%s: [method:%s] is not a known method (mxb methods lists them; plugin = FILE "
                           "loads one; an alias names its method with base = NAME)", R->cfg.path, rm->name);
            return -1;
        }
        /* method ABI v2: [method:NAME] key = value against the method's param specs */
        mxb_run_method *wm = &R->cfg.methods[k];
        const char *kv[MXB_MAX_PARAMS];
        for (int j = 0; j < wm->nparam_kv; j++) kv[j] = wm->param_kv[j];
        char why[400];
        if (mxb_method_params_parse(R->method[k], kv, wm->nparam_kv, wm->param_values, why, sizeof why)) {
            mxb_seterr(err, errlen, "%s: [method:%s]: %s", R->cfg.path, rm->name, why);
            return -1;
        }
        wm->params = wm->param_values;
    }
    /* an alias's name is its own: [method:ixg] base = ig would put IG's maps under ixg's name */
    for (int k = 0; k < R->cfg.nmethods; k++) {
        const mxb_run_method *rm = &R->cfg.methods[k];
        if (rm->base[0] && strcmp(rm->base, rm->name) && mxb_methods_find(rm->name)) {
            mxb_seterr(err, errlen, "%s: [method:%s] base = %s: '%s' is another method's name (an alias needs a "
                       "name of its own)", R->cfg.path, rm->name, rm->base, rm->name);
            return -1;
        }
    }
    return 0;
}

/* [perturbation] maps = FILE: a results file holding, for every image of this run,
 * each model's and method's map (save_maps = yes) on the same grid. */
static int load_maps_source(mxb_run_state *R, char *err, size_t errlen) {
    const char *path = R->cfg.perturbation.maps;
    if (mxb_results_read(path, &R->maps_src, err, errlen)) return -1;
    R->have_maps_src = 1;
    const mxb_results *S = &R->maps_src;
    const mxb_res_test *ST = &S->test[MXB_TEST_PERTURBATION], *T = &R->res.test[MXB_TEST_PERTURBATION];
    if (!ST->enabled || !S->keep_maps) {
        mxb_seterr(err, errlen, "%s: holds no perturbation maps (run it with save_maps = yes)", path);
        return -1;
    }
    for (int m = 0; m < R->cfg.nmodels; m++) {
        int f = -1;
        for (int j = 0; j < S->nmodels; j++)
            if (!strcmp(S->models[j], R->cfg.models[m].name)) f = j;
        if (f < 0 || S->grid[f] != R->res.grid[m]) {
            mxb_seterr(err, errlen, "%s: no maps of model %s on its %dx%d grid", path, R->cfg.models[m].name,
                     R->res.grid[m], R->res.grid[m]);
            return -1;
        }
        R->maps_model[m] = f;
    }
    /* maps are only valid for the weights that made them: the source's provenance
     * must name this run's weights, model by model */
    const char *src_sha = mxb_results_attr(S, "models_sha256");
    for (int m = 0; m < R->cfg.nmodels; m++) {
        char want[160];
        snprintf(want, sizeof want, "%s=%s", R->cfg.models[m].name, R->model_sha[m]);
        const char *hit = src_sha ? strstr(src_sha, want) : NULL;
        size_t wl = strlen(want);
        if (!hit || (hit != src_sha && hit[-1] != ' ') || (hit[wl] && hit[wl] != ' ')) {
            mxb_seterr(err, errlen, "%s: its maps of model %s were made with other weights than %s "
                     "(provenance models_sha256 differs)", path, R->cfg.models[m].name, R->cfg.models[m].weights);
            return -1;
        }
    }
    for (int k = 0; k < R->cfg.nmethods; k++) {
        int f = -1;
        for (int j = 0; j < S->nmethods; j++)
            if (!strcmp(S->methods[j], R->cfg.methods[k].name)) f = j;
        if (f < 0) {
            mxb_seterr(err, errlen, "%s: no maps of method %s", path, R->cfg.methods[k].name);
            return -1;
        }
        for (int m = 0; m < R->cfg.nmodels; m++)
            if (!R->res.skipped[m][k] && S->skipped[R->maps_model[m]][f]) {
                mxb_seterr(err, errlen, "%s: no maps of method %s for model %s (that run skipped the pair)", path,
                         R->cfg.methods[k].name, R->cfg.models[m].name);
                return -1;
            }
        R->maps_method[k] = f;
    }
    R->maps_row = mxb_alloc((size_t)(T->n ? T->n : 1) * sizeof *R->maps_row, "the maps source's rows");
    for (int i = 0, j = 0; i < T->n; i++) { /* both ascending by dataset index */
        while (j < ST->n && ST->index[j] < T->index[i]) j++;
        if (j == ST->n || ST->index[j] != T->index[i]) {
            mxb_seterr(err, errlen, "%s: no map for image %s", path, T->ids[i]);
            return -1;
        }
        /* the same position in another dataset is another image */
        if (strcmp(ST->ids[j], T->ids[i])) {
            mxb_seterr(err, errlen, "%s: image %d is '%s' there but '%s' here (maps of other data)", path,
                     T->index[i], ST->ids[j], T->ids[i]);
            return -1;
        }
        R->maps_row[i] = j;
    }
    return 0;
}

int mxb_make_parents(const char *path, char *err, size_t errlen) {
    char buf[4200];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) && errno != EEXIST) {
            mxb_seterr(err, errlen, "%s: cannot create the folder %s", path, buf);
            return -1;
        }
        *p = '/';
    }
    return 0;
}

/* Each model on the run's GPU (mxb run --device, [run] device): its parameters copied
 * once, shared by the images in flight (mxb_gpu_forward takes turns), batches of up to
 * MXB_RUN_GPU_BATCH images. A GPU without the memory for them is a failure (1), not bad
 * input. */
static int gpu_models(mxb_run_state *R, char *err, size_t errlen) {
    char e[512];
    if (mxb_gpu_name(R->gpu, R->gpu_name, sizeof R->gpu_name)) snprintf(R->gpu_name, sizeof R->gpu_name, "GPU");
    for (int m = 0; m < R->cfg.nmodels; m++)
        if (mxb_gpu_new(R->model[m], R->gpu, MXB_RUN_GPU_BATCH, &R->gpu_model[m], e, sizeof e)) {
            mxb_seterr(err, errlen, "model %s on cuda:%d: %s", R->cfg.models[m].name, R->gpu, e);
            return -1;
        }
    return 0;
}

/* The slots: every per-image buffer (slot_buffers, the walk the estimate counts) and
 * engine context, sized by the checked configuration (check_memory counted in_flight
 * of them). The journal record is
 * run.c's (its codec is there). */
static int slots_alloc(mxb_run_state *R, char *err, size_t errlen) {
    R->slots = mxb_alloc0((size_t)R->in_flight, sizeof *R->slots, "the images in flight");
    for (int j = 0; j < R->in_flight; j++) {
        mxb_run_slot *s = &R->slots[j];
        s->nthreads = tps_of(R->nthreads, R->in_flight);
        s->nplain = nplain_of(s->nthreads);
        for (int m = 0; m < R->cfg.nmodels; m++) {
            s->traced[m] = mxb_ctx_new(R->model[m], MXB_TRACE_KEEP);
            for (int k = 0; k < s->nplain && s->traced[m]; k++)
                if (!(s->step_ctx[m][k] = mxb_ctx_new(R->model[m], MXB_TRACE_NONE))) break;
            if (!s->traced[m] || !s->step_ctx[m][s->nplain - 1]) {
                mxb_seterr(err, errlen, "%s: out of memory for the model's buffers (image in flight %d of %d)",
                         R->cfg.models[m].weights, j + 1, R->in_flight);
                return -1;
            }
        }
        /* what this slot took is what the estimate counted for it, to the byte: the
         * estimate is the same walks (mxb_config_bytes, slot_buffers), so a member added
         * to one side only is a bug of this file, caught by every run */
        unsigned long long took = slot_buffers(R, s->nplain, (size_t)R->max_classes, (size_t)R->max_grid2, s);
        for (int m = 0; m < R->cfg.nmodels; m++) {
            took += mxb_ctx_bytes(s->traced[m]);
            for (int k = 0; k < s->nplain; k++) took += mxb_ctx_bytes(s->step_ctx[m][k]);
        }
        MXB_ASSERT(took == R->slot_bytes);
    }
    return 0;
}

int mxb_run_setup(mxb_run_state *R, const char *config, const char *const *sets, int nsets, int *done,
                  char *err, size_t errlen) {
    *done = 0;
    if (mxb_run_config_load(config, sets, nsets, &R->cfg, err, errlen)) return 2;
    mxb_run_config *C = &R->cfg;
    if (R->shard_n > 1) {
        const char *dot = strrchr(C->output, '.');
        int stem = dot && !strcmp(dot, ".h5") ? (int)(dot - C->output) : (int)strlen(C->output);
        snprintf(R->output, sizeof R->output, "%.*s.shard-%d-of-%d.h5", stem, C->output, R->shard_i, R->shard_n);
    } else {
        snprintf(R->output, sizeof R->output, "%s", C->output);
    }
    snprintf(R->journal_path, sizeof R->journal_path, "%s.journal", R->output);
    if (mxb_make_parents(R->output, err, errlen)) return 2;
    R->nthreads = omp_get_max_threads();
    R->nthreads = R->nthreads < 1 ? 1 : R->nthreads;
    /* the device before the memory estimate (a GPU run's slots hold its batches); mxb
     * slurm's plan runs nothing here, so it asks no driver */
    R->gpu = -1;
    if (!R->plan_only) {
        const char *spec = R->device_arg ? R->device_arg : C->device[0] ? C->device : NULL;
        if (mxb_device_pick("run", R->device_arg ? "--device" : "[run] device =", spec, &R->gpu)) return 2;
    }
    /* configs first, data lists next, the memory estimate, and only then the weights */
    mxb_config peeked[MXB_MAX_MODELS];
    if (load_methods(R, err, errlen) || peek_models(R, peeked, err, errlen) || plan_pairs(R, peeked, err, errlen))
        return 2;
    for (int t = 0; t < MXB_NTESTS; t++)
        if (open_data(R, t, err, errlen)) return 2;
    if (check_labels(R, peeked, err, errlen)) return 2;
    check_data_fit(R, peeked);
    /* the transforms after the weights' checksums: a wrong file is named first */
    if (check_memory(R, peeked, err, errlen) || load_models(R, err, errlen) ||
        resolve_transforms(R, peeked, err, errlen))
        return 2;
    if (R->gpu >= 0 && gpu_models(R, err, errlen)) return 1;
    mxb_run_keys(R); /* the code key names the GPU */
    /* every input read so far (configuration, weights, labels, id lists, gtsegs, plugins)
     * was noted: neither the results file nor its journal may be one of them */
    if (mxb_output_check(R->output, err, errlen) || mxb_output_check(R->journal_path, err, errlen)) return 2;

    struct stat st;
    if (!R->plan_only && stat(R->output, &st) == 0) {
        mxb_results old;
        char e2[1024];
        if (mxb_results_read(R->output, &old, e2, sizeof e2) == 0) {
            const char *k = mxb_results_attr(&old, "run_key"), *sh = mxb_results_attr(&old, "shard");
            char want[32];
            snprintf(want, sizeof want, "%d/%d", R->shard_i, R->shard_n);
            int same = k && !strcmp(k, R->run_key) && sh && !strcmp(sh, want);
            if (same) {
                fprintf(stderr, "mxb run: %s is already complete for this configuration; remove it to run again\n",
                        R->output);
                mxb_report_print(&old, stdout, "md");
                mxb_results_free(&old);
                *done = 1;
                return 0;
            }
            /* the same configuration by other code: say so (never reused, issue 23) */
            const char *ck = mxb_results_attr(&old, "code_key");
            if (!ck || strcmp(ck, R->code_key)) {
                mxb_seterr(err, errlen, "%s exists and was made by another build of mxb or of a method's plugin, or "
                         "other parameters (its 'code' attribute says which); remove it to run again, or set [run] output",
                         R->output);
                mxb_results_free(&old);
                return 2;
            }
            mxb_results_free(&old);
        }
        mxb_seterr(err, errlen, "%s exists and is not the result of this configuration; remove it or set [run] output",
                 R->output);
        return 2;
    }

    /* results arrays */
    mxb_results *res = &R->res;
    res->nmodels = C->nmodels;
    res->nmethods = C->nmethods;
    for (int m = 0; m < C->nmodels; m++) {
        snprintf(res->models[m], 64, "%s", C->models[m].name);
        res->grid[m] = mxb_model_config(R->model[m])->grid;
    }
    for (int k = 0; k < C->nmethods; k++) snprintf(res->methods[k], 64, "%s", C->methods[k].name);
    res->keep_maps = C->save_maps;
    res->polarity[0] = C->perturbation.enabled && C->perturbation.positive;
    res->polarity[1] = C->perturbation.enabled && C->perturbation.negative;
    res->insdel_step = C->perturbation.enabled ? C->insdel_step : 0;
    res->auc_y_fraction = C->auc_fraction;
    res->auc_x_normalized = C->auc_x_normalized;
    for (int t = 0; t < MXB_NTESTS; t++) {
        if (!R->data[t]) continue;
        int n = mxb_dataset_size(R->data[t]);
        if (mxb_results_alloc_test(res, t, n, err, errlen)) return 1;
        res->test[t].size = R->size;
        for (int i = 0; i < n; i++) {
            res->test[t].index[i] = mxb_dataset_index(R->data[t], i);
            res->test[t].label[i] = mxb_dataset_label(R->data[t], i);
            res->test[t].ids[i] = mxb_strdup(mxb_dataset_id(R->data[t], i));
        }
    }
    if (C->perturbation.enabled && C->perturbation.maps[0] && load_maps_source(R, err, errlen)) return 2;
    return slots_alloc(R, err, errlen) ? 1 : 0;
}

void mxb_run_state_free(mxb_run_state *R) {
    for (int j = 0; R->slots && j < R->in_flight; j++) {
        mxb_run_slot *s = &R->slots[j];
        for (int m = 0; m < MXB_MAX_MODELS; m++) {
            mxb_ctx_free(s->traced[m]);
            for (int k = 0; k < MXB_RES_STEPS; k++) mxb_ctx_free(s->step_ctx[m][k]);
        }
        void *bufs[] = {s->u, s->x, s->blurred, s->map, s->vis, s->order, s->logits, s->orig,
                        s->work, s->step_logits, s->scores, s->rgb, s->mask, s->record, s->batch, s->batch_logits};
        for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    }
    free(R->slots);
    for (int m = 0; m < MXB_MAX_MODELS; m++) mxb_gpu_free(R->gpu_model[m]); /* before the models they copy */
    for (int m = 0; m < MXB_MAX_MODELS; m++) mxb_model_free(R->model[m]);
    for (int t = 0; t < MXB_NTESTS; t++) mxb_dataset_close(R->data[t]);
    if (R->journal) mxb_journal_close(R->journal, 0);
    mxb_results_free(&R->res);
    if (R->have_maps_src) mxb_results_free(&R->maps_src);
    free(R->maps_row);
    mxb_run_config_free(&R->cfg);
}
