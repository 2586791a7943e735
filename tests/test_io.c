/* The io/ floor: temporary files, the out-of-memory exit (one line, exit 3, no
 * temporary left), the one PNG writer (read back by PIL) and splitmix64 (the values
 * of Vigna's reference splitmix64.c, seed 0). */
#include "harness/harness.h"
#include "io/io.h"
#include "metrics/metrics.h"
#include "mxb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[4096];

static void scratch(void) {
    if (dir[0]) return;
    snprintf(dir, sizeof dir, "%s/io", mxb_test_env("MXB_TESTDATA"));
    mxb_test_system("rm -rf '%s' && mkdir -p '%s'", dir, dir);
}

static void touch(const char *path) {
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("partial\n", f);
    fclose(f);
}

static void test_tmpfiles(void) {
    scratch();
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/a.partial", dir);
    snprintf(b, sizeof b, "%s/b.partial", dir);
    touch(a);
    touch(b);
    CU_ASSERT_EQUAL(mxb_tmpfile_register(a), 0);
    CU_ASSERT_EQUAL(mxb_tmpfile_register(b), 0);
    mxb_tmpfile_unregister(b); /* renamed into place by its writer: no longer ours */
    mxb_tmpfiles_remove();
    CU_ASSERT(access(a, F_OK) != 0);
    CU_ASSERT(access(b, F_OK) == 0);
    mxb_tmpfiles_remove(); /* nothing registered: nothing more removed */
    CU_ASSERT(access(b, F_OK) == 0);
    /* a full table refuses, and frees up again */
    int n = 0;
    while (n < 100 && mxb_tmpfile_register(b) == 0) n++;
    CU_ASSERT(n > 0 && n < 100);
    for (int i = 0; i < n; i++) mxb_tmpfile_unregister(b);
    CU_ASSERT_EQUAL(mxb_tmpfile_register(b), 0);
    mxb_tmpfile_unregister(b);
    remove(b);
}

/* `mxb run CONFIG` in a child whose first configuration-bounded allocation fails
 * (MXB_TEST_OOM_AFTER=0) while a temporary result file is registered. */
static void test_out_of_memory_exit(void) {
    scratch();
    char cfg[4200], tmp[4200], keep[4200], errf[4200];
    snprintf(cfg, sizeof cfg, "%s/run.ini", dir);
    snprintf(tmp, sizeof tmp, "%s/out.h5.partial-1", dir);
    snprintf(keep, sizeof keep, "%s/out.h5.journal", dir);
    snprintf(errf, sizeof errf, "%s/stderr.txt", dir);
    FILE *f = fopen(cfg, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "[run]\noutput = out.h5\n");
    fclose(f);
    touch(tmp);
    touch(keep);
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        if (!freopen(errf, "w", stderr)) _exit(98);
        setenv("MXB_TEST_OOM_AFTER", "0", 1);
        if (mxb_tmpfile_register(tmp)) _exit(97);
        char *argv[] = {"mxb", "run", cfg, NULL};
        mxb_main(3, argv);
        _exit(99); /* the allocation did not end the process */
    }
    int status = 0;
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status));
    CU_ASSERT_EQUAL(WEXITSTATUS(status), 3);
    CU_ASSERT(access(tmp, F_OK) != 0);  /* the temporary is gone */
    CU_ASSERT(access(keep, F_OK) == 0); /* what was not registered (a journal) stays */
    char *msg = mxb_test_slurp(errf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "out of memory"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, " bytes for ")); /* what was being allocated, named */
    int lines = 0;
    for (const char *p = msg; *p; p++) lines += *p == '\n';
    CU_ASSERT_EQUAL(lines, 1);
    free(msg);
}

/* width 3, height 2: PIL must see size (3, 2) and every pixel where it was written */
static void test_png_writer(void) {
    scratch();
    uint8_t rgb[2 * 3 * 3], grey[2 * 3];
    for (int i = 0; i < 18; i++) rgb[i] = (uint8_t)(i * 13);
    for (int i = 0; i < 6; i++) grey[i] = (uint8_t)(i * 40);
    char p3[4200], p1[4200], err[512];
    snprintf(p3, sizeof p3, "%s/rgb.png", dir);
    snprintf(p1, sizeof p1, "%s/grey.png", dir);
    CU_ASSERT_EQUAL(mxb_png_write(p3, rgb, 3, 2, 3, err, sizeof err), 0);
    CU_ASSERT_EQUAL(mxb_png_write(p1, grey, 3, 2, 1, err, sizeof err), 0);
    CU_ASSERT_EQUAL(mxb_test_system(
        "%s -c \"import sys; from PIL import Image; a = Image.open(sys.argv[1]); b = Image.open(sys.argv[2]); "
        "assert a.size == (3, 2) and a.mode == 'RGB', (a.size, a.mode); "
        "assert list(a.getdata()) == [tuple(13 * (3 * i + c) for c in range(3)) for i in range(6)]; "
        "assert b.size == (3, 2) and b.mode == 'L' and list(b.getdata()) == [40 * i for i in range(6)]\" %s %s",
        mxb_test_env("MXB_PYTHON"), p3, p1), 0);
    char bad[4200];
    snprintf(bad, sizeof bad, "%s/none/x.png", dir);
    CU_ASSERT_EQUAL(mxb_png_write(bad, rgb, 3, 2, 3, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "x.png: cannot create"));
    CU_ASSERT_EQUAL(mxb_png_write(p3, rgb, 3, 2, 2, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "3x2x2"));
}

/* io/outfile.c (issue 23, classes 1 and 2): an output that is an input (by device +
 * inode: a hard link, a symlink, another spelling) or a folder is refused; the writer's
 * temporary is unique per open, made with O_EXCL|O_NOFOLLOW (a planted symlink at the
 * old fixed name PATH.partial is never followed), renamed over the target on commit and
 * removed on abort; an OS error names its reason. */
static void test_outfile(void) {
    scratch();
    char in[4200], hard[4200], soft[4200], other[4200], out[4200], victim[4200], plant[4200], err[4400];
    snprintf(in, sizeof in, "%s/in.h5", dir);
    snprintf(hard, sizeof hard, "%s/hard.h5", dir);
    snprintf(soft, sizeof soft, "%s/soft.h5", dir);
    snprintf(other, sizeof other, "%s/../io/./in.h5", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(victim, sizeof victim, "%s/victim.txt", dir);
    snprintf(plant, sizeof plant, "%s/out.txt.partial", dir);
    touch(in);
    touch(victim);
    CU_ASSERT_EQUAL(link(in, hard), 0);
    CU_ASSERT_EQUAL(symlink("in.h5", soft), 0);
    CU_ASSERT_EQUAL(symlink("victim.txt", plant), 0);
    mxb_inputs_forget();
    CU_ASSERT_EQUAL(mxb_output_check(in, err, sizeof err), 0); /* not an input yet */
    mxb_input_note(in);
    const char *same[] = {in, hard, soft, other};
    for (int i = 0; i < 4; i++) {
        err[0] = 0;
        CU_ASSERT_EQUAL(mxb_output_check(same[i], err, sizeof err), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "is the input file"));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, same[i]));
        mxb_outfile o;
        CU_ASSERT_EQUAL(mxb_outfile_open(&o, same[i], err, sizeof err), -1); /* the writer checks too */
        CU_ASSERT_EQUAL(mxb_file_write(same[i], "x", 1, 0, err, sizeof err), -1);
    }
    char *kept = mxb_test_slurp(in);
    CU_ASSERT(kept && !strcmp(kept, "partial\n"));
    free(kept);
    CU_ASSERT_EQUAL(mxb_output_check(dir, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "is a folder"));
    /* two writers of one target at once: distinct temporaries, both complete */
    mxb_outfile a, b;
    CU_ASSERT_EQUAL_FATAL(mxb_outfile_open(&a, out, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(mxb_outfile_open(&b, out, err, sizeof err), 0);
    CU_ASSERT(strcmp(a.tmp, b.tmp) != 0);
    CU_ASSERT(strcmp(a.tmp, plant) != 0);
    struct stat st;
    CU_ASSERT(lstat(a.tmp, &st) == 0 && S_ISREG(st.st_mode));
    fputs("first\n", a.f);
    fputs("second\n", b.f);
    CU_ASSERT_EQUAL(mxb_outfile_commit(&a, 1, err, sizeof err), 0);
    CU_ASSERT_EQUAL(mxb_outfile_commit(&b, 0, err, sizeof err), 0);
    char *got = mxb_test_slurp(out), *vic = mxb_test_slurp(victim);
    CU_ASSERT(got && !strcmp(got, "second\n"));
    CU_ASSERT(vic && !strcmp(vic, "partial\n")); /* the planted link's target untouched */
    free(got);
    free(vic);
    /* abort leaves nothing; the temporary is gone */
    CU_ASSERT_EQUAL_FATAL(mxb_outfile_open(&a, victim, err, sizeof err), 0);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s", a.tmp);
    fputs("half", a.f);
    mxb_outfile_abort(&a);
    CU_ASSERT(access(tmp, F_OK) != 0);
    vic = mxb_test_slurp(victim);
    CU_ASSERT(vic && !strcmp(vic, "partial\n"));
    free(vic);
    /* the OS's reason */
    char nodir[4200];
    snprintf(nodir, sizeof nodir, "%s/none/x.txt", dir);
    CU_ASSERT_EQUAL(mxb_file_write(nodir, "x", 1, 0, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file or directory"));
    mxb_inputs_forget();
}

static void test_splitmix_argmax(void) {
    uint64_t s = 0;
    CU_ASSERT_EQUAL(mxb_splitmix64(&s), 0xe220a8397b1dcdafull);
    CU_ASSERT_EQUAL(mxb_splitmix64(&s), 0x6e789e6aa1b965f4ull);
    CU_ASSERT_EQUAL(mxb_splitmix64(&s), 0x06c45d188009454full);
    const float v[5] = {1, 3, -2, 3, 0}, w[3] = {NAN, 1, 2};
    CU_ASSERT_EQUAL(mxb_argmax(v, 5), 1); /* the first of equal maxima, as np.argmax */
    CU_ASSERT_EQUAL(mxb_argmax(w + 1, 2), 1);
    CU_ASSERT_EQUAL(mxb_argmax(v, 1), 0);
}

/* MXB_ASSERT: a held condition costs nothing; a broken one says file:line and the
 * condition, and aborts (a caller's bug is not an error message). */
static void test_assert(void) {
    scratch();
    char errf[4200];
    snprintf(errf, sizeof errf, "%s/assert.txt", dir);
    MXB_ASSERT(1 + 1 == 2);
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        if (!freopen(errf, "w", stderr)) _exit(98);
        volatile int untraced = 0;
        MXB_ASSERT(untraced == 1);
        _exit(99); /* it did not stop */
    }
    int status = 0;
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    char *msg = mxb_test_slurp(errf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "test_io.c:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "untraced == 1"));
    free(msg);
}

int main(void) {
    static const mxb_test_case cases[] = {
        {"temporary files: registered ones removed, others kept", test_tmpfiles},
        {"out of memory: one line, exit 3, no temporary left", test_out_of_memory_exit},
        {"one PNG writer, width then height (read back by PIL)", test_png_writer},
        {"splitmix64 (reference values) and argmax", test_splitmix_argmax},
        {"outputs: an input is refused (inode), unique O_EXCL temporaries, rename", test_outfile},
        {"MXB_ASSERT: file:line and the condition, then abort", test_assert},
        {NULL, NULL}};
    return mxb_test_main("io", cases);
}
