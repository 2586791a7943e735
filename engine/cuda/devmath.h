/* engine/simd.h's element-wise math, one lane at a time on the GPU: the same
 * polynomials and the same operations in the same order, so a GPU kernel and the CPU
 * kernel it mirrors differ by the last bit at most (CUDA's own expf/erff would differ
 * by a few). Private to engine/cuda/ (CUDA C++ only). */
#ifndef MXB_ENGINE_CUDA_DEVMATH_H
#define MXB_ENGINE_CUDA_DEVMATH_H

/* fast_expf (engine/simd.h vf16_exp) */
__device__ __forceinline__ float mxb_expf(float x) {
    const float under = x > -87.33654f ? 1.0f : 0.0f;
    x = x < 88.3762626647949f ? x : 88.3762626647949f;
    x = x > -87.33654f ? x : -87.33654f;
    float fx = x * 1.44269504088896341f + 0.5f;
    int n = (int)fx;
    if (fx < (float)n) n -= 1; /* floor: truncation rounded up */
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
    return y * __int_as_float((n + 127) << 23) * under;
}

/* Cephes' logf for positive finite x (vf16_log) */
__device__ __forceinline__ float mxb_logf(float x) {
    const int bits = __float_as_int(x);
    float e = (float)(((bits >> 23) & 0xff) - 126);
    float m = __int_as_float((bits & 0x807fffff) | 0x3f000000);
    const bool small = m < 0.707106781186547524f;
    if (small) e -= 1.0f;
    m = m - 1.0f + (small ? m : 0.0f);
    const float z = m * m;
    float y = 7.0376836292E-2f;
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

__device__ __forceinline__ float mxb_sigmoidf(float x) { return 1.0f / (1.0f + mxb_expf(-x)); }
__device__ __forceinline__ float mxb_siluf(float x) { return x * mxb_sigmoidf(x); }

/* F.softplus, threshold 20 (vf16_softplus: log1p by Goldberg's trick) */
__device__ __forceinline__ float mxb_softplusf(float x) {
    const float e = mxb_expf(x), u = 1.0f + e;
    const bool exact = u == 1.0f;
    const float l = mxb_logf(u) * (e / (u - 1.0f + (exact ? 1.0f : 0.0f)));
    const float r = exact ? e : l;
    return x > 20.0f ? x : r;
}

/* Eigen's float erf, clamped to ±4 (vf16_erf) */
__device__ __forceinline__ float mxb_erff(float x) {
    x = x > 4.0f ? 4.0f : x;
    x = x < -4.0f ? -4.0f : x;
    const float x2 = x * x;
    float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
    p = x2 * p - 2.10102402082508e-06f;
    p = x2 * p - 5.69250639462346e-05f;
    p = x2 * p - 7.34990630326855e-04f;
    p = x2 * p - 2.95459980854025e-03f;
    p = x2 * p - 1.60960333262415e-02f;
    float q = x2 * -1.45660718464996e-05f - 2.13374055278905e-04f;
    q = x2 * q - 1.68282697438203e-03f;
    q = x2 * q - 7.37332916720468e-03f;
    q = x2 * q - 1.42647390514189e-02f;
    return x * p / q;
}

__device__ __forceinline__ float mxb_geluf(float x) { return 0.5f * x * (1.0f + mxb_erff(x * 0.70710678118654752f)); }

/* Launch geometry shared by the element-wise kernels. */
#define MXB_CU_THREADS 256
static inline unsigned mxb_cu_blocks(size_t n) {
    size_t b = (n + MXB_CU_THREADS - 1) / MXB_CU_THREADS;
    return (unsigned)(b < 1 ? 1 : b > 2147483647u ? 2147483647u : b);
}

#endif
