/* PNG reader (datasets/image_io.c) as `mxb predict --image` and the ImageNet reader
 * call it: mxb_image_decode on the file's bytes. The first 8 bytes are forced to the
 * PNG signature so that every input reaches libpng and our checks around it. */
#include "datasets/datasets.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    return fz_image(data, size, sig, sizeof sig, "fuzz.png");
}
