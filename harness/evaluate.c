/* The protocols of one image, behind a model-free classifier (mxb_classifier): the
 * perturbation test, RISE's insertion/deletion and the segmentation test
 * (docs/PROTOCOLS.md sections 6 and 7, "Insertion and deletion"). The arithmetic is
 * metrics/'s; what lives here is the order of the forwards and their threads, which
 * is why this is a harness file and not a metrics/ one: the forwards run as an
 * OpenMP loop, one engine context per thread, and metrics/ has no threads (its
 * functions are pure and run anywhere).
 *
 * Every forward's numbers land in their own slot (a step of a curve), so any thread
 * count gives the same bits. OpenBLAS runs serially inside an OpenMP region, so the
 * cores are not oversubscribed.
 *
 * On a GPU (mxb run --device, [run] device; issue 27 stage 1) the classifier's
 * forward_batch takes the forwards instead: the slot's threads make the perturbed
 * images, one call classifies them together (both polarities' 18 a map; RISE's states
 * MXB_RUN_GPU_BATCH at a time), and the explanations of the other images in flight go
 * on on their CPU threads meanwhile. The batch of an image is the same every run, so
 * the GPU's sums, and the results, are the same bits run to run. */
#include "harness/internal.h"

#include "metrics/metrics.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* step's outcome of polarity q against the unperturbed logits, into row i */
static void score_step(const mxb_run_slot *s, const mxb_classifier *c, const float *lg, int label, int q,
                       mxb_res_cell *cell, int i, int step) {
    mxb_perturb_outcome o;
    mxb_perturb_outcome_of(lg, s->orig, c->nclasses, label, &o);
    cell->hits[q][i * MXB_RES_STEPS + step] = o.hit;
    cell->logit_diff[q][i * MXB_RES_STEPS + step] = (float)o.logit_diff;
    cell->prob_diff[q][i * MXB_RES_STEPS + step] = (float)o.prob_diff;
}

/* step's perturbed image in work: zeros in the [0, 1] image, then normalised (black,
 * not the mean colour) */
static void perturbed(const mxb_run_slot *s, int size, const float mean[3], const float std[3], int step,
                      float *work) {
    const int npix = size * size;
    memcpy(work, s->u, (size_t)3 * npix * sizeof(float));
    mxb_perturb_mask(work, 3, npix, s->order, mxb_perturb_count(npix, step));
    mxb_normalize(work, size, size, mean, std);
}

/* On the CPU: each polarity's 9 forwards as an OpenMP loop, one plain context a thread */
static int perturbation_cpu(mxb_run_slot *s, const mxb_classifier *c, int size, const float mean[3],
                            const float std[3], int q, int label, mxb_res_cell *cell, int i, char *err,
                            size_t errlen) {
    const int npix = size * size;
    if (mxb_perturb_order(s->vis, npix, q == MXB_NEGATIVE, s->order, err, errlen)) return -1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(c->nthreads)
    for (int step = 0; step < MXB_RES_STEPS; step++) {
        const int tid = omp_get_thread_num();
        const float *lg = s->orig; /* step 0: the unperturbed image */
        if (step > 0) {
            float *work = s->work + (size_t)tid * 3 * npix;
            float *logits = s->step_logits + (size_t)tid * c->nclasses;
            perturbed(s, size, mean, std, step, work);
            c->forward(c->ctx, tid, work, logits);
            lg = logits;
        }
        score_step(s, c, lg, label, q, cell, i, step);
    }
    return 0;
}

int mxb_run_perturbation(mxb_run_slot *s, const mxb_classifier *c, int size, const float mean[3],
                         const float std[3], const int polarity[2], int label, mxb_res_cell *cell, int i, char *err,
                         size_t errlen) {
    if (!c->forward_batch) {
        for (int q = 0; q < 2; q++)
            if (polarity[q] && perturbation_cpu(s, c, size, mean, std, q, label, cell, i, err, errlen)) return -1;
        return 0;
    }
    /* On a GPU: the images are made on the slot's threads (each polarity's order in
     * turn: one order buffer), then both polarities' steps 1..9 go in one batch; step k
     * of polarity q is image (its polarity's place) * 9 + k - 1 */
    const int npix = size * size, per = MXB_RES_STEPS - 1;
    int n = 0;
    for (int q = 0; q < 2; q++) {
        if (!polarity[q]) continue;
        if (mxb_perturb_order(s->vis, npix, q == MXB_NEGATIVE, s->order, err, errlen)) return -1;
        float *first = s->batch + (size_t)n * 3 * npix;
#pragma omp parallel for schedule(static) num_threads(c->nthreads)
        for (int k = 0; k < per; k++) perturbed(s, size, mean, std, k + 1, first + (size_t)k * 3 * npix);
        n += per;
    }
    if (n && c->forward_batch(c->ctx, s->batch, n, s->batch_logits, err, errlen)) return -1;
    for (int q = 0, at = 0; q < 2; q++) {
        if (!polarity[q]) continue;
        score_step(s, c, s->orig, label, q, cell, i, 0);
        for (int step = 1; step < MXB_RES_STEPS; step++)
            score_step(s, c, s->batch_logits + (size_t)(at + step - 1) * c->nclasses, label, q, cell, i, step);
        at += per;
    }
    return 0;
}

long mxb_run_insdel_forwards(int size, int step) {
    return 2L * (mxb_rise_steps(size * size, step) + 1);
}

/* softmax(logits)[cls], as RISE's nn.Sequential(model, nn.Softmax(dim=1)) */
static double probability(const float *logits, int n, int cls) {
    float mx = logits[0];
    for (int j = 1; j < n; j++) mx = logits[j] > mx ? logits[j] : mx;
    double sum = 0;
    for (int j = 0; j < n; j++) sum += exp((double)logits[j] - mx);
    return exp((double)logits[cls] - mx) / sum;
}

/* RISE state j of 2 * states (deletion's first, then insertion's) into work */
static void insdel_state(const mxb_run_slot *s, int npix, int step, int states, int j, float *work) {
    const int ins = j >= states, k = ins ? j - states : j;
    if (ins)
        mxb_rise_blend(s->blurred, s->x, 3, npix, s->order, k * step, work);
    else { /* finish = zeros: the moved pixels become 0 */
        memcpy(work, s->x, (size_t)3 * npix * sizeof(float));
        mxb_perturb_mask(work, 3, npix, s->order, k * step < npix ? k * step : npix);
    }
}

/* RISE's CausalMetric.single_run (evaluation.py) on the normalised input: deletion
 * moves from the image to zeros (torch.zeros_like of the normalised tensor: the mean
 * colour), insertion from the blurred image to the image; state k has the first
 * k * step pixels of the order moved. States are independent: one per forward. */
int mxb_run_insertion_deletion(mxb_run_slot *s, const mxb_classifier *c, int size, int step, int cls,
                               double *insertion, double *deletion, char *err, size_t errlen) {
    const int npix = size * size, n = mxb_rise_steps(npix, step), states = n + 1;
    if (mxb_perturb_order(s->vis, npix, 0, s->order, err, errlen)) return -1;
    if (c->forward_batch) { /* on a GPU: the states in batches, made on the slot's threads */
        for (int j0 = 0; j0 < 2 * states; j0 += MXB_RUN_GPU_BATCH) {
            const int nb = 2 * states - j0 < MXB_RUN_GPU_BATCH ? 2 * states - j0 : MXB_RUN_GPU_BATCH;
#pragma omp parallel for schedule(static) num_threads(c->nthreads)
            for (int b = 0; b < nb; b++) insdel_state(s, npix, step, states, j0 + b, s->batch + (size_t)b * 3 * npix);
            if (c->forward_batch(c->ctx, s->batch, nb, s->batch_logits, err, errlen)) return -1;
            for (int b = 0; b < nb; b++)
                s->scores[j0 + b] = probability(s->batch_logits + (size_t)b * c->nclasses, c->nclasses, cls);
        }
    } else {
#pragma omp parallel for schedule(dynamic, 1) num_threads(c->nthreads)
        for (int j = 0; j < 2 * states; j++) {
            const int tid = omp_get_thread_num();
            float *work = s->work + (size_t)tid * 3 * npix;
            float *logits = s->step_logits + (size_t)tid * c->nclasses;
            insdel_state(s, npix, step, states, j, work);
            c->forward(c->ctx, tid, work, logits);
            s->scores[j] = probability(logits, c->nclasses, cls);
        }
    }
    *deletion = mxb_rise_auc(s->scores, states);
    *insertion = mxb_rise_auc(s->scores + states, states);
    return 0;
}

int mxb_run_segmentation(const mxb_run_slot *s, int size, double tolerance_px, mxb_res_cell *cell, int i,
                         char *err, size_t errlen) {
    mxb_seg_image im;
    if (mxb_seg_evaluate(s->vis, s->mask, size, size, &im, err, errlen)) return -1;
    int32_t *cnt = cell->seg_counts + (size_t)i * MXB_SEG_COUNTS;
    const int64_t counts[MXB_SEG_COUNTS] = {im.correct, im.labeled, im.inter[0], im.inter[1], im.uni[0], im.uni[1]};
    for (int k = 0; k < MXB_SEG_COUNTS; k++) cnt[k] = (int32_t)counts[k];
    cell->ap[i] = im.ap;
    cell->f1[i] = im.f1;
    cell->pointing[i] = mxb_pointing_game(s->vis, s->mask, size, size, tolerance_px);
    return 0;
}
