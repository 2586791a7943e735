/* datasets/: the readers against PIL's Image.open(f).convert('RGB') and Chefer's
 * h5py reading, the subsets against a Python re-statement of datasets.h, the
 * preprocessing against PIL's Image.resize + torch (tests/gen_datasets.py makes
 * all of it), every bad input's message, mutated files, and the synthetic set. */
#include "datasets/datasets.h"
#include "io/io.h"
#include "mxb_test.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static char err[1024];

/* LeakSanitizer's hook (used only in -DMXB_SANITIZE builds). libhdf5 1.10.8 loses the
 * 56-byte buffer of an object-header chunk it fails to decode (H5C_protect on a
 * corrupted file, reached by one fuzz case): the leak is inside the library, after
 * every handle of ours is closed (h5dump leaks the same on that file). The default
 * fast unwinder stops at the library's first frame, so the suppression names the
 * library; a handle we forgot to close would not show here anyway (HDF5 keeps it
 * reachable and closes it at exit). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libhdf5\n"; }

static const char *data(const char *rel) {
    return mxb_test_path("%s/datasets/%s", mxb_test_env("MXB_TESTDATA"), rel);
}
static const char *golden(const char *file) { return data(file); }

/* max |a - golden| over n values; n must match the golden dataset's size */
static double diff_u8(const uint8_t *a, const char *file, const char *dset, size_t n) {
    size_t m = 0;
    float *g = mxb_test_read_h5(file, dset, &m);
    if (!g || m != n) {
        fprintf(stderr, "\n  %s:%s: %zu values, want %zu", file, dset, m, n);
        free(g);
        return INFINITY;
    }
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - g[i]));
    free(g);
    return d;
}

/* HDF5 identifiers (files, datasets, types, ...) still open anywhere: a reader that
 * forgets one leaks nothing LeakSanitizer can see, so this counts them. */
static ssize_t open_h5_ids(void) { return H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL); }

/* rc -1 and a one-line message holding both needles (the file and the thing) */
static int failed_with(int rc, const char *a, const char *b) {
    int ok = rc == -1 && strstr(err, a) && (!b || strstr(err, b)) && !strchr(err, '\n');
    if (!ok) printf("\n  want -1 with '%s' and '%s', got %d: %s", a, b ? b : "", rc, err);
    else printf("\n  ok: %s", err);
    return ok;
}

/* ---- ImageNet folders ------------------------------------------------------------ */

typedef struct {
    char id[256];
    int label, h, w;
} manifest_row;

static int read_manifest(const char *path, manifest_row *rows, int max) {
    FILE *f = fopen(path, "r");
    int n = 0;
    if (!f) return -1;
    while (n < max && fscanf(f, "%255s %d %d %d", rows[n].id, &rows[n].label, &rows[n].h, &rows[n].w) == 4) n++;
    fclose(f);
    return n;
}

/* Every sample: id, label, size and all pixels equal to PIL's. */
static void check_folder(mxb_dataset *d, const char *manifest, const char *group) {
    manifest_row rows[64];
    int n = read_manifest(manifest, rows, 64);
    CU_ASSERT_FATAL(n > 10);
    CU_ASSERT_EQUAL(mxb_dataset_size(d), n);
    CU_ASSERT_EQUAL(mxb_dataset_total(d), n);
    double worst = 0;
    int got = 0, bad = 0, rc;
    mxb_sample s;
    while ((rc = mxb_dataset_next(d, &s, err, sizeof err)) != 0) {
        if (rc < 0) { /* the iterator moves on: report every failure, not the first */
            printf("\n  %s", err);
            bad++;
            got++;
            continue;
        }
        const manifest_row *r = &rows[got];
        CU_ASSERT_STRING_EQUAL(s.id, r->id);
        CU_ASSERT_EQUAL(s.label, r->label);
        CU_ASSERT(s.h == r->h && s.w == r->w && s.mask == NULL);
        if (s.h == r->h && s.w == r->w) {
            double dd = diff_u8(s.rgb, golden("pixels.h5"), mxb_test_path("%s/%d", group, got), (size_t)s.h * s.w * 3);
            if (dd > 0) printf("\n  %s: max diff %g", s.id, dd);
            worst = fmax(worst, dd);
        }
        mxb_sample_free(&s);
        got++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(got, n);
    printf("\n  %s: %d images (JPEG q40-95, 4:4:4/4:2:2/4:2:0, progressive, grey, CMYK, EXIF; PNG RGB, "
           "RGBA, L, LA, P, P4, P+tRNS, 1-bit, tRNS), max pixel diff vs PIL %g", group, got, worst);
    CU_ASSERT_EQUAL(worst, 0);
}

static void test_tree(void) {
    mxb_dataset *d = NULL;
    int rc = mxb_imagenet_open(data("tree"), NULL, &d, err, sizeof err);
    if (rc) printf("\n  %s", err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    check_folder(d, data("tree_manifest.txt"), "tree");
    /* random access and rewind give the same */
    mxb_sample a, b;
    CU_ASSERT_EQUAL(mxb_dataset_get(d, 4, &a, err, sizeof err), 0);
    mxb_dataset_rewind(d);
    for (int i = 0; i <= 4; i++) {
        CU_ASSERT_EQUAL(mxb_dataset_next(d, &b, err, sizeof err), 1);
        if (i < 4) mxb_sample_free(&b);
    }
    CU_ASSERT(a.h == b.h && a.w == b.w && !memcmp(a.rgb, b.rgb, (size_t)a.h * a.w * 3) && !strcmp(a.id, b.id));
    mxb_sample_free(&a);
    mxb_sample_free(&b);
    CU_ASSERT_EQUAL(mxb_dataset_index(d, 3), 3);
    CU_ASSERT_EQUAL(mxb_dataset_index(d, 99), -1);
    CU_ASSERT(failed_with(mxb_dataset_get(d, 99, &a, err, sizeof err), "tree", "out of range"));
    CU_ASSERT(a.rgb == NULL && a.mask == NULL);
    mxb_dataset_close(d);
}

static void test_flat(void) {
    const char *files[2] = {"flat_labels_A.txt", "flat_labels_B.txt"};
    for (int k = 0; k < 2; k++) {
        mxb_dataset *d = NULL;
        int rc = mxb_imagenet_open(data("flat"), data(files[k]), &d, err, sizeof err);
        if (rc) printf("\n  %s", err);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        printf("\n  label file %s", files[k]);
        check_folder(d, data("flat_manifest.txt"), "flat");
        mxb_dataset_close(d);
    }
    /* mxb_dataset_open: a folder is ImageNet, a file segmentation */
    mxb_dataset *d = NULL;
    CU_ASSERT_EQUAL(mxb_dataset_open(data("flat"), data(files[1]), &d, err, sizeof err), 0);
    CU_ASSERT(d && mxb_dataset_total(d) == 19);
    mxb_dataset_close(d);
    CU_ASSERT_EQUAL(mxb_dataset_open(data("gtsegs.mat"), NULL, &d, err, sizeof err), 0);
    CU_ASSERT(d && mxb_dataset_total(d) == 5);
    mxb_dataset_close(d);
    CU_ASSERT(failed_with(mxb_dataset_open(data("nothing_here"), NULL, &d, err, sizeof err), "nothing_here",
                          "No such file"));
    CU_ASSERT_PTR_NULL(d);
}

/* ---- subsets ----------------------------------------------------------------------- */

static int ids_of(mxb_dataset *d, int *out) {
    int n = mxb_dataset_size(d);
    for (int i = 0; i < n; i++) out[i] = mxb_dataset_index(d, i);
    return n;
}

static void test_subsets(void) {
    mxb_dataset *d = NULL;
    CU_ASSERT_EQUAL_FATAL(mxb_imagenet_open(data("tree"), NULL, &d, err, sizeof err), 0);
    const int N = mxb_dataset_total(d);
    int idx[64], n;

    /* splitmix64 against the Python statement */
    char *text = mxb_test_slurp(data("subsets.txt"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    int lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char kind[32];
        unsigned long long seed;
        int cnt, pos;
        if (sscanf(line, "%31s %llu %n", kind, &seed, &pos) < 2) continue;
        char *p = line + pos;
        if (!strcmp(kind, "splitmix")) {
            uint64_t st = seed;
            for (int i = 0; i < 4; i++) {
                unsigned long long want = strtoull(p, &p, 10);
                CU_ASSERT_EQUAL(mxb_splitmix64(&st), want);
            }
            lines++;
            continue;
        }
        cnt = (int)strtol(p, &p, 10);
        mxb_dataset_close(d);
        CU_ASSERT_EQUAL_FATAL(mxb_imagenet_open(data("tree"), NULL, &d, err, sizeof err), 0);
        if (!strcmp(kind, "every2_1")) CU_ASSERT_EQUAL(mxb_dataset_select_every(d, 2, 1, err, sizeof err), 0);
        CU_ASSERT_EQUAL(mxb_dataset_select_random(d, cnt, seed, err, sizeof err), 0);
        n = ids_of(d, idx);
        int ok = n == cnt;
        for (int i = 0; i < n && ok; i++) ok = idx[i] == (int)strtol(p, &p, 10);
        if (!ok) printf("\n  random subset differs: %s", line);
        CU_ASSERT(ok);
        lines++;
    }
    free(text);
    CU_ASSERT_EQUAL(lines, 9);

    /* random: same seed same selection, distinct, sorted; n > size gives all */
    int a[64], b[64], na = 0, nb = 0;
    for (uint64_t seed = 0; seed < 50; seed++) {
        for (int pass = 0; pass < 2; pass++) {
            mxb_dataset_close(d);
            CU_ASSERT_EQUAL_FATAL(mxb_imagenet_open(data("tree"), NULL, &d, err, sizeof err), 0);
            CU_ASSERT_EQUAL(mxb_dataset_select_random(d, 7, seed, err, sizeof err), 0);
            if (pass == 0) na = ids_of(d, a);
            else nb = ids_of(d, b);
        }
        CU_ASSERT(na == 7 && nb == 7 && !memcmp(a, b, sizeof a[0] * 7));
        for (int i = 1; i < na; i++) CU_ASSERT(a[i - 1] < a[i]);
        CU_ASSERT(a[0] >= 0 && a[na - 1] < N);
    }
    CU_ASSERT_EQUAL(mxb_dataset_select_random(d, 1000, 5, err, sizeof err), 0);
    CU_ASSERT_EQUAL(mxb_dataset_size(d), 7); /* narrows the current selection only */
    CU_ASSERT(failed_with(mxb_dataset_select_random(d, -1, 5, err, sizeof err), "tree", "random"));

    /* first, every, and their composition */
    mxb_dataset_close(d);
    CU_ASSERT_EQUAL_FATAL(mxb_imagenet_open(data("tree"), NULL, &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(mxb_dataset_select_every(d, 3, 1, err, sizeof err), 0);
    n = ids_of(d, idx);
    CU_ASSERT_EQUAL(n, (N - 1 + 2) / 3);
    for (int i = 0; i < n; i++) CU_ASSERT_EQUAL(idx[i], 1 + 3 * i);
    CU_ASSERT_EQUAL(mxb_dataset_select_first(d, 2, err, sizeof err), 0);
    n = ids_of(d, idx);
    CU_ASSERT(n == 2 && idx[0] == 1 && idx[1] == 4);
    CU_ASSERT_EQUAL(mxb_dataset_select_first(d, 50, err, sizeof err), 0);
    CU_ASSERT_EQUAL(mxb_dataset_size(d), 2);
    CU_ASSERT_EQUAL(mxb_dataset_select_every(d, 5, 7, err, sizeof err), 0);
    CU_ASSERT_EQUAL(mxb_dataset_size(d), 0);
    mxb_sample s;
    CU_ASSERT_EQUAL(mxb_dataset_next(d, &s, err, sizeof err), 0);
    CU_ASSERT(failed_with(mxb_dataset_select_every(d, 0, 0, err, sizeof err), "tree", "every 0"));
    CU_ASSERT(failed_with(mxb_dataset_select_first(d, -2, err, sizeof err), "tree", "first -2"));

    /* ids: by relative path, by file name, by stem; dataset order kept */
    mxb_dataset_close(d);
    CU_ASSERT_EQUAL_FATAL(mxb_imagenet_open(data("tree"), NULL, &d, err, sizeof err), 0);
    const char *ids[] = {"n02102040/sub/deep/ILSVRC2012_val_00000667.png", "ILSVRC2012_val_00000889.jpeg",
                         "ILSVRC2012_val_00000519"};
    CU_ASSERT_EQUAL(mxb_dataset_select_ids(d, ids, 3, err, sizeof err), 0);
    n = ids_of(d, idx);
    CU_ASSERT(n == 3 && idx[0] == 0 && idx[1] == 9 && idx[2] == 16);
    const char *none[] = {"ILSVRC2012_val_00000519", "n0/nothing.JPEG"};
    CU_ASSERT(failed_with(mxb_dataset_select_ids(d, none, 2, err, sizeof err), "tree", "'n0/nothing.JPEG'"));
    CU_ASSERT_EQUAL(mxb_dataset_size(d), 3); /* a failed selection leaves it as it was */

    /* ids_file: comments, blanks, spaces */
    char list[4096];
    snprintf(list, sizeof list, "%s", data("ids.txt"));
    FILE *f = fopen(list, "w");
    fprintf(f, "# wanted\n\n  ILSVRC2012_val_00000815  \nn01443537/ILSVRC2012_val_00000482.png\r\n");
    fclose(f);
    mxb_dataset_close(d);
    CU_ASSERT_EQUAL_FATAL(mxb_imagenet_open(data("tree"), NULL, &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(mxb_dataset_select_ids_file(d, list, err, sizeof err), 0);
    n = ids_of(d, idx);
    CU_ASSERT(n == 2 && idx[0] == 7 && idx[1] == 11);
    f = fopen(list, "w");
    fprintf(f, "ILSVRC2012_val_00000815\nILSVRC2012_val_12345678\n");
    fclose(f);
    CU_ASSERT(failed_with(mxb_dataset_select_ids_file(d, list, err, sizeof err), "tree", "ILSVRC2012_val_12345678"));
    CU_ASSERT(failed_with(mxb_dataset_select_ids_file(d, data("no_list.txt"), err, sizeof err), "no_list.txt",
                          "id list"));
    mxb_dataset_close(d);
}

/* ---- gtsegs -------------------------------------------------------------------------- */

static void check_gtsegs(const char *path_arg, const char *expected_arg, int n_want) {
    char path[4096], expected[4096]; /* the arguments may sit in mxb_test_path's rotating buffers */
    snprintf(path, sizeof path, "%s", path_arg);
    snprintf(expected, sizeof expected, "%s", expected_arg);
    mxb_dataset *d = NULL;
    int rc = mxb_segmentation_open(path, &d, err, sizeof err);
    if (rc) printf("\n  %s", err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(mxb_dataset_size(d), n_want);
    mxb_sample s;
    int got = 0;
    double worst = 0;
    while ((rc = mxb_dataset_next(d, &s, err, sizeof err)) == 1) {
        size_t n = (size_t)s.h * s.w;
        CU_ASSERT_STRING_EQUAL(s.id, mxb_test_path("%d", got));
        CU_ASSERT_EQUAL(s.label, -1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s.mask);
        worst = fmax(worst, diff_u8(s.rgb, expected, mxb_test_path("img_%d", got), n * 3));
        worst = fmax(worst, diff_u8(s.mask, expected, mxb_test_path("gt_%d", got), n));
        mxb_sample_free(&s);
        got++;
    }
    if (rc < 0) printf("\n  %s", err);
    CU_ASSERT(rc == 0 && got == n_want);
    printf("\n  %s: %d samples, max diff vs h5py (Chefer's reading) %g", path, got, worst);
    CU_ASSERT_EQUAL(worst, 0);
    mxb_dataset_close(d);
}

static void test_gtsegs_read(void) {
    check_gtsegs(data("gtsegs.mat"), golden("gtsegs_golden.h5"), 5);
}

static void test_gtsegs_write(void) {
    /* the golden samples written by the C writer, then read by h5py and by the reader */
    char out[4096];
    snprintf(out, sizeof out, "%s", data("written.mat"));
    mxb_gtsegs_writer *w = NULL;
    CU_ASSERT_EQUAL_FATAL(mxb_gtsegs_create(out, &w, err, sizeof err), 0);
    for (int i = 0; i < 5; i++) {
        size_t n3 = 0, n1 = 0;
        float *img = mxb_test_read_h5(golden("gtsegs_golden.h5"), mxb_test_path("img_%d", i), &n3);
        float *gt = mxb_test_read_h5(golden("gtsegs_golden.h5"), mxb_test_path("gt_%d", i), &n1);
        CU_ASSERT_FATAL(img && gt && n3 == 3 * n1);
        static const int hw[5][2] = {{37, 53}, {64, 64}, {20, 31}, {1, 9}, {45, 12}};
        CU_ASSERT_EQUAL_FATAL((size_t)hw[i][0] * hw[i][1], n1);
        uint8_t *rgb = malloc(n3), *mask = malloc(n1);
        for (size_t k = 0; k < n3; k++) rgb[k] = (uint8_t)img[k];
        for (size_t k = 0; k < n1; k++) mask[k] = (uint8_t)gt[k];
        CU_ASSERT_EQUAL(mxb_gtsegs_append(w, rgb, mask, hw[i][0], hw[i][1], err, sizeof err), 0);
        free(img); free(gt); free(rgb); free(mask);
    }
    CU_ASSERT(failed_with(mxb_gtsegs_append(w, NULL, NULL, 0, 5, err, sizeof err), "written.mat", "0x5"));
    CU_ASSERT_EQUAL_FATAL(mxb_gtsegs_close(w, err, sizeof err), 0);
    int rc = mxb_test_system("%s %s/tests/gen_datasets.py --check-gtsegs %s %s", mxb_test_env("MXB_PYTHON"),
                             mxb_test_env("MXB_SOURCE_DIR"), out, golden("gtsegs_golden.h5"));
    CU_ASSERT_EQUAL(rc, 0);
    check_gtsegs(out, golden("gtsegs_golden.h5"), 5);

    /* an empty file is valid too; a file that cannot be created is an error */
    CU_ASSERT_EQUAL(mxb_gtsegs_create(data("empty.mat"), &w, err, sizeof err), 0);
    CU_ASSERT_EQUAL(mxb_gtsegs_close(w, err, sizeof err), 0);
    mxb_dataset *d = NULL;
    CU_ASSERT_EQUAL(mxb_segmentation_open(data("empty.mat"), &d, err, sizeof err), 0);
    CU_ASSERT(d && mxb_dataset_size(d) == 0);
    mxb_dataset_close(d);
    CU_ASSERT(failed_with(mxb_gtsegs_create(data("no/such/dir/x.mat"), &w, err, sizeof err), "x.mat",
                          "cannot create"));
    CU_ASSERT_EQUAL(mxb_gtsegs_close(NULL, err, sizeof err), 0);
}

/* ---- the iterator over a broken sample ------------------------------------------------- */

static void test_iterator(void) {
    mxb_dataset *d = NULL;
    CU_ASSERT_EQUAL_FATAL(mxb_imagenet_open(data("bad/iter"), data("bad/iter_labels.txt"), &d, err, sizeof err), 0);
    mxb_sample s;
    CU_ASSERT_EQUAL(mxb_dataset_next(d, &s, err, sizeof err), 1);
    CU_ASSERT(s.label == 1 && !strcmp(s.id, "a.png"));
    mxb_sample_free(&s);
    CU_ASSERT(failed_with(mxb_dataset_next(d, &s, err, sizeof err), "b.jpg", "truncated JPEG"));
    CU_ASSERT(s.rgb == NULL);
    CU_ASSERT_EQUAL(mxb_dataset_next(d, &s, err, sizeof err), 1);
    CU_ASSERT(s.label == 3 && !strcmp(s.id, "c.png") && s.h == 8 && s.w == 5);
    mxb_sample_free(&s);
    CU_ASSERT_EQUAL(mxb_dataset_next(d, &s, err, sizeof err), 0);
    CU_ASSERT_EQUAL(mxb_dataset_next(d, &s, err, sizeof err), 0);
    mxb_dataset_rewind(d);
    CU_ASSERT_EQUAL(mxb_dataset_next(d, &s, err, sizeof err), 1);
    mxb_sample_free(&s);
    mxb_sample_free(NULL);
    mxb_dataset_close(d);
    mxb_dataset_close(NULL);
}

/* ---- bad inputs ------------------------------------------------------------------------- */

static int read_image(const char *rel, size_t max_pixels) {
    uint8_t *rgb = (uint8_t *)1;
    int h = 0, w = 0;
    int rc = mxb_image_read(data(rel), max_pixels, &rgb, &h, &w, err, sizeof err);
    if (rc) CU_ASSERT_PTR_NULL(rgb);
    free(rc ? NULL : rgb);
    return rc;
}

static int open_flat(const char *labels) {
    mxb_dataset *d = (mxb_dataset *)1;
    int rc = mxb_imagenet_open(data("flat"), data(labels), &d, err, sizeof err);
    if (rc) CU_ASSERT_PTR_NULL(d);
    if (!rc) mxb_dataset_close(d);
    return rc;
}

/* opens a .mat and reads every sample; returns the first failure */
static int read_mat(const char *rel) {
    mxb_dataset *d = NULL;
    int rc = mxb_segmentation_open(data(rel), &d, err, sizeof err);
    if (rc) return rc;
    mxb_sample s;
    for (int i = 0; i < mxb_dataset_size(d) && !rc; i++) {
        rc = mxb_dataset_get(d, i, &s, err, sizeof err);
        if (!rc) mxb_sample_free(&s);
        else CU_ASSERT(s.rgb == NULL && s.mask == NULL);
    }
    mxb_dataset_close(d);
    return rc;
}

static void test_bad_inputs(void) {
    /* image files */
    CU_ASSERT(failed_with(read_image("bad/truncated.jpg", 0), "truncated.jpg", "truncated JPEG"));
    CU_ASSERT(failed_with(read_image("bad/truncated_header.jpg", 0), "truncated_header.jpg", "JPEG"));
    CU_ASSERT(failed_with(read_image("bad/corrupt.jpg", 0), "corrupt.jpg", "bad JPEG"));
    CU_ASSERT(failed_with(read_image("bad/corrupt_huffman.jpg", 0), "corrupt_huffman.jpg", "bad JPEG"));
    CU_ASSERT(failed_with(read_image("bad/corrupt.png", 0), "corrupt.png", "bad PNG"));
    CU_ASSERT(failed_with(read_image("bad/truncated.png", 0), "truncated.png", "truncated PNG"));
    CU_ASSERT(failed_with(read_image("bad/badzlib.png", 0), "badzlib.png", "bad PNG"));
    CU_ASSERT(failed_with(read_image("bad/grey16.png", 0), "grey16.png", "16-bit PNG"));
    CU_ASSERT(failed_with(read_image("bad/rgb16.png", 0), "rgb16.png", "16-bit PNG"));
    CU_ASSERT(failed_with(read_image("bad/text.jpg", 0), "text.jpg", "neither a JPEG nor a PNG"));
    CU_ASSERT(failed_with(read_image("bad/empty.png", 0), "empty.png", "neither a JPEG nor a PNG"));
    CU_ASSERT(failed_with(read_image("bad/missing.png", 0), "missing.png", "cannot open"));
    CU_ASSERT(failed_with(read_image("bad/big.png", 10799), "big.png", "over the limit of 10799"));
    CU_ASSERT(failed_with(read_image("bad/big.jpg", 10799), "big.jpg", "over the limit of 10799"));
    CU_ASSERT_EQUAL(read_image("bad/big.png", 10800), 0);
    CU_ASSERT_EQUAL(read_image("bad/big.jpg", 10800), 0);
    mxb_dataset *d = NULL;
    mxb_sample s;
    CU_ASSERT_EQUAL(mxb_imagenet_open(data("bad/iter"), data("bad/iter_labels.txt"), &d, err, sizeof err), 0);
    mxb_dataset_set_max_pixels(d, 41);
    CU_ASSERT(failed_with(mxb_dataset_get(d, 0, &s, err, sizeof err), "a.png", "over the limit of 41"));
    mxb_dataset_set_max_pixels(d, 42);
    CU_ASSERT_EQUAL(mxb_dataset_get(d, 0, &s, err, sizeof err), 0);
    mxb_sample_free(&s);
    mxb_dataset_close(d);

    /* label files against the flat folder */
    CU_ASSERT(failed_with(open_flat("bad/labels_badline.txt"), "labels_badline.txt:4:", "bad line"));
    CU_ASSERT(failed_with(open_flat("bad/labels_negative.txt"), "labels_negative.txt:6:", "negative label -3"));
    CU_ASSERT(failed_with(open_flat("bad/labels_dup.txt"), "labels_dup.txt:20:", "listed twice"));
    CU_ASSERT(failed_with(open_flat("bad/labels_missing.txt"), "labels_missing.txt", "no label for"));
    CU_ASSERT(failed_with(open_flat("bad/labels_few.txt"), "labels_few.txt", "17 labels for 19 images"));
    CU_ASSERT(failed_with(open_flat("bad/labels_many.txt"), "labels_many.txt:20:", "more labels than the 19"));
    CU_ASSERT(failed_with(open_flat("bad/labels_mixed.txt"), "labels_mixed.txt:3:", "bad line"));
    CU_ASSERT(failed_with(open_flat("bad/labels_empty.txt"), "labels_empty.txt", "empty label file"));
    CU_ASSERT(failed_with(open_flat("bad/no_labels.txt"), "no_labels.txt", "cannot open"));
    CU_ASSERT(failed_with(mxb_imagenet_open(data("bad/emptyclass"), NULL, &d, err, sizeof err), "emptyclass/n2",
                          "without images"));
    CU_ASSERT(failed_with(mxb_imagenet_open(data("bad/noclasses"), NULL, &d, err, sizeof err), "noclasses",
                          "no class folders"));
    CU_ASSERT(failed_with(mxb_imagenet_open(data("gtsegs.mat"), NULL, &d, err, sizeof err), "gtsegs.mat",
                          "not a folder"));

    /* .mat files */
    CU_ASSERT(failed_with(read_mat("bad/missing_gt.mat"), "missing_gt.mat", "/value/gt: missing"));
    CU_ASSERT(failed_with(read_mat("bad/count.mat"), "count.mat", "/value/img has 2 entries but /value/gt 1"));
    CU_ASSERT(failed_with(read_mat("bad/dangling.mat"), "dangling.mat", "/value/img[1]: dangling"));
    CU_ASSERT(failed_with(read_mat("bad/notdataset.mat"), "notdataset.mat", "/value/gt[1]: reference to"));
    CU_ASSERT(failed_with(read_mat("bad/mismatch.mat"), "mismatch.mat", "/value/gt[1]{1}: mask is 64x63"));
    CU_ASSERT(failed_with(read_mat("bad/maskvalue.mat"), "maskvalue.mat", "mask value 255"));
    CU_ASSERT(failed_with(read_mat("bad/floatimg.mat"), "floatimg.mat", "/value/img[0]: image is not uint8"));
    CU_ASSERT(failed_with(read_mat("bad/not_hdf5.mat"), "not_hdf5.mat", "not an HDF5"));
    CU_ASSERT(failed_with(read_mat("bad/missing.mat"), "missing.mat", "not an HDF5"));
    CU_ASSERT_EQUAL(mxb_segmentation_open(data("gtsegs.mat"), &d, err, sizeof err), 0);
    mxb_dataset_set_max_pixels(d, 100);
    CU_ASSERT(failed_with(mxb_dataset_get(d, 0, &s, err, sizeof err), "gtsegs.mat", "over the limit of 100"));
    mxb_dataset_close(d);

    /* preprocessing arguments */
    uint8_t px[12] = {0}, out[16];
    CU_ASSERT(failed_with(mxb_resize(px, 2, 2, 3, out, 0, 2, MXB_FILTER_BILINEAR, err, sizeof err), "resize",
                          "bad sizes"));
    CU_ASSERT(failed_with(mxb_resize(px, 2, 2, 5, out, 1, 1, MXB_FILTER_BILINEAR, err, sizeof err), "resize",
                          "bad sizes"));
    CU_ASSERT(failed_with(mxb_resize(px, 2, 2, 3, out, 1, 1, (mxb_filter)1, err, sizeof err), "resize",
                          "unknown filter 1"));
    mxb_preprocess p = mxb_preprocess_imagenet();
    p.crop = 0;
    CU_ASSERT(failed_with(mxb_preprocess_image(&p, px, 2, 1, NULL, NULL, err, sizeof err), "preprocess",
                          "not square"));
    p = mxb_preprocess_imagenet();
    CU_ASSERT(failed_with(mxb_preprocess_image(&p, px, 0, 4, NULL, NULL, err, sizeof err), "preprocess", "empty"));
    CU_ASSERT_EQUAL(open_h5_ids(), 0);
}

/* ---- preprocessing vs PIL + torch ---------------------------------------------------------- */

static uint8_t *golden_u8(const char *dset, size_t *n) {
    float *g = mxb_test_read_h5(golden("preprocess.h5"), dset, n);
    if (!g) return NULL;
    uint8_t *u = malloc(*n);
    for (size_t i = 0; i < *n; i++) u[i] = (uint8_t)g[i];
    free(g);
    return u;
}

static void test_resize(void) {
    FILE *f = fopen(golden("preprocess_manifest.txt"), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    int id, c, h, w, oh, ow, filt, cases = 0, exact = 0;
    char src_name[64];
    double worst[4] = {0};
    while (fscanf(f, "%d %63s %d %d %d %d %d %d", &id, src_name, &c, &h, &w, &oh, &ow, &filt) == 8) {
        size_t n;
        uint8_t *src = golden_u8(src_name, &n);
        CU_ASSERT_FATAL(src && n == (size_t)h * w * c);
        uint8_t *out = malloc((size_t)oh * ow * c);
        int rc = mxb_resize(src, h, w, c, out, oh, ow, (mxb_filter)filt, err, sizeof err);
        CU_ASSERT_EQUAL(rc, 0);
        double d = diff_u8(out, golden("preprocess.h5"), mxb_test_path("resize_%d", id), (size_t)oh * ow * c);
        if (d > 0) printf("\n  %dx%dx%d -> %dx%d filter %d: max diff %g", h, w, c, oh, ow, filt, d);
        worst[filt] = fmax(worst[filt], d);
        exact += d == 0;
        cases++;
        free(src);
        free(out);
    }
    fclose(f);
    printf("\n  %d resizes (1/3/4 channels, up, down, one axis, mixed, to 1x1, 240 random small sizes); "
           "bit-exact %d; max diff vs "
           "PIL Image.resize: nearest %g, bilinear %g, bicubic %g",
           cases, exact, worst[0], worst[2], worst[3]);
    CU_ASSERT(cases > 500);
    CU_ASSERT_EQUAL(exact, cases); /* datasets.h promises PIL to the bit */
}

static void test_preprocess(void) {
    const int S = 224;
    uint8_t *rgb = malloc((size_t)S * S * 3), *m = malloc((size_t)S * S);
    float *chw = malloc((size_t)3 * S * S * sizeof *chw);
    double wr[2] = {0}, wf[2] = {0}, wm[2] = {0};
    int n_img = 0;
    for (int k = 0;; k++) {
        if (!mxb_test_h5_exists(golden("preprocess.h5"), mxb_test_path("src_%d", k))) break;
        size_t n, nm;
        uint8_t *src = golden_u8(mxb_test_path("src_%d", k), &n);
        uint8_t *mask = golden_u8(mxb_test_path("mask_%d", k), &nm);
        CU_ASSERT_FATAL(src && mask && n == 3 * nm);
        FILE *f = fopen(golden("preprocess_sources.txt"), "r");
        int kk = -1, h = 0, w = 0;
        while (fscanf(f, "%d %d %d", &kk, &h, &w) == 3 && kk != k) {}
        fclose(f);
        CU_ASSERT_FATAL(kk == k && (size_t)h * w == nm);
        for (int t = 0; t < 2; t++) {
            mxb_preprocess p = t == 0 ? mxb_preprocess_imagenet() : mxb_preprocess_segmentation();
            const char *name = t == 0 ? "imagenet" : "seg";
            CU_ASSERT_EQUAL(mxb_preprocess_out_size(&p), S);
            memset(chw, 0, (size_t)3 * S * S * sizeof *chw);
            int rc = mxb_preprocess_image(&p, src, h, w, rgb, chw, err, sizeof err);
            if (rc) printf("\n  %s", err);
            CU_ASSERT_EQUAL_FATAL(rc, 0);
            wr[t] = fmax(wr[t], diff_u8(rgb, golden("preprocess.h5"), mxb_test_path("%s_rgb_%d", name, k), (size_t)S * S * 3));
            size_t nf;
            float *g = mxb_test_read_h5(golden("preprocess.h5"), mxb_test_path("%s_chw_%d", name, k), &nf);
            CU_ASSERT_FATAL(g && nf == (size_t)3 * S * S);
            wf[t] = fmax(wf[t], mxb_test_max_abs_diff(chw, g, nf));
            free(g);
            /* out_rgb NULL: the tensor alone */
            float *chw2 = malloc((size_t)3 * S * S * sizeof *chw2);
            CU_ASSERT_EQUAL(mxb_preprocess_image(&p, src, h, w, NULL, chw2, err, sizeof err), 0);
            CU_ASSERT(!memcmp(chw, chw2, (size_t)3 * S * S * sizeof *chw2));
            free(chw2);
            CU_ASSERT_EQUAL(mxb_preprocess_mask(&p, mask, h, w, m, err, sizeof err), 0);
            wm[t] = fmax(wm[t], diff_u8(m, golden("preprocess.h5"), mxb_test_path("%s_mask_%d", name, k), (size_t)S * S));
        }
        free(src);
        free(mask);
        n_img++;
    }
    printf("\n  %d images; Resize(256, BICUBIC)+CenterCrop(224): uint8 max diff %g, normalised float max diff %g, "
           "mask (NEAREST) %g", n_img, wr[0], wf[0], wm[0]);
    printf("\n  Resize((224, 224)) BILINEAR: uint8 max diff %g, float %g, mask %g", wr[1], wf[1], wm[1]);
    CU_ASSERT(n_img >= 9);
    CU_ASSERT(wr[0] == 0 && wr[1] == 0 && wf[0] == 0 && wf[1] == 0 && wm[0] == 0 && wm[1] == 0);

    /* CenterCrop's zero padding of a smaller image (torchvision pads (crop - size) // 2 first) */
    uint8_t small[2 * 3] = {1, 2, 3, 4, 5, 6}, crop[4 * 5];
    mxb_center_crop(small, 2, 3, 1, crop, 4, 5);
    static const uint8_t want[4 * 5] = {0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 4, 5, 6, 0, 0, 0, 0, 0, 0};
    CU_ASSERT(!memcmp(crop, want, sizeof want));
    /* ToTensor alone, and Normalize in place equal to ToTensor + Normalize */
    uint8_t one[3] = {0, 128, 255};
    float t[3], t2[3];
    const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
    mxb_to_tensor(one, 1, 1, NULL, NULL, t);
    CU_ASSERT(t[0] == 0.0f && t[1] == 128.0f / 255.0f && t[2] == 1.0f);
    mxb_normalize(t, 1, 1, mean, sd);
    mxb_to_tensor(one, 1, 1, mean, sd, t2);
    CU_ASSERT(!memcmp(t, t2, sizeof t));
    free(rgb);
    free(m);
    free(chw);
}

/* ---- fuzz ---------------------------------------------------------------------------------- */

static uint8_t *slurp_bytes(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

/* One deterministic mutation of seed into buf (room for len + 64): kind 0 flips 1-8
 * bits (half the time in the first 512 bytes, where the headers are), 1 truncates,
 * 2 inserts 1-16 random bytes, 3 overwrites a run of 1-8 bytes with 0x00/0xFF/random. */
static size_t mutate(const uint8_t *seed, size_t len, uint8_t *buf, uint64_t *st, int kind) {
    memcpy(buf, seed, len);
    size_t n = len;
    uint64_t r = mxb_splitmix64(st);
    size_t span = (r & 1) && len > 512 ? 512 : len;
    switch (kind) {
    case 0:
        for (int i = 0, k = 1 + (int)(r >> 1) % 8; i < k; i++) {
            uint64_t q = mxb_splitmix64(st);
            buf[q % span] ^= (uint8_t)(1u << ((q >> 32) % 8));
        }
        break;
    case 1: n = (size_t)((r >> 1) % len); break;
    case 2: {
        size_t at = (size_t)((r >> 1) % (span + 1)), k = 1 + (size_t)((r >> 40) % 16);
        memmove(buf + at + k, buf + at, len - at);
        for (size_t i = 0; i < k; i++) buf[at + i] = (uint8_t)mxb_splitmix64(st);
        n = len + k;
        break;
    }
    default: {
        size_t at = (size_t)((r >> 1) % span), k = 1 + (size_t)((r >> 40) % 8);
        uint8_t v = (uint8_t)(r >> 48);
        int style = (int)((r >> 56) % 3);
        for (size_t i = 0; i < k && at + i < len; i++)
            buf[at + i] = style == 0 ? 0x00 : style == 1 ? 0xFF : (uint8_t)(v + 31 * i);
        break;
    }
    }
    return n;
}

static void fuzz_image(const char *rel, int cases, int *ok, int *fail) {
    size_t len = 0;
    uint8_t *seed = slurp_bytes(data(rel), &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(seed);
    uint8_t *buf = malloc(len + 64);
    uint64_t st = 0x1234 + len;
    for (int i = 0; i < cases; i++) {
        size_t n = mutate(seed, len, buf, &st, i % 4);
        uint8_t *rgb = NULL;
        int h = 0, w = 0;
        err[0] = 0;
        int rc = mxb_image_decode(buf, n, "fuzzed", (size_t)1 << 20, &rgb, &h, &w, err, sizeof err);
        CU_ASSERT(rc == 0 || rc == -1);
        if (rc == 0) {
            CU_ASSERT(rgb && h > 0 && w > 0 && (size_t)h * w <= ((size_t)1 << 20));
            if (rgb) {
                volatile unsigned sum = 0; /* touch every byte: ASan checks the size */
                for (size_t j = 0; j < (size_t)h * w * 3; j++) sum += rgb[j];
                (void)sum;
            }
            (*ok)++;
        } else {
            CU_ASSERT(rgb == NULL && strstr(err, "fuzzed") && !strchr(err, '\n'));
            (*fail)++;
        }
        free(rgb);
    }
    free(buf);
    free(seed);
}

static void fuzz_mat(const char *rel, int cases, int *ok, int *fail) {
    size_t len = 0;
    uint8_t *seed = slurp_bytes(data(rel), &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(seed);
    uint8_t *buf = malloc(len + 64);
    uint64_t st = 0x5678 + len;
    const char *tmp = data("fuzz/mutated.mat");
    char path[4096];
    snprintf(path, sizeof path, "%s", tmp);
    for (int i = 0; i < cases; i++) {
        size_t n = mutate(seed, len, buf, &st, i % 4);
        FILE *f = fopen(path, "wb");
        CU_ASSERT_FATAL(f && fwrite(buf, 1, n, f) == n);
        fclose(f);
        mxb_dataset *d = NULL;
        int rc = mxb_segmentation_open(path, &d, err, sizeof err), all = rc == 0;
        CU_ASSERT(rc == 0 || rc == -1);
        if (rc == 0) {
            for (int k = 0; k < mxb_dataset_size(d); k++) {
                mxb_sample s;
                int r = mxb_dataset_get(d, k, &s, err, sizeof err);
                CU_ASSERT(r == 0 || r == -1);
                if (r == 0) {
                    CU_ASSERT(s.rgb && s.mask && s.h > 0 && s.w > 0);
                    for (size_t j = 0; j < (size_t)s.h * s.w; j++) CU_ASSERT_FATAL(s.mask[j] <= 1);
                    mxb_sample_free(&s);
                } else {
                    CU_ASSERT(strstr(err, "mutated.mat") && !strchr(err, '\n'));
                    all = 0;
                }
            }
            mxb_dataset_close(d);
        } else {
            CU_ASSERT(d == NULL && strstr(err, "mutated.mat") && !strchr(err, '\n'));
        }
        if (all) (*ok)++;
        else (*fail)++;
    }
    free(buf);
    free(seed);
}

static void test_fuzz(void) {
    /* MXB_FUZZ_CASES overrides the count (a longer run by hand, or 0 to bisect) */
    const char *env = getenv("MXB_FUZZ_CASES");
    const int N = env ? atoi(env) : 300;
    const char *images[] = {"fuzz/seed.jpg", "fuzz/seed_prog.jpg", "fuzz/seed.png", "fuzz/seed_p.png"};
    clock_t t0 = clock();
    for (int i = 0; i < 4; i++) {
        int ok = 0, fail = 0;
        fuzz_image(images[i], N, &ok, &fail);
        printf("\n  %s: %d mutations, %d decoded, %d refused", images[i], N, ok, fail);
    }
    int ok = 0, fail = 0;
    fuzz_mat("fuzz/seed.mat", N, &ok, &fail);
    printf("\n  fuzz/seed.mat: %d mutations, %d read in full, %d refused somewhere; %.1f s CPU", N, ok, fail,
           (double)(clock() - t0) / CLOCKS_PER_SEC);
    remove(data("fuzz/mutated.mat"));
    CU_ASSERT_EQUAL(open_h5_ids(), 0);
}

/* ---- synthetic benchmark ------------------------------------------------------------------- */

static void test_synth_sample(void) {
    const int S = 64, N = 200;
    uint8_t *a = malloc((size_t)S * S * 3), *b = malloc((size_t)S * S * 3), *ma = malloc((size_t)S * S),
            *mb = malloc((size_t)S * S);
    int la, lb, counts[MXB_SYNTH_CLASSES] = {0};
    double area_min = 1, area_max = 0;
    for (int i = 0; i < N; i++) {
        CU_ASSERT_EQUAL_FATAL(mxb_synth_sample(7, i, S, a, ma, &la, err, sizeof err), 0);
        CU_ASSERT_EQUAL_FATAL(mxb_synth_sample(7, i, S, b, mb, &lb, err, sizeof err), 0);
        CU_ASSERT(la == lb && !memcmp(a, b, (size_t)S * S * 3) && !memcmp(ma, mb, (size_t)S * S));
        CU_ASSERT_FATAL(la >= 0 && la < MXB_SYNTH_CLASSES);
        counts[la]++;
        if (i % MXB_SYNTH_CLASSES == MXB_SYNTH_CLASSES - 1) /* each block of ten holds every class once */
            for (int c = 0; c < MXB_SYNTH_CLASSES; c++) CU_ASSERT_EQUAL(counts[c], (i + 1) / MXB_SYNTH_CLASSES);
        size_t on = 0;
        for (int j = 0; j < S * S; j++) {
            CU_ASSERT_FATAL(ma[j] <= 1);
            on += ma[j];
        }
        double area = (double)on / (S * S);
        area_min = fmin(area_min, area);
        area_max = fmax(area_max, area);
        CU_ASSERT(on > 0);
        /* a different index is a different image; a different seed too */
        CU_ASSERT_EQUAL(mxb_synth_sample(7, i + 1, S, b, mb, &lb, err, sizeof err), 0);
        CU_ASSERT(memcmp(a, b, (size_t)S * S * 3) != 0);
        CU_ASSERT_EQUAL(mxb_synth_sample(8, i, S, b, mb, &lb, err, sizeof err), 0);
        CU_ASSERT(memcmp(a, b, (size_t)S * S * 3) != 0);
    }
    printf("\n  %d samples at %d px: classes balanced, object area %.1f%% .. %.1f%% of the image", N, S,
           100 * area_min, 100 * area_max);
    CU_ASSERT(area_min > 0.02 && area_max < 0.6);
    for (int c = 0; c < MXB_SYNTH_CLASSES; c++) CU_ASSERT_PTR_NOT_NULL(mxb_synth_class_name(c));
    CU_ASSERT_PTR_NULL(mxb_synth_class_name(MXB_SYNTH_CLASSES));
    CU_ASSERT_PTR_NULL(mxb_synth_class_name(-1));
    CU_ASSERT(failed_with(mxb_synth_sample(7, 0, 15, a, ma, &la, err, sizeof err), "synthetic", "size 15"));
    CU_ASSERT(failed_with(mxb_synth_sample(7, -1, 64, a, ma, &la, err, sizeof err), "synthetic", "index -1"));
    /* other sizes work, and the mask stays inside the image */
    int sizes[] = {16, 37, 224}, reps[] = {300, 100, 3};
    for (int k = 0; k < 3; k++) {
        int s = sizes[k];
        uint8_t *r = malloc((size_t)s * s * 3), *m = malloc((size_t)s * s);
        for (int i = 0; i < reps[k]; i++) {
            CU_ASSERT_EQUAL(mxb_synth_sample(1, i, s, r, m, &la, err, sizeof err), 0);
            size_t on = 0;
            for (int j = 0; j < s * s; j++) on += m[j];
            CU_ASSERT(on > 0); /* even a thin ring at 16 px covers pixel centres */
        }
        free(r);
        free(m);
    }
    free(a); free(b); free(ma); free(mb);
}

static void count_progress(int done, int n, void *ctx) {
    int *c = ctx;
    if (done == c[0] + 1 && n == c[1]) c[0] = done; /* called once per sample, in order */
}

static void test_synth_write(void) {
    char dir[4096], dir2[4096];
    snprintf(dir, sizeof dir, "%s", data("synth"));
    snprintf(dir2, sizeof dir2, "%s", data("synth2"));
    const int N = 23, S = 48;
    CU_ASSERT_EQUAL_FATAL(mxb_synth_write(dir, N, 99, S, err, sizeof err), 0);
    mxb_dataset *fl = NULL, *sg = NULL;
    CU_ASSERT_EQUAL_FATAL(mxb_imagenet_open(mxb_test_path("%s/images", dir), mxb_test_path("%s/labels.txt", dir),
                                            &fl, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(mxb_segmentation_open(mxb_test_path("%s/gtsegs_synth.mat", dir), &sg, err, sizeof err), 0);
    CU_ASSERT(mxb_dataset_size(fl) == N && mxb_dataset_size(sg) == N);
    uint8_t *rgb = malloc((size_t)S * S * 3), *mask = malloc((size_t)S * S);
    int same = 0;
    for (int i = 0; i < N; i++) {
        int label;
        CU_ASSERT_EQUAL(mxb_synth_sample(99, i, S, rgb, mask, &label, err, sizeof err), 0);
        mxb_sample a, b;
        CU_ASSERT_EQUAL_FATAL(mxb_dataset_get(fl, i, &a, err, sizeof err), 0);
        CU_ASSERT_EQUAL_FATAL(mxb_dataset_get(sg, i, &b, err, sizeof err), 0);
        int ok = a.h == S && a.w == S && b.h == S && b.w == S && a.label == label &&
                 !strcmp(a.id, mxb_test_path("synth_%06d.png", i)) && !memcmp(a.rgb, rgb, (size_t)S * S * 3) &&
                 !memcmp(b.rgb, rgb, (size_t)S * S * 3) && !memcmp(b.mask, mask, (size_t)S * S);
        CU_ASSERT(ok);
        same += ok;
        mxb_sample_free(&a);
        mxb_sample_free(&b);
    }
    printf("\n  %d of %d samples read back identical through the PNG+labels and the gtsegs readers", same, N);
    mxb_dataset_close(fl);
    mxb_dataset_close(sg);
    /* classes.txt; same arguments give the same bytes */
    char *classes = mxb_test_slurp(mxb_test_path("%s/classes.txt", dir));
    CU_ASSERT(classes && !strncmp(classes, mxb_synth_class_name(0), strlen(mxb_synth_class_name(0))));
    free(classes);
    CU_ASSERT_EQUAL(mxb_synth_write(dir2, N, 99, S, err, sizeof err), 0);
    CU_ASSERT_EQUAL(mxb_test_system("cmp -s %s/gtsegs_synth.mat %s/gtsegs_synth.mat && cmp -s %s/labels.txt "
                                    "%s/labels.txt && cmp -s %s/images/synth_000022.png %s/images/synth_000022.png",
                                    dir, dir2, dir, dir2, dir, dir2), 0);
    CU_ASSERT(failed_with(mxb_synth_write(data("tree_manifest.txt/x"), 3, 1, 32, err, sizeof err), "x",
                          "cannot create"));
    CU_ASSERT(failed_with(mxb_synth_write(dir2, 3, 1, 8, err, sizeof err), "synthetic", "size 8"));
    /* the progress variant writes the same bytes and reports every sample */
    int calls[2] = {0, N};
    CU_ASSERT_EQUAL(mxb_synth_write_progress(dir2, N, 99, S, count_progress, calls, err, sizeof err), 0);
    CU_ASSERT_EQUAL(calls[0], N);
    CU_ASSERT_EQUAL(mxb_test_system("cmp -s %s/gtsegs_synth.mat %s/gtsegs_synth.mat", dir, dir2), 0);
    /* an image left over from a larger set is refused before anything is written */
    CU_ASSERT(failed_with(mxb_synth_write(dir2, 5, 99, S, err, sizeof err), "synth2/images",
                          "holds synth_000005.png"));
    free(rgb);
    free(mask);
}

int main(void) {
    static const mxb_test_case cases[] = {
        {"ImageNet class folders: ids, labels, pixels vs PIL", test_tree},
        {"ImageNet flat folder + label files A and B vs PIL", test_flat},
        {"Subsets: first, every, ids, ids_file, random (vs Python)", test_subsets},
        {"gtsegs reader vs Chefer's h5py reading", test_gtsegs_read},
        {"gtsegs writer read back by h5py and by the reader", test_gtsegs_write},
        {"Iterator over a broken sample; rewind", test_iterator},
        {"Bad inputs: -1 and a one-line message naming file and thing", test_bad_inputs},
        {"mxb_resize vs PIL Image.resize", test_resize},
        {"Preprocessing vs PIL + torchvision (torch ToTensor/Normalize)", test_preprocess},
        {"Fuzz: mutated JPEG, PNG and gtsegs files", test_fuzz},
        {"Synthetic: determinism, balance, masks", test_synth_sample},
        {"Synthetic: mxb_synth_write read back by the real readers", test_synth_write},
        {NULL, NULL}};
    return mxb_test_main("datasets", cases);
}
