#!/usr/bin/env bash
# mxb compare as a CI gate (issue 24 item 6) on tiny runs (the fuzzers' models, a few
# synthetic images): better / worse in the text and JSON, --fail-on worse|any, new and
# missing metrics counted (--fail-on-new), --metrics globs, the warning when the two
# runs' data, image counts or methods differ, and the configuration / method-parameter
# diff in text, JSON and the HTML page. Every status is recomputed in Python from the
# two files' `mxb report --format json` (compare's rule), never taken from mxb.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON; SRC=$MXB_SOURCE_DIR
T=$(mktemp -d); trap 'rm -rf $T' EXIT
cd $T
. "$SRC/tests/lib_cli.sh"

$MXB synth data --n 4 --seed 1 --size 16 >/dev/null 2>>$MXB_ERR
$MXB synth data3 --n 3 --seed 2 --size 16 >/dev/null 2>>$MXB_ERR
awk '{print $1, $2 % 3}' data/labels.txt >labels.txt   # the tiny models have 3 classes
awk '{print $1, $2 % 3}' data3/labels.txt >labels3.txt
mkrun() { # NAME DATA LABELS METHOD...: a tiny run of these methods
  local out=$1 data=$2 labels=$3; shift 3
  { printf '; %s\n[run]\noutput = %s\n[model:deit]\nweights = %s\n[model:vim]\nweights = %s\n' $out $T/$out.h5 \
      $SRC/tests/fuzz/templates/weights_vit.h5 $SRC/tests/fuzz/templates/weights_vim.h5
    for m in "$@"; do printf '[method:%s]\n' $m; done
    printf '[perturbation]\ndata = %s\nlabels = %s\nresize = 8\ncrop = 8\n' $T/$data/images $T/$labels
    printf '[segmentation]\ndata = %s\nresize = 8\nsquare = yes\n' $T/$data/gtsegs_synth.mat; } >$out.ini
  OMP_NUM_THREADS=1 $MXB run $out.ini --quiet >/dev/null 2>>$MXB_ERR
  $MXB report $out.h5 --format json >$out.json 2>>$MXB_ERR
}
mkrun base data labels.txt rollout attribution
mkrun more data labels.txt rollout attribution raw-attention
mkrun other data3 labels3.txt rollout attribution
check "three tiny runs" [ -s base.h5 -a -s more.h5 -a -s other.h5 ]
# base with one metric better and one worse: segmentation AP and F1 edited with h5py
$PY - <<'EOF'
import h5py, shutil
shutil.copy("base.h5", "moved.h5")
with h5py.File("moved.h5", "r+") as f:
    f["segmentation/vim/attribution/ap"][...] -= 0.1    # mean_ap, higher is better: worse
    f["segmentation/deit/rollout/f1"][...] += 0.05      # mean_f1: better
    f.attrs["finished"] = "2026-12-08T03:00:00Z"
EOF
$MXB report moved.h5 --format json >moved.json 2>>$MXB_ERR

# ---- text: better / worse, --fail-on ----
$MXB compare base.h5 moved.h5 --quiet >cmp.txt 2>cmp.err; rc=$?
check "text: exit 1, the worse move says worse, the better one better" \
  bash -c "[ $rc = 1 ] && grep -q '^segmentation/vim/attribution/mean_ap .* MOVED, worse$' cmp.txt && \
           grep -q '^segmentation/deit/rollout/mean_f1 .* MOVED, better$' cmp.txt && [ \$(wc -l <cmp.txt) = 2 ]"
check "text: the summary counts better and worse" grep -q "^mxb compare: 2 of 124 metrics moved past tolerance (1e-06 + 0 x |baseline|): 1 better, 1 worse$" cmp.err
$MXB compare base.h5 moved.h5 --quiet --fail-on worse --metrics '*mean_f1' >/dev/null 2>cmp.err; rc=$?
check "--fail-on worse --metrics '*mean_f1': only the better move selected, exit 0, said" \
  bash -c "[ $rc = 0 ] && grep -q 'no metric moved to the worse side' cmp.err"
$MXB compare base.h5 moved.h5 --quiet --fail-on worse >/dev/null 2>>$MXB_ERR; rc=$?
check "--fail-on worse with a worse move: exit 1" [ $rc = 1 ]
$MXB compare moved.h5 base.h5 --quiet --fail-on worse --metrics '*/mean_ap' >/dev/null 2>>$MXB_ERR; rc=$?
check "--fail-on worse, the other way round (AP back up: better): exit 0" [ $rc = 0 ]

# ---- JSON: every status against Python's own reading of the two reports ----
for pair in "base moved" "base more" "more base" "base other"; do
  set -- $pair
  $MXB compare $1.h5 $2.h5 --format json >$1_$2.cmp.json 2>>$MXB_ERR
  echo $? >$1_$2.rc
done
$MXB compare base.h5 moved.h5 --format json --metrics '*/mean_ap,*auc' --fail-on worse >glob.cmp.json 2>>$MXB_ERR
check "--format json: statuses, counts, exit and the --metrics selection equal Python's (compare's rule)" $PY - <<'EOF'
import json, fnmatch, math
def rule(x, y, tol=1e-6):
    if x is None or y is None: return (x is None) != (y is None)
    return abs(y - x) > tol
def expect(a, b, globs=None, fail_on="any"):
    A, B = json.load(open(a + ".json")), json.load(open(b + ".json"))
    sel = lambda n: globs is None or any(fnmatch.fnmatch(n, g) for g in globs.split(","))
    out, fails = {}, 0
    for n, x in A["metrics"].items():
        if not sel(n): continue
        if n not in B["metrics"]:
            out[n] = "missing"; fails += 1; continue
        y = B["metrics"][n]
        if not rule(x, y): out[n] = "ok"; continue
        better = {"higher": 1, "lower": -1, "none": 0}[A["better"][n]]
        st = "moved" if x is None or y is None or better == 0 else ("better" if (y - x) * better > 0 else "worse")
        out[n] = st
        fails += st != "better" or fail_on == "any"
    for n in B["metrics"]:
        if sel(n) and n not in A["metrics"]: out[n] = "new"
    return out, fails
for name, (a, b, globs, fail_on) in {"base_moved": ("base", "moved", None, "any"), "base_more": ("base", "more", None, "any"),
                                     "more_base": ("more", "base", None, "any"), "base_other": ("base", "other", None, "any"),
                                     "glob": ("base", "moved", "*/mean_ap,*auc", "worse")}.items():
    j = json.load(open(name + ".cmp.json"))
    got = {m["name"]: m["status"] for m in j["metrics"]}
    want, fails = expect(a, b, globs, fail_on)
    assert got == want, (name, {k: (got.get(k), want.get(k)) for k in set(got) | set(want) if got.get(k) != want.get(k)})
    c = j["counts"]
    assert c["failing"] == fails and c["new"] == sum(v == "new" for v in want.values()), (name, c, fails)
    assert c["missing"] == sum(v == "missing" for v in want.values()) and c["better"] == sum(v == "better" for v in want.values())
    assert j["exit"] == (1 if fails else 0), (name, j["exit"])
    if name != "glob": assert int(open(name + ".rc").read()) == j["exit"], name
    for m in j["metrics"]:
        if m["status"] not in ("new", "missing") and m["baseline"] is not None:
            x = json.load(open(a + ".json"))["metrics"][m["name"]]
            assert m["baseline"] == x, m
j = json.load(open("glob.cmp.json"))
assert {m["name"] for m in j["metrics"]} and all(fnmatch.fnmatch(m["name"], "*/mean_ap") or fnmatch.fnmatch(m["name"], "*auc") for m in j["metrics"])
EOF

# ---- new and missing metrics: counted, said, --quiet shows them, --fail-on-new ----
$MXB compare base.h5 more.h5 --quiet >new.txt 2>new.err; rc=$?
check "a method added: exit 0, its 62 metrics listed as NEW even with --quiet, counted" \
  bash -c "[ $rc = 0 ] && [ \$(grep -c ' NEW$' new.txt) = 62 ] && \
           grep -q '^mxb compare: 0 metrics missing from the new file (failing), 62 only in it (not failing; --fail-on-new makes them fail)$' new.err"
$MXB compare base.h5 more.h5 --quiet --fail-on-new >/dev/null 2>>$MXB_ERR; rc=$?
check "--fail-on-new: exit 1" [ $rc = 1 ]
$MXB compare more.h5 base.h5 --quiet >/dev/null 2>miss.err; rc=$?
check "a method removed: exit 1, 62 missing counted" \
  bash -c "[ $rc = 1 ] && grep -q '^mxb compare: 62 metrics missing from the new file (failing), 0 only in it' miss.err"
check "methods differ: one warning line naming them" \
  grep -q "^mxb compare: warning: the two runs have different methods (only in the baseline: none; only in the new file: raw-attention)$" new.err

# ---- different data and image counts: warned ----
$MXB compare base.h5 other.h5 --quiet >/dev/null 2>other.err
check "different data: warnings for the data of both tests and the image counts" \
  bash -c "grep -q '^mxb compare: warning: the two runs differ in their perturbation data (data_sha256_perturbation)$' other.err && \
           grep -q '^mxb compare: warning: the two runs differ in their segmentation data (data_sha256_segmentation)$' other.err && \
           grep -q '^mxb compare: warning: the two runs differ in their number of perturbation images (selected_perturbation: 3, not 4)$' other.err"
$MXB compare base.h5 moved.h5 --quiet >/dev/null 2>same.err
check "the same data: no warning" bash -c "! grep -q warning same.err"

# ---- the configuration diff: text, JSON, page ----
$MXB compare base.h5 more.h5 >full.txt 2>>$MXB_ERR
check "text: the configuration lines that differ, - baseline + new" \
  bash -c "grep -q '^configuration and method parameters that differ (- baseline, + new):$' full.txt && \
           grep -qx '+ \[method:raw-attention\]' full.txt && grep -qx -- '- output = $T/base.h5' full.txt && \
           grep -qx '+ output = $T/more.h5' full.txt && ! grep -q '^[-+] ;' full.txt"
check "JSON: the same diff" $PY - "$T" <<'EOF'
import json, sys
T = sys.argv[1]
d = json.load(open("base_more.cmp.json"))["config_diff"]
got = {(x["side"], x["what"], x["text"]) for x in d}
assert got == {("baseline", "config", "output = %s/base.h5" % T), ("new", "config", "output = %s/more.h5" % T),
               ("new", "config", "[method:raw-attention]")}, got
EOF
$MXB compare base.h5 more.h5 --quiet --html page.html >/dev/null 2>>$MXB_ERR
check "the page: the configuration diff, escaped, and the compare checks as before" \
  bash -c "grep -q '<h2 id=\"config-diff\">' page.html && grep -q '<span class=\"new\">+ \[method:raw-attention\]</span>' page.html && \
           $PY $SRC/tests/check_html.py compare page.html base.json more.json 1e-6 0 >/dev/null"
$MXB compare base.h5 moved.h5 --quiet --html page2.html >/dev/null 2>>$MXB_ERR
check "the page says better and worse" \
  bash -c "grep -q 'MOVED, worse</td>' page2.html && grep -q 'MOVED, better</td>' page2.html && \
           grep -q 'The same in both runs' page2.html"
expect_fail 2 "mxb compare: --metrics 'nothing*' matches no metric of either file (mxb report --format csv lists them)" \
  $MXB compare base.h5 moved.h5 --metrics 'nothing*'
expect_fail 2 "mxb compare: --fail-on: 'better' is not one of any,worse (see mxb compare --help)" \
  $MXB compare base.h5 moved.h5 --fail-on better

echo "cli_compare_gate: $pass passed, $fail failed"
[ $fail -eq 0 ]
