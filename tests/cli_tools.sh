#!/usr/bin/env bash
# tools/ end to end: reference.py against the original code's golden files;
# make_random_checkpoint.py against the official key lists; official-format .pth ->
# convert_checkpoint.py -> mxb inspect / predict / explain against reference.py on the
# same .pth (tiny and full ViM-S / DeiT-S geometry); the converter's refusals.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON; TOOLS=$MXB_SOURCE_DIR/tools
FX=$MXB_FIXTURES; SPEC=$MXB_FIXTURES; T=$(mktemp -d); trap 'rm -rf $T' EXIT
REF="$PY $TOOLS/reference.py"; CONV="$PY $TOOLS/convert_checkpoint.py"
RAND="$PY $TOOLS/make_random_checkpoint.py"
. "$MXB_SOURCE_DIR/tests/lib_cli.sh"
# close A B TOL [DSET_A DSET_B]: max |A - B| <= TOL * peak-to-peak of B (both files' datasets)
close() {
  $PY - "$@" <<'PYEOF'
import sys, h5py, numpy as np
fa, fb, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
da, db = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else ("logits", "logits")
# NAME@i,j: element [i, j] of the dataset NAME (mxb's one attention tensor)
def get(f, d):
    name, _, idx = d.partition("@")
    x = h5py.File(f)[name]
    return x[tuple(int(i) for i in idx.split(","))] if idx else x[()]
a = get(fa, da); b = get(fb, db)
err = np.abs(a - b).max() / np.ptp(b)
print("   %s: max diff %.3g of the range %.3g" % (da, err, np.ptp(b)))
raise SystemExit(0 if a.shape == b.shape and err <= tol else 1)
PYEOF
}
# same_maps C.h5 REF.h5: same class; map (after min-max) and map_upsampled within 1e-4
same_maps() {
  $PY - "$@" <<'PYEOF'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
mm = lambda x: (x - x.min()) / (x.max() - x.min())
mp = np.abs(mm(a["map"][:]) - mm(b["map"][:])).max()
up = np.abs(a["map_upsampled"][:] - b["map_upsampled"][:]).max()
same = int(a["class"][()]) == int(b["class"][()]) and a["map"].shape == b["map"].shape
print("   class %d, map %.3g, map_upsampled %.3g" % (int(b["class"][()]), mp, up))
raise SystemExit(0 if same and mp <= 1e-4 and up <= 1e-4 else 1)
PYEOF
}
# pybatch LIST: the tools/ commands of LIST, one a line ("KEY MODULE ARG...", MODULE one
# of reference, convert_checkpoint, make_random_checkpoint), each through its main(argv)
# as its command line runs it, in ONE Python: torch is imported once rather than once a
# command (two seconds each on the 2-core machine, most of this test's time). The exit
# code of KEY's command goes to LIST.KEY.rc, its stderr to LIST.KEY.err.
pybatch() {
  $PY - "$TOOLS" "$1" <<'PYEOF'
import contextlib, importlib, io, shlex, sys
sys.path.insert(0, sys.argv[1])
lst = sys.argv[2]
for line in open(lst).read().splitlines():
    key, tool, *args = shlex.split(line)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            rc = importlib.import_module(tool).main(args) or 0
        except SystemExit as e:  # argparse's exit 2; SystemExit("message") is exit 1
            rc = e.code if isinstance(e.code, int) or e.code is None else 1
            if not isinstance(e.code, int) and e.code is not None:
                print(e.code, file=sys.stderr)
    open("%s.%s.rc" % (lst, key), "w").write("%d\n" % (rc or 0))
    open("%s.%s.err" % (lst, key), "w").write(err.getvalue())
PYEOF
}
# ran LIST KEY: KEY's command exited 0 (else its stderr's last lines)
ran() { [ "$(cat $1.$2.rc 2>/dev/null)" = 0 ] || { tail -n 3 $1.$2.err 2>/dev/null | sed 's/^/   | /'; return 1; }; }
# failed_as LIST KEY CODE NEEDLE: as expect_fail, for KEY's command of a pybatch list
failed_as() {
  local rc; rc=$(cat $1.$2.rc 2>/dev/null)
  if [ "$rc" = "$3" ] && grep -qF -- "$4" $1.$2.err && [ "$(wc -l <$1.$2.err)" -eq 1 ]; then ok "exit $3: $4"
  else bad "expected exit $3 and '$4', got $rc: $(cat $1.$2.err 2>/dev/null)"; fi
}
# inspect_has W.h5 "key value"...: mxb inspect prints each line
inspect_has() {
  local w=$1; shift; $MXB inspect $w >$T/inspect || return 1
  for kv in "$@"; do grep -qE "^${kv% *} +${kv#* }( |$)" $T/inspect || { echo "   no '$kv'"; return 1; }; done
}

# ---------------------------------------------------------------- reference.py vs the original
# (Python against the originals' goldens: no mxb code, so not again in the sanitiser pass)
if ! sanitised; then
for model in deit_d64 vim_d64; do
  H=""; [ $model = deit_d64 ] && H="--num-heads 2"
  for k in 0 1; do
    echo "p_${model}_$k reference predict --weights $FX/$model.pth $H --tensor $FX/$model.golden.h5:input_$k --out $T/o_${model}_$k.h5"
  done
  for m in raw-attention rollout attribution; do
    echo "e_${model}_$m reference explain --weights $FX/$model.pth $H --tensor $FX/$model.golden.h5:input_0 --method $m --out $T/o_${model}_$m.h5"
  done
done >$T/orig.lst
pybatch $T/orig.lst
for model in deit_d64 vim_d64; do
  for k in 0 1; do
    ran $T/orig.lst p_${model}_$k || { bad "reference $model predict input $k ran"; continue; }
    check "reference $model predict input $k: logits as the original's" \
      close $T/o_${model}_$k.h5 $FX/$model.golden.h5 1e-4 logits logits_$k
  done
  for m in raw-attention rollout attribution; do
    ran $T/orig.lst e_${model}_$m || { bad "reference explain $model $m ran"; continue; }
    check "reference $model $m: map as the original's" close $T/o_${model}_$m.h5 $FX/$model.golden.h5 1e-4 map map_${m}_0
    check "reference $model $m: map_upsampled as the original's" \
      close $T/o_${model}_$m.h5 $FX/$model.golden.h5 1e-4 map_upsampled map_upsampled_${m}_0
  done
  if [ $model = vim_d64 ]; then dbg="layer_05/xai_vector layer_20/xai_vector layer_05/residual_grad layer_23/residual"
  else dbg="block_01/attn block_03/attn_grad block_03/attn_relevance"; fi
  for d in $dbg; do  # attribution's debug/ (input 0)
    check "reference $model debug/$d as the original's" close $T/o_${model}_attribution.h5 $FX/$model.golden.h5 1e-4 debug/$d debug/$d
  done
done
fi

# ---------------------------------------------------------------- make_random_checkpoint.py
# (in the sanitiser pass only the tiny models: the full-geometry ones run the same mxb
# code at 100x the cost, and the key lists are the Python tool's)
# (one pybatch: the checkpoints, then their conversions below)
{ sanitised || cat <<EOF
r_deit_t make_random_checkpoint --preset deit-t --bare $T/deit_t.pth
r_vim_t make_random_checkpoint --preset vim-t --bare $T/vim_t.pth
r_deit_s make_random_checkpoint --preset deit-s --seed 1 $T/deit_s.pth
r_vim_s make_random_checkpoint --preset vim-s --seed 2 $T/vim_s.pth
EOF
cat <<EOF
r_vit_tiny make_random_checkpoint --arch vit --embed-dim 32 --heads 2 --depth 3 --img-size 32 --patch 8 --classes 10 --seed 4 $T/vit_tiny.pth
r_vim_tiny make_random_checkpoint --arch vim --embed-dim 32 --depth 4 --img-size 32 --patch 8 --classes 10 --d-state 8 --seed 5 $T/vim_tiny.pth
c_vit_tiny convert_checkpoint $T/vit_tiny.pth $T/vit_tiny.h5 --num-heads 2
c_vim_tiny convert_checkpoint $T/vim_tiny.pth $T/vim_tiny.h5
EOF
sanitised || cat <<EOF
c_deit_s convert_checkpoint $T/deit_s.pth $T/deit_s.h5
c_vim_s convert_checkpoint $T/vim_s.pth $T/vim_s.h5
EOF
} >$T/make.lst
pybatch $T/make.lst
for k in $(cut -d' ' -f1 $T/make.lst); do ran $T/make.lst $k || bad "$(grep "^$k " $T/make.lst) ran"; done
# keys, shapes and order of the official lists; -S = -T with the dims of embed dim 384;
# the envelopes. One Python, a line each ("NAME ok" or "NAME differs ..."), a check each.
sanitised || $PY - $T $SPEC >$T/keys.txt <<'PYEOF'
import argparse, sys, torch
T, SPEC = sys.argv[1], sys.argv[2]
def keys(pth, spec, size):
    ck = torch.load(pth, map_location="cpu")
    big = {"deit": {192: 384, 576: 1152, 768: 1536},
           "vim": {192: 384, 384: 768, 768: 1536, 44: 56, 12: 24}}["vim" if "vim" in spec else "deit"]
    want = []
    for line in open(spec):
        name, shape = line.split(" ", 1)
        dims = [int(d) for d in shape.strip(" []\n").split(",")]
        want.append((name, [big.get(d, d) if size == "s" else d for d in dims]))
    got = [(k, list(v.shape)) for k, v in ck["model"].items()]
    bad = [(w, g) for w, g in zip(want, got) if w != g]
    detail = "%d keys, %d differ%s" % (len(got), len(bad), " first %s" % (bad[:1],) if bad else "")
    return len(got) == len(want) and not bad, detail
for name, pth, spec, size in (("deit-t", "deit_t", "deit-tiny-keys", "t"), ("vim-t", "vim_t", "vim-tiny-keys", "t"),
                              ("deit-s", "deit_s", "deit-tiny-keys", "s"), ("vim-s", "vim_s", "vim-tiny-keys", "s")):
    good, detail = keys("%s/%s.pth" % (T, pth), "%s/%s.txt" % (SPEC, spec), size)
    print(name, "ok" if good else "differs", detail)
d = torch.load(T + "/deit_s.pth"); v = torch.load(T + "/vim_tiny.pth")
ok = list(d) == ["model"] and sorted(v) == sorted(["model", "optimizer", "lr_scheduler", "epoch",
     "model_ema", "scaler", "args"]) and isinstance(v["args"], argparse.Namespace)
ok = ok and not torch.equal(v["model"]["head.weight"], v["model_ema"]["head.weight"])
print("envelopes", "ok" if ok and all(t.dtype == torch.float32 for t in d["model"].values()) else "differ")
PYEOF
said() { grep "^$1 " $T/keys.txt | sed 's/^/   /'; grep -q "^$1 ok" $T/keys.txt; }
sanitised || check "make_random deit-t: the official DeiT-T keys and shapes, in order" said deit-t
sanitised || check "make_random vim-t: the official ViM-T keys and shapes, in order" said vim-t
sanitised || check "make_random deit-s: DeiT-S keys and shapes" said deit-s
sanitised || check "make_random vim-s: ViM-S keys and shapes" said vim-s
sanitised || check "make_random envelopes: DeiT {'model'}; ViM as hustvl's main.py saves (args, model_ema, ...)" said envelopes

# ---------------------------------------------------------------- convert -> inspect -> predict
$PY -c "
import h5py, numpy as np
x = np.random.default_rng(0).standard_normal((3, 32, 32)).astype(np.float32)
h5py.File('$T/x32.h5', 'w')['input'] = x"
X224=$FX/vim_d64.golden.h5:input_0
check "inspect vit tiny" inspect_has $T/vit_tiny.h5 "arch vit" "img_size 32" "patch_size 8" "num_classes 10" \
  "embed_dim 32" "depth 3" "num_heads 2" "mlp_hidden 128" "qkv_bias 1" "norm_eps 1e-06" "final_norm_eps 1e-05" \
  "tokens 17"
check "inspect vim tiny" inspect_has $T/vim_tiny.h5 "arch vim" "img_size 32" "patch_size 8" "num_classes 10" \
  "embed_dim 32" "depth 4" "d_state 8" "d_inner 64" "dt_rank 2" "d_conv 4" "cls_position 8" "norm_eps 1e-05"
sanitised || check "inspect deit-s" inspect_has $T/deit_s.h5 "arch vit" "img_size 224" "patch_size 16" "num_classes 1000" \
  "embed_dim 384" "depth 12" "num_heads 6" "mlp_hidden 1536" "qkv_bias 1" "parameters 22050664"
sanitised || check "inspect vim-s" inspect_has $T/vim_s.h5 "arch vim" "img_size 224" "embed_dim 384" "depth 24" "d_state 16" \
  "d_inner 768" "dt_rank 24" "d_conv 4" "cls_position 98" "tokens 197" "parameters 25796584"
sanitised || check "converted file: source, checksum and model_name attributes" $PY -c "
import h5py, hashlib
a = h5py.File('$T/vim_s.h5').attrs
ok = a['source'] == 'vim_s.pth' and a['model_name'] == 'vim_s' and a['mxb_weights_version'] == 1
raise SystemExit(0 if ok and a['source_sha256'] == hashlib.sha256(open('$T/vim_s.pth', 'rb').read()).hexdigest() else 1)"
# (the reference side in one pybatch: the predicts here, the explains of the next part)
for n in vit_tiny vim_tiny deit_s vim_s; do
  x=$X224; H=""; case $n in *tiny) x=$T/x32.h5;; esac; [ $n = vit_tiny ] && H="--num-heads 2"
  echo "p_$n reference predict --weights $T/$n.pth $H --tensor $x --out $T/rp_$n.h5"
done >$T/ref.lst
for n in vit_tiny vim_tiny; do
  H=""; variants="official exact"; [ $n = vit_tiny ] && { H="--num-heads 2"; variants=official; }
  for v in $variants; do
    for m in raw-attention rollout attribution; do
      echo "e_${n}_${m}_$v reference explain --weights $T/$n.pth $H --tensor $T/x32.h5 --method $m --variant $v --out $T/re_${n}_${m}_$v.h5 --save-attention --double"
    done
  done
done >>$T/ref.lst
sanitised || pybatch $T/ref.lst
for n in vit_tiny vim_tiny $(sanitised || echo deit_s vim_s); do
  x=$X224; case $n in *tiny) x=$T/x32.h5;; esac
  $MXB predict --weights $T/$n.h5 --tensor $x --out $T/c.h5 >/dev/null || { bad "mxb predict $n ran"; continue; }
  sanitised && continue  # the reference side is PyTorch
  ran $T/ref.lst p_$n || { bad "reference predict $n ran"; continue; }
  check "$n: mxb predict on the converted file = reference.py on the .pth" close $T/c.h5 $T/rp_$n.h5 1e-4
done

# ---------------------------------------------------------------- mxb explain vs reference.py explain
# Against the reference in float64 (the exact maths). Chefer's LRP divides by sums
# that can be near 0 (residual adds, attn @ v), so on some random draws the map is
# ill-conditioned in float32: seed 3 of this tiny ViT moves the reference's own map by
# 1.2e-3 between float32 and float64. Seed 4 is a well-conditioned draw (3e-7).
for n in vit_tiny vim_tiny; do
  H=""; variants="official exact"; [ $n = vit_tiny ] && { H="--num-heads 2"; variants=official; }
  for v in $variants; do
    # --variant is ViM's alone: mxb refuses it for a ViT
    V="--variant $v"; [ $n = vit_tiny ] && V=""
    for m in raw-attention rollout attribution; do
      $MXB explain --weights $T/$n.h5 --tensor $T/x32.h5 --method $m $V --out $T/c.h5 \
          --save-attention >/dev/null || { bad "mxb explain $n $m $v ran"; continue; }
      sanitised && continue
      ran $T/ref.lst e_${n}_${m}_$v || { bad "reference explain $n $m $v ran"; continue; }
      cp $T/re_${n}_${m}_$v.h5 $T/r.h5  # the last pair's is read below
      check "$n $m ($v): mxb explain = reference.py explain" same_maps $T/c.h5 $T/r.h5
    done
  done
  # the last pair's --save-attention (ViM: exact channel mean); mxb's one [layer, head
  # or direction, L, L] tensor against reference.py's per-layer datasets
  if [ $n = vim_tiny ]; then att="0,0:layer_00/forward 3,1:layer_03/backward"; else att="0:block_00 2:block_02"; fi
  for d in $att; do
    sanitised || check "$n attention/${d#*:}: mxb = reference.py" close $T/c.h5 $T/r.h5 1e-4 attention@${d%%:*} attention/${d#*:}
  done
done

# ---------------------------------------------------------------- the converter refuses, by name
# (Python's refusals alone: not again in the sanitiser pass)
if ! sanitised; then
$PY - $T <<'PYEOF'
import sys, torch
t = sys.argv[1]
torch.save({"model": {"conv1.weight": torch.zeros(64, 3, 7, 7), "bn1.weight": torch.ones(64),
                      "fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)}}, t + "/resnet.pth")
for name, key in (("vit", "blocks.1.mlp.fc1.bias"), ("vim", "layers.2.mixer.A_b_log")):
    ck = torch.load(t + "/%s_tiny.pth" % name)
    del ck["model"][key]
    torch.save(ck, t + "/%s_missing.pth" % name)
ck = torch.load(t + "/vit_tiny.pth")
ck["model"]["blocks.2.attn.proj.weight"] = torch.zeros(32, 31)
torch.save(ck, t + "/vit_shape.pth")
torch.save([1, 2, 3], t + "/list.pth")
open(t + "/notes.pth", "w").write("these are not weights\n")
data = open(t + "/vit_tiny.pth", "rb").read()
open(t + "/truncated.pth", "wb").write(data[: len(data) // 2])
PYEOF
# (one pybatch; the exit code of each command line is checked once, by the first case)
expect_fail 2 "nothere.pth: no such file" $CONV $T/nothere.pth $T/bad.h5
cat >$T/refuse.lst <<EOF
resnet convert_checkpoint $T/resnet.pth $T/bad.h5
vit_missing convert_checkpoint $T/vit_missing.pth $T/bad.h5 --num-heads 2
vim_missing convert_checkpoint $T/vim_missing.pth $T/bad.h5
vit_shape convert_checkpoint $T/vit_shape.pth $T/bad.h5 --num-heads 2
notes convert_checkpoint $T/notes.pth $T/bad.h5
truncated convert_checkpoint $T/truncated.pth $T/bad.h5
list convert_checkpoint $T/list.pth $T/bad.h5
heads convert_checkpoint $T/vit_tiny.pth $T/bad.h5
nodir convert_checkpoint $T/vit_tiny.pth $T/no/dir.h5 --num-heads 2
r_missing reference predict --weights $T/vim_missing.pth --tensor $T/x32.h5 --out $T/r.h5
r_class reference explain --weights $T/vim_tiny.h5 --tensor $T/x32.h5 --method rollout --class 10 --out $T/r.h5
r_layer reference explain --weights $T/vim_tiny.h5 --tensor $T/x32.h5 --method rollout --start-layer 4 --out $T/r.h5
r_nope reference predict --weights $T/vim_tiny.h5 --tensor $T/x32.h5:nope --out $T/r.h5
r_shape reference predict --weights $T/vim_s.h5 --tensor $T/x32.h5 --out $T/r.h5
EOF
pybatch $T/refuse.lst
failed_as $T/refuse.lst resnet 2 "resnet.pth: unknown architecture: no 'blocks.N.attn.qkv.weight' (ViT/DeiT) nor 'layers.N.mixer.A_b_log'"
failed_as $T/refuse.lst vit_missing 2 "vit_missing.pth: missing key 'blocks.1.mlp.fc1.bias'"
failed_as $T/refuse.lst vim_missing 2 "vim_missing.pth: missing key 'layers.2.mixer.A_b_log'"
failed_as $T/refuse.lst vit_shape 2 "'blocks.2.attn.proj.weight' has shape [32, 31], expected [32, 32]"
failed_as $T/refuse.lst notes 2 "notes.pth: not a PyTorch checkpoint (neither a zip archive nor a pickle)"
failed_as $T/refuse.lst truncated 2 "truncated.pth: not a readable PyTorch checkpoint"
failed_as $T/refuse.lst list 2 "list.pth: holds no state_dict"
failed_as $T/refuse.lst heads 2 "cannot infer num_heads for embed_dim 32"
failed_as $T/refuse.lst nodir 2 "cannot write $T/no/dir.h5"
check "no output file after a refused conversion" bash -c "[ ! -e $T/bad.h5 ] && ! ls -A $T | grep -q partial"
expect_fail 2 "start layer 4 is outside 0..3" $REF explain --weights $T/vim_tiny.h5 --tensor $T/x32.h5 \
  --method rollout --start-layer 4 --out $T/r.h5
failed_as $T/refuse.lst r_missing 2 "missing key 'layers.2.mixer.A_b_log'"
failed_as $T/refuse.lst r_class 2 "class 10 is outside 0..9"
failed_as $T/refuse.lst r_layer 2 "start layer 4 is outside 0..3"
failed_as $T/refuse.lst r_nope 2 "x32.h5:nope: cannot read"
failed_as $T/refuse.lst r_shape 2 "want a [3, 224, 224] tensor, got [1, 3, 32, 32]"
fi

# ---------------------------------------------------------------- mxb bench + tools/bench_torch.py
# (the -T presets, 1 rep: this checks that both sides measure the same things, not speed;
# of the method rows (issue 16) only the one-pass LRP ones here; every row C-only below, and
# every twin's map against mxb explain's after that)
if ! sanitised; then  # a benchmark under a sanitiser measures nothing: its refusals are below
TWINNED=lrp-partial,lrp-full,mambalrp,mambalrp-vision  # + uia, always
$MXB bench --models deit-t,vim-t --reps 1 --batch 2 --methods $TWINNED --json $T/bench.json >$T/bench.txt 2>$T/bench.err
check "mxb bench --json: every C measurement has its PyTorch twin (same names)" $PY - $T/bench.json <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
# C-only rows by design: the engine's GEMM shapes, the forward's profile, the run stages
# and the rows of T images in flight x 1 thread (PyTorch's twin of those is its batch)
c_only = lambda r: r["model"] == "gemm" or r["what"].startswith(("forward: ", "run stage: ", "run: ")) or \
    "at once" in r["what"]
allrows = j["rows"]; rows = [r for r in allrows if not c_only(r)]; names = {(r["model"], r["what"]) for r in rows}
missing = [r["what"] for r in rows if r["torch_ms"] is None]
print("   %d rows, %d without a PyTorch time %s" % (len(rows), len(missing), missing))
want = {("vim-t", "hidden attention exact, all layers"), ("deit-t", "explain attribution"),
        ("blas", "sgemm 1024x1024x1024"), ("vim-t", "perturbation step, batch (per image)"),
        ("vim-t", "xai vector (uia), all layers"), ("vim-t", "explain uia"), ("vim-t", "explain mambalrp"),
        ("vim-t", "explain mambalrp-vision"), ("deit-t", "explain lrp-full"), ("deit-t", "explain lrp-partial")}
# GFLOP counts of the forwards, as written out by hand for DeiT-T (192 wide, 12 blocks, 3 heads,
# MLP 768): patch embed + head + per block qkv, two attention products, proj, fc1, fc2
L, E, F = 197, 192, 768
deit_t = (2 * 196 * 768 * E + 2 * E * 1000 + 12 * (2 * L * E * 3 * E + 4 * L * L * E + 2 * L * E * E + 4 * L * E * F)) / 1e9
got = [r.get("gflop") for r in rows if r["model"] == "deit-t" and r["what"] == "forward, 1 image"][0]
print("   deit-t forward %.4f GFLOP (expected %.4f); sgemm peak %.1f GFLOP/s" % (got, deit_t, j["sgemm_peak_gflops"]))
extra = {(r["model"], r["what"]) for r in allrows if c_only(r)}
want_extra = {("gemm", "engine 197x384 @ 384x1536 (fc1, in_proj)"), ("vim-t", "forward: selective scan"),
              ("deit-t", "run: 1 image, 3 methods, pos+neg"), ("vim-t", "run stage: 9 perturbed forwards (1 polarity)"),
              ("blas", "sgemm 1024^3, 1 per thread at once (per call)"), ("vim-t", "forward, 1 per thread at once (per image)"),
              ("deit-t", "run: 1 image per thread at once (per image)")}
ok_extra = want_extra <= extra and all(r["torch_ms"] is None for r in allrows if c_only(r))
ok_json = j["blas"].startswith(("OpenBLAS", "BLIS", "oneDNN")) and len(j["scaling"][str(j["threads"])]) == len(allrows)
# --methods picked: none of the multi-pass rows ran
ok_pick = not any(w.startswith(("explain ixg", "explain ig", "explain rise", "explain occlusion", "explain smoothgrad"))
                  for _, w in names)
raise SystemExit(0 if len(rows) == 27 and not missing and want <= names and j["batch"] == 2 and ok_extra and ok_json
                 and ok_pick and abs(got - deit_t) < 1e-3 and j["sgemm_peak_gflops"] > 0 else 1)
PYEOF
# every method row, C only: the rows per (model, method) and their cost() against `mxb methods`
# (the defaults, listed at deit-s / vim-s: the same 224 px, patch 16 geometry as the -T presets)
# and against the counts written out by hand for the reduced params of the labels
$MXB bench --models deit-t,vim-t --reps 1 --batch 2 --no-torch --json $T/bench_all.json >$T/bench_all.txt 2>&1
$MXB methods >$T/methods.txt
check "mxb bench --json: the machine (CPU model and cores as /proc/cpuinfo and nproc, hypervisor, wait policy, load)" \
  $PY - $T/bench_all.json $T/bench_all.txt "$(nproc)" <<'PYEOF'
import json, re, sys
m = json.load(open(sys.argv[1]))["machine"]
text = open(sys.argv[2]).read()
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
hyp = " hypervisor " in open("/proc/cpuinfo").read().split("flags", 1)[1].split("\n", 1)[0] + " "
print("   %s" % m)
ok = m["cpu"] == model and m["cores"] == int(sys.argv[3]) and (m["hypervisor"] != "none") == hyp
ok = ok and m["wait_policy"] == "passive (mxb's default)"  # ctest sets neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT
ok = ok and all(len(m[k]) == 3 and min(m[k]) >= 0 for k in ("load_start", "load_end"))
ok = ok and re.search(r"^machine: %s; %d cores; hypervisor %s; OpenMP wait passive" % (re.escape(model), m["cores"],
                      re.escape(m["hypervisor"])), text, re.M) is not None
raise SystemExit(0 if ok else 1)
PYEOF
check "mxb bench: an explain row per method and model, with the method's cost() per image" \
  $PY - $T/bench_all.json $T/methods.txt <<'PYEOF'
import json, re, sys
j = json.load(open(sys.argv[1]))
listed = {}  # method -> (traced, plain, backwards, LRP passes) from `mxb methods`
name = None
for line in open(sys.argv[2]):
    if line[:1] not in (" ", "\n"):
        name = line.split()[0]
    m = re.search(r"cost per image \(\S+, defaults\): (\d+) traced forwards, (\d+) backwards, (\d+) plain "
                  r"forwards, (\d+) LRP passes", line)
    if m:
        listed[name] = (int(m[1]), int(m[3]), int(m[2]), int(m[4]))
common = ["raw-attention", "rollout", "attribution", "ixg", "ig (steps=8)", "smoothgrad (samples=5)",
          "occlusion (window=32 stride=32)", "rise (masks=64)"]
expect = {"deit-t": common + ["lrp-partial", "lrp-full"],
          "vim-t": common + ["uia", "mambalrp", "mambalrp-vision"]}
# by hand: IG 1 + steps traced, steps backwards; SmoothGrad likewise; occlusion
# (ceil((224 - 32) / 32) + 1)^2 = 49 plain forwards; RISE one per mask
reduced = {"ig (steps=8)": ((9, 0, 8, 0), "steps=8 rule=gausslegendre"),
           "smoothgrad (samples=5)": ((6, 0, 5, 0), "samples=5 sigma=1"),
           "occlusion (window=32 stride=32)": ((1, 49, 0, 0), "window=32 stride=32 baseline=0"),
           "rise (masks=64)": ((1, 64, 0, 0), "masks=64 cells=8 p=0.1 score=softmax")}
# the LRP methods' pass, by hand: Transformer-Attribution (ViT), Chefer's LRP, MambaLRP
lrp = {("deit-t", "attribution"), ("deit-t", "lrp-partial"), ("deit-t", "lrp-full"), ("vim-t", "mambalrp"),
       ("vim-t", "mambalrp-vision")}
bad = []
for model, labels in expect.items():
    rows = {r["what"][8:]: r for r in j["rows"] if r["model"] == model and r["what"].startswith("explain ")}
    if sorted(rows) != sorted(labels):
        bad.append("%s rows %s" % (model, sorted(rows)))
        continue
    for label, r in rows.items():
        meth = label.split(" ")[0]
        hand = 1 if (model, meth) in lrp else 0
        want, params = reduced.get(label, (listed[meth][:3] + (hand,), ""))
        kv = lambda s: {k: float(v) if v[:1].isdigit() else v for k, v in (t.split("=") for t in s.split())}
        if tuple(r["cost_default"]) != listed[meth][:3] + (hand,) or tuple(r["cost"]) != want or kv(r["params"]) != kv(params):
            bad.append("%s %s: cost %s default %s params '%s'" % (model, label, r["cost"], r["cost_default"], r["params"]))
# `mxb methods` prices at deit-s (ViT methods) or vim-s: the LRP methods list their pass
for meth, c in listed.items():
    if c[3] != (1 if meth == "attribution" or meth.startswith(("lrp-", "mambalrp")) else 0):
        bad.append("mxb methods: %s lists %d LRP passes" % (meth, c[3]))
print("   %d methods listed; %s" % (len(listed), bad or "every row's cost as listed"))
raise SystemExit(1 if bad or len(listed) < 16 else 0)
PYEOF
# issue 13: the in-flight rows. The limit in flight is the forward's products at the in-flight
# sgemm rate (GFLOP counted by hand above for DeiT-T, which has no scan: the whole limit) plus a
# ViM's scan shared out; the images/hour line is 3.6e6 / the in-flight image row's ms
check "mxb bench: the forward limit in flight and mxb run's images/hour in flight" \
  $PY - $T/bench_all.json $T/bench_all.txt <<'PYEOF'
import json, re, sys
j = json.load(open(sys.argv[1])); txt = open(sys.argv[2]).read()
row = {(r["model"], r["what"]): r for r in j["rows"]}
sg = row[("blas", "sgemm 1024^3, 1 per thread at once (per call)")]
rate = 2 * 1024 ** 3 / 1e9 / sg["c_ms"] * 1e3
L, E, F = 197, 192, 768
deit_t = (2 * 196 * 768 * E + 2 * E * 1000 + 12 * (2 * L * E * 3 * E + 4 * L * L * E + 2 * L * E * E + 4 * L * E * F)) / 1e9
lim = j["forward_limits"]
bad = []
if abs(rate - j["sgemm_in_flight_gflops"]) > 1e-3 * rate: bad.append("in-flight rate %g vs %g" % (rate, j["sgemm_in_flight_gflops"]))
if abs(lim["deit-t"]["in_flight_ms"] - deit_t / rate * 1e3) > 1e-3 * lim["deit-t"]["in_flight_ms"]:
    bad.append("deit-t in-flight limit %g, by hand %g" % (lim["deit-t"]["in_flight_ms"], deit_t / rate * 1e3))
vim_gf = row[("vim-t", "forward, 1 per thread at once (per image)")]["gflop"]
if not lim["vim-t"]["in_flight_ms"] > vim_gf / rate * 1e3: bad.append("vim-t in-flight limit without its scan")
for model in ("deit-t", "vim-t"):
    r = row[(model, "run: 1 image per thread at once (per image)")]
    m = re.search(r"^%s +mxb run, paper table 1 \(3 methods, pos\+neg\), (\d+) in flight x 1 thread \(the default\): "
                  r"(\d+) images/hour" % model, txt, re.M)
    if not m or int(m[1]) != j["threads"] or abs(int(m[2]) - 3.6e6 / r["c_ms"]) > 1: bad.append("%s images/hour line" % model)
    if not re.search(r"^%s +forward limit, %d in flight x 1 thread: [0-9.]+ ms per image" % (model, j["threads"]), txt, re.M):
        bad.append("%s in-flight limit line" % model)
print("   in-flight sgemm %.1f GFLOP/s; limits %s; %s" % (rate, lim, bad or "as counted by hand"))
raise SystemExit(1 if bad else 0)
PYEOF
# T traced contexts that would not fit are not allocated: the in-flight run row is left out, said
check "mxb bench: in-flight contexts over MXB_MAX_MEMORY_MB left out with a line, exit 0" bash -c \
  "MXB_MAX_MEMORY_MB=5 OMP_NUM_THREADS=2 $MXB bench --models vim-t --reps 1 --methods none --no-torch >$T/bench_mem.txt 2>&1 &&
   grep -q '^mxb bench: vim-t: 1 more traced contexts need [0-9]* MB, over the memory limit 5 MB (MXB_MAX_MEMORY_MB): the in-flight run row is left out$' $T/bench_mem.txt &&
   ! grep -q 'run: 1 image per thread at once' $T/bench_mem.txt && grep -q 'forward, 1 per thread at once' $T/bench_mem.txt"
check "mxb bench prints the per-image cost table" bash -c \
  "grep -qE '^vim-t +explain occlusion \(window=32 stride=32\) +1\+49 +0 +0 +1\+729 +0 +0 +[0-9.]+$' $T/bench_all.txt"
fi
# the twins compute what mxb explain computes (small models, 64 px): their maps after min-max;
# full LRP within float32's noise for it (docs/METHODS-v2.md 3.1: 0.2-2.6 %); SmoothGrad at
# sigma 0 (its noise is drawn differently); RISE (its masks too) only runs
cat >$T/tw.lst <<EOF
r_vit make_random_checkpoint --arch vit --embed-dim 64 --depth 3 --heads 2 --img-size 64 --patch 8 --classes 10 --seed 3 $T/tw_vit.pth
r_vim make_random_checkpoint --arch vim --embed-dim 64 --depth 4 --img-size 64 --patch 8 --classes 10 --seed 4 $T/tw_vim.pth
c_vit convert_checkpoint $T/tw_vit.pth $T/tw_vit.h5
c_vim convert_checkpoint $T/tw_vim.pth $T/tw_vim.h5
EOF
pybatch $T/tw.lst
for k in r_vit r_vim c_vit c_vim; do ran $T/tw.lst $k || bad "$(grep "^$k " $T/tw.lst) ran"; done
$PY -c "import h5py, torch; h5py.File('$T/tw_x.h5', 'w')['input'] = (torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(5)) * 4 - 2).numpy()"
for a in vit vim; do
  for meth in ixg ig occlusion smoothgrad $([ $a = vit ] && echo lrp-partial lrp-full || echo uia mambalrp mambalrp-vision); do
    $MXB explain --weights $T/tw_$a.h5 --tensor $T/tw_x.h5 --method $meth --out $T/tw_${a}_$meth.h5 \
      $([ $meth = ig ] && echo --param steps=8) $([ $meth = occlusion ] && echo --param window=16 --param stride=16) \
      $([ $meth = smoothgrad ] && echo --param sigma=0 --param samples=2) >/dev/null
  done
done
sanitised ||
check "the PyTorch twins of the method rows compute mxb explain's maps" $PY - $T $TOOLS <<'PYEOF'
import sys, h5py, numpy as np, torch
T = sys.argv[1]; sys.path.insert(0, sys.argv[2])
import reference as ref, bench_methods_torch as bmt
x = torch.from_numpy(h5py.File(T + "/tw_x.h5")["input"][()])[None]
mm = lambda a: (lambda a: (a - a.min()) / (a.max() - a.min()))(np.asarray(a, np.float64).ravel())
twin = {"ixg": lambda m: bmt.ixg(m, x), "ig": lambda m: bmt.ig(m, x, 8),
        "occlusion": lambda m: bmt.occlusion(m, x, 16, 16), "smoothgrad": lambda m: bmt.smoothgrad(m, x, 2, 0.0),
        "lrp-partial": lambda m: bmt.lrp(m, x, False),
        "lrp-full": lambda m: torch.nn.functional.avg_pool2d(bmt.lrp(m, x, True)[None], 8)[0],
        "uia": lambda m: bmt.uia(m, x), "mambalrp": lambda m: bmt.mambalrp(m, x, True),
        "mambalrp-vision": lambda m: bmt.mambalrp(m, x, False)}
bad = 0
for a, meths in (("vit", ["ixg", "ig", "occlusion", "smoothgrad", "lrp-partial", "lrp-full"]),
                 ("vim", ["ixg", "ig", "occlusion", "smoothgrad", "uia", "mambalrp", "mambalrp-vision"])):
    m = ref.load_model("%s/tw_%s.h5" % (T, a))
    for meth in meths:
        f = h5py.File("%s/tw_%s_%s.h5" % (T, a, meth))
        c = f["map_pixels"][()] if "map_pixels" in f else f["map"][()]
        d = np.abs(mm(c) - mm(twin[meth](m).detach().numpy())).max()
        tol = 3e-2 if meth == "lrp-full" else 1e-4
        bad += not d <= tol
        print("   %s %s: %.2g after min-max (tolerance %g)" % (a, meth, d, tol))
    r = bmt.rise(m, x, bmt.rise_masks(8, 4, 0.5, 64), 0.5)
    bad += tuple(r.shape) != (1, 64, 64) or not bool(torch.isfinite(r).all())
raise SystemExit(1 if bad else 0)
PYEOF
sanitised || check "mxb bench prints the table with ratios" bash -c "grep -qE '^vim-t +forward\+backward +[0-9.]+ +[0-9.]+ +[0-9.]+x$' $T/bench.txt"
expect_fail 2 "unknown model 'vim-xl'" $MXB bench --models vim-t,vim-xl
expect_fail 2 "mxb bench: --models: 'vim-t' is named twice" $MXB bench --models vim-t,deit-t,vim-t
expect_fail 2 "bench_torch: unknown model 'vim-xl'" $PY $TOOLS/bench_torch.py --models vim-xl
expect_fail 2 "mxb bench: --methods: 'gradcam' is not a method with a bench row" $MXB bench --methods ixg,gradcam

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
