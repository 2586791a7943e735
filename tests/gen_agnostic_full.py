"""test_agnostic_full's weights: the full-geometry goldens' checkpoints regenerated
from their seeds (tools/make_random_checkpoint.py), their content SHA-256 checked
against the golden's attribute (as tests/cli_goldens.sh does), converted for mxb."""
import os, sys
import h5py, torch

here = os.path.dirname(os.path.abspath(__file__))
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
sys.path.insert(0, os.path.join(here, "..", "tools"))
fx = os.environ.get("MXB_FIXTURES", os.path.join(here, "fixtures"))

# The full-geometry goldens' weights (tests/fixtures/methods2_{deit_s,vim_s}.golden.h5):
# regenerated from their seeds, their content SHA-256 checked against the golden's
# attribute (as tests/cli_goldens.sh does), then converted for mxb.
import hashlib  # noqa: E402
import convert_checkpoint  # noqa: E402
import make_random_checkpoint  # noqa: E402


def content_sha(sd):
    h = hashlib.sha256()
    for k in sorted(sd):
        t = sd[k].detach().contiguous().cpu()
        h.update(k.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
for name, preset, seed in (("deit_s", "deit-s", 11), ("vim_s", "vim-s", 12)):
    pth = os.path.join(out, name + ".pth")
    make_random_checkpoint.main(["--preset", preset, "--seed", str(seed), pth])
    with h5py.File(os.path.join(fx, "methods2_%s.golden.h5" % name), "r") as g:
        want = g.attrs["weights_content_sha256"]
    got = content_sha(torch.load(pth, map_location="cpu")["model"])
    if got != want:
        raise SystemExit("%s: regenerated weights' content SHA-256 %s is not the golden's %s" % (name, got, want))
    convert_checkpoint.main([pth, os.path.join(out, name + ".h5")])
    os.remove(pth)
print("wrote", out)
