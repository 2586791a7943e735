/* --set overrides (harness/config.c) as `mxb run CONFIG --set S...` applies them: a
 * fixed valid configuration, and each line of the input (up to 8) as one override.
 * Every override goes through the key table's checks; what is accepted must hold:
 * finite mean/std (std > 0), sizes in range, names of the allowed characters, non-empty
 * paths; what is refused gets a one-line message. */
#include "harness/harness.h"
#include "fuzz_util.h"

#include <ctype.h>
#include <math.h>

static const char base[] = "[run]\noutput = out.h5\n[model:m]\nweights = w.h5\n[method:rollout]\n"
                           "[perturbation]\ndata = d\n[segmentation]\ndata = s.mat\n";

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *path;
    if (!path) path = fz_write("set.ini", (const uint8_t *)base, sizeof base - 1);
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0; /* a NUL inside ends the overrides, as it ends argv's strings */
    const char *sets[8];
    int nsets = 0;
    for (char *p = text; p && nsets < 8;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        sets[nsets++] = p;
        p = nl ? nl + 1 : NULL;
    }
    mxb_run_config c;
    char err[1024] = "";
    if (mxb_run_config_load(path, sets, nsets, &c, err, sizeof err) == 0) {
        if (!c.output[0] || c.nmodels < 1 || c.nmodels > MXB_MAX_MODELS || c.nmethods < 1 ||
            c.nmethods > MXB_MAX_METHODS || !c.text)
            abort();
        for (int i = 0; i < c.nmodels; i++)
            if (!good_name(c.models[i].name) || !c.models[i].weights[0]) abort();
        for (int i = 0; i < c.nmethods; i++)
            if (!good_name(c.methods[i].name) || c.methods[i].start_layer < -1) abort();
        if (c.figures < 0 || c.figures > 64 || c.save_attention < 0 || c.max_pixels < 0 || c.max_memory_mb < 0 ||
            !isfinite(c.pointing_tolerance) || c.pointing_tolerance < 0)
            abort();
        check_data(&c.perturbation);
        check_data(&c.segmentation);
        for (const char *p = c.output; *p; p++)
            if ((unsigned char)*p < 0x20) abort();
    } else {
        fz_check_err(err);
    }
    mxb_run_config_free(&c);
    free(text);
    return 0;
}
