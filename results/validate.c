/* A results file's structure, checked when it is read (issue 23, class 11): mxb report
 * accepted files with no test group, negative counts or one model named twice, and
 * printed tables from them. One line naming the file and the dataset. */
#include "results/results.h"
#include "results/internal.h"

#include "io/io.h"

#include <string.h>

static const char *const test_names[MXB_NTESTS] = {"perturbation", "segmentation"};

static int names_ok(const char *path, const char *what, const char (*names)[64], int n, char *err, size_t errlen) {
    for (int i = 0; i < n; i++) {
        if (!names[i][0]) return mxb_seterr(err, errlen, "%s: /%s: name %d is empty", path, what, i), -1;
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j]))
                return mxb_seterr(err, errlen, "%s: /%s: '%s' named twice", path, what, names[i]), -1;
    }
    return 0;
}

int mxb_results_validate(const mxb_results *r, const char *path, char *err, size_t errlen) {
    if (!r->test[0].enabled && !r->test[1].enabled)
        return mxb_seterr(err, errlen, "%s: holds no test (neither /perturbation nor /segmentation)", path), -1;
    if (names_ok(path, "models", r->models, r->nmodels, err, errlen) ||
        names_ok(path, "methods", r->methods, r->nmethods, err, errlen))
        return -1;
    for (int t = 0; t < MXB_NTESTS; t++) {
        const mxb_res_test *T = &r->test[t];
        for (int i = 0; T->enabled && i < T->n; i++)
            if (T->label[i] < -1)
                return mxb_seterr(err, errlen, "%s: /%s/label: %d at image %d (a class index, or -1: none)", path,
                                  test_names[t], T->label[i], i), -1;
        for (int m = 0; T->enabled && m < r->nmodels; m++)
            for (int k = 0; k < r->nmethods; k++) {
                const mxb_res_cell *c = &T->cell[m][k];
                if (r->skipped[m][k]) continue;
                for (int q = 0; q < 2; q++)
                    for (int i = 0; c->hits[q] && i < T->n * MXB_RES_STEPS; i++)
                        if (c->hits[q][i] != 0 && c->hits[q][i] != 1)
                            return mxb_seterr(err, errlen, "%s: /%s/%s/%s/hits: %d at image %d (want 0 or 1)", path,
                                              test_names[t], r->models[m], r->methods[k], c->hits[q][i],
                                              i / MXB_RES_STEPS), -1;
                for (int i = 0; c->seg_counts && i < T->n * MXB_SEG_COUNTS; i++)
                    if (c->seg_counts[i] < 0)
                        return mxb_seterr(err, errlen, "%s: /%s/%s/%s/counts: negative count %d at image %d", path,
                                          test_names[t], r->models[m], r->methods[k], c->seg_counts[i],
                                          i / MXB_SEG_COUNTS), -1;
                for (int i = 0; c->pointing && i < T->n; i++)
                    if (c->pointing[i] < -1 || c->pointing[i] > 1)
                        return mxb_seterr(err, errlen, "%s: /%s/%s/%s/pointing: %d at image %d (want 1, 0 or -1)",
                                          path, test_names[t], r->models[m], r->methods[k], c->pointing[i], i), -1;
            }
    }
    return 0;
}
