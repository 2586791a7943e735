#!/usr/bin/env bash
# Out of memory is a clean exit: with MXB_TEST_OOM_AFTER=N (io/alloc.c, tests only) the
# configuration-bounded allocation after the first N fails. For N from 0 until the
# command succeeds, `mxb run` (the valgrind target's tiny run: both tests, figures,
# attention) and `mxb report --html --figures` must either succeed or end with exit 3
# and one "out of memory" line last on stderr, never anything else, and leave no
# temporary file (*.partial*) behind; the run's journal stays (it resumes).
set -uo pipefail
SRC=$MXB_SOURCE_DIR; MXB=$MXB_EXE; T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$SRC/tests/lib_cli.sh"
export OMP_NUM_THREADS=2
$MXB synth $T/data --n 2 --seed 1 --size 16 >/dev/null 2>>$MXB_ERR
# the tiny models have 3 classes
awk '{print $1, $2 % 3}' $T/data/labels.txt >$T/labels3.txt
run() { # run DIR: the tiny run writing DIR/results.h5
  $MXB run "$SRC/tests/valgrind/run.ini" --quiet --set run.output=$1/results.h5 \
    --set perturbation.data=$T/data/images --set perturbation.labels=$T/labels3.txt \
    --set segmentation.data=$T/data/gtsegs_synth.mat
}
report() { $MXB report $T/ok/results.h5 --curves --figures $1/figs --html $1/page.html; }

# sweep CMD: N = 0, 1, 2, ... (growing steps) until CMD succeeds
sweep() {
  local cmd=$1 n=0 rc ooms=0 bad_runs="" i
  for i in $(seq 1 80); do
    local d=$T/$cmd-$n; mkdir -p $d/figs
    MXB_TEST_OOM_AFTER=$n $cmd $d >/dev/null 2>$d.err; rc=$?
    left=$(find $d -name '*.partial*' | tr '\n' ' ')
    if [ -n "$left" ]; then bad_runs+="N=$n left $left; "; fi
    if [ $rc -eq 0 ]; then break; fi
    if [ $rc -ne 3 ] || ! tail -n 1 $d.err | grep -q '^mxb: out of memory: .* bytes for ' \
       || [ "$(grep -c 'out of memory' $d.err)" -ne 1 ]; then
      bad_runs+="N=$n exit $rc: $(tail -n 1 $d.err); "
    fi
    ooms=$((ooms + 1))
    n=$((n + 1 + n / 6))
  done
  echo "$ooms ${rc} $bad_runs"
}
read -r ooms rc bad <<<"$(sweep run)"
check "mxb run: every injected out of memory exits 3 with one line, no temporary left ($bad)" test -z "$bad"
check "mxb run: the sweep reached success (exit $rc) after $ooms injected failures" test "$rc" -eq 0
check "mxb run: at least 5 allocation sites were made to fail ($ooms)" test "$ooms" -ge 5
# a run stopped after its journal opened keeps it (which N that is moves with the code)
kept=$(find $T -path "$T/run-*" -name results.h5.journal -size +0 | wc -l)
check "mxb run: the journal of a stopped run stays ($kept runs kept theirs)" test "$kept" -ge 1
mkdir -p $T/ok && run $T/ok >/dev/null 2>&1
check "the tiny run succeeds without injection" test -s $T/ok/results.h5
read -r ooms rc bad <<<"$(sweep report)"
check "mxb report: every injected out of memory exits 3 with one line, no temporary left ($bad)" test -z "$bad"
check "mxb report: the sweep reached success (exit $rc)" test "$rc" -eq 0
echo "cli_oom: $pass passed, $fail failed"
[ $fail -eq 0 ]
