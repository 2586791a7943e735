"""PyTorch twins of `mxb bench`'s "explain <method>" rows (issue 16 §6; imported by
tools/bench_torch.py). Each twin is the method as its original code computes it, in
plain PyTorch on tools/reference.py's models: the original repositories (Captum,
eclique/RISE, FarnoushRJ/MambaLRP, hila-chefer/Transformer-Explainability,
Itamarzimm/UnifiedImplicitAttnRepr) are not installed here and are not imported, so
this is our own code of their maths and batching (docs/METHODS-v2.md §3):

  ixg, ig, smoothgrad, occlusion  Captum's algorithms: the prediction forward first (the
        caller's, for the target), then InputXGradient / IntegratedGradients
        (gausslegendre, every step in one batch: internal_batch_size None) /
        NoiseTunnel(Saliency) (every sample in one batch) / Occlusion
        (perturbations_per_eval 1: one forward per window, after Captum's initial eval).
        On ViM the gradient methods run one image at a time (internal_batch_size 1):
        the reference's Python scan keeps every step for autograd, and a batch of 8 at
        ViM-S would hold ~10 GB.
  rise  eclique/RISE's explain(): the masks made once (generate_masks, outside the
        timing), the masked images through the softmax-wrapped model in batches of 100
        (gpu_batch; 16 on ViM for memory), and the saliency of every class at once
        (p^T @ masks), as the original does.
  mambalrp, mambalrp-vision  FarnoushRJ/MambaLRP: the detach rules in the forward
        (A-bar, B-bar, C detached, half rule on the gate; the paper's set adds the SiLU
        identity and the RMSNorm denominator detached), one backward, gradient x input
        at the embedded tokens; after the prediction forward.
  lrp-partial, lrp-full  Chefer's generate_LRP with the layers_lrp rules
        (ViT_orig_LRP): forward, the one-hot backward it runs, relprop (partial: the
        last block's attention; full: every block, the pos_embed add, z^B at the patch
        conv, per pixel).
  uia  UnifiedImplicitAttnRepr's generate_ours: forward, backward, per layer from 15/24
        UIA's CLS row (diag(SiLU(z)) alpha diag(sigma(u)) M_conv, vectorised, not the
        original's Python loops over positions), times the residual gradient, rollout.

Labels and reduced counts are those of harness/cmd_bench.c's method_rows.
"""
import numpy as np
import torch
import torch.nn.functional as F

import reference as ref

# label -> (mxb's method name, the twin, its params) as harness/cmd_bench.c's method_rows
# (plus the older "explain uia" row, which always runs)
ROWS = (
    ("explain uia", "uia", "uia", {}),
    ("explain mambalrp", "mambalrp", "mambalrp", {"paper": True}),
    ("explain mambalrp-vision", "mambalrp-vision", "mambalrp", {"paper": False}),
    ("explain lrp-partial", "lrp-partial", "lrp", {"full": False}),
    ("explain lrp-full", "lrp-full", "lrp", {"full": True}),
    ("explain ixg", "ixg", "ixg", {}),
    ("explain ig (steps=8)", "ig", "ig", {"steps": 8}),
    ("explain smoothgrad (samples=5)", "smoothgrad", "smoothgrad", {"samples": 5, "sigma": 1.0}),
    ("explain occlusion (window=32 stride=32)", "occlusion", "occlusion", {"window": 32, "stride": 32}),
    ("explain rise (masks=64)", "rise", "rise", {"masks": 64, "cells": 8, "p1": 0.1}),
)
ARCHS = {"uia": "vim", "mambalrp": "vim", "lrp": "vit"}  # the rest: both
# the warm-up call's params, as cmd_bench.c's: the fewest passes (S: the image's side)
WARM = {"ig": lambda S: {"steps": 1}, "smoothgrad": lambda S: {"samples": 1, "sigma": 1.0},
        "occlusion": lambda S: {"window": S, "stride": S}}


def forward(m, img):
    return (ref.vit_forward if m.arch == "vit" else ref.vim_forward)(m, img)


def predict(m, x):
    """The caller's prediction forward, for the target (argmax, first of ties)."""
    with torch.no_grad():
        return int(forward(m, x)[0][0].argmax())


def batched_grad(m, xs, k, batch):
    """Σ-of-target gradients of a stack of inputs, `batch` at a time (Captum's
    internal batching; None: all at once)."""
    grads = []
    for i in range(0, xs.shape[0], batch or xs.shape[0]):
        xi = xs[i:i + (batch or xs.shape[0])].clone().requires_grad_(True)
        grads.append(torch.autograd.grad(forward(m, xi)[0][:, k].sum(), xi)[0])
    return torch.cat(grads)


# ---------------------------------------------------------------- Captum
def ixg(m, x):
    k = predict(m, x)
    return (x * batched_grad(m, x, k, None)).sum(1)


def ig(m, x, steps):
    k = predict(m, x)
    nodes, weights = np.polynomial.legendre.leggauss(steps)  # Captum's gausslegendre
    alphas, step_sizes = 0.5 * (1 + nodes), 0.5 * weights
    scaled = torch.cat([float(a) * x for a in alphas])  # baseline 0
    g = batched_grad(m, scaled, k, None if m.arch == "vit" else 1)
    total = (g * torch.tensor(step_sizes, dtype=g.dtype).view(-1, 1, 1, 1)).sum(0, keepdim=True)
    return (total * x).sum(1)


def smoothgrad(m, x, samples, sigma):
    k = predict(m, x)
    noisy = x.repeat(samples, 1, 1, 1)
    noisy = noisy + torch.randn_like(noisy) * sigma
    g = batched_grad(m, noisy, k, None if m.arch == "vit" else 1).abs()  # Saliency: abs=True
    return g.mean(0, keepdim=True).sum(1)


def occlusion(m, x, window, stride):
    k = predict(m, x)
    S = x.shape[-1]
    n = -(-(S - window) // stride) + 1  # ceil: a last window may hang over the edge
    with torch.no_grad():
        f0 = forward(m, x)[0][0, k]  # Captum's initial eval
        acc, cnt = torch.zeros(S, S), torch.zeros(S, S)
        for i in range(n * n):
            y0, x0 = i // n * stride, i % n * stride
            xw = x.clone()
            xw[..., y0:y0 + window, x0:x0 + window] = 0
            acc[y0:y0 + window, x0:x0 + window] += f0 - forward(m, xw)[0][0, k]
            cnt[y0:y0 + window, x0:x0 + window] += 1
    return (x.shape[1] * acc / cnt)[None]


# ---------------------------------------------------------------- eclique/RISE
def rise_masks(N, s, p1, S, seed=0):
    """generate_masks: s x s cells on with probability p1, bilinear up to (s+1)·cell,
    a random crop (skimage's resize stands as torch's bilinear: made once, untimed)."""
    g = torch.Generator().manual_seed(seed)
    cell = -(-S // s)
    grid = (torch.rand(N, 1, s, s, generator=g) < p1).float()
    up = F.interpolate(grid, size=((s + 1) * cell,) * 2, mode="bilinear", align_corners=False)
    shift = torch.randint(0, cell, (N, 2), generator=g)
    return torch.stack([up[i, :, a:a + S, b:b + S] for i, (a, b) in enumerate(shift.tolist())])


def rise(m, x, masks, p1):
    k = predict(m, x)
    N, S = masks.shape[0], x.shape[-1]
    batch = 100 if m.arch == "vit" else 16
    with torch.no_grad():
        stack = masks * x
        p = torch.cat([torch.softmax(forward(m, stack[i:i + batch])[0], -1) for i in range(0, N, batch)])
        sal = (p.t() @ masks.view(N, S * S)).view(-1, S, S) / N / p1  # every class, as the original
    return sal[k:k + 1]


# ---------------------------------------------------------------- FarnoushRJ/MambaLRP
def silu_identity(v):
    vt = v + (v.eq(0).to(v.dtype) + v.sign()) * 1e-6
    return vt * (F.silu(v) / vt).detach()


def rms_norm_detached(v, weight, eps):
    return v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + eps).detach() * weight


def lrp_branch(m, xz, p, sfx, act):
    cfg, W = m.cfg, m.W
    D, N, R, K = cfg["d_inner"], cfg["d_state"], cfg["dt_rank"], cfg["d_conv"]
    L = xz.shape[-1]
    x, z = xz.chunk(2, dim=1)
    u = act(F.conv1d(x, W[p + "conv1d%s.weight" % sfx], W[p + "conv1d%s.bias" % sfx],
                     padding=K - 1, groups=D)[..., :L])
    x_dbl = F.linear(u.transpose(1, 2), W[p + "x_proj%s.weight" % sfx])
    dt = F.linear(x_dbl[..., :R], W[p + "dt_proj%s.weight" % sfx]).transpose(1, 2)
    Bm, Cm = x_dbl[..., R:R + N], x_dbl[..., R + N:]
    delta = F.softplus(dt + W[p + "dt_proj%s.bias" % sfx][:, None])
    A = -torch.exp(W[p + ("A_log" if not sfx else "A_b_log")])
    # A-bar, B-bar, C detached: the scan is linear in u; D kept
    dB = (delta[..., None] * Bm[:, None]).detach()
    y = ref.selective_scan((delta[..., None] * A[:, None, :]).detach(), dB * u[..., None], Cm.detach())
    o = (y + u * W[p + ("D" if not sfx else "D_b")][:, None]) * act(z)
    return o / 2 + (o / 2).detach()  # the half rule on the gate


def mambalrp(m, x, paper):
    k = predict(m, x)
    cfg, W, c = m.cfg, m.W, m.cls_pos
    act = silu_identity if paper else F.silu
    norm = rms_norm_detached if paper else ref.rms_norm
    with torch.no_grad():
        t = ref.patch_tokens(m, x)
        emb = torch.cat([t[:, :c], W["cls_token"].expand(1, -1, -1), t[:, c:]], 1) + W["pos_embed"]
    emb.requires_grad_(True)
    residual, h = None, emb
    for i in range(cfg["depth"]):
        p = "layers.%d." % i
        r = h if residual is None else residual + h
        xz = F.linear(norm(r, W[p + "norm.weight"], cfg["norm_eps"]), W[p + "mixer.in_proj.weight"]).transpose(1, 2)
        y = lrp_branch(m, xz, p + "mixer.", "", act) + lrp_branch(m, xz.flip(-1), p + "mixer.", "_b", act).flip(-1)
        if cfg.get("divide_out", 1):
            y = y / 2
        h = F.linear(y.transpose(1, 2), W[p + "mixer.out_proj.weight"])
        residual = r
    feats = norm(residual + h, W["norm_f.weight"], cfg["final_norm_eps"])
    logit = F.linear(feats[:, c], W["head.weight"], W["head.bias"])[0, k]
    g, = torch.autograd.grad(logit, emb)
    return ref.drop_cls((emb * g).sum(-1).detach(), c)


# ---------------------------------------------------------------- Chefer: layers_lrp
def lrp_linear_orig(R, X, weight):
    """layers_lrp Linear.relprop, alpha 1: two denominators, each term conserving R."""
    pw, nw = weight.clamp(min=0), weight.clamp(max=0)
    px, nx = X.clamp(min=0), X.clamp(max=0)
    return (px * (ref.safe_divide(R, F.linear(px, pw)) @ pw) +
            nx * (ref.safe_divide(R, F.linear(nx, nw)) @ nw))


def lrp_add_orig(R, a, b):
    S = ref.safe_divide(R, a + b)  # RelPropSimple: no rescale
    return a * S, b * S


def lrp(m, x, full):
    W, cfg = m.W, m.cfg
    E, H = cfg["embed_dim"], cfg["num_heads"]
    xi = x.clone().requires_grad_(True)
    logits, trace = ref.vit_forward(m, xi)  # generate_LRP: forward, argmax, one-hot backward
    k = int(logits[0].argmax())
    one_hot = torch.zeros_like(logits)
    one_hot[0, k] = 1
    (one_hot * logits).sum().backward(retain_graph=True)
    with torch.no_grad():
        xn = trace["xn"]
        L = xn.shape[1]
        R = lrp_linear_orig(one_hot, xn[:, 0], W["head.weight"])
        Rt = torch.zeros_like(xn)
        Rt[:, 0] = xn[:, 0] * ref.safe_divide(R, xn[:, 0])
        R = Rt
        for i in reversed(range(cfg["depth"])):
            p = "blocks.%d." % i
            t = trace["blocks"][i]
            r_skip, r_mlp = lrp_add_orig(R, t["x_mid"], t["m_out"])
            r_mlp = lrp_linear_orig(r_mlp, t["h1"], W[p + "mlp.fc2.weight"])
            r_mlp = lrp_linear_orig(r_mlp, t["n2"], W[p + "mlp.fc1.weight"])
            R = ref.lrp_clone(r_skip, r_mlp, t["x_mid"])
            r_skip, r_att = lrp_add_orig(R, t["x_in"], t["a_out"])
            r_att = lrp_linear_orig(r_att, t["ctx"], W[p + "attn.proj.weight"])
            r_att = r_att.reshape(1, L, H, E // H).transpose(1, 2)
            r_attn, r_v = ref.lrp_matmul(r_att, t["attn"], t["v"])
            r_attn, r_v = r_attn / 2, r_v / 2
            if not full:  # partial LRP: the last block's attention relevance
                return r_attn[0].clamp(min=0).mean(0)[0, 1:][None]
            r_q, r_kt = ref.lrp_matmul(r_attn, t["q"], t["k"].transpose(-1, -2))
            r_qkv = torch.stack([r_q / 2, r_kt.transpose(-1, -2) / 2, r_v]).permute(1, 3, 0, 2, 4).reshape(1, L, 3 * E)
            R = ref.lrp_clone(r_skip, lrp_linear_orig(r_qkv, t["n1"], W[p + "attn.qkv.weight"]), t["x_in"])
        tokens = torch.cat([W["cls_token"], ref.patch_tokens(m, x)], 1)
        R = lrp_add_orig(R, tokens, W["pos_embed"].expand_as(tokens))[0][:, 1:]
        g, P = m.grid, cfg["patch_size"]
        R = R.transpose(1, 2).reshape(1, E, g, g)
        # z^B at the patch conv: l, h the image's min and max
        w = W["patch_embed.proj.weight"]
        pw, nw = w.clamp(min=0), w.clamp(max=0)
        lo, hi = torch.full_like(x, float(x.min())), torch.full_like(x, float(x.max()))
        Z = F.conv2d(x, w, stride=P) - F.conv2d(lo, pw, stride=P) - F.conv2d(hi, nw, stride=P) + 1e-9
        S = R / Z
        RX = (x * F.conv_transpose2d(S, w, stride=P) - lo * F.conv_transpose2d(S, pw, stride=P) -
              hi * F.conv_transpose2d(S, nw, stride=P))
        return RX.sum(1)


# ---------------------------------------------------------------- UIA
def uia_row(m, xz, p, sfx, s, c):
    """One direction's UIA CLS row in its own token order: SiLU(z_c) · (α_c ⊙ σ(u)) M_conv."""
    cfg, W = m.cfg, m.W
    D, K, L = cfg["d_inner"], cfg["d_conv"], xz.shape[-1]
    x_pre, z = xz.chunk(2, dim=1)
    w = W[p + "conv1d%s.weight" % sfx]
    u = F.conv1d(x_pre, w, W[p + "conv1d%s.bias" % sfx], padding=K - 1, groups=D)[..., :L]
    temp = ref.cls_row(s, c, True) * torch.sigmoid(u)
    conv2 = F.conv1d(temp, w.flip(-1), padding=K - 1, groups=D)[..., K - 1:K - 1 + L]  # M_conv^T
    return F.silu(z[..., c])[..., None] * conv2


def uia_vector(m, trace, i):
    """Layer i's UIA attn_vec [B, D, L] in image order: ṽ_f + flip(ṽ_b) (mamba_simple.py)."""
    cfg, W, c, L = m.cfg, m.W, m.cls_pos, m.seq_len
    p = "layers.%d." % i
    hs = ref.rms_norm(trace["streams"][i], W[p + "norm.weight"], cfg["norm_eps"])
    xz = F.linear(hs, W[p + "mixer.in_proj.weight"]).transpose(1, 2)
    s_f, s_b = trace["s6"][i]
    return uia_row(m, xz, p + "mixer.", "", s_f, c) + \
        uia_row(m, xz.flip(-1), p + "mixer.", "_b", s_b, L - 1 - c).flip(-1)


def uia(m, x):
    c = m.cls_pos
    xi = x.clone().requires_grad_(True)
    logits, trace = ref.vim_forward(m, xi)
    logits[0, int(logits[0].argmax())].backward()
    layers = []
    with torch.no_grad():
        for i in range(m.default_start_layer(), m.cfg["depth"]):
            v = uia_vector(m, trace, i)
            s = ref.minmax(trace["streams"][i + 1].grad[0].clamp(min=0).max(dim=1)[0])
            layers.append(ref.minmax(v[0].clamp(min=0).mean(0) * s)[None])
        return ref.drop_cls(ref.rollout(layers, 0)[0, c][None], c).clamp(min=0)


def twins(m, x, reps, median_ms, methods="all"):
    """(label, ms) for every row of ROWS the model's family supports and --methods
    names ("all", "none" or mxb method names, comma-separated)."""
    S = x.shape[-1]
    for label, name, method, kw in ROWS:
        if ARCHS.get(method, m.arch) != m.arch:
            continue
        if name != "uia" and methods != "all" and name not in methods.split(","):
            continue
        warm = None
        if method == "rise":
            masks = rise_masks(kw["masks"], kw["cells"], kw["p1"], S)
            fn = lambda: rise(m, x, masks, kw["p1"])  # noqa: E731
            warm = lambda: rise(m, x, masks[:1], kw["p1"])  # noqa: E731
        else:
            fn = lambda: globals()[method](m, x, **kw)  # noqa: E731
            if method in WARM:
                warm = lambda: globals()[method](m, x, **WARM[method](S))  # noqa: E731
        # at most 3 timed calls, as mxb bench times its method rows (uia: its older row's reps)
        yield label, median_ms(fn, reps if method == "uia" else min(reps, 3), warm)
