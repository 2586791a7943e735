/* Results files (results/store.c, results/h5io.c) as `mxb report`, `compare` and
 * `merge` read them, structure-aware: a valid results file of a tiny two-model,
 * two-method run with both tests (templates/results.h5) is mutated object by object
 * and attribute by attribute (fuzz_h5mut.h: wrong counts and shapes, unsorted or
 * out-of-range indices, huge declared arrays, odd names, missing provenance, wrong
 * schema or version) and read with mxb_results_read; an accepted file then goes
 * through what the commands do with it: summaries, the metric list, the md/json
 * reports, and a merge of the file with itself (refused: the same shard twice). */
#include "results/results.h"
#include "fuzz_h5mut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static fz_template *tpl;
    static FILE *devnull;
    if (!tpl) {
        tpl = fz_template_load("results.h5");
        devnull = fopen("/dev/null", "w");
    }
    const char *path = fz_path("results.h5");
    fz_h5_build(tpl, data, size, path);
    mxb_results r;
    char err[1024] = "";
    if (mxb_results_read(path, &r, err, sizeof err) == 0) {
        mxb_metric *m = NULL;
        int n = mxb_results_metrics(&r, &m);
        if (n < 0) abort();
        free(m);
        mxb_report_print(&r, devnull, "md");
        mxb_report_print(&r, devnull, "json");
        mxb_report_curves(&r, devnull);
        mxb_results *two[2] = {&r, &r}, out;
        if (mxb_results_merge(two, 2, &out, err, sizeof err) == 0) mxb_results_free(&out);
        mxb_results_free(&r);
    } else {
        fz_check_err(err);
    }
    fz_h5_no_open_ids();
    return 0;
}
