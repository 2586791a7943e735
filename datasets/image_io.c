/* JPEG (libjpeg-turbo) and PNG (libpng) decoding to 8-bit RGB, as PIL's
 * Image.open(...).convert('RGB') sees the file; PNG writing. Both libraries report
 * fatal errors through a callback that must not return: it longjmps back here. */
#include "datasets/datasets.h"
#include "io/io.h"

#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/* A file bigger than this is not an image we mean to read. */
#define MAX_FILE_BYTES ((size_t)1 << 30)

static int dims_ok(const char *name, size_t w, size_t h, size_t max_pixels, char *err, size_t errlen) {
    if (w == 0 || h == 0) {
        mxb_seterr(err, errlen, "%s: empty image (%zux%zu)", name, w, h);
        return 0;
    }
    if (w > 65535 || h > 65535 || w * h > max_pixels) {
        mxb_seterr(err, errlen, "%s: image of %zux%zu pixels is over the limit of %zu pixels",
                 name, w, h, max_pixels);
        return 0;
    }
    return 1;
}

size_t mxb_default_max_pixels(void) {
    /* read once: the limit is a property of the process, like the thread count */
    static size_t v;
    if (!v) {
        double x; /* checked by mxb_env_check when the command started */
        v = mxb_env_number("MXB_MAX_PIXELS", &x, NULL, 0) > 0 ? (size_t)x : MXB_MAX_PIXELS;
    }
    return v;
}

/* ---- JPEG ------------------------------------------------------------------- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
    int truncated;
} jpeg_errors;

static void jpeg_fail(j_common_ptr c) {
    jpeg_errors *e = (jpeg_errors *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jump, 1);
}

/* Warnings do not stop decoding (PIL ignores them), except the one that says the
 * data ended early: PIL refuses a truncated file, and so do we. */
static void jpeg_warn(j_common_ptr c, int level) {
    jpeg_errors *e = (jpeg_errors *)c->err;
    if (level < 0) {
        if (c->err->msg_code == JWRN_JPEG_EOF) e->truncated = 1;
        c->err->num_warnings++;
    }
}

static int decode_jpeg(const uint8_t *buf, size_t len, const char *name, size_t max_pixels,
                       uint8_t **out, int *oh, int *ow, char *err, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    jpeg_errors je;
    /* volatile: they change between setjmp and a possible longjmp */
    uint8_t *volatile rgb = NULL;
    uint8_t *volatile row = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jpeg_fail;
    je.pub.emit_message = jpeg_warn;
    je.truncated = 0;
    je.msg[0] = 0;
    if (setjmp(je.jump)) {
        mxb_seterr(err, errlen, "%s: bad JPEG: %s", name, je.msg);
        jpeg_destroy_decompress(&cinfo);
        free(rgb);
        free(row);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, buf, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    if (je.truncated) {
        mxb_seterr(err, errlen, "%s: truncated JPEG (the data ends inside the header)", name);
        goto fail;
    }
    if (cinfo.data_precision != 8) {
        mxb_seterr(err, errlen, "%s: %d-bit JPEG not supported", name, cinfo.data_precision);
        goto fail;
    }
    int nc = cinfo.num_components;
    if (nc != 1 && nc != 3 && nc != 4) {
        mxb_seterr(err, errlen, "%s: JPEG with %d components not supported", name, nc);
        goto fail;
    }
    if (!dims_ok(name, cinfo.image_width, cinfo.image_height, max_pixels, err, errlen)) goto fail;
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    if (nc == 4 && !cmyk) {
        mxb_seterr(err, errlen, "%s: 4-component JPEG that is not CMYK/YCCK", name);
        goto fail;
    }
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height, oc = cinfo.output_components;
    if ((cmyk && oc != 4) || (!cmyk && oc != 3)) {
        mxb_seterr(err, errlen, "%s: unexpected JPEG output with %d components", name, oc);
        goto fail;
    }
    rgb = mxb_try_alloc((size_t)w * h * 3);
    row = mxb_try_alloc((size_t)w * oc);
    if (!rgb || !row) {
        mxb_seterr(err, errlen, "%s: out of memory for a %dx%d image", name, w, h);
        goto fail;
    }
    while ((int)cinfo.output_scanline < h) {
        uint8_t *dst = rgb + (size_t)cinfo.output_scanline * w * 3;
        JSAMPROW rows[1] = {cmyk ? row : dst};
        if (jpeg_read_scanlines(&cinfo, rows, 1) != 1) {
            mxb_seterr(err, errlen, "%s: JPEG decoder stopped early", name);
            goto fail;
        }
        if (cmyk) {
            /* PIL reads CMYK JPEGs as Adobe-inverted ("CMYK;I"), then cmyk2rgb:
             * c' = 255 - c, nk = 255 - k', out = nk - c' * nk / 255 (rounded). */
            for (int x = 0; x < w; x++) {
                int c[3], nk = row[4 * x + 3]; /* 255 - (255 - k) */
                for (int i = 0; i < 3; i++) c[i] = 255 - row[4 * x + i];
                for (int i = 0; i < 3; i++) {
                    int t = c[i] * nk + 128;
                    int v = nk - (((t >> 8) + t) >> 8);
                    dst[3 * x + i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                }
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    if (je.truncated) {
        mxb_seterr(err, errlen, "%s: truncated JPEG (premature end of data)", name);
        goto fail;
    }
    jpeg_destroy_decompress(&cinfo);
    free(row);
    *out = rgb;
    *oh = h;
    *ow = w;
    return 0;
fail:
    jpeg_destroy_decompress(&cinfo);
    free(rgb);
    free(row);
    return -1;
}

/* ---- PNG -------------------------------------------------------------------- */

typedef struct {
    const uint8_t *buf;
    size_t len, at;
    char msg[200];
} png_source;

static void png_fail(png_structp png, png_const_charp msg) {
    png_source *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void png_read_mem(png_structp png, png_bytep data, png_size_t n) {
    png_source *s = png_get_io_ptr(png);
    if (n > s->len - s->at) png_error(png, "unexpected end of file (truncated PNG)");
    memcpy(data, s->buf + s->at, n);
    s->at += n;
}

static int decode_png(const uint8_t *buf, size_t len, const char *name, size_t max_pixels,
                      uint8_t **out, int *oh, int *ow, char *err, size_t errlen) {
    png_source src = {buf, len, 0, ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_fail, png_warn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    uint8_t *volatile rgb = NULL;
    png_bytep *volatile rows = NULL;
    if (!png || !info) {
        png_destroy_read_struct(&png, NULL, NULL);
        mxb_seterr(err, errlen, "%s: out of memory for the PNG decoder", name);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        mxb_seterr(err, errlen, "%s: bad PNG: %s", name, src.msg);
        png_destroy_read_struct(&png, &info, NULL);
        free(rgb);
        free(rows);
        return -1;
    }
    png_set_read_fn(png, &src, png_read_mem);
    /* libpng's own guards against absurd headers and chunk sizes */
    png_set_user_limits(png, 65535, 65535);
    png_set_chunk_malloc_max(png, (png_alloc_size_t)64 << 20);
    png_read_info(png, info);
    png_uint_32 w = 0, h = 0;
    int depth = 0, ctype = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    if (!dims_ok(name, w, h, max_pixels, err, errlen)) goto fail;
    /* A PNG bomb: a few hundred bytes that declare 8000 x 8000 pixels. The image data
     * is deflated, which packs at most 1032 bytes into one: a file smaller than the
     * raw rows (a filter byte + the packed pixels each) / 1032 cannot hold the image
     * it declares, and is refused before w * h * 3 bytes are allocated for it. */
    size_t raw = (size_t)h * (png_get_rowbytes(png, info) + 1);
    if (raw / MXB_DEFLATE_MAX_RATIO > len) {
        mxb_seterr(err, errlen, "%s: PNG declares %ux%u pixels but the file has only %zu bytes "
                 "(truncated, or a decompression bomb)", name, (unsigned)w, (unsigned)h, len);
        goto fail;
    }
    if (depth == 16) {
        mxb_seterr(err, errlen, "%s: 16-bit PNG not supported (convert it to 8 bits)", name);
        goto fail;
    }
    /* What convert('RGB') does: palette expanded (its transparency ignored),
     * grey replicated (1/2/4-bit scaled to 0..255), alpha dropped. Stripping is
     * asked for always: libpng's palette expansion turns a tRNS chunk into an
     * alpha channel, which must go too (a no-op where no alpha appears). */
    /* Palette images are read as indices and looked up here, as PIL does: an index
     * past the PLTE entries is grey (i, i, i) in PIL (its palette is padded with a
     * grey ramp), where libpng's expansion would give black or fail. */
    int paletted = ctype == PNG_COLOR_TYPE_PALETTE;
    uint8_t pal[256][3];
    if (paletted) {
        png_colorp plte = NULL;
        int nplte = 0;
        if (!png_get_PLTE(png, info, &plte, &nplte)) nplte = 0;
        for (int i = 0; i < 256; i++) {
            int in = i < nplte && plte;
            pal[i][0] = in ? plte[i].red : (uint8_t)i;
            pal[i][1] = in ? plte[i].green : (uint8_t)i;
            pal[i][2] = in ? plte[i].blue : (uint8_t)i;
        }
        png_set_packing(png); /* 1/2/4-bit indices to one byte each, unscaled */
    }
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    const size_t chans = paletted ? 1 : 3;
    if (png_get_rowbytes(png, info) != (size_t)w * chans || png_get_channels(png, info) != chans) {
        mxb_seterr(err, errlen, "%s: PNG does not convert to 8-bit RGB", name);
        goto fail;
    }
    rgb = mxb_try_alloc((size_t)w * h * 3);
    rows = mxb_try_alloc(h * sizeof *rows);
    if (!rgb || !rows) {
        mxb_seterr(err, errlen, "%s: out of memory for a %ux%u image", name, (unsigned)w, (unsigned)h);
        goto fail;
    }
    /* palette indices go in the last third of each row's RGB space, then expand
     * forwards in place (pixel x's index at 2w + x is read before it is overwritten) */
    for (png_uint_32 y = 0; y < h; y++) rows[y] = rgb + (size_t)y * w * 3 + (paletted ? 2 * (size_t)w : 0);
    png_read_image(png, rows);
    if (paletted)
        for (png_uint_32 y = 0; y < h; y++) {
            uint8_t *row = rgb + (size_t)y * w * 3;
            for (png_uint_32 x = 0; x < w; x++) {
                const uint8_t *c = pal[row[2 * (size_t)w + x]];
                row[3 * x] = c[0], row[3 * x + 1] = c[1], row[3 * x + 2] = c[2];
            }
        }
    /* Like PIL, whatever follows the image data (IEND, text) is not needed. */
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    *out = rgb;
    *oh = (int)h;
    *ow = (int)w;
    return 0;
fail:
    png_destroy_read_struct(&png, &info, NULL);
    free(rgb);
    free(rows);
    return -1;
}

int mxb_image_decode(const uint8_t *buf, size_t len, const char *name, size_t max_pixels,
                     uint8_t **rgb, int *h, int *w, char *err, size_t errlen) {
    *rgb = NULL;
    if (!max_pixels) max_pixels = mxb_default_max_pixels();
    if (len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF)
        return decode_jpeg(buf, len, name, max_pixels, rgb, h, w, err, errlen);
    if (len >= 8 && !png_sig_cmp(buf, 0, 8))
        return decode_png(buf, len, name, max_pixels, rgb, h, w, err, errlen);
    mxb_seterr(err, errlen, "%s: neither a JPEG nor a PNG file (%zu bytes)", name, len);
    return -1;
}

int mxb_image_read(const char *path, size_t max_pixels, uint8_t **rgb, int *h, int *w,
                   char *err, size_t errlen) {
    *rgb = NULL;
    mxb_input_note(path); /* no output may be written over it */
    if (mxb_input_check(path, "an image", 0, err, errlen)) return -1;
    FILE *f = fopen(path, "rb");
    if (!f) {
        mxb_seterr(err, errlen, "%s: cannot open", path);
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_FILE_BYTES) {
                mxb_seterr(err, errlen, "%s: file larger than %zu bytes", path, MAX_FILE_BYTES);
                free(buf);
                fclose(f);
                return -1;
            }
            cap = cap ? 2 * cap : 1 << 16;
            uint8_t *nb = mxb_try_realloc(buf, cap);
            if (!nb) {
                mxb_seterr(err, errlen, "%s: out of memory reading the file", path);
                free(buf);
                fclose(f);
                return -1;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        mxb_seterr(err, errlen, "%s: read error", path);
        free(buf);
        return -1;
    }
    int rc = mxb_image_decode(buf, len, path, max_pixels, rgb, h, w, err, errlen);
    free(buf);
    return rc;
}
