/* The label file + image list pairing (datasets/imagenet.c, `labels = FILE` for a
 * flat folder): the input is "NAMES\n--\nLABELS": up to 12 file names, one a line,
 * are made as empty files in a fresh folder (names with '/', NUL or control bytes
 * and "."/".." are skipped), and the rest is the label file. An accepted pairing must
 * give every image file of the folder exactly one non-negative label and an id that
 * is one of the files; a refused one a one-line message. */
#include "datasets/datasets.h"
#include "fuzz_util.h"

#include <dirent.h>
#include <strings.h>
#include <sys/stat.h>

static int image_name(const char *n) {
    static const char *ext[] = {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"};
    size_t len = strlen(n);
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t m = strlen(ext[i]);
        if (len >= m && !strcasecmp(n + len - m, ext[i])) return 1;
    }
    return 0;
}

static void empty_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1200];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char dir[600];
    snprintf(dir, sizeof dir, "%s", fz_path("pair"));
    mkdir(dir, 0755);
    empty_dir(dir);
    const uint8_t *sep = NULL;
    for (size_t i = 0; i + 4 <= size && !sep; i++)
        if (!memcmp(data + i, "\n--\n", 4)) sep = data + i;
    size_t nlen = sep ? (size_t)(sep - data) : 0;
    const uint8_t *labels = sep ? sep + 4 : data;
    size_t llen = size - (size_t)(labels - data);
    char names[12][65];
    int nnames = 0, nimages = 0;
    for (size_t i = 0; i < nlen && nnames < 12;) {
        size_t j = i;
        while (j < nlen && data[j] != '\n') j++;
        size_t n = j - i < 64 ? j - i : 64;
        memcpy(names[nnames], data + i, n);
        names[nnames][n] = 0;
        int ok = n > 0 && strlen(names[nnames]) == n && strcmp(names[nnames], ".") && strcmp(names[nnames], "..");
        for (size_t k = 0; ok && k < n; k++) ok = names[nnames][k] != '/' && (unsigned char)names[nnames][k] >= 0x20;
        for (int k = 0; ok && k < nnames; k++) ok = strcmp(names[k], names[nnames]) != 0;
        if (ok) {
            char p[1200];
            snprintf(p, sizeof p, "%s/%s", dir, names[nnames]);
            FILE *f = fopen(p, "wb");
            if (f) {
                fclose(f);
                nimages += image_name(names[nnames]);
                nnames++;
            }
        }
        i = j + 1;
    }
    const char *lf = fz_write("pair_labels.txt", labels, llen);
    mxb_dataset *d = NULL;
    char err[512] = "";
    if (mxb_imagenet_open(dir, lf, &d, err, sizeof err) == 0) {
        if (mxb_dataset_size(d) != nimages) abort();
        for (int i = 0; i < mxb_dataset_size(d); i++) {
            const char *id = mxb_dataset_id(d, i);
            int known = 0;
            for (int k = 0; id && k < nnames; k++) known |= !strcmp(id, names[k]);
            if (mxb_dataset_label(d, i) < 0 || !known) abort();
        }
        mxb_dataset_close(d);
    } else {
        if (d) abort();
        fz_check_err(err);
    }
    return 0;
}
