#include "harness/harness.h"

int main(int argc, char **argv) {
    /* before anything else: may restart the program once with better BLAS kernels */
    mxb_blas_startup(argv);
    return mxb_main(argc, argv);
}
