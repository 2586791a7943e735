/* Shared inside metrics/ only. */
#ifndef MXB_METRICS_INTERNAL_H
#define MXB_METRICS_INTERNAL_H

#include "io/io.h"

#include <stddef.h>
#include <stdint.h>

/* Indices of x[n] by descending value, equal values by ascending index, NaN first,
 * -0.0 equal to 0.0: a stable LSD radix sort on the float bits. Returns -1 when
 * memory runs out. */
int mxb_argsort_desc(const float *x, size_t n, int32_t *order);

#endif
