/* The BLAS behind the engine's one sgemm entry point (mxb_sgemm_rm): which library and
 * which kernel set, chosen at build time (CMake MXB_BLAS = openblas | blis | dnnl),
 * and the start-up check that it does not run a slow generic kernel set on a CPU
 * that has AVX2 / AVX-512.
 *
 * Why: Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) picks its kernels by CPU model when it
 * loads; on a model newer than the library (the Emerald Rapids Xeon of docs/SPEED.md)
 * it falls back to Prescott (SSE3) kernels, 4-7x slower, and says nothing. It reads
 * OPENBLAS_CORETYPE only in its load-time constructor, before main(), so the fix is to
 * re-execute once with it set; likewise BLIS_ARCH_TYPE for BLIS 0.9, which takes its
 * generic kernels on a Zen 5. oneDNN picks its JIT kernels by cpuid features.
 *
 * Never silent: what ran is in `mxb --version`, every `mxb bench` and every results
 * file's provenance (attribute blas); the restart is announced on stderr when it is a
 * terminal (scripts that parse stderr see no extra line), and kernels still below
 * the CPU's level after a failed restart are always reported there. A user's own
 * OPENBLAS_CORETYPE / BLIS_ARCH_TYPE, or MXB_BLAS_KEEP_KERNELS=1, is obeyed and noted. */
#define _GNU_SOURCE
#include "engine/ops.h"
#include "io/io.h"

#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(MXB_BLAS_BLIS)
#include <blis.h>
#elif defined(MXB_BLAS_DNNL)
#include <oneapi/dnnl/dnnl.h>
#endif

/* OpenBLAS's own queries (not in every cblas.h); OpenBLAS is linked in every build:
 * its cblas_sgemv serves the heads' backward, and mxb bench uses it as the yardstick */
char *openblas_get_corename(void);
char *openblas_get_config(void);

/* ---- the CPU's vector level, from cpuid (with the OS's register support) ---------- */

typedef enum { LEVEL_OLD = 0, LEVEL_AVX2 = 1, LEVEL_AVX512 = 2 } vec_level;

static vec_level cpu_level(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512cd"))
        return LEVEL_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return LEVEL_AVX2;
    return LEVEL_OLD;
}

static const char *level_name(vec_level l) {
    return l == LEVEL_AVX512 ? "AVX-512" : l == LEVEL_AVX2 ? "AVX2" : "no AVX2";
}

/* The vector level an OpenBLAS core's sgemm kernels use. Cores not named are older
 * (Prescott, Katmai, Core2, Penryn, Nehalem, Atom, Opteron, Barcelona, Bobcat,
 * SandyBridge = AVX1, Bulldozer/Piledriver/Steamroller, generic ...). */
static vec_level openblas_core_level(const char *core) {
    static const char *avx512[] = {"skylakex", "cooperlake", "sapphirerapids"};
    static const char *avx2[] = {"haswell", "zen", "excavator", "skylake"};
    for (size_t i = 0; i < sizeof avx512 / sizeof *avx512; i++)
        if (!strcasecmp(core, avx512[i])) return LEVEL_AVX512;
    for (size_t i = 0; i < sizeof avx2 / sizeof *avx2; i++)
        if (!strcasecmp(core, avx2[i])) return LEVEL_AVX2;
    return LEVEL_OLD;
}

static char note[320]; /* what the start-up check did, for --version and provenance */

/* ---- OpenBLAS: re-execute once with OPENBLAS_CORETYPE ------------------------------- */

/* Re-executes this program with the same arguments. When it was started through an
 * explicit loader (`ld-linux-x86-64.so.2 --library-path DIR mxb.bin ...`, as the
 * portable bundle does), /proc/self/exe is the loader: pass the library folder again
 * (the one OpenBLAS was loaded from). Returns only on failure. */
static void reexec(char **argv) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = 0;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", exe);
    if (!strncmp(basename(tmp), "ld-", 3)) {
        Dl_info di;
        if (!dladdr((void *)openblas_get_corename, &di) || !di.dli_fname) return;
        char libdir[4096];
        snprintf(libdir, sizeof libdir, "%s", di.dli_fname);
        int argc = 0;
        while (argv[argc]) argc++;
        char **nv = mxb_try_alloc0((size_t)argc + 4, sizeof *nv);
        if (!nv) return;
        nv[0] = exe;
        nv[1] = "--library-path";
        nv[2] = dirname(libdir);
        for (int i = 0; i < argc; i++) nv[3 + i] = argv[i];
        execv(exe, nv);
        free(nv);
        return;
    }
    execv(exe, argv);
}

/* valgrind would not follow a restart (the new image runs unchecked): never restart under it */
static int under_valgrind(void) {
    const char *pre = getenv("LD_PRELOAD");
    return pre && strstr(pre, "vgpreload");
}

static void check_openblas(char **argv) {
    const vec_level cpu = cpu_level();
    const char *core = openblas_get_corename();
    const vec_level have = openblas_core_level(core);
    const char *forced = getenv("OPENBLAS_CORETYPE");
    if (have >= cpu) return; /* the best kernels this CPU supports */
    const char *want = cpu == LEVEL_AVX512 ? "SKYLAKEX" : "HASWELL";
    if (getenv("MXB_BLAS_REEXEC")) {
        /* we already re-executed with OPENBLAS_CORETYPE set: this library has no such
         * kernels (a build without DYNAMIC_ARCH, or without that core) */
        snprintf(note, sizeof note, "OpenBLAS ignored OPENBLAS_CORETYPE=%s (kernels %s on a CPU with %s)",
                 forced ? forced : "?", core, level_name(cpu));
        fprintf(stderr, "mxb: slow BLAS kernels: %s\n", note);
        return;
    }
    if (forced && *forced) {
        /* the user chose; say what it costs, never override */
        snprintf(note, sizeof note, "OPENBLAS_CORETYPE=%s set by the user: %s kernels on a CPU with %s (mxb would pick %s)",
                 forced, core, level_name(cpu), want);
        return;
    }
    if (getenv("MXB_BLAS_KEEP_KERNELS") || under_valgrind()) {
        snprintf(note, sizeof note, "%s: kept OpenBLAS %s kernels on a CPU with %s",
                 under_valgrind() ? "under valgrind" : "MXB_BLAS_KEEP_KERNELS", core, level_name(cpu));
        return;
    }
    if (isatty(2)) {
        fprintf(stderr, "mxb: OpenBLAS chose %s kernels on a CPU with %s; restarting with OPENBLAS_CORETYPE=%s "
                        "(MXB_BLAS_KEEP_KERNELS=1 keeps them)\n",
                core, level_name(cpu), want);
        fflush(stderr);
    }
    if (setenv("OPENBLAS_CORETYPE", want, 1) || setenv("MXB_BLAS_REEXEC", core, 1)) return;
    reexec(argv);
    /* still here: the re-exec failed; run on, but not silently */
    snprintf(note, sizeof note, "could not restart with OPENBLAS_CORETYPE=%s (%s): %s kernels on a CPU with %s",
             want, strerror(errno), core, level_name(cpu));
    fprintf(stderr, "mxb: slow BLAS kernels: %s\n", note);
}

static void reexec_note(void) {
    const char *from = getenv("MXB_BLAS_REEXEC");
    if (from && !note[0] && getenv("OPENBLAS_CORETYPE"))
        snprintf(note, sizeof note, "OPENBLAS_CORETYPE=%s set by mxb (OpenBLAS chose %s)",
                 getenv("OPENBLAS_CORETYPE"), from);
}

#if defined(MXB_BLAS_BLIS)
/* BLIS 0.9 knows AMD CPUs by family (Zen 1-3) and falls back to its generic kernels on
 * a Zen 5. BLIS_ARCH_TYPE (a number: the arch_t id) is read when BLIS initialises, which
 * asking for the arch already does: re-execute, as for OpenBLAS. */
static void check_blis(char **argv) {
    const vec_level cpu = cpu_level();
    bli_init();
    const char *arch = bli_arch_string(bli_arch_query_id());
    if (strcmp(arch, "generic") || cpu == LEVEL_OLD) return;
    if (getenv("BLIS_ARCH_TYPE") || getenv("MXB_BLAS_KEEP_KERNELS") || under_valgrind()) {
        snprintf(note, sizeof note, "BLIS generic kernels on a CPU with %s (BLIS_ARCH_TYPE or MXB_BLAS_KEEP_KERNELS set)",
                 level_name(cpu));
        return;
    }
    const char *want = cpu == LEVEL_AVX512 ? "skx" : "haswell";
    for (int id = 0; id < BLIS_NUM_ARCHS; id++)
        if (!strcmp(bli_arch_string((arch_t)id), want)) {
            char v[16];
            snprintf(v, sizeof v, "%d", id);
            if (isatty(2)) {
                fprintf(stderr, "mxb: BLIS chose its generic kernels on a CPU with %s; restarting with BLIS_ARCH_TYPE=%s (%s)\n",
                        level_name(cpu), v, want);
                fflush(stderr);
            }
            if (setenv("BLIS_ARCH_TYPE", v, 1) || setenv("MXB_BLAS_REEXEC", "generic", 1)) return;
            reexec(argv);
            snprintf(note, sizeof note, "could not restart with BLIS_ARCH_TYPE=%s: generic kernels", v);
            fprintf(stderr, "mxb: slow BLAS kernels: %s\n", note);
            return;
        }
}
#endif

/* OpenMP's idle threads spin (libgomp: about 300,000 rounds) before they sleep. On a
 * machine shared with other busy processes a spinning thread burns the time slice a
 * descheduled team-mate needs, and every parallel region waits for the slowest: on 16
 * cores with 16 busy processes a DeiT-S forward took 1208 ms instead of 46 (PyTorch:
 * 210 ms instead of 31). With OMP_WAIT_POLICY=passive it took 211 ms, and unloaded
 * the same 46 ms; `mxb run` images were faster still (docs/SPEED.md). libgomp reads
 * the policy when it loads, so it is set here and taken up by the restart (the
 * kernels' restart, or its own). A user's OMP_WAIT_POLICY or GOMP_SPINCOUNT is kept.
 * Under valgrind (which would not follow the restart) nothing is changed. */
static int want_passive(void) {
    return !getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT") && !under_valgrind();
}

void mxb_blas_startup(char **argv) {
    const int passive = want_passive();
    if (passive && (setenv("OMP_WAIT_POLICY", "passive", 1) || setenv("MXB_OMP_PASSIVE", "1", 1))) return;
    check_openblas(argv); /* may restart, taking the wait policy along */
    reexec_note();
#if defined(MXB_BLAS_BLIS)
    if (getenv("MXB_BLAS_REEXEC") && getenv("BLIS_ARCH_TYPE"))
        snprintf(note, sizeof note, "BLIS_ARCH_TYPE=%s set by mxb (BLIS chose generic)", getenv("BLIS_ARCH_TYPE"));
    else
        check_blis(argv);
#endif
    if (passive) {
        reexec(argv);
        /* still here: libgomp keeps spinning; correct, only slower on a shared machine */
        unsetenv("OMP_WAIT_POLICY");
        unsetenv("MXB_OMP_PASSIVE");
    } else if (getenv("MXB_OMP_PASSIVE")) {
        const size_t n = strlen(note);
        snprintf(note + n, sizeof note - n, "%sOMP_WAIT_POLICY=passive set by mxb", n ? "; " : "");
    }
}

/* ---- what runs ------------------------------------------------------------------------ */

void mxb_blas_get_info(mxb_blas_info *out) {
    memset(out, 0, sizeof *out);
    const char *cfg = openblas_get_config(); /* "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..." */
    char ver[32] = "?";
    if (!strncmp(cfg, "OpenBLAS ", 9)) sscanf(cfg + 9, "%31s", ver);
#if defined(MXB_BLAS_BLIS)
    bli_init(); /* the arch query checks its id against the registered kernels */
    snprintf(out->name, sizeof out->name, "BLIS");
    snprintf(out->version, sizeof out->version, "%s", bli_info_get_version_str());
    snprintf(out->kernels, sizeof out->kernels, "%s", bli_arch_string(bli_arch_query_id()));
#elif defined(MXB_BLAS_DNNL)
    const dnnl_version_t *v = dnnl_version();
    snprintf(out->name, sizeof out->name, "oneDNN");
    snprintf(out->version, sizeof out->version, "%d.%d.%d", v->major, v->minor, v->patch);
    /* the JIT picks its ISA per call from cpuid; the ceiling it may use: */
    snprintf(out->kernels, sizeof out->kernels, "jit (%s)", level_name(cpu_level()));
#else
    snprintf(out->name, sizeof out->name, "OpenBLAS");
    snprintf(out->version, sizeof out->version, "%s", ver);
    snprintf(out->kernels, sizeof out->kernels, "%s", openblas_get_corename());
#endif
    snprintf(out->cpu, sizeof out->cpu, "%s", level_name(cpu_level()));
    snprintf(out->openblas, sizeof out->openblas, "OpenBLAS %s %s", ver, openblas_get_corename());
    snprintf(out->note, sizeof out->note, "%s", note);
}

const char *mxb_blas_describe(void) {
    static char s[512];
    mxb_blas_info b;
    mxb_blas_get_info(&b);
#if defined(MXB_BLAS_BLIS) || defined(MXB_BLAS_DNNL)
    snprintf(s, sizeof s, "%s %s, kernels %s (gemm); %s (gemv); CPU %s%s%s", b.name, b.version, b.kernels,
             b.openblas, b.cpu, b.note[0] ? "; " : "", b.note);
#else
    snprintf(s, sizeof s, "%s %s, kernels %s; CPU %s%s%s", b.name, b.version, b.kernels, b.cpu,
             b.note[0] ? "; " : "", b.note);
#endif
    return s;
}

/* ---- one serial row-major product: the panel call of mxb_sgemm_rm ------------------------ */

void mxb_sgemm_serial(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
#if defined(MXB_BLAS_BLIS)
    /* row-major through strides (row stride ld, column stride 1); one thread, always:
     * BLIS would otherwise take OMP_NUM_THREADS and split the panel */
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(1, &rntm);
    bli_sgemm_ex(ta == CblasTrans ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
                 tb == CblasTrans ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, M, N, K, &alpha, (float *)A, lda,
                 1, (float *)B, ldb, 1, &beta, C, ldc, 1, NULL, &rntm);
#elif defined(MXB_BLAS_DNNL)
    /* dnnl_sgemm is row-major; inside an OpenMP region its OpenMP runtime stays serial */
    dnnl_sgemm(ta == CblasTrans ? 'T' : 'N', tb == CblasTrans ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb,
               beta, C, ldc);
#else
    cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}
