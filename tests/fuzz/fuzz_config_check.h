/* What every configuration that mxb_run_config_load accepts must hold, whatever the
 * file or the --set overrides said: shared by fuzz_config and fuzz_set. */
#ifndef MXB_FUZZ_CONFIG_CHECK_H
#define MXB_FUZZ_CONFIG_CHECK_H

#include "harness/harness.h"
#include "fuzz_util.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int good_name(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 40 || !strcmp(s, ".") || !strcmp(s, "..")) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_-.+", *s)) return 0;
    return 1;
}

static void check_data(const mxb_run_data *d) {
    for (int j = 0; j < 3; j++)
        if (!isfinite(d->pre.mean[j]) || !isfinite(d->pre.std[j]) || !(d->pre.std[j] > 0)) abort();
    if (d->pre.size < 1 || d->pre.size > 8192 || d->pre.crop < 0 || d->pre.crop > 8192) abort();
    if (d->enabled && !d->data[0]) abort();
    if (d->subset.kind != MXB_SUBSET_ALL && d->subset.kind != MXB_SUBSET_IDS && d->subset.n < 1) abort();
}

static void fz_check_config(const mxb_run_config *c) {
    if (!c->output[0] || c->nmodels < 1 || c->nmodels > MXB_MAX_MODELS || c->nmethods < 1 ||
        c->nmethods > MXB_MAX_METHODS || !c->text)
        abort();
    for (int i = 0; i < c->nmodels; i++)
        if (!good_name(c->models[i].name) || !c->models[i].weights[0]) abort();
    for (int i = 0; i < c->nmethods; i++)
        if (!good_name(c->methods[i].name) || c->methods[i].start_layer < -1) abort();
    if (c->figures < 0 || c->figures > 64 || c->save_attention < 0 || c->max_pixels < 0 || c->max_memory_mb < 0 ||
        !isfinite(c->pointing_tolerance) || c->pointing_tolerance < 0)
        abort();
    check_data(&c->perturbation);
    check_data(&c->segmentation);
    for (const char *p = c->output; *p; p++)
        if ((unsigned char)*p < 0x20) abort();
}

/* Loads the configuration as `mxb run` does; accepted: the invariants above;
 * refused: a one-line message (fz_check_err). */
static void fz_load_and_check(const char *path, const char **sets, int nsets) {
    mxb_run_config c;
    char err[1024] = "";
    if (mxb_run_config_load(path, sets, nsets, &c, err, sizeof err) == 0)
        fz_check_config(&c);
    else
        fz_check_err(err);
    mxb_run_config_free(&c);
}

#endif
