/* mxb run: every model x method x test of a configuration into one results file.
 *
 * The unit of work is (test, model, image): one image explained by every method,
 * then evaluated. Each finished unit is appended to a journal beside the output
 * (OUTPUT.journal); a run that is killed and started again replays the journal and
 * goes on, and the results file is written in one go at the end (temporary name,
 * then rename), from arrays in dataset order. So an interrupted run and an
 * uninterrupted one write the same numbers, and no file that looks complete exists
 * before everything is in it. */
#include "harness/harness.h"

#include "metrics/metrics.h"
#include "results/results.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ERRLEN 1024

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static const char *test_names[MXB_NTESTS] = {"perturbation", "segmentation"};

typedef struct {
    mxb_run_config cfg;
    int shard_i, shard_n;
    char output[4200], journal_path[4300];
    mxb_model *model[MXB_MAX_MODELS];
    mxb_ctx *traced[MXB_MAX_MODELS], *plain[MXB_MAX_MODELS];
    /* perturbation steps run one per thread: step_ctx[m][0] is plain[m] */
    int nthreads;
    mxb_ctx *step_ctx[MXB_MAX_MODELS][MXB_RES_STEPS];
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
    /* per-unit buffers, allocated once */
    float *u, *x, *work, *logits, *orig, *map, *vis;
    float *step_logits;             /* [nthreads, max_classes]; work is [nthreads, 3, H, W] */
    int32_t *order;
    uint8_t *rgb, *mask;
    uint8_t *record;
    size_t record_cap;
    int max_classes, max_grid2;
} run_state;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void iso_time(char *buf, size_t n) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- set-up -------------------------------------------------------------------- */

static int open_data(run_state *R, int t, char *err, size_t errlen) {
    const mxb_run_data *d = t == MXB_TEST_PERTURBATION ? &R->cfg.perturbation : &R->cfg.segmentation;
    R->rd[t] = d;
    if (!d->enabled) return 0;
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
        snprintf(err, errlen, "%s: the %s data selection is empty", d->data, test_names[t]);
        return -1;
    }
    if (t == MXB_TEST_PERTURBATION && mxb_dataset_label(D, 0) < 0) {
        snprintf(err, errlen, "%s: the perturbation test needs class labels and this data has none", d->data);
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

unsigned mxb_preprocess_key_bit(const char *key) {
    static const char *const keys[] = {"resize", "square", "crop", "filter", "mean", "std"};
    for (unsigned i = 0; i < 6; i++)
        if (!strcmp(key, keys[i])) return 1u << i;
    return 0;
}

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
static int resolve_transforms(run_state *R, const mxb_config *cfg, char *err, size_t errlen) {
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
                snprintf(err, errlen, "%s: [%s] makes %d px inputs for model %s but it takes %d px (set resize/crop)",
                         R->cfg.path, test_names[t], mxb_preprocess_out_size(p), R->cfg.models[m].name, R->size);
                return -1;
            }
            if (p->size != p0->size || p->square != p0->square || p->crop != p0->crop || p->filter != p0->filter) {
                char g0[128], g1[128];
                geometry(p0, g0, sizeof g0);
                geometry(p, g1, sizeof g1);
                snprintf(err, errlen,
                         "%s: [%s] model %s's transform is %s, model %s's %s; one test needs one geometry "
                         "(set resize, square, crop and filter in [%s])",
                         R->cfg.path, test_names[t], R->cfg.models[0].name, g0, R->cfg.models[m].name, g1,
                         test_names[t]);
                return -1;
            }
        }
    }
    return 0;
}

/* ---- memory: estimated from the configuration before anything large is allocated ---- */

/* The limit: [run] max_memory_mb, else the environment's MXB_MAX_MEMORY_MB, else the
 * machine's physical memory. */
static unsigned long long memory_limit_mb(const run_state *R, const char **from) {
    if (R->cfg.max_memory_mb > 0) {
        *from = "[run] max_memory_mb";
        return (unsigned long long)R->cfg.max_memory_mb;
    }
    const char *e = getenv("MXB_MAX_MEMORY_MB");
    char *end;
    unsigned long long x = e && *e ? strtoull(e, &end, 10) : 0;
    if (x > 0 && !*end) {
        *from = "MXB_MAX_MEMORY_MB";
        return x;
    }
    *from = "the machine's memory; set [run] max_memory_mb or MXB_MAX_MEMORY_MB";
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (unsigned long long)pages * (unsigned long long)page >> 20 : ~0ull >> 20;
}

/* The models' configs (their root attributes only), checked for one input size. */
static int peek_models(run_state *R, mxb_config *cfg, char *err, size_t errlen) {
    for (int m = 0; m < R->cfg.nmodels; m++) {
        const mxb_run_model *rm = &R->cfg.models[m];
        struct stat st;
        if (stat(rm->weights, &st) != 0) {
            snprintf(err, errlen, "%s: no such weights file ([model:%s] weights in %s)", rm->weights, rm->name,
                     R->cfg.path);
            return -1;
        }
        if (mxb_model_peek(rm->weights, &cfg[m], err, errlen) || mxb_config_finish(&cfg[m], err, errlen))
            return -1;
        /* every sample is an RGB image: a model of other channels would read past it */
        if (cfg[m].in_chans != 3) {
            snprintf(err, errlen, "%s: the model takes %d input channels; mxb run feeds RGB images (3) ([model:%s])",
                     rm->weights, cfg[m].in_chans, rm->name);
            return -1;
        }
        if (m == 0) R->size = cfg[m].img_size;
        if (cfg[m].img_size != R->size) {
            snprintf(err, errlen, "%s: model input is %d px, model %s's is %d px; one run needs one input size",
                     rm->weights, cfg[m].img_size, R->cfg.models[0].name, R->size);
            return -1;
        }
    }
    return 0;
}

/* A label the models cannot predict would be scored as a miss on every image (a
 * 1-based label file, another label set): refused before any work. */
static int check_labels(run_state *R, const mxb_config *cfg, char *err, size_t errlen) {
    for (int t = 0; t < MXB_NTESTS; t++) {
        /* segmentation scores the mask, not the label, unless the label is explained */
        if (!R->data[t] || (t == MXB_TEST_SEGMENTATION && !R->cfg.use_target)) continue;
        for (int m = 0; m < R->cfg.nmodels; m++)
            for (int i = 0; i < mxb_dataset_size(R->data[t]); i++) {
                int label = mxb_dataset_label(R->data[t], i);
                if (label >= cfg[m].num_classes) {
                    snprintf(err, errlen,
                             "%s: image %s has label %d, but model %s has %d classes (0..%d; a 1-based label file?)",
                             R->rd[t]->labels[0] ? R->rd[t]->labels : R->rd[t]->data, mxb_dataset_id(R->data[t], i),
                             label, R->cfg.models[m].name, cfg[m].num_classes, cfg[m].num_classes - 1);
                    return -1;
                }
            }
    }
    return 0;
}

/* Models (parameters, one traced and nthreads plain contexts each), the results
 * arrays of both tests, and the run's per-image buffers; what mxb_cmd_run allocates
 * below, from the same formulas. Refused over the limit, with the parts named. */
static int check_memory(run_state *R, const mxb_config *cfg, char *err, size_t errlen) {
    unsigned long long models = 0, results = 0, buffers = 0;
    mxb_results shape = {.nmodels = R->cfg.nmodels, .nmethods = R->cfg.nmethods, .keep_maps = R->cfg.save_maps};
    for (int m = 0; m < R->cfg.nmodels; m++) {
        size_t mb = 0, keep = 0, plain = 0;
        if (mxb_config_bytes(&cfg[m], &mb, &keep, &plain)) {
            snprintf(err, errlen, "%s: cannot size model %s", R->cfg.path, R->cfg.models[m].name);
            return -1;
        }
        models += mb + keep + (unsigned long long)R->nthreads * plain;
        shape.grid[m] = cfg[m].grid;
        /* save_attention: one image's [depth, heads or 2, L, L] at a time */
        unsigned long long L = (unsigned long long)cfg[m].seq_len;
        if (R->cfg.save_attention)
            buffers += (unsigned long long)cfg[m].depth * (cfg[m].arch == MXB_ARCH_VIT ? cfg[m].num_heads : 2) * L * L * 4;
    }
    for (int t = 0; t < MXB_NTESTS; t++)
        if (R->data[t]) results += mxb_results_test_bytes(&shape, t, mxb_dataset_size(R->data[t]));
    /* at the end the arrays, the in-memory results file and its image for write(2) */
    results *= 3;
    unsigned long long npix = (unsigned long long)R->size * R->size;
    buffers += npix * (3 * 4 * 2 + 3 * 4 * (unsigned long long)R->nthreads + 4 + 4 + 3 + 1);
    const char *from;
    unsigned long long limit = memory_limit_mb(R, &from), total = models + results + buffers;
    if (total > (limit << 20)) {
        snprintf(err, errlen,
                 "%s: this run needs about %.1f MiB (models and their buffers %.1f, results %.1f, "
                 "per-image buffers %.1f), over the limit of %llu MiB (%s)",
                 R->cfg.path, total / 1048576.0, models / 1048576.0, results / 1048576.0, buffers / 1048576.0,
                 limit, from);
        return -1;
    }
    R->memory_mb = (total + (1 << 20) - 1) >> 20;
    return 0;
}

/* after peek_models, which has said which weights file is missing */
static int load_models(run_state *R, char *err, size_t errlen) {
    for (int m = 0; m < R->cfg.nmodels; m++) {
        const mxb_run_model *rm = &R->cfg.models[m];
        if (mxb_sha256_file(rm->weights, R->model_sha[m], err, errlen)) return -1;
        if (rm->sha256[0] && strcmp(rm->sha256, R->model_sha[m])) {
            snprintf(err, errlen, "%s: SHA-256 is %s, the configuration ([model:%s] sha256) says %s", rm->weights,
                     R->model_sha[m], rm->name, rm->sha256);
            return -1;
        }
        if (mxb_model_load(rm->weights, &R->model[m], err, errlen)) return -1;
        const mxb_config *g = mxb_model_config(R->model[m]);
        if (m == 0) R->size = g->img_size;
        if (g->img_size != R->size) {
            snprintf(err, errlen, "%s: model input is %d px, model %s's is %d px; one run needs one input size",
                     rm->weights, g->img_size, R->cfg.models[0].name, R->size);
            return -1;
        }
        R->traced[m] = mxb_ctx_new(R->model[m], MXB_TRACE_KEEP);
        R->plain[m] = mxb_ctx_new(R->model[m], MXB_TRACE_NONE);
        if (!R->traced[m] || !R->plain[m]) {
            snprintf(err, errlen, "%s: out of memory for the model's buffers", rm->weights);
            return -1;
        }
        R->step_ctx[m][0] = R->plain[m];
        for (int k = 1; k < R->nthreads; k++)
            if (!(R->step_ctx[m][k] = mxb_ctx_new(R->model[m], MXB_TRACE_NONE))) {
                snprintf(err, errlen, "%s: out of memory for the model's buffers", rm->weights);
                return -1;
            }
        if (g->num_classes > R->max_classes) R->max_classes = g->num_classes;
        if (g->num_patches > R->max_grid2) R->max_grid2 = g->num_patches;
        for (int k = 0; k < R->cfg.nmethods; k++) {
            const mxb_method *me = R->method[k];
            if (!(me->archs & (1u << g->arch))) {
                snprintf(err, errlen, "%s: method '%s' does not support %s models (model %s)", R->cfg.path,
                         me->name, mxb_arch_name(g->arch), rm->name);
                return -1;
            }
        }
    }
    return 0;
}

static int load_methods(run_state *R, char *err, size_t errlen) {
    for (int k = 0; k < R->cfg.nmethods; k++) {
        const mxb_run_method *rm = &R->cfg.methods[k];
        /* plugin = FILE is always loaded (a plugin naming a built-in method is refused
         * as a duplicate there), once per file */
        int loaded = 0;
        for (int j = 0; j < k && !loaded; j++) loaded = !strcmp(R->cfg.methods[j].plugin, rm->plugin);
        if (rm->plugin[0] && !loaded && mxb_methods_load_plugin(rm->plugin, err, errlen)) return -1;
        if (!(R->method[k] = mxb_methods_find(rm->name))) {
            snprintf(err, errlen, "%s: [method:%s] is not a known method (mxb methods lists them; plugin = FILE loads one)",
                     R->cfg.path, rm->name);
            return -1;
        }
    }
    return 0;
}

/* [perturbation] maps = FILE: a results file holding, for every image of this run,
 * each model's and method's map (save_maps = yes) on the same grid. */
static int load_maps_source(run_state *R, char *err, size_t errlen) {
    const char *path = R->cfg.perturbation.maps;
    if (mxb_results_read(path, &R->maps_src, err, errlen)) return -1;
    R->have_maps_src = 1;
    const mxb_results *S = &R->maps_src;
    const mxb_res_test *ST = &S->test[MXB_TEST_PERTURBATION], *T = &R->res.test[MXB_TEST_PERTURBATION];
    if (!ST->enabled || !S->keep_maps) {
        snprintf(err, errlen, "%s: holds no perturbation maps (run it with save_maps = yes)", path);
        return -1;
    }
    for (int m = 0; m < R->cfg.nmodels; m++) {
        int f = -1;
        for (int j = 0; j < S->nmodels; j++)
            if (!strcmp(S->models[j], R->cfg.models[m].name)) f = j;
        if (f < 0 || S->grid[f] != R->res.grid[m]) {
            snprintf(err, errlen, "%s: no maps of model %s on its %dx%d grid", path, R->cfg.models[m].name,
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
            snprintf(err, errlen, "%s: its maps of model %s were made with other weights than %s "
                     "(provenance models_sha256 differs)", path, R->cfg.models[m].name, R->cfg.models[m].weights);
            return -1;
        }
    }
    for (int k = 0; k < R->cfg.nmethods; k++) {
        int f = -1;
        for (int j = 0; j < S->nmethods; j++)
            if (!strcmp(S->methods[j], R->cfg.methods[k].name)) f = j;
        if (f < 0) {
            snprintf(err, errlen, "%s: no maps of method %s", path, R->cfg.methods[k].name);
            return -1;
        }
        R->maps_method[k] = f;
    }
    R->maps_row = malloc((size_t)(T->n ? T->n : 1) * sizeof *R->maps_row);
    if (!R->maps_row) return snprintf(err, errlen, "out of memory"), -1;
    for (int i = 0, j = 0; i < T->n; i++) { /* both ascending by dataset index */
        while (j < ST->n && ST->index[j] < T->index[i]) j++;
        if (j == ST->n || ST->index[j] != T->index[i]) {
            snprintf(err, errlen, "%s: no map for image %s", path, T->ids[i]);
            return -1;
        }
        /* the same position in another dataset is another image */
        if (strcmp(ST->ids[j], T->ids[i])) {
            snprintf(err, errlen, "%s: image %d is '%s' there but '%s' here (maps of other data)", path,
                     T->index[i], ST->ids[j], T->ids[i]);
            return -1;
        }
        R->maps_row[i] = j;
    }
    return 0;
}

/* ---- one unit ------------------------------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t off;
} cursor;

/* A cursor with p == NULL only counts: that is how the record's size is known. */
static void put(cursor *c, void *v, size_t n) {
    if (c->p) memcpy(c->p + c->off, v, n);
    c->off += n;
}

static void get(cursor *c, void *v, size_t n) {
    memcpy(v, c->p + c->off, n);
    c->off += n;
}

/* The record and the results arrays hold the same fields: one function moves them
 * either way, so the two can never disagree. */
static void transfer(run_state *R, int t, int m, int i, cursor *c, int to_record) {
    void (*mv)(cursor *, void *, size_t) = to_record ? put : get;
    mxb_res_test *T = &R->res.test[t];
    size_t g2 = (size_t)R->res.grid[m] * (size_t)R->res.grid[m];
    mv(c, &T->pred[m][i], sizeof(int32_t));
    for (int k = 0; k < R->cfg.nmethods; k++) {
        mxb_res_cell *cell = &T->cell[m][k];
        mv(c, &cell->explained[i], sizeof(int32_t));
        if (cell->maps) mv(c, cell->maps + i * g2, g2 * sizeof(float));
        if (t == MXB_TEST_PERTURBATION) {
            for (int q = 0; q < 2; q++) {
                mv(c, cell->hits[q] + i * MXB_RES_STEPS, MXB_RES_STEPS * sizeof(int32_t));
                mv(c, cell->logit_diff[q] + i * MXB_RES_STEPS, MXB_RES_STEPS * sizeof(float));
                mv(c, cell->prob_diff[q] + i * MXB_RES_STEPS, MXB_RES_STEPS * sizeof(float));
            }
        } else {
            mv(c, cell->seg_counts + (size_t)i * MXB_SEG_COUNTS, MXB_SEG_COUNTS * sizeof(int32_t));
            mv(c, &cell->ap[i], sizeof(double));
            mv(c, &cell->f1[i], sizeof(double));
            mv(c, &cell->pointing[i], sizeof(int32_t));
        }
    }
}

/* head (test, model, row, dataset index, label, reserved), seconds, then transfer()'s fields */
static size_t record_size(run_state *R, int t, int m) {
    cursor c = {NULL, 6 * sizeof(int32_t) + sizeof(double)};
    transfer(R, t, m, 0, &c, 1);
    return c.off;
}

/* The image as the model sees it: u the un-normalised [0, 1] CHW (what the
 * perturbation test masks), x the normalised input. */
static int load_image(run_state *R, int t, int m, int i, mxb_sample *s, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    if (mxb_dataset_get(R->data[t], i, s, err, errlen)) return -1;
    const mxb_preprocess *p = &R->pre[t][m];
    int S = R->size;
    if (mxb_preprocess_image(p, s->rgb, s->h, s->w, R->rgb, NULL, err, errlen)) {
        char msg[ERRLEN];
        snprintf(msg, sizeof msg, "%s: image %s: %s", R->rd[t]->data, s->id, err);
        snprintf(err, errlen, "%s", msg);
        goto fail;
    }
    mxb_to_tensor(R->rgb, S, S, NULL, NULL, R->u);
    memcpy(R->x, R->u, (size_t)3 * S * S * sizeof(float));
    mxb_normalize(R->x, S, S, p->mean, p->std);
    if (t == MXB_TEST_SEGMENTATION) {
        if (!s->mask) {
            snprintf(err, errlen, "%s: image %s has no mask", R->rd[t]->data, s->id);
            goto fail;
        }
        if (mxb_preprocess_mask(p, s->mask, s->h, s->w, R->mask, err, errlen)) {
            char msg[ERRLEN];
            snprintf(msg, sizeof msg, "%s: image %s: %s", R->rd[t]->data, s->id, err);
            snprintf(err, errlen, "%s", msg);
            goto fail;
        }
    }
    return 0;
fail:
    mxb_sample_free(s);
    return -1;
}

static void classify(run_state *R, int m, const float *normalised, float *logits) {
    mxb_forward(R->plain[m], normalised, logits);
}

static int run_unit(run_state *R, int t, int m, int i, char *err, size_t errlen) {
    const mxb_config *g = mxb_model_config(R->model[m]);
    mxb_res_test *T = &R->res.test[t];
    const int S = R->size, npix = S * S, nc = g->num_classes;
    const size_t g2 = (size_t)g->num_patches;
    const mxb_preprocess *p = &R->pre[t][m];
    mxb_sample s;
    double t0 = now_s();
    if (load_image(R, t, m, i, &s, err, errlen)) return -1;
    int label = T->label[i];
    if (t == MXB_TEST_PERTURBATION) classify(R, m, R->x, R->orig);
    for (int k = 0; k < R->cfg.nmethods; k++) {
        if (stop_requested) break;
        mxb_res_cell *cell = &T->cell[m][k];
        mxb_explain_opts eo = {R->cfg.use_target ? label : -1, R->cfg.variant, R->cfg.methods[k].start_layer};
        if (R->cfg.use_target && label < 0) {
            snprintf(err, errlen, "%s: image %s has no label to explain ([run] class = target)", R->rd[t]->data, s.id);
            mxb_sample_free(&s);
            return -1;
        }
        int cls;
        if (t == MXB_TEST_PERTURBATION && R->have_maps_src) {
            /* the reference's two stages: maps made earlier, only the perturbation here */
            const mxb_res_cell *src = &R->maps_src.test[t].cell[R->maps_model[m]][R->maps_method[k]];
            const int row = R->maps_row[i];
            memcpy(R->map, src->maps + (size_t)row * g2, g2 * sizeof(float));
            memcpy(R->logits, R->orig, (size_t)nc * sizeof(float));
            cls = src->explained[row];
        } else if (mxb_explain_one(R->traced[m], R->model[m], R->method[k], R->x, &eo, R->logits, &cls, R->map, err,
                            errlen)) {
            char msg[ERRLEN];
            snprintf(msg, sizeof msg, "%s (model %s, image %s)", err, R->cfg.models[m].name, s.id);
            snprintf(err, errlen, "%s", msg);
            mxb_sample_free(&s);
            return -1;
        }
        if (k == 0) T->pred[m][i] = mxb_argmax(R->logits, nc);
        cell->explained[i] = cls;
        if (cell->maps) memcpy(cell->maps + i * g2, R->map, g2 * sizeof(float));
        /* as the references store `vis`: bilinear x patch, then min-max (NaN when flat) */
        mxb_upsample_bilinear(R->map, g->grid, g->grid, g->patch_size, R->vis);
        mxb_minmax_normalize(R->vis, (size_t)npix);
        if (t == MXB_TEST_PERTURBATION) {
            for (int q = 0; q < 2; q++) {
                if (!R->res.polarity[q]) continue;
                if (mxb_perturb_order(R->vis, npix, q == MXB_NEGATIVE, R->order, err, errlen)) {
                    mxb_sample_free(&s);
                    return -1;
                }
                /* The steps are independent forwards, one per thread (OpenBLAS runs
                 * serially inside an OpenMP region, so the cores are not oversubscribed);
                 * every step's numbers land in its own slots: the same results whatever
                 * the thread count. */
#pragma omp parallel for schedule(dynamic, 1) num_threads(R->nthreads)
                for (int step = 0; step < MXB_RES_STEPS; step++) {
                    const int tid = omp_get_thread_num();
                    const float *lg = R->orig;
                    if (step > 0) {
                        float *work = R->work + (size_t)tid * 3 * npix;
                        float *logits = R->step_logits + (size_t)tid * R->max_classes;
                        memcpy(work, R->u, (size_t)3 * npix * sizeof(float));
                        mxb_perturb_mask(work, 3, npix, R->order, mxb_perturb_count(npix, step));
                        mxb_normalize(work, S, S, p->mean, p->std);
                        mxb_forward(R->step_ctx[m][tid], work, logits);
                        lg = logits;
                    }
                    mxb_perturb_outcome o;
                    mxb_perturb_outcome_of(lg, R->orig, nc, label, &o);
                    cell->hits[q][i * MXB_RES_STEPS + step] = o.hit;
                    cell->logit_diff[q][i * MXB_RES_STEPS + step] = (float)o.logit_diff;
                    cell->prob_diff[q][i * MXB_RES_STEPS + step] = (float)o.prob_diff;
                }
            }
        } else {
            mxb_seg_image im;
            if (mxb_seg_evaluate(R->vis, R->mask, S, S, &im, err, errlen)) {
                char msg[ERRLEN];
                snprintf(msg, sizeof msg, "%s: image %s: %s", R->rd[t]->data, s.id, err);
                snprintf(err, errlen, "%s", msg);
                mxb_sample_free(&s);
                return -1;
            }
            int32_t *cnt = cell->seg_counts + (size_t)i * MXB_SEG_COUNTS;
            cnt[0] = (int32_t)im.correct;
            cnt[1] = (int32_t)im.labeled;
            cnt[2] = (int32_t)im.inter[0];
            cnt[3] = (int32_t)im.inter[1];
            cnt[4] = (int32_t)im.uni[0];
            cnt[5] = (int32_t)im.uni[1];
            cell->ap[i] = im.ap;
            cell->f1[i] = im.f1;
            cell->pointing[i] = mxb_pointing_game(R->vis, R->mask, S, S, R->cfg.pointing_tolerance * S / 224.0);
        }
    }
    mxb_sample_free(&s);
    if (stop_requested) return 1; /* the unit is dropped, not recorded half-done */
    /* the record: (test, model, row, dataset index, label, reserved), seconds, fields */
    double secs = now_s() - t0;
    cursor c = {R->record, 0};
    int32_t head[6] = {t, m, i, T->index[i], label, 0};
    put(&c, head, sizeof head);
    put(&c, &secs, sizeof secs);
    transfer(R, t, m, i, &c, 1);
    if (R->journal && mxb_journal_append(R->journal, R->record, (uint32_t)c.off, err, errlen)) return -1;
    T->done[m][i] = 1;
    R->seconds[t] += secs;
    return 0;
}

static int replay(void *user, const void *payload, uint32_t n) {
    run_state *R = user;
    int32_t head[6];
    double secs;
    if (n < sizeof head + sizeof secs) return 1;
    cursor c = {(uint8_t *)payload, 0};
    get(&c, head, sizeof head);
    get(&c, &secs, sizeof secs);
    int t = head[0], m = head[1], i = head[2];
    if (t < 0 || t >= MXB_NTESTS || !R->res.test[t].enabled || m < 0 || m >= R->cfg.nmodels || i < 0 ||
        i >= R->res.test[t].n || R->res.test[t].index[i] != head[3] || n != record_size(R, t, m))
        return 1; /* not a record of this run: stop here, the rest is redone */
    transfer(R, t, m, i, &c, 0);
    R->res.test[t].done[m][i] = 1;
    R->seconds[t] += secs;
    return 0;
}

/* ---- finishing ------------------------------------------------------------------- */

typedef struct {
    run_state *R;
} extra_ctx;

/* Attention tensors of the first save_attention images of each test, recomputed
 * (deterministically) rather than journalled: they are large. */
static int write_attention(mxb_h5out *o, void *user, char *err, size_t errlen) {
    run_state *R = ((extra_ctx *)user)->R;
    int want = R->cfg.save_attention;
    if (!want) return 0;
    for (int t = 0; t < MXB_NTESTS; t++) {
        if (!R->res.test[t].enabled) continue;
        int n = R->res.test[t].n < want ? R->res.test[t].n : want;
        for (int i = 0; i < n; i++) {
            for (int m = 0; m < R->cfg.nmodels; m++) {
                const mxb_config *g = mxb_model_config(R->model[m]);
                mxb_sample s; /* each model's own normalisation */
                if (load_image(R, t, m, i, &s, err, errlen)) return -1;
                mxb_sample_free(&s);
                char what[160];
                snprintf(what, sizeof what, "attention %s/%s", test_names[t], R->cfg.models[m].name);
                mxb_progress_show(&R->stage, what, R->stage.done + 1);
                mxb_forward(R->traced[m], R->x, R->logits);
                char name[512];
                snprintf(name, sizeof name, "/attention/%s/%s/%d", test_names[t], R->cfg.models[m].name,
                         R->res.test[t].index[i]);
                const int64_t L = g->seq_len;
                if (g->arch == MXB_ARCH_VIT) {
                    int64_t dims[4] = {g->depth, g->num_heads, L, L};
                    size_t blk = (size_t)(g->num_heads * L * L);
                    float *all = malloc((size_t)g->depth * blk * sizeof *all);
                    if (!all) return snprintf(err, errlen, "out of memory"), -1;
                    for (int b = 0; b < g->depth; b++) memcpy(all + b * blk, mxb_vit_attn(R->traced[m], b), blk * sizeof *all);
                    int rc = mxb_h5out_write(o, name, MXB_H5_F32, all, 4, dims, 1, err, errlen);
                    if (!rc) rc = mxb_h5out_attr_str(o, name, "layout", "[layer, head, L, L] softmax attention, row: query token, column: key token, class token at 0", err, errlen);
                    free(all);
                    if (rc) return -1;
                } else {
                    int64_t dims[4] = {g->depth, 2, L, L};
                    size_t blk = (size_t)(L * L);
                    float *all = malloc((size_t)g->depth * 2 * blk * sizeof *all);
                    if (!all) return snprintf(err, errlen, "out of memory"), -1;
                    int rc = 0;
                    for (int l = 0; l < g->depth && !rc; l++)
                        for (int d = 0; d < 2 && !rc; d++)
                            rc = mxb_vim_hidden_attn_mean(R->traced[m], l, d, 1, all + (size_t)(2 * l + d) * blk);
                    if (rc) snprintf(err, errlen, "hidden attention of model %s failed (out of memory?)", R->cfg.models[m].name);
                    if (!rc) rc = mxb_h5out_write(o, name, MXB_H5_F32, all, 4, dims, 1, err, errlen);
                    if (!rc) rc = mxb_h5out_attr_str(o, name, "layout", "[layer, direction (0 forward, 1 backward), L, L] channel mean, exact, image order", err, errlen);
                    free(all);
                    if (rc) return -1;
                }
            }
        }
    }
    return 0;
}

static int keep_figures(run_state *R, char *err, size_t errlen) {
    for (int t = 0; t < MXB_NTESTS; t++) {
        mxb_res_test *T = &R->res.test[t];
        if (!T->enabled) continue;
        int n = T->n < R->cfg.figures ? T->n : R->cfg.figures;
        size_t im = (size_t)R->size * R->size * 3;
        T->fig_index = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
        T->fig_rgb = malloc((n ? n : 1) * im);
        if (!T->fig_index || !T->fig_rgb) return snprintf(err, errlen, "out of memory"), -1;
        for (int i = 0; i < n; i++) {
            mxb_sample s;
            if (load_image(R, t, 0, i, &s, err, errlen)) return -1; /* one geometry per test */
            mxb_sample_free(&s);
            T->fig_index[i] = T->index[i];
            memcpy(T->fig_rgb + i * im, R->rgb, im);
        }
        T->nfig = n;
    }
    return 0;
}

static void set_provenance(run_state *R, const char *started) {
    mxb_results *r = &R->res;
    char buf[4096], host[256] = "";
    gethostname(host, sizeof host - 1);
    mxb_results_set_attr(r, "mxb_version", MXB_VERSION);
    mxb_results_set_attr(r, "git_revision", MXB_GIT_REV);
    mxb_results_set_attr(r, "blas", mxb_blas_describe());
    mxb_results_set_attr(r, "config", R->cfg.text);
    mxb_results_set_attr(r, "config_path", R->cfg.path);
    mxb_results_set_attr(r, "run_key", R->run_key);
    mxb_results_set_attr(r, "host", host);
    snprintf(buf, sizeof buf, "%d", omp_get_max_threads());
    mxb_results_set_attr(r, "threads", buf);
    mxb_results_set_attr(r, "started", started);
    iso_time(buf, sizeof buf);
    mxb_results_set_attr(r, "finished", buf);
    snprintf(buf, sizeof buf, "%d/%d", R->shard_i, R->shard_n);
    mxb_results_set_attr(r, "shard", buf);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)R->cfg.seed);
    mxb_results_set_attr(r, "seed", buf);
    mxb_results_set_attr(r, "variant", R->cfg.variant == MXB_VARIANT_EXACT ? "exact" : "official");
    mxb_results_set_attr(r, "class", R->cfg.use_target ? "target" : "predicted");
    for (int t = 0; t < MXB_NTESTS; t++)
        if (R->res.test[t].enabled) {
            char name[64];
            snprintf(name, sizeof name, "data_sha256_%s", test_names[t]);
            mxb_results_set_attr(r, name, R->data_sha[t]);
            snprintf(name, sizeof name, "selected_%s", test_names[t]); /* before sharding: merge checks it */
            snprintf(buf, sizeof buf, "%d", R->selected[t]);
            mxb_results_set_attr(r, name, buf);
        }
    size_t off = 0;
    buf[0] = 0;
    for (int m = 0; m < R->cfg.nmodels; m++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s=%s", m ? " " : "", R->cfg.models[m].name, R->model_sha[m]);
    mxb_results_set_attr(r, "models_sha256", buf);
    /* the input transform each model got (its weights file's, under the config's keys) */
    off = 0;
    buf[0] = 0;
    for (int t = 0; t < MXB_NTESTS; t++)
        for (int m = 0; R->res.test[t].enabled && m < R->cfg.nmodels && off < sizeof buf; m++) {
            char d[256];
            mxb_preprocess_describe(&R->pre[t][m], d, sizeof d);
            off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s %s: %s", off ? "; " : "", test_names[t],
                                    R->cfg.models[m].name, d);
        }
    mxb_results_set_attr(r, "transforms", buf);
    snprintf(buf, sizeof buf, "perturbation=%.3f segmentation=%.3f (seconds of work, summed over resumes)",
             R->seconds[0], R->seconds[1]);
    mxb_results_set_attr(r, "timings", buf);
}

/* ---- the command ------------------------------------------------------------------ */

int mxb_make_parents(const char *path, char *err, size_t errlen) {
    char buf[4200];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) && errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot create the folder %s", path, buf);
            return -1;
        }
        *p = '/';
    }
    return 0;
}

/* --estimate: a few images of every test x model, timed as the run times them, and the
 * projection to the whole configuration; nothing is written. */
#define ESTIMATE_IMAGES 3
static int estimate(run_state *R, double within_h, char *err, size_t errlen) {
    double total = 0;
    printf("mxb run --estimate: %s, %d threads, BLAS %s\n", R->cfg.path, omp_get_max_threads(), mxb_blas_describe());
    for (int t = 0; t < MXB_NTESTS; t++)
        for (int m = 0; R->res.test[t].enabled && m < R->cfg.nmodels; m++) {
            const int n = R->res.test[t].n, k = n < ESTIMATE_IMAGES ? n : ESTIMATE_IMAGES;
            double s[ESTIMATE_IMAGES];
            for (int i = 0; i < k; i++) {
                const double t0 = now_s();
                if (run_unit(R, t, m, i, err, errlen)) return 1;
                s[i] = now_s() - t0;
            }
            /* the median: the first image also pays for first-touch of the buffers */
            for (int a = 0; a < k; a++)
                for (int b = a + 1; b < k; b++)
                    if (s[b] < s[a]) { const double x = s[a]; s[a] = s[b]; s[b] = x; }
            const double per = k ? s[k / 2] : 0;
            total += per * n;
            printf("  %s · %s: %d images timed, %.4g s/image x %d images = %.4g h\n", test_names[t],
                   R->cfg.models[m].name, k, per, n, per * n / 3600);
        }
    const long shards = (long)(total / (within_h * 3600)) + 1;
    printf("  total: %.4g h (%.4g s) on this machine%s; under %.4g h: --shard I/N with N >= %ld (one such machine each)\n",
           total / 3600, total, R->shard_n > 1 ? " (this shard)" : "", within_h, shards);
    return 0;
}

static void run_usage(FILE *f) {
    fprintf(f,
            "usage: mxb run CONFIG.ini [--set section.key=value]... [--shard I/N] [--quiet]\n"
            "  Runs every model x method x test of the configuration (configs/README.md)\n"
            "  into one HDF5 results file (results/SCHEMA.md) and prints the tables.\n"
            "  --set S.K=V      override a configuration key (recorded in the results)\n"
            "  --shard I/N      do the I-th of N interleaved slices (0 <= I < N); the output\n"
            "                   becomes OUTPUT.shard-I-of-N.h5; `mxb merge` joins them\n"
            "  --quiet          no progress on stderr (otherwise: a line redrawn on a terminal,\n"
            "                   a plain line every 5 s or 10 %% in a log; MXB_PROGRESS_SECONDS)\n"
            "  --estimate[=H]   time a few images, print the projected wall time of the whole\n"
            "                   configuration and the --shard count that brings it under H\n"
            "                   hours (24); writes nothing\n"
            "  A run that stops (Ctrl-C, kill, crash) resumes when started again with the\n"
            "  same command; its progress is in OUTPUT.journal until the file is written.\n");
}

static void free_state(run_state *R) {
    for (int m = 0; m < MXB_MAX_MODELS; m++) {
        mxb_ctx_free(R->traced[m]);
        mxb_ctx_free(R->plain[m]);
        for (int k = 1; k < MXB_RES_STEPS; k++) mxb_ctx_free(R->step_ctx[m][k]);
        mxb_model_free(R->model[m]);
    }
    for (int t = 0; t < MXB_NTESTS; t++) mxb_dataset_close(R->data[t]);
    if (R->journal) mxb_journal_close(R->journal, 0);
    mxb_results_free(&R->res);
    if (R->have_maps_src) mxb_results_free(&R->maps_src);
    free(R->maps_row);
    mxb_run_config_free(&R->cfg);
    free(R->u);
    free(R->x);
    free(R->work);
    free(R->step_logits);
    free(R->logits);
    free(R->orig);
    free(R->map);
    free(R->vis);
    free(R->order);
    free(R->rgb);
    free(R->mask);
    free(R->record);
}

int mxb_cmd_run(int argc, char **argv) {
    const char *sets[64], *shard_arg = NULL, *pos[1];
    int nsets = 0, quiet = 0, npos = 0, code = 1;
    double within_h = 24;
    char err[ERRLEN] = "";
    mxb_opt opts[] = {MXB_OPT_L("set", sets, &nsets, 64), MXB_OPT_S("shard", &shard_arg), MXB_OPT_F("quiet", &quiet),
                      MXB_OPT_DO("estimate", &within_h, 1e-12, 1e6), MXB_OPT_END};
    int prc = mxb_opts_parse("run", argc, argv, opts, pos, 1, &npos, run_usage);
    if (prc) return prc == 1 ? 0 : 2;
    const int want_estimate = mxb_opt_seen(opts, "estimate");
    if (npos != 1) return mxb_usage_error("run", "no configuration file");
    run_state *R = calloc(1, sizeof *R);
    if (!R) return fprintf(stderr, "mxb run: out of memory\n"), 1;
    R->shard_n = 1;
    R->quiet = quiet;
    if (shard_arg) {
        const char *slash = strchr(shard_arg, '/');
        char num[32];
        long i = -1, n = 0;
        snprintf(num, sizeof num, "%.*s", slash ? (int)(slash - shard_arg) : 0, shard_arg);
        if (!slash || (size_t)(slash - shard_arg) >= sizeof num || mxb_parse_long(num, 0, 99999, &i) ||
            mxb_parse_long(slash + 1, 1, 100000, &n) || i >= n) {
            free(R);
            return mxb_usage_error("run", "--shard: '%s' is not I/N with 0 <= I < N", shard_arg);
        }
        R->shard_i = (int)i;
        R->shard_n = (int)n;
    }
    char started[64];
    iso_time(started, sizeof started);
    double t_start = now_s();
    if (mxb_run_config_load(pos[0], sets, nsets, &R->cfg, err, sizeof err)) {
        code = 2;
        goto out;
    }
    mxb_run_config *C = &R->cfg;
    if (R->shard_n > 1) {
        const char *dot = strrchr(C->output, '.');
        int stem = dot && !strcmp(dot, ".h5") ? (int)(dot - C->output) : (int)strlen(C->output);
        snprintf(R->output, sizeof R->output, "%.*s.shard-%d-of-%d.h5", stem, C->output, R->shard_i, R->shard_n);
    } else {
        snprintf(R->output, sizeof R->output, "%s", C->output);
    }
    snprintf(R->journal_path, sizeof R->journal_path, "%s.journal", R->output);
    code = 2;
    if (mxb_make_parents(R->output, err, sizeof err)) goto out;
    R->nthreads = omp_get_max_threads();
    R->nthreads = R->nthreads < 1 ? 1 : R->nthreads > MXB_RES_STEPS - 1 ? MXB_RES_STEPS - 1 : R->nthreads;
    /* configs first, data lists next, the memory estimate, and only then the weights */
    mxb_config peeked[MXB_MAX_MODELS];
    if (load_methods(R, err, sizeof err) || peek_models(R, peeked, err, sizeof err)) goto out;
    for (int t = 0; t < MXB_NTESTS; t++)
        if (open_data(R, t, err, sizeof err)) goto out;
    if (check_labels(R, peeked, err, sizeof err)) goto out;
    /* the transforms after the weights' checksums: a wrong file is named first */
    if (check_memory(R, peeked, err, sizeof err) || load_models(R, err, sizeof err) ||
        resolve_transforms(R, peeked, err, sizeof err))
        goto out;
    code = 1;

    /* the run's identity: configuration, weights, data lists; the shard on top */
    mxb_sha256 h;
    mxb_sha256_init(&h);
    mxb_sha256_update(&h, C->text, strlen(C->text));
    for (int m = 0; m < C->nmodels; m++) mxb_sha256_update(&h, R->model_sha[m], 64);
    for (int t = 0; t < MXB_NTESTS; t++)
        if (R->data[t]) mxb_sha256_update(&h, R->data_sha[t], 64);
    mxb_sha256_hex(&h, R->run_key);
    char shard[64];
    snprintf(shard, sizeof shard, "%s shard %d/%d", R->run_key, R->shard_i, R->shard_n);
    mxb_sha256_init(&h);
    mxb_sha256_update(&h, shard, strlen(shard));
    mxb_sha256_hex(&h, R->journal_key);

    struct stat st;
    if (stat(R->output, &st) == 0) {
        mxb_results old;
        char e2[ERRLEN];
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
                code = 0;
                goto out;
            }
            mxb_results_free(&old);
        }
        snprintf(err, sizeof err, "%s exists and is not the result of this configuration; remove it or set [run] output",
                 R->output);
        code = 2;
        goto out;
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
    res->auc_y_fraction = C->auc_fraction;
    res->auc_x_normalized = C->auc_x_normalized;
    for (int t = 0; t < MXB_NTESTS; t++) {
        if (!R->data[t]) continue;
        int n = mxb_dataset_size(R->data[t]);
        if (mxb_results_alloc_test(res, t, n, err, sizeof err)) goto out;
        res->test[t].size = R->size;
        for (int i = 0; i < n; i++) {
            res->test[t].index[i] = mxb_dataset_index(R->data[t], i);
            res->test[t].label[i] = mxb_dataset_label(R->data[t], i);
            res->test[t].ids[i] = strdup(mxb_dataset_id(R->data[t], i));
            if (!res->test[t].ids[i]) {
                snprintf(err, sizeof err, "out of memory");
                goto out;
            }
        }
    }
    if (C->perturbation.enabled && C->perturbation.maps[0] && load_maps_source(R, err, sizeof err)) {
        code = 2;
        goto out;
    }
    size_t npix = (size_t)R->size * R->size, rec = 0;
    for (int t = 0; t < MXB_NTESTS; t++)
        for (int m = 0; res->test[t].enabled && m < C->nmodels; m++)
            rec = record_size(R, t, m) > rec ? record_size(R, t, m) : rec;
    R->u = malloc(3 * npix * sizeof(float));
    R->x = malloc(3 * npix * sizeof(float));
    R->work = malloc((size_t)R->nthreads * 3 * npix * sizeof(float));
    R->step_logits = malloc((size_t)R->nthreads * R->max_classes * sizeof(float));
    R->vis = malloc(npix * sizeof(float));
    R->order = malloc(npix * sizeof(int32_t));
    R->rgb = malloc(3 * npix);
    R->mask = malloc(npix);
    R->logits = malloc((size_t)R->max_classes * sizeof(float));
    R->orig = malloc((size_t)R->max_classes * sizeof(float));
    R->map = malloc((size_t)R->max_grid2 * sizeof(float));
    R->record = malloc(rec);
    if (!R->u || !R->x || !R->work || !R->vis || !R->order || !R->rgb || !R->mask || !R->logits || !R->step_logits || !R->orig ||
        !R->map || !R->record) {
        snprintf(err, sizeof err, "out of memory for the run's buffers");
        goto out;
    }

    if (want_estimate) {
        code = estimate(R, within_h, err, sizeof err);
        goto out;
    }
    int replayed = 0;
    R->journal = mxb_journal_open(R->journal_path, R->journal_key, replay, R, &replayed, err, sizeof err);
    if (!R->journal) {
        code = 2;
        goto out;
    }
    if (stat(R->output, &st) == 0) { /* another run finished it while we set up */
        snprintf(err, sizeof err, "%s appeared while this run started (another mxb run wrote it); not redoing it",
                 R->output);
        mxb_journal_close(R->journal, 0);
        R->journal = NULL;
        code = 2;
        goto out;
    }
    long total = 0, done = 0;
    for (int t = 0; t < MXB_NTESTS; t++)
        for (int m = 0; res->test[t].enabled && m < C->nmodels; m++) {
            total += res->test[t].n;
            for (int i = 0; i < res->test[t].n; i++) done += res->test[t].done[m][i];
        }
    mxb_progress pr;
    mxb_progress_init(&pr, "run", "units", total, quiet);
    pr.done = pr.done_before = pr.last_done = done;
    if (replayed && !quiet)
        fprintf(stderr, "mxb run: resuming %s: %ld of %ld units already done\n", R->output, pr.done, pr.total);

    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    stop_requested = 0;
    int rc = 0;
    double last_sync = now_s();
    for (int t = 0; t < MXB_NTESTS && !rc; t++)
        for (int m = 0; res->test[t].enabled && m < C->nmodels && !rc; m++) {
            char what[160];
            snprintf(what, sizeof what, "%s/%s", test_names[t], C->models[m].name);
            for (int i = 0; i < res->test[t].n && !rc; i++) {
                if (res->test[t].done[m][i]) continue;
                if (stop_requested) {
                    rc = 1;
                    break;
                }
                rc = run_unit(R, t, m, i, err, sizeof err);
                mxb_progress_show(&pr, what, pr.done + !rc);
                if (now_s() - last_sync > 5) {
                    mxb_journal_sync(R->journal);
                    last_sync = now_s();
                }
            }
        }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    mxb_journal_sync(R->journal);
    if (!rc && !stop_requested) mxb_progress_end(&pr, "units done");
    else if (pr.open) fputc('\n', stderr);
    if (rc == 1 || stop_requested) {
        fprintf(stderr, "mxb run: stopped after %ld of %ld units; run the same command to resume (%s)\n", pr.done,
                pr.total, R->journal_path);
        code = 130;
        goto out;
    }
    if (rc) goto out;

    if (keep_figures(R, err, sizeof err)) goto out;
    set_provenance(R, started);
    long attn = 0;
    for (int t = 0; t < MXB_NTESTS; t++)
        if (res->test[t].enabled) attn += (long)C->nmodels * (res->test[t].n < C->save_attention ? res->test[t].n : C->save_attention);
    mxb_progress_init(&R->stage, "run", "images", attn, quiet);
    extra_ctx ex = {R};
    res->extra = write_attention;
    res->extra_user = &ex;
    if (mxb_results_write(res, R->output, err, sizeof err)) {
        if (R->stage.open) fputc('\n', stderr);
        goto out;
    }
    if (attn) mxb_progress_end(&R->stage, "attention saved");
    mxb_journal_close(R->journal, 1);
    R->journal = NULL;
    if (!quiet)
        fprintf(stderr, "mxb run: wrote %s (%ld units, %.1f s)\n", R->output, pr.total, now_s() - t_start);
    mxb_report_print(res, stdout, "md");
    code = 0;
out:
    if (code && code != 130 && err[0]) fprintf(stderr, "mxb run: %s\n", err);
    free_state(R);
    free(R);
    return code;
}
