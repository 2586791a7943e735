/* mxb synth: writes the built-in synthetic benchmark; mxb dataset-info: what the
 * readers make of a folder or .mat file (so a user can check an ImageNet layout
 * before a long run). */
#include "harness/harness.h"
#include "harness/internal.h"
#include "datasets/datasets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- mxb synth ---------------------------------------------------------------------- */

static int quiet;

static void show_progress(int done, int n, void *ctx) {
    (void)n;
    mxb_progress_show(ctx, "writing", done);
}

static void synth_usage(FILE *f) {
    fprintf(f, "usage: mxb synth DIR [--n N] [--seed S] [--size PX]\n"
               "Writes the synthetic benchmark (ten classes: five shapes x two textures, one\n"
               "object on clutter, exact masks) in the formats of the real data:\n"
               "  DIR/images/synth_NNNNNN.png + DIR/labels.txt   mxb dataset-info DIR/images --labels DIR/labels.txt\n"
               "  DIR/gtsegs_synth.mat                            (ImageNet-segmentation's structure)\n"
               "  DIR/classes.txt                                 class names in label order\n"
               "  --n N        samples (default 1000, at most 999999)\n"
               "  --seed S     generator seed, a 64-bit unsigned integer (default 0)\n"
               "  --size PX    image side, 16..4096 (default 64)\n"
               "  --quiet      no progress lines on stderr\n"
               "Same arguments, same bytes.\n");
}

int mxb_cmd_synth(int argc, char **argv) {
    int n = 1000, size = 64, npos = 0;
    const char *seed_arg = NULL, *pos[1];
    uint64_t seed = 0;
    mxb_opt opts[] = {MXB_OPT_I("n", &n, 0, 999999), MXB_OPT_S("seed", &seed_arg), MXB_OPT_I("size", &size, 16, 4096),
                      MXB_OPT_F("quiet", &quiet), MXB_OPT_END};
    int prc = mxb_opts_parse("synth", argc, argv, opts, pos, 1, &npos, synth_usage);
    if (prc) return prc == 1 ? 0 : 2;
    if (seed_arg) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(seed_arg, &end, 10);
        /* strtoull takes "-1" as 2^64 - 1: only digits */
        if (errno || end == seed_arg || *end || strspn(seed_arg, "0123456789") != strlen(seed_arg))
            return mxb_usage_error("synth", "--seed: '%s' is not an unsigned 64-bit integer", seed_arg);
        seed = v;
    }
    if (npos != 1) return mxb_usage_error("synth", "no output folder");
    const char *dir = pos[0];
    mxb_progress p;
    mxb_progress_init(&p, "synth", "images", n, quiet);
    char err[1024];
    if (mxb_synth_write_progress(dir, n, seed, size, n ? show_progress : NULL, &p, err, sizeof err)) {
        if (p.open) fputc('\n', stderr);
        fprintf(stderr, "mxb synth: %s\n", err);
        return 1;
    }
    if (n) mxb_progress_end(&p, "written");
    printf("%s: %d samples of %dx%d px, seed %llu, %d classes: images/ + labels.txt, gtsegs_synth.mat, "
           "classes.txt\n", dir, n, size, size, (unsigned long long)seed, MXB_SYNTH_CLASSES);
    return 0;
}

/* ---- mxb dataset-info ----------------------------------------------------------------- */

static void info_usage(FILE *f) {
    fprintf(f, "usage: mxb dataset-info PATH [--labels FILE] [--show K]\n"
               "What the readers make of PATH: a folder is ImageNet validation (class folders, or a\n"
               "flat folder with --labels: 'name label' lines or one label per line in sorted\n"
               "order), a file is ImageNet-segmentation (gtsegs_ijcv.mat). Prints the count, then\n"
               "the first K samples (default 5) decoded: id, label, size, mask coverage.\n"
               "Exit 1 if one of them does not read.\n");
}

int mxb_cmd_dataset_info(int argc, char **argv) {
    const char *labels = NULL, *pos[1];
    int show = 5, npos = 0;
    mxb_opt opts[] = {MXB_OPT_S("labels", &labels), MXB_OPT_I("show", &show, 0, 1000000000), MXB_OPT_END};
    int prc = mxb_opts_parse("dataset-info", argc, argv, opts, pos, 1, &npos, info_usage);
    if (prc) return prc == 1 ? 0 : 2;
    if (npos != 1) return mxb_usage_error("dataset-info", "no folder or .mat file");
    const char *path = pos[0];
    struct stat st;
    int is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    if (labels && stat(path, &st) == 0 && !is_dir) {
        fprintf(stderr, "mxb dataset-info: --labels is for an image folder, and %s is a file\n", path);
        return 2;
    }
    char err[1024];
    mxb_dataset *d = NULL;
    if (mxb_dataset_open(path, labels, &d, err, sizeof err)) {
        fprintf(stderr, "mxb dataset-info: %s\n", err);
        return 2;
    }
    const int n = mxb_dataset_size(d);
    printf("%s\n  reader   %s\n  samples  %d\n", path,
           !is_dir ? "ImageNet-segmentation (MATLAB v7.3 / HDF5, /value/img + /value/gt)"
           : labels ? "ImageNet validation, flat folder + label file"
                    : "ImageNet validation, class folders (label = sorted folder index)",
           n);
    int shown = 0, failed = 0, hmin = 0, hmax = 0, wmin = 0, wmax = 0;
    for (int i = 0; i < n && i < show; i++) {
        mxb_sample s;
        if (i == 0) printf("  first %ld:\n", show < n ? show : (long)n);
        if (mxb_dataset_get(d, i, &s, err, sizeof err)) {
            /* the rest still print: one broken file should not hide the others */
            fprintf(stderr, "mxb dataset-info: %s\n", err);
            failed++;
            continue;
        }
        char label[16] = "-"; /* segmentation files carry no class */
        if (s.label >= 0) snprintf(label, sizeof label, "%d", s.label);
        printf("    %-40s label %4s  %5d x %-5d", s.id, label, s.h, s.w);
        if (s.mask) {
            size_t on = 0, np = (size_t)s.h * s.w;
            for (size_t j = 0; j < np; j++) on += s.mask[j];
            printf("  mask %5.1f%% object", 100.0 * (double)on / (double)np);
        }
        printf("\n");
        if (!shown || s.h < hmin) hmin = s.h;
        if (!shown || s.h > hmax) hmax = s.h;
        if (!shown || s.w < wmin) wmin = s.w;
        if (!shown || s.w > wmax) wmax = s.w;
        shown++;
        mxb_sample_free(&s);
    }
    if (shown) printf("  sizes    height %d..%d, width %d..%d (of the %d shown)\n", hmin, hmax, wmin, wmax, shown);
    mxb_dataset_close(d);
    return failed ? 1 : 0;
}
