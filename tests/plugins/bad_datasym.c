/* A plugin exporting a data object named mxb_plugin_methods: calling it would jump
 * into data; the loader must see that the symbol is not a function. */
#include "methods/method.h"

const char mxb_plugin_methods[64] = "not a function";
