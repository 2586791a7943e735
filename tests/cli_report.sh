#!/usr/bin/env bash
# Figures and the HTML report, end to end on a small run of the demo models:
# every dataset mxb writes (run, predict, explain) has a layout attribute; the
# figures are PNG + SVG with text drawn; `report --html` and `compare --html` pages
# are checked by Python's own parsers (tests/check_html.py: html.parser, PIL,
# xml.etree) against `report --format json`; bad output paths fail cleanly. Paper-ready
# output (issue 25 item 5): model labels ([model:NAME] label) in the tables, JSON and
# file, `--format tex` read back in Python against the JSON (layout, values, bold,
# escaping of a label with _, & and %; cli_sweep: an alias with _), the overlay grid's
# ground-truth column against the stored masks, and the page's links to the
# full-size figures.
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
label = ViT_S & 100%

[model:vim]
weights = $SRC/models/demo_vim.h5
label = ViM-S

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
    sh -c "$MXB report insm.h5 | grep -q 'ViM-S insertion ↑ | ViM-S deletion ↓' && $MXB report insm.h5 --format json | grep -q '\"perturbation/vit/attribution/deletion_auc\": 0.125'"
$MXB report insm.h5 --html ins.html >/dev/null 2>>$MXB_ERR; $MXB report insm.h5 --format json >ins.json
check "insertion/deletion: HTML table checked against the json" $PY $SRC/tests/check_html.py report ins.html ins.json
check "insertion/deletion: absent from a file without them" sh -c "! $MXB report r.h5 --format csv | grep -q insertion"

# ---- paper-ready output (issue 25 item 5) ----
check "labels: stored as model_label_NAME, in JSON's model_labels and the md table headers" $PY - <<'EOF'
import h5py, json, os, subprocess
a = h5py.File("r.h5").attrs
s = lambda k: a[k].decode() if isinstance(a[k], bytes) else a[k]
j = json.load(open("r.json"))
md = subprocess.run([os.environ["MXB_EXE"], "report", "r.h5"], capture_output=True, text=True).stdout
ok = s("model_label_vit") == "ViT_S & 100%" and s("model_label_vim") == "ViM-S"
ok = ok and j["models"] == ["vit", "vim"] and j["model_labels"] == {"vit": "ViT_S & 100%", "vim": "ViM-S"}
ok = ok and "| ViT_S & 100% positive ↓ | ViT_S & 100% negative ↑ | ViM-S positive ↓" in md
ok = ok and "perturbation/vim/attribution/positive_auc" in j["metrics"]  # metric names keep NAME
raise SystemExit(0 if ok else 1)
EOF
$MXB report r.h5 --format tex >r.tex 2>>$MXB_ERR
$MXB report r.h5 --format tex --bootstrap 200 --seed 7 >ci.tex 2>>$MXB_ERR
$MXB report r.h5 --format json --bootstrap 200 --seed 7 >ci.json 2>>$MXB_ERR
# TeX Live is ~100 MB of packages: the tables are read back here instead of compiled
check "tex: booktabs tables in the paper's layout, values = JSON, best per column bold, escaped" $PY - <<'EOF'
import json, re
def tables(path):
    """each tabular: its column spec, header rows and body lines (rows split at unescaped &)"""
    out = []
    for m in re.finditer(r"\\begin\{tabular\}\{([^}]*)\}\n(.*?)\\end\{tabular\}", open(path).read(), re.S):
        body = m.group(2)
        assert body.startswith("\\toprule\n") and body.rstrip().endswith("\\bottomrule"), "rules"
        head, _, rows = body[len("\\toprule\n"):].partition("\\midrule\n")
        rows = rows.rsplit("\\bottomrule", 1)[0]
        split = lambda line: [c.strip() for c in re.split(r"(?<!\\)&", line)]
        out.append((m.group(1), [split(l[:-2]) for l in head.splitlines() if l.endswith("\\\\")], rows.splitlines()))
    return out
unesc = lambda s: re.sub(r"\\([_%&#${}])", r"\1", s)
ok = True
def expect(cond, what):
    global ok
    if not cond:
        print("FAIL", what)
        ok = False
for path, js in (("r.tex", "r.json"), ("ci.tex", "ci.json")):
    j = json.load(open(js))
    M, better = j["metrics"], j["better"]
    # the paper's Table 1 and Table 2, per model: these columns in this order
    layout = [("perturbation", ["positive_auc", "negative_auc"], 1),
              ("segmentation", ["pixel_accuracy", "miou", "mean_ap"], 100)]
    T = tables(path)
    expect(len(T) == 2, "%s: two tables" % path)
    caps = re.findall(r"\\caption\{(.*)\}\n", open(path).read())
    expect(len(caps) == 2 and all("\\$" not in c and "textbackslash" not in c for c in caps), "%s: captions %s" % (path, caps))
    expect((path == "ci.tex") == all("$\\pm$ the half-width of their 95\\,\\% percentile" in c for c in caps), "%s: interval caption" % path)
    for (spec, head, rows), (test, cols, scale) in zip(T, layout):
        n = 1 + len(j["models"]) * len(cols)
        expect(spec == "l" + "r" * (n - 1), "%s: spec %s" % (path, spec))
        expect(head[0][1:] == ["\\multicolumn{%d}{c}{%s}" % (len(cols), l) for l in ("ViT\\_S \\& 100\\%", "ViM-S")],
               "%s: model header %s" % (path, head[0]))
        expect(len(head[1]) == n, "%s: column titles %s" % (path, head[1]))
        expect(all(r.endswith(" \\\\") for r in rows), "%s: every row ends with \\\\" % path)
        cells = [[c.strip() for c in re.split(r"(?<!\\)&", r[:-3])] for r in rows]
        expect([unesc(c[0]) for c in cells] == j["methods"], "%s: rows %s" % (path, [c[0] for c in cells]))
        for c in cells:
            expect(len(c) == n, "%s: %d cells in row %s" % (path, len(c), c[0]))
        for m, model in enumerate(j["models"]):
            for i, col in enumerate(cols):
                names = ["%s/%s/%s/%s" % (test, model, k, col) for k in j["methods"]]
                vals = [M[x] for x in names]
                best = (max if better[names[0]] == "higher" else min)(v for v in vals if v is not None)
                for k, (name, v) in enumerate(zip(names, vals)):
                    cell = cells[k][1 + m * len(cols) + i]
                    num = re.match(r"(?:\\textbf\{)?(-?[0-9.]+)\}?", cell)
                    expect(num and num.group(1) == "%.2f" % (v * scale), "%s: %s shows %r, JSON %r" % (path, name, cell, v))
                    expect(cell.startswith("\\textbf{") == (v == best), "%s: %s %r, best %r" % (path, name, cell, best))
                    if path == "ci.tex":
                        lo, hi = j["intervals"][name]
                        expect(cell.endswith(" $\\pm$ %.2f" % ((hi - lo) / 2 * scale)), "%s: %s %r" % (path, name, cell))
                    else:
                        expect("pm" not in cell, "%s: %s has an interval without --bootstrap" % (path, name))
print("tex tables checked" if ok else "tex tables wrong")
raise SystemExit(0 if ok else 1)
EOF
# where a LaTeX is installed (not in CI: TeX Live is ~150 MB), the tables must compile
if command -v pdflatex >/dev/null; then
  printf '\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n\\input{r}\n\\input{ci}\n\\end{document}\n' >doc.tex
  check "tex: compiles with pdflatex (booktabs)" bash -c "pdflatex -interaction=nonstopmode -halt-on-error doc.tex >latex.log 2>&1"
fi
expect_fail 2 "mxb report: --pair goes with --format md, json or csv" \
    $MXB report r.h5 --format tex --pair vim/attribution,vit/attribution
# the overlay grid of the segmentation test: after the image, the stored object mask
# (white on black), read back from the PNG's pixels at each mask cell's centre
check "overlays: a ground-truth column = /segmentation/figure_masks" $PY - <<'EOF'
import h5py, numpy as np
from PIL import Image
mk = h5py.File("r.h5")["segmentation/figure_masks"][()]
im = np.asarray(Image.open("figs/overlays.png").convert("L")).astype(int)
S = mk.shape[1]
D, OGAP, OTITLE, OHEAD = S * ((96 + S - 1) // S), 4, 30, 58   # figures.c's layout, in points
ncols = 2 + 2 * 2                                             # image, mask, 2 models x 2 methods
lw = im.shape[1] / 2 - ncols * (D + OGAP) - OGAP
c = (np.arange(S) + 0.5) * D / S
worst = 0
for y in range(mk.shape[0]):
    ys = ((OTITLE + OHEAD + y * (D + OGAP) + c) * 2).astype(int)
    xs = ((lw + OGAP + (D + OGAP) + c) * 2).astype(int)
    worst = max(worst, np.abs(im[ys][:, xs] - 255 * mk[y].astype(int)).max())
ok = mk.shape[0] == 2 and 0 < mk.mean() < 1 and set(np.unique(mk)) <= {0, 1} and worst <= 2
print("masks", mk.shape, "largest pixel difference", worst)
raise SystemExit(0 if ok else 1)
EOF
check "figures.md says where the ground truth is" grep -q "ground-truth object mask" figs/figures.md
# the page with --figures: each figure links to its full-size PNG, relative to the page
mkdir -p pages
$MXB report r.h5 --figures figs3 --html pages/linked.html >/dev/null 2>>$MXB_ERR
check "report --html --figures: valid page, every figure linked to its PNG (../figs3/...)" \
    $PY $SRC/tests/check_html.py report pages/linked.html r.json
check "report --html --figures: 4 figures, 4 links" \
    [ "$(grep -o '<a href="../figs3/[a-z_0-9]*.png"><img ' pages/linked.html | wc -l)" -eq 4 ]
check "report --html alone: no links out of the page" bash -c "! grep -q '<a href=\"[^#]' r.html"

echo "cli_report: $pass passed, $fail failed"
[ $fail -eq 0 ]
