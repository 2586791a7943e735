#!/usr/bin/env bash
# mxb run's throughput against PyTorch's on the same machine, in one invocation (issue
# #13): the paper's table-1 protocol (attribution maps, positive + negative
# perturbation: the explanation + 19 forwards an image) at full DeiT-S / ViM-S
# geometry, mxb at each thread count with images in flight on auto, then
# tools/bench_pipeline_torch.py on all the threads. Prints one table.
#
#   tools/bench_pipeline.sh WEIGHTS_DIR DATA_DIR [OUT_DIR]
#     WEIGHTS_DIR  deit-s.h5 and vim-s.h5 (full size, e.g. random weights:
#                  tools/make_random_checkpoint.py --preset deit-s --bare d.pth &&
#                  tools/convert_checkpoint.py d.pth deit-s.h5; the same for vim-s)
#     DATA_DIR     images/ and labels.txt (`NAME LABEL` lines); at least 2 x the
#                  largest thread count images (tools/bench_pipeline.sh makes 32
#                  random ones with `--make-data DATA_DIR`, needs PIL)
#   Environment: MXB (default: mxb on PATH), PYTHON (python3), THREADS ("1 2 4 8 16"),
#   PER_THREAD (images per model and thread in flight, 2), IMAGES (the same image count
#   at every thread count instead, for a like-for-like scaling ratio), TORCH_IMAGES ("deit-s:16
#   vim-s:8"), NO_TORCH=1 to skip PyTorch.
# mxb's figure is end to end (`mxb run` wall time: set-up, weights, results file).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
MXB=${MXB:-mxb}; PYTHON=${PYTHON:-python3}; THREADS=${THREADS:-"1 2 4 8 16"}; PER_THREAD=${PER_THREAD:-2}
TORCH_IMAGES=${TORCH_IMAGES:-"deit-s:16 vim-s:8"}
if [ "${1:-}" = --make-data ]; then
  d=${2:?usage: bench_pipeline.sh --make-data DIR}; mkdir -p "$d/images"
  "$PYTHON" - "$d" <<'EOF'
import sys, numpy as np
from PIL import Image
d = sys.argv[1]; r = np.random.default_rng(0)
with open(d + "/labels.txt", "w") as f:
    for i in range(32):
        Image.fromarray(r.integers(0, 256, (300, 400, 3), dtype=np.uint8)).save("%s/images/img_%03d.jpg" % (d, i), quality=90)
        f.write("img_%03d.jpg %d\n" % (i, r.integers(0, 1000)))
EOF
  exit 0
fi
W=$(cd "${1:?usage: bench_pipeline.sh WEIGHTS_DIR DATA_DIR [OUT_DIR]}" && pwd)
D=$(cd "${2:?}" && pwd); O=${3:-$(mktemp -d)}; mkdir -p "$O"
now() { date +%s.%N; }
nimages=$(wc -l <"$D/labels.txt")
declare -A ips
echo "# mxb run vs PyTorch: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
"$MXB" --version | head -3 | sed 's/^/# /'
printf '%-7s %8s %8s %7s %9s %10s %9s\n' model threads "N x thr" images "wall s" images/s "vs 1 thr"
for model in deit-s vim-s; do
  for t in $THREADS; do
    n=${IMAGES:-$((PER_THREAD * t))}; [ $n -gt "$nimages" ] && n=$nimages
    cat >"$O/$model-$t.ini" <<EOF
[run]
output = $O/$model-$t.h5
class = predicted
variant = official
figures = 0
[model:$model]
weights = $W/$model.h5
[method:attribution]
[perturbation]
data = $D/images
labels = $D/labels.txt
subset = first:$n
resize = 256
crop = 224
filter = bicubic
tests = positive, negative
EOF
    rm -f "$O/$model-$t.h5" "$O/$model-$t.h5.journal"
    t0=$(now)
    MXB_PROGRESS_SECONDS=1000000 OMP_NUM_THREADS=$t "$MXB" run "$O/$model-$t.ini" >/dev/null 2>"$O/$model-$t.err"
    t1=$(now)
    # "wrote ... (N units, S s, K images in flight x J threads)"
    inflight=$(sed -n 's/.*, \([0-9]*\) images\{0,1\} in flight x \([0-9]*\) threads\{0,1\})$/\1x\2/p' "$O/$model-$t.err")
    ips[$model-$t]=$(awk -v n=$n -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", n/(b-a)}')
    base=${ips[$model-1]:-}
    printf '%-7s %8d %8s %7d %9.2f %10.4f %9s\n' "$model" "$t" "$inflight" "$n" \
      "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" "${ips[$model-$t]}" \
      "$([ -n "$base" ] && awk -v x="${ips[$model-$t]}" -v y="$base" 'BEGIN{printf "%.2fx", x/y}' || echo -)"
  done
done
[ "${NO_TORCH:-0}" = 1 ] && exit 0
tmax=$(for t in $THREADS; do echo "$t"; done | sort -n | tail -1)
echo "# PyTorch (tools/bench_pipeline_torch.py, $tmax threads)"
for spec in $TORCH_IMAGES; do
  model=${spec%%:*}; n=${spec##*:}
  "$PYTHON" "$here/bench_pipeline_torch.py" --models "$model" --images "$n" --batch "$n" --threads "$tmax" | tee "$O/torch-$model.txt"
  tp=$(awk -F'\t' '$2 == "pipeline images/s" {print $3}' "$O/torch-$model.txt")
  c=${ips[$model-$tmax]:-}
  [ -n "$c" ] && [ -n "$tp" ] && awk -v c="$c" -v p="$tp" -v m="$model" -v t="$tmax" \
    'BEGIN{printf "%s, %d threads: mxb %.4f images/s, PyTorch %.4f images/s: mxb/PyTorch = %.2fx\n", m, t, c, p, c/p}'
done
