#include "metrics/internal.h"

#include <stdlib.h>
#include <string.h>

/* A key whose unsigned order is the descending order of the float: the usual
 * sign-flip trick, then inverted. NaN sorts before +inf (torch.topk takes NaN as
 * the largest value), and -0.0 is folded onto 0.0 so the two tie. */
static uint32_t desc_key(float v) {
    if (v != v) return 0;
    if (v == 0.0f) v = 0.0f;
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return ~u;
}

int mxb_argsort_desc(const float *x, size_t n, int32_t *order) {
    uint32_t *key = mxb_try_alloc((n ? n : 1) * sizeof *key);
    uint32_t *key2 = mxb_try_alloc((n ? n : 1) * sizeof *key2);
    int32_t *tmp = mxb_try_alloc((n ? n : 1) * sizeof *tmp);
    if (!key || !key2 || !tmp) {
        free(key); free(key2); free(tmp);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        key[i] = desc_key(x[i]);
        order[i] = (int32_t)i;
    }
    /* Four stable 8-bit passes, least significant first: ties keep index order. */
    uint32_t *ks = key, *kd = key2;
    int32_t *is = order, *id = tmp;
    for (int shift = 0; shift < 32; shift += 8) {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++) count[((ks[i] >> shift) & 255u) + 1]++;
        if (count[((ks[0] >> shift) & 255u) + 1] == n && n) continue; /* one bucket: nothing moves */
        for (int b = 0; b < 256; b++) count[b + 1] += count[b];
        for (size_t i = 0; i < n; i++) {
            size_t at = count[(ks[i] >> shift) & 255u]++;
            kd[at] = ks[i];
            id[at] = is[i];
        }
        uint32_t *kt = ks; ks = kd; kd = kt;
        int32_t *it = is; is = id; id = it;
    }
    if (is != order) memcpy(order, is, n * sizeof *order);
    free(key); free(key2); free(tmp);
    return 0;
}
