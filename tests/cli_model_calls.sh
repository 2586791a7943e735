#!/usr/bin/env bash
# The method ABI v2 model calls with several images in flight (docs/METHODS-v2.md §8):
# the test plugin tests/plugins/model_calls.c makes the LRP methods through relevance()
# on its own run (its own traced context); `mxb run` with 2 images in flight gives the
# same bits as with 1, and each plugin map is the built-in's, bit for bit, in the file.
set -uo pipefail
MXB=$MXB_EXE; P=$MXB_PLUGIN_DIR/libmodel_calls.so
T=$(mktemp -d); trap 'rm -rf $T' EXIT
cp -r $MXB_TESTDATA/run/. $T/; cd $T
. "$MXB_SOURCE_DIR/tests/lib_cli.sh"
SETS=(--set run.save_maps=yes --set run.insertion_deletion_step=64)

mk() { # NAME MODEL METHOD...: run.ini's [run], data and evaluation sections with one model
  local name=$1 model=$2; shift 2
  { sed -n '1,/^\[model:/p' run.ini | sed '$d'
    printf '[model:%s]\nweights = %s.h5\n\n' "$model" "$model"
    for me in "$@"; do
      printf '[method:%s]\n' "$me"
      case $me in calls-*) printf 'plugin = %s\n' "$P" ;; esac
      echo
    done
    sed -n '/^\[perturbation\]/,$p' run.ini
  } >"$name.ini"
}
mk vit deit calls-lrp-partial calls-lrp-full calls-attribution lrp-partial lrp-full attribution
mk vim vim calls-mambalrp mambalrp

same() { # every results group of two files, bit for bit (provenance aside)
  for g in /perturbation /segmentation; do h5diff -q "$1" "$2" $g $g || return 1; done
  $MXB compare "$1" "$2" --tolerance 0 >/dev/null 2>>$MXB_ERR
}
for cfg in vit vim; do
  OMP_NUM_THREADS=2 $MXB run $cfg.ini --quiet --in-flight 1 "${SETS[@]}" --set run.output=$cfg-1.h5 >/dev/null 2>$cfg-1.err
  check "$cfg: the plugin's methods run with 1 image in flight" [ -e $cfg-1.h5 ]
  OMP_NUM_THREADS=2 $MXB run $cfg.ini --quiet --in-flight 2 "${SETS[@]}" --set run.output=$cfg-2.h5 >/dev/null 2>$cfg-2.err
  check "$cfg: 2 images in flight give the same bits as 1" same $cfg-1.h5 $cfg-2.h5
done
# in one file, each plugin method's groups (maps, curves, AUCs) = the built-in's
pair() { # FILE MODEL METHOD
  for t in perturbation segmentation; do
    h5diff -q "$1" "$1" /$t/$2/calls-$3 /$t/$2/$3 || return 1
  done
}
for me in lrp-partial lrp-full attribution; do
  check "vit: calls-$me's maps and scores = $me's, bit for bit" pair vit-2.h5 deit $me
done
check "vim: calls-mambalrp's maps and scores = mambalrp's, bit for bit" pair vim-2.h5 vim mambalrp
# the pair check can fail: two different methods differ
check "(the pair check sees a difference: lrp-partial vs lrp-full)" bash -c \
  "! h5diff -q vit-1.h5 vit-1.h5 /perturbation/deit/lrp-partial /perturbation/deit/lrp-full"
# mxb methods prices a plugin's cost() at DeiT-S with its derived fields filled in:
# calls-attribution's scratch is 12 x 197^2 floats + 3 x 197 doubles + 128 + one-hot 4000 + 64
check "mxb methods: calls-attribution's scratch at deit-s (seq_len 197)" bash -c \
  "$MXB --plugin $P methods | grep -A1 '^calls-attribution' | grep -q '1 backwards, 0 plain forwards, 1 LRP passes, 1871752 scratch bytes'"
echo "cli_model_calls: $pass passed, $fail failed"
[ $fail -eq 0 ]
