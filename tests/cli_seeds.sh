#!/usr/bin/env bash
# Per-image seeds (methods/method.h, mxb_explain_input.seed): the stochastic methods
# (rise, smoothgrad) give the same maps, bit for bit, on 1 or 2 threads, 1 or 3 images
# in flight, and in two shards merged; mxb explain of one image with the run's seed gives
# that image's map of the run; the maps of two images differ in their noise.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON; SRC=$MXB_SOURCE_DIR
T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$SRC/tests/lib_cli.sh"
cd $T
$MXB synth data --n 6 --seed 5 --size 64 --quiet
cat >seeds.ini <<INI
[run]
output = one.h5
seed = 7
save_maps = yes
[model:vit]
weights = $SRC/models/demo_vit.h5
[model:vim]
weights = $SRC/models/demo_vim.h5
[method:rise]
masks = 8
[method:smoothgrad]
samples = 2
[perturbation]
data = data/images
labels = data/labels.txt
tests = positive
INI
OMP_NUM_THREADS=1 $MXB run seeds.ini --quiet --in-flight 1 >/dev/null 2>>$MXB_ERR
OMP_NUM_THREADS=2 $MXB run seeds.ini --quiet --in-flight 3 --set run.output=three.h5 >/dev/null 2>>$MXB_ERR
for i in 0 1; do
  OMP_NUM_THREADS=2 $MXB run seeds.ini --quiet --shard $i/2 --set run.output=sh.h5 >/dev/null 2>>$MXB_ERR
done
$MXB merge merged.h5 sh.shard-0-of-2.h5 sh.shard-1-of-2.h5 >/dev/null 2>>$MXB_ERR
check "the three runs wrote their files" [ -f one.h5 -a -f three.h5 -a -f merged.h5 ]
for f in three merged; do
  for model in vit vim; do
    for me in rise smoothgrad; do
      check "$f: $model $me's maps and scores = 1 thread, 1 image in flight, bit for bit" \
        h5diff -q one.h5 $f.h5 /perturbation/$model/$me /perturbation/$model/$me
    done
  done
done
for me in rise smoothgrad; do
  $MXB explain --weights $SRC/models/demo_vit.h5 --image data/images/synth_000003.png --method $me \
      --param $([ $me = rise ] && echo masks=8 || echo samples=2) --seed 7 --out x_$me.h5 >/dev/null 2>>$MXB_ERR
  check "explain --seed 7 of synth_000003.png: vit $me's map = the run's for that image" $PY - <<PYEOF
import h5py, numpy as np
f = h5py.File("one.h5"); ids = [i.decode() for i in f["perturbation/id"][:]]
run = f["perturbation/vit/$me/map"][ids.index("synth_000003.png")]
raise SystemExit(0 if np.array_equal(run, h5py.File("x_$me.h5")["map"][:]) else 1)
PYEOF
done
# the same image under two ids: the noise differs (the seed is the image's, not the run's)
$MXB explain --weights $SRC/models/demo_vit.h5 --image data/images/synth_000003.png --method rise \
    --param masks=8 --seed 7 --id other.png --out y_rise.h5 >/dev/null 2>>$MXB_ERR
check "another id draws other masks (the seed is per image)" bash -c "! h5diff -q x_rise.h5 y_rise.h5 /map /map"

echo "cli_seeds: $pass passed, $fail failed"
[ $fail -eq 0 ]
