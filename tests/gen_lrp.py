"""Weights for test_lrp: the full-geometry checkpoints the methods2 goldens were made
on (tests/fixtures/README.md), regenerated from their seeds with
tools/make_random_checkpoint.py (--preset deit-s --seed 11, vim-s --seed 12) and
converted with tools/convert_checkpoint.py. The golden values themselves come from
the original repositories' code (tests/fixtures/methods2_*.golden.h5); this script
only rebuilds the models and refuses weights whose content SHA-256 (sorted keys,
shapes, float32 bytes of ['model'], as make_methods_goldens.content_sha) is not the
one the golden file records.

    gen_lrp.py OUTDIR      writes OUTDIR/{deit_s,vim_s}.h5
"""
import hashlib
import os
import sys

import h5py
import torch

here = os.path.dirname(os.path.abspath(__file__))
tools = os.path.join(os.path.dirname(here), "tools")
sys.path.insert(0, tools)
import convert_checkpoint  # noqa: E402
import make_random_checkpoint  # noqa: E402

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
fixtures = os.path.join(here, "fixtures")


def content_sha(sd):
    h = hashlib.sha256()
    for k in sorted(sd):
        t = sd[k].detach().contiguous().cpu()
        h.update(k.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


for name, preset, seed in (("deit_s", "deit-s", 11), ("vim_s", "vim-s", 12)):
    with h5py.File(os.path.join(fixtures, "methods2_%s.golden.h5" % name), "r") as f:
        want = str(f.attrs["weights_content_sha256"])
    weights = os.path.join(out, name + ".h5")
    stamp = weights + ".sha256"
    if os.path.exists(weights) and os.path.exists(stamp) and open(stamp).read() == want:
        print("%s: up to date" % weights)
        continue
    pth = os.path.join(out, name + ".pth")
    make_random_checkpoint.main(["--preset", preset, "--seed", str(seed), pth])
    got = content_sha(torch.load(pth, map_location="cpu")["model"])
    if got != want:
        sys.exit("%s: regenerated weights' content SHA-256 %s is not the golden's %s" % (name, got, want))
    convert_checkpoint.main([pth, weights])
    os.remove(pth)
    open(stamp, "w").write(want)
    print("%s: written (content SHA-256 %s)" % (weights, want))
