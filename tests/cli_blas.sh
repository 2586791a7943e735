#!/usr/bin/env bash
# The BLAS start-up check (engine/blas.c): mxb --version names the BLAS and its kernel
# set; a user's OPENBLAS_CORETYPE is obeyed and noted; the restart with
# OMP_WAIT_POLICY=passive reaches libgomp (its own OMP_DISPLAY_ENV report, not mxb's
# word) directly and through an explicit loader (the portable bundle's way); a user's
# OMP_WAIT_POLICY is kept. (The OPENBLAS_CORETYPE restart itself needs a CPU that the
# library does not know; it ran on the 16-core Xeon: docs/SPEED.md.)
set -uo pipefail
MXB=$MXB_EXE; T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$MXB_SOURCE_DIR/tests/lib_cli.sh"

v=$($MXB --version)
check "--version has a BLAS line with the library, its version and kernel set" \
  grep -Eq '^BLAS: (OpenBLAS|BLIS|oneDNN) [0-9][0-9.]*, kernels [A-Za-z]' <<<"$v"
if grep -q '^BLAS: OpenBLAS' <<<"$v" && grep -qw avx2 /proc/cpuinfo; then
  pv=$(OPENBLAS_CORETYPE=Prescott $MXB --version 2>$T/err)
  check "OPENBLAS_CORETYPE=Prescott is obeyed and reported" grep -q 'kernels Prescott;.*OPENBLAS_CORETYPE=Prescott set by the user' <<<"$pv"
  check "... with no extra stderr line" [ ! -s $T/err ]
  kv=$(env -u OPENBLAS_CORETYPE $MXB --version)
  check "left to itself on an AVX2 CPU, OpenBLAS runs no pre-AVX2 kernels" \
    bash -c "! grep -Eiq 'kernels (Prescott|Katmai|Core2|Penryn|Nehalem|Atom|Barcelona|Opteron|SandyBridge|Bulldozer)' <<<'$kv'"
fi

spin() { env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_DISPLAY_ENV=verbose "$@" --version 2>&1 | sed -n "s/.*GOMP_SPINCOUNT = '\([0-9]*\)'.*/\1/p" | tail -1; }
check "restarted with OMP_WAIT_POLICY=passive: libgomp does not spin" [ "$(spin $MXB)" = 0 ]
check "... and says so in --version" bash -c "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT $MXB --version | grep -q 'OMP_WAIT_POLICY=passive set by mxb'"
lib=$(ldd $MXB | awk '/libopenblas|libgomp/ {print $3; exit}')
ldso=$(ldd $MXB | awk '/ld-linux/ {print $1}')
if [ -n "$lib" ] && [ -x "$ldso" ]; then
  check "the restart works through an explicit loader (ld.so --library-path)" \
    [ "$(spin $ldso --library-path $(dirname $lib) $MXB)" = 0 ]
fi
check "a user's OMP_WAIT_POLICY=active is kept" \
  [ "$(OMP_WAIT_POLICY=active OMP_DISPLAY_ENV=verbose $MXB --version 2>&1 | sed -n "s/.*GOMP_SPINCOUNT = '\([0-9]*\)'.*/\1/p")" != 0 ]

echo "cli_blas: $pass passed, $fail failed"
[ $fail -eq 0 ]
