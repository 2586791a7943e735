#include "mxb_test.h"

#include <CUnit/Basic.h>
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

const char *mxb_test_env(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "test: environment variable %s is not set (run through ctest)\n", name);
        exit(2);
    }
    return v;
}

const char *mxb_test_path(const char *fmt, ...) {
    static char bufs[8][4096];
    static int next;
    char *b = bufs[next++ & 7];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof bufs[0], fmt, ap);
    va_end(ap);
    return b;
}

float *mxb_test_read_h5(const char *file, const char *dset, size_t *count) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) { fprintf(stderr, "test: cannot open %s\n", file); return NULL; }
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
    if (d < 0) { fprintf(stderr, "test: %s has no dataset %s\n", file, dset); H5Fclose(f); return NULL; }
    hid_t s = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    float *buf = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        fprintf(stderr, "test: cannot read %s:%s\n", file, dset);
        free(buf); buf = NULL;
    }
    if (count) *count = (size_t)n;
    H5Sclose(s); H5Dclose(d); H5Fclose(f);
    return buf;
}

double mxb_test_read_h5_scalar(const char *file, const char *dset) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return NAN;
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
    double v = NAN;
    if (d >= 0) {
        hid_t s = H5Dget_space(d);
        hssize_t n = H5Sget_simple_extent_npoints(s);
        double *buf = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
        if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) v = buf[0];
        free(buf);
        H5Sclose(s);
        H5Dclose(d);
    }
    H5Fclose(f);
    return v;
}

int mxb_test_h5_exists(const char *file, const char *dset) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return 0;
    int ok = H5Lexists(f, dset, H5P_DEFAULT) > 0;
    H5Fclose(f);
    return ok;
}

double mxb_test_max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d; /* NaN propagates as a failure */
    }
    return m;
}

double mxb_test_rel_diff_h5(const char *file, const char *dset, const float *mine, size_t n) {
    size_t got = 0;
    float *ref = mxb_test_read_h5(file, dset, &got);
    if (!ref || got != n) {
        fprintf(stderr, "%s: %s has %zu values, want %zu\n", file, dset, got, n);
        free(ref);
        return INFINITY;
    }
    double d = mxb_test_max_abs_diff(mine, ref, n), scale = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
    free(ref);
    return d / (scale > 0 ? scale : 1);
}

double mxb_test_range(const float *a, size_t n) {
    if (!n) return 0;
    float lo = a[0], hi = a[0];
    for (size_t i = 1; i < n; i++) {
        if (a[i] < lo) lo = a[i];
        if (a[i] > hi) hi = a[i];
    }
    return (double)hi - (double)lo;
}

int mxb_test_system(const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc == -1) return -1;
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

char *mxb_test_slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = 0;
    fclose(f);
    return b;
}

int mxb_test_main(const char *suite, const mxb_test_case *cases) {
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    CU_pSuite s = CU_add_suite(suite, NULL, NULL);
    for (const mxb_test_case *c = cases; c->name; c++) CU_add_test(s, c->name, c->fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned ran = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    return (failed || ran == 0) ? 1 : 0;
}

double mxb_test_f32_vs_f64(const char *file, const char *dset) {
    double v = NAN;
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return v;
    if (H5Aexists_by_name(f, dset, "f32_vs_f64", H5P_DEFAULT) > 0) {
        hid_t a = H5Aopen_by_name(f, dset, "f32_vs_f64", H5P_DEFAULT, H5P_DEFAULT);
        if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) < 0) v = NAN;
        H5Aclose(a);
    }
    H5Fclose(f);
    return v;
}
