/* A plugin whose entry point returns a NULL table (count 1), and one whose table
 * holds a NULL entry (bad_nullentry.c): refused with what is wrong. */
#include "methods/method.h"

#include <stddef.h>

const mxb_method *const *mxb_plugin_methods(int *count) {
    *count = 1;
    return NULL;
}
