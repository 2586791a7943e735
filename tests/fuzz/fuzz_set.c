/* --set overrides (harness/config.c) as `mxb run CONFIG --set S...` applies them: a
 * fixed valid configuration, and each line of the input (up to 8) as one override.
 * Every override goes through the key table's checks; what is accepted must hold:
 * finite mean/std (std > 0), sizes in range, names of the allowed characters, non-empty
 * paths; what is refused gets a one-line message. */
#include "harness/harness.h"
#include "fuzz_util.h"
#include "fuzz_config_check.h"

static const char base[] = "[run]\noutput = out.h5\n[model:m]\nweights = w.h5\n[method:rollout]\n"
                           "[perturbation]\ndata = d\n[segmentation]\ndata = s.mat\n";

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
    fz_load_and_check(path, sets, nsets);
    free(text);
    return 0;
}
