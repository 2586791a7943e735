#!/usr/bin/env bash
# Every command's --help: exit 0, the usage on stdout, nothing on stderr; every
# command's option errors: exit 2, one stderr line naming the command and the option
# and pointing to its --help; numbers parsed strictly by the one shared parser.
set -uo pipefail
MXB=$MXB_EXE
T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$MXB_SOURCE_DIR/tests/lib_cli.sh"

$MXB --help >$T/out 2>$T/err; rc=$?
check "mxb --help: exit 0, stdout, no stderr" [ $rc -eq 0 -a -s $T/out -a ! -s $T/err ]
cmds=$(sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' $T/out)
check "mxb --help lists the commands" [ "$(wc -w <<<"$cmds")" -ge 11 ]
for c in $cmds; do
  for h in --help -h; do
    $MXB $c $h >$T/out 2>$T/err; rc=$?
    check "mxb $c $h: exit 0, usage on stdout, nothing on stderr" \
      bash -c "[ $rc -eq 0 ] && [ ! -s $T/err ] && grep -q '^usage: mxb' $T/out"
  done
  expect_fail 2 "mxb $c: unknown option '--no-such-option' (see mxb $c --help)" $MXB $c --no-such-option
done
expect_fail 2 "mxb: unknown option '--frobnicate' (see mxb --help)" $MXB --frobnicate
expect_fail 2 "mxb: unknown command 'explian' (see mxb --help)" $MXB explian

# one shared, strict number parser
for v in 0 -1 abc 3x 1e "" 1.5 " 3" 99999999999999999999; do
  expect_fail 2 "mxb predict: --top: '$v' is not a positive integer (see mxb predict --help)" \
    $MXB predict --weights w.h5 --image i.png --top "$v"
done
expect_fail 2 "mxb predict: --top: '100001' is out of range [1, 100000] (see mxb predict --help)" \
  $MXB predict --weights w.h5 --image i.png --top 100001
for v in 1e nan inf -1 0x10 ""; do
  expect_fail 2 "mxb compare: --tolerance: '$v' is not a non-negative number (see mxb compare --help)" \
    $MXB compare a.h5 b.h5 --tolerance "$v"
done
expect_fail 2 "mxb synth: --n: '1000000' is out of range [0, 999999] (see mxb synth --help)" $MXB synth $T/s --n 1000000
expect_fail 2 "mxb explain: --class: '-3' is not a non-negative integer (see mxb explain --help)" \
  $MXB explain --weights w.h5 --tensor t.h5 --method rollout --class -3
expect_fail 2 "mxb run: --shard: '1/2x' is not I/N with 0 <= I < N (see mxb run --help)" $MXB run x.ini --shard 1/2x
expect_fail 2 "mxb bench: --reps: '2x' is not a positive integer (see mxb bench --help)" $MXB bench --reps 2x
# --name=value is the same as --name value; a value is never taken from nowhere
expect_fail 2 "mxb predict: --top: 'x' is not a positive integer (see mxb predict --help)" \
  $MXB predict --weights w.h5 --image i.png --top=x
expect_fail 2 "mxb predict: --top needs a value (see mxb predict --help)" $MXB predict --weights w.h5 --top
expect_fail 2 "mxb predict: --weights needs a value (see mxb predict --help)" $MXB predict --weights --image i.png
expect_fail 2 "mxb predict: --top: '1?2' is not a positive integer (see mxb predict --help)" \
  $MXB predict --weights w.h5 --image i.png --top "$(printf '1\n2')"
expect_fail 2 "mxb predict: --top given twice (see mxb predict --help)" $MXB predict --top 3 --top 4
expect_fail 2 "mxb run: --quiet takes no value (see mxb run --help)" $MXB run x.ini --quiet=yes
expect_fail 2 "mxb report: unexpected argument 'b.h5' (see mxb report --help)" $MXB report a.h5 b.h5
expect_fail 2 "mxb predict: give one of --image, --images or --tensor (see mxb predict --help)" $MXB predict --weights w.h5
expect_fail 2 "mxb explain: --method is missing (see mxb explain --help)" $MXB explain --weights w.h5 --image i.png
expect_fail 2 "mxb explain: --variant: 'fast' is not one of official,exact,uia,uia-noconv,uia-nogate,uia-noact (see mxb explain --help)" \
  $MXB explain --weights w.h5 --image i.png --method rollout --variant fast

echo "cli_help: $pass passed, $fail failed"
[ $fail -eq 0 ]
