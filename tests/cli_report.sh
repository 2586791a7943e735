#!/usr/bin/env bash
# Figures and the HTML report, end to end on a small run of the demo models:
# every dataset mxb writes (run, predict, explain) has a layout attribute; the
# figures are PNG + SVG with text drawn; `report --html` and `compare --html` pages
# are checked by Python's own parsers (tests/check_html.py: html.parser, PIL,
# xml.etree) against `report --format json`; bad output paths fail cleanly.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON; SRC=$MXB_SOURCE_DIR
T=$(mktemp -d); trap 'rm -rf $T' EXIT
cd $T
. "$SRC/tests/lib_cli.sh"

$MXB synth data --n 3 --seed 3 --size 64 >/dev/null 2>>$MXB_ERR
# a comment with markup, quotes and an ampersand: the page must show it as text
NOTE='; note: <script>alert(1)</script> & "quoted" <b>not bold</b>'
cat >run.ini <<EOF
$NOTE
[run]
output = $T/r.h5
figures = 2
save_attention = 1

[model:vit]
weights = $SRC/models/demo_vit.h5

[model:vim]
weights = $SRC/models/demo_vim.h5

[method:raw-attention]
[method:attribution]

[perturbation]
data = $T/data/images
labels = $T/data/labels.txt
resize = 64
crop = 64

[segmentation]
data = $T/data/gtsegs_synth.mat
resize = 64
square = yes
filter = bilinear
EOF
$MXB run run.ini --quiet >/dev/null 2>err.txt
check "a small run of the demo models" [ -s r.h5 ]

# ---- every stored tensor names its axes ----
$MXB predict --weights $SRC/models/demo_vit.h5 --image data/images/synth_000000.png --out pred.h5 >/dev/null
$MXB explain --weights $SRC/models/demo_vim.h5 --tensor pred.h5:input --method attribution --variant exact \
    --save-attention --out ex_vim.h5 >/dev/null
$MXB explain --weights $SRC/models/demo_vit.h5 --tensor pred.h5:input --method rollout \
    --save-attention --out ex_vit.h5 >/dev/null
check "every dataset of run, predict and explain files has a layout attribute" $PY - <<'EOF'
import h5py
bad, n = [], 0
for path in ("r.h5", "pred.h5", "ex_vim.h5", "ex_vit.h5"):
    def visit(name, obj):
        global n
        if isinstance(obj, h5py.Dataset):
            n += 1
            if not isinstance(obj.attrs.get("layout"), str) or not obj.attrs["layout"]:
                bad.append(path + ":" + name)
    h5py.File(path).visititems(visit)
f = h5py.File("r.h5")
ok = not bad and n > 100 and "head" in f["attention/perturbation/vit/0"].attrs["layout"]
ok = ok and "direction" in f["attention/perturbation/vim/0"].attrs["layout"]
print(n, "datasets; without layout:", bad[:5])
raise SystemExit(0 if ok else 1)
EOF

# ---- figures: PNG + SVG of each, text drawn ----
$MXB report r.h5 --format json >r.json
$MXB report r.h5 --figures figs >/dev/null 2>>$MXB_ERR
check "figures: curves, overlays and one attention figure per test, PNG + SVG, with text" $PY - <<'EOF'
import numpy as np, xml.etree.ElementTree as ET
from PIL import Image
names = ["perturbation", "overlays", "attention_perturbation_0", "attention_segmentation_0"]
ok = True
for n in names:
    im = np.asarray(Image.open("figs/%s.png" % n).convert("L"))
    # the title is dark text centred in the top band: no font, no dark pixels there
    band = im[: im.shape[0] // 20 + 24, im.shape[1] // 4 : 3 * im.shape[1] // 4]
    ok &= (band < 80).sum() > 200 and (band > 240).mean() > 0.5
    svg = ET.parse("figs/%s.svg" % n).getroot()
    # cairo draws text as glyph symbols: an SVG without them has no text
    ok &= svg.tag == "{http://www.w3.org/2000/svg}svg" and "glyph" in open("figs/%s.svg" % n).read()
    print(n, im.shape, "title band dark pixels", int((band < 80).sum()))
md = open("figs/figures.md").read()
ok &= all(n + ".svg" in md for n in names)
raise SystemExit(0 if ok else 1)
EOF
# the attention figure shows what the file holds: ViT's head mean, ViM's two directions
# summed, layers evenly spaced first..last, each matrix min-max scaled. Read back from
# the PNG's pixels (cell centres, through the figure's 9-stop viridis) and compared
# with the matrices recomputed here from the file.
check "attention figure: its pixels are the stored matrices (head mean, direction sum)" $PY - <<'EOF'
import h5py, numpy as np
from PIL import Image
f = h5py.File("r.h5")
mats = [f["attention/perturbation/vit/0"][()].mean(1), f["attention/perturbation/vim/0"][()].sum(1)]
stops = np.array([[0.267, 0.005, 0.329], [0.283, 0.141, 0.458], [0.254, 0.265, 0.530], [0.207, 0.372, 0.553],
                  [0.164, 0.471, 0.558], [0.128, 0.567, 0.551], [0.135, 0.659, 0.518], [0.267, 0.749, 0.441],
                  [0.993, 0.906, 0.144]])
v = np.linspace(0, 1, 801)
lut = np.stack([np.interp(v, np.linspace(0, 1, 9), stops[:, k]) for k in range(3)], 1) * 255
im = np.asarray(Image.open("figs/attention_perturbation_0.png").convert("RGB")).astype(float)
AML, AMT, AD, AGAP, S = 96, 96, 220, 34, 2  # figures.c's layout, 2 px per point
worst = 0
for m, a in enumerate(mats):
    depth, L = a.shape[0], a.shape[1]
    for i, l in enumerate(np.round(np.linspace(0, depth - 1, 4)).astype(int)):
        want = (a[l] - a[l].min()) / (a[l].max() - a[l].min())
        c = (np.arange(L) + 0.5) * AD / L
        ys = ((AMT + i * (AD + AGAP) + c) * S).astype(int)
        xs = ((AML + m * (AD + AGAP) + c) * S).astype(int)
        px = im[ys][:, xs]                                   # [L, L, 3]
        got = v[np.argmin(((px[:, :, None, :] - lut[None, None]) ** 2).sum(-1), -1)]
        worst = max(worst, np.abs(got - want).max())
print("largest difference, pixel value vs recomputed matrix: %.4f" % worst)
raise SystemExit(0 if worst < 0.02 else 1)
EOF

# a machine without fonts (a --no-install-recommends Debian): the figures are still
# drawn (cairo's built-in font) and the command says what to install
mkdir -p nofont && printf '<?xml version="1.0"?>\n<fontconfig><dir>%s/nofont</dir><cachedir>%s/nofont</cachedir></fontconfig>\n' $T $T >nofont/fonts.conf
FONTCONFIG_FILE=$T/nofont/fonts.conf $MXB report r.h5 --figures figs_nofont >/dev/null 2>nofont.err; rc=$?
check "no system font: exit 0, one warning naming fonts-dejavu-core, figures drawn" \
    bash -c "[ $rc -eq 0 ] && grep -q 'warning: no system font.*fonts-dejavu-core' nofont.err && [ -s figs_nofont/perturbation.png ]"
check "with fonts: no warning" bash -c "! $MXB report r.h5 --figures figs2 2>&1 >/dev/null | grep -q warning"

# ---- the report page ----
$MXB report r.h5 --html r.html >/dev/null 2>>$MXB_ERR
check "report --html: valid page, images decode, numbers = JSON, config escaped" \
    $PY $SRC/tests/check_html.py report r.html r.json "$NOTE"
check "report --html: one figure per drawing (curves, overlays, 2 attention)" \
    [ "$(grep -o '<img ' r.html | wc -l)" -eq 4 ]
check "report --html: markup from the file is text, not markup" grep -qF '&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot;' r.html
$MXB report $SRC/results/baselines/demo.h5 --format json >base.json
$MXB report $SRC/results/baselines/demo.h5 --html base.html >/dev/null 2>>$MXB_ERR
check "report --html of the committed baseline (80 images, 3 methods)" $PY $SRC/tests/check_html.py report base.html base.json

# ---- the compare page ----
cp r.h5 m.h5
$PY - <<'EOF'
import h5py
with h5py.File("m.h5", "r+") as f:  # one image's hit flipped at p = 0.3: that AUC and that step move
    h = f["perturbation/vim/attribution/positive/hits"]
    a = h[()]; a[0, 3] = 1 - a[0, 3]; h[...] = a
EOF
$MXB report m.h5 --format json >m.json
$MXB compare r.h5 m.h5 --quiet --html c.html >/dev/null 2>>$MXB_ERR; rc=$?
check "compare --html: exit 1 as before when a metric moved" [ $rc -eq 1 ]
check "compare --html: marks exactly the metrics that moved" $PY $SRC/tests/check_html.py compare c.html r.json m.json 1e-6 0
check "compare --html: two moved (AUC, step 30)" [ "$(grep -c '<tr class="moved"' c.html)" -eq 2 ]
$MXB compare r.h5 m.h5 --quiet --tolerance 50 --html c50.html >/dev/null 2>>$MXB_ERR; rc=$?
check "compare --html --tolerance 50: exit 0, nothing marked" [ $rc -eq 0 ]
check "compare --html --tolerance 50: checked" $PY $SRC/tests/check_html.py compare c50.html r.json m.json 50 0
$MXB compare r.h5 r.h5 --quiet --html same.html >/dev/null 2>>$MXB_ERR; rc=$?
check "compare --html of a file with itself: exit 0, verdict pass" [ $rc -eq 0 ]
check "compare --html of a file with itself: checked" $PY $SRC/tests/check_html.py compare same.html r.json r.json 1e-6 0

# ---- bad output paths: one line, no partial page ----
expect_fail 1 "nodir/x.html" $MXB report r.h5 --html nodir/x.html
check "no partial report page" [ ! -e nodir ]
expect_fail 2 "nodir/c.html" $MXB compare r.h5 m.h5 --quiet --html nodir/c.html
touch blocker
expect_fail 1 "blocker/figs" $MXB report r.h5 --figures blocker/figs

cp r.h5 badatt.h5
$PY - <<'EOF'
import h5py, numpy as np
with h5py.File("badatt.h5", "r+") as f:  # not square: [layers, 2, 5, 6]
    del f["attention/perturbation/vim/0"]
    f["attention/perturbation/vim/0"] = np.zeros((2, 2, 5, 6), np.float32)
EOF
expect_fail 1 "badatt.h5: '/attention/perturbation/vim/0' is not [layers, heads or 2, L, L]" \
    $MXB report badatt.h5 --figures badfigs
check "bad attention dataset: no figures.md left looking complete" [ ! -e badfigs/figures.md ]

# RISE insertion / deletion: a file that has them (added by h5py to the run's file)
# goes through mxb merge (the writer) and mxb report: datasets with a layout, the
# means, the metrics under their names, a table in md and HTML; r.h5 (without) shows none
$PY - <<'EOF'
import h5py, numpy as np
with h5py.File("r.h5", "r") as a, h5py.File("ins.h5", "w") as b:
    for k in a: a.copy(k, b)
    for k, v in a.attrs.items(): b.attrs[k] = v
    b.attrs["insdel_step"] = 224
    n = b["perturbation/index"].shape[0]
    for m in ("vit", "vim"):
        for k in ("raw-attention", "attribution"):
            g = b["perturbation/%s/%s" % (m, k)]
            g["insertion_auc"] = np.linspace(0.25, 0.75, n)
            g["deletion_auc"] = np.full(n, 0.125)
EOF
$MXB merge insm.h5 ins.h5 >/dev/null 2>>$MXB_ERR
check "insertion/deletion: merged, each with its layout and mean" $PY - <<'EOF'
import h5py
f = h5py.File("insm.h5", "r")
g = f["perturbation/vim/attribution"]
ok = f.attrs["insdel_step"] == 224 and "RISE" in g["insertion_auc"].attrs["layout"]
ok = ok and abs(g["mean_insertion_auc"][()] - 0.5) < 1e-12 and g["mean_deletion_auc"][()] == 0.125
raise SystemExit(0 if ok else 1)
EOF
check "insertion/deletion: md table, metrics in json" \
    sh -c "$MXB report insm.h5 | grep -q 'vim insertion ↑ | vim deletion ↓' && $MXB report insm.h5 --format json | grep -q '\"perturbation/vit/attribution/deletion_auc\": 0.125'"
$MXB report insm.h5 --html ins.html >/dev/null 2>>$MXB_ERR; $MXB report insm.h5 --format json >ins.json
check "insertion/deletion: HTML table checked against the json" $PY $SRC/tests/check_html.py report ins.html ins.json
check "insertion/deletion: absent from a file without them" sh -c "! $MXB report r.h5 --format csv | grep -q insertion"

echo "cli_report: $pass passed, $fail failed"
[ $fail -eq 0 ]
