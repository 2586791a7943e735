/* results/internal.h — shared by the files of results/ only (fields.c, store.c). */
#ifndef MXB_RESULTS_INTERNAL_H
#define MXB_RESULTS_INTERNAL_H

#include "results/store.h"

/* Frees every array of T (present or not: absent ones are NULL) and zeroes it. */
void mxb_results_free_test(mxb_res_test *T);
/* Copies the per-image fields of every model and method of row `from` of src's test
 * t into row `to` of dst's (same layout: mxb_results_merge checked it). */
void mxb_results_copy_cells(mxb_results *dst, const mxb_results *src, int t, int to, int from);
/* results/validate.c: the structure of a file just read (a test, distinct non-empty
 * names, counts >= 0, hits 0/1, pointing -1/0/1, labels >= -1); 0, or -1 naming the
 * file and the dataset. */
int mxb_results_validate(const mxb_results *r, const char *path, char *err, size_t errlen);

#endif
