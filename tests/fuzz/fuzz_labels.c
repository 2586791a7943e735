/* ImageNet label files and id lists (datasets/imagenet.c, datasets/dataset.c), as
 * `mxb run` reads `labels = FILE` and `subset = ids:FILE`: the input is written as the
 * label file of a flat folder of five (empty) image files, opened with
 * mxb_imagenet_open, and — when that succeeds — also read as an id list. */
#include "datasets/datasets.h"
#include "fuzz_util.h"

#include <sys/stat.h>

static const char *root(void) {
    static const char *r;
    if (!r) {
        static char buf[600];
        snprintf(buf, sizeof buf, "%s", fz_path("flat"));
        mkdir(buf, 0755);
        /* names in both label formats' reach: what the seeds mention */
        const char *names[] = {"a.png", "b.JPEG", "c.jpg", "ILSVRC2012_val_00000001.JPEG", "n01.PNG"};
        for (int i = 0; i < 5; i++) {
            char p[700];
            snprintf(p, sizeof p, "%s/%s", buf, names[i]);
            FILE *f = fopen(p, "wb");
            if (!f) abort();
            fclose(f);
        }
        r = buf;
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = root();
    const char *labels = fz_write("labels.txt", data, size);
    mxb_dataset *d = NULL;
    char err[512] = "";
    if (mxb_imagenet_open(dir, labels, &d, err, sizeof err) == 0) {
        if (mxb_dataset_size(d) != 5) abort();
        for (int i = 0; i < 5; i++)
            if (mxb_dataset_label(d, i) < 0 || !mxb_dataset_id(d, i)) abort();
        err[0] = 0;
        if (mxb_dataset_select_ids_file(d, labels, err, sizeof err) == 0) {
            if (mxb_dataset_size(d) < 0 || mxb_dataset_size(d) > 5) abort();
        } else {
            fz_check_err(err);
        }
        mxb_dataset_close(d);
    } else {
        if (d) abort();
        fz_check_err(err);
    }
    return 0;
}
