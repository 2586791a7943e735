#!/usr/bin/env bash
# --device (issue 27): mxb --version says whether CUDA is compiled in and which GPUs
# the driver shows; asking for a GPU that is not there is one line and exit 2; auto
# falls back to the CPU with one line and gives the CPU's answer; a malformed device is
# an option error. On a machine with a GPU the no-GPU cases are left out (the GPU's own
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

echo "cli_device: $pass passed, $fail failed"
[ $fail -eq 0 ]
