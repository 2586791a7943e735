/* Hardening: regression tests for what the fuzzers of tests/fuzz found, and the
 * resource bounds (sizes read from files are checked against what the file can hold
 * before anything is allocated for them). Files are made here with the HDF5 API from
 * the fuzzers' small valid templates (tests/fuzz/templates). */
#include "mxb_test.h"
#include "datasets/datasets.h"
#include "engine/engine.h"
#include "methods/method.h"
#include "results/results.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static const char *scratch(const char *name) {
    const char *dir = mxb_test_path("%s/hardening", mxb_test_env("MXB_TESTDATA"));
    mkdir(dir, 0755);
    return mxb_test_path("%s/%s", dir, name);
}

/* A copy of a template, opened for writing. */
static hid_t copy_template(const char *tpl, const char *name) {
    const char *src = mxb_test_path("%s/tests/fuzz/templates/%s", mxb_test_env("MXB_SOURCE_DIR"), tpl);
    const char *dst = scratch(name);
    CU_ASSERT_EQUAL(mxb_test_system("cp '%s' '%s'", src, dst), 0);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return H5Fopen(dst, H5F_ACC_RDWR, H5P_DEFAULT);
}

static int one_line(const char *err) { return err[0] && !strchr(err, '\n'); }

static void expect_weights_error(const char *name, const char *needle) {
    mxb_model *m = NULL;
    char err[1024] = "";
    CU_ASSERT_EQUAL(mxb_model_load(scratch(name), &m, err, sizeof err), -1);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT(one_line(err));
    if (!strstr(err, needle)) fprintf(stderr, "\n  want '%s' in: %s\n", needle, err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
}

static void set_int_attr(hid_t f, const char *name, int v) {
    H5Adelete(f, name);
    hid_t sp = H5Screate(H5S_SCALAR), a = H5Acreate2(f, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT, &v);
    H5Aclose(a);
    H5Sclose(sp);
}

/* fuzz_weights: 'arch' as an array of two strings was read into one pointer (a stack
 * overflow in attr_string); now it is an attribute that is not one string. */
static void test_weights_string_array_attr(void) {
    hid_t f = copy_template("weights_vit.h5", "arch_array.h5");
    CU_ASSERT_FATAL(f >= 0);
    H5Adelete(f, "arch");
    hsize_t two = 2;
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t sp = H5Screate_simple(1, &two, NULL), a = H5Acreate2(f, "arch", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    const char *v[2] = {"vit", "vim"};
    H5Awrite(a, t, v);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    H5Fclose(f);
    expect_weights_error("arch_array.h5", "missing root attribute 'arch'");
}

/* fuzz_weights: a key named with a newline made a two-line message */
static void test_weights_message_one_line(void) {
    hid_t f = copy_template("weights_vit.h5", "newline_key.h5");
    CU_ASSERT_FATAL(f >= 0);
    hsize_t one = 1;
    hid_t sp = H5Screate_simple(1, &one, NULL);
    hid_t d = H5Dcreate2(f, "evil\nkey", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    float z = 0;
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, &z);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    expect_weights_error("newline_key.h5", "unexpected key 'evil?key'");
}

/* A few attributes in a 20 KB file declare a DeiT-B-sized model: refused before the
 * 340 MB of parameters are allocated. */
static void test_weights_declared_too_big(void) {
    hid_t f = copy_template("weights_vit.h5", "too_big.h5");
    CU_ASSERT_FATAL(f >= 0);
    set_int_attr(f, "embed_dim", 768);
    set_int_attr(f, "depth", 12);
    set_int_attr(f, "num_heads", 12);
    set_int_attr(f, "mlp_hidden", 3072);
    set_int_attr(f, "img_size", 224);
    set_int_attr(f, "patch_size", 16);
    set_int_attr(f, "num_classes", 1000);
    H5Fclose(f);
    expect_weights_error("too_big.h5", "declares a vit model of 330 MiB of parameters but the file has only");
    /* and the estimate that decision rests on is what mxb_model_new allocates */
    mxb_config c = mxb_config_preset("deit-t");
    size_t mb = 0, keep = 0, plain = 0;
    CU_ASSERT_EQUAL_FATAL(mxb_config_bytes(&c, &mb, &keep, &plain), 0);
    mxb_model *m = NULL;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(mxb_model_new(&c, &m, err, sizeof err), 0);
    CU_ASSERT(mb >= mxb_model_param_count(m) * sizeof(float));
    CU_ASSERT(mb <= mxb_model_param_count(m) * sizeof(float) + 16 * 4 * (size_t)mxb_model_num_params(m));
    mxb_ctx *ck = mxb_ctx_new(m, MXB_TRACE_KEEP), *cp = mxb_ctx_new(m, MXB_TRACE_NONE);
    CU_ASSERT_EQUAL(keep, mxb_ctx_bytes(ck));
    CU_ASSERT_EQUAL(plain, mxb_ctx_bytes(cp));
    CU_ASSERT(keep > plain);
    mxb_ctx_free(ck);
    mxb_ctx_free(cp);
    mxb_model_free(m);
}

/* A tensor created but never written read back as zeros: a model that loads and
 * predicts nonsense. Now an error naming the key. */
static void test_weights_unwritten_tensor(void) {
    hid_t f = copy_template("weights_vit.h5", "unwritten.h5");
    CU_ASSERT_FATAL(f >= 0);
    hid_t d = H5Dopen2(f, "head.bias", H5P_DEFAULT), sp = H5Dget_space(d);
    H5Dclose(d);
    H5Ldelete(f, "head.bias", H5P_DEFAULT);
    d = H5Dcreate2(f, "head.bias", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    expect_weights_error("unwritten.h5", "key 'head.bias' holds no data (declared but never written)");
}

static void expect_results_error(const char *name, const char *needle) {
    mxb_results r;
    char err[1024] = "";
    CU_ASSERT_EQUAL(mxb_results_read(scratch(name), &r, err, sizeof err), -1);
    CU_ASSERT(one_line(err));
    if (!strstr(err, needle)) fprintf(stderr, "\n  want '%s' in: %s\n", needle, err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
}

static void write_strings(hid_t f, const char *name, const char *const *v, hsize_t n) {
    H5Ldelete(f, name, H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate_simple(1, &n, NULL), d = H5Dcreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
}

/* fuzz_results: a model name with a newline passed as a name and broke messages */
static void test_results_bad_names(void) {
    mxb_results r;
    char err[512];
    CU_ASSERT_EQUAL_FATAL(mxb_results_read(mxb_test_path("%s/tests/fuzz/templates/results.h5",
                                                         mxb_test_env("MXB_SOURCE_DIR")), &r, err, sizeof err), 0);
    mxb_results_free(&r);
    hid_t f = copy_template("results.h5", "newline_model.h5");
    CU_ASSERT_FATAL(f >= 0);
    const char *names[2] = {"deit", "x\ny"};
    write_strings(f, "/models", names, 2);
    H5Fclose(f);
    expect_results_error("newline_model.h5", "/models has a bad name 'x?y'");
}

/* /perturbation/index declared with 2^30 entries and never written, in a small file:
 * refused before 4 GB (and every per-image array of every model and method) are
 * allocated for it. */
static void test_results_declared_too_big(void) {
    hid_t f = copy_template("results.h5", "huge_index.h5");
    CU_ASSERT_FATAL(f >= 0);
    H5Ldelete(f, "/perturbation/index", H5P_DEFAULT);
    hsize_t n = (hsize_t)1 << 30;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, "/perturbation/index", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    expect_results_error("huge_index.h5", "dataset '/perturbation/index' holds no data");
    /* written, but more images than the file's other arrays could describe */
    f = copy_template("results.h5", "many_images.h5");
    CU_ASSERT_FATAL(f >= 0);
    H5Ldelete(f, "/perturbation/index", H5P_DEFAULT);
    n = 3000000; /* zeros: 12 MB that deflate to a few KB, and would need 3 GB of arrays */
    int32_t *idx = calloc(n, sizeof *idx);
    hsize_t chunk = 65536;
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    H5Pset_deflate(dcpl, 9);
    sp = H5Screate_simple(1, &n, NULL);
    d = H5Dcreate2(f, "/perturbation/index", H5T_STD_I32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, idx);
    H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(dcpl);
    H5Fclose(f);
    free(idx);
    expect_results_error("many_images.h5", "/perturbation/index declares 3000000 images, more than the file can hold");
}

/* fuzz_results: input_size = NaN passed the range check (NaN compares false) and was
 * converted to int: undefined behaviour */
static void test_results_nan_input_size(void) {
    hid_t f = copy_template("results.h5", "nan_size.h5");
    CU_ASSERT_FATAL(f >= 0);
    hid_t g = H5Oopen(f, "/perturbation", H5P_DEFAULT);
    H5Adelete(g, "input_size");
    hid_t sp = H5Screate(H5S_SCALAR), a = H5Acreate2(g, "input_size", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    double nan = NAN;
    H5Awrite(a, H5T_NATIVE_DOUBLE, &nan);
    H5Aclose(a);
    H5Sclose(sp);
    H5Oclose(g);
    H5Fclose(f);
    expect_results_error("nan_size.h5", "/perturbation input_size nan is not an integer in [1, 8192]");
}

/* gtsegs: an image declared [3, 8000, 8000] with no data behind it */
static void test_gtsegs_declared_too_big(void) {
    hid_t f = copy_template("gtsegs.mat", "huge_image.mat");
    CU_ASSERT_FATAL(f >= 0);
    /* the first image the template's /value/img points to */
    hid_t d = H5Dopen2(f, "/value/img", H5P_DEFAULT);
    hobj_ref_t refs[2];
    H5Dread(d, H5T_STD_REF_OBJ, H5S_ALL, H5S_ALL, H5P_DEFAULT, refs);
    H5Dclose(d);
    char name[256];
    H5Rget_name(f, H5R_OBJECT, &refs[0], name, sizeof name);
    H5Ldelete(f, name, H5P_DEFAULT);
    hsize_t dims[3] = {3, 8000, 8000};
    hid_t sp = H5Screate_simple(3, dims, NULL);
    d = H5Dcreate2(f, name, H5T_STD_U8LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    mxb_dataset *ds = NULL;
    char err[1024] = "";
    CU_ASSERT_EQUAL_FATAL(mxb_segmentation_open(scratch("huge_image.mat"), &ds, err, sizeof err), 0);
    mxb_sample s = {0};
    CU_ASSERT_EQUAL(mxb_dataset_get(ds, 0, &s, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/value/img[0]: holds no data (declared but never written)"));
    CU_ASSERT(one_line(err));
    mxb_sample_free(&s);
    /* the second image is untouched and still reads */
    CU_ASSERT_EQUAL(mxb_dataset_get(ds, 1, &s, err, sizeof err), 0);
    mxb_sample_free(&s);
    mxb_dataset_close(ds);
}

static void be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static size_t chunk(uint8_t *out, const char *type, const uint8_t *data, uint32_t n) {
    be32(out, n);
    memcpy(out + 4, type, 4);
    if (n) memcpy(out + 8, data, n);
    be32(out + 8 + n, (uint32_t)crc32(crc32(0, (const uint8_t *)type, 4), data, n));
    return 12 + n;
}

/* A PNG bomb: 100 bytes declaring 8000 x 8000 RGB (under the pixel limit) */
static void test_png_bomb(void) {
    uint8_t png[256] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, ihdr[13] = {0};
    be32(ihdr, 8000);
    be32(ihdr + 4, 8000);
    ihdr[8] = 8, ihdr[9] = 2; /* 8-bit RGB */
    uint8_t z[64];
    uLongf zn = sizeof z;
    uint8_t row[4] = {0};
    compress(z, &zn, row, sizeof row);
    size_t n = 8;
    n += chunk(png + n, "IHDR", ihdr, 13);
    n += chunk(png + n, "IDAT", z, (uint32_t)zn);
    n += chunk(png + n, "IEND", NULL, 0);
    uint8_t *rgb = NULL;
    int h, w;
    char err[512] = "";
    CU_ASSERT_EQUAL(mxb_image_decode(png, n, "bomb.png", 0, &rgb, &h, &w, err, sizeof err), -1);
    CU_ASSERT_PTR_NULL(rgb);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bomb.png: PNG declares 8000x8000 pixels but the file has only"));
    /* the same header over the pixel limit is refused by the limit */
    CU_ASSERT_EQUAL(mxb_image_decode(png, n, "bomb.png", 1000, &rgb, &h, &w, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "over the limit of 1000 pixels"));
}

/* A palette PNG with indices past its 2-entry PLTE, bit depths 8 and 4: decoded as
 * PIL 9.4 decodes it (Image.open(...).convert('RGB')), which gives (i, i, i) for an
 * index i the palette lacks. Golden pixels from PIL, not from mxb:
 *   depth 8, indices [0, 1, 2, 200] -> (10,20,30) (40,50,60) (2,2,2) (200,200,200)
 *   depth 4, indices [1, 15, 0, 3]  -> (40,50,60) (15,15,15) (10,20,30) (3,3,3) */
static void test_png_palette_out_of_range(void) {
    static const struct {
        int depth;
        uint8_t raw[4];
        uint8_t want[12];
    } cases[] = {
        {8, {0, 0, 1, 2}, {10, 20, 30, 40, 50, 60, 2, 2, 2, 200, 200, 200}},
        {4, {0, 0x1f, 0x03, 0}, {40, 50, 60, 15, 15, 15, 10, 20, 30, 3, 3, 3}},
    };
    for (int c = 0; c < 2; c++) {
        uint8_t png[256] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, ihdr[13] = {0};
        be32(ihdr, 4);
        be32(ihdr + 4, 1);
        ihdr[8] = (uint8_t)cases[c].depth, ihdr[9] = 3; /* palette */
        const uint8_t plte[6] = {10, 20, 30, 40, 50, 60};
        uint8_t row[5] = {0}; /* filter byte, then the indices */
        if (cases[c].depth == 8) {
            row[1] = 0, row[2] = 1, row[3] = 2, row[4] = 200;
        } else {
            row[1] = 0x1f, row[2] = 0x03; /* 1, 15 | 0, 3 */
        }
        uint8_t z[64];
        uLongf zn = sizeof z;
        compress(z, &zn, row, cases[c].depth == 8 ? 5 : 3);
        size_t n = 8;
        n += chunk(png + n, "IHDR", ihdr, 13);
        n += chunk(png + n, "PLTE", plte, 6);
        n += chunk(png + n, "IDAT", z, (uint32_t)zn);
        n += chunk(png + n, "IEND", NULL, 0);
        uint8_t *rgb = NULL;
        int h = 0, w = 0;
        char err[512] = "";
        CU_ASSERT_EQUAL_FATAL(mxb_image_decode(png, n, "pal.png", 0, &rgb, &h, &w, err, sizeof err), 0);
        CU_ASSERT(h == 1 && w == 4);
        CU_ASSERT_EQUAL(memcmp(rgb, cases[c].want, 12), 0);
        free(rgb);
    }
}

/* Text written to files and reports is UTF-8: valid sequences kept, any other byte
 * read as Latin-1. Golden values from Python 3.11: b.decode('utf-8', H).encode('utf-8')
 * with the error handler H = lambda e: (e.object[e.start:e.end].decode('latin-1'), e.end). */
static void test_utf8_clean(void) {
    static const struct { const char *in, *want; } cases[] = {
        {"plain", "plain"},
        {"caf\xe9.png", "caf\xc3\xa9.png"},                 /* Latin-1 e-acute */
        {"caf\xc3\xa9", "caf\xc3\xa9"},                       /* already UTF-8 */
        {"\xe2\x82\xac", "\xe2\x82\xac"},                    /* the euro sign, 3 bytes */
        {"\xc0\xaf", "\xc3\x80\xc2\xaf"},                    /* overlong '/': two bytes */
        {"\xed\xa0\x80", "\xc3\xad\xc2\xa0\xc2\x80"},        /* a surrogate */
        {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},            /* an emoji, 4 bytes */
        {"\xe2\x82", "\xc3\xa2\xc2\x82"},                    /* cut short */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *got = mxb_utf8_clean(cases[i].in);
        CU_ASSERT_PTR_NOT_NULL_FATAL(got);
        if (strcmp(got, cases[i].want)) fprintf(stderr, "\n  case %zu differs\n", i);
        CU_ASSERT_STRING_EQUAL(got, cases[i].want);
        free(got);
    }
}

/* Weights attributes: integer fields hold integers, final_norm_eps = 0 is not absent */
static void test_weights_attr_types(void) {
    hid_t f = copy_template("weights_vit.h5", "depth_frac.h5");
    CU_ASSERT_FATAL(f >= 0);
    H5Adelete(f, "depth");
    double v = 1.0000001;
    hid_t sp = H5Screate(H5S_SCALAR), a = H5Acreate2(f, "depth", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_DOUBLE, &v);
    H5Aclose(a);
    H5Sclose(sp);
    H5Fclose(f);
    expect_weights_error("depth_frac.h5", "attribute 'depth' is missing or not an integer");
    f = copy_template("weights_vit.h5", "depth_int_as_float.h5"); /* 1.0 stored as a float: an integer */
    H5Adelete(f, "depth");
    v = 1.0;
    sp = H5Screate(H5S_SCALAR), a = H5Acreate2(f, "depth", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_DOUBLE, &v);
    H5Aclose(a);
    H5Sclose(sp);
    H5Fclose(f);
    mxb_model *m = NULL;
    char err[1024] = "";
    CU_ASSERT_EQUAL(mxb_model_load(scratch("depth_int_as_float.h5"), &m, err, sizeof err), 0);
    if (m) mxb_model_free(m);
}

static int nothing(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    (void)in, (void)map, (void)err, (void)errlen;
    return 0;
}

/* fuzz_plugin: what a plugin's table may and may not hold */
static void test_plugin_table_checks(void) {
    mxb_method a = {.abi_version = MXB_METHOD_ABI_VERSION, .name = "mine", .description = "", .archs = MXB_METHOD_VIT, .explain = nothing}, b = a;
    const mxb_method *tab[2] = {&a, &b};
    char err[512];
    CU_ASSERT_EQUAL(mxb_methods_check("p.so", tab, 1, err, sizeof err), 0);
    CU_ASSERT_EQUAL(mxb_methods_check("p.so", tab, 2, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "p.so: the plugin names two methods 'mine'"));
    CU_ASSERT_EQUAL(mxb_methods_check("p.so", tab, 0, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "returned 0 methods"));
    CU_ASSERT_EQUAL(mxb_methods_check("p.so", NULL, 1, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "returned no table (NULL)"));
    tab[1] = NULL;
    CU_ASSERT_EQUAL(mxb_methods_check("p.so", tab, 2, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "table entry 1 is NULL"));
    tab[1] = &b;
    b.name = "two\nlines";
    CU_ASSERT_EQUAL(mxb_methods_check("p.so", tab, 2, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "method 1 has a bad name"));
    CU_ASSERT(one_line(err));
    b.name = "";
    CU_ASSERT_EQUAL(mxb_methods_check("p.so", tab, 2, err, sizeof err), -1);
    b.name = "other";
    b.needs = 1u << 7;
    CU_ASSERT_EQUAL(mxb_methods_check("p.so", tab, 2, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "asks for unknown architectures or trace needs"));
    b.needs = MXB_NEEDS_GRADIENT;
    CU_ASSERT_EQUAL(mxb_methods_check("p.so", tab, 2, err, sizeof err), 0);
    a.name = "rollout";
    CU_ASSERT_EQUAL(mxb_methods_check("p.so", tab, 2, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'rollout' is already registered"));
}

int main(void) {
    static const mxb_test_case cases[] = {
        {"weights: an array of strings as 'arch' (fuzz_weights, stack overflow)", test_weights_string_array_attr},
        {"weights: a key with a newline gives a one-line message", test_weights_message_one_line},
        {"weights: a model bigger than its file is refused before allocation", test_weights_declared_too_big},
        {"weights: a tensor declared but never written is an error", test_weights_unwritten_tensor},
        {"results: names with control bytes are refused in one line", test_results_bad_names},
        {"results: huge declared arrays and image counts are refused", test_results_declared_too_big},
        {"results: input_size NaN is out of range (fuzz_results, UB)", test_results_nan_input_size},
        {"gtsegs: a huge declared image without data is refused", test_gtsegs_declared_too_big},
        {"png: a decompression bomb is refused before allocation", test_png_bomb},
        {"plugins: the table checks", test_plugin_table_checks},
        {"png: palette indices past PLTE decode as PIL's", test_png_palette_out_of_range},
        {"utf-8: invalid bytes become their Latin-1 code points", test_utf8_clean},
        {"weights: integer attributes hold integers", test_weights_attr_types},
        {NULL, NULL},
    };
    return mxb_test_main("hardening", cases);
}
