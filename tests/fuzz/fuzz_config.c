/* Run configurations (harness/config.c) as `mxb run CONFIG` reads them:
 * mxb_run_config_load on the input. Inputs that hold a line "--set X" also pass X
 * as a --set override, so the override parser is covered as well. */
#include "harness/harness.h"
#include "fuzz_util.h"
#include "fuzz_config_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_write("run.ini", data, size);
    /* --set lines: at most 4, taken from the input */
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    const char *sets[4];
    int nsets = 0;
    for (char *p = text; p && *p && nsets < 4;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        if (!strncmp(p, "--set ", 6)) sets[nsets++] = p + 6;
        p = nl ? nl + 1 : NULL;
    }
    fz_load_and_check(path, sets, nsets);
    free(text);
    return 0;
}
