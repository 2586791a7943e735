#!/usr/bin/env bash
# mxb predict / explain over many images (--images: a folder, a quoted pattern, a list
# file): every row of the one output equals the one-image command's output, bit for
# bit (read with h5py); predict --classes and --format json, inspect --format json
# against the text output and the files.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON; SRC=$MXB_SOURCE_DIR
T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$SRC/tests/lib_cli.sh"
cd $T
VIT=$SRC/models/demo_vit.h5; VIM=$SRC/models/demo_vim.h5
$MXB synth data --n 3 --seed 3 --size 64 --quiet
mkdir -p data/images/sub && mv data/images/synth_000002.png data/images/sub/
printf '# the same three images, by path\n\ndata/images/synth_000000.png\n  data/images/synth_000001.png  \ndata/images/sub/synth_000002.png\n' >list.txt

# one image at a time: the references
one() { # WEIGHTS METHOD IMAGE ID OUT
  $MXB explain --weights $1 --method $2 --image $3 --id $4 --seed 7 --out $5 >/dev/null 2>>$MXB_ERR
}
for i in 0 1; do
  one $VIM smoothgrad data/images/synth_00000$i.png synth_00000$i.png vim_$i.h5
  one $VIT rollout data/images/synth_00000$i.png synth_00000$i.png vit_$i.h5
  $MXB predict --weights $VIT --image data/images/synth_00000$i.png --out p_$i.h5 >/dev/null 2>>$MXB_ERR
done
one $VIM smoothgrad data/images/sub/synth_000002.png sub/synth_000002.png vim_2.h5      # a folder's id
one $VIM smoothgrad data/images/sub/synth_000002.png synth_000002.png vim_2f.h5         # a pattern's or list's
one $VIT rollout data/images/sub/synth_000002.png synth_000002.png vit_2.h5
$MXB predict --weights $VIT --image data/images/sub/synth_000002.png --out p_2.h5 >/dev/null 2>>$MXB_ERR

same_rows() { # BATCH.h5 PREFIX SUFFIX-OF-ROW-2 KEYS: row i equals PREFIX_i.h5, and the paths
  $PY - "$@" <<'PYEOF'
import sys, h5py, numpy as np
b, prefix, last, keys = h5py.File(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4].split(",")
ok = b["image"].shape == (3,)
for i in range(3):
    one = h5py.File("%s_%s.h5" % (prefix, last if i == 2 else i))
    for k in keys:
        ok = ok and np.array_equal(b[k][i], one[k][()]) and b[k].dtype == one[k].dtype
sys.exit(0 if ok else 1)
PYEOF
}
# explain: a folder (ids relative to it), a pattern and a list (ids the file names)
$MXB explain --weights $VIM --method smoothgrad --seed 7 --images data/images --out b_folder.h5 >folder.txt 2>>$MXB_ERR
check "explain --images FOLDER: every row equals explain --image (ViM smoothgrad, per-image seeds)" \
  same_rows b_folder.h5 vim 2 logits,class,map,map_upsampled,map_pixels
check "explain --images FOLDER: /id relative to the folder, /image the paths, sub-folders walked" $PY -c "
import h5py; b = h5py.File('b_folder.h5')
ok = [s.decode() for s in b['id'][:]] == ['synth_000000.png', 'synth_000001.png', 'sub/synth_000002.png']
ok = ok and b['image'][2].decode() == 'data/images/sub/synth_000002.png' and b['map'].shape == (3, 8, 8)
raise SystemExit(0 if ok else 1)"
check "explain --images: the text is the one-image text per image" \
  bash -c "[ \$(grep -c '^== data/images/' folder.txt) -eq 3 ] && [ \$(grep -c '^method smoothgrad, explained class' folder.txt) -eq 3 ]"
$MXB explain --weights $VIM --method smoothgrad --seed 7 --images 'data/images/*/*.png' --out b_glob.h5 >/dev/null 2>>$MXB_ERR
check "explain --images 'PATTERN': the row equals explain --image with the file name as id" $PY -c "
import h5py, numpy as np
b = h5py.File('b_glob.h5'); a = h5py.File('vim_2f.h5')
raise SystemExit(0 if b['map'].shape[0] == 1 and np.array_equal(b['map_pixels'][0], a['map_pixels'][()]) else 1)"
$MXB explain --weights $VIT --method rollout --images list.txt --out b_list.h5 --quiet >/dev/null 2>list.err
check "explain --images LIST (comments, blanks, spaces): every row equals explain --image (ViT rollout)" \
  same_rows b_list.h5 vit 2 logits,class,map,map_upsampled
check "--quiet: no progress lines" [ ! -s list.err ]

# predict: the same for the logits and the input; progress on stderr
$MXB predict --weights $VIT --images 'data/images/synth_*.png' --out pb.h5 >/dev/null 2>pb.err
check "predict --images 'PATTERN': logits and input rows equal predict --image" $PY -c "
import h5py, numpy as np
b = h5py.File('pb.h5'); ok = b['logits'].shape == (2, 10) and b['input'].shape == (2, 3, 64, 64)
for i in range(2):
    a = h5py.File('p_%d.h5' % i); ok = ok and np.array_equal(b['logits'][i], a['logits'][:]) and np.array_equal(b['input'][i], a['input'][:])
raise SystemExit(0 if ok else 1)"
check "predict --images: a progress line on stderr" grep -q '^mxb predict: predicted 2/2 images (100%)' pb.err
$MXB predict --weights $VIT --images data/images --classes data/classes.txt --top 3 --out pc.h5 >pc.txt 2>>$MXB_ERR
$MXB predict --weights $VIT --images data/images --classes data/classes.txt --top 3 --format json --quiet >pc.json 2>>$MXB_ERR
check "predict --classes: names in the text, /class_names, JSON = the text = the logits" $PY - <<'PYEOF'
import json, h5py, numpy as np
names = open("data/classes.txt").read().split("\n")[:10]
h = h5py.File("pc.h5"); j = json.load(open("pc.json"))
ok = [s.decode() for s in h["class_names"][:]] == names and len(j["images"]) == 3 and j["num_classes"] == 10
blocks = open("pc.txt").read().split("== ")[1:]
for i, (blk, im) in enumerate(zip(blocks, j["images"])):
    lines = blk.strip().split("\n")
    ok = ok and lines[0] == im["input"] == h["image"][i].decode() and len(im["top"]) == 3
    lg = h["logits"][i].astype(np.float64); p = np.exp(lg - lg.max()); p /= p.sum()
    order = sorted(range(10), key=lambda c: (-lg[c], c))[:3]
    for row, t, c in zip(lines[2:], im["top"], order):
        f = row.split()
        ok = ok and int(f[0]) == t["class"] == c and f[3] == t["name"] == names[c]
        ok = ok and abs(float(f[1]) - t["probability"]) <= 5e-7 and abs(t["probability"] - p[c]) < 1e-12
        ok = ok and abs(float(f[2]) - t["logit"]) <= 5e-5 and t["logit"] == float(lg[c])
raise SystemExit(0 if ok else 1)
PYEOF

# inspect --format json: the text's values
for w in $VIT $VIM; do
  $MXB inspect $w >i.txt 2>>$MXB_ERR; $MXB inspect $w --format json >i.json 2>>$MXB_ERR
  check "inspect --format json = inspect's text ($(basename $w))" $PY - <<'PYEOF'
import json
j = json.load(open("i.json")); ok = True
for line in open("i.txt"):
    k, v = line.rstrip("\n").split(None, 1)
    if k == "tokens": ok = ok and v.startswith("%d (grid %dx%d" % (j["tokens"], j["grid"], j["grid"]))
    elif k == "transform": ok = ok and v == j["transform"]["description"]
    elif k in ("file", "arch", "source", "source_sha256"): ok = ok and v == j[k]
    elif k == "cls_position": ok = ok and int(v) == j[k]
    elif "eps" in k: ok = ok and abs(float(v) - j[k]) <= 1e-5 * j[k]
    else: ok = ok and int(v) == j[k]
raise SystemExit(0 if ok and len(j) >= 17 else 1)
PYEOF
done

# bad uses: one line, exit 2, no output (bad files: tests/bad-inputs/CATALOGUE.tsv)
expect_fail 2 "mxb explain: --png takes one image (--image or --tensor), not --images" \
  $MXB explain --weights $VIT --method rollout --images data/images --png o.png
expect_fail 2 "mxb predict: give one of --image, --images or --tensor" \
  $MXB predict --weights $VIT --images data/images --image data/images/synth_000000.png
printf 'data/images/synth_000000.png\ndata/classes.txt\n' >badlist.txt
expect_fail 2 "mxb predict: data/classes.txt: neither a JPEG nor a PNG file" \
  $MXB predict --weights $VIT --images badlist.txt --out bad.h5
check "a list with a bad image leaves no output file" [ ! -e bad.h5 ]
echo "cli_batch: $pass passed, $fail failed"
[ $fail -eq 0 ]
