#!/usr/bin/env bash
# libmxb's public surface: every symbol the library defines for others to link
# starts with mxb_ (a program or plugin linking it cannot collide with a name like
# "vit_forward"); what is not meant for others is static.
set -uo pipefail
SRC=$MXB_SOURCE_DIR; T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$SRC/tests/lib_cli.sh"
LIB=$MXB_BINARY_DIR/libmxb.a
check "libmxb.a is built" test -s "$LIB"
nm -g --defined-only "$LIB" 2>/dev/null | awk 'NF == 3 && $2 ~ /^[TDBRVWGS]$/ {print $3}' | sort -u >$T/syms
check "nm lists the library's exported symbols" test "$(wc -l <$T/syms)" -gt 50
# (an ASan build adds __odr_asan.NAME beside each instrumented global: the sanitizer's, not ours)
bad=$(grep -v '^mxb_' $T/syms | grep -v '^__odr_asan\.mxb_' | tr '\n' ' ')
check "every exported symbol starts with mxb_ (not: $bad)" test -z "$bad"
# the check itself: an object with an unprefixed global must be caught
printf 'int vit_forward_twin(void) { return 1; }\n' >$T/x.c && cc -c $T/x.c -o $T/x.o
nm -g --defined-only $T/x.o | awk 'NF == 3 && $2 ~ /^[TDBRVWGS]$/ {print $3}' | grep -v '^mxb_' >$T/caught
check "the check sees an unprefixed global (vit_forward_twin)" grep -qx vit_forward_twin $T/caught
echo "cli_symbols: $pass passed, $fail failed"
[ $fail -eq 0 ]
