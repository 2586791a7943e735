/* results: SHA-256 against hashlib, the run journal's crash safety, atomic output. */
#include "mxb_test.h"
#include "results/results.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_sha256(void) {
    const char *list = mxb_test_path("%s/results/sha256.txt", mxb_test_env("MXB_TESTDATA"));
    FILE *f = fopen(list, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char path[4096], want[80], got[65], err[256];
    int n = 0;
    while (fscanf(f, "%4095s %79s", path, want) == 2) {
        CU_ASSERT_EQUAL(mxb_sha256_file(path, got, err, sizeof err), 0);
        CU_ASSERT_STRING_EQUAL(got, want);
        n++;
    }
    fclose(f);
    CU_ASSERT_EQUAL(n, 7);
    CU_ASSERT_EQUAL(mxb_sha256_file("/nonexistent/x", got, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/x"));
}

typedef struct {
    int count, sum;
} replay_state;

static int replay(void *user, const void *payload, uint32_t n) {
    replay_state *s = user;
    if (n != sizeof(int)) return 1;
    int v;
    memcpy(&v, payload, sizeof v);
    s->count++;
    s->sum += v;
    return 0;
}

static void test_journal_resume(void) {
    const char *path = mxb_test_path("%s/results/run.journal", mxb_test_env("MXB_TESTDATA"));
    char err[512];
    unlink(path);
    int replayed = -1;
    replay_state st = {0};
    mxb_journal *j = mxb_journal_open(path, "key-A", replay, &st, &replayed, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(replayed, 0);
    for (int v = 1; v <= 10; v++) CU_ASSERT_EQUAL(mxb_journal_append(j, &v, sizeof v, err, sizeof err), 0);
    mxb_journal_close(j, 0);

    /* a kill in the middle of a record: the torn tail is dropped, the rest kept */
    struct stat sb;
    stat(path, &sb);
    CU_ASSERT_EQUAL(truncate(path, sb.st_size - 3), 0);
    j = mxb_journal_open(path, "key-A", replay, &st, &replayed, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(replayed, 9);
    CU_ASSERT_EQUAL(st.sum, 45);
    int ten = 10;
    CU_ASSERT_EQUAL(mxb_journal_append(j, &ten, sizeof ten, err, sizeof err), 0);
    mxb_journal_close(j, 0);
    st = (replay_state){0};
    j = mxb_journal_open(path, "key-A", replay, &st, &replayed, err, sizeof err);
    CU_ASSERT_EQUAL(replayed, 10);
    CU_ASSERT_EQUAL(st.sum, 55);
    mxb_journal_close(j, 0);

    /* a flipped byte inside record 5: replay stops before it */
    FILE *f = fopen(path, "r+b");
    fseek(f, 80 + 4 * (12 + 4) + 12, SEEK_SET);
    fputc(0x7f, f);
    fclose(f);
    st = (replay_state){0};
    j = mxb_journal_open(path, "key-A", replay, &st, &replayed, err, sizeof err);
    CU_ASSERT_EQUAL(replayed, 4);
    mxb_journal_close(j, 0);

    /* another configuration's journal is never appended to */
    j = mxb_journal_open(path, "key-B", replay, &st, &replayed, err, sizeof err);
    CU_ASSERT_PTR_NULL(j);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "different configuration"));
    mxb_journal_close(j, 1);
    unlink(path);
}

static void test_atomic_output(void) {
    const char *path = mxb_test_path("%s/results/out.h5", mxb_test_env("MXB_TESTDATA"));
    char err[512];
    unlink(path);
    mxb_h5out *o = mxb_h5out_create(path, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    float v[3] = {1, 2, 3};
    int64_t d = 3;
    CU_ASSERT_EQUAL(mxb_h5out_floats(o, "a/b/c", v, 1, &d, err, sizeof err), 0);
    CU_ASSERT(access(path, F_OK) != 0); /* nothing at the final name while writing */
    mxb_h5out_abort(o);
    CU_ASSERT(access(path, F_OK) != 0);
    o = mxb_h5out_create(path, err, sizeof err);
    CU_ASSERT_EQUAL(mxb_h5out_floats(o, "a/b/c", v, 1, &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(mxb_h5out_commit(o, err, sizeof err), 0);
    size_t n = 0;
    float *back = mxb_test_read_h5(path, "a/b/c", &n);
    CU_ASSERT(back && n == 3 && back[2] == 3.0f);
    free(back);
    CU_ASSERT_PTR_NULL(mxb_h5out_create("/nonexistent/dir/x.h5", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/dir/x.h5"));
}

int main(void) {
    static const mxb_test_case cases[] = {
        {"SHA-256 equals hashlib", test_sha256},
        {"journal: torn and corrupt records, resume, foreign runs", test_journal_resume},
        {"output files appear only when complete", test_atomic_output},
        {NULL, NULL}};
    return mxb_test_main("results", cases);
}
