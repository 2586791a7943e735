#!/usr/bin/env bash
# Runs the fuzz targets FUZZ_JOBS at a time (default 2: one per core of the 2-core CI
# machine; each target is one single-threaded process) for SECONDS each, on a scratch
# copy of the seed corpus, and fails when any target finds a crash, a leak, a timeout or
# an allocation over the malloc limit.
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
one() { # one TARGET: fuzz it; its summary line in TARGET/summary.line, its failure in TARGET/failed
  local t=$1 d="$work/$1"
  rm -rf "$d"; mkdir -p "$d/corpus"
  [ -d "$here/corpus/$t" ] && cp "$here/corpus/$t"/* "$d/corpus/" 2>/dev/null
  local extra=()
  case $t in # mutation scripts: one byte per object, so longer inputs from the start
    weights|gtsegs|results) extra=(-max_len=512 -len_control=0) ;;
  esac
  # -malloc_limit_mb: a file that declares a huge shape must be refused before the
  # allocation, never attempted (README.md); -timeout: one input, 30 s at most.
  # -jobs=1 -workers=1: one fuzzing process, its output in fuzz-0.log
  (cd "$d" && "$bin/fuzz_$t" -jobs=1 -workers=1 -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 \
      -malloc_limit_mb=1024 -print_final_stats=1 "${extra[@]}" -artifact_prefix="$d/" \
      corpus >driver.log 2>&1)
  local rc=$?
  cat "$d/driver.log" "$d"/fuzz-0.log >"$d/fuzz.log" 2>/dev/null
  local execs last cov ft res
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$d/fuzz.log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$d/fuzz.log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last"); ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  if [ $rc -eq 0 ]; then res=ok; else res="FAIL (exit $rc, see $d/fuzz.log)"; : >"$d/failed"; fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$secs" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$res" >"$d/summary.line"
}
jobs_max=${FUZZ_JOBS:-2}
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
  one "$t" &
done
wait
failed=0
for t in "${targets[@]}"; do # in the targets' order, whichever finished first
  d="$work/$t"
  cat "$d/summary.line" 2>/dev/null | tee -a "$work/summary.tsv"
  if [ -e "$d/failed" ] || [ ! -e "$d/summary.line" ]; then
    failed=1; grep -E 'ERROR|SUMMARY' "$d/fuzz.log" 2>/dev/null | head -5
  fi
done
exit $failed
