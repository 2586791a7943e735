/* splitmix64: the floor's one generator (datasets' synthetic images and sample draws,
 * the engine's seeded random weights). Its own file so that tools/train_demo.py can
 * build the synthetic generator from datasets/synth.c and this file alone. */
#include "io/io.h"

uint64_t mxb_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t mxb_image_seed(uint64_t run_seed, const char *id) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64: offset basis, then xor and multiply */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) h = (h ^ *p) * 0x100000001b3ull;
    uint64_t state = run_seed ^ h;
    return mxb_splitmix64(&state);
}
