"""test_model_calls's independent values: the rest of the method ABI v2 calls
(layer_grad, vim_s6, vit_qkv) by PyTorch on tools/reference.py's models (the fixture
checkpoints, converted as test_engine's). The S6 internals are captured by a copy of
reference.py's s6_branch that keeps every intermediate (the forward hooks of a
functional model), the per-layer gradients by autograd at each block's input (ViT) and
at the stream entering the next norm (ViM: Block.get_gradients)."""
import os, runpy, sys
import h5py, numpy as np, torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
out = sys.argv[1]
sys.argv = [sys.argv[0], out]
runpy.run_path(os.path.join(here, "gen_engine.py"), run_name="__main__")
sys.path.insert(0, os.path.join(here, "..", "tools"))
import reference as ref  # noqa: E402

fx = os.environ.get("MXB_FIXTURES", os.path.join(here, "fixtures"))
captured = {}


def s6_capture(m, xz, p, sfx):
    """reference.s6_branch, keeping every intermediate of the direction"""
    cfg, W = m.cfg, m.W
    D, N, R, K = cfg["d_inner"], cfg["d_state"], cfg["dt_rank"], cfg["d_conv"]
    L = xz.shape[-1]
    x, z = xz.chunk(2, dim=1)
    cw, cb = W[p + "conv1d%s.weight" % sfx], W[p + "conv1d%s.bias" % sfx]
    conv = F.conv1d(x, cw, cb, padding=K - 1, groups=D)[..., :L]
    u = F.silu(conv)
    x_dbl = F.linear(u.transpose(1, 2), W[p + "x_proj%s.weight" % sfx])
    dt = F.linear(x_dbl[..., :R], W[p + "dt_proj%s.weight" % sfx]).transpose(1, 2)
    Bm, Cm = x_dbl[..., R:R + N], x_dbl[..., R + N:]
    delta = F.softplus(dt + W[p + "dt_proj%s.bias" % sfx][:, None])
    A = -torch.exp(W[p + ("A_log" if not sfx else "A_b_log")])
    Dk = W[p + ("D" if not sfx else "D_b")]
    y = ref.selective_scan(delta[..., None] * A[:, None, :], delta[..., None] * Bm[:, None] * u[..., None], Cm)
    captured[(p, sfx)] = dict(x_pre=x, u=conv, x=u, delta=delta, B=Bm, C=Cm, A=A, z=z, conv_w=cw[:, 0, :],
                              conv_b=cb, D=Dk, y=y)
    return (y + u * Dk[:, None]) * F.silu(z), None


ref.s6_branch = s6_capture
torch.manual_seed(1)
with h5py.File(os.path.join(out, "calls.h5"), "w") as f:
    for model in ("deit_d64", "vim_d64"):
        m = ref.load_model(os.path.join(out, model + ".h5"))
        x = ref.read_tensor(os.path.join(fx, "%s.golden.h5:input_0" % model)).requires_grad_(True)
        captured.clear()
        fwd = ref.vit_forward if m.arch == "vit" else ref.vim_forward
        logits, trace = fwd(m, x)
        depth = m.cfg["depth"]
        if m.arch == "vit":
            layers = [t["x_in"] for t in trace["blocks"]]
        else:
            layers = [trace["streams"][i + 1] for i in range(depth)]
        w1 = torch.zeros_like(logits[0]); w1[int(logits[0].argmax())] = 1
        w2 = torch.randn(logits.shape[1])
        for name, w in (("onehot", w1), ("dense", w2)):
            f["%s_%s_w" % (model, name)] = w.numpy().astype(np.float32)
            grads = torch.autograd.grad((logits[0] * w).sum(), layers, retain_graph=True)
            f["%s_%s_layer_grad" % (model, name)] = torch.stack([g_[0] for g_ in grads]).detach().numpy()
        if m.arch == "vit":
            for i, t in enumerate(trace["blocks"]):
                for nm in ("q", "k", "v"):  # [H, L, hd]
                    f["%s_block%d_%s" % (model, i, nm)] = t[nm][0].detach().numpy()
        else:
            # dy: the gradient at every y of the one-hot's logit (autograd.grad, not
            # retain_grad: its hooks also fire inside the autograd.grad calls above)
            keys = [("layers.%d.mixer." % i, sfx) for i in range(depth) for sfx in ("", "_b")]
            dys = torch.autograd.grad((logits[0] * w1).sum(), [captured[k]["y"] for k in keys])
            for k, dy in zip(keys, dys):
                captured[k]["dy"] = dy
            for i in range(depth):
                for d, sfx in enumerate(("", "_b")):
                    c = captured[("layers.%d.mixer." % i, sfx)]
                    g = "%s_layer%d_dir%d_" % (model, i, d)
                    tok = lambda t: t[0].transpose(0, 1).detach().numpy()  # [D, L] -> [L, D]  # noqa: E731
                    for nm in ("x_pre", "u", "x", "delta", "z", "y"):
                        f[g + nm] = tok(c[nm])
                    f[g + "dy"] = tok(c["dy"])
                    for nm in ("B", "C"):
                        f[g + nm] = c[nm][0].detach().numpy()
                    for nm in ("A", "conv_w", "conv_b", "D"):
                        f[g + nm] = c[nm].detach().numpy()
print("wrote", out)
