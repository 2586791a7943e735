/* torchvision's evaluation transforms on PIL images, reproduced to the bit:
 * PIL 9's Resample.c (bilinear/bicubic) and affine nearest, CenterCrop's rounding,
 * ToTensor and Normalize in float. */
#include "datasets/datasets.h"
#include "io/io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PIL keeps 8 bits for the result and 2 for overflow of the signed sum. */
#define PRECISION_BITS (32 - 8 - 2)

static double bilinear_filter(double x) {
    if (x < 0.0) x = -x;
    if (x < 1.0) return 1.0 - x;
    return 0.0;
}

static double bicubic_filter(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

/* PIL's precompute_coeffs + normalize_coeffs_8bpc for a full-image box: for each
 * output index, the first input index, the tap count, and ksize fixed-point taps.
 * The support grows with the downscale factor: that is PIL's antialiasing. */
static int coefficients(int in_size, int out_size, mxb_filter filter, int **bounds_out,
                        int32_t **kk_out) {
    double (*fn)(double) = filter == MXB_FILTER_BICUBIC ? bicubic_filter : bilinear_filter;
    double support = filter == MXB_FILTER_BICUBIC ? 2.0 : 1.0;
    float in0 = 0.0f, in1 = (float)in_size;
    double scale = (double)(in1 - in0) / out_size, filterscale = scale;
    if (filterscale < 1.0) filterscale = 1.0;
    support *= filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    double *k = mxb_try_alloc((size_t)ksize * sizeof *k);
    int32_t *kk = mxb_try_alloc((size_t)out_size * ksize * sizeof *kk);
    int *bounds = mxb_try_alloc((size_t)out_size * 2 * sizeof *bounds);
    if (!k || !kk || !bounds) {
        free(k); free(kk); free(bounds);
        return 0;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = in0 + (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        int x = 0;
        for (; x < xmax; x++) {
            double w = fn((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (; x < ksize; x++) k[x] = 0;
        for (x = 0; x < ksize; x++)
            kk[xx * ksize + x] = k[x] < 0 ? (int32_t)(-0.5 + k[x] * (1 << PRECISION_BITS))
                                          : (int32_t)(0.5 + k[x] * (1 << PRECISION_BITS));
        bounds[2 * xx] = xmin;
        bounds[2 * xx + 1] = xmax;
    }
    free(k);
    *bounds_out = bounds;
    *kk_out = kk;
    return ksize;
}

static uint8_t clip8(int32_t v) {
    /* PIL: a table indexed by v >> PRECISION_BITS, i.e. floor, clamped to 0..255 */
    int32_t q = v >> PRECISION_BITS;
    return (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
}

/* PIL's affine nearest (ImagingScaleAffine): the source coordinate of output x is
 * accumulated in double from in/out * 0.5 in steps of in/out, then truncated. */
static void resize_nearest(const uint8_t *in, int h, int w, int c, uint8_t *out, int oh, int ow) {
    double ax = (double)(float)w / ow, ay = (double)(float)h / oh;
    int *xin = mxb_alloc((size_t)ow * sizeof *xin, "the resize column table"); /* ow: the model input side */
    double xo = ax * 0.5;
    for (int x = 0; x < ow; x++) {
        xin[x] = xo < 0.0 ? -1 : (int)xo;
        xo += ax;
    }
    double yo = ay * 0.5;
    for (int y = 0; y < oh; y++) {
        int yi = yo < 0.0 ? -1 : (int)yo;
        uint8_t *dst = out + (size_t)y * ow * c;
        memset(dst, 0, (size_t)ow * c); /* PIL fills what falls outside with 0 */
        if (yi >= 0 && yi < h)
            for (int x = 0; x < ow; x++)
                if (xin[x] >= 0 && xin[x] < w) memcpy(dst + (size_t)x * c, in + ((size_t)yi * w + xin[x]) * c, (size_t)c);
        yo += ay;
    }
    free(xin);
}

int mxb_resize(const uint8_t *in, int h, int w, int c, uint8_t *out, int oh, int ow,
               mxb_filter filter, char *err, size_t errlen) {
    if (h <= 0 || w <= 0 || oh <= 0 || ow <= 0 || c < 1 || c > 4 || oh > 65535 || ow > 65535) {
        mxb_seterr(err, errlen, "resize: bad sizes %dx%dx%d -> %dx%d", h, w, c, oh, ow);
        return -1;
    }
    if (filter != MXB_FILTER_NEAREST && filter != MXB_FILTER_BILINEAR && filter != MXB_FILTER_BICUBIC) {
        mxb_seterr(err, errlen, "resize: unknown filter %d", (int)filter);
        return -1;
    }
    if (oh == h && ow == w) { /* PIL copies */
        memcpy(out, in, (size_t)h * w * c);
        return 0;
    }
    if (filter == MXB_FILTER_NEAREST) {
        resize_nearest(in, h, w, c, out, oh, ow);
        return 0;
    }
    int *bh = NULL, *bv = NULL;
    int32_t *kh = NULL, *kv = NULL;
    int ksh = coefficients(w, ow, filter, &bh, &kh);
    int ksv = ksh ? coefficients(h, oh, filter, &bv, &kv) : 0;
    if (!ksh || !ksv) {
        free(bh); free(kh);
        mxb_seterr(err, errlen, "resize: out of memory (%dx%d -> %dx%d)", h, w, oh, ow);
        return -1;
    }
    /* Horizontal pass first, over the source rows the vertical pass will use. */
    int need_h = ow != w, need_v = oh != h;
    int y_first = bv[0], y_last = bv[2 * oh - 2] + bv[2 * oh - 1];
    const uint8_t *src = in;
    int src_rows_off = 0;
    uint8_t *tmp = NULL;
    if (need_h) {
        int rows = y_last - y_first;
        tmp = need_v ? mxb_try_alloc((size_t)rows * ow * c) : NULL;
        if (need_v && !tmp) {
            free(bh); free(kh); free(bv); free(kv);
            mxb_seterr(err, errlen, "resize: out of memory (%dx%d -> %dx%d)", h, w, oh, ow);
            return -1;
        }
        for (int y = 0; y < rows; y++) {
            const uint8_t *row = in + (size_t)(y + y_first) * w * c;
            /* with the height unchanged, rows == h and the pass writes out directly */
            uint8_t *dst = need_v ? tmp + (size_t)y * ow * c : out + (size_t)y * ow * c;
            for (int xx = 0; xx < ow; xx++) {
                int xmin = bh[2 * xx], xmax = bh[2 * xx + 1];
                const int32_t *k = kh + (size_t)xx * ksh;
                for (int ch = 0; ch < c; ch++) {
                    int32_t ss = 1 << (PRECISION_BITS - 1);
                    for (int x = 0; x < xmax; x++) ss += row[(size_t)(x + xmin) * c + ch] * k[x];
                    dst[(size_t)xx * c + ch] = clip8(ss);
                }
            }
        }
        src = tmp;
        src_rows_off = y_first;
    }
    if (need_v) {
        int sw = need_h ? ow : w;
        for (int yy = 0; yy < oh; yy++) {
            int ymin = bv[2 * yy] - src_rows_off, ymax = bv[2 * yy + 1];
            const int32_t *k = kv + (size_t)yy * ksv;
            uint8_t *dst = out + (size_t)yy * sw * c;
            for (int xx = 0; xx < sw; xx++)
                for (int ch = 0; ch < c; ch++) {
                    int32_t ss = 1 << (PRECISION_BITS - 1);
                    for (int y = 0; y < ymax; y++) ss += src[((size_t)(y + ymin) * sw + xx) * c + ch] * k[y];
                    dst[(size_t)xx * c + ch] = clip8(ss);
                }
        }
    }
    free(tmp);
    free(bh); free(kh); free(bv); free(kv);
    return 0;
}

/* Python's round() on (d / 2.0): half to even. */
static int round_half_even_div2(int d) {
    int q = d / 2; /* d >= 0 here */
    if (d % 2 == 0) return q;
    return (q % 2 == 0) ? q : q + 1;
}

void mxb_center_crop(const uint8_t *in, int h, int w, int c, uint8_t *out, int ch, int cw) {
    /* torchvision pads a too-small image with zeros, (crop - size) // 2 before */
    int pad_top = ch > h ? (ch - h) / 2 : 0, pad_left = cw > w ? (cw - w) / 2 : 0;
    int ph = h > ch ? h : ch, pw = w > cw ? w : cw;
    int top = round_half_even_div2(ph - ch), left = round_half_even_div2(pw - cw);
    for (int y = 0; y < ch; y++)
        for (int x = 0; x < cw; x++) {
            int sy = y + top - pad_top, sx = x + left - pad_left;
            uint8_t *d = out + ((size_t)y * cw + x) * c;
            if (sy < 0 || sy >= h || sx < 0 || sx >= w) memset(d, 0, (size_t)c);
            else memcpy(d, in + ((size_t)sy * w + sx) * c, (size_t)c);
        }
}

void mxb_to_tensor(const uint8_t *rgb, int h, int w, const float *mean, const float *std, float *chw) {
    size_t n = (size_t)h * w;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < n; i++) {
            float v = (float)rgb[3 * i + c] / 255.0f;
            chw[c * n + i] = mean && std ? (v - mean[c]) / std[c] : v;
        }
}

void mxb_normalize(float *chw, int h, int w, const float mean[3], const float std[3]) {
    size_t n = (size_t)h * w;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < n; i++) chw[c * n + i] = (chw[c * n + i] - mean[c]) / std[c];
}

mxb_preprocess mxb_preprocess_imagenet(void) {
    return (mxb_preprocess){256, 0, 224, MXB_FILTER_BICUBIC, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
}

mxb_preprocess mxb_preprocess_segmentation(void) {
    return (mxb_preprocess){224, 1, 0, MXB_FILTER_BILINEAR, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
}

int mxb_preprocess_out_size(const mxb_preprocess *p) {
    return p->crop > 0 ? p->crop : p->size;
}

/* torchvision Resize(size): the short side becomes size, the long side
 * int(size * long / short) (an exactly rounded division, as Python's). */
static void resized_dims(const mxb_preprocess *p, int h, int w, int *oh, int *ow) {
    if (p->square) {
        *oh = *ow = p->size;
    } else if (w <= h) {
        *ow = p->size;
        *oh = (int)((double)p->size * h / w);
    } else {
        *oh = p->size;
        *ow = (int)((double)p->size * w / h);
    }
}

static int run(const mxb_preprocess *p, const uint8_t *in, int h, int w, int c, mxb_filter filter,
               uint8_t *out, char *err, size_t errlen) {
    if (p->size <= 0 || p->size > 65535 || p->crop < 0 || p->crop > 65535) {
        mxb_seterr(err, errlen, "preprocess: bad size %d / crop %d", p->size, p->crop);
        return -1;
    }
    if (h <= 0 || w <= 0) {
        mxb_seterr(err, errlen, "preprocess: empty image %dx%d", h, w);
        return -1;
    }
    int oh, ow;
    resized_dims(p, h, w, &oh, &ow);
    if (oh <= 0 || ow <= 0 || oh > 65535 || ow > 65535) {
        mxb_seterr(err, errlen, "preprocess: %dx%d resizes to a bad %dx%d", h, w, oh, ow);
        return -1;
    }
    if (p->crop <= 0) {
        if (oh != ow) {
            mxb_seterr(err, errlen, "preprocess: Resize(%d) of %dx%d without a crop is not square", p->size, h, w);
            return -1;
        }
        return mxb_resize(in, h, w, c, out, oh, ow, filter, err, errlen);
    }
    uint8_t *tmp = mxb_try_alloc((size_t)oh * ow * c);
    if (!tmp) {
        mxb_seterr(err, errlen, "preprocess: out of memory for %dx%d", oh, ow);
        return -1;
    }
    if (mxb_resize(in, h, w, c, tmp, oh, ow, filter, err, errlen)) {
        free(tmp);
        return -1;
    }
    mxb_center_crop(tmp, oh, ow, c, out, p->crop, p->crop);
    free(tmp);
    return 0;
}

int mxb_preprocess_image(const mxb_preprocess *p, const uint8_t *rgb, int h, int w,
                         uint8_t *out_rgb, float *out_chw, char *err, size_t errlen) {
    int s = mxb_preprocess_out_size(p);
    uint8_t *buf = out_rgb;
    if (!buf) {
        buf = mxb_try_alloc((size_t)(s > 0 ? s : 1) * (s > 0 ? s : 1) * 3);
        if (!buf) {
            mxb_seterr(err, errlen, "preprocess: out of memory");
            return -1;
        }
    }
    int rc = run(p, rgb, h, w, 3, p->filter, buf, err, errlen);
    if (!rc && out_chw) mxb_to_tensor(buf, s, s, p->mean, p->std, out_chw);
    if (buf != out_rgb) free(buf);
    return rc;
}

int mxb_preprocess_mask(const mxb_preprocess *p, const uint8_t *mask, int h, int w,
                        uint8_t *out, char *err, size_t errlen) {
    return run(p, mask, h, w, 1, MXB_FILTER_NEAREST, out, err, errlen);
}
