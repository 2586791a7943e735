/* A plugin method named "..": refused at load by the one name rule (issue 23, class 12). */
#include "methods/method.h"

static int zero(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    (void)err, (void)errlen;
    for (int i = 0; i < in->grid * in->grid; i++) map[i] = 0;
    return 0;
}
static const mxb_method dots = {.abi_version = MXB_METHOD_ABI_VERSION, .name = "..", .archs = MXB_METHOD_VIT,
                                .explain = zero};
static const mxb_method *const methods[] = {&dots};
const mxb_method *const *mxb_plugin_methods(int *count) {
    *count = 1;
    return methods;
}
