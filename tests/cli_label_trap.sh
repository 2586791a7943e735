#!/usr/bin/env bash
# The label trap (docs/PAPER.md): one-line warnings, on stderr and in the report (md,
# JSON, HTML), when top-1 accuracy on the unperturbed images is at or below chance,
# when the class folders do not fit the model's classes, when every image has one label;
# a missing data folder or label file is an error that points to docs/PAPER.md.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON; SRC=$MXB_SOURCE_DIR
T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$SRC/tests/lib_cli.sh"
cd $T
$MXB synth data --n 10 --seed 5 --size 64 --quiet
mk() { # NAME DATA-LINES
  printf '[run]\noutput = %s.h5\n[model:vit]\nweights = %s/models/demo_vit.h5\n[method:rollout]\n[perturbation]\n%b\ntests = positive\n' \
    "$1" "$SRC" "$2" >$1.ini
}
# labels shifted by one class: valid indices, wrong classes
awk '{ print $1, ($2 + 1) % 10 }' data/labels.txt >shifted.txt
mk shifted 'data = data/images\nlabels = shifted.txt'
$MXB run shifted.ini --quiet >shifted.md 2>shifted.err
check "shifted labels: the run finishes" [ -f shifted.h5 ]
check "shifted labels: one warning line on stderr, at or below chance, naming docs/PAPER.md" bash -c \
  "[ \$(grep -c 'mxb run: warning: model vit.s top-1 accuracy on the unperturbed images is .* at or below chance (10.00 % for 10 classes).*docs/PAPER.md' shifted.err) -eq 1 ]"
check "shifted labels: the run's tables carry it" grep -q '^\*\*Warning:\*\* model vit' shifted.md
$MXB report shifted.h5 --format json >shifted.json 2>>$MXB_ERR
check "shifted labels: mxb report --format json lists it under warnings" $PY -c "
import json; w = json.load(open('shifted.json'))['warnings']
raise SystemExit(0 if len(w) == 1 and 'at or below chance' in w[0] else 1)"
$MXB report shifted.h5 --html shifted.html >/dev/null 2>>$MXB_ERR
check "shifted labels: the HTML page shows it" grep -q '<p class="warning"><b>Warning:</b> model vit' shifted.html
# the true labels: no warning
mk right 'data = data/images\nlabels = data/labels.txt'
$MXB run right.ini --quiet >right.md 2>right.err
check "the synth labels: no warning (stderr, tables, JSON)" bash -c \
  "! grep -q warning right.err && ! grep -q Warning right.md && ! $MXB report right.h5 --format json | grep -q '\"warnings\"'"
# three class folders for a 10-class model (ImageFolder labels 0..2)
for c in a b c; do mkdir -p folders/$c; done
i=0; for f in data/images/*.png; do cp $f folders/$(echo a b c | cut -d' ' -f$((i % 3 + 1)))/; i=$((i + 1)); done
mk folders 'data = folders'
$MXB run folders.ini --quiet >folders.md 2>folders.err
check "3 class folders, 10 classes: the warning names both counts and docs/PAPER.md" bash -c \
  "grep -q 'mxb run: warning: ./folders has 3 class folders but model vit has 10 classes.*docs/PAPER.md' folders.err && grep -q '^\*\*Warning:\*\* ./folders has 3 class folders' folders.md"
check "3 class folders: mxb report repeats it from the file" bash -c "$MXB report folders.h5 | grep -q '^\*\*Warning:\*\* ./folders has 3 class folders'"
# one label for every image
awk '{ print $1, 4 }' data/labels.txt >one.txt
mk one 'data = data/images\nlabels = one.txt'
$MXB run one.ini --quiet >/dev/null 2>one.err
check "one label for all 10 images: a warning" grep -q 'mxb run: warning: ./one.txt: all 10 perturbation images have label 4' one.err
# missing data: an error pointing to docs/PAPER.md, nothing written
mk nodata 'data = imagenet/val\nlabels = imagenet/val.txt'
expect_fail 2 "mxb run: ./imagenet/val: no such file or folder ([perturbation] data); ImageNet's validation images, their labels and gtsegs_ijcv.mat are not part of mxb: docs/PAPER.md says where each comes from" $MXB run nodata.ini
mk nolabels 'data = data/images\nlabels = imagenet/val.txt'
expect_fail 2 "imagenet/val.txt: no such file or folder ([perturbation] labels)" $MXB run nolabels.ini
check "nothing written by the refused runs" bash -c "! ls nodata.h5* nolabels.h5* 2>/dev/null | grep -q ."
# another trap of a first run: a PyTorch checkpoint where mxb's HDF5 weights belong
expect_fail 2 "mxb inspect: $SRC/tests/fixtures/deit_d64.pth: a PyTorch checkpoint, not mxb's HDF5 weights: convert it with tools/convert_checkpoint.py" \
  $MXB inspect $SRC/tests/fixtures/deit_d64.pth
expect_fail 2 "deit_d64.pth: a PyTorch checkpoint, not mxb's HDF5 weights" \
  $MXB predict --weights $SRC/tests/fixtures/deit_d64.pth --image data/images/synth_000000.png
# which checkpoint a weights file came from: mxb inspect prints the converter's record
check "mxb inspect shows source and source_sha256 as the file holds them (h5py)" $PY - <<PYEOF
import h5py, subprocess
a = h5py.File("$SRC/models/demo_vit.h5").attrs
s = lambda k: a[k].decode() if isinstance(a[k], bytes) else a[k]
out = subprocess.run(["$MXB", "inspect", "$SRC/models/demo_vit.h5"], capture_output=True, text=True).stdout.splitlines()
raise SystemExit(0 if "source        " + s("source") in out and "source_sha256 " + s("source_sha256") in out else 1)
PYEOF
cp $SRC/models/demo_vit.h5 nosource.h5
$PY -c "import h5py; f = h5py.File('nosource.h5', 'r+'); del f.attrs['source']; del f.attrs['source_sha256']"
check "mxb inspect: a file without them says none recorded" bash -c \
  "$MXB inspect nosource.h5 | grep -qx 'source        none recorded' && $MXB inspect nosource.h5 | grep -qx 'source_sha256 none recorded'"

echo "cli_label_trap: $pass passed, $fail failed"
[ $fail -eq 0 ]
