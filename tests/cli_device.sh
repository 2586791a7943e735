#!/usr/bin/env bash
# --device (issue 27): mxb --version says whether CUDA is compiled in and which GPUs
# the driver shows; asking for a GPU that is not there is one line and exit 2; auto
# falls back to the CPU with one line and gives the CPU's answer; a malformed device is
# an option error. The same for mxb run's --device and [run] device. On a machine with a GPU the no-GPU cases are left out (the GPU's own
# checks: tests/test_gpu.c, make -f Makefile.ci gpu-check).
set -uo pipefail
MXB=$MXB_EXE
T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$MXB_SOURCE_DIR/tests/lib_cli.sh"

$MXB --version >$T/ver 2>>$MXB_ERR; rc=$?
check "mxb --version: exit 0" [ $rc -eq 0 ]
cuda=$(grep '^CUDA: ' $T/ver)
check "mxb --version has one CUDA line: $cuda" [ "$(grep -c '^CUDA: ' $T/ver)" -eq 1 ]
if [ "$cuda" = "CUDA: not compiled in (cmake -DMXB_CUDA=ON builds it)" ]; then
  why="this mxb was built without CUDA"
else
  check "the CUDA line names the build: CUDA N.N, cuBLAS, sm_NN" \
    bash -c "grep -qE '^CUDA: CUDA [0-9]+\.[0-9]+, cuBLAS, sm_[0-9]+; ' $T/ver"
  why="no CUDA GPU visible"
fi
gpus=$(grep -c '^  cuda:[0-9]' $T/ver)

$MXB synth $T/d --n 1 --seed 1 --size 16 >/dev/null 2>>$MXB_ERR
W="$MXB_SOURCE_DIR/models/demo_vit.h5" # it has its evaluation transform: predict says nothing else
P=(predict --weights "$W" --image $T/d/images/synth_000000.png --top 3)
$MXB "${P[@]}" >$T/cpu 2>>$MXB_ERR
check "predict on the CPU (no --device)" [ -s $T/cpu ]
$MXB "${P[@]}" --device cpu >$T/cpu2 2>>$MXB_ERR
check "--device cpu: the same answer" cmp -s $T/cpu $T/cpu2

expect_fail 2 "mxb predict: --device 'gpu': expected cpu, cuda, cuda:N or auto (see mxb predict --help)" \
  $MXB "${P[@]}" --device gpu
expect_fail 2 "mxb predict: --device 'cuda:x': expected cpu, cuda, cuda:N or auto" $MXB "${P[@]}" --device cuda:x
expect_fail 2 "mxb predict: --device 'cuda:': expected cpu, cuda, cuda:N or auto" $MXB "${P[@]}" --device cuda:
if [ "$gpus" -eq 0 ]; then
  expect_fail 2 "mxb predict: --device cuda: $why" $MXB "${P[@]}" --device cuda
  expect_fail 2 "mxb predict: --device cuda:1: $why" $MXB "${P[@]}" --device cuda:1
  $MXB "${P[@]}" --device auto >$T/auto 2>$T/err; rc=$?
  check "--device auto without a GPU: exit 0, one line '...; running on the CPU'" \
    bash -c "[ $rc -eq 0 ] && [ \$(wc -l <$T/err) -eq 1 ] && grep -q '^mxb predict: --device auto: $why.*; running on the CPU\$' $T/err"
  check "--device auto without a GPU: the CPU's answer" cmp -s $T/cpu $T/auto
else
  expect_fail 2 "mxb predict: --device cuda:$gpus: the driver shows $gpus GPU" $MXB "${P[@]}" --device cuda:$gpus
fi

# mxb run --device / [run] device: the same words; a GPU asked for and not there stops the
# run before any work (no results, no journal); auto runs on the CPU with one line, and
# its file is the CPU run's (the same bits, the same code key: the CPU adds nothing to it)
cat >$T/run.ini <<EOF
[run]
output = cpu.h5
figures = 0
[model:vit]
weights = $W
[method:raw-attention]
[perturbation]
data = d/images
labels = d/labels.txt
EOF
attr() { h5dump -a "$2" "$1" 2>/dev/null | sed -n 's/^ *(0): "\(.*\)"$/\1/p'; }
R=(run $T/run.ini --quiet)
$MXB "${R[@]}" >/dev/null 2>>$MXB_ERR
check "mxb run on the CPU (no --device): its file, provenance device = cpu" \
  bash -c "[ -e $T/cpu.h5 ] && [ \"\$($(declare -f attr); attr $T/cpu.h5 device)\" = cpu ]"
expect_fail 2 "mxb run: --device 'gpu': expected cpu, cuda, cuda:N or auto (see mxb run --help)" \
  $MXB "${R[@]}" --device gpu --set run.output=x.h5
expect_fail 2 "mxb run: $T/run.ini: --set run.device: 'cuda:-1' is not cpu, cuda, cuda:N or auto" \
  $MXB "${R[@]}" --set run.device=cuda:-1 --set run.output=x.h5
if [ "$gpus" -eq 0 ]; then
  expect_fail 2 "mxb run: --device cuda: $why" $MXB "${R[@]}" --device cuda --set run.output=x.h5
  expect_fail 2 "mxb run: [run] device = cuda:0: $why" $MXB "${R[@]}" --set run.device=cuda:0 --set run.output=x.h5
  check "a GPU refused: no results file, no journal" bash -c "[ ! -e $T/x.h5 ] && [ ! -e $T/x.h5.journal ]"
  $MXB "${R[@]}" --device auto --set run.output=auto.h5 >/dev/null 2>$T/err; rc=$?
  # (the label trap's warning aside: the demo ViT misses the one synthetic image)
  check "mxb run --device auto without a GPU: exit 0, one line '...; running on the CPU'" \
    bash -c "[ $rc -eq 0 ] && [ \$(grep -vc '^mxb run: warning: ' $T/err) -eq 1 ] && grep -q '^mxb run: --device auto: $why.*; running on the CPU\$' $T/err"
  check "--device auto without a GPU: the CPU run's bits, code key and device" \
    bash -c "$(declare -f attr); h5diff -q $T/cpu.h5 $T/auto.h5 /perturbation /perturbation &&
      [ \"\$(attr $T/cpu.h5 code_key)\" = \"\$(attr $T/auto.h5 code_key)\" ] && [ \"\$(attr $T/auto.h5 device)\" = cpu ]"
else
  expect_fail 2 "mxb run: --device cuda:$gpus: the driver shows $gpus GPU" \
    $MXB "${R[@]}" --device cuda:$gpus --set run.output=x.h5
fi

echo "cli_device: $pass passed, $fail failed"
[ $fail -eq 0 ]
