/* Methods that misbehave at run time, one each: "nanmap" returns an all-NaN map,
 * "twolines" fails with a two-line message, "exits" calls exit(0) in the middle of
 * a run. mxb's answers are documented in configs/README.md (plugins). */
#include "methods/method.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int nanmap(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    (void)err, (void)errlen;
    for (int i = 0; i < in->grid * in->grid; i++) map[i] = NAN;
    return 0;
}
static int twolines(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    (void)in, (void)map;
    snprintf(err, errlen, "first line\nsecond line");
    return -1;
}
static int exits(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    (void)in, (void)map, (void)err, (void)errlen;
    exit(0);
}
#define M(fn) {.abi_version = MXB_METHOD_ABI_VERSION, .name = #fn, .archs = MXB_METHOD_VIT | MXB_METHOD_VIM, .explain = fn}
static const mxb_method nanmap_m = M(nanmap), twolines_m = M(twolines), exits_m = M(exits);
static const mxb_method *const methods[] = {&nanmap_m, &twolines_m, &exits_m};
const mxb_method *const *mxb_plugin_methods(int *count) {
    *count = 3;
    return methods;
}
