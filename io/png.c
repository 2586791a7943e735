/* The one PNG writer (libpng): synthetic data (datasets/synth.c) and relevance maps
 * (mxb explain --png) go through it, so both get the same argument order, the same
 * atomic write and the same messages. */
#include "io/io.h"

#include <png.h>
#include <stdio.h>

typedef struct {
    char msg[200];
} png_message;

static void png_fail(png_structp png, png_const_charp msg) {
    png_message *m = png_get_error_ptr(png);
    snprintf(m->msg, sizeof m->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

int mxb_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels,
                  char *err, size_t errlen) {
    if (height <= 0 || width <= 0 || (channels != 1 && channels != 3)) {
        mxb_seterr(err, errlen, "%s: cannot write a %dx%dx%d PNG (width x height x channels)", path,
                   width, height, channels);
        return -1;
    }
    mxb_outfile o;
    if (mxb_outfile_open(&o, path, err, errlen)) return -1;
    FILE *volatile f = o.f;
    png_message msg = {""};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &msg, png_fail, png_warn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, NULL);
        mxb_outfile_abort(&o);
        mxb_seterr(err, errlen, "%s: out of memory for the PNG encoder", path);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        mxb_outfile_abort(&o);
        mxb_seterr(err, errlen, "%s: PNG write failed: %s", path, msg.msg);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) png_write_row(png, pixels + (size_t)y * width * channels);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    /* maps and synthetic images are remade from their inputs: no fsync each */
    return mxb_outfile_commit(&o, 0, err, errlen);
}
