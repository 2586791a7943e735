/* What identifies a run (the run key: configuration, weights, data lists) and what
 * a results file records about how it was made (results/SCHEMA.md, provenance). */
#define _GNU_SOURCE 1 /* dl_iterate_phdr */
#include "harness/internal.h"

#include <link.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void mxb_run_iso_time(char *buf, size_t n) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The program's GNU build-id (the linker's hash of what it linked): any rebuild with
 * other code has another. Read from the running image's notes (dl_iterate_phdr's first
 * entry is the program, also when started through the dynamic loader). */
static int first_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    char *hex = data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
            const unsigned char *name = p + sizeof *n, *desc = name + ((n->n_namesz + 3) & ~3u);
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && !memcmp(name, "GNU", 4) && n->n_descsz <= 64) {
                for (unsigned k = 0; k < n->n_descsz; k++) snprintf(hex + 2 * k, 3, "%02x", desc[k]);
                return 1;
            }
            p = desc + ((n->n_descsz + 3) & ~3u);
        }
    }
    return 1; /* only the first object: the program */
}

const char *mxb_build_id(void) {
    static char id[160];
    if (!id[0]) {
        char hex[130] = "";
        dl_iterate_phdr(first_object, hex);
        snprintf(id, sizeof id, "%s %s build %s", MXB_VERSION, MXB_GIT_REV, hex[0] ? hex : "unknown");
    }
    return id;
}

/* What ran, besides the configuration's text: mxb's build and, per method, its ABI,
 * resolved parameters and (a plugin) its file and SHA-256. In the run key, so a result
 * of other code is never taken for this run's (issue 23, class 4a). */
static void code_text(const mxb_run_state *R, char *buf, size_t n) {
    size_t off = (size_t)snprintf(buf, n, "mxb %s", mxb_build_id());
    /* a GPU's forwards sum in another order than the CPU's (issue 27: equal up to float
     * ties): a run on a GPU is other code, named by the card, not its index; the CPU adds
     * nothing, so the keys of earlier CPU runs stay */
    if (R->gpu >= 0) off += (size_t)snprintf(buf + off, n - off, "; device %s", R->gpu_name);
    for (int k = 0; k < R->cfg.nmethods && off < n; k++) {
        const mxb_method *me = R->method[k];
        const char *path, *sha;
        char params[2048] = "";
        if (!me) continue;
        mxb_method_params_format(me, R->cfg.methods[k].params, params, sizeof params);
        /* an alias says which method it configures (only then: the keys of earlier runs stay) */
        if (R->cfg.methods[k].base[0])
            off += (size_t)snprintf(buf + off, n - off, "; %s: base %s", R->cfg.methods[k].name, R->cfg.methods[k].base);
        if (off >= n) break;
        if (mxb_method_origin(me, &path, &sha))
            off += (size_t)snprintf(buf + off, n - off, "; %s: abi %u plugin %s sha256 %s [%s]", R->cfg.methods[k].name,
                                    me->abi_version, path, sha, params);
        else
            off += (size_t)snprintf(buf + off, n - off, "; %s: abi %u built-in [%s]", R->cfg.methods[k].name,
                                    me->abi_version, params);
    }
}

void mxb_run_keys(mxb_run_state *R) {
    mxb_sha256 h;
    char code[16384];
    code_text(R, code, sizeof code);
    mxb_sha256_init(&h);
    mxb_sha256_update(&h, code, strlen(code));
    mxb_sha256_hex(&h, R->code_key);
    mxb_sha256_init(&h);
    mxb_sha256_update(&h, R->cfg.text, strlen(R->cfg.text));
    mxb_sha256_update(&h, R->code_key, 64);
    for (int m = 0; m < R->cfg.nmodels; m++) mxb_sha256_update(&h, R->model_sha[m], 64);
    for (int t = 0; t < MXB_NTESTS; t++)
        if (R->data[t]) mxb_sha256_update(&h, R->data_sha[t], 64);
    mxb_sha256_hex(&h, R->run_key);
    char shard[64];
    snprintf(shard, sizeof shard, "%s shard %d/%d", R->run_key, R->shard_i, R->shard_n);
    mxb_sha256_init(&h);
    mxb_sha256_update(&h, shard, strlen(shard));
    mxb_sha256_hex(&h, R->journal_key);
}

void mxb_run_set_provenance(mxb_run_state *R, const char *started) {
    mxb_results *r = &R->res;
    char buf[4096], host[256] = "";
    gethostname(host, sizeof host - 1);
    mxb_results_set_attr(r, "mxb_version", MXB_VERSION);
    mxb_results_set_attr(r, "git_revision", MXB_GIT_REV);
    mxb_results_set_attr(r, "blas", mxb_blas_describe());
    mxb_results_set_attr(r, "config", R->cfg.text);
    mxb_results_set_attr(r, "config_path", R->cfg.path);
    mxb_results_set_attr(r, "run_key", R->run_key);
    char code[16384];
    code_text(R, code, sizeof code);
    mxb_results_set_attr(r, "code", code); /* what ran: mxb's build, each method's ABI, params, plugin file */
    mxb_results_set_attr(r, "code_key", R->code_key);
    mxb_results_set_attr(r, "host", host);
    snprintf(buf, sizeof buf, "%d", omp_get_max_threads());
    mxb_results_set_attr(r, "threads", buf);
    snprintf(buf, sizeof buf, "%d", R->in_flight); /* issue #13: how the threads were shared */
    mxb_results_set_attr(r, "images_in_flight", buf);
    /* issue 27: where the protocols' forwards ran */
    if (R->gpu >= 0) snprintf(buf, sizeof buf, "cuda:%d %s", R->gpu, R->gpu_name);
    else snprintf(buf, sizeof buf, "cpu");
    mxb_results_set_attr(r, "device", buf);
    mxb_results_set_attr(r, "started", started);
    mxb_run_iso_time(buf, sizeof buf);
    mxb_results_set_attr(r, "finished", buf);
    snprintf(buf, sizeof buf, "%d/%d", R->shard_i, R->shard_n);
    mxb_results_set_attr(r, "shard", buf);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)R->cfg.seed);
    mxb_results_set_attr(r, "seed", buf);
    mxb_results_set_attr(r, "variant", mxb_variant_name(R->cfg.variant));
    mxb_results_set_attr(r, "class", R->cfg.use_target ? "target" : "predicted");
    if (R->cfg.seg_no_minmax) /* only when set: min-max (absent) is every earlier file's */
        mxb_results_set_attr(r, "segmentation_normalise", "none");
    /* method ABI v2: each parameterised method's resolved params (defaults filled in) */
    for (int k = 0; k < R->cfg.nmethods; k++)
        if (R->method[k] && R->method[k]->abi_version >= 2 && R->method[k]->nparams > 0) {
            char name[128], text[2048];
            snprintf(name, sizeof name, "method_params_%s", R->cfg.methods[k].name);
            mxb_method_params_format(R->method[k], R->cfg.methods[k].params, text, sizeof text);
            mxb_results_set_attr(r, name, text);
        }
    /* the sanity checks' inputs and findings (mxb report repeats them, docs/PAPER.md) */
    mxb_results_set_attr(r, "num_classes", R->num_classes);
    if (R->warnings[0]) mxb_results_set_attr(r, "warnings", R->warnings);
    /* [model:NAME] label = TEXT: the name the tables and figures show (only when set:
     * earlier files and runs without one unchanged; mxb_results_model_label) */
    for (int m = 0; m < R->cfg.nmodels; m++)
        if (R->cfg.models[m].label[0]) {
            char name[128];
            snprintf(name, sizeof name, "model_label_%s", R->cfg.models[m].name);
            mxb_results_set_attr(r, name, R->cfg.models[m].label);
        }
    /* [method:ALIAS] base = NAME: which method each alias configures (its params above) */
    for (int k = 0; k < R->cfg.nmethods; k++)
        if (R->cfg.methods[k].base[0]) {
            char name[128];
            snprintf(name, sizeof name, "method_base_%s", R->cfg.methods[k].name);
            mxb_results_set_attr(r, name, R->cfg.methods[k].base);
        }
    for (int t = 0; t < MXB_NTESTS; t++)
        if (R->res.test[t].enabled) {
            char name[64];
            snprintf(name, sizeof name, "data_sha256_%s", mxb_test_names[t]);
            mxb_results_set_attr(r, name, R->data_sha[t]);
            snprintf(name, sizeof name, "selected_%s", mxb_test_names[t]); /* before sharding: merge checks it */
            snprintf(buf, sizeof buf, "%d", R->selected[t]);
            mxb_results_set_attr(r, name, buf);
        }
    size_t off = 0;
    buf[0] = 0;
    for (int m = 0; m < R->cfg.nmodels; m++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s=%s", m ? " " : "", R->cfg.models[m].name, R->model_sha[m]);
    mxb_results_set_attr(r, "models_sha256", buf);
    /* the input transform each model got (its weights file's, under the config's keys) */
    off = 0;
    buf[0] = 0;
    for (int t = 0; t < MXB_NTESTS; t++)
        for (int m = 0; R->res.test[t].enabled && m < R->cfg.nmodels && off < sizeof buf; m++) {
            char d[256];
            mxb_preprocess_describe(&R->pre[t][m], d, sizeof d);
            off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s %s: %s", off ? "; " : "", mxb_test_names[t],
                                    R->cfg.models[m].name, d);
        }
    mxb_results_set_attr(r, "transforms", buf);
    snprintf(buf, sizeof buf, "perturbation=%.3f segmentation=%.3f (seconds of work, summed over resumes)",
             R->seconds[0], R->seconds[1]);
    mxb_results_set_attr(r, "timings", buf);
}
