/* JPEG reader (datasets/image_io.c) as `mxb predict --image` and the ImageNet reader
 * call it: mxb_image_decode on the file's bytes. The first 3 bytes are forced to the
 * JPEG SOI marker so that every input reaches libjpeg-turbo and our checks around it. */
#include "datasets/datasets.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const uint8_t sig[3] = {0xFF, 0xD8, 0xFF};
    return fz_image(data, size, sig, sizeof sig, "fuzz.jpg");
}
