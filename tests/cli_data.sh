#!/usr/bin/env bash
# mxb synth / dataset-info end to end: the written benchmark read back with PIL and
# h5py (Chefer's reading), byte-identical reruns, and every bad input's exit code +
# one-line message.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON
T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$MXB_SOURCE_DIR/tests/lib_cli.sh"

# ---- mxb synth -------------------------------------------------------------------
$MXB synth $T/s --n 30 --seed 5 --size 48 >$T/out 2>$T/progress
check "synth exits 0 and says what it wrote" grep -q "30 samples of 48x48 px, seed 5" $T/out
check "synth reports progress on stderr, ending at 30/30" grep -q "^mxb synth: written 30/30 images (100%), " $T/progress
check "synth: PNGs, labels and the .mat agree (PIL, h5py as Chefer reads it)" $PY - <<PYEOF
import h5py, numpy as np, os, collections
from PIL import Image
d = "$T/s"
lines = [l.split() for l in open(d + "/labels.txt")]
classes = open(d + "/classes.txt").read().split()
f = h5py.File(d + "/gtsegs_synth.mat", "r")
ok = len(lines) == 30 and len(classes) == 10 and len(f["value/img"]) == 30
ok = ok and sorted(os.listdir(d + "/images")) == ["synth_%06d.png" % i for i in range(30)]
for i, (name, label) in enumerate(lines):
    im = Image.open(d + "/images/" + name)
    a = np.asarray(im.convert("RGB"))
    img = np.array(f[f["value/img"][i, 0]]).transpose((2, 1, 0))
    gt = np.array(f[f[f["value/gt"][i, 0]][0, 0]]).transpose((1, 0))
    ok = ok and name == "synth_%06d.png" % i and im.mode == "RGB" and a.shape == (48, 48, 3)
    ok = ok and np.array_equal(a, img) and gt.shape == (48, 48) and set(np.unique(gt)) == {0, 1}
    ok = ok and 0 <= int(label) < 10
counts = collections.Counter(int(l[1]) for l in lines)
ok = ok and all(counts[c] == 3 for c in range(10))  # every block of ten holds each class once
with open(d + "/gtsegs_synth.mat", "rb") as fh:
    ok = ok and fh.read(19) == b"MATLAB 7.3 MAT-file"
raise SystemExit(0 if ok else 1)
PYEOF
$MXB synth $T/s2 --n 30 --seed 5 --size 48 >/dev/null 2>>$MXB_ERR
check "synth: same arguments, same bytes" diff -r $T/s $T/s2
$MXB synth $T/s3 --n 30 --seed 6 --size 48 >/dev/null 2>>$MXB_ERR
check "synth: another seed, other images" bash -c "! cmp -s $T/s/images/synth_000000.png $T/s3/images/synth_000000.png"
$MXB synth $T/s2 --n 30 --seed 5 --size 48 >/dev/null 2>>$MXB_ERR
check "synth: rewriting the same set in place is allowed and gives the same bytes" diff -r $T/s $T/s2
$MXB synth $T/d --n 0 >$T/out 2>&1
check "synth --n 0 writes an empty, readable set" $MXB dataset-info $T/d/images --labels $T/d/labels.txt
expect_fail 1 "holds synth_000010.png, which is not part of a 10-sample set" $MXB synth $T/s2 --n 10 --seed 5 --size 48
touch $T/plainfile
expect_fail 1 "cannot create folder" $MXB synth $T/plainfile/sub --n 3
check "synth makes missing parent folders (a fresh checkout has no runs/)" bash -c \
  "$MXB synth $T/new/deeper/set --n 2 --size 32 >/dev/null 2>>$MXB_ERR && [ -f $T/new/deeper/set/labels.txt ]"
expect_fail 2 "mxb synth: --n: '-1' is not a non-negative integer (see mxb synth --help)" $MXB synth $T/x --n -1
expect_fail 2 "mxb synth: --n: '12abc' is not a non-negative integer (see mxb synth --help)" $MXB synth $T/x --n 12abc
expect_fail 2 "mxb synth: --size: '8' is out of range [16, 4096] (see mxb synth --help)" $MXB synth $T/x --size 8
expect_fail 2 "mxb synth: --seed: '-1' is not an unsigned 64-bit integer" $MXB synth $T/x --seed -1
expect_fail 2 "mxb synth: --seed: '18446744073709551616' is not an unsigned 64-bit integer" $MXB synth $T/x --seed 18446744073709551616
expect_fail 2 "mxb synth: no output folder (see mxb synth --help)" $MXB synth --n 3
expect_fail 2 "unexpected argument 'extra'" $MXB synth $T/x extra
expect_fail 2 "unknown option '--colour'" $MXB synth $T/x --colour red
expect_fail 2 "mxb synth: --n needs a value (see mxb synth --help)" $MXB synth $T/x --n
expect_fail 2 "unknown option '-x'" $MXB synth $T/x -x
expect_fail 2 "mxb dataset-info: --show needs a value (see mxb dataset-info --help)" $MXB dataset-info $T/x --show
check "synth --help" bash -c "$MXB synth --help | grep -q 'usage: mxb synth DIR'"
check "nothing written by the refused calls" bash -c "[ ! -e $T/x ]"
$MXB synth $T/big --n 3 --seed 18446744073709551615 --size 16 >/dev/null 2>>$MXB_ERR
check "synth: the largest seed and the smallest size" [ -f $T/big/images/synth_000002.png ]

# ---- mxb dataset-info --------------------------------------------------------------
$MXB dataset-info $T/s/images --labels $T/s/labels.txt --show 3 >$T/out 2>$T/err
check "dataset-info flat: exit 0, count, first ids with labels and sizes" bash -c "
  grep -q 'flat folder + label file' $T/out && grep -q 'samples  30' $T/out &&
  grep -qE '^ +synth_000000.png +label +$(sed -n 1p $T/s/labels.txt | cut -d' ' -f2) +48 x 48' $T/out &&
  [ \$(grep -c 'synth_0000' $T/out) -eq 3 ] && [ ! -s $T/err ]"
$MXB dataset-info $T/s/gtsegs_synth.mat >$T/out 2>&1
check "dataset-info .mat: segmentation reader, masks" bash -c "
  grep -q 'ImageNet-segmentation' $T/out && grep -q 'samples  30' $T/out &&
  [ \$(grep -c 'mask .*% object' $T/out) -eq 5 ]"
# a class-folder tree: the synthetic images sorted into folders by label
while read -r name label; do mkdir -p $T/tree/c$label; cp $T/s/images/$name $T/tree/c$label/; done <$T/s/labels.txt
first=$(awk '$2 == 0 {print $1; exit}' $T/s/labels.txt)
$MXB dataset-info $T/tree --show 1 >$T/out 2>&1
check "dataset-info class folders: first id c0/<first label-0 image>, label 0" bash -c "
  grep -q 'class folders' $T/out && grep -q 'samples  30' $T/out && grep -qE '^ +c0/$first +label +0 ' $T/out"
# a broken image among the shown ones: reported by name, the others still printed, exit 1
cp -r $T/s/images $T/broken; head -c 100 $T/s/images/synth_000001.png >$T/broken/synth_000001.png
$MXB dataset-info $T/broken --labels $T/s/labels.txt --show 3 >$T/out 2>$T/err; rc=$?
check "dataset-info: a broken file is named, the rest printed, exit 1" bash -c "
  [ $rc -eq 1 ] && grep -q 'synth_000001.png: bad PNG' $T/err && [ \$(wc -l <$T/err) -eq 1 ] &&
  grep -q synth_000000.png $T/out && grep -q synth_000002.png $T/out"
printf 'synth_000000.png 1\nsynth_000001.png x\n' >$T/badlabels.txt
expect_fail 2 "badlabels.txt:2: bad line" $MXB dataset-info $T/s/images --labels $T/badlabels.txt
expect_fail 2 "no label for 'synth_000002.png'" $MXB dataset-info $T/s/images --labels <(head -2 $T/s/labels.txt)
expect_fail 2 "$T/nothing: No such file or directory" $MXB dataset-info $T/nothing
expect_fail 2 "--labels is for an image folder" $MXB dataset-info $T/s/gtsegs_synth.mat --labels $T/s/labels.txt
expect_fail 2 "labels.txt: not an HDF5" $MXB dataset-info $T/s/labels.txt
expect_fail 2 "no class folders" $MXB dataset-info $T/s/images
expect_fail 2 "mxb dataset-info: --show: 'many' is not a non-negative integer" $MXB dataset-info $T/tree --show many
expect_fail 2 "mxb dataset-info: no folder or .mat file (see mxb dataset-info --help)" $MXB dataset-info
expect_fail 2 "unknown option '--lables'" $MXB dataset-info $T/tree --lables x
check "dataset-info --help" bash -c "$MXB dataset-info --help | grep -q 'usage: mxb dataset-info PATH'"
check "mxb --help lists synth and dataset-info" bash -c "$MXB --help | grep -q '^  synth ' && $MXB --help | grep -q '^  dataset-info '"

echo "cli_data: $pass passed, $fail failed"
[ $fail -eq 0 ]
