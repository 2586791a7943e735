#!/usr/bin/env bash
# mxb history (issue 24) end to end on 30 synthetic nights: one tiny run (the fuzzers'
# models, 4 images), copied 30 times with h5py, each night's per-image AP and F1 moved
# by a little noise, and two of them stepped from night 20 on. Every number is checked
# through Python's own sqlite3 and h5py, never through mxb: the values stored, the
# series shown and exported, `check` flagging exactly the stepped metrics at night 20
# (median of the 5 nights before, old and new values, first run at the new level),
# adds at once, a SIGKILL inside an add (the test hook MXB_TEST_HISTORY_KILL_AFTER),
# and the bad inputs: newer schema, a locked database, not SQLite, SQLite but not a
# history, not a results file, a metric new and one ended.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON; SRC=$MXB_SOURCE_DIR
T=$(mktemp -d); trap 'rm -rf $T' EXIT
cd $T
. "$SRC/tests/lib_cli.sh"

# ---- one tiny run, then 30 nights made from it ----
$MXB synth data --n 4 --seed 1 --size 16 >/dev/null 2>>$MXB_ERR
awk '{print $1, $2 % 3}' data/labels.txt >labels3.txt # the tiny models have 3 classes
tiny() { # OUT [--set method...]: a run of tests/valgrind/run.ini on the 4 images
  local out=$1; shift
  OMP_NUM_THREADS=1 $MXB run $SRC/tests/valgrind/run.ini --quiet --set run.output=$T/$out \
    --set perturbation.data=$T/data/images --set perturbation.labels=$T/labels3.txt \
    --set segmentation.data=$T/data/gtsegs_synth.mat --set run.figures=0 --set run.save_attention=0 "$@" \
    >/dev/null 2>>$MXB_ERR
}
tiny r.h5
check "a tiny run" [ -s r.h5 ]
check "30 nights from it: noise on every AP and F1, a step at night 20 in two metrics" $PY - <<'EOF'
import h5py, numpy as np, shutil
rng = np.random.default_rng(24)
for night in range(1, 31):
    p = "n%02d.h5" % night
    shutil.copy("r.h5", p)
    with h5py.File(p, "r+") as f:
        for k in ("started", "finished"):
            f.attrs[k] = "2026-11-%02dT03:%02d:00Z" % (night, 0 if k == "started" else 10)
        f.attrs["git_revision"] = "rev%02d" % night
        for m in ("deit", "vim"):
            for k in ("rollout", "attribution"):
                for field in ("ap", "f1"):
                    d = f["segmentation/%s/%s/%s" % (m, k, field)]
                    v = d[...] + rng.uniform(-1e-3, 1e-3, d.shape)
                    if night >= 20 and (m, k, field) == ("vim", "attribution", "ap"):
                        v -= 0.1   # mean_ap is higher-better: worse
                    if night >= 20 and (m, k, field) == ("deit", "rollout", "f1"):
                        v += 0.05  # mean_f1: better
                    d[...] = v
EOF

# ---- the nightly flow: add, then check, night by night ----
rcs=""; night20=""
for i in $(seq -w 1 30); do
  $MXB history add n$i.h5 --db h.db --label nightly 2>>$MXB_ERR || echo "add n$i failed" >>addfail.txt
  $MXB history check --db h.db --window 5 --tolerance 0.01 >check$i.txt 2>>$MXB_ERR
  rcs="$rcs$?"
  if [ $i = 20 ]; then # the trend page the night the step came
    $MXB history html p20.html --db h.db --tolerance 0.01 >/dev/null 2>>$MXB_ERR
    $MXB history show --db h.db --format json >p20.json 2>>$MXB_ERR
  fi
done
check "every add succeeded" [ ! -e addfail.txt ]
check "check: exit 1 at nights 20, 21, 22 (the median of 5 still old), 0 at every other" \
  [ "$rcs" = "000000000000000000011100000000" ]
echo "     exit codes of check, nights 1..30: $rcs"
check "check at night 20: exactly the two stepped metrics, worse and better, the values against numpy" $PY - <<'EOF'
import h5py, numpy as np, re, sys
def mean(night, m, k, field):
    with h5py.File("n%02d.h5" % night, "r") as f:
        return float(np.mean(f["segmentation/%s/%s/%s" % (m, k, field)][...]))
lines = [l for l in open("check20.txt") if l.split()[0] in ("WORSE", "BETTER", "MOVED")]
want = {"segmentation/vim/attribution/mean_ap": ("WORSE", "vim", "attribution", "ap"),
        "segmentation/deit/rollout/mean_f1": ("BETTER", "deit", "rollout", "f1")}
got = {}
rx = re.compile(r"^(\w+) (\S+): median of 5 runs before = (\S+), run 20 = (\S+) \(change (\S+), tolerance 0.01\); "
                r"first run at the new level: run 20 \(2026-11-20T03:10:00Z, revision rev20\)$")
for l in lines:
    m = rx.match(l.strip())
    if not m: sys.exit("unexpected line: " + l)
    got[m.group(2)] = m
if set(got) != set(want): sys.exit("flagged %s, want %s" % (sorted(got), sorted(want)))
for name, (word, mo, k, field) in want.items():
    g = got[name]
    med = float(np.median([mean(n, mo, k, field) for n in range(15, 20)]))
    new = mean(20, mo, k, field)
    if g.group(1) != word: sys.exit("%s: %s, want %s" % (name, g.group(1), word))
    for a, b in ((float(g.group(3)), med), (float(g.group(4)), new), (float(g.group(5)), new - med)):
        if abs(a - b) > 1e-5 * max(1, abs(b)): sys.exit("%s: %g printed, numpy says %g" % (name, a, b))
EOF
check "check at night 22: still the two, first run at the new level still run 20" \
  bash -c "[ \$(grep -c 'first run at the new level: run 20 ' check22.txt) = 2 ]"
check "check at night 30 (median of 25..29 at the new level): nothing moved" [ ! -s check30.txt ]

check "the trend page at night 20 (every metric): parsed, every image decodes, values and moved marks equal the JSON's and Python's rule" \
  $PY $SRC/tests/check_html.py trend p20.html p20.json 5 0.01
$MXB history html p30.html --db h.db --metric '*mean_ap,*mean_f1,*_auc' --model vim --window 3 >/dev/null 2>>$MXB_ERR
$MXB history show --db h.db --metric '*mean_ap,*mean_f1,*_auc' --model vim --format json >p30.json 2>>$MXB_ERR
check "the trend page at night 30, filtered, window 3, each metric's own tolerance" \
  $PY $SRC/tests/check_html.py trend p30.html p30.json 3 1e-6
check "the page at night 20: its summary holds the two stepped metrics, no other" \
  bash -c "[ \$(grep -c '<tr data-metric=' p20.html) = 2 ] && grep -q 'data-metric=\"segmentation/vim/attribution/mean_ap\"' p20.html"
expect_fail 2 "mxb history html: h.db: is the input file h.db; refusing to write over it" $MXB history html h.db --db h.db

# ---- what is stored, through Python's sqlite3 and h5py ----
check "the database: 30 runs, every metric of every night equal to the file's (h5py), schema, integrity" $PY - <<'EOF'
import sqlite3, subprocess, os, sys, h5py, numpy as np
c = sqlite3.connect("h.db")
assert c.execute("pragma integrity_check").fetchone()[0] == "ok"
assert c.execute("pragma application_id").fetchone()[0] == 0x6d786268
assert c.execute("select version from mxb_schema").fetchall() == [(1,)]
runs = c.execute("select id, revision, finished, label, source from runs order by id").fetchall()
assert [r[1] for r in runs] == ["rev%02d" % n for n in range(1, 31)], runs
assert all(r[3] == "nightly" for r in runs)
# every metric mxb report lists for a night (its own CSV) is in the db with that value
mxb = os.environ["MXB_EXE"]
for night in (1, 20, 30):
    csv = subprocess.run([mxb, "report", "n%02d.h5" % night, "--format", "csv"], capture_output=True, text=True).stdout
    rows = [l.split(",") for l in csv.strip().splitlines()[1:]]
    db = dict(c.execute("select m.name, p.value from points p join metrics m on m.id = p.metric where p.run = ?", (night,)))
    assert len(db) == len(rows), (len(db), len(rows))
    for name, v, better in rows:
        assert name in db, name
        assert (v == "" and db[name] is None) or abs(float(v) - db[name]) <= 1e-12 * max(1, abs(db[name])), (name, v, db[name])
    with h5py.File("n%02d.h5" % night) as f:
        ap = float(np.mean(f["segmentation/vim/attribution/ap"][...]))
    assert abs(db["segmentation/vim/attribution/mean_ap"] - ap) < 1e-12
better = dict(c.execute("select name, better from metrics"))
assert better["segmentation/vim/attribution/mean_ap"] == 1 and better["perturbation/vim/attribution/positive_auc"] == -1
assert better["perturbation/vim/attribution/negative_auc"] == 1
EOF

# ---- show and export against the database ----
$MXB history show --db h.db --metric '*mean_ap,*miou' --model vim --last 3 --format json >show.json 2>>$MXB_ERR
$MXB history show --db h.db --method rollout --format csv >show.csv 2>>$MXB_ERR
$MXB history show --db h.db --metric '*/vim/attribution/mean_ap' --last 2 >show.txt 2>>$MXB_ERR
$MXB history export --db h.db --format csv >export.csv 2>>$MXB_ERR
$MXB history export --db h.db --format jsonl >export.jsonl 2>>$MXB_ERR
check "show (json, csv, table with filters) and export (csv, jsonl) equal the database (sqlite3)" $PY - <<'EOF'
import sqlite3, json, csv, fnmatch, math
c = sqlite3.connect("h.db")
rows = c.execute("select p.run, m.name, p.value from points p join metrics m on m.id = p.metric").fetchall()
db = {(r, n): v for r, n, v in rows}
def same(a, b):
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= 1e-12 * max(1, abs(b)))
j = json.load(open("show.json"))
assert [r["run"] for r in j["runs"]] == [28, 29, 30]
names = sorted(m["name"] for m in j["metrics"])
want = sorted({n for (r, n) in db if r == 30 and n.split("/")[1] == "vim" and
               (fnmatch.fnmatch(n, "*mean_ap") or fnmatch.fnmatch(n, "*miou"))})
assert names == want and len(want) == 4, (names, want)
for m in j["metrics"]:
    assert m["ended_after_run"] is None
    assert len(m["values"]) == 3
    for run, v in m["values"]:
        assert same(v, db[(run, m["name"])]), (m["name"], run)
rd = list(csv.DictReader(open("show.csv", newline="")))
assert len(rd) == sum(1 for (r, n) in db if n.split("/")[2] == "rollout")
for r in rd:
    v = float(r["value"]) if r["value"] else None
    assert same(v, db[(int(r["run"]), r["metric"])])
ex = list(csv.DictReader(open("export.csv", newline="")))
assert len(ex) == len(db) == 30 * 124 and {r["label"] for r in ex} == {"nightly"}
for r in ex:
    assert same(float(r["value"]) if r["value"] else None, db[(int(r["run"]), r["metric"])])
jl = [json.loads(l) for l in open("export.jsonl")]
assert [r["run"] for r in jl] == list(range(1, 31))
for r in jl:
    assert r["revision"] == "rev%02d" % r["run"]
    for n, v in r["metrics"].items():
        assert same(v, db[(r["run"], n)])
t = [l.split() for l in open("show.txt") if l[:5].strip().isdigit()]
assert [(int(l[0]), l[2], l[4]) for l in t] == [(29, "rev29", "segmentation/vim/attribution/mean_ap"),
                                                (30, "rev30", "segmentation/vim/attribution/mean_ap")], t
assert all(same(float(l[5]), db[(int(l[0]), l[4])]) or abs(float(l[5]) - db[(int(l[0]), l[4])]) < 1e-5 for l in t)
EOF

# ---- the same run twice: a no-op ----
$MXB history add n05.h5 --db h.db >out.txt 2>err.txt; rc=$?
check "the same run added again: exit 0, said, nothing added" \
  bash -c "[ $rc = 0 ] && grep -q 'n05.h5 is already in h.db as run 5' err.txt && \
           [ \$($PY -c 'import sqlite3; print(sqlite3.connect(\"h.db\").execute(\"select count(*) from runs\").fetchone()[0])') = 30 ]"

# ---- adds at once: every one lands ----
$PY - <<'EOF'
import h5py, shutil
for i in range(4):
    shutil.copy("n30.h5", "c%d.h5" % i)
    with h5py.File("c%d.h5" % i, "r+") as f:
        f.attrs["finished"] = "2026-12-01T00:00:0%dZ" % i
EOF
cp h.db hc.db
for i in 0 1 2 3; do $MXB history add c$i.h5 --db hc.db 2>>$MXB_ERR & done; wait
check "4 adds at once into one database: 34 runs, every value, integrity ok" $PY - <<'EOF'
import sqlite3
c = sqlite3.connect("hc.db")
assert c.execute("pragma integrity_check").fetchone()[0] == "ok"
assert c.execute("select count(*) from runs").fetchone()[0] == 34
assert sorted(r[0] for r in c.execute("select source from runs where id > 30")) == ["c0.h5", "c1.h5", "c2.h5", "c3.h5"]
assert c.execute("select count(*) from points").fetchone()[0] == 34 * 124
EOF
rm -f new.db
for i in 0 1 2 3; do $MXB history add c$i.h5 --db new.db 2>>$MXB_ERR & done; wait
check "4 adds at once creating one database: 4 runs" \
  [ "$($PY -c 'import sqlite3; print(sqlite3.connect("new.db").execute("select count(*) from runs").fetchone()[0])')" = 4 ]

# ---- SIGKILL inside an add: the database as it was ----
dump() { $PY -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute("pragma integrity_check").fetchone()[0]); print("\n".join(c.iterdump()))' "$1"; }
cp h.db hk.db
dump hk.db >before.sql
MXB_TEST_HISTORY_KILL_AFTER=60 $MXB history add c0.h5 --db hk.db >/dev/null 2>>$MXB_ERR; rc=$?
check "the test hook killed the add (SIGKILL, exit 137)" [ $rc = 137 ]
dump hk.db >after.sql
check "after the kill: integrity ok, the database exactly as before (its SQL dump)" \
  bash -c "head -1 after.sql | grep -qx ok && cmp -s before.sql after.sql"
$MXB history add c0.h5 --db hk.db 2>>$MXB_ERR
check "the same add again after the kill: run 31" \
  [ "$($PY -c 'import sqlite3; print(sqlite3.connect("hk.db").execute("select max(id) from runs").fetchone()[0])')" = 31 ]

# ---- a metric new, a metric ended ----
mkini() { # NAME METHOD...: the tiny run with these methods
  local out=$1; shift
  { printf '[run]\noutput = %s\n[model:deit]\nweights = %s\n[model:vim]\nweights = %s\n' $T/$out.h5 \
      $SRC/tests/fuzz/templates/weights_vit.h5 $SRC/tests/fuzz/templates/weights_vim.h5
    for m in "$@"; do printf '[method:%s]\n' $m; done
    printf '[perturbation]\ndata = %s\nlabels = %s\nresize = 8\ncrop = 8\n' $T/data/images $T/labels3.txt
    printf '[segmentation]\ndata = %s\nresize = 8\nsquare = yes\n' $T/data/gtsegs_synth.mat; } >$out.ini
  OMP_NUM_THREADS=1 $MXB run $out.ini --quiet >/dev/null 2>>$MXB_ERR
}
mkini two rollout attribution
mkini three rollout attribution raw-attention
mkini one rollout
$MXB history add two.h5 --db ne.db 2>>$MXB_ERR
$MXB history add three.h5 --db ne.db >/dev/null 2>err.txt
check "a run with a method the history has never seen: its metrics said as added" \
  grep -q "^mxb history add: 62 metrics the history had never seen (added), e.g. perturbation/deit/raw-attention/images$" err.txt
$MXB history check --db ne.db >check_new.txt 2>>$MXB_ERR; rc=$?
check "check: the new metrics said as new, not a move (exit 0)" \
  bash -c "[ $rc = 0 ] && [ \$(grep -c '^new: .*/raw-attention/' check_new.txt) = 62 ] && ! grep -qv '^new: ' check_new.txt"
$MXB history add one.h5 --db ne.db >/dev/null 2>err.txt
check "a run without two methods: their metrics said as ended" \
  grep -q "^mxb history add: 124 metrics of the previous run not in this one (ended, not zero), e.g. perturbation/deit/attribution/images$" err.txt
$MXB history show --db ne.db >show_ended.txt 2>>$MXB_ERR
$MXB history show --db ne.db --format json >show_ended.json 2>>$MXB_ERR
$MXB history check --db ne.db >check_ended.txt 2>>$MXB_ERR; rc=$?
check "show and check: ended metrics said as ended (last run given), never as zero; check exit 0" $PY - $rc <<'PYEOF'
import json, sys
assert sys.argv[1] == "0"
j = json.load(open("show_ended.json"))
ended = {m["name"]: m["ended_after_run"] for m in j["metrics"] if m["ended_after_run"] is not None}
assert len(ended) == 124 and set(ended.values()) == {2}, len(ended)
assert all(r != 3 for m in j["metrics"] if m["name"] in ended for r, v in m["values"])
lines = [l for l in open("show_ended.txt") if l.startswith("ended: ")]
assert len(lines) == 124 and all("(last in run 2, " in l for l in lines)
assert not any(l.split()[0] == "3" and (("/attribution/" in l) or ("/raw-attention/" in l)) for l in open("show_ended.txt"))
c = [l for l in open("check_ended.txt")]
assert len(c) == 124 and all(l.startswith("ended: ") and "not in run 3)" in l for l in c)
PYEOF

# ---- bad inputs: one line each, nothing changed ----
cp h.db newer.db
$PY -c 'import sqlite3; c=sqlite3.connect("newer.db"); c.execute("update mxb_schema set version=2"); c.commit()'
expect_fail 2 "mxb history show: newer.db: history schema version 2 is newer than this mxb's (1); use a newer mxb" \
  $MXB history show --db newer.db
expect_fail 2 "mxb history add: newer.db: history schema version 2 is newer than this mxb's (1); use a newer mxb" \
  $MXB history add c1.h5 --db newer.db
echo "a text file" >notdb.txt
expect_fail 2 "mxb history show: notdb.txt: not an mxb history database (not an SQLite file)" \
  $MXB history show --db notdb.txt
expect_fail 2 "mxb history add: notdb.txt: not an mxb history database (not an SQLite file)" \
  $MXB history add c1.h5 --db notdb.txt
check "the text file is left as it was" [ "$(cat notdb.txt)" = "a text file" ]
$PY -c 'import sqlite3; c=sqlite3.connect("other.db"); c.execute("create table t(x)"); c.commit()'
expect_fail 2 "mxb history check: other.db: an SQLite database, but not an mxb history (application_id 0)" \
  $MXB history check --db other.db
expect_fail 2 "mxb history add: other.db: an SQLite database, but not an mxb history (application_id 0)" \
  $MXB history add c1.h5 --db other.db
expect_fail 2 "mxb history show: absent.db: no such history database (mxb history add creates it)" \
  $MXB history show --db absent.db
check "show of a missing database creates nothing" [ ! -e absent.db ]
expect_fail 2 "mxb history add: notdb.txt: not a readable HDF5 file (truncated or corrupt?)" \
  $MXB history add notdb.txt --db h.db
expect_fail 2 "mxb history add: h.db: is the input file h.db; refusing to write over it" \
  $MXB history add h.db --db h.db
expect_fail 2 "mxb history: unknown subcommand 'plot': add, show, export, check or html (see mxb history --help)" \
  $MXB history plot
expect_fail 2 "MXB_HISTORY_BUSY_SECONDS='soon': not a decimal number in [0, 3600] seconds (unset it for the default)" \
  env MXB_HISTORY_BUSY_SECONDS=soon $MXB history show --db h.db
# a lock held by another writer: a short wait, then one line, nothing changed
cp h.db hl.db
$PY - <<'PYEOF' &
import sqlite3, time, os
c = sqlite3.connect("hl.db", isolation_level=None)
c.execute("begin exclusive")
open("locked", "w").close()
while not os.path.exists("release"): time.sleep(0.02)
c.execute("rollback")
PYEOF
holder=$!
for _ in $(seq 200); do [ -e locked ] && break; sleep 0.05; done
start=$(date +%s%N)
expect_fail 2 "mxb history add: hl.db: locked by another writer for over 0.3s (another mxb history add?); nothing changed, try again (MXB_HISTORY_BUSY_SECONDS waits longer)" \
  env MXB_HISTORY_BUSY_SECONDS=0.3 $MXB history add c1.h5 --db hl.db
waited=$(( ($(date +%s%N) - start) / 1000000 ))
check "it waited about the busy timeout ($waited ms)" [ $waited -ge 250 -a $waited -lt 5000 ]
touch release; wait $holder
check "the locked database unchanged: 30 runs" \
  [ "$($PY -c 'import sqlite3; print(sqlite3.connect("hl.db").execute("select count(*) from runs").fetchone()[0])')" = 30 ]

echo "cli_history: $pass passed, $fail failed"
[ $fail -eq 0 ]
