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
check "the catalogue has its cases" [ $n -ge 50 ]

echo "cli_badinputs: $pass passed, $fail failed"
[ $fail -eq 0 ]
