/* A plugin whose method table holds a NULL entry: refused, naming the entry. */
#include "methods/method.h"

#include <stddef.h>

static const mxb_method *const methods[] = {NULL};
const mxb_method *const *mxb_plugin_methods(int *count) {
    *count = 1;
    return methods;
}
