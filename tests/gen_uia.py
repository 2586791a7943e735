"""Weights for tests/test_uia.c: the full-geometry ViM-S checkpoint the UIA golden
(tests/fixtures/methods2_vim_s.golden.h5) was made from, regenerated here by
tools/make_random_checkpoint.py --preset vim-s --seed 12 (as tests/cli_goldens.sh
does) and converted by tools/convert_checkpoint.py. Its content SHA-256 (sorted keys,
shapes, float32 bytes) must equal the fixture's weights_content_sha256, or the
comparison would test nothing: a mismatch fails here. The demo golden needs only
models/demo_vim.h5 (in the repository)."""
import os
import sys

import h5py
import torch

here = os.path.dirname(os.path.abspath(__file__))
tools = os.path.join(os.path.dirname(here), "tools")
sys.path.insert(0, tools)
sys.path.insert(0, os.path.join(tools, "goldens"))
import convert_checkpoint  # noqa: E402
import make_random_checkpoint  # noqa: E402
from make_methods_goldens import content_sha  # noqa: E402

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
fixture = os.path.join(here, "fixtures", "methods2_vim_s.golden.h5")
with h5py.File(fixture, "r") as f:
    want = f.attrs["weights_content_sha256"]
    want = want.decode() if isinstance(want, bytes) else str(want)
weights, stamp = os.path.join(out, "vim_s.h5"), os.path.join(out, "vim_s.sha256")
if os.path.exists(weights) and os.path.exists(stamp) and open(stamp).read() == want:
    print("%s: up to date" % weights)
    raise SystemExit(0)
pth = os.path.join(out, "vim_s.pth")
make_random_checkpoint.main(["--preset", "vim-s", "--seed", "12", pth])
got = content_sha(torch.load(pth, map_location="cpu")["model"])
if got != want:
    os.remove(pth)
    sys.exit("gen_uia: regenerated ViM-S weights differ from the golden's (content sha256 %s, fixture %s)"
             % (got, want))
convert_checkpoint.main([pth, weights])
os.remove(pth)
with open(stamp, "w") as f:
    f.write(want)
print("%s: ViM-S seed 12, content sha256 %s (= the golden's)" % (weights, got))
