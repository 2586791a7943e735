/* A shared object without the plugin entry point: must be refused. */
int mxb_something_else(void) { return 42; }
