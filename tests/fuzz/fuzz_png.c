/* PNG reader (datasets/image_io.c) as `mxb predict --image` and the ImageNet reader
 * call it: mxb_image_decode on the file's bytes. The first 8 bytes are forced to the
 * PNG signature so that every input reaches libpng and our checks around it. */
#include "datasets/datasets.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t *buf = malloc(size + 8);
    memcpy(buf, sig, 8);
    if (size > 8) memcpy(buf + 8, data + 8, size - 8);
    size_t n = size > 8 ? size : 8;
    uint8_t *rgb = NULL;
    int h = 0, w = 0;
    char err[512] = "";
    /* a modest pixel limit keeps each input cheap; the limit logic is the same */
    if (mxb_image_decode(buf, n, "fuzz.png", (size_t)1 << 22, &rgb, &h, &w, err, sizeof err) == 0) {
        if (h < 1 || w < 1 || (size_t)h * w > (size_t)1 << 22) abort();
        volatile uint8_t s = 0; /* touch every byte: the buffer really is h * w * 3 */
        for (size_t i = 0; i < (size_t)h * w * 3; i++) s ^= rgb[i];
        (void)s;
    } else {
        if (rgb) abort();
        fz_check_err(err);
    }
    free(rgb);
    free(buf);
    return 0;
}
