/* mxb synth (write the synthetic benchmark) and mxb dataset-info (check a data
 * folder or .mat file the way a run will read it). */
#include "harness/harness.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRLEN 1024

static int parse_count(const char *cmd, const char *opt, const char *v, long lo, long hi, long *out) {
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        fprintf(stderr, "mxb %s: --%s needs an integer in %ld..%ld, not '%s'\n", cmd, opt, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

int mxb_cmd_synth(int argc, char **argv) {
    static const struct option opts[] = {{"n", required_argument, 0, 'n'},
                                         {"seed", required_argument, 0, 's'},
                                         {"size", required_argument, 0, 'z'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    long n = 200, seed = 3, size = 64;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'n': if (parse_count("synth", "n", optarg, 1, 10000000, &n)) return 2; break;
        case 's': if (parse_count("synth", "seed", optarg, 0, 0x7fffffffL, &seed)) return 2; break;
        case 'z': if (parse_count("synth", "size", optarg, 16, 4096, &size)) return 2; break;
        case 'h':
        default:
            fprintf(ch == 'h' ? stdout : stderr,
                    "usage: mxb synth DIR [--n N] [--seed S] [--size PX]\n"
                    "  Writes the synthetic benchmark (one textured object on clutter, %d classes)\n"
                    "  in the formats of the real data: DIR/images/*.png + DIR/labels.txt (ImageNet\n"
                    "  layout), DIR/gtsegs_synth.mat (ImageNet-segmentation layout), DIR/classes.txt.\n"
                    "  Defaults: 200 images, seed 3 (the demo's held-out split), 64 px.\n",
                    MXB_SYNTH_CLASSES);
            return ch == 'h' ? 0 : 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "mxb synth: one output folder, please (mxb synth --help)\n");
        return 2;
    }
    char err[ERRLEN], probe[4200];
    snprintf(probe, sizeof probe, "%s/", argv[optind]);
    if (mxb_make_parents(probe, err, sizeof err)) {
        fprintf(stderr, "mxb synth: %s\n", err);
        return 1;
    }
    if (mxb_synth_write(argv[optind], (int)n, (uint64_t)seed, (int)size, err, sizeof err)) {
        fprintf(stderr, "mxb synth: %s\n", err);
        return 1;
    }
    fprintf(stderr, "mxb synth: %ld images of %ld px (seed %ld) in %s\n", n, size, seed, argv[optind]);
    return 0;
}

int mxb_cmd_dataset_info(int argc, char **argv) {
    static const struct option opts[] = {{"labels", required_argument, 0, 'l'},
                                         {"show", required_argument, 0, 's'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *labels = NULL;
    long show = 5;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'l': labels = optarg; break;
        case 's': if (parse_count("dataset-info", "show", optarg, 0, 1000000, &show)) return 2; break;
        case 'h':
        default:
            fprintf(ch == 'h' ? stdout : stderr,
                    "usage: mxb dataset-info PATH [--labels FILE] [--show K]\n"
                    "  Opens a data folder (ImageNet layout) or a gtsegs-structured .mat file as a\n"
                    "  run would, and prints the count and the first K samples (id, label, size,\n"
                    "  mask). Reading them decodes the images, so a bad file shows up here.\n");
            return ch == 'h' ? 0 : 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "mxb dataset-info: one path, please (mxb dataset-info --help)\n");
        return 2;
    }
    char err[ERRLEN];
    mxb_dataset *d = NULL;
    if (mxb_dataset_open(argv[optind], labels, &d, err, sizeof err)) {
        fprintf(stderr, "mxb dataset-info: %s\n", err);
        return 2;
    }
    int n = mxb_dataset_size(d), code = 0;
    printf("%s: %d samples, labels %s\n", argv[optind], n, mxb_dataset_label(d, 0) >= 0 ? "yes" : "no");
    for (int i = 0; i < n && i < show; i++) {
        mxb_sample s;
        memset(&s, 0, sizeof s);
        if (mxb_dataset_get(d, i, &s, err, sizeof err)) {
            fprintf(stderr, "mxb dataset-info: %s\n", err);
            code = 1;
            continue;
        }
        printf("  %-40s label %4d  %4d x %-4d  mask %s\n", s.id, s.label, s.w, s.h, s.mask ? "yes" : "no");
        mxb_sample_free(&s);
    }
    mxb_dataset_close(d);
    return code;
}
