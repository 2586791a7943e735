/* --device: where a command's forwards run (issue 27). "cpu", "cuda" (GPU 0), "cuda:N"
 * or "auto" (the first GPU when there is one, else the CPU). Asking for a GPU that is
 * not there — none visible, N past the last, or an mxb built without CUDA — is one line
 * and exit 2; auto falls back to the CPU with one line, so a script knows where it ran.
 * The same words for mxb predict's --device and mxb run's --device / [run] device. */
#include "engine/engine.h"
#include "harness/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mxb_device_parse(const char *spec, long *index) {
    *index = -1;
    if (!strcmp(spec, "cpu") || !strcmp(spec, "auto")) return 0;
    if (!strcmp(spec, "cuda")) return *index = 0, 0;
    char *end = NULL;
    if (strncmp(spec, "cuda:", 5) || spec[5] < '0' || spec[5] > '9') return -1;
    const long want = strtol(spec + 5, &end, 10);
    if (*end || want > 1023) return -1;
    *index = want;
    return 0;
}

int mxb_device_pick(const char *cmd, const char *what, const char *spec, int *gpu) {
    char err[512];
    *gpu = -1;
    if (!spec || !strcmp(spec, "cpu")) return 0;
    const int is_auto = !strcmp(spec, "auto");
    long want = 0;
    if (mxb_device_parse(spec, &want))
        return mxb_usage_error(cmd, "%s '%s': expected cpu, cuda, cuda:N or auto", what, spec);
    const int n = mxb_gpu_count(err, sizeof err);
    if (is_auto) {
        if (n > 0) {
            *gpu = 0;
            return 0;
        }
        fprintf(stderr, "mxb %s: %s auto: %s; running on the CPU\n", cmd, what, err);
        return 0;
    }
    if (n == 0) {
        fprintf(stderr, "mxb %s: %s %s: %s\n", cmd, what, spec, err);
        return 2;
    }
    if (want >= n) {
        fprintf(stderr, "mxb %s: %s %s: the driver shows %d GPU%s (cuda:0%s)\n", cmd, what, spec, n, n == 1 ? "" : "s",
                n == 1 ? "" : n == 2 ? ", cuda:1" : " .. cuda:N-1");
        return 2;
    }
    *gpu = (int)want;
    return 0;
}

void mxb_device_describe(FILE *f) {
    char err[512], name[256];
    const char *build = mxb_gpu_build();
    if (!build) {
        fprintf(f, "CUDA: not compiled in (cmake -DMXB_CUDA=ON builds it)\n");
        return;
    }
    const int n = mxb_gpu_count(err, sizeof err);
    if (!n) {
        fprintf(f, "CUDA: %s; %s\n", build, err);
        return;
    }
    fprintf(f, "CUDA: %s; %d GPU%s\n", build, n, n == 1 ? "" : "s");
    for (int i = 0; i < n; i++)
        if (!mxb_gpu_name(i, name, sizeof name)) fprintf(f, "  cuda:%d %s\n", i, name);
}
