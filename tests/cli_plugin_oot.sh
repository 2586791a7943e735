#!/usr/bin/env bash
# The out-of-tree plugin (docs/METHODS-v2.md §4.5): an Integrated Gradients built
# against methods/method.h ALONE, with one cc line outside the CMake tree, loaded with
# --plugin and checked against the Captum goldens on both demo models.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON; SRC=$MXB_SOURCE_DIR
FX=$MXB_FIXTURES; T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$SRC/tests/lib_cli.sh"

cp "$SRC/methods/method.h" "$SRC/tests/plugins/oot/oot_ig.c" $T/
check "the plugin builds against method.h alone" \
  cc -std=c11 -O2 -Wall -Wextra -Werror -shared -fPIC -I$T $T/oot_ig.c -o $T/liboot_ig.so -lm
for model in vit vim; do
  for rule in riemann_right gausslegendre; do
    $MXB --plugin $T/liboot_ig.so explain --weights $SRC/models/demo_$model.h5 \
        --tensor $FX/methods2_demo_$model.golden.h5:input_0 --method oot-ig --param steps=16 --param rule=$rule \
        --out $T/o.h5 >/dev/null || { bad "demo_$model $rule: the plugin ran"; continue; }
    check "demo_$model oot-ig $rule 16 matches Captum within 1e-4 after min-max" $PY - <<PYEOF
import h5py, numpy as np
a = h5py.File("$T/o.h5"); g = h5py.File("$FX/methods2_demo_$model.golden.h5")
mm = lambda x: (x - x.min()) / (x.max() - x.min())
d = np.abs(mm(a["map_pixels"][:]) - mm(g["map_ig_${rule}_n16_0"][:])).max()
print("   max diff %.2g after min-max" % d)
ok = d <= 1e-4 and a.attrs["method_params"] == "steps=16 rule=$rule"
raise SystemExit(0 if ok else 1)
PYEOF
  done
done

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
