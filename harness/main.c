#include "harness/harness.h"

int main(int argc, char **argv) { return mxb_main(argc, argv); }
