/* ImageNet-segmentation files (datasets/gtsegs.c), structure-aware: a valid two-image
 * gtsegs-structured file (templates/gtsegs.mat, from `mxb synth`: MATLAB v7.3 struct
 * of reference arrays img and gt, #refs# cells) is mutated object by object
 * (fuzz_h5mut.h: dangling, null and misdirected references, wrong shapes and types,
 * huge declared images, non-0/1 mask values, missing groups) and read as `mxb run`
 * reads it: mxb_segmentation_open, then every sample through the iterator. */
#include "datasets/datasets.h"
#include "fuzz_h5mut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static fz_template *tpl;
    if (!tpl) tpl = fz_template_load("gtsegs.mat");
    const char *path = fz_path("gtsegs.mat");
    fz_h5_build(tpl, data, size, path);
    mxb_dataset *d = NULL;
    char err[1024] = "";
    if (mxb_segmentation_open(path, &d, err, sizeof err) == 0) {
        /* a modest limit keeps inputs cheap; the check is the same at any limit */
        mxb_dataset_set_max_pixels(d, (size_t)1 << 20);
        mxb_sample s = {0};
        int rc, k = 0;
        while (k++ < 8 && (rc = mxb_dataset_next(d, &s, err, sizeof err)) != 0) {
            if (rc == 1) {
                if (s.h < 1 || s.w < 1 || !s.rgb || !s.mask) abort();
                for (size_t i = 0; i < (size_t)s.h * s.w; i++)
                    if (s.mask[i] > 1) abort();
            } else {
                fz_check_err(err);
            }
            mxb_sample_free(&s);
        }
        mxb_dataset_close(d);
    } else {
        if (d) abort();
        fz_check_err(err);
    }
    fz_h5_no_open_ids();
    return 0;
}
