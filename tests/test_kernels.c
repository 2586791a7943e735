/* Engine kernels against libm and closed forms. */
#include "engine/internal.h"
#include "engine/ops.h"
#include "engine/simd.h"
#include "mxb_test.h"

#include <math.h>
#include <stdio.h>

/* fast_expf against double-precision exp over the whole float range it serves */
static void test_fast_expf(void) {
    double worst = 0;
    for (float x = -87.0f; x < 88.0f; x += 0.00731f) {
        const double e = exp((double)x), r = fabs(fast_expf(x) - e) / e;
        worst = r > worst ? r : worst;
    }
    printf("\n  max relative error %.3g", worst);
    CU_ASSERT(worst < 2e-7);
    CU_ASSERT_EQUAL(fast_expf(0.0f), 1.0f);
    CU_ASSERT_EQUAL(fast_expf(-200.0f), 0.0f);
    CU_ASSERT(isfinite(fast_expf(200.0f)));
}

/* a vf16 function applied to x in every lane; lanes must agree */
static float lanes(vf16 (*fn)(vf16), float x) {
    float out[16];
    vf16_store(out, fn(vf16_splat(x)));
    for (int i = 1; i < 16; i++) CU_ASSERT_EQUAL(out[i], out[0]);
    return out[0];
}

/* the vector exp against the scalar one it mirrors, and log against double log */
static void test_vector_exp_log(void) {
    double worst = 0;
    int differ = 0;
    for (float x = -100.0f; x < 100.0f; x += 0.0173f) {
        const float v = lanes(vf16_exp, x);
        differ += v != fast_expf(x) && fabsf(v - fast_expf(x)) > 2e-7f * fast_expf(x);
    }
    for (float x = 1e-30f; x < 1e30f; x *= 1.0137f)
        worst = fmax(worst, fabs(lanes(vf16_log, x) - log((double)x)) / fmax(fabs(log((double)x)), 1e-3));
    printf("\n  exp lanes off the scalar: %d, log max error %.3g", differ, worst);
    CU_ASSERT_EQUAL(differ, 0);
    CU_ASSERT(worst < 3e-7);
}

/* softplus with PyTorch's threshold (relative precision kept for small results),
 * SiLU against its closed form, SiLU and GELU derivatives by central differences */
static void test_pointwise(void) {
    double worst_sp = 0, worst_silu = 0;
    for (float x = -40; x <= 30; x += 0.0191f) {
        const double sp = x > 20 ? x : log1p(exp((double)x));
        worst_sp = fmax(worst_sp, fabs(lanes(vf16_softplus, x) - sp) / sp);
        const double si = x / (1 + exp(-(double)x));
        worst_silu = fmax(worst_silu, fabs(lanes(vf16_silu, x) - si) / fmax(fabs(si), 1e-30));
    }
    printf("\n  softplus max relative error %.3g, silu %.3g", worst_sp, worst_silu);
    CU_ASSERT(worst_sp < 5e-7);
    CU_ASSERT(worst_silu < 5e-7);
    CU_ASSERT_EQUAL(lanes(vf16_softplus, 25.0f), 25.0f);
    double worst = 0;
    for (float x = -6; x <= 6; x += 0.37f) {
        const double h = 1e-3, xd = x;
        const double fd = ((xd + h) / (1 + exp(-(xd + h))) - (xd - h) / (1 + exp(-(xd - h)))) / (2 * h);
        worst = fmax(worst, fabs(lanes(vf16_silu_grad, x) - fd));
        const double gd = ((xd + h) * 0.5 * (1 + erf((xd + h) / M_SQRT2)) -
                           (xd - h) * 0.5 * (1 + erf((xd - h) / M_SQRT2))) / (2 * h);
        worst = fmax(worst, fabs(lanes(vf16_gelu_grad, x) - gd));
    }
    printf("\n  derivative error %.3g", worst);
    CU_ASSERT(worst < 1e-3);
    CU_ASSERT(fabs(lanes(vf16_sigmoid, 0.0f) - 0.5f) == 0);
    double worst_erf = 0, worst_gelu = 0;
    for (float x = -9; x <= 9; x += 0.00117f) {
        worst_erf = fmax(worst_erf, fabs(lanes(vf16_erf, x) - erf((double)x)));
        worst_gelu = fmax(worst_gelu, fabs(lanes(vf16_gelu, x) - 0.5 * x * (1 + erf(x / M_SQRT2))));
    }
    printf(", erf %.3g, gelu %.3g", worst_erf, worst_gelu);
    CU_ASSERT(worst_erf < 5e-7);
    CU_ASSERT(worst_gelu < 2e-6);
    CU_ASSERT(fabs(lanes(vf16_gelu, 1.0f) - 0.8413447460685429) < 1e-6);
}

int main(void) {
    static const mxb_test_case cases[] = {
        {"fast_expf within 2e-7 of exp", test_fast_expf},
        {"vector exp equals the scalar one, log within 3e-7", test_vector_exp_log},
        {"pointwise functions and their derivatives", test_pointwise},
        {NULL, NULL}};
    return mxb_test_main("kernels", cases);
}
