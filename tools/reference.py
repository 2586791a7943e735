#!/usr/bin/env python3
"""An independent PyTorch reference of mxb's two model families and of the
explanation methods of the paper, used to cross-check the C code.

    reference.py predict --weights W(.pth|.h5) --tensor T.h5[:DSET] --out OUT.h5
    reference.py explain --weights W --tensor T.h5[:DSET] --method M [--class K]
                         [--variant official|exact] [--start-layer N] --out OUT.h5

Models (written from the original code's semantics, not copied):
  vit  timm DeiT as Chefer et al.'s ViT_LRP.py builds it: LayerNorm eps 1e-6 in
       the blocks, `final_norm_eps` (1e-5 there) at the end, exact GELU, qkv bias.
  vim  hustvl ViM `..._bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2`:
       class token inserted at M//2, absolute position embedding, fused add +
       RMSNorm (eps 1e-5, residual in fp32), bidirectional Mamba v2 mixer with a
       `selective_scan_ref` scan, the two branches summed and halved, head on the
       class token.
Methods: ViM raw-attention / rollout / attribution (HiddenMambaAttn xai_utils.py),
ViT last-layer attention / rollout / Transformer-Attribution (Chefer et al.).
See tools/README.md for the exact conventions and where they differ from the spec.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # noqa: E402
from _needs import need  # noqa: E402

need('h5py', 'numpy', 'torch')

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_checkpoint as cc  # noqa: E402  (the key schema and config inference)

METHODS = ("raw-attention", "rollout", "attribution")


# =========================================================================== weights
class Model:
    """Config (the weights file's attributes) and tensors (state_dict keys)."""

    def __init__(self, cfg, weights):
        self.cfg, self.W = cfg, weights
        self.arch = cfg["arch"]
        self.grid = cfg["img_size"] // cfg["patch_size"]
        self.seq_len = self.grid * self.grid + 1
        # ViM: class token in the middle of the patches; ViT: first
        self.cls_pos = self.grid * self.grid // 2 if self.arch == "vim" else 0

    def default_start_layer(self):
        # the originals: ViM start_layer 15 of 24; ViT start_layer 1
        if self.arch == "vim":
            return self.cfg["depth"] * 15 // 24
        return 1 if self.cfg["depth"] > 1 else 0


def _attr(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    return v


def load_model(path, num_heads=None, timm_norm=False, dtype=torch.float32):
    """An mxb weights file (.h5) or a PyTorch checkpoint (.pth)."""
    if h5py.is_hdf5(path):
        with h5py.File(path, "r") as f:
            cfg = {k: _attr(v) for k, v in f.attrs.items()}
            sd = {k: torch.from_numpy(f[k][()]) for k in f.keys()}
        cc.check_keys(sd, cfg)
    else:
        sd = cc.load_state_dict(path)
        cfg = cc.infer_config(sd, num_heads=num_heads, timm_norm=timm_norm)
        cc.check_keys(sd, cfg)
    cfg.setdefault("final_norm_eps", cfg["norm_eps"])
    return Model(cfg, {k: v.to(dtype) for k, v in sd.items()})


def read_tensor(arg, dtype=torch.float32):
    """`file.h5:dataset` (default dataset `input`) -> [1, C, H, W]."""
    path, dset = arg, "input"
    if ":" in arg[1:]:
        path, dset = arg.rsplit(":", 1)
    with h5py.File(path, "r") as f:
        x = torch.from_numpy(np.asarray(f[dset][()], dtype=np.float32))
    if x.dim() == 3:
        x = x[None]
    return x.to(dtype)


def patch_tokens(m, img):
    W, P = m.W, m.cfg["patch_size"]
    x = F.conv2d(img, W["patch_embed.proj.weight"], W["patch_embed.proj.bias"], stride=P)
    return x.flatten(2).transpose(1, 2)  # [B, M, E]


# =========================================================================== ViT
def vit_forward(m, img):
    """Logits and the trace: per block every input the LRP rules need."""
    cfg, W = m.cfg, m.W
    E, H = cfg["embed_dim"], cfg["num_heads"]
    hd = E // H
    x = patch_tokens(m, img)
    B = x.shape[0]
    x = torch.cat([W["cls_token"].expand(B, -1, -1), x], 1) + W["pos_embed"]
    L = x.shape[1]
    blocks = []
    for i in range(cfg["depth"]):
        p = "blocks.%d." % i
        t = {"x_in": x}
        t["n1"] = F.layer_norm(x, (E,), W[p + "norm1.weight"], W[p + "norm1.bias"], cfg["norm_eps"])
        qkv = F.linear(t["n1"], W[p + "attn.qkv.weight"], W.get(p + "attn.qkv.bias"))
        t["q"], t["k"], t["v"] = qkv.reshape(B, L, 3, H, hd).permute(2, 0, 3, 1, 4)
        attn = torch.softmax(t["q"] @ t["k"].transpose(-1, -2) * hd ** -0.5, dim=-1)
        if attn.requires_grad:
            attn.retain_grad()
        t["attn"] = attn
        t["ctx"] = (attn @ t["v"]).transpose(1, 2).reshape(B, L, E)
        t["a_out"] = F.linear(t["ctx"], W[p + "attn.proj.weight"], W[p + "attn.proj.bias"])
        x = t["x_mid"] = x + t["a_out"]
        t["n2"] = F.layer_norm(x, (E,), W[p + "norm2.weight"], W[p + "norm2.bias"], cfg["norm_eps"])
        t["h1"] = F.gelu(F.linear(t["n2"], W[p + "mlp.fc1.weight"], W[p + "mlp.fc1.bias"]))
        t["m_out"] = F.linear(t["h1"], W[p + "mlp.fc2.weight"], W[p + "mlp.fc2.bias"])
        x = x + t["m_out"]
        blocks.append(t)
    xn = F.layer_norm(x, (E,), W["norm.weight"], W["norm.bias"], cfg["final_norm_eps"])
    logits = F.linear(xn[:, 0], W["head.weight"], W["head.bias"])
    return logits, {"blocks": blocks, "xn": xn}


# --- Chefer et al.'s relevance propagation rules (layers_ours.py), alpha = 1, beta = 0
def safe_divide(a, b):
    """a / b as layers_ours.safe_divide: b shifted by +1e-9, 0 where b == 0."""
    den = b.clamp(min=1e-9) + b.clamp(max=1e-9)
    den = den + den.eq(0).to(den.dtype) * 1e-9
    return a / den * b.ne(0).to(b.dtype)


def lrp_linear(R, X, weight):
    """Linear.relprop, alpha 1: positive contributions only (bias ignored)."""
    pw, nw = weight.clamp(min=0), weight.clamp(max=0)
    px, nx = X.clamp(min=0), X.clamp(max=0)
    S = safe_divide(R, F.linear(px, pw) + F.linear(nx, nw))
    return px * (S @ pw) + nx * (S @ nw)


def lrp_add(R, a, b):
    """Add.relprop: split R by x*R/z, then rescale each part to its |sum| share."""
    S = safe_divide(R, a + b)
    ra, rb = a * S, b * S
    sa, sb = ra.sum(), rb.sum()
    fa = safe_divide(sa.abs(), sa.abs() + sb.abs()) * R.sum()
    fb = safe_divide(sb.abs(), sa.abs() + sb.abs()) * R.sum()
    return ra * safe_divide(fa, ra.sum()), rb * safe_divide(fb, rb.sum())


def lrp_clone(R1, R2, X):
    """Clone.relprop: the two branches' relevance summed (through x*R/x)."""
    return X * (safe_divide(R1, X) + safe_divide(R2, X))


def lrp_matmul(R, a, b):
    """einsum.relprop for Z = a @ b (RelPropSimple): x * grad(Z, x, R/Z)."""
    S = safe_divide(R, a @ b)
    return a * (S @ b.transpose(-1, -2)), b * (a.transpose(-1, -2) @ S)


def vit_relevance(m, trace, one_hot):
    """VisionTransformer.relprop from the one-hot at the logits: every block's
    attention relevance (Attention.attn_cam), [B, H, L, L] per block."""
    W, cfg = m.W, m.cfg
    E, H = cfg["embed_dim"], cfg["num_heads"]
    xn = trace["xn"].detach()
    B, L, _ = xn.shape
    R = lrp_linear(one_hot, xn[:, 0], W["head.weight"])  # head; IndexSelect below
    Rt = torch.zeros_like(xn)
    Rt[:, 0] = xn[:, 0] * safe_divide(R, xn[:, 0])
    R = Rt  # final LayerNorm: relevance passes through unchanged
    cams = [None] * cfg["depth"]
    for i in reversed(range(cfg["depth"])):
        p = "blocks.%d." % i
        t = {k: v.detach() for k, v in trace["blocks"][i].items()}
        # x = x_mid + mlp(norm2(x_mid))
        r_skip, r_mlp = lrp_add(R, t["x_mid"], t["m_out"])
        r_mlp = lrp_linear(r_mlp, t["h1"], W[p + "mlp.fc2.weight"])  # GELU, norm2: identity
        r_mlp = lrp_linear(r_mlp, t["n2"], W[p + "mlp.fc1.weight"])
        R = lrp_clone(r_skip, r_mlp, t["x_mid"])
        # x_mid = x_in + attn(norm1(x_in))
        r_skip, r_att = lrp_add(R, t["x_in"], t["a_out"])
        r_att = lrp_linear(r_att, t["ctx"], W[p + "attn.proj.weight"])
        r_att = r_att.reshape(B, L, H, E // H).transpose(1, 2)
        r_attn, r_v = lrp_matmul(r_att, t["attn"], t["v"])  # out = attn @ v
        r_attn, r_v = r_attn / 2, r_v / 2
        cams[i] = r_attn
        # softmax: identity; dots = q @ k^T (the scale is outside the einsum)
        r_q, r_kt = lrp_matmul(r_attn, t["q"], t["k"].transpose(-1, -2))
        r_q, r_k = r_q / 2, r_kt.transpose(-1, -2) / 2
        r_qkv = torch.stack([r_q, r_k, r_v]).permute(1, 3, 0, 2, 4).reshape(B, L, 3 * E)
        r_att = lrp_linear(r_qkv, t["n1"], W[p + "attn.qkv.weight"])  # norm1: identity
        R = lrp_clone(r_skip, r_att, t["x_in"])
    return cams


# =========================================================================== ViM
def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def selective_scan(deltaA, dBu, Cm):
    """selective_scan_ref: h_t = exp(ΔA_t) h_{t-1} + ΔB_t u_t, y_t = C_t · h_t, with
    deltaA, dBu [B, D, L, N] and Cm [B, L, N]; y [B, D, L]. (tools/train_demo.py
    swaps in a chunked form of the same recurrence.)"""
    dA = torch.exp(deltaA)
    h = torch.zeros(dA.shape[0], dA.shape[1], dA.shape[3], dtype=dA.dtype, device=dA.device)
    ys = []
    # unbind, not dA[:, :, i]: the backward of L slices would be O(L^2)
    for a_i, bu_i, c_i in zip(dA.unbind(2), dBu.unbind(2), Cm.unbind(1)):
        h = a_i * h + bu_i
        ys.append((h * c_i[:, None]).sum(-1))
    return torch.stack(ys, dim=2)


def s6_branch(m, xz, p, sfx):
    """One direction of the bimamba v2 mixer on xz [B, 2D, L] (in that direction's
    token order): causal depthwise conv + SiLU, x_proj -> dt, B, C, dt_proj with
    its bias applied as delta_bias + softplus, selective_scan_ref with D and z."""
    cfg, W = m.cfg, m.W
    D, N, R, K = cfg["d_inner"], cfg["d_state"], cfg["dt_rank"], cfg["d_conv"]
    L = xz.shape[-1]
    x, z = xz.chunk(2, dim=1)
    conv = F.conv1d(x, W[p + "conv1d%s.weight" % sfx], W[p + "conv1d%s.bias" % sfx],
                    padding=K - 1, groups=D)
    u = F.silu(conv[..., :L])  # [B, D, L]
    x_dbl = F.linear(u.transpose(1, 2), W[p + "x_proj%s.weight" % sfx])  # [B, L, R+2N]
    dt = F.linear(x_dbl[..., :R], W[p + "dt_proj%s.weight" % sfx]).transpose(1, 2)
    Bm, Cm = x_dbl[..., R:R + N], x_dbl[..., R + N:]  # [B, L, N]
    delta = F.softplus(dt + W[p + "dt_proj%s.bias" % sfx][:, None])  # [B, D, L]
    A = -torch.exp(W[p + ("A_log" if not sfx else "A_b_log")])  # [D, N]
    dBu = delta[..., None] * Bm[:, None] * u[..., None]
    y = selective_scan(delta[..., None] * A[:, None, :], dBu, Cm)
    out = (y + u * W[p + ("D" if not sfx else "D_b")][:, None]) * F.silu(z)
    return out, {"u": u, "delta": delta, "A": A, "B": Bm, "C": Cm, "y": y}


def mamba_mixer(m, hs, p):
    xz = F.linear(hs, m.W[p + "in_proj.weight"]).transpose(1, 2)  # [B, 2D, L]
    out_f, s_f = s6_branch(m, xz, p, "")
    out_b, s_b = s6_branch(m, xz.flip(-1), p, "_b")
    y = out_f + out_b.flip(-1)
    if m.cfg.get("divide_out", 1):
        y = y / 2
    return F.linear(y.transpose(1, 2), m.W[p + "out_proj.weight"]), (s_f, s_b)


def vim_forward(m, img):
    """Logits and the trace. streams[l] is the residual block l returns (the sum
    that entered its add+norm; streams[0] is the embedded input), streams[depth]
    the sum entering norm_f. Gradients are retained on all of them."""
    cfg, W = m.cfg, m.W
    x = patch_tokens(m, img)
    B, c = x.shape[0], m.cls_pos
    x = torch.cat([x[:, :c], W["cls_token"].expand(B, -1, -1), x[:, c:]], 1) + W["pos_embed"]
    streams, mixer_out, s6 = [], [], []
    residual, h = None, x
    for i in range(cfg["depth"]):
        p = "layers.%d." % i
        r = h if residual is None else residual + h
        if r.requires_grad:
            r.retain_grad()
        streams.append(r)
        h, s = mamba_mixer(m, rms_norm(r, W[p + "norm.weight"], cfg["norm_eps"]), p + "mixer.")
        mixer_out.append(h)
        s6.append(s)
        residual = r
    last = residual + h
    if last.requires_grad:
        last.retain_grad()
    streams.append(last)
    feats = rms_norm(last, W["norm_f.weight"], cfg["final_norm_eps"])
    logits = F.linear(feats[:, c], W["head.weight"], W["head.bias"])
    return logits, {"streams": streams, "mixer_out": mixer_out, "s6": s6}


def cls_row(s, c, exact):
    """Row `c` of one direction's hidden attention (its own token order), [B, D, L].
    official = compute_middle_attn_vector: t < c only, Π Ā[k] over k = t+1..c-1
    (Ā[c] left out), position c left 0. exact: t <= c with Π over k = t+1..c."""
    delta, A, Bm, Cm = s["delta"], s["A"], s["B"], s["C"]
    Bsz, D, L = delta.shape
    dA = torch.exp(delta[..., None] * A[:, None, :])  # Ā [B, D, L, N]
    dB = delta[..., None] * Bm[:, None]  # B̄ [B, D, L, N]
    last = c if exact else c - 1  # the product runs over k = t+1 .. last
    n = last + 1  # positions t = 0 .. last are filled
    ones = torch.ones(Bsz, D, 1, dA.shape[-1], dtype=dA.dtype)
    # P[t] = Π_{k=t+1..last} Ā[k], multiplied from k = last down (as the original)
    P = torch.cat([dA[:, :, 1:last + 1].flip(2).cumprod(2).flip(2), ones], 2)[:, :, :n]
    v = torch.zeros(Bsz, D, L, dtype=delta.dtype)
    v[:, :, :n] = (Cm[:, c][:, None, None, :] * P * dB[:, :, :n]).sum(-1)
    return v


def xai_vector(m, s6, exact=False):
    """The per-layer hidden-attention vector [B, D, L] in image-token order: the
    forward branch's CLS row for t < cls, the backward branch's (computed on the
    flipped sequence, class token at L-1-cls there, then flipped) for t > cls.
    The original hard-codes cls 98 for both branches and 99 as the split (right
    for L = 197 only). exact: also Ā[cls], and both diagonals at t = cls."""
    s_f, s_b = s6
    L, c = m.seq_len, m.cls_pos
    v = cls_row(s_f, c, exact)
    vb = cls_row(s_b, L - 1 - c, exact).flip(-1)
    v[:, :, c + 1:] = vb[:, :, c + 1:]
    if exact:
        v[:, :, c] += vb[:, :, c]
    return v


def hidden_attention(s, channels=None, chunk=16):
    """The exact hidden-attention matrices of one direction (its own token order),
    α[b, d, i, j] = Σ_n C[i,n] exp(A[d,n] Σ_{k=j+1..i} Δ[d,k]) Δ[d,j] B[j,n], j <= i,
    [B, len(channels), L, L], vectorised over (i, j, n), a chunk of channels at a
    time, in the trace's dtype (the Δ sums in float64). (The original's
    compute_attn_matrix_fn loops over i, j in python.) y[d,i] = Σ_j α[d,i,j] u[d,j]
    is the scan output before the D skip and the gate."""
    delta, A, Bm, Cm = (s[k].detach() for k in ("delta", "A", "B", "C"))
    Bsz, D, L = delta.shape
    chans = torch.arange(D) if channels is None else torch.as_tensor(channels)
    S = delta.double().cumsum(-1)
    i, j = torch.tril_indices(L, L)  # the pairs j <= i only
    CB = (Cm[:, i] * Bm[:, j])[:, None]  # [B, 1, pairs, N]
    out = torch.zeros(Bsz, len(chans), L, L, dtype=delta.dtype)
    for c0 in range(0, len(chans), chunk):
        ch = chans[c0:c0 + chunk]
        diff = (S[:, ch][..., i] - S[:, ch][..., j]).to(delta.dtype)  # [B, d, pairs]
        decay = torch.exp(diff[..., None] * A[ch][None, :, None, :])  # [B, d, pairs, N]
        out[:, c0:c0 + len(ch), i, j] = (decay * CB).sum(-1) * delta[:, ch][..., j]
    return out


# =========================================================================== methods
def minmax(t):
    return (t - t.min()) / (t.max() - t.min())


def rollout(mats, start, normalize=True):
    """compute_rollout_attention: identity added, rows divided by their sums
    (ViT_explanation_generator / xai_utils); ViT_LRP.py's own copy, which
    Transformer-Attribution calls, does not divide (normalize=False). A [B, L]
    vector is added to every row of the identity."""
    L = mats[0].shape[-1]
    eye = torch.eye(L, dtype=mats[0].dtype)[None]
    aug = [a + eye for a in mats]
    if normalize:
        aug = [a / a.sum(-1, keepdim=True) for a in aug]
    joint = aug[start]
    for a in aug[start + 1:]:
        joint = a.bmm(joint)
    return joint


def drop_cls(p, c):
    return torch.cat([p[:, :c], p[:, c + 1:]], -1)


def vim_method(method, xai, grads, start, c):
    """xai_utils.py: generate_raw_attn / generate_rollout / generate_mamba_attr.
    xai: per layer [1, D, L]; grads: per layer Block.get_gradients [1, L, E];
    only layers >= start are read."""
    xai, grads = xai[start:], grads[start:]
    if method == "raw-attention":
        p = torch.cat([minmax(v).mean(1) for v in xai], 0).mean(0)[None]
        return drop_cls(p, c).clamp(min=0)
    if method == "rollout":
        layers = [v.mean(1) for v in xai]
    else:
        layers = []
        for v, g in zip(xai, grads):
            s = minmax(g[0].clamp(min=0).max(dim=1)[0][None])
            layers.append(minmax(v.clamp(min=0)).mean(1) * s)
    p = rollout(layers, 0)[0, c][None]
    return drop_cls(p, c).clamp(min=0)


def vit_method(method, trace, cams, start):
    """Chefer et al.: generate_LRP(last_layer_attn), Baselines.generate_rollout,
    generate_LRP(transformer_attribution)."""
    attn = [t["attn"].detach() for t in trace["blocks"]]
    if method == "raw-attention":
        return attn[-1][0].clamp(min=0).mean(0)[0, 1:][None]
    if method == "rollout":
        return rollout([a.sum(1) / a.shape[1] for a in attn], start)[:, 0, 1:]
    layers = []
    for t, cam in zip(trace["blocks"], cams):
        layers.append((t["attn"].grad[0] * cam[0]).clamp(min=0).mean(0)[None])
    return rollout(layers, start, normalize=False)[:, 0, 1:]


def upsample(p, grid, scale):
    """Bilinear ×patch (align_corners False), then min-max, as the evaluations do."""
    up = F.interpolate(p.reshape(1, 1, grid, grid), scale_factor=scale, mode="bilinear",
                       align_corners=False)
    return minmax(up)[0, 0]


def explain(m, img, method, klass=None, variant="official", start_layer=None, debug=False):
    """Forward, backward of the one-hot logit and LRP (ViT) where the method needs
    them (or debug), and the method. Returns a dict: logits [C], class,
    map [G, G], map_upsampled [S, S], debug {name: tensor} (with debug only)."""
    if start_layer is None:
        start_layer = m.default_start_layer()
    grads_needed = debug or method == "attribution"
    img = img.clone().requires_grad_(grads_needed)
    fwd = vit_forward if m.arch == "vit" else vim_forward
    with torch.set_grad_enabled(grads_needed):
        logits, trace = fwd(m, img)
    if klass is None:
        klass = int(np.argmax(logits[0].detach().numpy()))
    one_hot = torch.zeros_like(logits)
    one_hot[0, klass] = 1
    if grads_needed:
        (one_hot * logits).sum().backward()
    out = {}
    if m.arch == "vit":
        cams = vit_relevance(m, trace, one_hot) if grads_needed else None
        p = vit_method(method, trace, cams, start_layer)
        if debug:
            for i, (t, cam) in enumerate(zip(trace["blocks"], cams)):
                out["block_%02d/attn" % i] = t["attn"][0]
                out["block_%02d/attn_grad" % i] = t["attn"].grad[0]
                out["block_%02d/attn_relevance" % i] = cam[0]
    else:
        streams = trace["streams"]
        # Block.get_gradients: the hook sits on the residual the fused add+norm
        # returns, so it sees the gradient of the NEXT sum (residual + mixer_out)
        grads = [streams[i + 1].grad for i in range(m.cfg["depth"])]
        first = 0 if debug else start_layer  # the methods read layers >= start only
        with torch.no_grad():
            xai = [xai_vector(m, s, variant == "exact") if i >= first else None
                   for i, s in enumerate(trace["s6"])]
        p = vim_method(method, xai, grads, start_layer, m.cls_pos)
        if debug:
            for i in range(m.cfg["depth"]):
                out["layer_%02d/residual" % i] = streams[i][0]
                out["layer_%02d/mixer_out" % i] = trace["mixer_out"][i][0]
                out["layer_%02d/xai_vector" % i] = xai[i][0]
                out["layer_%02d/residual_grad" % i] = grads[i][0]
    p = p.detach()
    grid = m.grid
    return {"logits": logits[0].detach(), "class": klass, "map": p.reshape(grid, grid),
            "map_upsampled": upsample(p, grid, m.cfg["patch_size"]),
            "debug": {k: v.detach() for k, v in out.items()}}


def attention_maps(m, img):
    """ViT: every block's attention probabilities [H, L, L]; ViM: per layer and
    direction the exact hidden attention averaged over channels [L, L], the
    backward branch's flipped on both axes into image-token order."""
    with torch.no_grad():
        if m.arch == "vit":
            _, trace = vit_forward(m, img)
            return {"block_%02d" % i: t["attn"][0] for i, t in enumerate(trace["blocks"])}
        _, trace = vim_forward(m, img)
        out = {}
        for i, (s_f, s_b) in enumerate(trace["s6"]):
            out["layer_%02d/forward" % i] = hidden_attention(s_f).mean(1)[0]
            out["layer_%02d/backward" % i] = hidden_attention(s_b).mean(1)[0].flip(0, 1)
        return out


def predict(m, img):
    with torch.no_grad():
        return (vit_forward if m.arch == "vit" else vim_forward)(m, img)[0]


# =========================================================================== CLI
def _np(t):
    return t.detach().to(torch.float32).numpy()


def fail(what, msg):
    print("reference: %s: %s" % (what, msg), file=sys.stderr)
    return 2


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch reference of mxb's models and methods")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("predict", "explain"):
        s = sub.add_parser(name)
        s.add_argument("--weights", required=True, help="mxb weights (.h5) or checkpoint (.pth)")
        s.add_argument("--tensor", required=True, help="T.h5[:DATASET] (default dataset 'input')")
        s.add_argument("--out", required=True, help="HDF5 file to write")
        s.add_argument("--num-heads", type=int, help="ViT heads for a .pth (default E // 64)")
        s.add_argument("--timm-norm", action="store_true", help=".pth ViT: final norm eps 1e-6")
        s.add_argument("--double", action="store_true", help="compute in float64")
        if name == "explain":
            s.add_argument("--method", required=True, choices=METHODS)
            s.add_argument("--class", dest="klass", type=int, help="default: the prediction")
            s.add_argument("--variant", choices=("official", "exact"), default="official")
            s.add_argument("--start-layer", type=int)
            s.add_argument("--save-attention", action="store_true",
                           help="also write attention/: ViT block_NN [heads,L,L]; ViM "
                           "layer_NN/{forward,backward} exact channel-mean [L,L], image order")
    a = ap.parse_args(argv)
    dtype = torch.float64 if a.double else torch.float32
    try:
        m = load_model(a.weights, a.num_heads, a.timm_norm, dtype)
    except cc.CheckpointError as e:
        return fail(a.weights, e)
    except KeyError as e:  # an .h5 without a config attribute
        return fail(a.weights, "no config attribute %s" % e)
    try:
        img = read_tensor(a.tensor, dtype)
    except (OSError, KeyError) as e:
        return fail(a.tensor, "cannot read (%s)" % " ".join(str(e).split()))
    S, C = m.cfg["img_size"], m.cfg["in_chans"]
    if tuple(img.shape) != (1, C, S, S):
        return fail(a.tensor, "want a [%d, %d, %d] tensor, got %s" % (C, S, S, list(img.shape)))
    if a.cmd == "explain":
        if a.klass is not None and not 0 <= a.klass < m.cfg["num_classes"]:
            return fail(a.weights, "class %d is outside 0..%d" % (a.klass, m.cfg["num_classes"] - 1))
        if a.start_layer is not None and not 0 <= a.start_layer < m.cfg["depth"]:
            return fail(a.weights, "start layer %d is outside 0..%d" % (
                a.start_layer, m.cfg["depth"] - 1))
    with h5py.File(a.out, "w") as f:
        if a.cmd == "predict":
            f["logits"] = _np(predict(m, img)[0])
            return 0
        r = explain(m, img, a.method, a.klass, a.variant, a.start_layer, debug=True)
        f["logits"] = _np(r["logits"])
        f["class"] = np.int32(r["class"])
        f["map"] = _np(r["map"])
        f["map_upsampled"] = _np(r["map_upsampled"])
        for k, v in r["debug"].items():
            f["debug/" + k] = _np(v)
        f["debug/explained_class"] = np.int64(r["class"])
        if a.save_attention:
            for k, v in attention_maps(m, img).items():
                f["attention/" + k] = _np(v)
        f.attrs["method"] = a.method
        f.attrs["variant"] = a.variant
        f.attrs["class_choice"] = "predicted" if a.klass is None else "given"
        f.attrs["weights"] = a.weights
    print("method %s, explained class %d" % (a.method, r["class"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
