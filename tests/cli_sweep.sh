#!/usr/bin/env bash
# Sweeps (docs/METHODS-v2.md §1.5, configs/README.md): [method:ALIAS] with base = NAME
# and its own parameters. IG at 4 and 8 steps sit side by side in one run, one table,
# one figure; each alias's groups are bit for bit those of a run of the base method at
# the same parameters; the results record base and parameters; a bad alias is refused.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON; SRC=$MXB_SOURCE_DIR
T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$SRC/tests/lib_cli.sh"
cd $T
$MXB synth data --n 3 --seed 5 --size 64 --quiet
mk() { # NAME METHOD-SECTIONS...
  { printf '[run]\noutput = %s.h5\nsave_maps = yes\nfigures = 1\n' "$1"
    printf '[model:vit]\nweights = %s/models/demo_vit.h5\n' "$SRC"
    printf '[model:vim]\nweights = %s/models/demo_vim.h5\n' "$SRC"
    shift; printf '%b\n' "$@"
    printf '[perturbation]\ndata = data/images\nlabels = data/labels.txt\ntests = positive\n'
  } >$T/$1.ini 2>/dev/null
}
mk sweep '[method:ig_4]\nbase = ig\nsteps = 4' '[method:ig_8]\nbase = ig\nsteps = 8' '[method:ixg]'
mk plain4 '[method:ig]\nsteps = 4'
mk plain8 '[method:ig]\nsteps = 8'
for c in sweep plain4 plain8; do $MXB run $c.ini --quiet >/dev/null 2>>$MXB_ERR; done
check "a run with two aliases of ig and ixg writes its file" [ -f sweep.h5 ]
for model in vit vim; do
  for s in 4 8; do
    check "$model: ig_$s's groups = a run of ig at steps=$s, bit for bit" \
      h5diff -q sweep.h5 plain$s.h5 /perturbation/$model/ig_$s /perturbation/$model/ig
  done
  check "$model: the two aliases differ (steps matter)" bash -c \
    "! h5diff -q sweep.h5 sweep.h5 /perturbation/$model/ig_4 /perturbation/$model/ig_8"
done
check "the results record each alias's base and resolved parameters" $PY - <<PYEOF
import h5py
a = h5py.File("sweep.h5").attrs
s = lambda k: a[k].decode() if isinstance(a[k], bytes) else a[k]
ok = s("method_base_ig_4") == "ig" and s("method_base_ig_8") == "ig" and "method_base_ixg" not in a
ok = ok and s("method_params_ig_4").startswith("steps=4 ") and s("method_params_ig_8").startswith("steps=8 ")
ok = ok and "ig_4: base ig" in s("code") and "ig_8: base ig" in s("code")
raise SystemExit(0 if ok else 1)
PYEOF
$MXB report sweep.h5 >report.md 2>>$MXB_ERR
check "one table: rows ig_4, ig_8 and ixg" bash -c "grep -q '^| ig_4 ' report.md && grep -q '^| ig_8 ' report.md && grep -q '^| ixg ' report.md"
$MXB report sweep.h5 --format tex >report.tex 2>>$MXB_ERR
check "tex: the aliases' rows with _ escaped (ig\\_4, ig\\_8)" bash -c "grep -q '^ig\\\\_4 & ' report.tex && grep -q '^ig\\\\_8 & ' report.tex"
$MXB report sweep.h5 --figures figs >/dev/null 2>>$MXB_ERR
# (cairo's SVG draws text as glyph outlines: an alias's name is not in the file as
# text; an earlier grep for 'ig4' here matched base64 image data by chance)
check "one figure: the sweep's perturbation curves drawn (PNG + SVG)" bash -c "[ -s figs/perturbation.png ] && [ -s figs/perturbation.svg ]"

mk nobase '[method:ig16]\nbase = nosuch'
expect_fail 2 "[method:ig16] base = nosuch is not a known method" $MXB run nobase.ini
mk taken '[method:ixg]\nbase = ig\nsteps = 4'
expect_fail 2 "[method:ixg] base = ig: 'ixg' is another method's name" $MXB run taken.ini
mk badname '[method:ig16]\nbase = ../ig'
expect_fail 2 "is not a method name" $MXB run badname.ini
mk badparam '[method:ig16]\nbase = ig\nsteps = 0'
expect_fail 2 "[method:ig16]: method 'ig' parameter 'steps'" $MXB run badparam.ini
mk unknown '[method:ig16]\nsteps = 4'
expect_fail 2 "an alias names its method with base = NAME" $MXB run unknown.ini
check "nothing written by the refused runs" bash -c "! ls nobase.h5 taken.h5 badname.h5 badparam.h5 unknown.h5 2>/dev/null | grep -q ."

echo "cli_sweep: $pass passed, $fail failed"
[ $fail -eq 0 ]
