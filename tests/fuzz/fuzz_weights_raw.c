/* Weights files as raw bytes: mxb_model_load on whatever the input is. This mostly
 * fuzzes libhdf5's own parser, which is known not to survive byte-mutated files (see
 * README.md: the crashes are upstream's and recorded there); it is kept to measure
 * that, and fuzz_weights is the target that must run clean. */
#include "engine/engine.h"
#include "fuzz_util.h"

#include <hdf5.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_write("raw.h5", data, size);
    mxb_model *m = NULL;
    char err[1024] = "";
    if (mxb_model_load(path, &m, err, sizeof err) == 0)
        mxb_model_free(m);
    else
        fz_check_err(err);
    return 0;
}
