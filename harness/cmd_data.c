/* mxb synth: writes the built-in synthetic benchmark; mxb dataset-info: what the
 * readers make of a folder or .mat file (so a user can check an ImageNet layout
 * before a long run). */
#include "harness/harness.h"
#include "datasets/datasets.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Both commands report bad options in one line of their own, not getopt's: the
 * option string ":" makes getopt_long return ':' for a missing value, '?' for an
 * unknown option. */
static int bad_option(const char *cmd, int ch, char **argv) {
    if (ch == ':') fprintf(stderr, "mxb %s: option '%s' needs a value (mxb %s --help)\n", cmd, argv[optind - 1], cmd);
    else fprintf(stderr, "mxb %s: unknown option '%s' (mxb %s --help)\n", cmd, argv[optind - 1], cmd);
    return 2;
}

/* a decimal integer in [lo, hi], all of the string */
static int parse_int(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* ---- mxb synth ---------------------------------------------------------------------- */

typedef struct {
    int tty, last;
} synth_progress;

/* A tty gets one line redrawn; a log gets a line every 10 %. */
static void show_progress(int done, int n, void *ctx) {
    synth_progress *p = ctx;
    int pct = (int)(100LL * done / n);
    if (p->tty) {
        if (pct != p->last || done == n) fprintf(stderr, "\rmxb synth: %d/%d (%d%%)%s", done, n, pct, done == n ? "\n" : "");
    } else if (pct / 10 != p->last / 10 || done == n) {
        fprintf(stderr, "mxb synth: %d/%d (%d%%)\n", done, n, pct);
    }
    p->last = pct;
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
               "Same arguments, same bytes.\n");
}

int mxb_cmd_synth(int argc, char **argv) {
    static const struct option opts[] = {{"n", required_argument, 0, 'n'},    {"seed", required_argument, 0, 's'},
                                         {"size", required_argument, 0, 'z'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    long n = 1000, size = 64;
    uint64_t seed = 0;
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (ch) {
        case 'n':
            if (parse_int(optarg, 0, 999999, &n)) {
                fprintf(stderr, "mxb synth: --n needs an integer in 0..999999, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'z':
            if (parse_int(optarg, 16, 4096, &size)) {
                fprintf(stderr, "mxb synth: --size needs an integer in 16..4096, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 's': {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            /* strtoull takes "-1" as 2^64 - 1: a sign is refused, not wrapped */
            if (errno || end == optarg || *end || strchr(optarg, '-') || strchr(optarg, '+')) {
                fprintf(stderr, "mxb synth: --seed needs an unsigned 64-bit integer, not '%s'\n", optarg);
                return 2;
            }
            seed = v;
            break;
        }
        case 'h': synth_usage(stdout); return 0;
        default: return bad_option("synth", ch, argv);
        }
    }
    if (optind != argc - 1) {
        if (optind < argc - 1) fprintf(stderr, "mxb synth: unexpected argument '%s'\n", argv[optind + 1]);
        else fprintf(stderr, "mxb synth: need the output folder (mxb synth DIR [--n N] [--seed S] [--size PX])\n");
        return 2;
    }
    const char *dir = argv[optind];
    synth_progress p = {isatty(2), -1};
    char err[1024];
    if (mxb_synth_write_progress(dir, (int)n, seed, (int)size, n ? show_progress : NULL, &p, err, sizeof err)) {
        if (p.tty && p.last >= 0) fputc('\n', stderr);
        fprintf(stderr, "mxb synth: %s\n", err);
        return 1;
    }
    printf("%s: %ld samples of %ldx%ld px, seed %llu, %d classes: images/ + labels.txt, gtsegs_synth.mat, "
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
    static const struct option opts[] = {{"labels", required_argument, 0, 'l'}, {"show", required_argument, 0, 'k'},
                                         {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *labels = NULL;
    long show = 5;
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (ch) {
        case 'l': labels = optarg; break;
        case 'k':
            if (parse_int(optarg, 0, 1000000000, &show)) {
                fprintf(stderr, "mxb dataset-info: --show needs a non-negative integer, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h': info_usage(stdout); return 0;
        default: return bad_option("dataset-info", ch, argv);
        }
    }
    if (optind != argc - 1) {
        if (optind < argc - 1) fprintf(stderr, "mxb dataset-info: unexpected argument '%s'\n", argv[optind + 1]);
        else fprintf(stderr, "mxb dataset-info: need a folder or .mat file (mxb dataset-info PATH [--labels F])\n");
        return 2;
    }
    const char *path = argv[optind];
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
