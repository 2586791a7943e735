#!/usr/bin/env bash
# mxb run with methods of both families in one configuration (issue 16 §6): a
# (model, method) pair whose method does not support the model's family is skipped,
# not refused: no unit, journal bytes or dataset for it, the other pairs the same bits
# as a configuration without the one-family methods, resume and shard+merge work,
# the reports print "—" for it, mxb compare reports a pair skipped in one file only,
# and a method that no configured model supports is still an error.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON; M=$MXB_SOURCE_DIR/models
T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$MXB_SOURCE_DIR/tests/lib_cli.sh"
cd $T

# 2 images under the sanitisers (every run here is the whole loop; 6 runs of 4 images
# were the slowest test of that pass), 4 otherwise
N=4; sanitised && N=2
check "mxb synth" $MXB synth data --n $N --seed 3 --size 64 --quiet
# config NAME METHOD...: both demo models, both tests, the methods in this order
config() {
  local name=$1; shift
  { printf '[run]\noutput = %s.h5\nfigures = 2\nsave_maps = yes\n' "$name"
    printf '[model:vit]\nweights = %s/demo_vit.h5\n[model:vim]\nweights = %s/demo_vim.h5\n' "$M" "$M"
    for k in "$@"; do printf '[method:%s]\n' "$k"; done
    printf '[perturbation]\ndata = data/images\nlabels = data/labels.txt\ntests = positive, negative\n'
    printf '[segmentation]\ndata = data/gtsegs_synth.mat\n'; } >$name.ini
}
# uia is ViM-only, lrp-partial ViT-only; rollout and ixg run on both
config mixed rollout uia lrp-partial ixg
config both rollout ixg

$MXB run mixed.ini >mixed.md 2>mixed.err; rc=$?
check "a configuration mixing ViT-only and ViM-only methods runs" [ $rc -eq 0 ]
check "the skipped pairs are said once on stderr" \
  bash -c "[ \$(grep -c 'skipping 2 (model, method) pairs the method does not support: vit/uia, vim/lrp-partial' mixed.err) -eq 1 ]"
check "$((4 * N)) units: 2 tests x 2 models x $N images (a skipped pair adds none)" grep -q "units done $((4 * N))/$((4 * N)) units" mixed.err
$MXB run mixed.ini --quiet --set run.output=quiet.h5 >/dev/null 2>quiet.err
check "--quiet says nothing" [ ! -s quiet.err ]

check "no datasets for a skipped pair; /skipped marks exactly them" $PY - <<'EOF'
import h5py, numpy as np
f = h5py.File("mixed.h5")
ok = list(f["skipped"][()].ravel()) == [0, 1, 0, 0, 0, 0, 1, 0]  # [model, method]: vit/uia, vim/lrp-partial
for t in ("perturbation", "segmentation"):
    ok = ok and "uia" not in f[t]["vit"] and "lrp-partial" not in f[t]["vim"]
    ok = ok and "uia" in f[t]["vim"] and "lrp-partial" in f[t]["vit"]
raise SystemExit(0 if ok else 1)
EOF

$MXB run both.ini --quiet >/dev/null 2>>$MXB_ERR
check "every pair both files run is the same bits as a run without the one-family methods" $PY - <<'EOF'
import h5py, numpy as np
a, b = h5py.File("both.h5"), h5py.File("mixed.h5")
names = []
for g in ("perturbation", "segmentation"):
    a[g].visititems(lambda n, o: names.append(g + "/" + n) if isinstance(o, h5py.Dataset) else None)
same = lambda x, y: x.shape == y.shape and (np.array_equal(x, y, equal_nan=True) if x.dtype.kind == "f" else np.array_equal(x, y))
ok = len(names) > 60 and all(same(a[n][()], b[n][()]) for n in names)
ok = ok and "skipped" not in a  # nothing skipped: no /skipped, the file as before
raise SystemExit(0 if ok else 1)
EOF

# resume: killed after 3 journal records, started again
( MXB_TEST_KILL_AFTER_RECORDS=3 $MXB run mixed.ini --quiet --set run.output=resumed.h5 >/dev/null 2>>$MXB_ERR ) 2>/dev/null
check "killed after three units: a journal and no file" [ -e resumed.h5.journal -a ! -e resumed.h5 ]
$MXB run mixed.ini --set run.output=resumed.h5 >/dev/null 2>resume.err
check "resumes from the journal (3 of $((4 * N)) units done)" grep -q "resuming .*: 3 of $((4 * N)) units already done" resume.err
same_groups() { for g in /perturbation /segmentation /skipped; do h5diff -q "$1" "$2" $g $g >/dev/null || return 1; done; }
check "killed and resumed: the same results" same_groups mixed.h5 resumed.h5

# shards and merge
$MXB run mixed.ini --quiet --shard 0/2 >/dev/null 2>>$MXB_ERR
$MXB run mixed.ini --quiet --shard 1/2 >/dev/null 2>>$MXB_ERR
$MXB merge merged.h5 mixed.shard-0-of-2.h5 mixed.shard-1-of-2.h5 >/dev/null 2>>$MXB_ERR; rc=$?
check "mxb merge of two shards with skipped pairs" [ $rc -eq 0 ]
check "merged: the same results as the unsharded run" same_groups mixed.h5 merged.h5

# reports
check "mxb run prints what mxb report prints" cmp -s mixed.md <($MXB report mixed.h5)
check "md: perturbation row uia has — for vit" grep -qF '| uia | — | — | ' mixed.md
check "md: segmentation row lrp-partial has — for vim" grep -qE '^\| lrp-partial \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| — \| — \| — \|$' mixed.md
$MXB report mixed.h5 --curves >curves.md
check "--curves: no row for a skipped pair" bash -c "! grep -qE '^\| vit \| uia \|' curves.md && grep -qE '^\| vim \| uia \|' curves.md"
$MXB report mixed.h5 --format json >r.json
$MXB report mixed.h5 --format csv >r.csv
check "json: valid, lists the skipped pairs, no metric for them" $PY - <<'EOF'
import json
r = json.load(open("r.json"))
ok = r["skipped"] == [["vit", "uia"], ["vim", "lrp-partial"]]
ok = ok and not any(k.startswith(("perturbation/vit/uia/", "segmentation/vim/lrp-partial/")) for k in r["metrics"])
ok = ok and "perturbation/vim/uia/positive_auc" in r["metrics"] and "segmentation/vit/lrp-partial/miou" in r["metrics"]
raise SystemExit(0 if ok else 1)
EOF
check "csv: valid (3 fields a row), no row for a skipped pair" $PY - <<'EOF'
import csv
rows = list(csv.reader(open("r.csv", newline="")))
ok = rows[0] == ["metric", "value", "better"] and all(len(x) == 3 for x in rows) and len(rows) > 50
ok = ok and not any(x[0].startswith(("perturbation/vit/uia/", "segmentation/vim/lrp-partial/")) for x in rows)
raise SystemExit(0 if ok else 1)
EOF
$MXB report mixed.h5 --html page.html --figures figs >/dev/null 2>>$MXB_ERR
check "html: a — cell for each skipped metric column, the page well formed" $PY - <<'EOF'
import html.parser, re
s = open("page.html", encoding="utf-8").read()
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.stack = []; self.bad = 0
    def handle_starttag(self, tag, a):
        if tag not in ("br", "img", "meta", "hr", "col", "link"): self.stack.append(tag)
    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag: self.bad += 1
p = P(); p.feed(s)
# perturbation: vit/uia 2 columns, vim/lrp-partial 2; segmentation: 5 + 5
ok = p.bad == 0 and not p.stack and len(re.findall(r'class="num skipped"[^>]*>—</td>', s)) == 14
raise SystemExit(0 if ok else 1)
EOF
check "html: every number of the page is the JSON's (check_html.py), none for a skipped pair" \
  $PY $MXB_SOURCE_DIR/tests/check_html.py report page.html r.json
check "overlay figure: 1 image + the ground truth + 3 vit + 3 vim map columns (no column for a skipped pair)" $PY - <<'EOF'
from PIL import Image
# width = labels (48..168 pt) + columns x (tile + 4) + 4, at 2 px a point; a 64 px image's
# tile is 128 pt (results/figures.c overlay_tile); 9 columns would be 132 pt more
w = Image.open("figs/overlays.png").size[0]
raise SystemExit(0 if 2 * (48 + 8 * 132 + 4) <= w <= 2 * (168 + 8 * 132 + 4) else 1)
EOF

# compare: skipped in both is fine; run in one file and skipped in the other is a difference
check "compare: a file with skipped pairs against itself passes" $MXB compare mixed.h5 resumed.h5 --tolerance 0 --quiet
cp mixed.h5 edited.h5 && chmod u+w edited.h5
$PY - <<'EOF'
import h5py
f = h5py.File("edited.h5", "r+")
s = f["skipped"][()]; s[1, 3] = 1  # vim/ixg: as if skipped
del f["skipped"]; f.create_dataset("skipped", data=s)
del f["perturbation/vim/ixg"]; del f["segmentation/vim/ixg"]
EOF
$MXB compare mixed.h5 edited.h5 --quiet >cmp.txt 2>cmp.err; rc=$?
check "compare: a pair skipped in the new file only fails (exit 1) and is named" \
  bash -c "[ $rc -eq 1 ] && grep -q 'vim/ixg .*SKIPPED IN NEW' cmp.txt && grep -q '1 (model, method) pair run in one file and skipped in the other' cmp.err"
$MXB compare edited.h5 mixed.h5 --quiet --html cmp.html >cmp2.txt 2>>$MXB_ERR; rc=$?
check "compare: a pair skipped in the baseline only fails too, and the page says so" \
  bash -c "[ $rc -eq 1 ] && grep -q 'vim/ixg .*SKIPPED IN BASELINE' cmp2.txt && grep -q 'skipped in the baseline file' cmp.html"
check "merge refuses shards that skip different pairs" bash -c "! $MXB merge m2.h5 edited.h5 mixed.shard-1-of-2.h5 >/dev/null 2>>$MXB_ERR"

# --estimate: the method cost lines only for pairs that run
$MXB run mixed.ini --estimate --set run.output=est.h5 >est.txt 2>&1
check "--estimate: no cost line for a skipped pair" \
  bash -c "grep -q 'method uia · vim' est.txt && ! grep -q 'method uia · vit' est.txt && grep -q 'method ixg · vit' est.txt"

# still errors: a method no configured model supports; a model no method supports
printf '[run]\noutput = x.h5\n[model:vit]\nweights = %s/demo_vit.h5\n[method:rollout]\n[method:uia]\n[segmentation]\ndata = data/gtsegs_synth.mat\n' "$M" >vitonly.ini
expect_fail 2 "vitonly.ini: method 'uia' supports none of the configured models: vit (vit)" $MXB run vitonly.ini
printf '[run]\noutput = y.h5\n[model:vit]\nweights = %s/demo_vit.h5\n[model:vim]\nweights = %s/demo_vim.h5\n[method:uia]\n[segmentation]\ndata = data/gtsegs_synth.mat\n' "$M" "$M" >nomethod.ini
expect_fail 2 "nomethod.ini: model vit (vit) is supported by none of the configured methods" $MXB run nomethod.ini
check "no results file after a refused configuration" [ ! -e x.h5 -a ! -e y.h5 ]

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
