/* results/internal.h — shared by the files of results/ only (fields.c, store.c). */
#ifndef MXB_RESULTS_INTERNAL_H
#define MXB_RESULTS_INTERNAL_H

#include "results/store.h"

/* Frees every array of T (present or not: absent ones are NULL) and zeroes it. */
void mxb_results_free_test(mxb_res_test *T);
/* Copies the per-image fields of every model and method of row `from` of src's test
 * t into row `to` of dst's (same layout: mxb_results_merge checked it). */
void mxb_results_copy_cells(mxb_results *dst, const mxb_results *src, int t, int to, int from);

#endif
