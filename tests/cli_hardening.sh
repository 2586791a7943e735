#!/usr/bin/env bash
# Faults of issue 14 that are not one malformed file (those are in bad-inputs/): a full
# disk while the results file is written, two runs of one output, stale temporaries,
# methods that return NaN maps, fail with two-line messages or call exit(), images the
# preprocessing refuses, label files with a BOM, long values through --set, merged
# run's attention and times, and the encoding of every text output (UTF-8, RFC 4180).
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON; T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$MXB_SOURCE_DIR/tests/lib_cli.sh"
$PY $MXB_SOURCE_DIR/tests/bad-inputs/make_inputs.py $T/in $MXB $MXB_SOURCE_DIR >$T/make.log 2>&1 || { cat $T/make.log; exit 1; }
cd $T/in
csv() { $MXB report "$1" --format csv; }

# ---- a full disk (a file size limit: write(2) fails with EFBIG, as with ENOSPC) ----
# the journal (2 KB) fits, the 100 KB results file does not
bash -c "ulimit -f 40; trap '' XFSZ; exec $MXB run run.ini --quiet --set run.output=full.h5" >/dev/null 2>$T/err
rc=$?
check "full disk: exit 1, not a crash (got $rc)" [ $rc -eq 1 ]
check "full disk: one line naming the OS error: $(cat $T/err)" bash -c "[ \$(wc -l <$T/err) -eq 1 ] && grep -q 'full.h5: cannot write the output file: File too large' $T/err"
check "full disk: no file at the output name, no temporary" bash -c "[ ! -e full.h5 ] && ! ls full.h5.partial-* 2>/dev/null"
check "full disk: the journal is kept" [ -e full.h5.journal ]
$MXB run run.ini --quiet --set run.output=full.h5 >/dev/null 2>>$MXB_ERR
check "full disk: the resumed run equals the uninterrupted one" cmp -s <(csv full.h5) <(csv good.h5)

# ---- two runs of one output: the journal is locked ----
flock -x -o -n lock.h5.journal -c "$MXB run run.ini --quiet --set run.output=lock.h5" >/dev/null 2>$T/err
rc=$?
check "journal held by another run: refused, exit 2 (got $rc)" [ $rc -eq 2 ]
check "journal held: one line: $(cat $T/err)" grep -q "lock.h5.journal: another mxb run is writing this output now" $T/err
check "journal held: nothing written" [ ! -e lock.h5 ]

# ---- temporaries of dead processes are removed, a live process's are not ----
dead=999999; while kill -0 $dead 2>/dev/null; do dead=$((dead - 1)); done
echo junk >st.h5.partial-$dead; echo junk >st.h5.partial-$$
$MXB run run.ini --quiet --set run.output=st.h5 >/dev/null 2>>$MXB_ERR
check "a dead process's st.h5.partial-$dead is removed" [ ! -e st.h5.partial-$dead ]
check "a live process's temporary is left alone" [ -e st.h5.partial-$$ ]

# ---- methods that misbehave (tests/plugins/bad_behaviour.c) ----
PLUG=$MXB_PLUGIN_DIR/libbad_behaviour.so
for m in nanmap twolines exits; do
  $MXB run run.ini --quiet --set run.output=$m.h5 --set method:$m.plugin=$PLUG >/dev/null 2>$T/err.$m
  echo $? >$T/rc.$m
done
check "NaN map: exit 1, one line naming the method, model and image: $(cat $T/err.nanmap)" bash -c \
  "[ \$(cat $T/rc.nanmap) -eq 1 ] && [ \$(wc -l <$T/err.nanmap) -eq 1 ] && grep -q \"method 'nanmap' returned a map with 4 of 4 values NaN or infinite (model deit, image synth_000000.png)\" $T/err.nanmap"
check "NaN map: no results file" [ ! -e nanmap.h5 ]
check "two-line plugin error printed as one line: $(cat $T/err.twolines)" bash -c \
  "[ \$(wc -l <$T/err.twolines) -eq 1 ] && grep -q \"method 'twolines': first line second line\" $T/err.twolines"
check "exit() in a method: status 1 and a line saying so: $(cat $T/err.exits)" bash -c \
  "[ \$(cat $T/rc.exits) -eq 1 ] && grep -q \"method 'exits' called exit() while explaining an image\" $T/err.exits"
check "exit() in a method: no results file" [ ! -e exits.h5 ]

# ---- preprocessing errors name the image ----
mkdir -p thin/img && $PY -c "
from PIL import Image; Image.new('RGB', (20000, 1)).save('thin/img/thin.png')
Image.new('RGB', (16, 16)).save('thin/img/ok.png')"
printf 'ok.png 0\nthin.png 1\n' >thin/labels.txt
$MXB run run.ini --quiet --set run.output=thin.h5 --set perturbation.data=thin/img \
  --set perturbation.labels=thin/labels.txt --set perturbation.resize=8 >/dev/null 2>$T/err
check "preprocessing error names the image: $(cat $T/err)" grep -q "thin/img: image thin.png: " $T/err

# ---- a label file with a UTF-8 byte-order mark ----
printf '\xef\xbb\xbf' >bom.txt; cat data/labels.txt >>bom.txt
check "a label file with a BOM reads as without" cmp -s <($MXB dataset-info data/images --labels bom.txt 2>&1) \
  <($MXB dataset-info data/images --labels data/labels.txt 2>&1 | sed 's#data/labels.txt#bom.txt#g')

# ---- values longer than libinih's line: --set takes any length ----
long=$(printf './%.0s' $(seq 110))data/images
$MXB run run.ini --quiet --set run.output=long.h5 --set "perturbation.data=$long" >/dev/null 2>$T/err
check "a ${#long}-byte data path through --set works" cmp -s <(csv long.h5) <(csv good.h5)

# ---- merge: the run's attention (save_attention = the run's first K images, each kept
# by the shard that ran it), the whole run's times ----
$MXB run run.ini --quiet --set run.output=att_one.h5 --set run.save_attention=2 >/dev/null 2>>$MXB_ERR
for i in 0 1; do
  $MXB run run.ini --quiet --shard $i/2 --set run.output=att.h5 --set run.save_attention=2 >/dev/null 2>>$MXB_ERR
done
$MXB merge att_merged.h5 att.shard-0-of-2.h5 att.shard-1-of-2.h5 >/dev/null 2>>$MXB_ERR
check "merge keeps the run's /attention tensors (each from the shard that ran its image), the earliest start and the summed work" $PY - <<'PYEOF'
import h5py, re, numpy as np
m = h5py.File("att_merged.h5", "r"); one = h5py.File("att_one.h5", "r")
s = [h5py.File("att.shard-%d-of-2.h5" % i, "r") for i in range(2)]
def names(f):
    if "attention" not in f: return []
    l = []; f["attention"].visit(l.append)
    return sorted(k for k in l if isinstance(f["attention"][k], h5py.Dataset))
want = names(one)
ok = names(m) == want and len(want) > 0 and sorted(names(s[0]) + names(s[1])) == want
ok = ok and all(np.array_equal(m["attention"][k][()], one["attention"][k][()]) for k in want)
work = lambda f: [float(x) for x in re.findall(r"=([0-9.]+)", f.attrs["timings"])]
ok = ok and m.attrs["started"] == min(f.attrs["started"] for f in s) and m.attrs["finished"] == max(f.attrs["finished"] for f in s)
ok = ok and all(abs(a - b - c) < 2e-3 for a, b, c in zip(work(m), work(s[0]), work(s[1])))
print("   %d attention tensors (the one-process run's: %d; shards %d + %d), timings %s" % (
    len(names(m)), len(want), len(names(s[0])), len(names(s[1])), m.attrs["timings"]))
raise SystemExit(0 if ok else 1)
PYEOF

# ---- text output: valid UTF-8 everywhere, CSV per RFC 4180 ----
mkdir -p l1/img && cp data/images/synth_000000.png "l1/img/$(printf 'caf\xe9.png')" && cp data/images/synth_000001.png l1/img/b.png
printf 'caf\xe9.png 1\nb.png 2\n' >l1/labels.txt
sed -e 's|data/images|l1/img|; s|data/labels.txt|l1/labels.txt|' run.ini | sed -e "s|^figures = 1|figures = 1\n; caf$(printf '\xe9')|" >l1.ini
$MXB run l1.ini --quiet --set run.output=l1.h5 >/dev/null 2>>$MXB_ERR
$MXB report l1.h5 --format json >l1.json
check "report json of a config with a Latin-1 byte is valid UTF-8 JSON" $PY -c "
import json; d = json.loads(open('l1.json', 'rb').read().decode('utf-8'))
raise SystemExit(0 if '; caf\u00e9' in d['provenance']['config'] else 1)"
check "/perturbation/id of a Latin-1 file name reads with h5py .asstr()" $PY -c "
import h5py; ids = list(h5py.File('l1.h5')['perturbation/id'].asstr()[()])
raise SystemExit(0 if ids == ['b.png', 'caf\u00e9.png'] else 1)"
cp good.h5 comma.h5
$PY -c "
import h5py
with h5py.File('comma.h5', 'r+') as f:
    f['models'][0] = 'de,\"it'
    for t in ('perturbation', 'segmentation'): f.move(t + '/deit', t + '/de,\"it')"
$MXB report comma.h5 --format csv >comma.csv
check "csv quotes a model name with a comma and a quote (RFC 4180)" $PY -c "
import csv; rows = list(csv.reader(open('comma.csv', newline='')))
raise SystemExit(0 if all(len(r) == 3 for r in rows) and rows[1][0].startswith('perturbation/de,\"it/') else 1)"
check "csv records end in CRLF" bash -c "[ \$(grep -c \$'\r\$' comma.csv) -eq \$(wc -l <comma.csv) ]"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
