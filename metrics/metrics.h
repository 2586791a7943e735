/*
 * metrics — pure functions on arrays: no files, no models.
 *
 * Two evaluations of the paper, each exact to the code that produced its numbers
 * (hila-chefer/Transformer-Explainability), plus two the references lack:
 *
 *   segmentation  imagenet_seg_eval.py + utils/metrices.py: threshold R > mean(R),
 *                 pixel accuracy, IoU accumulated over the dataset, AP and F1 as
 *                 that code calls sklearn 1.2 (see the notes at each function).
 *   perturbation  generate_visualizations.py + pertubation_eval_from_hdf5.py: the
 *                 torch.topk pixel order, masking to 0, hits per step, logit and
 *                 probability drops, and an AUC whose convention is explicit.
 *   insertion / deletion (RISE, Petsiuk et al. 2018) and the pointing game.
 *
 * Shared by the harness and the report: mxb_map_postprocess (mxb_upsample_bilinear +
 * mxb_minmax_normalize) turns a patch-grid map into what the original code evaluates.
 *
 * Errors: functions that can fail return 0 on success and -1 on failure, and
 * write a one-line message into err[errlen].
 */
#ifndef MXB_METRICS_H
#define MXB_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* ---- maps ------------------------------------------------------------------- */

/* F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False) of a
 * [h, w] map into out [h*factor, w*factor], with PyTorch's CPU arithmetic (float,
 * source index (dst + 0.5) / factor - 0.5 clamped at 0, right neighbour clamped). */
void mxb_upsample_bilinear(const float *in, int h, int w, int factor, float *out);

/* (x - min) / (max - min) in place, in float, as the original does it; scale-invariant
 * over the whole finite range (a map near FLT_MAX, where max - min overflows in float,
 * is halved first: the same bits as the map at any smaller power-of-two scale). A constant
 * map gives 0/0 = NaN everywhere, exactly like the reference; the return value says
 * so (1 = constant map, now all NaN; 0 = normal). The segmentation metrics below
 * treat NaN as the reference does; callers that need a number may replace them. */
int mxb_minmax_normalize(float *x, size_t n);

/* The one post-processing of a method's [grid, grid] map, for every caller (run,
 * explain, the report's figures): mxb_upsample_bilinear x patch into vis
 * [grid*patch, grid*patch], then mxb_minmax_normalize. What a constant ("flat") map
 * becomes is the caller's explicit choice:
 *   MXB_FLAT_NAN   NaN everywhere, as the reference evaluations store `vis` (mxb run:
 *                  the metrics then treat NaN as the reference does);
 *   MXB_FLAT_ZERO  zeros ("no relevance": mxb explain's map_upsampled and overlay,
 *                  the report's overlay figure).
 * Returns 1 when the map was flat, else 0. */
typedef enum { MXB_FLAT_NAN = 0, MXB_FLAT_ZERO = 1 } mxb_flat_policy;
int mxb_map_postprocess(const float *map, int grid, int patch, mxb_flat_policy flat, float *vis);

/* ---- segmentation (imagenet_seg_eval.py) ----------------------------------- */

/* One image's contribution. Class 0 is background, class 1 foreground. */
typedef struct {
    int64_t correct, labeled;        /* batch_pix_accuracy: labeled counts every pixel */
    int64_t inter[2], uni[2];        /* batch_intersection_union, per class */
    double ap;                       /* get_ap_scores, after np.nan_to_num */
    double f1;                       /* get_f1_scores: mean of its per-row values */
    float threshold;                 /* mean(R), float, the binarisation threshold */
} mxb_seg_image;

/* relevance [h*w] (already upsampled and min-max normalised; NaN allowed, see
 * below), mask [h*w] with values 0/1 (anything else is an error).
 *   prediction  R > mean(R) (mean in double, rounded to float, compared in float);
 *               NaN pixels (a constant map) are neither > nor <= the mean, both
 *               one-hot channels are 0 and torch.max picks index 0: background.
 *   AP          what get_ap_scores really computes: ONE binary sklearn
 *               average_precision_score over the 2*h*w concatenation of
 *               (1 - R, label == background) and (R, label == foreground), with NaN
 *               scores replaced by 0 first. Not a macro average over the two classes
 *               (a written spec said macro; the code and the golden file say this:
 *               docs/PROTOCOLS.md, section 8).
 *               So there is always a positive and the empty-class case cannot occur.
 *   F1          get_f1_scores is called on the [h, w] prediction, so its "batch"
 *               is the image rows: sklearn f1_score per row (0 when ill-defined, as
 *               sklearn 1.2 returns with a warning), averaged over the rows. */
int mxb_seg_evaluate(const float *relevance, const uint8_t *mask, int h, int w,
                     mxb_seg_image *out, char *err, size_t errlen);

/* Dataset-level accumulation, as the evaluation loop does it. */
typedef struct {
    int64_t images;
    int64_t correct, labeled, inter[2], uni[2];
    double ap_sum, f1_sum;
} mxb_seg_totals;

typedef struct {
    double pixel_accuracy;           /* Σcorrect / (eps + Σlabeled), eps = np.spacing(1) */
    double iou[2];                   /* ΣI / (eps + ΣU) per class */
    double miou;                     /* mean of iou[] */
    double map;                      /* mean of the per-image AP */
    double mf1;                      /* mean of the per-image (row-mean) F1 */
} mxb_seg_summary;

void mxb_seg_accumulate(mxb_seg_totals *t, const mxb_seg_image *img);
void mxb_seg_summarize(const mxb_seg_totals *t, mxb_seg_summary *out);

/* sklearn.metrics.average_precision_score(label, score) for binary labels (any
 * non-zero label is positive), exactly as sklearn 1.2: a step sum over the distinct
 * score thresholds, Σ (R_k - R_{k-1}) P_k, not an interpolated area. No positives:
 * 0 (sklearn warns and returns 0). Returns NaN when n == 0 or a score is NaN
 * (sklearn raises), or when memory runs out. */
double mxb_ap_score(const float *score, const uint8_t *label, size_t n);

/* sklearn f1_score(label, pred) for binary 0/1 arrays, average="binary",
 * zero_division="warn" (ill-defined -> 0), sklearn 1.2's arithmetic. */
double mxb_f1_score(const uint8_t *label, const uint8_t *pred, size_t n);

/* ---- perturbation test ----------------------------------------------------- */

/* p = 0, 0.1, ..., 0.9; step 0 is the unperturbed image. */
#define MXB_PERTURB_STEPS 10

/* Pixels removed at a step: int(npix * p) with p the double nearest step/10, as the
 * reference's int(base_size * perturbation_steps[i]) (5017 of 50176 at p = 0.1). */
int mxb_perturb_count(int npix, int step);

/* The removal order: every pixel index of vis [npix], largest first; for the
 * negative test of -vis (negative != 0). The first mxb_perturb_count() entries are
 * what torch.topk(vis, k) selects.
 * Ties: equal values are taken by ascending pixel index (a stable order). This is
 * what the reference's CUDA torch.topk does at the k-th value (its gatherTopK fills
 * the elements equal to the k-th value in index order); CPU topk leaves ties
 * unspecified. The negative order is therefore NOT the positive order reversed.
 * NaN counts as larger than every number (as torch.topk treats it); -0.0 == 0.0.
 * Returns -1 only when memory runs out. */
int mxb_perturb_order(const float *vis, int npix, int negative, int32_t *order,
                      char *err, size_t errlen);

/* Sets the first count pixels of order to 0 in every channel of the un-normalised
 * image [channels, npix] (the reference scatters 0 before normalising). */
void mxb_perturb_mask(float *image, int channels, int npix, const int32_t *order, int count);

/* The index of the first largest of v[0..n-1] (np.argmax on finite values; a NaN
 * never wins); 0 when n <= 1. The one argmax of the prediction everywhere (run,
 * explain, the perturbation outcome). */
int mxb_argmax(const float *v, int n);

/* What one forward pass of a (perturbed) image says, against the unperturbed one.
 * hit: argmax(logits) == label (first maximum on ties). logit_diff: max logit minus
 * the original's max logit; prob_diff likewise for the max softmax probability
 * (the reference's perturbations_logit_diff / _prob_diff: class-agnostic maxima). */
typedef struct {
    int hit, pred;
    double logit_diff, prob_diff;
} mxb_perturb_outcome;

void mxb_perturb_outcome_of(const float *logits, const float *orig_logits, int ncls,
                            int label, mxb_perturb_outcome *out);

typedef struct {
    int64_t n[MXB_PERTURB_STEPS];
    int64_t hits[MXB_PERTURB_STEPS];
    double logit_diff_sum[MXB_PERTURB_STEPS];
    double prob_diff_sum[MXB_PERTURB_STEPS];
} mxb_perturb_curve;

/* step in [0, MXB_PERTURB_STEPS); out-of-range steps are ignored. */
void mxb_perturb_add(mxb_perturb_curve *c, int step, const mxb_perturb_outcome *o);
/* accuracy[step] as a fraction in [0, 1] (NaN for a step with no images). */
void mxb_perturb_accuracy(const mxb_perturb_curve *c, double accuracy[MXB_PERTURB_STEPS]);

/* AUC conventions. The default {0, 0} is the paper's: x = p in [0, 0.9] (10 points
 * 0.1 apart), y = accuracy in percent, trapezoidal rule; the best possible value is
 * then 90. x_normalized spreads the 10 points over [0, 1]; y_fraction uses
 * accuracy as a fraction. */
typedef struct {
    int x_normalized;
    int y_fraction;
} mxb_auc_convention;

/* Trapezoidal area under y(x) over n points (np.trapz). */
double mxb_trapezoid(const double *x, const double *y, int n);
/* accuracy[] as fractions (mxb_perturb_accuracy's output). */
double mxb_perturb_auc(const double accuracy[MXB_PERTURB_STEPS], mxb_auc_convention conv);

/* ---- insertion / deletion (RISE, Petsiuk et al. 2018) ---------------------- */

/* RISE's CausalMetric: n_steps = ceil(npix / step) moves of `step` pixels each, in
 * the saliency order (mxb_perturb_order with negative = 0; RISE's np.argsort()[::-1]
 * leaves ties unspecified, ours are by ascending index). Deletion starts at the image
 * and moves to 0; insertion starts at the blurred image and moves to the image. The
 * score at each of the n_steps + 1 states is the explained class's probability. */
int mxb_rise_steps(int npix, int step);
/* out = start, then the first min(count, npix) pixels of order copied from finish,
 * every channel. */
void mxb_rise_blend(const float *start, const float *finish, int channels, int npix,
                    const int32_t *order, int count, float *out);
/* RISE's auc(): (Σ s - s_0/2 - s_n/2) / n over n + 1 scores, i.e. the trapezoid
 * over x in [0, 1]. */
double mxb_rise_auc(const double *scores, int nscores);
/* RISE's insertion substrate: conv2d with gkern(11, 5) — scipy gaussian_filter
 * (sigma 5, truncate 4, mode reflect) of an 11x11 delta — zero padding 5, per
 * channel. image and out [channels, h, w], distinct buffers. */
void mxb_rise_blur(const float *image, int channels, int h, int w, float *out);
/* The 11x11 kernel itself (row-major), for tests. */
void mxb_rise_kernel(float k[121]);

/* ---- pointing game ---------------------------------------------------------- */

/* Zhang et al. 2016, as TorchRay scores it: the map's maximum (the first in raster
 * order on ties, np.argmax) is a hit when a mask pixel lies within `tolerance`
 * pixels (Euclidean, inclusive; TorchRay uses 15 at 224x224) of it.
 * A NaN counts as the maximum (np.argmax stops at the first NaN).
 * Returns 1 hit, 0 miss, -1 when the mask is empty (not counted). */
int mxb_pointing_game(const float *map, const uint8_t *mask, int h, int w, double tolerance);

#endif
