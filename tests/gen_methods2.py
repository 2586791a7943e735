"""test_methods2's independent values: the engine's gradients to the input and the
tokens by PyTorch autograd on tools/reference.py's models (the fixture checkpoints,
converted as test_engine's), and numpy's Gauss-Legendre nodes."""
import os, runpy, sys
import h5py, numpy as np, torch

here = os.path.dirname(os.path.abspath(__file__))
out = sys.argv[1]
sys.argv = [sys.argv[0], out]
runpy.run_path(os.path.join(here, "gen_engine.py"), run_name="__main__")
sys.path.insert(0, os.path.join(here, "..", "tools"))
import reference as ref  # noqa: E402

fx = os.environ.get("MXB_FIXTURES", os.path.join(here, "fixtures"))
torch.manual_seed(0)
with h5py.File(os.path.join(out, "grads.h5"), "w") as f:
    for model in ("deit_d64", "vim_d64"):
        m = ref.load_model(os.path.join(out, model + ".h5"))
        for k in (0, 1):
            x = ref.read_tensor(os.path.join(fx, "%s.golden.h5:input_%d" % (model, k))).requires_grad_(True)
            fwd = ref.vit_forward if m.arch == "vit" else ref.vim_forward
            logits, trace = fwd(m, x)
            tokens = trace["blocks"][0]["x_in"] if m.arch == "vit" else trace["streams"][0]
            # a one-hot of the prediction, and a dense weight vector (backward of any w·logits)
            w1 = torch.zeros_like(logits[0]); w1[int(logits[0].argmax())] = 1
            w2 = torch.randn(logits.shape[1])
            for name, w in (("onehot", w1), ("dense", w2)):
                gx, gt = torch.autograd.grad((logits[0] * w).sum(), [x, tokens], retain_graph=True)
                g = "%s_%d_%s" % (model, k, name)
                f[g + "_w"] = w.numpy().astype(np.float32)
                f[g + "_input_grad"] = gx[0].numpy()
                f[g + "_token_grad"] = gt[0].detach().numpy()
    for n in range(1, 65):
        xs, ws = np.polynomial.legendre.leggauss(n)
        # doubles as float32 pairs (hi + lo, ~1e-15): the test reads float32 datasets
        for name, v in (("x", xs), ("w", ws)):
            hi = v.astype(np.float32)
            f["leggauss_%d_%s_hi" % (n, name)] = hi
            f["leggauss_%d_%s_lo" % (n, name)] = (v - hi.astype(np.float64)).astype(np.float32)

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
