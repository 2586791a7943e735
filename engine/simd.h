/* Private to engine/: the vector math the element-wise, scan and hidden-attention
 * kernels are written in. Header-only (static inline): nothing here crosses the
 * library's boundary, and every caller gets the same operations in the same order. */
#ifndef MXB_ENGINE_SIMD_H
#define MXB_ENGINE_SIMD_H

#include <string.h>

/* exp for the scan and hidden-attention inner loops: Cephes' polynomial with a
 * Cody-Waite reduction, branch-free so loops over it vectorise (libm's expf is a
 * call per element). Relative error below 2e-7 over the range the models produce;
 * arguments below -87.3 return 0 (as exp does in float, up to denormals). */
static inline float fast_expf(float x) {
    x = x < 88.3762626647949f ? x : 88.3762626647949f;
    const float under = x < -87.33654f ? 0.0f : 1.0f;
    x = x > -87.33654f ? x : -87.33654f;
    float fx = x * 1.44269504088896341f + 0.5f;
    const int n = (int)fx - (fx < (float)(int)fx); /* floor */
    fx = (float)n;
    x -= fx * 0.693359375f;
    x -= fx * -2.12194440e-4f;
    const float z = x * x;
    float y = 1.9875691500E-4f;
    y = y * x + 1.3981999507E-3f;
    y = y * x + 8.3334519073E-3f;
    y = y * x + 4.1665795894E-2f;
    y = y * x + 1.6666665459E-1f;
    y = y * x + 5.0000001201E-1f;
    y = y * z + x + 1.0f;
    union { int i; float f; } p2 = {.i = (n + 127) << 23};
    return y * p2.f * under;
}
/* Sixteen float lanes (one AVX-512 register, two AVX2 ones), GCC/Clang vector
 * extensions: the scan and hidden-attention kernels are written on this type
 * because gcc 12 would not if-convert fast_expf's clamps inside those loops and left
 * them scalar. Loads and stores go through memcpy (any alignment). */
#pragma GCC diagnostic ignored "-Wpsabi" /* static inline only: never crosses an ABI boundary */
typedef float vf16 __attribute__((vector_size(64)));
typedef int vi16 __attribute__((vector_size(64)));

static inline vf16 vf16_load(const float *p) {
    vf16 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void vf16_store(float *p, vf16 v) { memcpy(p, &v, sizeof v); }
static inline vf16 vf16_splat(float x) { return (vf16){0} + x; }
/* the first n lanes from p, the rest 0 (for the last, partial block of channels) */
static inline vf16 vf16_load_part(const float *p, int n) {
    vf16 v = {0};
    if (n >= 16) return vf16_load(p);
    memcpy(&v, p, (size_t)n * sizeof(float));
    return v;
}
static inline void vf16_store_part(float *p, vf16 v, int n) {
    memcpy(p, &v, (size_t)(n < 16 ? n : 16) * sizeof(float));
}
/* mask of the lanes below n */
static inline vi16 vf16_lanes_below(int n) {
    const vi16 idx = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    return idx < n;
}
/* lanes added in a fixed tree order: the same bits on every run */
static inline float vf16_sum(vf16 v) {
    float s[16];
    memcpy(s, &v, sizeof s);
    for (int w = 8; w >= 1; w /= 2)
        for (int i = 0; i < w; i++) s[i] += s[i + w];
    return s[0];
}
/* fast_expf on sixteen lanes, the same operations in the same order per lane */
static inline vf16 vf16_exp(vf16 x) {
    const vi16 lo = x > -87.33654f, hi = x < 88.3762626647949f;
    const vf16 under = (vf16)(lo & (vi16)vf16_splat(1.0f));
    x = (vf16)((hi & (vi16)x) | (~hi & (vi16)vf16_splat(88.3762626647949f)));
    x = (vf16)((lo & (vi16)x) | (~lo & (vi16)vf16_splat(-87.33654f)));
    vf16 fx = x * 1.44269504088896341f + 0.5f;
    vi16 n = __builtin_convertvector(fx, vi16);
    n += (vi16)(fx < __builtin_convertvector(n, vf16)); /* floor: -1 where truncation rounded up */
    fx = __builtin_convertvector(n, vf16);
    x -= fx * 0.693359375f;
    x -= fx * -2.12194440e-4f;
    const vf16 z = x * x;
    vf16 y = vf16_splat(1.9875691500E-4f);
    y = y * x + 1.3981999507E-3f;
    y = y * x + 8.3334519073E-3f;
    y = y * x + 4.1665795894E-2f;
    y = y * x + 1.6666665459E-1f;
    y = y * x + 5.0000001201E-1f;
    y = y * z + x + 1.0f;
    return y * (vf16)((n + 127) << 23) * under;
}
/* Cephes' logf on sixteen lanes, for positive finite x */
static inline vf16 vf16_log(vf16 x) {
    const vi16 bits = (vi16)x;
    vf16 e = __builtin_convertvector(((bits >> 23) & 0xff) - 126, vf16);
    vf16 m = (vf16)((bits & 0x807fffff) | 0x3f000000); /* x = m 2^e, m in [0.5, 1) */
    const vi16 small = m < 0.707106781186547524f;
    e -= (vf16)(small & (vi16)vf16_splat(1.0f));
    m = m - 1.0f + (vf16)(small & (vi16)m); /* m < √½: 2m - 1, else m - 1 */
    const vf16 z = m * m;
    vf16 y = vf16_splat(7.0376836292E-2f);
    y = y * m - 1.1514610310E-1f;
    y = y * m + 1.1676998740E-1f;
    y = y * m - 1.2420140846E-1f;
    y = y * m + 1.4249322787E-1f;
    y = y * m - 1.6668057665E-1f;
    y = y * m + 2.0000714765E-1f;
    y = y * m - 2.4999993993E-1f;
    y = y * m + 3.3333331174E-1f;
    y = y * m * z;
    y += e * -2.12194440e-4f;
    y -= 0.5f * z;
    return m + y + e * 0.693359375f;
}
static inline vf16 vf16_sigmoid(vf16 x) { return 1.0f / (1.0f + vf16_exp(-x)); }
static inline vf16 vf16_silu(vf16 x) { return x * vf16_sigmoid(x); }
static inline vf16 vf16_silu_grad(vf16 x) {
    const vf16 s = vf16_sigmoid(x);
    return s * (1.0f + x * (1.0f - s));
}
/* F.softplus (threshold 20): log1p(exp(x)), with log1p(e) = log(u)·e/(u-1), u = 1+e,
 * which keeps full relative precision for small e (Goldberg's trick). */
static inline vf16 vf16_softplus(vf16 x) {
    const vf16 e = vf16_exp(x), u = 1.0f + e;
    const vi16 exact = u == 1.0f, big = x > 20.0f;
    const vf16 l = vf16_log(u) * (e / (u - 1.0f + (vf16)(exact & (vi16)vf16_splat(1.0f))));
    const vf16 r = (vf16)((exact & (vi16)e) | (~exact & (vi16)l));
    return (vf16)((big & (vi16)x) | (~big & (vi16)r));
}
/* erf as a rational function of x (odd over even, the form and coefficients of
 * Eigen's float erf), clamped to ±4 where float erf is ±1: within 5e-7 of erf. */
static inline vf16 vf16_erf(vf16 x) {
    const vi16 hi = x > 4.0f, lo = x < -4.0f;
    x = (vf16)((hi & (vi16)vf16_splat(4.0f)) | (~hi & (vi16)x));
    x = (vf16)((lo & (vi16)vf16_splat(-4.0f)) | (~lo & (vi16)x));
    const vf16 x2 = x * x;
    vf16 p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
    p = x2 * p - 2.10102402082508e-06f;
    p = x2 * p - 5.69250639462346e-05f;
    p = x2 * p - 7.34990630326855e-04f;
    p = x2 * p - 2.95459980854025e-03f;
    p = x2 * p - 1.60960333262415e-02f;
    vf16 q = x2 * -1.45660718464996e-05f - 2.13374055278905e-04f;
    q = x2 * q - 1.68282697438203e-03f;
    q = x2 * q - 7.37332916720468e-03f;
    q = x2 * q - 1.42647390514189e-02f;
    return x * p / q;
}
/* nn.GELU() (the erf form) and its derivative */
static inline vf16 vf16_gelu(vf16 x) { return 0.5f * x * (1.0f + vf16_erf(x * 0.70710678118654752f)); }
static inline vf16 vf16_gelu_grad(vf16 x) {
    const vf16 cdf = 0.5f * (1.0f + vf16_erf(x * 0.70710678118654752f));
    return cdf + x * (vf16_exp(-0.5f * x * x) * 0.3989422804014327f);
}
#endif
