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

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
