/* RISE as its own code computes it (eclique/RISE explanations.py, Saliency.py; not
 * Captum): N random masks, s x s cells each on with probability p1, upsampled to
 * (s+1)·cell (cell = ceil(S/s)) by skimage resize(order=1, mode='reflect',
 * anti_aliasing=False) — bilinear with half-pixel centres and numpy-'reflect' edges
 * (d c b | a b c d) — and cropped at a random shift; the score is the softmax
 * probability of the explained class on m ⊙ x (the normalised image):
 *   sal = Σ_i p_i(cls) m_i / (N · p1).
 * One mask set per image, drawn from the image's seed (method.h) with the shared generator:
 * u01 draws 0 .. N·s·s-1 are the cells in C order, the next 2N each mask's row then
 * column shift (floor(u01·cell)). splitmix64's state after k draws is seed + k·γ, so a
 * mask's draws are reached directly and masks are made in chunks (6000 masks of
 * 224² would not fit the estimate). docs/METHODS-v2.md §3.5.5. */
#include "methods/pixel_common.h"

#include <math.h>

#define RISE_CHUNK 16

static const mxb_param_spec rise_params[] = {
    {"masks", MXB_PARAM_INT, 6000, 1, 1e7, NULL, "N: random masks"},
    {"cells", MXB_PARAM_INT, 8, 1, 4096, NULL, "s: cells per side of a mask's grid"},
    {"p", MXB_PARAM_REAL, 0.1, 1e-9, 1, NULL, "p1: probability that a cell is kept"},
    {"score", MXB_PARAM_CHOICE, 0, 0, 0, "softmax|logit", "what is weighted: the class probability (RISE) or logit"},
};

/* the k-th u01 draw of the stream seeded with seed (0-based) */
static double draw(uint64_t seed, uint64_t k) {
    mxb_rng r = mxb_rng_new(seed + k * 0x9E3779B97F4A7C15ull);
    return mxb_rng_u01(&r);
}

/* skimage's order-1 'reflect' resize along one axis from n to up samples: for each
 * output index its two source indices and the weight of the second */
static void axis_weights(int n, int up, int *i0, int *i1, double *f) {
    for (int o = 0; o < up; o++) {
        double c = (o + 0.5) * n / up - 0.5;
        if (n == 1) c = 0;
        else if (c < 0) c = -c; /* numpy 'reflect' (scipy 'mirror'): about the edge sample */
        else if (c > n - 1) c = 2.0 * (n - 1) - c;
        int lo = (int)floor(c);
        if (lo >= n - 1) lo = n > 1 ? n - 2 : 0;
        i0[o] = lo, i1[o] = n > 1 ? lo + 1 : lo, f[o] = n > 1 ? c - lo : 0;
    }
}

/* mask i [S, S] (double, as skimage computes it) */
static void rise_mask(uint64_t seed, int N, int s, double p1, int S, int cell, const int *i0, const int *i1,
                      const double *f, int i, float *grid, float *out) {
    for (int k = 0; k < s * s; k++) grid[k] = draw(seed, (uint64_t)i * s * s + k) < p1 ? 1.0f : 0.0f;
    const uint64_t shifts = (uint64_t)N * s * s + 2 * (uint64_t)i;
    const int dx = (int)(draw(seed, shifts) * cell), dy = (int)(draw(seed, shifts + 1) * cell);
    for (int y = 0; y < S; y++) {
        const int oy = y + dx;
        const float *r0 = grid + (size_t)i0[oy] * s, *r1 = grid + (size_t)i1[oy] * s;
        const double fy = f[oy];
        for (int x = 0; x < S; x++) {
            const int ox = x + dy;
            const double fx = f[ox];
            const double a = (1 - fx) * r0[i0[ox]] + fx * r0[i1[ox]], b = (1 - fx) * r1[i0[ox]] + fx * r1[i1[ox]];
            out[(size_t)y * S + x] = (float)((1 - fy) * a + fy * b);
        }
    }
}

static int rise_cost(const mxb_explain_input *g, const double *p, mxb_cost *out) {
    const int s = (int)p[1], cell = (g->img_size + s - 1) / s, up = (s + 1) * cell;
    const size_t npix = (size_t)g->img_size * g->img_size, nin = (size_t)g->in_chans * npix;
    *out = (mxb_cost){.traced_forwards = 1, .plain_forwards = p[0],
                      .scratch_bytes = RISE_CHUNK * (npix + nin + (size_t)g->num_classes) * sizeof(float) +
                                       npix * sizeof(double) + (size_t)s * s * sizeof(float) +
                                       (size_t)up * (2 * sizeof(int) + sizeof(double))};
    return 0;
}

static int rise_explain(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    const px_geom G = px_geometry(in);
    const int N = (int)in->param_values[0], s = (int)in->param_values[1], logit = (int)in->param_values[3] == 1;
    const double p1 = in->param_values[2];
    const int cell = (G.S + s - 1) / s, up = (s + 1) * cell, cls = in->explained_class;
    float *masks = px_scratch(in, RISE_CHUNK * G.npix * sizeof *masks, "rise", err, errlen);
    float *imgs = masks ? px_scratch(in, RISE_CHUNK * G.nin * sizeof *imgs, "rise", err, errlen) : NULL;
    float *logits = imgs ? px_scratch(in, RISE_CHUNK * (size_t)G.K * sizeof *logits, "rise", err, errlen) : NULL;
    double *acc = logits ? px_scratch(in, G.npix * sizeof *acc, "rise", err, errlen) : NULL;
    float *grid = acc ? px_scratch(in, (size_t)s * s * sizeof *grid, "rise", err, errlen) : NULL;
    int *i0 = grid ? px_scratch(in, (size_t)up * sizeof *i0, "rise", err, errlen) : NULL;
    int *i1 = i0 ? px_scratch(in, (size_t)up * sizeof *i1, "rise", err, errlen) : NULL;
    double *f = i1 ? px_scratch(in, (size_t)up * sizeof *f, "rise", err, errlen) : NULL;
    if (!f) return -1;
    axis_weights(s, up, i0, i1, f);
    memset(acc, 0, G.npix * sizeof *acc);
    for (int first = 0; first < N; first += RISE_CHUNK) {
        const int nb = N - first < RISE_CHUNK ? N - first : RISE_CHUNK;
        for (int b = 0; b < nb; b++) {
            float *m = masks + (size_t)b * G.npix, *im = imgs + (size_t)b * G.nin;
            rise_mask(in->seed, N, s, p1, G.S, cell, i0, i1, f, first + b, grid, m);
            for (int c = 0; c < G.C; c++)
                for (size_t j = 0; j < G.npix; j++) im[(size_t)c * G.npix + j] = m[j] * in->input[(size_t)c * G.npix + j];
        }
        if (in->model->forward_many(in->run, nb, imgs, logits)) {
            snprintf(err, errlen, "rise: the model's forwards failed");
            return -1;
        }
        for (int b = 0; b < nb; b++) {
            const float *lg = logits + (size_t)b * G.K;
            double score = lg[cls];
            if (!logit) { /* softmax, max-shifted */
                double mx = lg[0], z = 0;
                for (int k = 1; k < G.K; k++) mx = lg[k] > mx ? lg[k] : mx;
                for (int k = 0; k < G.K; k++) z += exp((double)lg[k] - mx);
                score = exp((double)lg[cls] - mx) / z;
            }
            const float sc = (float)score, *m = masks + (size_t)b * G.npix;
            for (size_t j = 0; j < G.npix; j++) acc[j] += (double)(sc * m[j]);
        }
    }
    for (size_t j = 0; j < G.npix; j++) map[j] = (float)(acc[j] / N / p1);
    return 0;
}

const mxb_method mxb_method_rise = {
    .abi_version = MXB_METHOD_ABI_VERSION,
    .name = "rise",
    .description = "RISE (eclique/RISE: random masks, softmax score), one mask set per image seed",
    .archs = MXB_METHOD_VIT | MXB_METHOD_VIM,
    .needs = MXB_NEEDS_MODEL,
    .class_specific = 1,
    .explain = rise_explain,
    .family = "perturbation",
    .map_kind = MXB_MAP_PIXELS,
    .params = rise_params,
    .nparams = 4,
    .cost = rise_cost,
};
