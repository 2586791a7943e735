#!/usr/bin/env bash
# The demo on the GPU against the demo on the CPU (issue 27 item 4, stage 1): configs/demo.ini
# (both models, every built-in method and the GradCAM plugin, perturbation with RISE's
# insertion/deletion, segmentation) on N synthetic images (4; GPU_DEMO_N), run with
# --device cpu, then twice with --device cuda. Run by `make -f Makefile.ci gpu-check`
# on a GPU machine; without a GPU it says so and exits 77 (a skip).
#   MXB_EXE=build-gpu/mxb MXB_PLUGIN_DIR=build-gpu/plugins bash tests/gpu_demo.sh
# Checked (h5py), the CPU's file the reference:
#  - the GPU ran: provenance `device` is cuda:0 and the GPU's name;
#  - deterministic: the two GPU runs' files hold the same bits (every dataset);
#  - maps within 1e-4 of the CPU's after min-max (the issue's bound; occlusion's and
#    RISE's come from GPU forwards, the rest from the CPU's passes), explained classes
#    and attention the CPU's;
#  - perturbation: per model, method and polarity at most one (image, step) hit differs
#    (a float tie between two classes), and where the hits agree the AUC is the CPU's;
#    logit and probability drops within 1e-4 of the largest; insertion/deletion AUCs
#    within 1e-4;
#  - segmentation within 0.05 pp (pixel accuracy, mIoU, mAP, F1; per image too).
# It prints each run's wall time and images/hour (an image: both tests, both models).
# GPU_DEMO_DEVICE=cpu runs the same comparison with the CPU in the GPU's place (a check
# of the script itself on a machine without a GPU).
set -uo pipefail
MXB=${MXB_EXE:?MXB_EXE: the mxb to run}
SRC=${MXB_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
PLUGINS=${MXB_PLUGIN_DIR:-$(dirname "$MXB")/plugins}
PY=${MXB_PYTHON:-python3}
N=${GPU_DEMO_N:-4}
DEV=${GPU_DEMO_DEVICE:-cuda}
T=$(mktemp -d); trap 'rm -rf $T' EXIT

if [ "$DEV" != cpu ] && ! $MXB --version | grep -q '^  cuda:0 '; then
  echo "gpu_demo: SKIP: $($MXB --version | grep '^CUDA: ')"
  exit 77
fi
$PY -c 'import h5py, numpy' || { echo "gpu_demo: FAIL: $PY has no h5py/numpy"; exit 1; }
$MXB synth $T/data --n $N --seed 3 --size 64 >/dev/null 2>&1 || { echo "gpu_demo: FAIL: mxb synth"; exit 1; }
SETS=(--quiet --set perturbation.data=$T/data/images --set perturbation.labels=$T/data/labels.txt
      --set segmentation.data=$T/data/gtsegs_synth.mat --set method:gradcam.plugin=$PLUGINS/libgradcam.so
      --set run.insertion_deletion_step=256)
now() { date +%s.%N; }
for r in cpu:cpu gpu:$DEV gpu2:$DEV; do
  name=${r%%:*} dev=${r#*:}
  t0=$(now)
  $MXB run "$SRC/configs/demo.ini" "${SETS[@]}" --set run.output=$T/$name.h5 --device $dev >/dev/null 2>$T/$name.err
  rc=$?
  t1=$(now)
  if [ $rc -ne 0 ]; then echo "gpu_demo: FAIL: mxb run --device $dev: exit $rc"; cat $T/$name.err; exit 1; fi
  $PY -c "import sys; s = $t1 - $t0; print('gpu_demo: %s (--device %s): %d images in %.1f s, %.0f images/hour'
          % (sys.argv[1], sys.argv[2], $N, s, $N * 3600 / s))" $name $dev
done

$PY - "$T" "$DEV" <<'PYEOF'
import sys, h5py, numpy as np
T, dev = sys.argv[1], sys.argv[2]
cpu, gpu, gpu2 = (h5py.File("%s/%s.h5" % (T, n), "r") for n in ("cpu", "gpu", "gpu2"))
fails = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        fails.append(what)

def attr(f, k):
    v = f.attrs.get(k)
    return v.decode() if isinstance(v, bytes) else str(v)
want = "cuda:0 " if dev != "cpu" else "cpu"
check(attr(gpu, "device").startswith(want) and attr(cpu, "device") == "cpu",
      "provenance device: cpu run '%s', GPU run '%s'" % (attr(cpu, "device"), attr(gpu, "device")))

def datasets(f):
    out = {}
    f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out
C, G, G2 = datasets(cpu), datasets(gpu), datasets(gpu2)
check(sorted(C) == sorted(G) == sorted(G2) and len(C) > 100, "the three files hold the same %d datasets" % len(C))
differ = [n for n in G if not np.array_equal(G[n], G2[n], equal_nan=G[n].dtype.kind == "f")]
check(not differ, "deterministic: the two GPU runs give the same bits (%d datasets differ %s)" % (len(differ), differ[:3]))

def minmax(m):
    m = m.reshape(m.shape[0], -1).astype(np.float64)
    lo, hi = m.min(1, keepdims=True), m.max(1, keepdims=True)
    return (m - lo) / np.where(hi > lo, hi - lo, 1)
bad = [n for n in C if n.endswith("/map") and np.abs(minmax(C[n]) - minmax(G[n])).max() > 1e-4]
check(not bad, "maps within 1e-4 after min-max (%s)" % (bad[:3] or "all"))
same = [n for n in C if n.endswith("explained") or n.startswith("attention/") or n.split("/")[-1] in ("label", "index")]
bad = [n for n in same if not np.array_equal(C[n], G[n])]
check(not bad and len(same) > 10, "explained classes, labels and attention: the CPU's (%d datasets; %s)" % (len(same), bad[:3] or "all equal"))

# perturbation, per model / method / polarity
flips, worst, bad_auc, bad_close = 0, 0, [], []
for n in C:
    if not (n.startswith("perturbation/") and n.endswith("/hits")):
        continue
    g = n[: -len("/hits")]
    k = int((C[n] != G[n]).sum())
    flips += k
    worst = max(worst, k)
    if k == 0 and C[g + "/auc"] != G[g + "/auc"]:
        bad_auc.append(g)
    for d in ("logit_diff", "prob_diff", "logit_diff_mean", "prob_diff_mean"):
        a, b = C[g + "/" + d].astype(np.float64), G[g + "/" + d].astype(np.float64)
        if np.abs(a - b).max() > 1e-4 * max(1.0, np.abs(a).max()):
            bad_close.append(g + "/" + d)
check(worst <= 1, "perturbation hits: at most one (image, step) differs per model, method and polarity "
      "(%d in all, at most %d in one)" % (flips, worst))
check(not bad_auc, "perturbation AUCs equal wherever the hits agree (%s)" % (bad_auc[:3] or "all"))
check(not bad_close, "logit and probability drops within 1e-4 (%s)" % (bad_close[:3] or "all"))
ins = [n for n in C if n.endswith("insertion_auc") or n.endswith("deletion_auc")]
bad = [n for n in ins if np.abs(C[n] - G[n]).max() > 1e-4]
check(ins and not bad, "insertion/deletion AUCs within 1e-4 (%d datasets; %s)" % (len(ins), bad[:3] or "all"))

# segmentation: the metrics in percent points (the files keep fractions or percent: both scaled alike)
seg = [n for n in C if n.startswith("segmentation/") and n.split("/")[-1] in
       ("pixel_accuracy", "miou", "mean_ap", "mean_f1", "ap", "f1", "iou")]
def worst_pp(a, b):
    a, b = np.atleast_1d(a).astype(np.float64), np.atleast_1d(b).astype(np.float64)
    scale = 100 if np.nanmax(np.abs(a), initial=0) <= 1 else 1  # the CPU's scale for both
    return np.nanmax(np.abs(a - b) * scale, initial=0)
bad = [n for n in seg if worst_pp(C[n], G[n]) > 0.05]
check(seg and not bad, "segmentation within 0.05 pp (%d datasets; %s)" % (len(seg), bad[:3] or "all"))
print("gpu_demo: %s" % ("FAILED: " + "; ".join(fails) if fails else "all checks passed"))
sys.exit(1 if fails else 0)
PYEOF
