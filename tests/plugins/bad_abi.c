/* A plugin built for another method ABI: must be refused. */
#include "methods/method.h"

static int nothing(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    (void)in, (void)map, (void)err, (void)errlen;
    return 0;
}
static const mxb_method old = {.abi_version = 3 /* one past this header's: refused */, .name = "old-abi",
                               .archs = MXB_METHOD_VIT, .explain = nothing};
static const mxb_method *const methods[] = {&old};
const mxb_method *const *mxb_plugin_methods(int *count) {
    *count = 1;
    return methods;
}
