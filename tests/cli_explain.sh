#!/usr/bin/env bash
# mxb predict / inspect / explain / methods end to end: outputs against the original
# code's golden files (read with h5py, PIL), and every bad input's exit code + message.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON
FX=$MXB_FIXTURES; W=$MXB_TESTDATA/engine; T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$MXB_SOURCE_DIR/tests/lib_cli.sh"

for model in deit_d64 vim_d64; do
  for k in 0 1; do
    for m in raw-attention rollout attribution; do
      $MXB explain --weights $W/$model.h5 --tensor $FX/$model.golden.h5:input_$k --method $m \
          --out $T/e.h5 >/dev/null || { bad "explain $model $m $k ran"; continue; }
      check "$model $m input $k: map_upsampled and map match the original code" $PY - <<PYEOF
import h5py, numpy as np
a = h5py.File("$T/e.h5"); g = h5py.File("$FX/$model.golden.h5")
up = np.abs(a["map_upsampled"][:] - g["map_upsampled_${m}_$k"][:]).max()
ref = g["map_${m}_$k"][:]; mp = np.abs(a["map"][:] - ref).max() / np.abs(ref).max()
ok = up <= 1e-4 and mp <= 1e-4 and a["logits"].shape == (1000,)
ok = ok and int(a["class"][()]) == int(np.argmax(g["logits_$k"][:]))
print("   map_upsampled %.2g, map %.2g" % (up, mp)); raise SystemExit(0 if ok else 1)
PYEOF
    done
  done
done

# predict writes the logits and the input it ran on
$MXB predict --weights $W/vim_d64.h5 --tensor $FX/vim_d64.golden.h5:input_0 --out $T/p.h5 >$T/top5
check "predict prints a top-5" [ "$(grep -c '^ *[0-9]' $T/top5)" -eq 5 ]
check "predict --out holds /logits and /input equal to golden" $PY -c "
import h5py, numpy as np
a = h5py.File('$T/p.h5'); g = h5py.File('$FX/vim_d64.golden.h5')
raise SystemExit(0 if np.abs(a['logits'][:] - g['logits_0'][:]).max() < 1e-4 * np.ptp(g['logits_0'][:])
                 and np.array_equal(a['input'][:], g['input_0'][:]) else 1)"
check "inspect shows the config" bash -c "$MXB inspect $W/vim_d64.h5 | grep -q 'd_state *16'"

# overlay and saved attention
$MXB explain --weights $W/deit_d64.h5 --tensor $FX/deit_d64.golden.h5:input_0 --method attribution \
    --out $T/a.h5 --save-attention --png $T/o.png >/dev/null
check "--png writes a 224x224 RGB PNG" $PY -c "
from PIL import Image; im = Image.open('$T/o.png'); raise SystemExit(0 if im.size == (224, 224) and im.mode == 'RGB' else 1)"
check "--save-attention stores ViT attention [layer, head, L, L] equal to the original's" $PY -c "
import h5py, numpy as np
a = h5py.File('$T/a.h5')['attention']; g = h5py.File('$FX/deit_d64.golden.h5')
ok = a.ndim == 4 and all(np.abs(a[b] - g['debug/block_%02d/attn' % b][:]).max() < 1e-6 for b in (0, 3, a.shape[0] - 1))
ok = ok and a.attrs['layout'].startswith('[layer, head, L, L]')
raise SystemExit(0 if ok else 1)"
$MXB explain --weights $W/vim_d64.h5 --tensor $FX/vim_d64.golden.h5:input_0 --method rollout \
    --variant exact --out $T/v.h5 --save-attention >/dev/null
check "--save-attention stores ViM channel-mean matrices per direction" $PY -c "
import h5py, numpy as np
a = h5py.File('$T/v.h5'); f = a['attention'][5, 0]; b = a['attention'][5, 1]
ok = a['attention'].shape[1:] == (2, 197, 197) and a['attention'].attrs['layout'].startswith('[layer, direction')
ok = ok and np.allclose(np.triu(f, 1), 0) and np.allclose(np.tril(b, -1), 0)
ok = ok and a.attrs['variant'] == 'exact'
raise SystemExit(0 if ok else 1)"
$MXB explain --weights $W/vim_d64.h5 --tensor $FX/vim_d64.golden.h5:input_0 --method attribution --class 7 --out $T/c.h5 >/dev/null
check "--class explains the given class" $PY -c "
import h5py; a = h5py.File('$T/c.h5'); raise SystemExit(0 if int(a['class'][()]) == 7 and a.attrs['class_choice'] == 'given' else 1)"
check "a plugin's method runs from the command line" bash -c \
  "$MXB --plugin $MXB_PLUGIN_DIR/libgradcam.so explain --weights $W/deit_d64.h5 --tensor $FX/deit_d64.golden.h5:input_0 --method gradcam >/dev/null"
check "mxb methods lists a plugin's method" bash -c "$MXB --plugin $MXB_PLUGIN_DIR/libgradcam.so methods | grep -q '^gradcam'"

# bad input: exit 2, one line naming the thing; no output file left behind
E="--weights $W/deit_d64.h5 --tensor $FX/deit_d64.golden.h5:input_0"
expect_fail 2 "unknown method 'nope'" $MXB explain $E --method nope
expect_fail 2 "mxb explain: --variant: 'exactly' is not one of official,exact,uia,uia-noconv,uia-nogate,uia-noact (see mxb explain --help)" $MXB explain $E --method rollout --variant exactly
expect_fail 2 "mxb explain: --variant: applies to ViM models only; $W/deit_d64.h5 is a vit model (see mxb explain --help)" $MXB explain $E --method rollout --variant exact
expect_fail 2 "class 5000 is outside 0..999" $MXB explain $E --method attribution --class 5000 --out $T/x.h5
check "no output file after a failed explain" [ ! -e $T/x.h5 ]
expect_fail 2 "mxb explain: --class: 'seven' is not a non-negative integer (see mxb explain --help)" $MXB explain $E --method rollout --class seven
expect_fail 2 "no dataset 'input_9'" $MXB explain --weights $W/deit_d64.h5 --tensor $FX/deit_d64.golden.h5:input_9 --method rollout
expect_fail 2 "has the wrong shape for this model" $MXB explain --weights $W/deit_d64.h5 --tensor $FX/deit_d64.golden.h5:logits_0 --method rollout
expect_fail 2 "missing key 'blocks.2.mlp.fc1.bias'" $MXB explain --weights $W/bad_missing.h5 --tensor $FX/deit_d64.golden.h5:input_0 --method rollout
expect_fail 2 "not a readable HDF5 file" $MXB predict --weights $W/bad_truncated.h5 --tensor $FX/deit_d64.golden.h5:input_0
expect_fail 2 "cannot open file" $MXB predict --weights $W/deit_d64.h5 --tensor $T/none.h5
expect_fail 2 "built for method ABI 3; this mxb loads ABI 1 and 2" $MXB --plugin $MXB_PLUGIN_DIR/libbad_abi.so methods
expect_fail 2 "unknown command 'explian'" $MXB explian
expect_fail 2 "--save-attention needs --out" $MXB explain $E --method rollout --save-attention

# overlay options (the demo ViT, a synthetic image): alpha 0 is the image as the model saw
# it, alpha 1 the colour map of map_upsampled, the default show_cam_on_image; scale and bar
$MXB synth $T/syn --n 1 --seed 2 --size 64 --quiet >/dev/null
IMG=$T/syn/images/synth_000000.png; DV="--weights $MXB_SOURCE_DIR/models/demo_vit.h5"
$MXB predict $DV --image $IMG --out $T/ov_in.h5 >/dev/null 2>>$MXB_ERR
$MXB explain $DV --image $IMG --method attribution --out $T/ov.h5 --png $T/ov_def.png >/dev/null 2>>$MXB_ERR
$MXB explain $DV --image $IMG --method attribution --png $T/ov_a0.png --alpha 0 >/dev/null 2>>$MXB_ERR
$MXB explain $DV --image $IMG --method attribution --png $T/ov_a1.png --alpha 1 >/dev/null 2>>$MXB_ERR
$MXB explain $DV --image $IMG --method attribution --png $T/ov_v1.png --alpha 1 --colormap viridis >/dev/null 2>>$MXB_ERR
$MXB explain $DV --image $IMG --method attribution --png $T/ov_s3.png --alpha 0.4 --scale 3 --colorbar >/dev/null 2>>$MXB_ERR
$MXB explain $DV --image $IMG --method attribution --png $T/ov_s1.png --alpha 0.4 >/dev/null 2>>$MXB_ERR
check "--png --alpha/--colormap/--scale/--colorbar: pixels as numpy computes them" $PY - "$T" <<'PYEOF'
import sys, h5py, numpy as np
from PIL import Image
T = sys.argv[1]
rd = lambda n: np.asarray(Image.open("%s/%s.png" % (T, n)).convert("RGB")).astype(int)
x = h5py.File(T + "/ov_in.h5")["input"][:]; up = h5py.File(T + "/ov.h5")["map_upsampled"][:]
mean = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]; std = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]
img = np.clip(x * std + mean, 0, 1).transpose(1, 2, 0).astype(np.float64)
v = np.clip(up, 0, 1).astype(np.float32)
jet = np.stack([np.clip(np.float32(1.5) - np.abs(4 * v - c), 0, 1) for c in (3, 2, 1)], -1).astype(np.float64)
stops = np.array([[0.267, 0.005, 0.329], [0.283, 0.141, 0.458], [0.254, 0.265, 0.530], [0.207, 0.372, 0.553],
                  [0.164, 0.471, 0.558], [0.128, 0.567, 0.551], [0.135, 0.659, 0.518], [0.267, 0.749, 0.441],
                  [0.993, 0.906, 0.144]])
vir = np.stack([np.interp(up.astype(np.float64), np.linspace(0, 1, 9), stops[:, k]) for k in range(3)], -1)
byte = lambda a: np.rint(255 * a).astype(int)
mix = jet + img
checks = {
    "default (jet + image) / max": np.abs(rd("ov_def") - byte(mix / mix.max())).max() <= 1,
    "alpha 0 = the image": np.abs(rd("ov_a0") - byte(img)).max() <= 1,
    "alpha 1 = jet(map)": np.abs(rd("ov_a1") - byte(jet)).max() <= 1,
    "alpha 1 viridis = viridis(map)": np.abs(rd("ov_v1") - byte(vir)).max() <= 1,
    "alpha 0.4 = the blend": np.abs(rd("ov_s1") - byte(0.6 * img + 0.4 * jet)).max() <= 1,
}
s3, s1 = rd("ov_s3"), rd("ov_s1")
W = 64 * 3; gap, bar = max(W // 64, 2), max(W // 16, 4)
checks["scale 3: size and blocks"] = s3.shape == (192, W + gap + bar, 3) and np.array_equal(
    s3[:, :W], np.repeat(np.repeat(s1, 3, 0), 3, 1))
checks["colour bar: white gap, jet(1) at the top, jet(0) at the bottom"] = (
    (s3[:, W:W + gap] == 255).all() and (s3[0, W + gap:] == [128, 0, 0]).all() and (s3[-1, W + gap:] == [0, 0, 128]).all())
bad = [k for k, ok in checks.items() if not ok]
print("   " + (", ".join(bad) if bad else "all %d" % len(checks)))
raise SystemExit(1 if bad else 0)
PYEOF
expect_fail 2 "mxb explain: --alpha shapes the overlay; it needs --png (see mxb explain --help)" $MXB explain $DV --image $IMG --method rollout --alpha 0.5
expect_fail 2 "mxb explain: --scale: '17' is out of range [1, 16] (see mxb explain --help)" $MXB explain $DV --image $IMG --method rollout --png $T/x.png --scale 17

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
