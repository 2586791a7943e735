/* Small helpers shared by the CUnit suites. */
#ifndef MXB_TEST_H
#define MXB_TEST_H

#include <CUnit/CUnit.h>
#include <stddef.h>

/* An environment variable set by ctest (MXB_SOURCE_DIR, MXB_TESTDATA, ...);
 * aborts the program with a message when missing. */
const char *mxb_test_env(const char *name);
/* snprintf into a static rotating buffer: for building paths in tests. */
const char *mxb_test_path(const char *fmt, ...);
/* Reads a whole float32 (or convertible) dataset; dims/ndims optional. Returns NULL
 * (and prints why) when the file or dataset is missing. Free with free(). */
float *mxb_test_read_h5(const char *file, const char *dset, size_t *count);
/* Reads a scalar or first element of a dataset as double. */
double mxb_test_read_h5_scalar(const char *file, const char *dset);
int mxb_test_h5_exists(const char *file, const char *dset);
double mxb_test_max_abs_diff(const float *a, const float *b, size_t n);
double mxb_test_range(const float *a, size_t n);
/* max |mine - golden| / max |golden| against file:dset; INFINITY when the dataset is
 * missing or holds another number of values (said on stderr) */
/* a golden dataset's f32_vs_f64 attribute (tools' gen_fullgeom.py, make_methods_goldens.py):
 * how far PyTorch float32 lands from PyTorch float64 on the same maths (in
 * mxb_test_rel_diff_h5's measure); NAN when absent */
double mxb_test_f32_vs_f64(const char *file, const char *dset);
double mxb_test_rel_diff_h5(const char *file, const char *dset, const float *mine, size_t n);
/* Runs a shell command; returns its exit status (or -1). */
int mxb_test_system(const char *fmt, ...);
/* Reads a whole text file (NULL if missing). Free with free(). */
char *mxb_test_slurp(const char *path);

typedef struct { const char *name; void (*fn)(void); } mxb_test_case;
/* Registers one suite with the given cases, runs it verbosely and returns the
 * process exit code (0 when every assertion passed). */
int mxb_test_main(const char *suite, const mxb_test_case *cases);

#endif
