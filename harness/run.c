/* mxb run: every model x method x test of a configuration into one results file.
 *
 * The unit of work is (test, model, image): one image explained by every method,
 * then evaluated. Each finished unit is appended to a journal beside the output
 * (OUTPUT.journal); a run that is killed and started again replays the journal and
 * goes on, and the results file is written in one go at the end (temporary name,
 * then rename), from arrays in dataset order. So an interrupted run and an
 * uninterrupted one write the same numbers, and no file that looks complete exists
 * before everything is in it.
 *
 * This file is the loop (run_unit: one image in one slot, every method's map, the
 * test's protocol; several slots worked on at once, [run] images_in_flight) and the
 * journal record; the set-up is run_setup.c, the protocols
 * of one image evaluate.c, the attention dumper attention.c, the run's identity and
 * provenance provenance.c (harness/internal.h). */
#include "harness/internal.h"

#include "io/io.h"
#include "metrics/metrics.h"

#include <limits.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define ERRLEN 1024
#define MXB_MAX_IN_FLIGHT_TIMED 4096 /* the thread cap (io/: 8 x cores, at most 4096) */

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the journal record ------------------------------------------------------------ */

/* The journal record of a unit: a head (test, model, row, dataset index, label,
 * reserved), the seconds it took, then the unit's fields (mxb_results_record_put). */
#define RECORD_HEAD (6 * sizeof(int32_t) + sizeof(double))
static size_t record_size(mxb_run_state *R, int t, int m) {
    return RECORD_HEAD + mxb_results_record_bytes(&R->res, t, m);
}

/* ---- one unit ------------------------------------------------------------------- */

/* "MESSAGE" -> "PREFIX: MESSAGE" in err */
static int with_prefix(char *err, size_t errlen, const char *a, const char *b) {
    char msg[ERRLEN];
    snprintf(msg, sizeof msg, "%s: image %s: %s", a, b, err);
    mxb_seterr(err, errlen, "%s", msg);
    return -1;
}

/* The image as model m sees it, into the slot: s->u the un-normalised [0, 1] CHW (what
 * the perturbation test masks), s->x the normalised input, s->rgb, s->mask. */
static int load_image(mxb_run_state *R, mxb_run_slot *sl, int t, int m, int i, mxb_sample *s, char *err,
                      size_t errlen) {
    memset(s, 0, sizeof *s);
    int got;
    /* the dataset reads files through one handle (HDF5 is not thread-safe): one at a time */
#pragma omp critical(mxb_run_data)
    got = mxb_dataset_get(R->data[t], i, s, err, errlen);
    if (got) return -1;
    const mxb_preprocess *p = &R->pre[t][m];
    int S = R->size, rc = 0;
    if (mxb_preprocess_image(p, s->rgb, s->h, s->w, sl->rgb, NULL, err, errlen)) {
        rc = with_prefix(err, errlen, R->rd[t]->data, s->id);
    } else {
        mxb_to_tensor(sl->rgb, S, S, NULL, NULL, sl->u);
        memcpy(sl->x, sl->u, (size_t)3 * S * S * sizeof(float));
        mxb_normalize(sl->x, S, S, p->mean, p->std);
    }
    if (!rc && t == MXB_TEST_SEGMENTATION) {
        if (!s->mask) rc = -1, mxb_seterr(err, errlen, "%s: image %s has no mask", R->rd[t]->data, s->id);
        else if (mxb_preprocess_mask(p, s->mask, s->h, s->w, sl->mask, err, errlen))
            rc = with_prefix(err, errlen, R->rd[t]->data, s->id);
    }
    if (rc) mxb_sample_free(s);
    return rc;
}

typedef struct {
    mxb_run_slot *sl;
    int m;
    mxb_gpu *gpu; /* the model on the run's GPU, or NULL */
} classify_ctx;

/* the protocols' forwards: one plain context per thread of the slot */
static void classify(void *user, int thread, const float *normalised, float *logits) {
    const classify_ctx *c = user;
    mxb_forward(c->sl->step_ctx[c->m][thread], normalised, logits);
}

/* on a GPU: n images in one batch. The model's GPU context is shared by the images in
 * flight and takes one forward at a time (its lock, engine/gpu.c): the GPU is not what
 * stage 1 waits for (the explanations on the CPU threads are), and one context per image
 * in flight would copy the parameters to the device once per image. */
static int classify_batch(void *user, const float *normalised, int n, float *logits, char *err, size_t errlen) {
    const classify_ctx *c = user;
    return mxb_gpu_forward(c->gpu, normalised, n, logits, err, errlen);
}

/* One method's map of the image in the slot: explained now, or (the reference's two
 * stages, [perturbation] maps = FILE) made earlier. */
static int method_map(mxb_run_state *R, mxb_run_slot *sl, int t, int m, int k, int i, int *cls, char *err,
                      size_t errlen) {
    const mxb_config *g = mxb_model_config(R->model[m]);
    if (t == MXB_TEST_PERTURBATION && R->have_maps_src) {
        const mxb_res_cell *src = &R->maps_src.test[t].cell[R->maps_model[m]][R->maps_method[k]];
        const int row = R->maps_row[i];
        memcpy(sl->map, src->maps + (size_t)row * g->num_patches, (size_t)g->num_patches * sizeof(float));
        memcpy(sl->logits, sl->orig, (size_t)g->num_classes * sizeof(float));
        *cls = src->explained[row];
        return 0;
    }
    const int label = R->res.test[t].label[i];
    /* v2 methods: the image's seed (the run's and the image's id: the same map on any
     * thread count, shard or order), its params, and the perturbation steps' plain
     * contexts (the slot's own: free while its map is made) for their forward_many */
    mxb_explain_opts eo = {.class_index = R->cfg.use_target ? label : -1, .variant = R->cfg.variant,
                           .start_layer = R->cfg.methods[k].start_layer, .params = R->cfg.methods[k].params,
                           .seed = mxb_image_seed(R->cfg.seed, R->res.test[t].ids[i]), .image_index = i, .pool = sl->step_ctx[m], .npool = sl->nplain,
                           .gpu = R->gpu_model[m]};
    return mxb_explain_one(sl->traced[m], R->model[m], R->method[k], sl->x, &eo, sl->logits, cls, sl->map, err,
                           errlen);
}

/* One unit (test t, model m, image i) in slot sl: every method's map, post-processed
 * as the references store `vis`, then the test's protocol; then the journal record. */
static int run_unit(mxb_run_state *R, mxb_run_slot *sl, int t, int m, int i, char *err, size_t errlen) {
    const mxb_config *g = mxb_model_config(R->model[m]);
    mxb_res_test *T = &R->res.test[t];
    const int S = R->size, label = T->label[i];
    const mxb_preprocess *p = &R->pre[t][m];
    classify_ctx cc = {sl, m, R->gpu_model[m]};
    const mxb_classifier clf = {classify, &cc, sl->nplain, g->num_classes, cc.gpu ? classify_batch : NULL};
    mxb_sample s;
    double t0 = now_s();
    if (R->cfg.use_target && label < 0) {
        mxb_seterr(err, errlen, "%s: image %s has no label to explain ([run] class = target)", R->rd[t]->data,
                 T->ids[i]);
        return -1;
    }
    if (load_image(R, sl, t, m, i, &s, err, errlen)) return -1;
    int rc = 0;
    if (t == MXB_TEST_PERTURBATION) {
        mxb_forward(sl->step_ctx[m][0], sl->x, sl->orig);
        if (R->res.insdel_step) mxb_rise_blur(sl->x, 3, S, S, sl->blurred);
    }
    int first = 1; /* the prediction comes with the first method the model runs */
    for (int k = 0; k < R->cfg.nmethods && !rc && !stop_requested; k++) {
        if (R->res.skipped[m][k]) continue; /* the method does not support this model */
        mxb_res_cell *cell = &T->cell[m][k];
        int cls;
        if (method_map(R, sl, t, m, k, i, &cls, err, errlen)) {
            char msg[ERRLEN];
            snprintf(msg, sizeof msg, "%s (model %s, image %s)", err, R->cfg.models[m].name, s.id);
            mxb_seterr(err, errlen, "%s", msg);
            rc = -1;
            break;
        }
        if (first) T->pred[m][i] = mxb_argmax(sl->logits, g->num_classes);
        first = 0;
        cell->explained[i] = cls;
        if (cell->maps) memcpy(cell->maps + i * (size_t)g->num_patches, sl->map, (size_t)g->num_patches * sizeof(float));
        if (t == MXB_TEST_SEGMENTATION && R->cfg.seg_no_minmax) /* UIA's evaluation: no min-max */
            mxb_upsample_bilinear(sl->map, g->grid, g->grid, g->patch_size, sl->vis);
        else
            mxb_map_postprocess(sl->map, g->grid, g->patch_size, MXB_FLAT_NAN, sl->vis);
        if (t == MXB_TEST_PERTURBATION) {
            rc = mxb_run_perturbation(sl, &clf, S, p->mean, p->std, R->res.polarity, label, cell, i, err, errlen);
            if (!rc && R->res.insdel_step)
                rc = mxb_run_insertion_deletion(sl, &clf, S, R->res.insdel_step, cls, &cell->insertion_auc[i],
                                                &cell->deletion_auc[i], err, errlen);
        } else if (mxb_run_segmentation(sl, S, R->cfg.pointing_tolerance * S / 224.0, cell, i, err, errlen)) {
            rc = with_prefix(err, errlen, R->rd[t]->data, s.id);
        }
    }
    mxb_sample_free(&s);
    if (rc) return -1;
    if (stop_requested) return 1; /* the unit is dropped, not recorded half-done */
    /* the record: (test, model, row, dataset index, label, reserved), seconds, fields */
    double secs = now_s() - t0;
    int32_t head[6] = {t, m, i, T->index[i], label, 0};
    memcpy(sl->record, head, sizeof head);
    memcpy(sl->record + sizeof head, &secs, sizeof secs);
    mxb_results_record_put(&R->res, t, m, i, sl->record + RECORD_HEAD);
    /* one writer: the images in flight append their records one at a time */
    int jrc = 0;
#pragma omp critical(mxb_run_journal)
    {
        if (R->journal)
            jrc = mxb_journal_append(R->journal, sl->record, (uint32_t)record_size(R, t, m), err, errlen);
        if (!jrc) {
            T->done[m][i] = 1;
            R->seconds[t] += secs;
        }
    }
    return jrc ? -1 : 0;
}

static int replay(void *user, const void *payload, uint32_t n) {
    mxb_run_state *R = user;
    int32_t head[6];
    double secs;
    if (n < RECORD_HEAD) return 1;
    memcpy(head, payload, sizeof head);
    memcpy(&secs, (const uint8_t *)payload + sizeof head, sizeof secs);
    int t = head[0], m = head[1], i = head[2];
    if (t < 0 || t >= MXB_NTESTS || !R->res.test[t].enabled || m < 0 || m >= R->cfg.nmodels || i < 0 ||
        i >= R->res.test[t].n || R->res.test[t].index[i] != head[3] || n != record_size(R, t, m))
        return 1; /* not a record of this run: stop here, the rest is redone */
    mxb_results_record_get(&R->res, t, m, i, (const uint8_t *)payload + RECORD_HEAD);
    R->res.test[t].done[m][i] = 1;
    R->seconds[t] += secs;
    return 0;
}

/* ---- finishing ------------------------------------------------------------------- */

/* How many of this shard's first rows are among the run's first `first` images of
 * test t: shard I of N holds rows I, I+N, ... of the selection (all of them: 0/1). What
 * the shards keep (figures, attention) then adds up to what one process keeps. */
static int among_first(const mxb_run_state *R, int t, int first) {
    int n = 0;
    while (n < R->res.test[t].n && R->shard_i + (long)n * R->shard_n < first) n++;
    return n;
}

/* Attention tensors of the first save_attention images of each test, recomputed
 * (deterministically) rather than journalled: they are large. */
static int write_attention(mxb_h5out *o, void *user, char *err, size_t errlen) {
    mxb_run_state *R = user;
    mxb_run_slot *sl = &R->slots[0];
    for (int t = 0; t < MXB_NTESTS; t++) {
        const int n = among_first(R, t, R->cfg.save_attention);
        for (int i = 0; R->res.test[t].enabled && i < n; i++)
            for (int m = 0; m < R->cfg.nmodels; m++) {
                mxb_sample s; /* each model's own normalisation */
                if (load_image(R, sl, t, m, i, &s, err, errlen)) return -1;
                mxb_sample_free(&s);
                char what[160], name[512];
                snprintf(what, sizeof what, "attention %s/%s", mxb_test_names[t], R->cfg.models[m].name);
                mxb_progress_show(&R->stage, what, R->stage.done + 1);
                mxb_forward(sl->traced[m], sl->x, sl->logits);
                snprintf(name, sizeof name, "/attention/%s/%s/%d", mxb_test_names[t], R->cfg.models[m].name,
                         R->res.test[t].index[i]);
                if (mxb_attention_write(o, name, sl->traced[m], mxb_model_config(R->model[m]), R->cfg.variant, err,
                                        errlen))
                    return -1;
            }
    }
    return 0;
}

/* The first `figures` images of each test's selection as the models saw them (one
 * geometry per test). A shard I of N keeps those of its rows (I, I+N, ... of the
 * selection) among them, so the merged shards keep the unsharded run's figures. */
static int keep_figures(mxb_run_state *R, char *err, size_t errlen) {
    for (int t = 0; t < MXB_NTESTS; t++) {
        mxb_res_test *T = &R->res.test[t];
        if (!T->enabled) continue;
        const int n = among_first(R, t, R->cfg.figures);
        size_t im = (size_t)R->size * R->size * 3;
        T->fig_index = mxb_alloc((size_t)(n ? n : 1) * sizeof(int32_t), "the figure images");
        T->fig_rgb = mxb_alloc((n ? n : 1) * im, "the figure images");
        /* the segmentation test's masks too, as the test scored them: the overlay grid's
         * ground-truth column */
        const size_t mk = (size_t)R->size * R->size;
        if (t == MXB_TEST_SEGMENTATION) T->fig_mask = mxb_alloc((n ? n : 1) * mk, "the figure masks");
        for (int i = 0; i < n; i++) {
            mxb_sample s;
            if (load_image(R, &R->slots[0], t, 0, i, &s, err, errlen)) return -1;
            mxb_sample_free(&s);
            T->fig_index[i] = T->index[i];
            memcpy(T->fig_rgb + i * im, R->slots[0].rgb, im);
            if (T->fig_mask) memcpy(T->fig_mask + i * mk, R->slots[0].mask, mk);
        }
        T->nfig = n;
    }
    return 0;
}

/* the forwards insertion/deletion costs per map (0 when off) */
static long insdel_forwards(const mxb_run_state *R) {
    return R->res.insdel_step ? mxb_run_insdel_forwards(R->size, R->res.insdel_step) : 0;
}

static void run_usage(FILE *f) {
    fprintf(f,
            "usage: mxb run CONFIG.ini [--set section.key=value]... [--shard I/N|auto|auto/N] [--in-flight N] [--quiet]\n"
            "               [--plugin LIB.so]... [--device cpu|cuda[:N]|auto]\n"
            "  Runs every model x method x test of the configuration (configs/README.md)\n"
            "  into one HDF5 results file (results/SCHEMA.md) and prints the tables.\n"
            "  --set S.K=V      override a configuration key (recorded in the results)\n"
            "  --plugin LIB.so  load a method plugin (as mxb --plugin): a bare [method:NAME] may\n"
            "                   then name one of its methods\n"
            "  --shard I/N      do the I-th of N interleaved slices (0 <= I < N); the output\n"
            "                   becomes OUTPUT.shard-I-of-N.h5; `mxb merge` joins them\n"
            "  --shard auto     I and N from the Slurm array task (SLURM_ARRAY_TASK_ID, _COUNT);\n"
            "                   auto/N: I from Slurm or a Kubernetes Indexed Job's\n"
            "                   JOB_COMPLETION_INDEX, N given (mxb slurm writes such jobs)\n"
            "  --quiet          no progress on stderr (otherwise: a line redrawn on a terminal,\n"
            "                   a plain line every 5 s or 10 %% in a log; MXB_PROGRESS_SECONDS)\n"
            "  --in-flight N    images worked on at once ([run] images_in_flight; default auto):\n"
            "                   each has its own buffers and engine contexts and threads/N of\n"
            "                   the threads (at least 1). Auto: one image per thread, as many as\n"
            "                   there are units and as fit under the memory limit (max_memory_mb);\n"
            "                   the results are the same bits whatever N and the thread count\n"
            "  --estimate[=H]   time a few images (in flight together, as the run runs them),\n"
            "                   print the projected wall time of the whole configuration and\n"
            "                   the --shard count that brings it under H hours (24); where\n"
            "                   timing would itself take minutes (a method declaring millions\n"
            "                   of forwards) the time is computed from the methods' declared\n"
            "                   passes instead; writes nothing\n"
            "  --shards N       with --estimate: also the wall time on N nodes of this speed\n"
            "  --device D       where the protocols' forwards run ([run] device; default cpu):\n"
            "                   cuda[:N] a GPU, both polarities' 18 perturbed images of a map\n"
            "                   in one batch (exit 2 when there is none), auto the GPU if there\n"
            "                   is one (else one line and the CPU); the explanations stay on\n"
            "                   the CPU. The GPU is recorded (provenance `device`) and is part\n"
            "                   of the run key: its sums differ from the CPU's in the last bits\n"
            "  [run] insertion_deletion_step = N adds RISE's insertion/deletion AUCs to the\n"
            "  perturbation test (N pixels a step, 2 (ceil(S*S/N) + 1) forwards a map).\n"
            "  A run that stops (Ctrl-C, kill, crash) resumes when started again with the\n"
            "  same command; its progress is in OUTPUT.journal until the file is written.\n");
}

/* The units not done yet, in (test, model, image) order: what the images in flight
 * take from, one at a time (an atomic counter), so a slow image holds up nothing. */
typedef struct {
    int32_t t, m, i;
} unit_ref;

typedef struct {
    mxb_run_state *R;
    mxb_progress *pr;
    const unit_ref *units;
    long nunits, next;
    /* the first failing unit in unit order (LONG_MAX: none), whose message is the run's;
     * the units before it still run, those after it are not started */
    long failed_unit;
    double last_sync;
    char *err;
    size_t errlen;
} loop_state;

static void unit_label(const mxb_run_state *R, int t, int m, char *what, size_t n) {
    snprintf(what, n, "%s/%s", mxb_test_names[t], R->cfg.models[m].name);
    if (t == MXB_TEST_PERTURBATION && R->res.insdel_step) /* what makes these units slower */
        snprintf(what + strlen(what), n - strlen(what), " (+%ld insertion/deletion forwards an image)",
                 mxb_run_nmethods(R, m) * insdel_forwards(R));
}

/* One image in flight: takes units until none is left, one fails or a stop is asked. */
static void worker(loop_state *L, mxb_run_slot *sl) {
    mxb_run_state *R = L->R;
    char err[ERRLEN];
    /* the engine's and the perturbation's parallel regions inside this image */
    omp_set_num_threads(sl->nthreads);
    for (;;) {
        long u, first_failed;
#pragma omp atomic capture
        u = L->next++;
#pragma omp atomic read
        first_failed = L->failed_unit;
        if (u >= L->nunits || u > first_failed || stop_requested) break;
        const unit_ref *ur = &L->units[u];
        err[0] = 0;
        const int rc = run_unit(R, sl, ur->t, ur->m, ur->i, err, sizeof err);
#pragma omp critical(mxb_run_progress)
        {
            /* units are handed out in order and every unit before a failing one runs: the
             * lowest failing unit is the run's error, as with one image in flight */
            if (rc < 0 && u < L->failed_unit) {
                snprintf(L->err, L->errlen, "%s", err);
#pragma omp atomic write
                L->failed_unit = u;
            }
            char what[160];
            unit_label(R, ur->t, ur->m, what, sizeof what);
            mxb_progress_show(L->pr, what, L->pr->done + !rc);
            if (R->journal && now_s() - L->last_sync > 5) { /* none under --estimate */
#pragma omp critical(mxb_run_journal)
                mxb_journal_sync(R->journal);
                L->last_sync = now_s();
            }
        }
    }
}

/* units[0..n) to the images in flight (each slot one thread of the outer team, with its
 * own threads inside); the first failing unit's index, LONG_MAX when none failed. */
static long run_units(mxb_run_state *R, mxb_progress *pr, const unit_ref *units, long n, char *err,
                      size_t errlen) {
    loop_state L = {R, pr, units, n, 0, LONG_MAX, now_s(), err, errlen};
    const int nf = R->in_flight, outer = omp_get_max_threads();
    if (nf == 1) {
        worker(&L, &R->slots[0]);
    } else {
        /* images in flight x threads inside each: two levels, the engine's regions inside
         * a perturbation step (a third) run serially */
        const int levels = omp_get_max_active_levels();
        omp_set_max_active_levels(R->slots[0].nthreads > 1 ? 2 : 1);
#pragma omp parallel num_threads(nf)
        worker(&L, &R->slots[omp_get_thread_num()]);
        omp_set_max_active_levels(levels);
    }
    omp_set_num_threads(outer);
    return L.failed_unit;
}

/* The loop: every unit not yet done (in the journal), handed out in (test, model,
 * image) order to the images in flight; each unit's numbers land in its own rows, so
 * the file is the same whatever their number and timing. Stops cleanly between units
 * on SIGINT/SIGTERM. 0, 1 stopped, -1 error. */
static int run_loop(mxb_run_state *R, mxb_progress *pr, char *err, size_t errlen) {
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    stop_requested = 0;
    long n = 0;
    for (int t = 0; t < MXB_NTESTS; t++)
        for (int m = 0; R->res.test[t].enabled && m < R->cfg.nmodels; m++) n += R->res.test[t].n;
    unit_ref *units = mxb_alloc((size_t)(n ? n : 1) * sizeof *units, "the run's units");
    n = 0;
    for (int t = 0; t < MXB_NTESTS; t++)
        for (int m = 0; R->res.test[t].enabled && m < R->cfg.nmodels; m++)
            for (int i = 0; i < R->res.test[t].n; i++)
                if (!R->res.test[t].done[m][i]) units[n++] = (unit_ref){t, m, i};
    const long failed = run_units(R, pr, units, n, err, errlen);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    mxb_journal_sync(R->journal);
    int left = 0; /* a unit dropped by a stop request */
    for (long u = 0; u < n; u++) left |= !R->res.test[units[u].t].done[units[u].m][units[u].i];
    free(units);
    return failed != LONG_MAX ? -1 : left || stop_requested ? 1 : 0;
}

/* ---- --estimate ---------------------------------------------------------------- */

/* A duration as a person reads it: seconds, minutes, hours or days */
static const char *human(double s, char *buf, size_t n) {
    if (s < 90) snprintf(buf, n, "%.3g s", s);
    else if (s < 90 * 60) snprintf(buf, n, "%.3g min", s / 60);
    else if (s < 72 * 3600) snprintf(buf, n, "%.3g h", s / 3600);
    else snprintf(buf, n, "%.3g days", s / 86400);
    return buf;
}

/* What one image of model m costs in flight, by pass: every slot at once runs two plain
 * forwards, then one traced forward and its backward, on the test's first image; each
 * slot's times / in_flight (in_flight images share the machine) and the median over
 * slots. */
typedef struct {
    double plain, traced, backward; /* seconds an image, in flight */
} pass_times;

static int time_passes(mxb_run_state *R, int t, int m, pass_times *pt, char *err, size_t errlen) {
    const int nf = R->in_flight, outer = omp_get_max_threads(), nc = mxb_model_config(R->model[m])->num_classes;
    double per[3][MXB_MAX_IN_FLIGHT_TIMED];
    const int ns = nf < MXB_MAX_IN_FLIGHT_TIMED ? nf : MXB_MAX_IN_FLIGHT_TIMED;
    int failed = 0;
    const int levels = omp_get_max_active_levels();
    omp_set_max_active_levels(R->slots[0].nthreads > 1 ? 2 : 1);
#pragma omp parallel num_threads(nf) reduction(| : failed)
    {
        const int k = omp_get_thread_num();
        mxb_run_slot *sl = &R->slots[k];
        char e[ERRLEN];
        mxb_sample smp;
        omp_set_num_threads(sl->nthreads);
        if (load_image(R, sl, t, m, 0, &smp, e, sizeof e)) {
            failed = 1;
            if (k == 0) mxb_seterr(err, errlen, "%s", e);
        } else {
            mxb_sample_free(&smp);
            float *seed = mxb_alloc0((size_t)nc, sizeof *seed, "the estimate's gradient seed");
            seed[0] = 1;
            double t0 = now_s();
            for (int r = 0; r < 2; r++) mxb_forward(sl->step_ctx[m][0], sl->x, sl->orig);
            const double t1 = now_s();
            mxb_forward(sl->traced[m], sl->x, sl->logits);
            const double t2 = now_s();
            mxb_backward(sl->traced[m], seed);
            const double t3 = now_s();
            free(seed);
            if (k < ns) per[0][k] = (t1 - t0) / 2 / nf, per[1][k] = (t2 - t1) / nf, per[2][k] = (t3 - t2) / nf;
        }
    }
    omp_set_max_active_levels(levels);
    omp_set_num_threads(outer);
    if (failed) return -1;
    double *out[3] = {&pt->plain, &pt->traced, &pt->backward};
    for (int q = 0; q < 3; q++) {
        double *v = per[q];
        for (int a = 0; a < ns; a++)
            for (int b = a + 1; b < ns; b++)
                if (v[b] < v[a]) { const double x = v[a]; v[a] = v[b]; v[b] = x; }
        *out[q] = v[ns / 2];
    }
    return 0;
}

/* The passes one unit of (test t, model m) makes, from the methods' declared costs
 * (method.h's mxb_cost; an LRP pass counted as a backward) and the test's forwards. */
static double unit_passes(mxb_run_state *R, int t, int m, const pass_times *pt, double *plain, double *traced,
                          double *backward) {
    *plain = *traced = *backward = 0;
    if (t == MXB_TEST_PERTURBATION) /* the unperturbed forward, then per method its steps */
        *plain = 1 + (double)mxb_run_nmethods(R, m) * (9.0 * (R->res.polarity[0] + R->res.polarity[1]) +
                                                      (double)insdel_forwards(R));
    for (int k = 0; k < R->cfg.nmethods; k++) {
        mxb_cost c;
        if (R->res.skipped[m][k] ||
            mxb_explain_cost(mxb_model_config(R->model[m]), R->method[k], R->cfg.methods[k].params, &c))
            continue;
        *plain += c.plain_forwards;
        *traced += c.traced_forwards;
        *backward += c.backwards + c.lrp_passes;
    }
    return *plain * pt->plain + *traced * pt->traced + *backward * pt->backward;
}

/* --estimate: per test x model, its first images run in flight together as the run runs
 * them (the slots at once, each with its threads), wall time / images; where that would
 * itself take long (a method declaring millions of forwards), the image's time is
 * computed instead from the methods' declared passes at the pass times measured in
 * flight. Nothing is written. */
#define ESTIMATE_IMAGES 3
#define ESTIMATE_TIMED_MAX_S 120.0 /* the most the estimate spends timing one test x model */
static int estimate(mxb_run_state *R, double within_h, int nodes, char *err, size_t errlen) {
    const double t_begin = now_s();
    double total = 0, largest = 0, load[3] = {0};
    char h1[32], h2[32];
    long timed_images = 0;
    int computed = 0;
    const int nf = R->in_flight, cores = omp_get_num_procs();
    getloadavg(load, 3);
    printf("mxb run --estimate: %s, %d threads, BLAS %s\n", R->cfg.path, omp_get_max_threads(), mxb_blas_describe());
    printf("  %d image%s in flight x %d thread%s, timed together; load %.2f on %d cores when it started%s\n", nf,
           nf > 1 ? "s" : "", R->slots[0].nthreads, R->slots[0].nthreads > 1 ? "s" : "", load[0], cores,
           load[0] > 0.5 * cores ? " (a busy machine: the times below are this load's; idle, the run is faster)"
                                 : "");
    mxb_progress pr;
    mxb_progress_init(&pr, "run", "units", 0, 1);
    for (int t = 0; t < MXB_NTESTS; t++)
        for (int m = 0; R->res.test[t].enabled && m < R->cfg.nmodels; m++) {
            const int n = R->res.test[t].n;
            pass_times pt;
            if (time_passes(R, t, m, &pt, err, errlen)) return 1;
            double np, nt, nb;
            const double predicted = unit_passes(R, t, m, &pt, &np, &nt, &nb);
            /* a round of in_flight images at once, enough rounds for ESTIMATE_IMAGES */
            int k = ((ESTIMATE_IMAGES + nf - 1) / nf) * nf;
            k = k < n ? k : n;
            double per;
            const char *how;
            char note[160] = "";
            if (predicted * k > ESTIMATE_TIMED_MAX_S) {
                per = predicted;
                how = "computed";
                computed++;
                snprintf(note, sizeof note, " (%.4g plain forwards, %.4g traced forwards, %.4g backwards an image; "
                         "timing %d would take ~%s)", np, nt, nb, k, human(predicted * k, h1, sizeof h1));
            } else {
                unit_ref *units = mxb_alloc((size_t)(k ? k : 1) * sizeof *units, "the estimate's units");
                for (int i = 0; i < k; i++) units[i] = (unit_ref){t, m, i};
                const double t0 = now_s();
                const long failed = run_units(R, &pr, units, k, err, errlen);
                const double wall = now_s() - t0;
                free(units);
                if (failed != LONG_MAX) return 1;
                if (stop_requested) {
                    mxb_seterr(err, errlen, "--estimate stopped");
                    return 1;
                }
                per = k ? wall / k : 0;
                how = "timed";
                timed_images += k;
                snprintf(note, sizeof note, " (%d images in %s)", k, human(wall, h1, sizeof h1));
            }
            total += per * n;
            largest += per * ((n + nodes - 1) / nodes);
            printf("  %s · %s: %s, %.4g s/image x %d images = %s (%.6g s)%s", mxb_test_names[t],
                   R->cfg.models[m].name, how, per, n, human(per * n, h2, sizeof h2), per * n, note);
            if (t == MXB_TEST_PERTURBATION && R->res.insdel_step) /* the cost made visible */
                printf(" (%ld forwards/image; insertion/deletion %ld of them)",
                       1 + mxb_run_nmethods(R, m) * (1 + 9L * (R->res.polarity[0] + R->res.polarity[1]) + insdel_forwards(R)),
                       mxb_run_nmethods(R, m) * insdel_forwards(R));
            printf("\n");
        }
    /* method ABI v2: what each method declares an image costs, per model */
    for (int k = 0; k < R->cfg.nmethods; k++)
        for (int m = 0; R->method[k]->abi_version >= 2 && m < R->cfg.nmodels; m++) {
            if (R->res.skipped[m][k]) continue;
            mxb_cost c;
            if (mxb_explain_cost(mxb_model_config(R->model[m]), R->method[k], R->cfg.methods[k].params, &c)) continue;
            printf("  method %s · %s: %g traced forwards, %g backwards, %g plain forwards, %g LRP passes, %.1f MiB "
                   "scratch per image\n",
                   R->cfg.methods[k].name, R->cfg.models[m].name, c.traced_forwards, c.backwards, c.plain_forwards,
                   c.lrp_passes, c.scratch_bytes / 1048576.0);
        }
    const long shards = (long)(total / (within_h * 3600)) + 1;
    printf("  total: %s (%.6g s) on this machine%s; under %.4g h: --shard I/N with N >= %ld (one such machine each)\n",
           human(total, h1, sizeof h1), total, R->shard_n > 1 ? " (this shard)" : "", within_h, shards);
    if (nodes > 1) /* each node runs one shard; the slowest (the most rows) sets the wall time */
        printf("  on %d nodes like this one (--shard I/%d each, mxb slurm --shards %d): %s (%.6g s), the largest "
               "shard's, then the merge\n", nodes, nodes, nodes, human(largest, h1, sizeof h1), largest);
    if (computed) /* the passes only: a method's own arithmetic (hidden attention, ...) is not in it */
        printf("  computed lines count the declared forwards and backwards only: a lower bound\n");
    printf("  the estimate took %s (%ld images run, %d projection%s computed)\n",
           human(now_s() - t_begin, h1, sizeof h1), timed_images, computed, computed == 1 ? "" : "s");
    return 0;
}

/* One environment variable as a shard number: a whole decimal number in [lo, hi]
 * (mxb_parse_long: "3x", " 3", "-1", "" refused), or a line naming it. */
static int shard_env(const char *name, long lo, long hi, long *out) {
    const char *v = getenv(name);
    if (!v) {
        mxb_usage_error("run", "--shard auto: %s is not set", name);
        return -1;
    }
    if (mxb_parse_long(v, lo, hi, out)) {
        mxb_usage_error("run", "--shard auto: %s is '%s', not a whole number in [%ld, %ld]", name, v, lo, hi);
        return -1;
    }
    return 0;
}

/* --shard I/N, or the scheduler's: "auto" takes I and N from a Slurm array task
 * (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT, step 1);
 * "auto/N" takes I from a Slurm array task or, outside Slurm, from a Kubernetes
 * Indexed Job's JOB_COMPLETION_INDEX, with N given (Kubernetes does not say it).
 * An environment that is missing or does not fit is refused before any work: a
 * task that guessed its shard would write the wrong slice or collide with another. */
static int shard_parse(const char *arg, long *shard_i, long *shard_n) {
    const long MAXN = 100000;
    if (strncmp(arg, "auto", 4)) {
        const char *slash = strchr(arg, '/');
        char num[32];
        snprintf(num, sizeof num, "%.*s", slash ? (int)(slash - arg) : 0, arg);
        if (!slash || (size_t)(slash - arg) >= sizeof num || mxb_parse_long(num, 0, MAXN - 1, shard_i) ||
            mxb_parse_long(slash + 1, 1, MAXN, shard_n) || *shard_i >= *shard_n) {
            mxb_usage_error("run", "--shard: '%s' is not I/N with 0 <= I < N", arg);
            return -1;
        }
        return 0;
    }
    long given = 0;
    if (arg[4] && (arg[4] != '/' || mxb_parse_long(arg + 5, 1, MAXN, &given))) {
        mxb_usage_error("run", "--shard: '%s' is not auto or auto/N with N a positive whole number", arg);
        return -1;
    }
    if (getenv("SLURM_ARRAY_TASK_ID")) {
        long id, lo = 0, count, step = 1;
        if (shard_env("SLURM_ARRAY_TASK_ID", 0, 4 * MAXN, &id) || shard_env("SLURM_ARRAY_TASK_COUNT", 1, MAXN, &count) ||
            (getenv("SLURM_ARRAY_TASK_MIN") && shard_env("SLURM_ARRAY_TASK_MIN", 0, 4 * MAXN, &lo)) ||
            (getenv("SLURM_ARRAY_TASK_STEP") && shard_env("SLURM_ARRAY_TASK_STEP", 1, 4 * MAXN, &step)))
            return -1;
        if (step != 1) { /* --array=0-9:2 or a list: the task ids do not number the shards */
            mxb_usage_error("run", "--shard auto: SLURM_ARRAY_TASK_STEP is %ld; the array must be --array=0-%ld "
                            "(consecutive task ids)", step, count - 1);
            return -1;
        }
        if (id < lo || id - lo >= count) {
            mxb_usage_error("run", "--shard auto: SLURM_ARRAY_TASK_ID %ld is not within the array's %ld tasks from %ld", id,
                            count, lo);
            return -1;
        }
        if (given && given != count) {
            mxb_usage_error("run", "--shard auto/%ld: the Slurm array has %ld tasks (SLURM_ARRAY_TASK_COUNT)", given, count);
            return -1;
        }
        *shard_i = id - lo;
        *shard_n = count;
        return 0;
    }
    if (!given) {
        mxb_usage_error("run", getenv("JOB_COMPLETION_INDEX")
                                   ? "--shard auto: JOB_COMPLETION_INDEX gives the index, not the count; use --shard auto/N"
                                   : "--shard auto: not in a Slurm array task (no SLURM_ARRAY_TASK_ID)");
        return -1;
    }
    if (!getenv("JOB_COMPLETION_INDEX")) {
        mxb_usage_error("run", "--shard auto/%ld: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set", given);
        return -1;
    }
    if (shard_env("JOB_COMPLETION_INDEX", 0, given - 1, shard_i)) return -1;
    *shard_n = given;
    return 0;
}

int mxb_cmd_run(int argc, char **argv) {
    const char *sets[64], *shard_arg = NULL, *pos[1], *plugins[16], *device = NULL;
    int nsets = 0, nplugins = 0, quiet = 0, npos = 0, code = 1, done = 0, in_flight = 0;
    double within_h = 24;
    int nodes = 1;
    char err[ERRLEN] = "";
    mxb_opt opts[] = {MXB_OPT_L("set", sets, &nsets, 64), MXB_OPT_S("shard", &shard_arg), MXB_OPT_F("quiet", &quiet), MXB_OPT_I("in-flight", &in_flight, 1, 4096),
                      MXB_OPT_DO("estimate", &within_h, 1e-12, 1e6), MXB_OPT_I("shards", &nodes, 1, 100000),
                      MXB_OPT_L("plugin", plugins, &nplugins, 16), MXB_OPT_S("device", &device), MXB_OPT_END};
    int prc = mxb_opts_parse("run", argc, argv, opts, pos, 1, &npos, run_usage);
    if (prc) return prc == 1 ? 0 : 2;
    if (npos != 1) return mxb_usage_error("run", "no configuration file");
    if (mxb_opt_seen(opts, "shards") && (!mxb_opt_seen(opts, "estimate") || shard_arg))
        return mxb_usage_error("run", "--shards N goes with --estimate (the wall time on N nodes), without --shard");
    long shard_i = 0, shard_n = 1, gpu_index;
    if (shard_arg && shard_parse(shard_arg, &shard_i, &shard_n)) return 2;
    if (device && mxb_device_parse(device, &gpu_index)) /* the syntax now; the GPU once the run is set up */
        return mxb_usage_error("run", "--device '%s': expected cpu, cuda, cuda:N or auto", device);
    if (mxb_load_plugins("run", plugins, nplugins)) return 2;
    mxb_run_state *R = mxb_alloc0(1, sizeof *R, "the run's state");
    R->shard_i = (int)shard_i;
    R->shard_n = (int)shard_n;
    R->quiet = quiet;
    R->in_flight_arg = in_flight;
    R->device_arg = device;
    char started[64];
    mxb_run_iso_time(started, sizeof started);
    double t_start = now_s();
    if ((code = mxb_run_setup(R, pos[0], sets, nsets, &done, err, sizeof err)) || done) goto out;
    mxb_results *res = &R->res;
    size_t rec = 0;
    for (int t = 0; t < MXB_NTESTS; t++)
        for (int m = 0; res->test[t].enabled && m < R->cfg.nmodels; m++)
            rec = record_size(R, t, m) > rec ? record_size(R, t, m) : rec;
    for (int j = 0; j < R->in_flight; j++) R->slots[j].record = mxb_alloc(rec, "the journal record");
    if (mxb_opt_seen(opts, "estimate")) {
        code = estimate(R, within_h, nodes, err, sizeof err);
        goto out;
    }
    int replayed = 0;
    code = 2;
    R->journal = mxb_journal_open(R->journal_path, R->journal_key, replay, R, &replayed, err, sizeof err);
    if (!R->journal) goto out;
    struct stat st;
    if (stat(R->output, &st) == 0) { /* another run finished it while we set up */
        mxb_seterr(err, sizeof err, "%s appeared while this run started (another mxb run wrote it); not redoing it",
                 R->output);
        goto out;
    }
    code = 1;
    long total = 0, ndone = 0;
    for (int t = 0; t < MXB_NTESTS; t++)
        for (int m = 0; res->test[t].enabled && m < R->cfg.nmodels; m++) {
            total += res->test[t].n;
            for (int i = 0; i < res->test[t].n; i++) ndone += res->test[t].done[m][i];
        }
    mxb_progress pr;
    mxb_progress_init(&pr, "run", "units", total, quiet);
    pr.done = pr.done_before = pr.last_done = ndone;
    if (replayed && !quiet)
        fprintf(stderr, "mxb run: resuming %s: %ld of %ld units already done\n", R->output, pr.done, pr.total);
    const int rc = run_loop(R, &pr, err, sizeof err);
    if (!rc) mxb_progress_end(&pr, "units done");
    else if (pr.open) fputc('\n', stderr);
    if (rc == 1) {
        fprintf(stderr, "mxb run: stopped after %ld of %ld units; run the same command to resume (%s)\n", pr.done,
                pr.total, R->journal_path);
        code = 130;
        goto out;
    }
    if (rc || keep_figures(R, err, sizeof err)) goto out;
    mxb_run_set_provenance(R, started);
    long attn = 0;
    for (int t = 0; t < MXB_NTESTS; t++)
        if (res->test[t].enabled)
            attn += (long)R->cfg.nmodels * among_first(R, t, R->cfg.save_attention);
    mxb_progress_init(&R->stage, "run", "images", attn, quiet);
    res->extra = write_attention;
    res->extra_user = R;
    if (mxb_results_write(res, R->output, err, sizeof err)) {
        if (R->stage.open) fputc('\n', stderr);
        goto out;
    }
    if (attn) mxb_progress_end(&R->stage, "attention saved");
    mxb_journal_close(R->journal, 1);
    R->journal = NULL;
    if (!quiet)
        fprintf(stderr, "mxb run: wrote %s (%ld units, %.1f s, %d image%s in flight x %d thread%s%s%s)\n", R->output,
                pr.total, now_s() - t_start, R->in_flight, R->in_flight > 1 ? "s" : "", R->slots[0].nthreads,
                R->slots[0].nthreads > 1 ? "s" : "", R->gpu >= 0 ? ", forwards on " : "", R->gpu >= 0 ? R->gpu_name : "");
    /* the label trap, said where it is seen (the data's own lines were said at set-up) */
    char warn[4096];
    if (mxb_results_warnings(res, 0, warn, sizeof warn))
        for (char *line = strtok(warn, "\n"); line; line = strtok(NULL, "\n"))
            fprintf(stderr, "mxb run: warning: %s\n", line);
    mxb_report_print(res, stdout, "md");
    code = 0;
out:
    if (code && code != 130 && err[0]) fprintf(stderr, "mxb run: %s\n", err);
    mxb_run_state_free(R);
    free(R);
    return code;
}
