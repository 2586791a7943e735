"""test_agnostic's independent values: the engine's gradients to the input and the
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

print("wrote", out)
