/* What identifies a run (the run key: configuration, weights, data lists) and what
 * a results file records about how it was made (results/SCHEMA.md, provenance). */
#include "harness/internal.h"

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

void mxb_run_keys(mxb_run_state *R) {
    mxb_sha256 h;
    mxb_sha256_init(&h);
    mxb_sha256_update(&h, R->cfg.text, strlen(R->cfg.text));
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
    mxb_results_set_attr(r, "host", host);
    snprintf(buf, sizeof buf, "%d", omp_get_max_threads());
    mxb_results_set_attr(r, "threads", buf);
    snprintf(buf, sizeof buf, "%d", R->in_flight); /* issue #13: how the threads were shared */
    mxb_results_set_attr(r, "images_in_flight", buf);
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
