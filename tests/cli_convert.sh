#!/usr/bin/env bash
# tools/convert_checkpoint.py across checkpoint envelopes and torch versions: every
# envelope the released files use (hustvl's training checkpoint with a pickled argparse
# `args` and `model_ema`, {'model_ema'}, {'state_dict'}, the bare state_dict) converts
# to the same weights as {'model': sd}, for both families; under a simulated torch
# >= 2.6 (torch.load's weights_only=True by default, which is what made the old
# fallback refuse hustvl's files under torch 2.11) too; a corrupt file is refused, not
# retried with a full unpickling.
set -uo pipefail
PY=$MXB_PYTHON; TOOLS=$MXB_SOURCE_DIR/tools; T=$(mktemp -d); trap 'rm -rf $T' EXIT
CONV="$PY $TOOLS/convert_checkpoint.py"; RAND="$PY $TOOLS/make_random_checkpoint.py"
. "$MXB_SOURCE_DIR/tests/lib_cli.sh"
# torch.load as torch >= 2.6 has it: weights_only defaults to True (the rest unchanged)
cat >$T/torch26.py <<'PYEOF'
import runpy, sys, torch
_load = torch.load
def load(f, *a, weights_only=True, **k):
    return _load(f, *a, weights_only=weights_only, **k)
torch.load = load
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
PYEOF
same() {  # same A B: every dataset and attribute equal, the source file's own ones aside
  $PY - "$@" <<'PYEOF'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
ka, kb = sorted(a), sorted(b)
ok = ka == kb and all(np.array_equal(a[k][()], b[k][()]) for k in ka)
skip = {"source", "source_sha256"}
ok = ok and {k: str(v) for k, v in a.attrs.items() if k not in skip} == \
            {k: str(v) for k, v in b.attrs.items() if k not in skip}
print("   %d datasets, %s" % (len(ka), "equal" if ok else "DIFFER"))
raise SystemExit(0 if ok and len(ka) > 10 else 1)
PYEOF
}
VIT="--arch vit --embed-dim 32 --heads 2 --depth 3 --img-size 32 --patch 8 --classes 10 --seed 4"
VIM="--arch vim --embed-dim 32 --depth 4 --img-size 32 --patch 8 --classes 10 --d-state 8 --seed 5"
for fam in vit vim; do
  args=$VIT; [ $fam = vim ] && args=$VIM
  for env in model train ema state_dict raw; do
    $RAND $args --envelope $env $T/${fam}_$env.pth >/dev/null || bad "make_random $fam $env"
  done
  check "$fam train envelope: pickled argparse args and a different model_ema" $PY -c "
import argparse, torch
v = torch.load('$T/${fam}_train.pth', weights_only=False)
raise SystemExit(0 if isinstance(v['args'], argparse.Namespace) and
                 not torch.equal(v['model']['head.weight'], v['model_ema']['head.weight']) else 1)"
  $CONV $T/${fam}_model.pth $T/${fam}_model.h5 --name m --num-heads 2 >/dev/null
  for env in train ema state_dict raw; do
    $CONV $T/${fam}_$env.pth $T/${fam}_$env.h5 --name m --num-heads 2 >/dev/null
    check "$fam $env envelope converts to the {'model'} weights" same $T/${fam}_$env.h5 $T/${fam}_model.h5
    $PY $T/torch26.py $TOOLS/convert_checkpoint.py $T/${fam}_$env.pth $T/${fam}_${env}_26.h5 --name m \
      --num-heads 2 >/dev/null 2>$T/err
    check "$fam $env envelope under torch>=2.6 load semantics: $(head -c 120 $T/err)" \
      same $T/${fam}_${env}_26.h5 $T/${fam}_$env.h5
  done
done
# a train envelope's model_ema holds the weights of seed + 1: the converter reads 'model'
$RAND $VIM --seed 6 --envelope model $T/vim6.pth >/dev/null
$CONV $T/vim6.pth $T/vim6.h5 --name m >/dev/null
check "train envelope reads 'model', not 'model_ema'" bash -c "! $PY -c \"
import h5py, numpy as np, sys
a = h5py.File('$T/vim_train.h5'); b = h5py.File('$T/vim6.h5')
sys.exit(0 if np.array_equal(a['head.weight'][()], b['head.weight'][()]) else 1)\""
# a corrupt zip is reported as such (RuntimeError), under both load semantics
head -c 3000 $T/vim_train.pth >$T/cut.pth
expect_fail 2 "cut.pth: not a readable PyTorch checkpoint" $CONV $T/cut.pth $T/cut.h5
expect_fail 2 "cut.pth: not a readable PyTorch checkpoint" $PY $T/torch26.py $TOOLS/convert_checkpoint.py $T/cut.pth $T/cut.h5
check "no output for a refused checkpoint" test ! -e $T/cut.h5
# a Python without torch / h5py (here: -S, no site packages) gets one line naming the
# interpreter and the Debian packages (tools/_needs.py), not a traceback; a Python other
# than Debian's (a pyenv or venv shim named python3: here a link) is told to use Debian's
ln -s "$(command -v $PY)" $T/python3
expect_fail 2 "convert_checkpoint.py: $T/python3 has no torch, h5py (apt-get install python3-torch python3-h5py; or run it with /usr/bin/python3, Debian's Python; tools/README.md)" \
  $T/python3 -S $TOOLS/convert_checkpoint.py $T/cut.pth $T/cut.h5
[ "$(command -v $PY)" = /usr/bin/python3 ] &&
expect_fail 2 "make_random_checkpoint.py: /usr/bin/python3 has no torch (apt-get install python3-torch; tools/README.md)" \
  /usr/bin/python3 -S $TOOLS/make_random_checkpoint.py --preset vim-t $T/r.pth
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
