/* Engine kernels against libm and closed forms. */
#include "engine/internal.h"
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

/* softplus with PyTorch's threshold, SiLU and GELU derivatives by central differences */
static void test_pointwise(void) {
    CU_ASSERT(fabs(softplus(0.0f) - logf(2.0f)) < 1e-7);
    CU_ASSERT_EQUAL(softplus(25.0f), 25.0f);
    double worst = 0;
    for (float x = -6; x <= 6; x += 0.37f) {
        const float h = 1e-3f;
        worst = fmax(worst, fabs(silu_grad(x) - (silu(x + h) - silu(x - h)) / (2 * h)));
        worst = fmax(worst, fabs(gelu_erf_grad(x) - (gelu_erf(x + h) - gelu_erf(x - h)) / (2 * h)));
    }
    printf("\n  derivative error %.3g", worst);
    CU_ASSERT(worst < 1e-3);
    CU_ASSERT(fabs(gelu_erf(1.0f) - 0.8413447460685429) < 1e-6);
}

int main(void) {
    static const mxb_test_case cases[] = {
        {"fast_expf within 2e-7 of exp", test_fast_expf},
        {"pointwise functions and their derivatives", test_pointwise},
        {NULL, NULL}};
    return mxb_test_main("kernels", cases);
}
