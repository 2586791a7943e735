/* A model's input, shared by the commands that feed one image or tensor to a model
 * (mxb predict, mxb explain) and by mxb run's set-up: the transform (the weights
 * file's own, options over it), loading and transforming an image or a tensor, and
 * the top-k line. */
#include "engine/engine.h"
#include "harness/harness.h"
#include "harness/internal.h"
#include "results/results.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "file.h5:dataset" -> file, dataset (default `input`) */
static void split_tensor_arg(const char *arg, char *file, size_t fl, char *dset, size_t dl) {
    const char *colon = strrchr(arg, ':');
    if (colon && colon != arg) {
        snprintf(file, fl, "%.*s", (int)(colon - arg), arg);
        snprintf(dset, dl, "%s", colon + 1);
    } else {
        snprintf(file, fl, "%s", arg);
        snprintf(dset, dl, "input");
    }
}

float *mxb_load_input_tensor(const char *arg, const mxb_config *cfg, char *err, size_t errlen) {
    char file[4096], dset[256];
    split_tensor_arg(arg, file, sizeof file, dset, sizeof dset);
    float *x = NULL;
    int nd = 0;
    int64_t dims[8];
    if (mxb_h5_read_floats(file, dset, &x, &nd, dims, err, errlen)) return NULL;
    int64_t S = cfg->img_size;
    int ok = (nd == 3 && dims[0] == cfg->in_chans && dims[1] == S && dims[2] == S) ||
             (nd == 4 && dims[0] == 1 && dims[1] == cfg->in_chans && dims[2] == S && dims[3] == S);
    if (!ok) {
        mxb_seterr(err, errlen, "%s: dataset '%s' has the wrong shape for this model (want [%d, %d, %d])",
                 file, dset, cfg->in_chans, cfg->img_size, cfg->img_size);
        free(x);
        return NULL;
    }
    for (int64_t i = 0; i < cfg->in_chans * S * S; i++)
        if (!isfinite(x[i])) {
            mxb_seterr(err, errlen, "%s: dataset '%s' holds NaN or infinite values", file, dset);
            free(x);
            return NULL;
        }
    return x;
}

int mxb_parse_rgb(const char *s, int positive, float out[3]) {
    char buf[128];
    if (!s || strlen(s) >= sizeof buf) return -1;
    snprintf(buf, sizeof buf, "%s", s);
    char *p = buf;
    for (int c = 0; c < 3; c++) {
        char *comma = strchr(p, ',');
        if ((c < 2) != (comma != NULL)) return -1;
        if (comma) *comma = 0;
        double v;
        if (mxb_parse_double(p, positive ? 1e-30 : -1e30, 1e30, &v)) return -1;
        out[c] = (float)v;
        p = comma ? comma + 1 : p;
    }
    return 0;
}

static const char *filter_name(mxb_filter f) {
    return f == MXB_FILTER_BICUBIC ? "bicubic" : f == MXB_FILTER_BILINEAR ? "bilinear" : "nearest";
}

void mxb_preprocess_describe(const mxb_preprocess *p, char *buf, size_t n) {
    char crop[48] = "";
    if (p->crop) snprintf(crop, sizeof crop, " + CenterCrop(%d)", p->crop);
    char size[48];
    if (p->square) snprintf(size, sizeof size, "(%d, %d)", p->size, p->size);
    else snprintf(size, sizeof size, "%d", p->size);
    snprintf(buf, n, "Resize(%s, %s)%s, mean %g,%g,%g, std %g,%g,%g", size, filter_name(p->filter), crop, p->mean[0],
             p->mean[1], p->mean[2], p->std[0], p->std[1], p->std[2]);
}

int mxb_model_preprocess(const char *cmd, const char *weights, const mxb_config *cfg,
                         const mxb_preprocess *fallback, mxb_preprocess *p, char *err, size_t errlen) {
    mxb_eval_transform t;
    int has = mxb_weights_transform(weights, &t, err, errlen);
    if (has < 0) return -1;
    if (has == 0) {
        if (fallback) {
            *p = *fallback;
        } else {
            /* what predict did before weights files carried a transform: DeiT's and
             * ViM's evaluation transform, scaled to the model's input side */
            *p = mxb_preprocess_imagenet();
            p->crop = cfg->img_size;
            p->size = (int)(cfg->img_size * 256.0 / 224.0);
        }
        char d[200];
        mxb_preprocess_describe(p, d, sizeof d);
        fprintf(stderr, "mxb %s: %s has no evaluation transform (an older conversion); using %s\n", cmd, weights, d);
        return 1;
    }
    p->size = t.resize;
    p->square = t.square;
    p->crop = t.crop;
    p->filter = !strcmp(t.interpolation, "bicubic")    ? MXB_FILTER_BICUBIC
                : !strcmp(t.interpolation, "bilinear") ? MXB_FILTER_BILINEAR
                                                       : MXB_FILTER_NEAREST;
    memcpy(p->mean, t.mean, sizeof p->mean);
    memcpy(p->std, t.std, sizeof p->std);
    if (mxb_preprocess_out_size(p) != cfg->img_size) {
        mxb_seterr(err, errlen, "%s: the evaluation transform makes %d px inputs but the model takes %d px", weights,
                 mxb_preprocess_out_size(p), cfg->img_size);
        return -1;
    }
    return 0;
}

int mxb_transform_apply(const char *cmd, const mxb_opt *opts, const mxb_transform_args *a,
                        const mxb_config *cfg, mxb_preprocess *p) {
    static const mxb_filter filters[3] = {MXB_FILTER_NEAREST, MXB_FILTER_BILINEAR, MXB_FILTER_BICUBIC};
    if (mxb_opt_seen(opts, "resize")) p->size = a->resize;
    if (mxb_opt_seen(opts, "crop")) p->crop = a->crop;
    if (mxb_opt_seen(opts, "square")) p->square = a->square;
    if (mxb_opt_seen(opts, "filter")) p->filter = filters[a->filter];
    if (a->mean && mxb_parse_rgb(a->mean, 0, p->mean))
        return mxb_usage_error(cmd, "--mean: '%s' is not three numbers R,G,B", a->mean);
    if (a->std && mxb_parse_rgb(a->std, 1, p->std))
        return mxb_usage_error(cmd, "--std: '%s' is not three positive numbers R,G,B", a->std);
    if (mxb_preprocess_out_size(p) != cfg->img_size)
        return mxb_usage_error(cmd, "--resize/--crop make %d px inputs but the model takes %d px",
                               mxb_preprocess_out_size(p), cfg->img_size);
    return 0;
}

float *mxb_load_input_image(const char *path, const mxb_config *cfg, const mxb_preprocess *p, uint8_t **rgb_out,
                            char *err, size_t errlen) {
    if (cfg->in_chans != 3) {
        mxb_seterr(err, errlen, "%s: the model takes %d channels; --image makes RGB", path, cfg->in_chans);
        return NULL;
    }
    uint8_t *rgb = NULL, *small = NULL;
    int h, w;
    if (mxb_image_read(path, 0, &rgb, &h, &w, err, errlen)) return NULL;
    const size_t S = (size_t)cfg->img_size;
    float *x = mxb_alloc(3 * S * S * sizeof *x, "image buffers");
    small = mxb_alloc(3 * S * S, "image buffers");
    if (mxb_preprocess_image(p, rgb, h, w, small, x, err, errlen)) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s: %s", path, err); /* name the image */
        mxb_seterr(err, errlen, "%s", msg);
        free(x);
        x = NULL;
    }
    free(rgb);
    if (x && rgb_out) *rgb_out = small;
    else free(small);
    return x;
}

void mxb_print_topk(const float *logits, int n, int k) {
    double mx = logits[0], sum = 0;
    for (int i = 1; i < n; i++) mx = logits[i] > mx ? logits[i] : mx;
    for (int i = 0; i < n; i++) sum += exp(logits[i] - mx);
    if (n < 1) return;
    int *used = mxb_alloc0((size_t)n, sizeof *used, "class table");
    printf("class   probability   logit\n");
    for (int r = 0; r < k && r < n; r++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!used[i] && (best < 0 || logits[i] > logits[best])) best = i;
        used[best] = 1;
        printf("%5d   %11.6f   %9.4f\n", best, exp(logits[best] - mx) / sum, logits[best]);
    }
    free(used);
}
