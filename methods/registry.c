/* The method table: built-ins, plugins, and the rollout the built-ins share. */
#include "methods/method.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const mxb_method mxb_method_raw_attention, mxb_method_rollout, mxb_method_attribution;

static const mxb_method *const builtins[] = {
    &mxb_method_raw_attention,
    &mxb_method_rollout,
    &mxb_method_attribution,
};
#define NBUILTIN ((int)(sizeof builtins / sizeof builtins[0]))

#define MAX_PLUGIN_METHODS 64
static const mxb_method *plugin_methods[MAX_PLUGIN_METHODS];
static int nplugin_methods;
static void *handles[MAX_PLUGIN_METHODS];
static int nhandles;

int mxb_methods_count(void) { return NBUILTIN + nplugin_methods; }

const mxb_method *mxb_methods_get(int i) {
    if (i < 0 || i >= mxb_methods_count()) return NULL;
    return i < NBUILTIN ? builtins[i] : plugin_methods[i - NBUILTIN];
}

const mxb_method *mxb_methods_find(const char *name) {
    for (int i = 0; i < mxb_methods_count(); i++)
        if (!strcmp(mxb_methods_get(i)->name, name)) return mxb_methods_get(i);
    return NULL;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int mxb_methods_load_plugin(const char *path, char *err, size_t errlen) {
    if (nhandles >= MAX_PLUGIN_METHODS) {
        seterr(err, errlen, "%s: too many plugins", path);
        return -1;
    }
    /* dlopen searches the library path for a bare name; a plugin is always a file */
    char full[4096];
    snprintf(full, sizeof full, "%s%s", strchr(path, '/') ? "" : "./", path);
    void *h = dlopen(full, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        seterr(err, errlen, "%s: cannot load plugin: %s", path, why ? why : "unknown error");
        for (char *p = err; *p; p++)
            if (*p == '\n') *p = ' ';
        return -1;
    }
    mxb_plugin_methods_fn entry;
    *(void **)&entry = dlsym(h, "mxb_plugin_methods");
    if (!entry) {
        seterr(err, errlen, "%s: not an mxb plugin (no symbol mxb_plugin_methods)", path);
        dlclose(h);
        return -1;
    }
    int n = 0;
    const mxb_method *const *ms = entry(&n);
    if (!ms || n < 1 || n > MAX_PLUGIN_METHODS - nplugin_methods) {
        seterr(err, errlen, "%s: mxb_plugin_methods returned %d methods", path, n);
        dlclose(h);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const mxb_method *m = ms[i];
        if (!m || m->abi_version != MXB_METHOD_ABI_VERSION) {
            seterr(err, errlen,
                   "%s: method %d was built for method ABI %u, this mxb speaks ABI %d "
                   "(rebuild it against this methods/method.h)",
                   path, i, m ? m->abi_version : 0u, MXB_METHOD_ABI_VERSION);
            dlclose(h);
            return -1;
        }
        if (!m->name || !m->explain || !(m->archs & (MXB_METHOD_VIT | MXB_METHOD_VIM))) {
            seterr(err, errlen, "%s: method %d lacks a name, an explain() or an architecture",
                   path, i);
            dlclose(h);
            return -1;
        }
        if (mxb_methods_find(m->name)) {
            seterr(err, errlen, "%s: a method named '%s' is already registered", path, m->name);
            dlclose(h);
            return -1;
        }
    }
    for (int i = 0; i < n; i++) plugin_methods[nplugin_methods++] = ms[i];
    handles[nhandles++] = h;
    return 0;
}

void mxb_methods_unload_plugins(void) {
    for (int i = 0; i < nhandles; i++) dlclose(handles[i]);
    nhandles = nplugin_methods = 0;
}

void mxb_rollout_cls_row(const float *const *mats, int n, int start, int L, int cls,
                         int normalise_rows, float *row) {
    /* CLS row of M_{n-1}···M_start, applying the layers as vector-matrix products:
     * e_clsᵀ M_{n-1} first, then on down to M_start */
    double *r = calloc((size_t)L, sizeof *r), *next = calloc((size_t)L, sizeof *next);
    double *inv = calloc((size_t)L, sizeof *inv);
    r[cls] = 1;
    for (int l = n - 1; l >= start; l--) {
        const float *M = mats[l];
        for (int i = 0; i < L; i++) {
            double s = 1; /* + identity */
            for (int j = 0; j < L; j++) s += M[(size_t)i * L + j];
            inv[i] = normalise_rows ? 1.0 / s : 1.0;
        }
        memset(next, 0, (size_t)L * sizeof *next);
        for (int i = 0; i < L; i++) {
            if (r[i] == 0) continue;
            const double w = r[i] * inv[i];
            const float *Mi = M + (size_t)i * L;
            for (int j = 0; j < L; j++) next[j] += w * Mi[j];
            next[i] += w;
        }
        double *t = r;
        r = next;
        next = t;
    }
    for (int j = 0; j < L; j++) row[j] = (float)r[j];
    free(r);
    free(next);
    free(inv);
}

void mxb_drop_cls(const float *v, int L, int cls, float *map) {
    for (int j = 0, k = 0; j < L; j++)
        if (j != cls) map[k++] = v[j];
}
