#!/usr/bin/env bash
# Runs the fuzz targets one after another (never two at once: CI machines are small)
# for SECONDS each, on a scratch copy of the seed corpus, and fails when any target
# finds a crash, a leak, a timeout or an allocation over the malloc limit.
#   tests/fuzz/run.sh FUZZ_BIN_DIR SECONDS WORK_DIR [TARGET...]
# Per target: WORK_DIR/TARGET/{fuzz.log,corpus/,crash-*}; a summary line per target
# (executions, cov, ft, result) on stdout and in WORK_DIR/summary.tsv.
set -uo pipefail
bin=$(cd "$1" && pwd) secs=$2 work=$3; shift 3
here=$(cd "$(dirname "$0")" && pwd)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$bin"/fuzz_*; do
    t=$(basename "$f"); t=${t#fuzz_}
    # the raw-bytes weights target fuzzes libhdf5, which crashes on its own (README.md)
    [ "$t" = weights_raw ] || targets+=("$t")
  done
fi
mkdir -p "$work"; work=$(cd "$work" && pwd); export TMPDIR=${FUZZ_TMPDIR:-/dev/shm}
[ -w "$TMPDIR" ] || export TMPDIR=/tmp
printf 'target\tseconds\texecutions\tcov\tft\tresult\n' >"$work/summary.tsv"
failed=0
for t in "${targets[@]}"; do
  d="$work/$t"; rm -rf "$d"; mkdir -p "$d/corpus"
  [ -d "$here/corpus/$t" ] && cp "$here/corpus/$t"/* "$d/corpus/" 2>/dev/null
  extra=()
  case $t in # mutation scripts: one byte per object, so longer inputs from the start
    weights|gtsegs|results) extra=(-max_len=512 -len_control=0) ;;
  esac
  # -malloc_limit_mb: a file that declares a huge shape must be refused before the
  # allocation, never attempted (README.md); -timeout: one input, 30 s at most.
  # -jobs=1 -workers=1: one fuzzing process, its output in fuzz-0.log
  (cd "$d" && "$bin/fuzz_$t" -jobs=1 -workers=1 -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 \
      -malloc_limit_mb=1024 -print_final_stats=1 "${extra[@]}" -artifact_prefix="$d/" \
      corpus >driver.log 2>&1)
  rc=$?
  cat "$d/driver.log" "$d"/fuzz-0.log >"$d/fuzz.log" 2>/dev/null
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$d/fuzz.log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$d/fuzz.log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last"); ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  if [ $rc -eq 0 ]; then res=ok; else res="FAIL (exit $rc, see $d/fuzz.log)"; failed=1; fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$secs" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$res" | tee -a "$work/summary.tsv"
  [ $rc -eq 0 ] || grep -E 'ERROR|SUMMARY' "$d/fuzz.log" | head -5
done
exit $failed
