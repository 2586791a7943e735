/* The method table: built-ins, plugins, and the rollout the built-ins share. */
#define _GNU_SOURCE 1 /* dladdr1 */
#include "io/io.h"
#include "methods/method.h"

#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const mxb_method mxb_method_raw_attention, mxb_method_rollout, mxb_method_attribution;
extern const mxb_method mxb_method_uia; /* UIA (issue 16) */
/* the LRP methods of issue 16 (methods/mambalrp.c) */
extern const mxb_method mxb_method_mambalrp, mxb_method_mambalrp_vision, mxb_method_mambalrp_gamma,
    mxb_method_mambalrp_vision_gamma, mxb_method_lrp_partial, mxb_method_lrp_partial_grad, mxb_method_lrp_full;

static const mxb_method *const builtins[] = {
    &mxb_method_raw_attention,
    &mxb_method_rollout,
    &mxb_method_attribution,
    &mxb_method_uia,
    &mxb_method_mambalrp,
    &mxb_method_mambalrp_vision,
    &mxb_method_mambalrp_gamma,
    &mxb_method_mambalrp_vision_gamma,
    &mxb_method_lrp_partial,
    &mxb_method_lrp_partial_grad,
    &mxb_method_lrp_full,
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

/* A name is what --method and [method:NAME] take and what results files store as a
 * group name: 1..63 characters of [A-Za-z0-9_.+-], so it never needs quoting, never
 * contains '/', and an error message that quotes it stays one line. */
static int good_name(const char *s) {
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= 63 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                         c == '_' || c == '.' || c == '+' || c == '-'))
            return 0;
    }
    return n > 0;
}

int mxb_methods_check(const char *path, const mxb_method *const *ms, int n, char *err, size_t errlen) {
    if (!ms) {
        mxb_seterr(err, errlen, "%s: mxb_plugin_methods returned no table (NULL)", path);
        return -1;
    }
    if (n < 1 || n > MAX_PLUGIN_METHODS - nplugin_methods) {
        mxb_seterr(err, errlen, "%s: mxb_plugin_methods returned %d methods (1..%d allowed)", path, n,
               MAX_PLUGIN_METHODS - nplugin_methods);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const mxb_method *m = ms[i];
        if (!m) {
            mxb_seterr(err, errlen, "%s: mxb_plugin_methods' table entry %d is NULL", path, i);
            return -1;
        }
        if (m->abi_version != MXB_METHOD_ABI_VERSION) {
            mxb_seterr(err, errlen,
                   "%s: method %d was built for method ABI %u, this mxb speaks ABI %d "
                   "(rebuild it against this methods/method.h)",
                   path, i, m->abi_version, MXB_METHOD_ABI_VERSION);
            return -1;
        }
        if (!m->name || !m->explain || !(m->archs & (MXB_METHOD_VIT | MXB_METHOD_VIM))) {
            mxb_seterr(err, errlen, "%s: method %d lacks a name, an explain() or an architecture",
                   path, i);
            return -1;
        }
        if (!good_name(m->name)) {
            mxb_seterr(err, errlen, "%s: method %d has a bad name (1..63 of A-Z a-z 0-9 _ . + -)", path, i);
            return -1;
        }
        /* unknown bits would be a newer ABI's features this host cannot provide */
        if ((m->archs & ~(uint32_t)(MXB_METHOD_VIT | MXB_METHOD_VIM)) ||
            (m->needs & ~(uint32_t)(MXB_NEEDS_GRADIENT | MXB_NEEDS_RELEVANCE | MXB_NEEDS_LRP_PASSES))) {
            mxb_seterr(err, errlen, "%s: method '%s' asks for unknown architectures or trace needs "
                   "(archs 0x%x, needs 0x%x)", path, m->name, m->archs, m->needs);
            return -1;
        }
        if (mxb_methods_find(m->name)) {
            mxb_seterr(err, errlen, "%s: a method named '%s' is already registered", path, m->name);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(ms[j]->name, m->name)) {
                mxb_seterr(err, errlen, "%s: the plugin names two methods '%s'", path, m->name);
                return -1;
            }
    }
    return 0;
}

int mxb_methods_load_plugin(const char *path, char *err, size_t errlen) {
    if (nhandles >= MAX_PLUGIN_METHODS) {
        mxb_seterr(err, errlen, "%s: too many plugins", path);
        return -1;
    }
    /* dlopen searches the library path for a bare name; a plugin is always a file */
    char full[4096];
    snprintf(full, sizeof full, "%s%s", strchr(path, '/') ? "" : "./", path);
    void *h = dlopen(full, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        mxb_seterr(err, errlen, "%s: cannot load plugin: %s", path, why ? why : "unknown error");
        for (char *p = err; *p; p++)
            if (*p == '\n') *p = ' ';
        return -1;
    }
    mxb_plugin_methods_fn entry;
    void *sym = dlsym(h, "mxb_plugin_methods");
    if (!sym) {
        mxb_seterr(err, errlen, "%s: not an mxb plugin (no symbol mxb_plugin_methods)", path);
        dlclose(h);
        return -1;
    }
    /* calling a data object of that name would jump into data: check the symbol's type */
    Dl_info info;
    const ElfW(Sym) *es = NULL;
    if (!dladdr1(sym, &info, (void **)&es, RTLD_DL_SYMENT) || !es ||
        (ELF64_ST_TYPE(es->st_info) != STT_FUNC && ELF64_ST_TYPE(es->st_info) != STT_GNU_IFUNC)) {
        mxb_seterr(err, errlen, "%s: not an mxb plugin (mxb_plugin_methods is not a function)", path);
        dlclose(h);
        return -1;
    }
    *(void **)&entry = sym;
    int n = 0;
    const mxb_method *const *ms = entry(&n);
    if (mxb_methods_check(path, ms, n, err, errlen)) {
        dlclose(h);
        return -1;
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
    double *r = mxb_alloc0((size_t)L, sizeof *r, "rollout buffers");
    double *next = mxb_alloc0((size_t)L, sizeof *next, "rollout buffers");
    double *inv = mxb_alloc0((size_t)L, sizeof *inv, "rollout buffers");
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
