/* The method table: built-ins, plugins, and the rollout the built-ins share. */
#define _GNU_SOURCE 1 /* dladdr1 */
#include "io/io.h"
#include "methods/method.h"

#include <dlfcn.h>
#include <stddef.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const mxb_method mxb_method_raw_attention, mxb_method_rollout, mxb_method_attribution;
extern const mxb_method mxb_method_uia; /* UIA (issue 16) */
/* the LRP methods of issue 16 (methods/mambalrp.c) */
extern const mxb_method mxb_method_mambalrp, mxb_method_mambalrp_vision, mxb_method_mambalrp_gamma,
    mxb_method_mambalrp_vision_gamma, mxb_method_lrp_partial, mxb_method_lrp_partial_grad, mxb_method_lrp_full;
/* method ABI v2: the model-agnostic methods (pixel maps) */
extern const mxb_method mxb_method_ixg, mxb_method_ig, mxb_method_smoothgrad, mxb_method_occlusion, mxb_method_rise;

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
    &mxb_method_ixg,
    &mxb_method_ig,
    &mxb_method_smoothgrad,
    &mxb_method_occlusion,
    &mxb_method_rise,
};
#define NBUILTIN ((int)(sizeof builtins / sizeof builtins[0]))

#define MAX_PLUGIN_METHODS 64
static const mxb_method *plugin_methods[MAX_PLUGIN_METHODS];
/* v1 table entries, copied into host-owned v2 structs (the v2 fields zero) so that
 * nothing ever reads past the end of a plugin's shorter v1 struct */
static mxb_method v1_copies[MAX_PLUGIN_METHODS];
static int nplugin_methods;
static void *handles[MAX_PLUGIN_METHODS];
static int nhandles;
/* each plugin's file and its SHA-256, taken before dlopen: the run key and provenance
 * name the bytes that ran (issue 23, class 4a) */
static struct {
    char path[4096], sha[65];
} files[MAX_PLUGIN_METHODS];
static int file_of[MAX_PLUGIN_METHODS]; /* plugin method -> files[] */

int mxb_method_origin(const mxb_method *m, const char **path, const char **sha256) {
    for (int i = 0; i < nplugin_methods; i++)
        if (plugin_methods[i] == m) {
            *path = files[file_of[i]].path, *sha256 = files[file_of[i]].sha;
            return 1;
        }
    *path = *sha256 = NULL;
    return 0;
}

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
 * group name: io's one name rule (mxb_name_ok), the same for built-ins, plugins and
 * configurations. */
static int good_name(const char *s) { return mxb_name_ok(s); }

/* A parameter name: [a-z0-9_]{1,31} (a config key and an HDF5 attribute name as is). */
static int good_param_name(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= 31 || !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_')) return 0;
    return n > 0;
}

/* the number of '|'-separated choices, 0 for a malformed list (an empty choice) */
static int count_choices(const char *c) {
    int n = 1;
    size_t len = 0;
    for (; *c; c++) {
        if (*c == '|') {
            if (!len) return 0;
            n++, len = 0;
        } else
            len++;
    }
    return len ? n : 0;
}

/* What a v2 method adds: a map kind, parameter specs the host can validate against. */
static int check_v2(const char *path, const mxb_method *m, char *err, size_t errlen) {
    if (m->map_kind != MXB_MAP_PATCHES && m->map_kind != MXB_MAP_PIXELS) {
        mxb_seterr(err, errlen, "%s: method '%s' has an unknown map kind %d", path, m->name, (int)m->map_kind);
        return -1;
    }
    if (m->nparams < 0 || m->nparams > MXB_MAX_PARAMS || (m->nparams && !m->params)) {
        mxb_seterr(err, errlen, "%s: method '%s' declares %d params (0..%d, with a table)", path, m->name,
                   m->nparams, MXB_MAX_PARAMS);
        return -1;
    }
    for (int j = 0; j < m->nparams; j++) {
        const mxb_param_spec *p = &m->params[j];
        int ok = p->name && good_param_name(p->name);
        for (int q = 0; ok && q < j; q++) ok = strcmp(m->params[q].name, p->name) != 0;
        if (ok && p->type == MXB_PARAM_CHOICE) {
            const int nc = p->choices ? count_choices(p->choices) : 0;
            ok = nc > 0 && p->def >= 0 && p->def < nc && p->def == (double)(int)p->def;
        } else if (ok) {
            ok = (p->type == MXB_PARAM_INT || p->type == MXB_PARAM_REAL) && p->min <= p->def && p->def <= p->max;
            if (ok && p->type == MXB_PARAM_INT)
                ok = p->def == (double)(long long)p->def && p->min >= -1e15 && p->max <= 1e15;
        }
        if (!ok) {
            mxb_seterr(err, errlen, "%s: method '%s' param %d is malformed (a name of [a-z0-9_]{1,31}, unique; a type; "
                       "min <= default <= max; choices a|b|c)", path, m->name, j);
            return -1;
        }
    }
    return 0;
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
        if (m->abi_version < MXB_METHOD_ABI_OLDEST || m->abi_version > MXB_METHOD_ABI_VERSION) {
            mxb_seterr(err, errlen,
                       "%s: method %d was built for method ABI %u; this mxb loads ABI %d and %d (rebuild "
                       "against methods/method.h; docs/METHODS-v2.md says what changed)",
                       path, i, m->abi_version, MXB_METHOD_ABI_OLDEST, MXB_METHOD_ABI_VERSION);
            return -1;
        }
        if (!m->name || !m->explain || !(m->archs & (MXB_METHOD_VIT | MXB_METHOD_VIM))) {
            mxb_seterr(err, errlen, "%s: method %d lacks a name, an explain() or an architecture",
                   path, i);
            return -1;
        }
        if (!good_name(m->name)) {
            mxb_seterr(err, errlen, "%s: method %d has a bad name (1..40 of A-Z a-z 0-9 _ . + -; not '.' or '..')", path, i);
            return -1;
        }
        /* unknown bits would be a newer ABI's features this host cannot provide */
        if ((m->archs & ~(uint32_t)(MXB_METHOD_VIT | MXB_METHOD_VIM)) ||
            (m->needs & ~(uint32_t)(MXB_NEEDS_GRADIENT | MXB_NEEDS_RELEVANCE | MXB_NEEDS_LRP_PASSES |
                                    (m->abi_version >= 2 ? MXB_NEEDS_MODEL : 0)))) {
            mxb_seterr(err, errlen, "%s: method '%s' asks for unknown architectures or trace needs "
                   "(archs 0x%x, needs 0x%x)", path, m->name, m->archs, m->needs);
            return -1;
        }
        if (m->abi_version >= 2 && check_v2(path, m, err, errlen)) return -1;
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
    /* also notes it as an input; a file that cannot be read is dlopen's to name */
    if (mxb_sha256_file(full, files[nhandles].sha, NULL, 0)) snprintf(files[nhandles].sha, 65, "unreadable");
    if (!realpath(full, files[nhandles].path)) snprintf(files[nhandles].path, sizeof files[nhandles].path, "%s", full);
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
    for (int i = 0; i < n; i++) {
        const mxb_method *m = ms[i];
        if (m->abi_version < 2) { /* only the v1 prefix exists in the plugin */
            mxb_method *copy = &v1_copies[nplugin_methods];
            memset(copy, 0, sizeof *copy);
            memcpy(copy, m, offsetof(mxb_method, family));
            m = copy;
        }
        file_of[nplugin_methods] = nhandles;
        plugin_methods[nplugin_methods++] = m;
    }
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

/* ---- parameters (ABI v2) ------------------------------------------------------------ */

/* the index of name in "a|b|c", or -1 */
static int choice_index(const char *choices, const char *name, size_t len) {
    int i = 0;
    for (const char *c = choices;; i++) {
        const char *bar = strchr(c, '|');
        const size_t n = bar ? (size_t)(bar - c) : strlen(c);
        if (n == len && !strncmp(c, name, len)) return i;
        if (!bar) return -1;
        c = bar + 1;
    }
}

int mxb_method_params_parse(const mxb_method *m, const char *const *kv, int n, double *values, char *err,
                            size_t errlen) {
    const int np = m->abi_version >= 2 ? m->nparams : 0;
    for (int j = 0; j < np; j++) values[j] = m->params[j].def;
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(kv[i], '=');
        const size_t klen = eq ? (size_t)(eq - kv[i]) : strlen(kv[i]);
        int j = 0;
        while (j < np && !(strlen(m->params[j].name) == klen && !strncmp(m->params[j].name, kv[i], klen))) j++;
        if (j == np) {
            mxb_seterr(err, errlen, "method '%s' has no parameter '%.*s'%s", m->name, (int)(klen > 40 ? 40 : klen),
                       kv[i], np ? " (mxb methods lists its parameters)" : " (it takes none)");
            return -1;
        }
        const mxb_param_spec *p = &m->params[j];
        if (!eq || !eq[1]) {
            mxb_seterr(err, errlen, "method '%s' parameter '%s' needs a value (%s=VALUE)", m->name, p->name, p->name);
            return -1;
        }
        const char *v = eq + 1;
        if (p->type == MXB_PARAM_CHOICE) {
            const int k = choice_index(p->choices, v, strlen(v));
            if (k < 0) {
                mxb_seterr(err, errlen, "method '%s' parameter '%s': '%.40s' is not one of %s", m->name, p->name, v,
                           p->choices);
                return -1;
            }
            values[j] = k;
            continue;
        }
        char *end = NULL;
        const int integral = p->type == MXB_PARAM_INT;
        /* plain decimal, as the configuration's numbers: strtod alone would take hex
         * ("0x10" as 16), "inf", "nan" and leading spaces; an integer has no exponent */
        const int plain = strspn(v, integral ? "0123456789+-" : "0123456789+-.eE") == strlen(v);
        const double d = plain ? strtod(v, &end) : 0;
        if (!plain || *end || end == v || !(d >= p->min && d <= p->max) || (integral && d != (double)(long long)d)) {
            mxb_seterr(err, errlen, "method '%s' parameter '%s': '%.40s' is not %s in [%g, %g]", m->name, p->name, v,
                       integral ? "an integer" : "a number", p->min, p->max);
            return -1;
        }
        values[j] = d;
    }
    return 0;
}

void mxb_method_params_format(const mxb_method *m, const double *values, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = 0;
    const int np = m->abi_version >= 2 ? m->nparams : 0;
    for (int j = 0; j < np && used < len; j++) {
        const mxb_param_spec *p = &m->params[j];
        char v[64];
        if (p->type == MXB_PARAM_CHOICE) {
            const char *c = p->choices;
            for (int k = 0; k < (int)values[j] && strchr(c, '|'); k++) c = strchr(c, '|') + 1;
            const char *bar = strchr(c, '|');
            snprintf(v, sizeof v, "%.*s", (int)(bar ? (size_t)(bar - c) : strlen(c)), c);
        } else {
            snprintf(v, sizeof v, "%.17g", values[j]);
        }
        used += (size_t)snprintf(buf + used, len - used, "%s%s=%s", j ? " " : "", p->name, v);
    }
}

int mxb_method_cost(const mxb_method *m, const mxb_explain_input *geometry, const double *params, mxb_cost *out) {
    /* the LRP pass the harness runs for the needs bits on this family (harness/explain.c) */
    const uint32_t lrp = geometry->arch == MXB_METHOD_ARCH_VIT ? MXB_NEEDS_RELEVANCE | MXB_NEEDS_RELEVANCE_ORIG
                                                               : MXB_NEEDS_MAMBALRP;
    *out = (mxb_cost){.traced_forwards = 1, .backwards = (m->needs & MXB_NEEDS_GRADIENT) ? 1 : 0,
                      .lrp_passes = (m->needs & lrp) ? 1 : 0};
    if (m->abi_version >= 2 && m->cost) {
        if (m->cost(geometry, params, out)) return -1;
        /* a count the estimate and the memory check would print or sum as if real */
        const double v[4] = {out->traced_forwards, out->backwards, out->plain_forwards, out->lrp_passes};
        for (int i = 0; i < 4; i++)
            if (!(v[i] >= 0 && v[i] <= 1e15)) return -2; /* NaN fails both */
    }
    return 0;
}
