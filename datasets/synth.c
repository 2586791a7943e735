/* The built-in synthetic benchmark: one textured object on clutter, with its class
 * and exact mask. All geometry is integer (16.16 fixed point) and all randomness is
 * splitmix64, so a sample is the same bytes on every platform and compiler. */
#include "datasets/datasets.h"
#include "io/io.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define ONE 65536 /* 1.0 in 16.16 */

enum { DISC, SQUARE, TRIANGLE, CROSS, RING, NSHAPES };
enum { STRIPES, CHECKS };

static const char *class_names[MXB_SYNTH_CLASSES] = {
    "disc_stripes",  "disc_checks",  "square_stripes", "square_checks", "triangle_stripes",
    "triangle_checks", "cross_stripes", "cross_checks", "ring_stripes",   "ring_checks",
};

const char *mxb_synth_class_name(int label) {
    return label >= 0 && label < MXB_SYNTH_CLASSES ? class_names[label] : NULL;
}

/* The object and the clutter draw from the same colours. */
static const uint8_t palette[8][3] = {
    {220, 40, 40}, {40, 180, 60}, {50, 80, 220}, {230, 210, 40},
    {40, 200, 210}, {200, 60, 200}, {240, 240, 240}, {30, 30, 30},
};

/* round(cos(2 pi i / 256) * 65536), i = 0..64: a quarter wave */
static const int32_t cos_q16[65] = {
    65536, 65516, 65457, 65358, 65220, 65043, 64827, 64571, 64277, 63944, 63572, 63162, 62714,
    62228, 61705, 61145, 60547, 59914, 59244, 58538, 57798, 57022, 56212, 55368, 54491, 53581,
    52639, 51665, 50660, 49624, 48559, 47464, 46341, 45190, 44011, 42806, 41576, 40320, 39040,
    37736, 36410, 35062, 33692, 32303, 30893, 29466, 28020, 26558, 25080, 23586, 22078, 20557,
    19024, 17479, 15924, 14359, 12785, 11204, 9616, 8022, 6424, 4821, 3216, 1608, 0,
};

static int64_t icos(int a) {
    a &= 255;
    if (a <= 64) return cos_q16[a];
    if (a <= 128) return -cos_q16[128 - a];
    if (a <= 192) return -cos_q16[a - 128];
    return cos_q16[256 - a];
}
static int64_t isin(int a) { return icos(a - 64); }

/* floor(a / b) for b > 0 */
static int64_t floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

typedef struct {
    uint64_t state;
} rng;

static uint64_t next(rng *r) { return mxb_splitmix64(&r->state); }
/* uniform in [lo, hi] (the modulo bias of a 64-bit draw is immaterial here) */
static int64_t uniform(rng *r, int64_t lo, int64_t hi) { return lo + (int64_t)(next(r) % (uint64_t)(hi - lo + 1)); }

/* A rotated, textured shape in 16.16 coordinates. */
typedef struct {
    int shape, texture, angle;
    int64_t cx, cy, half;   /* centre and half-size */
    int64_t period;         /* half-period of the texture */
    int64_t hw, hh;         /* rectangles (clutter): half width / height */
    const uint8_t *on, *off;
} figure;

/* local coordinates of pixel (x, y)'s centre */
static void to_local(const figure *f, int x, int y, int64_t *u, int64_t *v) {
    int64_t dx = (int64_t)x * ONE + ONE / 2 - f->cx, dy = (int64_t)y * ONE + ONE / 2 - f->cy;
    int64_t c = icos(f->angle), s = isin(f->angle);
    *u = floordiv(dx * c + dy * s, ONE);
    *v = floordiv(-dx * s + dy * c, ONE);
}

static int inside(const figure *f, int64_t u, int64_t v) {
    int64_t a = f->half, au = u < 0 ? -u : u, av = v < 0 ? -v : v, r2 = u * u + v * v;
    switch (f->shape) {
    case DISC: return r2 <= a * a;
    case SQUARE: return au <= a * 85 / 100 && av <= a * 85 / 100;
    case TRIANGLE: {
        /* equilateral, circumradius a: three half-planes with normals at 90, 210, 330
         * degrees, each at distance a / 2 from the centre; sqrt(3)/2 = 56756 / 65536 */
        int64_t h = a / 2;
        return v <= h && floordiv(-56756 * u - ONE / 2 * v, ONE) <= h &&
               floordiv(56756 * u - ONE / 2 * v, ONE) <= h;
    }
    case CROSS: return (au <= a && av <= a / 3) || (av <= a && au <= a / 3);
    case RING: return r2 <= a * a && r2 >= (a * 55 / 100) * (a * 55 / 100);
    default: return au <= f->hw && av <= f->hh; /* clutter rectangle */
    }
}

static const uint8_t *texel(const figure *f, int64_t u, int64_t v) {
    int64_t i = floordiv(u, f->period), j = floordiv(v, f->period);
    int on = f->texture == STRIPES ? (int)(i & 1) : (int)((i + j) & 1);
    return on ? f->on : f->off;
}

/* Draws f; marks its pixels in mask when mask is not NULL. */
static void draw(const figure *f, int size, uint8_t *rgb, uint8_t *mask) {
    int64_t reach = f->half > f->hw ? f->half : f->hw;
    if (f->hh > reach) reach = f->hh;
    reach = reach * 3 / 2 / ONE + 2; /* a bounding box for every rotation */
    int x0 = (int)(f->cx / ONE - reach), x1 = (int)(f->cx / ONE + reach);
    int y0 = (int)(f->cy / ONE - reach), y1 = (int)(f->cy / ONE + reach);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > size - 1) x1 = size - 1;
    if (y1 > size - 1) y1 = size - 1;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            int64_t u, v;
            to_local(f, x, y, &u, &v);
            if (!inside(f, u, v)) continue;
            memcpy(rgb + ((size_t)y * size + x) * 3, texel(f, u, v), 3);
            if (mask) mask[(size_t)y * size + x] = 1;
        }
}

static int pick_other(rng *r, int not) {
    int c;
    do c = (int)(next(r) % 8);
    while (c == not);
    return c;
}

int mxb_synth_sample(uint64_t seed, int64_t index, int size, uint8_t *rgb, uint8_t *mask,
                     int *label, char *err, size_t errlen) {
    if (size < 16 || size > 4096 || index < 0) {
        mxb_seterr(err, errlen, "synthetic: size %d (want 16..4096) or index %lld invalid", size, (long long)index);
        return -1;
    }
    /* the class: each block of ten indices is a seeded permutation of the classes */
    rng pr = {seed ^ 0x5851f42d4c957f2dull};
    pr.state += (uint64_t)(index / MXB_SYNTH_CLASSES) * 0xd1342543de82ef95ull;
    int perm[MXB_SYNTH_CLASSES];
    for (int i = 0; i < MXB_SYNTH_CLASSES; i++) perm[i] = i;
    for (int i = MXB_SYNTH_CLASSES - 1; i > 0; i--) {
        int j = (int)(next(&pr) % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int cls = perm[index % MXB_SYNTH_CLASSES];
    *label = cls;

    rng r = {seed};
    r.state ^= ((uint64_t)index + 1) * 0x9e3779b97f4a7c15ull;
    next(&r);
    int64_t unit = (int64_t)size * ONE / 64; /* one pixel of a 64x64 image */

    /* background: a diagonal blend of two palette colours, darkened, plus noise */
    const uint8_t *ca = palette[next(&r) % 8], *cb = palette[next(&r) % 8];
    int dir = (int)(next(&r) % 4);
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            int t = dir == 0 ? x : dir == 1 ? y : dir == 2 ? (x + y) / 2 : (size - 1 - x + y) / 2;
            int noise = (int)(next(&r) % 25) - 12;
            for (int c = 0; c < 3; c++) {
                int v = (ca[c] * (size - 1 - t) + cb[c] * t) / (size - 1) * 3 / 5 + 40 + noise;
                rgb[((size_t)y * size + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    memset(mask, 0, (size_t)size * size);

    /* clutter: textured patches, strokes and dots in every colour and both
     * textures, all far smaller than any object */
    int nclutter = (int)uniform(&r, 8, 14) * size / 64 * size / 64 + 2;
    for (int k = 0; k < nclutter; k++) {
        figure f = {0};
        int kind = (int)(next(&r) % 3);
        f.cx = uniform(&r, 0, (int64_t)size * ONE - 1);
        f.cy = uniform(&r, 0, (int64_t)size * ONE - 1);
        f.angle = (int)(next(&r) % 256);
        int c1 = (int)(next(&r) % 8), c2 = pick_other(&r, c1);
        f.on = palette[c1];
        f.off = palette[c2];
        f.shape = NSHAPES; /* a rectangle */
        f.texture = (int)(next(&r) % 2);
        f.period = unit * uniform(&r, 2000, 3500) / 1000;
        if (kind == 0) { /* textured patch, up to 8 px */
            f.hw = unit * uniform(&r, 1500, 4000) / 1000;
            f.hh = unit * uniform(&r, 1500, 4000) / 1000;
        } else if (kind == 1) { /* a stroke: long, 1-2 px thick, one colour */
            f.hw = unit * uniform(&r, 3000, 10000) / 1000;
            f.hh = unit * uniform(&r, 500, 1000) / 1000;
            f.off = f.on;
        } else { /* a dot, up to 3 px across */
            f.shape = DISC;
            f.half = unit * uniform(&r, 700, 1500) / 1000;
            f.off = f.on;
        }
        draw(&f, size, rgb, NULL);
    }

    /* the object: 35-60 % of the side, anywhere it fits, any rotation */
    figure o = {0};
    o.shape = cls / 2;
    o.texture = cls % 2;
    o.half = (int64_t)size * ONE * uniform(&r, 350, 600) / 2000;
    o.angle = (int)(next(&r) % 256);
    o.cx = uniform(&r, o.half, (int64_t)size * ONE - o.half);
    o.cy = uniform(&r, o.half, (int64_t)size * ONE - o.half);
    o.period = unit * uniform(&r, 2000, 3500) / 1000;
    int c1 = (int)(next(&r) % 8), c2 = pick_other(&r, c1);
    o.on = palette[c1];
    o.off = palette[c2];
    draw(&o, size, rgb, mask);
    return 0;
}

#ifndef MXB_SYNTH_SAMPLE_ONLY
/* mkdir -p: a fresh checkout has no runs/ folder yet */
static int make_dir(const char *path, char *err, size_t errlen) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) && errno != EEXIST) {
            mxb_seterr(err, errlen, "%s: cannot create folder %s: %s", path, buf, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    if (mkdir(path, 0777) == 0 || errno == EEXIST) return 0;
    mxb_seterr(err, errlen, "%s: cannot create folder: %s", path, strerror(errno));
    return -1;
}

/* The flat reader lists every image file of dir/images and wants a label for each:
 * an image left there by an earlier, larger run (or anything else) would make the
 * folder unreadable, so it is refused before anything is written. */
static int check_images_dir(const char *path, int n, char *err, size_t errlen) {
    DIR *dp = opendir(path);
    if (!dp) {
        mxb_seterr(err, errlen, "%s: cannot open folder: %s", path, strerror(errno));
        return -1;
    }
    struct dirent *de;
    char first[256] = ""; /* the smallest offending name, so the message does not depend on readdir's order */
    while ((de = readdir(dp))) {
        const char *name = de->d_name, *dot = strrchr(name, '.');
        if (!dot || (strcasecmp(dot, ".png") && strcasecmp(dot, ".jpg") && strcasecmp(dot, ".jpeg")))
            continue;
        /* synth_NNNNNN.png with NNNNNN < n is about to be overwritten */
        int idx = 0, ours = strlen(name) == strlen("synth_000000.png") && !strncmp(name, "synth_", 6) &&
                            !strcmp(name + 12, ".png");
        for (int i = 6; i < 12 && ours; i++) {
            ours = name[i] >= '0' && name[i] <= '9';
            idx = 10 * idx + (name[i] - '0');
        }
        if (ours && idx < n) continue;
        if (!first[0] || strcmp(name, first) < 0) snprintf(first, sizeof first, "%s", name);
    }
    closedir(dp);
    if (!first[0]) return 0;
    mxb_seterr(err, errlen, "%s: holds %s, which is not part of a %d-sample set (an earlier run?): "
             "remove it or choose an empty folder", path, first, n);
    return -1;
}

int mxb_synth_write(const char *dir, int n, uint64_t seed, int size, char *err, size_t errlen) {
    return mxb_synth_write_progress(dir, n, seed, size, NULL, NULL, err, errlen);
}

int mxb_synth_write_progress(const char *dir, int n, uint64_t seed, int size,
                             void (*progress)(int done, int n, void *ctx), void *ctx, char *err,
                             size_t errlen) {
    if (n < 0 || n > 999999 || size < 16 || size > 4096) {
        mxb_seterr(err, errlen, "synthetic: bad count %d (want 0..999999) or size %d (want 16..4096)", n, size);
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/images", dir);
    if (make_dir(dir, err, errlen) || make_dir(path, err, errlen) || check_images_dir(path, n, err, errlen))
        return -1;
    snprintf(path, sizeof path, "%s/classes.txt", dir);
    mxb_outfile cf, lf;
    if (mxb_outfile_open(&cf, path, err, errlen)) return -1;
    for (int c = 0; c < MXB_SYNTH_CLASSES; c++) fprintf(cf.f, "%s\n", class_names[c]);
    if (mxb_outfile_commit(&cf, 0, err, errlen)) return -1;
    snprintf(path, sizeof path, "%s/labels.txt", dir);
    if (mxb_outfile_open(&lf, path, err, errlen)) return -1;
    FILE *labels = lf.f;
    snprintf(path, sizeof path, "%s/gtsegs_synth.mat", dir);
    mxb_gtsegs_writer *w = NULL;
    uint8_t *rgb = mxb_try_alloc((size_t)size * size * 3), *mask = mxb_try_alloc((size_t)size * size);
    int rc = -1;
    if (!rgb || !mask) {
        mxb_seterr(err, errlen, "synthetic: out of memory");
        goto done;
    }
    if (mxb_gtsegs_create(path, &w, err, errlen)) goto done;
    for (int i = 0; i < n; i++) {
        int label;
        if (mxb_synth_sample(seed, i, size, rgb, mask, &label, err, errlen)) goto done;
        char name[32];
        snprintf(name, sizeof name, "synth_%06d.png", i);
        snprintf(path, sizeof path, "%s/images/%s", dir, name);
        if (mxb_png_write(path, rgb, size, size, 3, err, errlen)) goto done;
        if (mxb_gtsegs_append(w, rgb, mask, size, size, err, errlen)) goto done;
        fprintf(labels, "%s %d\n", name, label);
        if (progress) progress(i + 1, n, ctx);
    }
    rc = 0;
done:
    if (w) {
        char err2[512];
        if (mxb_gtsegs_close(w, err2, sizeof err2) && rc == 0) {
            mxb_seterr(err, errlen, "%s", err2);
            rc = -1;
        }
    }
    if (rc) mxb_outfile_abort(&lf);
    else if (mxb_outfile_commit(&lf, 0, err, errlen)) rc = -1;
    free(rgb);
    free(mask);
    return rc;
}
#endif /* MXB_SYNTH_SAMPLE_ONLY */
