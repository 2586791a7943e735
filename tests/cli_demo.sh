#!/usr/bin/env bash
# A reduced main job (the demo on its first 12 images) against the committed baseline
# results/baselines/demo.h5: same predictions and, within 1e-4, the same maps (2e-3 for
# the LRP family: Chefer's LRP divides by near-zero sums, and in float32 a different
# BLAS summation order moves ViT attribution by ~4e-4; the engine tests document the
# same; full LRP per image after min-max within 5e-2: its raw scale moved by 1.6x on one
# image between -O3 and the -O0 sanitiser build while the min-max map moved 1.2e-2,
# inside PyTorch's own float32-vs-float64 1.5e-2 at full geometry), every method of the
# baseline, and the same (model, method) pairs skipped. Under the sanitisers the first 3
# images: every method and both tests run the same code on each image, and 12 images
# under ASan were a third of the sanitiser pass.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON; SRC=$MXB_SOURCE_DIR
T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$SRC/tests/lib_cli.sh"
N=12; sanitised && N=3
$MXB synth $T/data --n $N --seed 3 --size 64 2>>$MXB_ERR
# the GradCAM plugin of this build (configs/demo.ini names build/'s)
$MXB run $SRC/configs/demo.ini --quiet --set run.output=$T/demo.h5 \
    --set method:gradcam.plugin=$(dirname $MXB)/plugins/libgradcam.so \
    --set perturbation.data=$T/data/images --set perturbation.labels=$T/data/labels.txt \
    --set segmentation.data=$T/data/gtsegs_synth.mat >$T/tables.md
check "reduced demo runs and prints both tables" grep -q "Segmentation test ($N images)" $T/tables.md
check "predictions and maps equal the baseline's first $N images" $PY - <<PYEOF
import h5py, numpy as np
a, b = h5py.File("$T/demo.h5"), h5py.File("$SRC/results/baselines/demo.h5")
ok = list(a["methods"].asstr()[()]) == list(b["methods"].asstr()[()]) and len(b["methods"]) == 14
ok &= np.array_equal(a["skipped"][()], b["skipped"][()])
lrp = ("attribution", "lrp-partial", "lrp-full", "mambalrp", "mambalrp-vision")
for t in ("perturbation", "segmentation"):
    for m in ("vit", "vim"):
        ok &= np.array_equal(a[t][m]["prediction"][()], b[t][m]["prediction"][:$N])
        for k in b[t][m]:
            if k == "prediction": continue
            x, y = a[t][m][k]["map"][()], b[t][m][k]["map"][:$N]
            if k == "lrp-full":  # per image after min-max (what the tests read): its float32 scale
                mm = lambda v: (v - v.min()) / max(1e-30, v.max() - v.min())  # wanders (x1.6 at -O0)
                ok &= all(np.abs(mm(x[i]) - mm(y[i])).max() <= 5e-2 for i in range(len(y)))
                continue
            tol = 2e-3 if k in lrp else 1e-4
            ok &= np.abs(x - y).max() <= tol * max(1e-12, np.abs(y).max())
        ok &= set(a[t][m]) == set(b[t][m])
raise SystemExit(0 if ok else 1)
PYEOF
# The per-image numbers of both tests (perturbation hits and logit/probability drops per
# step, segmentation counts, AP, F1, pointing, the explained class) as the baseline's first
# N: what the nightly job's 80-image comparison checks in its means, per image here (CI
# runs this, not the nightly demo). Release only: the sanitiser build's -O1 sums move
# maps in the last bits, which may reorder tied pixels.
sanitised || check "per-image metrics of every method equal the baseline's first $N images" $PY - <<PYEOF
import h5py, numpy as np
a, b = h5py.File("$T/demo.h5"), h5py.File("$SRC/results/baselines/demo.h5")
bad, n = [], 0
def visit(name, d):
    global n
    if not isinstance(d, h5py.Dataset) or name.endswith("map") or d.ndim == 0 or d.shape[0] != 80:
        return  # the maps: checked above; the means: over 80 images
    x, y = a[d.name][()], d[:$N]
    n += 1
    same = np.allclose(x, y, rtol=1e-5, atol=1e-6, equal_nan=True) if x.dtype.kind == "f" else np.array_equal(x, y)
    if x.shape != y.shape or not same:
        bad.append(d.name)
for t in ("perturbation", "segmentation"):
    b[t].visititems(visit)
print("   %d per-image datasets, %d differ %s" % (n, len(bad), bad[:3]))
raise SystemExit(0 if n > 100 and not bad else 1)
PYEOF
echo "cli_demo: $pass passed, $fail failed"
[ $fail -eq 0 ]
