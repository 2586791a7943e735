#!/usr/bin/env bash
# Every case of tests/bad-inputs/CATALOGUE.tsv: the malformed inputs are made from
# small valid files by tests/bad-inputs/make_inputs.py, each command is run in that
# folder, and must exit with the catalogue's code, print exactly the catalogue's one
# stderr line, and leave no output that looks complete: neither the file it was asked
# to write nor any *.partial-* temporary.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON; HERE=$MXB_SOURCE_DIR/tests/bad-inputs
T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$MXB_SOURCE_DIR/tests/lib_cli.sh"
if ! $PY $HERE/make_inputs.py $T/in $MXB $MXB_SOURCE_DIR >$T/make.log 2>&1; then
  cat $T/make.log; echo "cli_badinputs: make_inputs.py failed"; exit 1
fi
cd $T/in
n=0
while IFS=$'\t' read -r name how cmd code mustnot want; do
  [ "$name" = case ] && continue
  n=$((n+1))
  # "mxb ..." or "env VAR=... mxb ...": the first word mxb is the binary under test
  run=$(sed "s#\(^\| \)mxb #\1$MXB #" <<<"$cmd")
  before=$(ls -A | sort)
  eval "$run" >$T/out 2>$T/err; rc=$?
  got=$(cat $T/err)
  if [ $rc -eq "$code" ] && [ "$got" = "$want" ] && [ "$(wc -l <$T/err)" -eq 1 ]; then
    ok "$name: exit $code, '$want'"
  else
    bad "$name: expected exit $code and '$want', got $rc and '$got'"
  fi
  if [ "$mustnot" != - ]; then
    check "$name: no $mustnot left" [ ! -e "$mustnot" ]
  fi
  partial=$(ls -A | grep -F .partial- || true)
  check "$name: no partial output left" [ -z "$partial" ]
  # nothing else new either: a failed command writes nothing
  after=$(ls -A | sort)
  check "$name: no new files" [ "$before" = "$after" ]
done <$HERE/CATALOGUE.tsv
check "the catalogue has its cases" [ $n -ge 110 ]

# ---- data safety: what a killed run leaves, and whose results a file holds ----
reads() { $MXB report "$1" --format csv >/dev/null 2>>$MXB_ERR; } # a complete results file
# SIGKILL at random points: never a file at the output name that is not complete
# (results are written to a temporary and renamed), only the journal to resume from
for k in 1 2 3 4 5 6; do
  (timeout -s KILL 0.0$((RANDOM % 9 + 1)) $MXB run run.ini --quiet --set run.output=k.h5 >/dev/null 2>>$MXB_ERR) 2>/dev/null
  if [ -e k.h5 ]; then
    check "killed run $k: a file at the output name is complete" reads k.h5
  else
    ok "killed run $k: nothing at the output name"
  fi
done
# a journal left by one configuration is never appended to by another: the run is
# killed (SIGKILL) right after its first journal record (a timer raced a 50 ms run)
rm -f k.h5 k.h5.journal
(MXB_TEST_KILL_AFTER_RECORDS=1 $MXB run run.ini --quiet --set run.output=k.h5 >/dev/null 2>>$MXB_ERR) 2>/dev/null
check "a killed run left no results file" [ ! -e k.h5 ]
check "a killed run left its journal" [ -e k.h5.journal ]
expect_fail 2 "./k.h5.journal: belongs to a run with a different configuration; refusing to mix results" \
  $MXB run run.ini --quiet --set run.output=k.h5 --set run.seed=7
check "the other configuration wrote nothing" [ ! -e k.h5 ]
$MXB run run.ini --quiet --set run.output=k.h5 >/dev/null 2>>$MXB_ERR
check "the killed run resumed to a complete file" reads k.h5
check "resumed: the same results as the uninterrupted run" cmp -s <($MXB report k.h5 --format csv) <($MXB report good.h5 --format csv)
check "resumed: no journal left" [ ! -e k.h5.journal ]
# the weights' SHA-256 in the configuration: the right one is accepted, and recorded
sha=$(sha256sum vit.h5 | cut -d' ' -f1)
$MXB run run.ini --quiet --set run.output=s.h5 --set model:deit.sha256=$sha >/dev/null 2>>$MXB_ERR
check "the right sha256 runs" [ -e s.h5 ]
check "provenance names the weights' SHA-256" $PY -c "
import h5py, sys; a = h5py.File('s.h5').attrs['models_sha256']
sys.exit(0 if 'deit=$sha' in (a.decode() if isinstance(a, bytes) else a) else 1)"
# a complete file of this very configuration is kept, not overwritten
cp s.h5 s.before
$MXB run run.ini --quiet --set run.output=s.h5 --set model:deit.sha256=$sha >/dev/null 2>s.err
check "a finished run is not redone and its file not touched" cmp -s s.h5 s.before
check "it says so" grep -q "already complete" s.err

echo "cli_badinputs: $pass passed, $fail failed"
[ $fail -eq 0 ]
