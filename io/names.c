/* The one name rule (issue 23, class 12): model and method names, built-in, from a
 * plugin or from a configuration, become HDF5 group names, table headers and file name
 * parts. Plugins allowed 63 characters and '.' / '..' while configurations allowed 40
 * and neither, so a plugin method could load that no configuration could use. */
#include "io/io.h"

#include <fnmatch.h>
#include <string.h>

int mxb_name_ok(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > MXB_NAME_MAX || !strcmp(s, ".") || !strcmp(s, "..")) return 0;
    for (const char *p = s; *p; p++) {
        const char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '+' || c == '-'))
            return 0;
    }
    return 1;
}

int mxb_globs_match(const char *globs, const char *name) {
    if (!globs) return 1;
    char one[256];
    for (const char *p = globs; *p;) {
        const size_t len = strcspn(p, ",");
        if (len && len < sizeof one) {
            memcpy(one, p, len);
            one[len] = 0;
            if (!fnmatch(one, name, 0)) return 1;
        }
        p += len + (p[len] == ',');
    }
    return 0;
}
