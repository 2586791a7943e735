/* Subcommand dispatch and help. */
#include "harness/harness.h"

#include <stdio.h>
#include <string.h>

#ifndef MXB_VERSION
#define MXB_VERSION "dev"
#endif
#ifndef MXB_GIT_REV
#define MXB_GIT_REV "unknown"
#endif

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} command;

static const command commands[] = {
    {"predict", mxb_cmd_predict, "classify one image or tensor and print the top-5"},
    {"inspect", mxb_cmd_inspect, "print a weights file's config and parameter count"},
};

static void usage(FILE *f) {
    fprintf(f, "mxb %s (%s) — explanations of Vision Mamba and ViT, measured\n\n", MXB_VERSION,
            MXB_GIT_REV);
    fprintf(f, "usage: mxb COMMAND [options]   (mxb COMMAND --help for its options)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int mxb_main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("mxb %s (%s)\n", MXB_VERSION, MXB_GIT_REV);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "mxb: unknown command '%s' (see mxb --help)\n", argv[1]);
    return 2;
}
