#!/usr/bin/env bash
# methods/README.md, the plugin guide, is true: its two examples (a random baseline;
# gradient x input through backward + input_grad) are cut out of the page, built against
# the header `cmake --install` puts in PREFIX/include/mxb/method.h, listed by
# `mxb methods --plugin`, and run in `mxb explain` and `mxb run` (--plugin after the
# command, and plugin = FILE in a section). gxi's maps equal the built-in ixg's, bit for
# bit; random's patch map is the header's splitmix64 stream from the image's seed
# (method.h: the run seed and the image's id), recomputed here in Python, in explain and
# for every image of the run.
set -uo pipefail
# the generator and the image seed of methods/method.h, ported (tests/seeds.py)
export PYTHONPATH=$MXB_SOURCE_DIR/tests
MXB=$MXB_EXE; PY=$MXB_PYTHON; SRC=$MXB_SOURCE_DIR
T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$SRC/tests/lib_cli.sh"

check "the guide's examples are cut out of methods/README.md" $PY - "$SRC/methods/README.md" "$T" <<'PYEOF'
import re, sys
page, out = open(sys.argv[1]).read(), sys.argv[2]
blocks = re.findall(r"```c\n(.*?)```", page, re.S)
names = [re.match(r"/\* (\w+\.c):", b).group(1) for b in blocks]
for n, b in zip(names, blocks): open(f"{out}/{n}", "w").write(b)
raise SystemExit(0 if names == ["random_baseline.c", "grad_x_input.c"] else 1)
PYEOF
check "cmake --install puts the header in PREFIX/include/mxb/method.h" \
  bash -c "cmake --install '$MXB_BINARY_DIR' --prefix '$T/prefix' >/dev/null && [ -f '$T/prefix/include/mxb/method.h' ]"
for ex in random_baseline grad_x_input; do
  check "$ex.c builds against the installed header alone (-Wall -Wextra -Werror)" \
    cc -std=c11 -O2 -Wall -Wextra -Werror -shared -fPIC -I$T/prefix/include $T/$ex.c -o $T/lib$ex.so -lm
done
R=$T/librandom_baseline.so; G=$T/libgrad_x_input.so
check "mxb methods --plugin lists both (--plugin after the command)" \
  bash -c "$MXB methods --plugin $R --plugin $G | grep -q '^random ' && $MXB methods --plugin $R --plugin $G | grep -q '^gxi '"
check "mxb methods --format json: every method of the text listing, the plugins' file and SHA-256" $PY - <<PYEOF
import json, subprocess, hashlib, os
run = lambda *a: subprocess.run(["$MXB", "methods", "--plugin", "$R", "--plugin", "$G", *a], capture_output=True,
                                text=True, check=True).stdout
ms = json.loads(run("--format", "json"))["methods"]
text = [l.split()[0] for l in run().splitlines()[1:] if not l.startswith(" ")]
by = {m["name"]: m for m in ms}
sha = hashlib.sha256(open("$R", "rb").read()).hexdigest()
ig = by["ig"]["params"][0]
ok = [m["name"] for m in ms] == text and by["random"]["plugin"]["sha256"] == sha
ok = ok and os.path.realpath("$R") == by["random"]["plugin"]["path"] and by["ixg"]["plugin"] is None
ok = ok and by["gxi"]["map"] == "pixels" and by["gxi"]["needs"] == ["model"] and by["gxi"]["cost"]["backwards"] == 1
ok = ok and ig["name"] == "steps" and ig["type"] == "int" and ig["default"] == 50
raise SystemExit(0 if ok else 1)
PYEOF

$MXB synth $T/data --n 3 --seed 5 --size 64 --quiet
IMG=$T/data/images/synth_000001.png
for model in vit vim; do
  W=$SRC/models/demo_$model.h5
  $MXB explain --plugin $G --weights $W --image $IMG --method gxi --out $T/gxi_$model.h5 >/dev/null 2>>$MXB_ERR
  $MXB explain --weights $W --image $IMG --method ixg --out $T/ixg_$model.h5 >/dev/null 2>>$MXB_ERR
  check "explain demo_$model: gxi's pixel map = ixg's, bit for bit" \
    h5diff -q $T/gxi_$model.h5 $T/ixg_$model.h5 /map_pixels /map_pixels
  $MXB --plugin $R explain --weights $W --image $IMG --method random --seed 42 --out $T/rnd_$model.h5 >/dev/null 2>>$MXB_ERR
  check "explain demo_$model: random's map is the header's generator from the image's seed" $PY - <<PYEOF
import h5py, numpy as np, seeds
m = h5py.File("$T/rnd_$model.h5")["map"][:]
want = np.array(seeds.u01(seeds.image_seed(42, "synth_000001.png"), m.size), np.float32).reshape(m.shape)
raise SystemExit(0 if np.array_equal(m, want) else 1)
PYEOF
done

# a run: random by plugin = FILE, gxi by --plugin after the configuration, ixg built in
cat >$T/guide.ini <<INI
[run]
output = guide.h5
save_maps = yes
[model:vit]
weights = $SRC/models/demo_vit.h5
[model:vim]
weights = $SRC/models/demo_vim.h5
[method:random]
plugin = $R
[method:gxi]
[method:ixg]
[perturbation]
data = data/images
labels = data/labels.txt
tests = positive
INI
(cd $T && $MXB run guide.ini --quiet --plugin $G >/dev/null 2>>$MXB_ERR)
check "mxb run CONFIG --plugin LIB: the guide's methods run beside the built-ins" [ -f $T/guide.h5 ]
for model in vit vim; do
  check "run $model: gxi's maps and scores = ixg's, bit for bit" \
    h5diff -q $T/guide.h5 $T/guide.h5 /perturbation/$model/gxi /perturbation/$model/ixg
done

check "run: random's map of every image is the generator from that image's seed (run seed 0)" $PY - <<PYEOF
import h5py, numpy as np, seeds
f = h5py.File("$T/guide.h5")
ok = True
for model in ("vit", "vim"):
    maps, ids = f["perturbation/%s/random/map" % model][:], f["perturbation/id"][:]
    for m, i in zip(maps, ids):
        want = np.array(seeds.u01(seeds.image_seed(0, i.decode()), m.size), np.float32).reshape(m.shape)
        ok = ok and np.array_equal(m, want)
raise SystemExit(0 if ok else 1)
PYEOF
echo "cli_plugin_guide: $pass passed, $fail failed"
[ $fail -eq 0 ]
