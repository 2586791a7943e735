#!/usr/bin/env bash
# Progress off a terminal (stderr to a file, as in CI): plain lines that parse,
# "mxb CMD: WHAT DONE/TOTAL UNITS (P%), R UNITS/s, ETA H:MM:SS", for every stage of
# mxb run and for mxb synth; --quiet prints none.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON; SRC=$MXB_SOURCE_DIR
T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$SRC/tests/lib_cli.sh"
cd $T
MXB_PROGRESS_SECONDS=0 $MXB synth data --n 4 --seed 3 --size 64 >/dev/null 2>synth.err
check "synth: a line per image (MXB_PROGRESS_SECONDS=0), the last at 4/4" bash -c \
  "[ \$(grep -c '^mxb synth: writing [1-4]/4 images' synth.err) -ge 3 ] && tail -1 synth.err | grep -q '^mxb synth: .* 4/4 images (100%), [0-9.]* images/s, ETA 0:00:00$'"
$MXB synth quiet --n 4 --seed 3 --size 64 --quiet >/dev/null 2>quiet.err
check "synth --quiet: nothing on stderr" [ ! -s quiet.err ]

cat >run.ini <<INI
[run]
output = r.h5
figures = 1
save_attention = 1
[model:vit]
weights = $SRC/models/demo_vit.h5
[model:vim]
weights = $SRC/models/demo_vim.h5
[method:rollout]
[perturbation]
data = data/images
labels = data/labels.txt
tests = positive
[segmentation]
data = data/gtsegs_synth.mat
INI
MXB_PROGRESS_SECONDS=0 $MXB run run.ini >/dev/null 2>run.err
check "run (stderr to a file): exit 0" [ -e r.h5 ]
check "run: every stderr line is a progress line that parses, or the closing 'wrote'" $PY - <<'PYEOF'
import re, sys
pat = re.compile(r"^mxb run: (\S+(?: \S+)?) (\d+)/(\d+) (units|images) \((\d+)%\), ([0-9.]+) \4/s, ETA (\d+:\d\d:\d\d|\?)$")
lines = open("run.err").read().splitlines()
units, attn = [], []
for l in lines:
    if l.startswith("mxb run: wrote ./r.h5 (16 units, "):
        continue
    m = pat.match(l)
    if not m: sys.exit("does not parse: %r" % l)
    what, done, total, kind, pct = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4), int(m.group(5))
    if pct != 100 * done // total: sys.exit("percent: %r" % l)
    (units if kind == "units" else attn).append((what, done, total))
# 4 images x 2 models x 2 tests = 16 units; save_attention 1: 2 tests x 2 models = 4 images
ok = [t for _, _, t in units] == [16] * len(units) and [d for _, d, _ in units] == sorted(d for _, d, _ in units)
ok = ok and len(units) >= 16 and units[-1][1:] == (16, 16)
# the closing line is said even when a line every unit already reached 16/16
ok = ok and units[-1][0] == "units done"
ok = ok and {w for w, _, _ in units} - {"units done"} == {"perturbation/vit", "perturbation/vim", "segmentation/vit", "segmentation/vim"}
ok = ok and len(attn) >= 4 and attn[-1][1:] == (4, 4) and attn[0][0].startswith("attention ")
print("   %d unit lines, %d attention lines" % (len(units), len(attn)))
sys.exit(0 if ok else 1)
PYEOF
# the default interval (5 s, or 10 % but not more than one a second): still a last line
$MXB run run.ini --set run.output=r2.h5 >/dev/null 2>run2.err
check "run, default interval: still says 16/16 units (100%) at the end of the units" \
  grep -q "^mxb run: [a-z/ ]* 16/16 units (100%), [0-9.]* units/s, ETA 0:00:00$" run2.err
$MXB run run.ini --set run.output=r3.h5 --quiet >/dev/null 2>run3.err
check "run --quiet: nothing on stderr" [ ! -s run3.err ]
check "run --quiet: the same results" cmp -s <($MXB report r.h5 --format csv) <($MXB report r3.h5 --format csv)

# on a terminal (script(1) gives the command one): the live line, redrawn in place
# (carriage return + erase line), ended with a newline; no plain lines
if command -v script >/dev/null; then
  script -qec "$MXB run run.ini --set run.output=r4.h5 >/dev/null" tty.log >/dev/null 2>&1
  check "terminal: the line is redrawn in place and ends at 16/16" \
    grep -q $'\r\033\[Kunits done  16/16 units (100%)  [0-9.]* units/s  ETA 0:00:00' tty.log
  check "terminal: no plain progress lines" bash -c "! grep -q '^mxb run: perturbation' tty.log"
  script -qec "$MXB run run.ini --set run.output=r5.h5 --quiet >/dev/null" tty2.log >/dev/null 2>&1
  check "terminal --quiet: no live line" bash -c "! grep -q $'\033\\[K' tty2.log"
fi

echo "cli_progress: $pass passed, $fail failed"
[ $fail -eq 0 ]
