/* The model-agnostic methods at full geometry (DeiT-S, ViM-S, 224 px) against the
 * original code's maps (tests/fixtures/methods2_{deit_s,vim_s}.golden.h5, Captum 0.8.0
 * and eclique/RISE), with the weights regenerated from the goldens' seeds by
 * tests/gen_agnostic_full.py (their content SHA-256 checked there). A program of its
 * own. Occlusion at its defaults is 729 forwards a model, 80 % of the program's time on
 * CI's two cores for code the demo models already check at two window/stride settings
 * (test_agnostic): it runs with `--occlusion`, the ctest test
 * test_agnostic_full_occlusion, labelled `nightly` (make -f Makefile.ci nightly). */
#include "agnostic_check.h"

/* what the full-geometry goldens hold (tests/fixtures/README.md), all on input_0 */
static const golden_case full_cases[] = {
    {"ixg", "ixg", {0}, 0, 1},
    {"ig", "ig_gausslegendre_n16", {"steps=16"}, 1, 1},
    {"ig", "ig_riemann_trapezoid_n16", {"steps=16", "rule=riemann_trapezoid"}, 2, 1},
    {"smoothgrad", "smoothgrad_n5", {0}, 0, 1},
    {"rise", "rise_n64", {"masks=64"}, 1, 1},
};
static const golden_case occlusion_cases[] = {
    {"occlusion", "occlusion_w16_s8", {0}, 0, 1}, /* the defaults at patch 16: 27 x 27 windows */
};
static int occlusion; /* --occlusion: the nightly test's case alone */

/* the weights live in this test's own data folder */
static void check_full(const char *model) {
    char w[4096], g[4096], label[32];
    snprintf(w, sizeof w, "%s/agnostic_full/%s.h5", mxb_test_env("MXB_TESTDATA"), model);
    snprintf(g, sizeof g, "%s", fixture(mxb_test_path("methods2_%s.golden.h5", model)));
    snprintf(label, sizeof label, "%s", model);
    if (occlusion)
        check_goldens(w, g, label, occlusion_cases, sizeof occlusion_cases / sizeof *occlusion_cases);
    else
        check_goldens(w, g, label, full_cases, sizeof full_cases / sizeof *full_cases);
}
static void test_full_deit(void) { check_full("deit_s"); }
static void test_full_vim(void) { check_full("vim_s"); }

int main(int argc, char **argv) {
    occlusion = argc > 1 && !strcmp(argv[1], "--occlusion");
    if (argc > 1 && !occlusion) {
        fprintf(stderr, "usage: test_agnostic_full [--occlusion]\n");
        return 2;
    }
    static const mxb_test_case cases[] = {
        {"DeiT-S: ixg, ig, smoothgrad, rise against Captum / RISE", test_full_deit},
        {"ViM-S: ixg, ig, smoothgrad, rise against Captum / RISE", test_full_vim},
        {NULL, NULL}};
    static const mxb_test_case occ[] = {
        {"DeiT-S: occlusion at its defaults against Captum", test_full_deit},
        {"ViM-S: occlusion at its defaults against Captum", test_full_vim},
        {NULL, NULL}};
    return mxb_test_main(occlusion ? "agnostic_full_occlusion" : "agnostic_full", occlusion ? occ : cases);
}
