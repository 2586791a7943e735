#!/usr/bin/env bash
# The paper path's label step (docs/PAPER.md, section 3): tools/imagenet_val_labels.py
# turns the ILSVRC2012 devkit's 1-based ILSVRC2012_IDs into the 0-based sorted-WordNet-id
# labels the models predict, and mxb reads the file it writes. The devkit here is a
# stand-in with the real one's structure (meta.mat's synsets struct array, leaves and
# non-leaves, IDs in an order that is not the sorted-id order), written with SciPy;
# the expected labels are worked out in the test from how it was built.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON; SRC=$MXB_SOURCE_DIR; T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$SRC/tests/lib_cli.sh"
LABELS="$PY $SRC/tools/imagenet_val_labels.py"

# make_devkit DIR NLEAVES: DIR/ILSVRC2012_devkit_t12/data/{meta.mat, ground truth} for
# 60 images, and DIR/expected.txt, DIR/expected_wnid.txt
make_devkit() {
  $PY - "$1" "$2" <<'PYEOF'
import os, random, sys
import numpy as np, scipy.io
out, nleaves = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
wnids = rng.sample(["n%08d" % k for k in range(1440764, 15075141, 997)], 1000)
# devkit order: ID k (1-based) is wnids[k-1] -- shuffled, so not the sorted order
assert wnids != sorted(wnids)
fields = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children",
          "wordnet_height", "num_train_images"]
rows = [(k + 1, wnids[k], "word %d" % k, "gloss", 0, np.zeros(0), 0, 1300) for k in range(nleaves)]
rows += [(1001, "n00001740", "entity", "gloss", 3, np.array([1, 2, 3]), 19, 0),
         (1002, "n00002137", "abstraction", "gloss", 2, np.array([4, 5]), 18, 0)]
arr = np.empty((len(rows), 1), dtype=[(f, "O") for f in fields])
for i, r in enumerate(rows):
    arr[i, 0] = r
data = os.path.join(out, "ILSVRC2012_devkit_t12", "data")
os.makedirs(data)
scipy.io.savemat(os.path.join(data, "meta.mat"), {"synsets": arr})
truth = [rng.randrange(1, 1001) for _ in range(60)] + [1, 1000]
with open(os.path.join(data, "ILSVRC2012_validation_ground_truth.txt"), "w") as f:
    f.write("".join("%d\n" % t for t in truth))
order = sorted(wnids)
with open(os.path.join(out, "expected.txt"), "w") as f:
    for k, t in enumerate(truth, 1):
        f.write("ILSVRC2012_val_%08d.JPEG %d\n" % (k, order.index(wnids[t - 1])))
with open(os.path.join(out, "expected_wnid.txt"), "w") as f:
    for k, t in enumerate(truth, 1):
        f.write("ILSVRC2012_val_%08d.JPEG %s\n" % (k, wnids[t - 1]))
PYEOF
}

D=$T/dk; mkdir -p $D && make_devkit $D 1000
DK=$D/ILSVRC2012_devkit_t12
tar -czf $D/ILSVRC2012_devkit_t12.tar.gz -C $D ILSVRC2012_devkit_t12
check "labels from the extracted devkit" bash -c "$LABELS $DK >$T/l1.txt && cmp -s $T/l1.txt $D/expected.txt"
check "labels from the devkit archive" bash -c "$LABELS $D/ILSVRC2012_devkit_t12.tar.gz >$T/l2.txt && cmp -s $T/l2.txt $D/expected.txt"
check "--wnid: the class folder of each image" bash -c "$LABELS $DK --wnid >$T/w.txt && cmp -s $T/w.txt $D/expected_wnid.txt"
check "the labels are not the devkit's numbers shifted by one" \
  bash -c "! paste -d' ' <(cut -d' ' -f2 $T/l1.txt) $DK/data/ILSVRC2012_validation_ground_truth.txt | awk '\$1 != \$2 - 1 {d=1} END {exit d}'"

# mxb reads the file: a flat folder named like ImageNet val (PNG content under .JPEG
# names: the reader goes by the bytes) with the labels in sorted-name order
V=$T/val; mkdir -p $V
$PY - $V <<'PYEOF'
import sys
from PIL import Image
for k in range(1, 63):
    Image.new("RGB", (20 + k, 17), (k, 2 * k, 3 * k)).save("%s/ILSVRC2012_val_%08d.JPEG" % (sys.argv[1], k), "PNG")
PYEOF
$MXB dataset-info $V --labels $T/l1.txt --show 62 >$T/info 2>&1
check "mxb dataset-info: 62 samples" grep -qE 'samples +62$' $T/info
check "mxb dataset-info: every label as the file gives it" bash -c \
  "diff <(grep -E '^ +ILSVRC2012_val_' $T/info | awk '{print \$1, \$3}') $D/expected.txt >/dev/null"

# the class-folder layout, with docs/PAPER.md's loop: each image in its WordNet-id
# folder; mxb's label = the folder's rank among the folders present
C=$T/classes; cp -r $V $C
$LABELS $DK --wnid | while read -r name wnid; do
  mkdir -p "$C/$wnid" && mv "$C/$name" "$C/$wnid/"
done
$MXB dataset-info $C --show 62 >$T/cinfo 2>&1
check "class folders: 62 samples, none left at the top" \
  bash -c "grep -qE 'samples +62$' $T/cinfo && [ -z \"\$(find $C -maxdepth 1 -type f)\" ]"
cut -d' ' -f2 $D/expected_wnid.txt | sort -u | awk '{print $1, NR - 1}' >$T/rank
awk 'NR == FNR {r[$1] = $2; next} {print $2 "/" $1, r[$2]}' $T/rank $D/expected_wnid.txt | sort >$T/cexp
check "class folders: every label is the folder's rank" bash -c \
  "diff <(grep -E '^ +n[0-9]{8}/ILSVRC2012_val_' $T/cinfo | awk '{print \$1, \$3}' | sort) $T/cexp >/dev/null"

# refusals: one line naming the file, exit 2, nothing on stdout
refuse() { # refuse NEEDLE ARGS...
  local needle=$1; shift
  $LABELS "$@" >$T/out 2>$T/err; local rc=$?
  if [ $rc -eq 2 ] && grep -qF -- "$needle" $T/err && [ "$(wc -l <$T/err)" -eq 1 ] && [ ! -s $T/out ]; then
    ok "refused: $needle"
  else bad "expected exit 2 and '$needle', got $rc: $(cat $T/err)"; fi
}
refuse "usage:"
refuse "$T/none: not a readable devkit archive or folder" $T/none
mkdir -p $T/empty && refuse "$T/empty: no data/meta.mat" $T/empty
E=$T/short; mkdir -p $E && make_devkit $E 999
refuse "meta.mat: 999 leaf synsets with 999 distinct ids, want 1000" $E/ILSVRC2012_devkit_t12
cp $DK/data/meta.mat $E/ILSVRC2012_devkit_t12/data/meta.mat
printf '3\n1001\n' >$E/ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt
refuse "ground truth line 2: '1001' is not an ILSVRC2012_ID of a class" $E/ILSVRC2012_devkit_t12
printf '3\n\n4\n' >$E/ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt
refuse "ground truth line 2: '' is not an ILSVRC2012_ID of a class" $E/ILSVRC2012_devkit_t12
: >$E/ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt
refuse "the ground truth file is empty" $E/ILSVRC2012_devkit_t12
printf 'not a mat file' >$E/ILSVRC2012_devkit_t12/data/meta.mat
refuse "meta.mat: cannot read the synsets" $E/ILSVRC2012_devkit_t12
printf 'not a tarball' >$T/bad.tar.gz
refuse "$T/bad.tar.gz: not a readable devkit archive or folder" $T/bad.tar.gz

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
