/* Subcommand dispatch and help. */
#include "harness/harness.h"
#include "harness/internal.h"
#include "io/io.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <omp.h>

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} command;

static const command commands[] = {
    {"run", mxb_cmd_run, "run a configuration: every model x method x test into one results file"},
    {"report", mxb_cmd_report, "tables (md/json/csv), curves, figures and an HTML page from a results file"},
    {"compare", mxb_cmd_compare, "compare two results files; non-zero exit when a metric moved"},
    {"merge", mxb_cmd_merge, "join the shard files of one run into one results file"},
    {"history", mxb_cmd_history, "a metric history of many runs (SQLite): add, show, export, check for steps, trend page"},
    {"slurm", mxb_cmd_slurm, "run a configuration on a Slurm cluster: a job array of shards + the merge"},
    {"predict", mxb_cmd_predict, "classify an image, many images or a tensor; the top-5 (text or JSON)"},
    {"inspect", mxb_cmd_inspect, "print a weights file's config and parameter count"},
    {"explain", mxb_cmd_explain, "explain predictions with a method: maps (one image or many), overlay, attention"},
    {"methods", mxb_cmd_methods, "list the explanation methods (built-in and --plugin)"},
    {"bench", mxb_cmd_bench, "time the C engine against PyTorch at full ViM-S / DeiT-S size"},
    {"synth", mxb_cmd_synth, "write the synthetic benchmark (PNG + labels, gtsegs .mat)"},
    {"dataset-info", mxb_cmd_dataset_info, "what the readers see in an ImageNet folder or .mat file"},
};

static void usage(FILE *f) {
    fprintf(f, "mxb %s (%s) — explanations of Vision Mamba and ViT, measured\n\n", MXB_VERSION,
            MXB_GIT_REV);
    fprintf(f, "usage: mxb [--plugin LIB.so]... COMMAND [options]   (mxb COMMAND --help)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
}

/* Out of memory on a configuration-bounded buffer: one line and a clean exit (io/alloc.c
 * removed the registered temporary files before calling this). */
static void on_out_of_memory(size_t n, const char *what) {
    static atomic_flag reported = ATOMIC_FLAG_INIT;
    if (atomic_flag_test_and_set(&reported))
        for (;;) pause(); /* another thread (images in flight) is already reporting it */
    fprintf(stderr, "mxb: out of memory: %zu bytes for %s (mxb run --estimate says what a run needs)\n", n, what);
    fflush(stderr);
    /* _exit, not exit: with several images in flight other threads are still working,
     * and exit's handlers would tear down what they use (a crash instead of this line).
     * Nothing is lost: results files are only ever written complete, the journal goes
     * through write(2). */
    _exit(3);
}

int mxb_thread_bound(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long b = 8 * (cores > 0 ? cores : 1);
    return b < 64 ? 64 : b > 4096 ? 4096 : (int)b;
}

/* OMP_NUM_THREADS=100000 ran 20 s, took 2.2 GB and died of libgomp's "Thread creation
 * failed". Bounded here, before any parallel region, with one line (issue 23, class 7). */
static void bound_threads(void) {
    const int asked = omp_get_max_threads(), bound = mxb_thread_bound();
    if (asked <= bound) return;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    fprintf(stderr, "mxb: %d threads (OMP_NUM_THREADS) is over this machine's bound of %d (8 x its %ld cores, at least "
                    "64); using %d\n", asked, bound, cores, bound);
    omp_set_num_threads(bound);
}

int mxb_main(int argc, char **argv) {
    mxb_set_oom_handler(on_out_of_memory);
    /* global options: method plugins to load before the command runs */
    while (argc >= 3 && !strcmp(argv[1], "--plugin")) {
        char err[512];
        if (mxb_methods_load_plugin(argv[2], err, sizeof err)) {
            fprintf(stderr, "mxb: %s\n", err);
            return 2;
        }
        argv[2] = argv[0];
        argc -= 2;
        argv += 2;
    }
    if (argc == 2 && !strcmp(argv[1], "--plugin")) {
        fprintf(stderr, "mxb: --plugin needs a path (see mxb --help)\n");
        return 2;
    }
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("mxb %s (%s)\nBLAS: %s\n", MXB_VERSION, MXB_GIT_REV, mxb_blas_describe());
        mxb_device_describe(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            /* a limit set wrongly is refused, never silently ignored (io/env.c) */
            char err[512];
            if (mxb_env_check(err, sizeof err)) {
                fprintf(stderr, "mxb: %s\n", err);
                return 2;
            }
            bound_threads();
            return commands[i].fn(argc - 1, argv + 1);
        }
    fprintf(stderr, "mxb: unknown %s '%s' (see mxb --help)\n", argv[1][0] == '-' ? "option" : "command", argv[1]);
    return 2;
}
