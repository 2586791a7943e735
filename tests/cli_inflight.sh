#!/usr/bin/env bash
# mxb run with several images in flight (issue #13): the results file holds the same
# bits whatever the number of images in flight and the thread count (ViT and ViM,
# perturbation with insertion/deletion, segmentation, saved maps and attention), a
# killed run with 2 in flight resumes to the same file, bad values are refused and an
# explicit count over the memory limit is refused with the parts named.
set -uo pipefail
MXB=$MXB_EXE
T=$(mktemp -d); trap 'rm -rf $T' EXIT
cp -r $MXB_TESTDATA/run/. $T/; cd $T
. "$MXB_SOURCE_DIR/tests/lib_cli.sh"
SETS=(--set run.save_maps=yes --set run.insertion_deletion_step=64 --set run.save_attention=2)
same() { # every results group and the attention of two files, bit for bit (provenance aside)
  for g in /perturbation /segmentation /attention; do h5diff -q "$1" "$2" $g $g || return 1; done
  $MXB compare "$1" "$2" --tolerance 0 >/dev/null 2>>$MXB_ERR
}
attr() { h5dump -a "$2" "$1" 2>/dev/null | sed -n 's/^ *(0): "\(.*\)"$/\1/p'; }

OMP_NUM_THREADS=1 $MXB run run.ini --quiet --in-flight 1 "${SETS[@]}" --set run.output=ref.h5 >/dev/null 2>>$MXB_ERR
check "the reference run (1 thread, 1 image in flight) wrote its file" [ -e ref.h5 ]
check "its provenance says 1 image in flight" [ "$(attr ref.h5 images_in_flight)" = 1 ]
for thr in 1 2 4; do
  for n in 1 2 3; do
    [ $thr = 1 ] && [ $n = 1 ] && continue
    # under the sanitisers one of each way the loop can run: 1 in flight on 2 threads, 3 in
    # flight of 1 thread each (more than the cores), 2 in flight of 2 threads (two levels)
    sanitised && [[ " 2-1 1-3 4-2 " != *" $thr-$n "* ]] && continue
    OMP_NUM_THREADS=$thr $MXB run run.ini --quiet --in-flight $n "${SETS[@]}" --set run.output=r$thr-$n.h5 >/dev/null 2>>$MXB_ERR
    check "$thr threads, $n in flight: the same bits as 1 x 1 (and provenance says $n)" \
      bash -c "$(declare -f same attr); MXB=$MXB; same ref.h5 r$thr-$n.h5 && [ \"\$(attr r$thr-$n.h5 images_in_flight)\" = $n ]"
  done
done
# more threads an image than perturbation steps (12 / 1: the engine gets 12, the steps 9), and two levels
for n in $(sanitised && echo 2 || echo 1 2); do
  OMP_NUM_THREADS=12 $MXB run run.ini --quiet --in-flight $n "${SETS[@]}" --set run.output=r12-$n.h5 >/dev/null 2>>$MXB_ERR
  check "12 threads, $n in flight: the same bits" same ref.h5 r12-$n.h5
done
OMP_NUM_THREADS=4 $MXB run run.ini --quiet "${SETS[@]}" --set run.output=auto.h5 >/dev/null 2>>$MXB_ERR
check "auto on 4 threads: 4 images in flight, the same bits" \
  bash -c "$(declare -f same attr); MXB=$MXB; same ref.h5 auto.h5 && [ \"\$(attr auto.h5 images_in_flight)\" = 4 ]"
OMP_NUM_THREADS=2 $MXB run run.ini --quiet "${SETS[@]}" --set run.images_in_flight=3 --set run.output=key.h5 >/dev/null 2>>$MXB_ERR
check "[run] images_in_flight = 3: 3 in flight, the same bits" \
  bash -c "$(declare -f same attr); MXB=$MXB; same ref.h5 key.h5 && [ \"\$(attr key.h5 images_in_flight)\" = 3 ]"
OMP_NUM_THREADS=2 $MXB run run.ini "${SETS[@]}" --set run.output=said.h5 >/dev/null 2>said.err
check "the closing line says how the threads were shared" grep -q "units, .* s, 2 images in flight x 1 thread)$" said.err

# ---- killed with 2 in flight, resumed (with 2, then finished) ----
# SIGKILL right after the 5th journal record (a timer raced the run on fast machines)
rm -f kill.h5 kill.h5.journal
MXB_TEST_KILL_AFTER_RECORDS=5 OMP_NUM_THREADS=2 $MXB run run.ini --quiet --in-flight 2 "${SETS[@]}" --set run.output=kill.h5 >/dev/null 2>>$MXB_ERR
check "killed with 2 in flight: no results file, a journal" [ ! -e kill.h5 -a -e kill.h5.journal ]
OMP_NUM_THREADS=2 $MXB run run.ini --in-flight 2 "${SETS[@]}" --set run.output=kill.h5 >/dev/null 2>resume.err
stopped=0; grep -q "resuming ./kill.h5: 5 of 34 units already done" resume.err && stopped=1
check "killed with 2 in flight part-way, it resumed from its journal (units replayed)" [ $stopped = 1 ]
check "the resumed file has the same bits as the uninterrupted one" same ref.h5 kill.h5
check "no journal left" [ ! -e kill.h5.journal ]
rm -f kill.h5 kill.h5.journal
MXB_TEST_KILL_AFTER_RECORDS=3:INT OMP_NUM_THREADS=2 $MXB run run.ini --in-flight 2 "${SETS[@]}" --set run.output=kill.h5 >/dev/null 2>int.err
stopped=0; [ ! -e kill.h5 ] && grep -q "run the same command to resume" int.err && stopped=1
check "SIGINT with 2 in flight stops cleanly between units" [ $stopped = 1 ]
OMP_NUM_THREADS=4 $MXB run run.ini --quiet --in-flight 3 "${SETS[@]}" --set run.output=kill.h5 >/dev/null 2>>$MXB_ERR
check "stopped by SIGINT with 2 in flight, resumed with 3 on 4 threads: the same bits" same ref.h5 kill.h5

# ---- a failing method: the first failing image in unit order is the one named, whatever N ----
for n in 1 3; do
  OMP_NUM_THREADS=3 $MXB run run.ini --quiet --in-flight $n --set run.output=nan$n.h5 \
    --set method:nanmap.plugin=$MXB_PLUGIN_DIR/libbad_behaviour.so >/dev/null 2>nan$n.err
  echo $? >nan$n.rc
done
check "a NaN map with 3 in flight: exit 1, the same one line as with 1 (the first image), no file" bash -c \
  "[ \$(cat nan3.rc) = 1 ] && [ \$(wc -l <nan3.err) = 1 ] && cmp -s nan1.err nan3.err && grep -q 'image img_000.png' nan3.err && [ ! -e nan3.h5 ]"

# ---- bad values ----
expect_fail 2 "mxb run: --in-flight: '0' is not a positive integer" $MXB run run.ini --in-flight 0
expect_fail 2 "mxb run: --in-flight: 'x' is not a positive integer" $MXB run run.ini --in-flight x
expect_fail 2 "mxb run: --in-flight: '5000' is out of range [1, 4096]" $MXB run run.ini --in-flight 5000
expect_fail 2 "--set run.images_in_flight: '-1' is not an integer in [0, 4096]" $MXB run run.ini --set run.images_in_flight=-1
expect_fail 2 "--set run.images_in_flight: 'two' is not an integer" $MXB run run.ini --set run.images_in_flight=two
# the estimate at 1 in flight is under 2 MiB here; 3 in flight are over it
expect_fail 2 "3 images in flight at" env OMP_NUM_THREADS=1 $MXB run run.ini --in-flight 3 --set run.max_memory_mb=2 --set run.output=mem.h5
check "the refusal names the parts and the way out" grep -q "(models [0-9.]*, results [0-9.]*, 3 images in flight at [0-9.]* each: contexts and buffers), over the limit of 2 MiB (\[run\] max_memory_mb); fewer images in flight" $T/err
check "auto stays under the same limit: fewer in flight, the same bits" bash -c \
  "OMP_NUM_THREADS=4 $MXB run run.ini --quiet ${SETS[*]} --set run.max_memory_mb=2 --set run.output=mem.h5 >/dev/null 2>>$MXB_ERR &&
   $(declare -f same attr); MXB=$MXB; same ref.h5 mem.h5 && [ \"\$(attr mem.h5 images_in_flight)\" -lt 4 ]"
check "no file from a refused run" [ ! -e mem.h5.journal ]

# ---- tools/bench_pipeline_torch.py: Chefer's masking, checked on a small case ----
check "bench_pipeline_torch: each step zeroes the top (negative: bottom) fraction of the map, all channels" \
  $MXB_PYTHON - "$MXB_SOURCE_DIR/tools" <<'PYEOF'
import sys; sys.path.insert(0, sys.argv[1]); sys.argv = sys.argv[:1]
import torch, bench_pipeline_torch as bp
g = torch.Generator().manual_seed(0)
data, vis = torch.rand(2, 3, 10, 10, generator=g) + 0.5, torch.rand(2, 10, 10, generator=g)
seen = []
for neg in (False, True):
    bp.perturb_batch(lambda x: seen.append((neg, x * bp.STD + bp.MEAN)), data, vis, neg)
ok = len(seen) == 18
for k, (neg, x) in enumerate(seen):
    n = int(100 * bp.FRACTIONS[k % 9])
    for b in range(2):
        order = torch.argsort(vis[b].flatten(), descending=not neg)
        zero = (x[b].reshape(3, -1).abs() < 1e-6)
        ok = ok and bool(zero[:, order[:n]].all()) and not bool(zero[:, order[n:]].any())
raise SystemExit(0 if ok else 1)
PYEOF
expect_fail 2 "bench_pipeline_torch: unknown model 'vim-xl'" $MXB_PYTHON $MXB_SOURCE_DIR/tools/bench_pipeline_torch.py --models vim-xl

echo "cli_inflight: $pass passed, $fail failed"
[ $fail -eq 0 ]
