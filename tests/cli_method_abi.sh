#!/usr/bin/env bash
# Method ABI v2 end to end (docs/METHODS-v2.md §1): v1 plugins keep loading and give
# the v2 build's maps, ABI 0 / >= 3 refused, method parameters checked and recorded.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON
FX=$MXB_FIXTURES; W=$MXB_TESTDATA/engine; T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$MXB_SOURCE_DIR/tests/lib_cli.sh"
P=$MXB_PLUGIN_DIR

# a plugin built against the frozen ABI 1 header loads, is listed as ABI 1, and its
# maps equal the v2 build's bit for bit (both models)
check "a v1 plugin is listed with ABI 1" bash -c "$MXB --plugin $P/libv1_gradcam.so methods | grep -Eq '^gradcam-v1 +vit,vim +[a-z]+ +1 '"
check "the v2 gradcam is listed with ABI 2" bash -c "$MXB --plugin $P/libgradcam.so methods | grep -Eq '^gradcam +vit,vim +[a-z]+ +2 '"
for model in deit_d64 vim_d64; do
  E="--weights $W/$model.h5 --tensor $FX/$model.golden.h5:input_0"
  $MXB --plugin $P/libv1_gradcam.so explain $E --method gradcam-v1 --out $T/v1.h5 >/dev/null || bad "$model: the v1 plugin ran"
  $MXB --plugin $P/libgradcam.so explain $E --method gradcam --out $T/v2.h5 >/dev/null || bad "$model: the v2 plugin ran"
  check "$model: the v1 plugin's map equals the v2 build's" $PY -c "
import h5py, numpy as np
a = h5py.File('$T/v1.h5')['map'][:]; b = h5py.File('$T/v2.h5')['map'][:]
raise SystemExit(0 if np.array_equal(a, b) and np.abs(a).max() > 0 else 1)"
done

E="--weights $W/deit_d64.h5 --tensor $FX/deit_d64.golden.h5:input_0"
expect_fail 2 "built for method ABI 3; this mxb loads ABI 1 and 2 (rebuild against methods/method.h; docs/METHODS-v2.md says what changed)" \
  $MXB --plugin $P/libbad_abi.so methods
expect_fail 2 "method 'rollout' has no parameter 'steps' (it takes none)" $MXB explain $E --method rollout --param steps=3

# params in a run configuration: [method:NAME] KEY = VALUE, checked against the
# method's specs when the run loads it; the resolved values land in provenance
$MXB synth $T/data --n 2 --seed 3 --size 64 >/dev/null || bad "synth ran"
cfg() { # $1: the method section's lines
  cat > $T/run.ini <<INI
[run]
output = $T/run.h5
[model:vit]
weights = $MXB_SOURCE_DIR/models/demo_vit.h5
$1
[perturbation]
data = $T/data/images
labels = $T/data/labels.txt
tests = positive
INI
}
cfg $'[method:ig]\nsteps = 0'
expect_fail 2 "$T/run.ini: [method:ig]: method 'ig' parameter 'steps': '0' is not an integer in [1, 100000]" $MXB run $T/run.ini
cfg $'[method:rollout]\nfoo = 1'
expect_fail 2 "$T/run.ini: [method:rollout]: method 'rollout' has no parameter 'foo' (it takes none)" $MXB run $T/run.ini
cfg $'[method:ig]\nsteps = 4\nrule = riemann_right'
check "a run with ig's params from the config" bash -c "$MXB run $T/run.ini >/dev/null 2>>$MXB_ERR"
check "provenance holds the resolved params" $PY -c "
import h5py; a = h5py.File('$T/run.h5')
raise SystemExit(0 if a.attrs['method_params_ig'] == 'steps=4 rule=riemann_right' else 1)"

# the cost: params that do not fit are refused before any image; --estimate prints it
cfg $'[method:ig]\nsteps = 1\nrule = riemann_left'
expect_fail 2 "$T/run.ini: [method:ig]: its parameters do not fit model vit" $MXB run $T/run.ini
cfg $'[method:occlusion]\nwindow = 8\nstride = 8'
rm -f $T/run.h5 $T/run.h5.journal
$MXB run $T/run.ini --estimate >$T/est.txt 2>$T/est.err || bad "--estimate ran: $(head -c 300 $T/est.err)"
check "--estimate prints a v2 method's cost" grep -q 'method occlusion .* vit: 1 traced forwards, 0 backwards, 64 plain forwards' $T/est.txt

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
