#!/usr/bin/env bash
# The evaluation transform stored in the weights file (engine/WEIGHTS.md, eval_*):
# predict / explain --image and run apply the model's own, checked against PIL +
# tools/reference.py (PyTorch); options override it; a file without one falls back,
# said once; a run whose models' geometries differ is refused. Uses the committed
# demo models (models/) on a few synthetic images of their held-out seed.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON; SRC=$MXB_SOURCE_DIR
T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$SRC/tests/lib_cli.sh"
cd $T
N=8
$MXB synth data --n $N --seed 3 --size 64 --quiet >/dev/null || { echo "synth failed"; exit 1; }
check "inspect shows the demo model's transform" bash -c \
  "$MXB inspect $SRC/models/demo_vit.h5 | grep -qx 'transform     Resize((64, 64), bilinear), mean 0.485,0.456,0.406, std 0.229,0.224,0.225'"

# ---- predict --image = PIL + the PyTorch reference, and = what mxb run predicts ----
for m in vit vim; do
  for i in $(seq 0 $((N - 1))); do
    img=data/images/$(printf 'synth_%06d.png' $i)
    $MXB predict --weights $SRC/models/demo_$m.h5 --image $img --out p_${m}_$i.h5 >/dev/null 2>p.err ||
      bad "predict $m $img ran: $(cat p.err)"
    check "predict $m $img: nothing on stderr (the file has its transform)" [ ! -s p.err ]
  done
done
sanitised || check "predict --image: input and logits = PIL + reference.py for both demo models" $PY - $SRC $N <<'PYEOF'
import sys, h5py, numpy as np, torch
from PIL import Image
src, n = sys.argv[1], int(sys.argv[2]); sys.path.insert(0, src + "/tools")
import reference
mean = np.array([0.485, 0.456, 0.406], np.float32); std = np.array([0.229, 0.224, 0.225], np.float32)
worst = 0
for m in ("vit", "vim"):
    model = reference.load_model(src + "/models/demo_%s.h5" % m)
    for i in range(n):
        im = Image.open("data/images/synth_%06d.png" % i).convert("RGB").resize((64, 64), Image.BILINEAR)
        x = ((np.asarray(im, np.float32) / 255 - mean) / std).transpose(2, 0, 1)
        f = h5py.File("p_%s_%d.h5" % (m, i))
        if np.abs(f["input"][:] - x).max() > 1e-6: sys.exit("input differs: %s %d" % (m, i))
        ref = reference.predict(model, torch.from_numpy(x)[None])[0].numpy()
        d = np.abs(f["logits"][:] - ref).max() / np.ptp(ref); worst = max(worst, d)
        if d > 1e-4 or np.argmax(ref) != np.argmax(f["logits"][:]): sys.exit("logits differ: %s %d" % (m, i))
print("   logits within %.1e of the logit range" % worst)
PYEOF
cat >run.ini <<INI
[run]
output = r.h5
figures = 0
[model:vit]
weights = $SRC/models/demo_vit.h5
[model:vim]
weights = $SRC/models/demo_vim.h5
[method:raw-attention]
[perturbation]
data = data/images
labels = data/labels.txt
tests = positive
INI
$MXB run run.ini --quiet >/dev/null 2>run.err
check "mxb run with the models' own transforms: exit 0, nothing on stderr" [ -e r.h5 -a ! -s run.err ]
check "mxb run predicts what predict --image predicts, image by image" $PY - $N <<'PYEOF'
import sys, h5py, numpy as np
n = int(sys.argv[1]); r = h5py.File("r.h5")
for m in ("vit", "vim"):
    pred = r["perturbation/%s/prediction" % m][:]
    mine = [int(np.argmax(h5py.File("p_%s_%d.h5" % (m, i))["logits"][:])) for i in range(n)]
    if list(pred) != mine: sys.exit("%s: run %s, predict %s" % (m, list(pred), mine))
t = r.attrs["transforms"]; t = t.decode() if isinstance(t, bytes) else t
want = "perturbation %s: Resize((64, 64), bilinear), mean 0.485,0.456,0.406, std 0.229,0.224,0.225"
if t != "; ".join(want % m for m in ("vit", "vim")): sys.exit("provenance transforms: " + t)
PYEOF

# ---- another size: the model's Resize((64, 64)); options override it ----
$PY -c "
from PIL import Image
Image.open('data/images/synth_000001.png').resize((100, 80), Image.BICUBIC).save('big.png')"
$MXB predict --weights $SRC/models/demo_vit.h5 --image big.png --out big.h5 >/dev/null
$MXB predict --weights $SRC/models/demo_vit.h5 --image big.png --out big2.h5 --resize 73 --square no \
  --crop 64 --filter bicubic --mean 0.5,0.5,0.5 --std 0.25,0.25,0.25 >/dev/null
check "a 100x80 image: the model's transform, and the options' (PIL)" $PY - <<'PYEOF'
import sys, h5py, numpy as np
from PIL import Image
im = Image.open("big.png").convert("RGB")
a = np.asarray(im.resize((64, 64), Image.BILINEAR), np.float32) / 255
a = ((a - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]).transpose(2, 0, 1)
b = im.resize((91, 73), Image.BICUBIC)  # Resize(73): short side 80 -> 73, long 100 -> int(73 * 100 / 80)
l, t = int(round((91 - 64) / 2.0)), int(round((73 - 64) / 2.0))
b = np.asarray(b.crop((l, t, l + 64, t + 64)), np.float32) / 255
b = ((b - 0.5) / 0.25).transpose(2, 0, 1)
da = np.abs(h5py.File("big.h5")["input"][:] - a).max(); db = np.abs(h5py.File("big2.h5")["input"][:] - b).max()
print("   model's transform %.1e, options' %.1e" % (da, db)); sys.exit(0 if da < 1e-5 and db < 1e-5 else 1)
PYEOF
expect_fail 2 "mxb predict: --resize/--crop make 73 px inputs but the model takes 64 px (see mxb predict --help)" \
  $MXB predict --weights $SRC/models/demo_vit.h5 --image big.png --resize 73
expect_fail 2 "mxb predict: --mean: '1,2' is not three numbers R,G,B (see mxb predict --help)" \
  $MXB predict --weights $SRC/models/demo_vit.h5 --image big.png --mean 1,2
expect_fail 2 "mxb predict: the transform options apply to --image, not to --tensor (see mxb predict --help)" \
  $MXB predict --weights $SRC/models/demo_vit.h5 --tensor big.h5 --crop 64

# ---- explain --image: load, the model's transform, explain, the overlay ----
$MXB explain --weights $SRC/models/demo_vim.h5 --image big.png --method attribution --out e1.h5 --png o1.png >/dev/null
$MXB explain --weights $SRC/models/demo_vim.h5 --tensor big.h5 --method attribution --out e2.h5 --overlay o2.png >/dev/null
check "explain --image = explain --tensor of the same input (map, class)" $PY -c "
import h5py, numpy as np
a, b = h5py.File('e1.h5'), h5py.File('e2.h5')
raise SystemExit(0 if np.array_equal(a['map'][:], b['map'][:]) and int(a['class'][()]) == int(b['class'][()]) else 1)"
check "explain --png / --overlay: a 64x64 RGB overlay, the same either way" $PY -c "
from PIL import Image; import numpy as np
a, b = Image.open('o1.png'), Image.open('o2.png')
raise SystemExit(0 if a.size == (64, 64) and a.mode == 'RGB' and np.abs(np.asarray(a, int) - np.asarray(b, int)).max() <= 1 else 1)"
expect_fail 2 "mxb explain: --png and --overlay are the same option; give one (see mxb explain --help)" \
  $MXB explain --weights $SRC/models/demo_vim.h5 --image big.png --method rollout --png a.png --overlay b.png

# ---- a file without a transform (an older conversion) still works, and says so once ----
cp $SRC/models/demo_vit.h5 old.h5
$PY -c "
import h5py
with h5py.File('old.h5', 'r+') as f:
    for k in [k for k in f.attrs if k.startswith('eval_')]: del f.attrs[k]"
$MXB predict --weights old.h5 --image big.png >/dev/null 2>old.err; rc=$?
check "no transform: predict still runs" [ $rc -eq 0 ]
check "no transform: said once, one line" bash -c "[ \$(wc -l <old.err) -eq 1 ] && grep -qx 'mxb predict: old.h5 has no evaluation transform (an older conversion); using Resize(73, bicubic) + CenterCrop(64), mean 0.485,0.456,0.406, std 0.229,0.224,0.225' old.err"
check "inspect says so" bash -c "$MXB inspect old.h5 | grep -q '^transform     none stored'"
$PY $SRC/tools/set_transform.py old.h5 --resize 64 --square --crop 0 --interpolation bilinear >/dev/null
check "tools/set_transform.py makes it the committed file again (same attributes)" bash -c \
  "[ \"\$($MXB inspect old.h5 | grep ^transform)\" = \"\$($MXB inspect $SRC/models/demo_vit.h5 | grep ^transform)\" ]"

# ---- a run whose models' geometries differ: refused; config keys make one ----
cp $SRC/models/demo_vim.h5 vim72.h5
$PY $SRC/tools/set_transform.py vim72.h5 --resize 72 --crop 64 >/dev/null
sed "s#$SRC/models/demo_vim.h5#vim72.h5#" run.ini >mixed.ini
expect_fail 2 "mxb run: mixed.ini: [perturbation] model vit's transform is Resize((64, 64), bilinear), model vim's Resize(72, bicubic) + CenterCrop(64); one test needs one geometry (set resize, square, crop and filter in [perturbation])" \
  $MXB run mixed.ini --quiet --set run.output=m.h5
check "refused: no output" [ ! -e m.h5 ]
$MXB run mixed.ini --quiet --set run.output=m.h5 --set perturbation.resize=64 \
  --set perturbation.crop=64 --set perturbation.square=no --set perturbation.filter=bicubic >/dev/null 2>&1
check "with the geometry set in the configuration it runs (each model its own mean/std)" [ -e m.h5 ]

# ---- the converter writes the official models' transform (DeiT's build_transform,
# scaled to the side: Resize(int(S * 256 / 224), bicubic) + CenterCrop(S)), or the one asked for
$PY $SRC/tools/make_random_checkpoint.py --arch vit --embed-dim 32 --depth 1 --heads 2 --img-size 32 \
  --patch 8 --classes 10 --seed 1 tiny.pth >/dev/null
$PY $SRC/tools/convert_checkpoint.py tiny.pth tiny.h5 --num-heads 2 >/dev/null
$PY $SRC/tools/convert_checkpoint.py tiny.pth tiny64.h5 --num-heads 2 --eval-resize 32 --eval-square \
  --eval-crop 0 --eval-interpolation bilinear --eval-mean 0.5,0.5,0.5 --eval-std 0.5,0.5,0.5 >/dev/null
check "convert_checkpoint.py: the official transform by default, the --eval-* one when given" $PY -c "
import h5py, numpy as np
a, b = h5py.File('tiny.h5').attrs, h5py.File('tiny64.h5').attrs
ok = (a['eval_resize'], a['eval_square'], a['eval_crop']) == (36, 0, 32) and a['eval_interpolation'] == 'bicubic'
ok = ok and np.allclose(a['eval_mean'], [0.485, 0.456, 0.406]) and np.allclose(a['eval_std'], [0.229, 0.224, 0.225])
ok = ok and (b['eval_resize'], b['eval_square'], b['eval_crop']) == (32, 1, 0) and b['eval_interpolation'] == 'bilinear'
ok = ok and np.allclose(b['eval_mean'], 0.5) and np.allclose(b['eval_std'], 0.5)
raise SystemExit(0 if ok else 1)"
check "mxb inspect reads the converter's transform" bash -c \
  "$MXB inspect tiny.h5 | grep -qx 'transform     Resize(36, bicubic) + CenterCrop(32), mean 0.485,0.456,0.406, std 0.229,0.224,0.225'"
$PY $SRC/tools/convert_checkpoint.py tiny.pth bad.h5 --num-heads 2 --eval-crop 28 >/dev/null 2>conv.err
check "convert_checkpoint.py refuses a transform of the wrong size, one line, no file" bash -c \
  "[ ! -e bad.h5 ] && [ \$(wc -l <conv.err) -eq 1 ] && grep -q 'makes 28 px inputs but the model takes 32 px' conv.err"

echo "cli_transform: $pass passed, $fail failed"
[ $fail -eq 0 ]
