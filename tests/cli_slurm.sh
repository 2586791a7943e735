#!/usr/bin/env bash
# mxb slurm against a live Slurm: a one-node cluster started here (no systemd; Debian's
# slurmctld slurmd slurm-client munge, .ci/packages.txt), state, spool and logs under a
# scratch folder in the build tree, the node pinned to 127.0.0.1, every client call
# under `timeout`. gen_run's data as 4 array tasks + the merge, checked against a
# one-process run; a task stopped by SIGTERM mid-run that requeues itself; a failing
# shard (the merge CANCELLED, the driver naming the shard); a shard SIGKILLed mid-run
# and resumed on resubmission. The trap cancels the jobs and stops the daemons by PID,
# also on failure. Needs root and the packages: without them it FAILS (CI has them).
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON
T=$MXB_BINARY_DIR/slurm.$$ # short: munged's socket path must fit 108 bytes
. "$MXB_SOURCE_DIR/tests/lib_cli.sh"
t_start=$(date +%s.%N)

missing=""
for b in slurmctld slurmd munged sbatch squeue scontrol scancel sinfo; do
  command -v $b >/dev/null 2>&1 || missing="$missing $b"
done
if [ "$(id -u)" != 0 ] || [ -n "$missing" ]; then
  echo "FAIL cli_slurm: needs root (is uid $(id -u)) and Slurm's binaries (missing:${missing:- none});" \
       "apt-get install slurmctld slurmd slurm-client munge (.ci/packages.txt), as root"
  exit 1
fi

mkdir -p $T/state $T/spool $T/log $T/run
cp -r $MXB_TESTDATA/run/. $T/run/
PIDS=() # the daemons we started, stopped by PID
cleanup() {
  if [ -e $T/slurm.conf ]; then
    # the jobs first: stopping the daemons leaves slurmstepd and its job running
    timeout 10 scancel --quiet --user=root 2>/dev/null
    for _ in $(seq 40); do [ -z "$(timeout 5 squeue -h -o %A 2>/dev/null)" ] && break; sleep 0.25; done
  fi
  [ -e $T/munged.pid ] && PIDS+=("$(cat $T/munged.pid)")
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  if [ "$fail" = 0 ]; then rm -rf $T; else echo "scratch kept: $T (logs in $T/log)"; fi
}
trap cleanup EXIT

# ---- a one-node cluster -------------------------------------------------------------
P=$((20000 + $$ % 20000))
H=$(hostname -s)
cat >$T/slurm.conf <<EOF
ClusterName=mxbtest
SlurmctldHost=$H(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$P
SlurmdPort=$((P + 1))
AuthType=auth/munge
AuthInfo=socket=$T/munge.sock,cred_expire=5
CryptoType=crypto/munge
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0
SlurmdParameters=config_overrides
MinJobAge=600
KillWait=5
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
EnforcePartLimits=ALL
NodeName=mxbnode NodeAddr=127.0.0.1 CPUs=2 RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=mxbnode Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$T/slurm.conf
# munged as root with its own key and socket (the package's key, owned by munge, is
# refused as insecure when munged runs as root)
dd if=/dev/urandom of=$T/munge.key bs=1024 count=1 2>/dev/null; chmod 400 $T/munge.key
munged --force --socket=$T/munge.sock --key-file=$T/munge.key --pid-file=$T/munged.pid \
  --log-file=$T/log/munged.log --seed-file=$T/munge.seed
slurmctld -D -i -f $T/slurm.conf >$T/log/slurmctld.out 2>&1 & PIDS+=($!)
slurmd -D -N mxbnode -f $T/slurm.conf >$T/log/slurmd.out 2>&1 & PIDS+=($!)
up=0
for _ in $(seq 60); do
  timeout 2 sinfo -h -o %T 2>/dev/null | grep -qx idle && { up=1; break; }
  sleep 0.25
done
check "a one-node Slurm is up, the node idle" [ $up = 1 ]
if [ $up = 0 ]; then tail -3 $T/log/*.out; exit 1; fi
t_up=$(date +%s.%N)

cd $T/run
# every dataset and attribute of two results files identical, but for the run's
# provenance of time and place (and the merge's own note)
same_file() {
  $PY - "$1" "$2" <<'EOF'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
skip = {"config_path", "started", "finished", "timings", "threads", "images_in_flight", "merged_shards", "host"}
names = []
a.visititems(lambda n, o: names.append(n))
other = []
b.visititems(lambda n, o: other.append(n))
ok = sorted(names) == sorted(other) and len(names) > 20
for n in names if ok else []:
    x, y = a[n], b[n]
    if isinstance(x, h5py.Dataset):
        u, v = x[()], y[()]
        ok = ok and u.shape == v.shape and (np.array_equal(u, v, equal_nan=True) if u.dtype.kind == "f"
                                            else np.array_equal(u, v))
    ok = ok and dict(x.attrs.items()).keys() == dict(y.attrs.items()).keys()
ka = {k for k in a.attrs if k not in skip}
ok = ok and ka == {k for k in b.attrs if k not in skip}
ok = ok and all(str(a.attrs[k]) == str(b.attrs[k]) for k in ka)
raise SystemExit(0 if ok else 1)
EOF
}
# one process, the same configuration text (so the same run key), in its own folder
mkdir one && cp -r deit.h5 vim.h5 images labels.txt gtsegs.mat run.ini one/
(cd one && $MXB run run.ini --quiet >/dev/null 2>>$MXB_ERR)

# ---- 4 array tasks + the merge ----------------------------------------------------------
t0=$(date +%s.%N)
timeout 90 $MXB slurm run.ini --shards 4 --wait >sub.out 2>sub.err; rc=$?
t_four=$(echo "$(date +%s.%N) - $t0" | bc)
check "mxb slurm --shards 4 --wait: exit 0" [ $rc = 0 ]
check "it says the job ids and where the merged file will be" \
  grep -q "^mxb slurm: array job [0-9]* (4 shards.*merge job [0-9]* after it" sub.out
check "... and the merged file's path" grep -q "the merged file will be ./results.h5" sub.out
check "4 shard files and the merged file" [ -e results.shard-3-of-4.h5 -a -e results.h5 ]
check "merged == one process: mxb compare --tolerance 0 clean" $MXB compare one/results.h5 results.h5 --tolerance 0 --quiet
check "merged == one process: every dataset and attribute, but times and place" same_file one/results.h5 results.h5
arr=$(sed -n 's/^array \([0-9]*\)$/\1/p' results.slurm/jobs); mrg=$(sed -n 's/^merge \([0-9]*\)$/\1/p' results.slurm/jobs)
check "the scheduler says the merge job COMPLETED" bash -c "timeout 10 scontrol show job -o $mrg | grep -q 'JobState=COMPLETED'"
timeout 20 $MXB slurm run.ini --status >st.out 2>st.err; rc=$?
check "--status: exit 0, every shard done, the merge done" bash -c \
  "[ $rc = 0 ] && [ \$(grep -c '^  shard [0-3]/4: done' st.out) = 4 ] && grep -q '^  merge: done: ./results.h5' st.out"

# ---- a task stopped by SIGTERM mid-run requeues itself and resumes ------------------
# each task stops itself (SIGTERM, what Slurm sends at a time limit or a preemption)
# when its journal holds 3 records; requeued, it resumes (the count is the journal's)
# (a requeued job waits cred_expire seconds, 5 here, 120 by default, before it starts again)
MXB_TEST_KILL_AFTER_RECORDS=3:TERM timeout 90 $MXB slurm run.ini --shards 4 --set run.output=rq.h5 --wait \
  >rq.out 2>rq.err; rc=$?
check "SIGTERM mid-run, requeued: exit 0" [ $rc = 0 ]
check "every task was stopped mid-run (3 of its units done) and started again" bash -c \
  "for i in 0 1 2 3; do grep -q 'stopped after 3 of' rq.slurm/logs/shard-\$i.log && grep -q 'start 1\$' rq.slurm/logs/shard-\$i.log || exit 1; done"
check "... and resumed from its journal" grep -q "resuming .*rq.shard-0-of-4.h5: 3 of 10 units already done" rq.slurm/logs/shard-0.log
check "requeued: merged == one process (compare --tolerance 0)" $MXB compare one/results.h5 rq.h5 --tolerance 0 --quiet
check "requeued: every result dataset identical" \
  bash -c "for g in /perturbation /segmentation /attention; do h5diff -q one/results.h5 rq.h5 \$g \$g || exit 1; done"

# ---- a failing shard: the merge CANCELLED, the driver names the shard ----------------
echo "not a results file" >fl.shard-2-of-4.h5
timeout 90 $MXB slurm run.ini --shards 4 --set run.output=fl.h5 --wait >fl.out 2>fl.err; rc=$?
check "a failing shard: the driver exits 1" [ $rc = 1 ]
check "... naming the shard (one line)" bash -c "[ \$(wc -l <fl.err) = 1 ] && grep -q '^mxb slurm: shard 2/4 (FAILED, exit 2:0; see ./fl.slurm/logs/shard-2.log) failed; 3 of 4 shards done; the merge job [0-9]* is CANCELLED' fl.err"
fm=$(sed -n 's/^merge \([0-9]*\)$/\1/p' fl.slurm/jobs)
check "the merge job ended CANCELLED (not left pending)" bash -c "timeout 10 scontrol show job -o $fm | grep -q 'JobState=CANCELLED'"
check "no merged file" [ ! -e fl.h5 ]
check "the shard's log says why" grep -q "fl.shard-2-of-4.h5 exists and is not the result of this configuration" fl.slurm/logs/shard-2.log
timeout 20 $MXB slurm run.ini --set run.output=fl.h5 --status >fst.out 2>fst.err; rc=$?
check "--status: exit 1, the shard FAILED with its exit code and log" bash -c \
  "[ $rc = 1 ] && grep -q '^  shard 2/4: FAILED (exit 2:0), 0 of 8 units in its journal: see ./fl.slurm/logs/shard-2.log' fst.out && grep -q '^  merge: CANCELLED (DependencyNeverSatisfied)' fst.out"
# resubmitted with the cause fixed, shard 2 is SIGKILLed after 2 units: the others are
# kept (already complete), the merge cancelled again; a third submission resumes it
rm fl.shard-2-of-4.h5
MXB_TEST_KILL_AFTER_RECORDS=2 timeout 90 $MXB slurm run.ini --shards 4 --set run.output=fl.h5 --wait >fl2.out 2>fl2.err; rc=$?
check "SIGKILLed mid-run: exit 1 naming shard 2/4" bash -c "[ $rc = 1 ] && grep -q '^mxb slurm: shard 2/4 (FAILED, exit 137:0' fl2.err"
check "... its journal kept (2 units), the finished shards not redone" bash -c \
  "grep -q '^  shard 2/4: FAILED (exit 137:0), 2 of 8 units' fl2.out && grep -q 'already complete' fl.slurm/logs/shard-0.log"
timeout 90 $MXB slurm run.ini --shards 4 --set run.output=fl.h5 --wait >fl3.out 2>fl3.err; rc=$?
check "submitted again: exit 0, shard 2 resumed from its journal" bash -c \
  "[ $rc = 0 ] && grep -q 'resuming .*fl.shard-2-of-4.h5: 2 of 8 units already done' fl.slurm/logs/shard-2.log"
check "killed, failed and resubmitted: merged == one process" $MXB compare one/results.h5 fl.h5 --tolerance 0 --quiet
check "... every result dataset identical" \
  bash -c "for g in /perturbation /segmentation /attention; do h5diff -q one/results.h5 fl.h5 \$g \$g || exit 1; done"

# ---- what the submission is refused for ------------------------------------------------
# a resubmission beside a submission still alive: two tasks would write one shard
timeout 30 $MXB slurm run.ini --shards 2 --set run.output=hold.h5 --sbatch-line hold >/dev/null 2>>$MXB_ERR
expect_fail 2 "mxb slurm: the jobs of ./hold.slurm/jobs (array" $MXB slurm run.ini --shards 2 --set run.output=hold.h5
check "... and the held submission is still as it was" bash -c "timeout 10 squeue -h -r -o %T | grep -q PENDING"
expect_fail 2 "mxb slurm: ./results.h5 exists: this run is merged already (remove it to run again)" \
  $MXB slurm run.ini --shards 4
expect_fail 2 "mxb slurm: 9 shards, but the segmentation test selects 8 images: a shard would have none; at most 8" \
  $MXB slurm run.ini --shards 9 --set run.output=x.h5
expect_fail 2 "mxb slurm: --shards N is needed (or --status) (see mxb slurm --help)" $MXB slurm run.ini

t_end=$(date +%s.%N)
echo "timing: cluster up $(echo "$t_up - $t_start" | bc) s; 4 tasks + merge $t_four s; whole test $(echo "$t_end - $t_start" | bc) s"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
