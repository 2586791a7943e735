#!/usr/bin/env bash
# The v2 methods' golden files (tests/fixtures/methods2_*.golden.h5, made by
# tools/goldens/make_methods_goldens.py from the original repositories on a GPU;
# tests/fixtures/README.md): a broken or stale fixture is caught here, before the
# methods' own tests compare mxb against it.
#  - every file opens and has its documented attributes, datasets, shapes and dtypes;
#    maps are finite and not constant; class_k = argmax(logits_k);
#  - the demo inputs are exactly `mxb synth --seed 3 --size 64` images 0..3 after the
#    demo models' transform (PIL + numpy here), the full-geometry input exactly
#    gen_fullgeom's make_input() on this torch;
#  - the weights: the demo files name the SHA-256 of models/demo_*.h5 as they are now;
#    the full-geometry files say the weights used are the ones this machine's
#    make_random_checkpoint.py makes (MXB_GOLDENS_SLOW=1 regenerates and checks);
#  - mxb's engine gives the golden's logits on the demo inputs (the original classes
#    and mxb run the same model);
#  - two code paths of the original UIA code agree inside the golden: row `cls` of its
#    full matrix (saveAttnMat) = its CLS vector (saveAttnVec), both directions;
#  - the stored generator draws (rng/u01, rng/normal) = an independent scalar
#    splitmix64 + Box-Muller written below;
#  - Captum's maps and UIA's gradients = tools/reference.py's autograd (below).
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON; FX=$MXB_FIXTURES
T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$MXB_SOURCE_DIR/tests/lib_cli.sh"

check "mxb synth (the demo images)" "$MXB" synth "$T/synth" --n 4 --seed 3 --size 64 --quiet
explain_demo() {  # MODEL K: mxb's logits on the golden's own input tensor
  "$MXB" explain --weights "$MXB_SOURCE_DIR/models/demo_$1.h5" --method raw-attention \
    --tensor "$FX/methods2_demo_$1.golden.h5:input_$2" --out "$T/$1_$2.h5" > /dev/null
}
for m in vit vim; do
  for k in 0 1 2 3; do check "mxb explain demo_$m on the golden's input_$k" explain_demo $m $k; done
done

goldens() {
  $PY - "$FX" "$T" "$MXB_SOURCE_DIR" <<'PYEOF'

import hashlib, math, os, re, sys
import h5py, numpy as np
fx, tmp, src = sys.argv[1:4]
bad = []
def check(cond, what):
    if not cond:
        bad.append(what)
    return cond

def minmax(a):
    a = np.asarray(a, np.float64); r = a.max() - a.min()
    return (a - a.min()) / r if r > 0 else a * 0

# ---- the generator, scalar, from the definition (METHODS-v2.md 1.3) ----
def splitmix(seed, n):
    s, out = seed, []
    for _ in range(n):
        s = (s + 0x9E3779B97F4A7C15) % 2**64
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
        out.append(z ^ (z >> 31))
    return out
def u01(seed, n):
    return [(x >> 11) * 2.0 ** -53 for x in splitmix(seed, n)]
def gauss(seed, n):
    u, z = u01(seed, 2 * ((n + 1) // 2)), []
    for i in range(0, len(u), 2):
        r = math.sqrt(-2.0 * math.log(1.0 - u[i]))
        z += [r * math.cos(2 * math.pi * u[i + 1]), r * math.sin(2 * math.pi * u[i + 1])]
    return z[:n]

def sha(p):
    return hashlib.sha256(open(p, "rb").read()).hexdigest()

# the demo models' transform, from the PNGs mxb synth writes
mean = np.array([0.485, 0.456, 0.406], np.float32); std = np.array([0.229, 0.224, 0.225], np.float32)
from PIL import Image
demo_x = [((np.asarray(Image.open("%s/synth/images/synth_%06d.png" % (tmp, k)).convert("RGB"), np.float32)
            / np.float32(255) - mean) / std).transpose(2, 0, 1) for k in range(4)]
sys.path.insert(0, os.path.join(src, "tools", "goldens"))
import torch
import make_methods_goldens as mg  # only its make_input copy (gen_fullgeom cannot be imported)
full_x = mg.fullgeom_input(torch)[0].numpy()

COMMON = ["originals", "stubs", "patches", "torch_version", "device", "seed", "tf32", "model", "made"]
AGN = ["ixg", "ig_riemann_trapezoid_n16", "ig_gausslegendre_n16", "smoothgrad_n5"]
AGN_DEMO = ["ig_riemann_left_n16", "ig_riemann_right_n16", "ig_riemann_middle_n16", "ig_gausslegendre_n50",
            "smoothgrad_n50", "occlusion_w8_s8", "occlusion_w8_s4", "rise_n6000"]
AGN_FULL = ["occlusion_w16_s8", "rise_n64"]
SPEC = {  # file: (images, side, grid, classes, grid maps, pixel maps, grid maps of image 0 only)
  "demo_vit": (4, 64, 8, 10, ["gradcam", "gradcam_eps1e-5", "lrp-partial", "lrp-partial_grad"],
               ["lrp-full"] + AGN + AGN_DEMO, []),
  "deit_s": (1, 224, 14, 1000, ["gradcam", "gradcam_eps1e-5", "lrp-partial", "lrp-partial_grad",
                                "lrp-partial_f32", "lrp-partial_grad_f32"],
             ["lrp-full", "lrp-full_f32"] + AGN + AGN_FULL, []),
  "demo_vim": (4, 64, 8, 10, ["uia", "mambalrp_paper", "mambalrp_vision-default", "mambalrp_paper_conv-gamma",
                              "mambalrp_vision-default_conv-gamma"], AGN + AGN_DEMO,
               ["uia_no-conv", "uia_no-gate", "uia_no-act"]),
  "vim_s": (1, 224, 14, 1000, ["uia", "mambalrp_paper", "mambalrp_vision-default", "mambalrp_paper_conv-gamma",
                               "mambalrp_vision-default_conv-gamma"], AGN + AGN_FULL, []),
}
commits = {}
for name, (K, S, g, C, gmaps, pmaps, gmaps0) in SPEC.items():
    path = os.path.join(fx, "methods2_%s.golden.h5" % name)
    if not check(os.path.exists(path), "%s: missing" % path):
        continue
    f = h5py.File(path, "r")
    for a in COMMON:
        check(a in f.attrs, "%s: attribute %s" % (name, a))
    got = dict(re.findall(r"(\w+)=([0-9a-f]{40})", str(f.attrs.get("originals", ""))))
    check(sorted(got) == ["captum", "mlrp", "rise", "te", "uia"], "%s: originals' commits %s" % (name, got))
    commits[name] = got
    check(int(f.attrs.get("seed", -1)) == 0, "%s: seed" % name)
    if name.startswith("demo"):
        w = os.path.join(src, "models", name + ".h5")
        check(f.attrs.get("weights_sha256") == sha(w), "%s: weights_sha256 is not models/%s.h5's" % (name, name))
    else:
        check(int(f.attrs.get("weights_as_on_ci", 0)) == 1, "%s: weights are not the CI machine's" % name)
        check(re.fullmatch(r"[0-9a-f]{64}", str(f.attrs.get("weights_content_sha256", ""))) is not None,
              "%s: weights_content_sha256" % name)
    for k in range(K):
        x = f["input_%d" % k]
        if check(x.shape == (3, S, S) and x.dtype == np.float32, "%s input_%d shape/dtype" % (name, k)):
            ref = demo_x[k] if name.startswith("demo") else full_x
            check(np.array_equal(x[()], ref), "%s: input_%d is not the documented input" % (name, k))
        lg = f["logits_%d" % k][()]
        check(lg.shape == (C,) and np.isfinite(lg).all(), "%s logits_%d" % (name, k))
        cls = int(f["class_%d" % k][()])
        check(cls == int(np.argmax(lg)), "%s: class_%d is not argmax(logits)" % (name, k))
        maps = [(m, (g, g)) for m in gmaps] + [(m, (S, S)) for m in pmaps] + \
               ([(m, (g, g)) for m in gmaps0] if k == 0 else [])
        for m, shape in maps:
            d = "map_%s_%d" % (m, k)
            if not check(d in f, "%s: %s missing" % (name, d)):
                continue
            v = f[d][()]
            check(v.shape == shape and v.dtype == np.float32, "%s %s shape %s" % (name, d, v.shape))
            check(np.isfinite(v).all() and np.ptp(v) > 0, "%s %s not finite or constant" % (name, d))
            check("method" in f[d].attrs, "%s %s: no method attribute" % (name, d))
        if name.startswith("demo"):  # mxb's engine on the golden's input: the same logits
            e = h5py.File("%s/%s_%d.h5" % (tmp, name[5:], k), "r")
            err = np.abs(e["logits"][()].ravel() - lg).max() / np.ptp(lg)
            check(err < 1e-5, "%s: mxb's logits differ from the original's by %.3g of the range" % (name, err))
    if name == "deit_s":
        for d in ("map_lrp-full_0", "map_lrp-partial_0", "map_lrp-partial_grad_0"):
            check("f32_vs_f64" in f[d].attrs, "%s %s: f32_vs_f64" % (name, d))
    if name == "demo_vim":  # UIA: the matrix code's row cls = the vector code (the original's own Test)
        M = f["debug/uia_matrix_layer_04"][()]
        chans = list(f["debug/uia_matrix_layer_04"].attrs["channels"])
        v = f["debug/uia_attn_vec_0/layer_04"][()][chans]
        L = M.shape[-1]; c = (L - 1) // 2
        row = M[0, :, c, :] + M[1, :, L - 1 - c, :][:, ::-1]
        err = np.abs(row - v).max() / np.abs(v).max()
        check(M.shape == (2, 4, 65, 65) and err < 1e-5, "UIA matrix row vs vector: %.3g" % err)
    rng = f["rng"]
    check(np.array_equal(rng["u01"][()], np.array(u01(0, 32))), "%s: rng/u01 != splitmix64" % name)
    check(np.abs(rng["normal"][()] - np.array(gauss(0, 32))).max() < 1e-14, "%s: rng/normal" % name)
    f.close()
check(len({tuple(sorted(c.items())) for c in commits.values()}) == 1, "files made from different commits")
if os.environ.get("MXB_GOLDENS_SLOW") == "1":  # regenerates ViM-S and DeiT-S
    import subprocess
    for name, preset, seed in (("deit_s", "deit-s", 11), ("vim_s", "vim-s", 12)):
        p = "%s/%s.pth" % (tmp, name)
        subprocess.check_call([sys.executable, os.path.join(src, "tools", "make_random_checkpoint.py"),
                               "--preset", preset, "--seed", str(seed), p], stdout=subprocess.DEVNULL)
        sd = torch.load(p, map_location="cpu")["model"]
        f = h5py.File(os.path.join(fx, "methods2_%s.golden.h5" % name), "r")
        check(mg.content_sha(sd) == f.attrs["weights_content_sha256"], "%s: weights changed" % name)
for b in bad:
    print("   " + b)
print("   4 golden files: %s" % ("ok" if not bad else "%d problems" % len(bad)))
raise SystemExit(1 if bad else 0)
PYEOF
}
sanitised || check "methods2 golden files: attributes, datasets, inputs, weights, logits, UIA paths, generator" goldens

# The goldens against an independent implementation: tools/reference.py (PyTorch
# autograd, this machine's torch) on the demo models, image 0: Captum's IxG, IG
# (riemann_right and gausslegendre, 16 steps), SmoothGrad (5 samples, the generator's
# normals), Occlusion 8/8 and RISE (its masks from the generator; the 6000-forward map
# with MXB_GOLDENS_SLOW=1) by their definitions (METHODS-v2.md 3.5); Chefer's attention
# GradCAM, partial and full LRP (3.1); UIA's CLS vectors and "ours" with its ablations from the formulas of
# METHODS-v2.md 3.2; MambaLRP's two rule sets (3.4); and the UIA golden's residual gradients (Block.get_gradients, the
# stream entering the next norm) = the true gradient, which the patched backward gives.
crosscheck() {
  $PY - "$FX" "$MXB_SOURCE_DIR" <<'PYEOF'
import math, os, sys
import h5py, numpy as np, torch
import torch.nn.functional as F
fx, src = sys.argv[1:3]
sys.path.insert(0, os.path.join(src, "tools"))
import reference as ref
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
bad = []
def mm(a):
    a = np.asarray(a, np.float64); return (a - a.min()) / (a.max() - a.min())
def close(name, mine, golden, tol=1e-4):
    if torch.is_tensor(mine):
        mine = mine.detach().double().numpy()
    err = np.abs(mm(mine) - mm(golden)).max()
    print("   %-40s max |diff| after min-max %.2g" % (name, err))
    if not err <= tol:
        bad.append(name)
def u01(n):  # the generator's uniforms, seed 0 (METHODS-v2.md 1.3), vectorised here
    with np.errstate(over="ignore"):
        z = np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return ((z ^ (z >> np.uint64(31))) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
def normals(n):  # Box-Muller on pairs: cos first, then sin
    u = u01(2 * ((n + 1) // 2))
    r = np.sqrt(-2 * np.log(1 - u[0::2])); out = np.empty(len(u))
    out[0::2], out[1::2] = r * np.cos(2 * math.pi * u[1::2]), r * np.sin(2 * math.pi * u[1::2])
    return out[:n]
for fam in ("vit", "vim"):
    m = ref.load_model(os.path.join(src, "models", "demo_%s.h5" % fam))
    fwd = ref.vit_forward if fam == "vit" else ref.vim_forward
    g = h5py.File(os.path.join(fx, "methods2_demo_%s.golden.h5" % fam), "r")
    x = torch.from_numpy(g["input_0"][()])[None]
    c = int(g["class_0"][()])
    def grad(xs):  # d logit_c / d input for a batch
        xs = xs.clone().requires_grad_(True)
        lg, tr = fwd(m, xs)
        lg[:, c].sum().backward()
        return xs.grad.detach(), lg.detach(), tr
    gx, lg, tr = grad(x)
    close("%s ixg" % fam, (x * gx)[0].sum(0), g["map_ixg_0"][()])
    if fam == "vit":  # Chefer's attention GradCAM (final norm eps 1e-5, as the weights)
        A, G = tr["blocks"][-1]["attn"][0, :, 0, 1:], tr["blocks"][-1]["attn"].grad[0, :, 0, 1:]
        close("vit gradcam", (A * G.mean(1, keepdim=True)).mean(0).clamp(min=0).reshape(8, 8),
              g["map_gradcam_eps1e-5_0"][()])
        # partial LRP with Chefer's layers_lrp rules (METHODS-v2.md 3.1: Linear with Z+ and Z-
        # apart, Add without rescale, Clone, matmul2 halved), the last block down to attn
        def sdiv(a, b):
            den = b.clamp(min=1e-9) + b.clamp(max=1e-9)
            den = den + den.eq(0).to(den) * 1e-9
            return a / den * b.ne(0).to(b)
        def lin(R, X, w):
            px, nx, pw, nw = X.clamp(min=0), X.clamp(max=0), w.clamp(min=0), w.clamp(max=0)
            return px * (sdiv(R, F.linear(px, pw)) @ pw) + nx * (sdiv(R, F.linear(nx, nw)) @ nw)
        def add(R, a, b):
            S = sdiv(R, a + b)
            return a * S, b * S
        W, cfg = m.W, m.cfg
        H = cfg["num_heads"]; hd = cfg["embed_dim"] // H
        t = {k: v.detach() for k, v in tr["blocks"][-1].items() if torch.is_tensor(v)}
        xn = tr["xn"].detach()
        Rl = torch.zeros(1, cfg["num_classes"]); Rl[0, c] = 1
        Rt = torch.zeros_like(xn); Rt[:, 0] = lin(Rl, xn[:, 0], W["head.weight"])
        p = "blocks.%d." % (cfg["depth"] - 1)
        R1, R2 = add(Rt, t["x_mid"], t["m_out"])
        R2 = lin(lin(R2, t["h1"], W[p + "mlp.fc2.weight"]), t["n2"], W[p + "mlp.fc1.weight"])
        R1, R2 = add(t["x_mid"] * (sdiv(R1, t["x_mid"]) + sdiv(R2, t["x_mid"])), t["x_in"], t["a_out"])
        R2 = lin(R2, t["ctx"], W[p + "attn.proj.weight"]).reshape(1, -1, H, hd).transpose(1, 2)
        A, V = t["attn"], t["v"]
        RA = A * (sdiv(R2, A @ V) @ V.transpose(-1, -2)) / 2
        err = np.abs(RA[0].numpy() - g["debug/R_A_last_0"][()]).max() / np.abs(g["debug/R_A_last_0"][()]).max()
        print("   %-40s max |diff| / max %.2g" % ("vit lrp-partial R_A (float32)", err))
        if not err <= 1e-3:
            bad.append("lrp-partial R_A")
        close("vit lrp-partial", RA[0].clamp(min=0).mean(0)[0, 1:].reshape(8, 8), g["map_lrp-partial_0"][()])
        close("vit lrp-partial grad", (tr["blocks"][-1]["attn"].grad * RA)[0].clamp(min=0).mean(0)[0, 1:]
              .reshape(8, 8), g["map_lrp-partial_grad_0"][()])
        # full LRP (3.1, 5.): every block (q.k^T and qkv included), the pos_embed Add, CLS
        # dropped, the patch conv by the z^B rule, channel sum; in float64 here, against a
        # float32 golden: LRP is ill-conditioned (float32 alone moves it by up to ~3% here),
        # hence test_fullgeom's loose bound 0.1 (after min-max) for a float32 golden
        m64 = ref.load_model(os.path.join(src, "models", "demo_vit.h5"), dtype=torch.float64)
        x64 = x.double()
        with torch.no_grad():
            tr64 = fwd(m64, x64)[1]
        W = m64.W
        E = cfg["embed_dim"]; L = tr64["xn"].shape[1]; P = cfg["patch_size"]; gs = cfg["img_size"] // P
        Rl = torch.zeros(1, cfg["num_classes"], dtype=torch.float64); Rl[0, c] = 1
        R = torch.zeros_like(tr64["xn"]); R[:, 0] = lin(Rl, tr64["xn"][:, 0], W["head.weight"])
        for i in reversed(range(cfg["depth"])):
            t = tr64["blocks"][i]; p = "blocks.%d." % i
            R1, R2 = add(R, t["x_mid"], t["m_out"])
            R2 = lin(lin(R2, t["h1"], W[p + "mlp.fc2.weight"]), t["n2"], W[p + "mlp.fc1.weight"])
            R1, R2 = add(t["x_mid"] * (sdiv(R1, t["x_mid"]) + sdiv(R2, t["x_mid"])), t["x_in"], t["a_out"])
            R2 = lin(R2, t["ctx"], W[p + "attn.proj.weight"]).reshape(1, L, H, hd).transpose(1, 2)
            A, Q, K, V = t["attn"], t["q"], t["k"], t["v"]
            Sv = sdiv(R2, A @ V)
            RA, RV = A * (Sv @ V.transpose(-1, -2)) / 2, V * (A.transpose(-1, -2) @ Sv) / 2
            Sq = sdiv(RA, Q @ K.transpose(-1, -2))
            Rqkv = torch.stack([Q * (Sq @ K) / 2, K * (Sq.transpose(-1, -2) @ Q) / 2, RV])
            R2 = lin(Rqkv.permute(1, 3, 0, 2, 4).reshape(1, L, 3 * E), t["n1"], W[p + "attn.qkv.weight"])
            R = t["x_in"] * (sdiv(R1, t["x_in"]) + sdiv(R2, t["x_in"]))
        tok = tr64["blocks"][0]["x_in"] - W["pos_embed"]
        R = add(R, tok, W["pos_embed"].expand_as(tok))[0][:, 1:].transpose(1, 2).reshape(1, E, gs, gs)
        w = W["patch_embed.proj.weight"]; pw, nw = w.clamp(min=0), w.clamp(max=0)
        lo, hi = x64.min() + 0 * x64, x64.max() + 0 * x64
        Sz = R / (F.conv2d(x64, w, stride=P) - F.conv2d(lo, pw, stride=P) - F.conv2d(hi, nw, stride=P) + 1e-9)
        ct = lambda a, b: F.conv_transpose2d(a, b, stride=P)
        close("vit lrp-full (float64 vs float32 golden)", (x64 * ct(Sz, w) - lo * ct(Sz, pw) - hi * ct(Sz, nw)).sum(1)[0],
              g["map_lrp-full_0"][()], tol=0.1)
    else:  # UIA (METHODS-v2.md 3.2) from the trace: the CLS rows and "ours", 4 ablations
        W, cfg = m.W, m.cfg
        L, cp, K, depth = m.seq_len, m.cls_pos, cfg["d_conv"], cfg["depth"]
        parts = []  # per layer and direction: alpha (exact CLS row), sigma(u), conv weight, SiLU(z_cls)
        for i in range(depth):
            p = "layers.%d.mixer." % i
            hs = ref.rms_norm(tr["streams"][i], W["layers.%d.norm.weight" % i], cfg["norm_eps"])
            xz = F.linear(hs, W[p + "in_proj.weight"]).transpose(1, 2).detach()
            pl = []
            for d, (sfx, xzd) in enumerate((("", xz), ("_b", xz.flip(-1)))):
                xx, z = xzd.chunk(2, dim=1)
                w, b = W[p + "conv1d%s.weight" % sfx], W[p + "conv1d%s.bias" % sfx]
                u = F.conv1d(xx, w, b, padding=K - 1, groups=w.shape[0])[..., :L]  # before SiLU
                cc = cp if d == 0 else L - 1 - cp
                alpha = ref.cls_row({k: v.detach() for k, v in tr["s6"][i][d].items()}, cc, True)
                pl.append((alpha, torch.sigmoid(u), w[:, 0], F.silu(z[:, :, cc])[..., None]))
            parts.append(pl)
        def uia_vec(i, abl):
            out = []
            for alpha, sig, w, gate in parts[i]:
                t = alpha if "act" in abl else alpha * sig
                tp = F.pad(t, (0, K - 1))  # the causal conv's transpose
                c2 = t if "conv" in abl else sum(w[:, K - 1 - j][None, :, None] * tp[..., j:j + L] for j in range(K))
                out.append(c2 if "gate" in abl else gate * c2)
            return (out[0] + out[1].flip(-1))[0].detach().double()
        # MambaLRP (METHODS-v2.md 3.4) as a modified gradient: exp(dA), dB, C detached, the
        # gate's product halved into both factors; 'paper' adds the SiLU identity rule and
        # the RMSNorm denominator detached; R = gradient x input at the embedded tokens
        Dn, N, R = cfg["d_inner"], cfg["d_state"], cfg["dt_rank"]
        def mambalrp(rules):
            def stab(t): return t + ((t == 0).to(t) + t.sign()) * 1e-6
            def act(t): return F.silu(t) if "act" not in rules else stab(t) * (F.silu(t) / stab(t)).detach()
            def norm(t, w, eps):
                d = torch.rsqrt(t.pow(2).mean(-1, keepdim=True) + eps)
                return t * (d.detach() if "norm" in rules else d) * w
            tok = ref.patch_tokens(m, x).detach()
            emb = torch.cat([tok[:, :cp], W["cls_token"], tok[:, cp:]], 1) + W["pos_embed"]
            emb = emb.detach().requires_grad_(True)
            residual, h = None, emb
            for i in range(depth):
                p = "layers.%d.mixer." % i
                r = h if residual is None else residual + h
                xz = F.linear(norm(r, W["layers.%d.norm.weight" % i], cfg["norm_eps"]),
                              W[p + "in_proj.weight"]).transpose(1, 2)
                outs = []
                for sfx, xzd in (("", xz), ("_b", xz.flip(-1))):
                    xx, z = xzd.chunk(2, dim=1)
                    u = act(F.conv1d(xx, W[p + "conv1d%s.weight" % sfx], W[p + "conv1d%s.bias" % sfx],
                                     padding=K - 1, groups=Dn)[..., :L])
                    xd = F.linear(u.transpose(1, 2), W[p + "x_proj%s.weight" % sfx])
                    delta = F.softplus(F.linear(xd[..., :R], W[p + "dt_proj%s.weight" % sfx],
                                                W[p + "dt_proj%s.bias" % sfx])).transpose(1, 2)
                    A = -torch.exp(W[p + ("A_b_log" if sfx else "A_log")])
                    dA = (delta[..., None] * A[:, None, :]).detach()
                    dB = (delta[..., None] * xd[..., R:R + N][:, None]).detach()
                    y = ref.selective_scan(dA, dB * u[..., None], xd[..., R + N:].detach())
                    y = (y + u * W[p + ("D_b" if sfx else "D")][:, None]) * act(z)
                    outs.append(y / 2 + (y / 2).detach())
                h = F.linear(((outs[0] + outs[1].flip(-1)) / 2).transpose(1, 2), W[p + "out_proj.weight"])
                residual = r
            feats = norm(residual + h, W["norm_f.weight"], cfg["final_norm_eps"])
            F.linear(feats[:, cp], W["head.weight"], W["head.bias"])[0, c].backward()
            return (emb * emb.grad)[0].sum(-1).detach().double()
        for tag, rules in (("paper", ("act", "norm")), ("vision-default", ())):
            Rm = mambalrp(rules)
            close("vim mambalrp %s" % tag, torch.cat([Rm[:cp], Rm[cp + 1:]]).reshape(8, 8),
                  g["map_mambalrp_%s_0" % tag][()])
        for i in (0, 4, 7):
            v, gv = uia_vec(i, ()).numpy(), g["debug/uia_attn_vec_0/layer_%02d" % i][()]
            err = np.abs(v - gv).max() / np.abs(gv).max()
            print("   %-40s max |diff| / max %.2g" % ("vim uia attn_vec, layer %d" % i, err))
            if not err <= 1e-4:
                bad.append("uia attn_vec layer %d" % i)
        for tag, abl in (("", ()), ("_no-conv", ("conv",)), ("_no-gate", ("gate",)), ("_no-act", ("act",))):
            Ms = []
            for i in range(depth):
                v = uia_vec(i, abl)
                sg = tr["streams"][i + 1].grad[0].double().clamp(min=0).max(1)[0]
                f = v.clamp(min=0).mean(0) * (sg - sg.min()) / (sg.max() - sg.min())
                f = (f - f.min()) / (f.max() - f.min())
                M = f[None, :] + torch.eye(L, dtype=torch.float64)
                Ms.append(M / M.sum(-1, keepdim=True))
            J = Ms[depth * 15 // 24]
            for M in Ms[depth * 15 // 24 + 1:]:
                J = M @ J
            close("vim uia%s" % tag, torch.cat([J[cp, :cp], J[cp, cp + 1:]]).clamp(min=0).reshape(8, 8),
                  g["map_uia%s_0" % tag][()])
    a = torch.linspace(1 / 16, 1, 16)
    close("%s ig riemann_right 16" % fam, (x[0] * grad(a[:, None, None, None] * x)[0].mean(0)).sum(0),
          g["map_ig_riemann_right_n16_0"][()])
    if fam == "vit":
        xi, wi = np.polynomial.legendre.leggauss(16)
        a, w = torch.tensor(0.5 * (xi + 1), dtype=torch.float32), torch.tensor(0.5 * wi, dtype=torch.float32)
        gi = grad(a[:, None, None, None] * x)[0]
        close("vit ig gausslegendre 16", (x[0] * (w[:, None, None, None] * gi).sum(0)).sum(0),
              g["map_ig_gausslegendre_n16_0"][()])
        noise = torch.from_numpy(normals(5 * x.numel()).reshape(5, *x.shape[1:]).astype(np.float32))
        close("vit smoothgrad 5", grad(x + noise)[0].abs().mean(0).sum(0), g["map_smoothgrad_n5_0"][()])
        xb = x.repeat(64, 1, 1, 1)
        for i in range(64):
            xb[i, :, (i // 8) * 8:(i // 8) * 8 + 8, (i % 8) * 8:(i % 8) * 8 + 8] = 0
        with torch.no_grad():
            drop = lg[0, c] - fwd(m, xb)[0][:, c]
        close("vit occlusion 8/8", drop.reshape(8, 8).repeat_interleave(8, 0).repeat_interleave(8, 1),
              g["map_occlusion_w8_s8_0"][()])
        # RISE: masks from the generator's u01 stream (grid N*s*s in C order, then x, y shifts
        # per mask), bilinear with half-pixel centres and numpy 'reflect' edges (d c b | a b c d:
        # skimage's mode='reflect'), cropped; softmax scores; sal = sum p_c m / (N p1)
        N, s, p1, S = 6000, 8, 0.1, 64
        cell = -(-S // s); up = (s + 1) * cell
        u = u01(N * s * s + 2 * N)
        grid = (u[:N * s * s].reshape(N, s, s) < p1).astype(np.float32)
        cc = (np.arange(up) + 0.5) * s / up - 0.5
        i0 = np.floor(cc).astype(int); fr = (cc - i0).astype(np.float32); i1 = i0 + 1
        i0 = np.abs(i0); i1 = np.where(i1 > s - 1, 2 * (s - 1) - i1, i1)
        sal = torch.zeros(S, S, dtype=torch.float64)
        for b in range(0, N, 500):
            G2 = grid[b:b + 500]
            rows = G2[:, i0] * (1 - fr)[None, :, None] + G2[:, i1] * fr[None, :, None]
            full = rows[:, :, i0] * (1 - fr)[None, None, :] + rows[:, :, i1] * fr[None, None, :]
            sx = np.floor(u[N * s * s + 2 * np.arange(b, b + len(G2))] * cell).astype(int)
            sy = np.floor(u[N * s * s + 2 * np.arange(b, b + len(G2)) + 1] * cell).astype(int)
            mk = torch.from_numpy(np.stack([full[j, sx[j]:sx[j] + S, sy[j]:sy[j] + S] for j in range(len(G2))]))
            if b == 0:
                err = np.abs(mk[:2].numpy() - g["debug/rise_masks_first2"][()]).max()
                print("   %-40s max |diff| %.2g" % ("vit rise masks 0, 1", err))
                if not err <= 1e-6:
                    bad.append("rise masks")
                if os.environ.get("MXB_GOLDENS_SLOW") != "1":
                    break  # the 6000 forwards take a minute on two cores
            with torch.no_grad():
                pr = torch.softmax(fwd(m, mk[:, None] * x)[0], 1)[:, c]
            sal += (pr.double()[:, None, None] * mk.double()).sum(0)
        if os.environ.get("MXB_GOLDENS_SLOW") == "1":
            close("vit rise 6000", sal / N / p1, g["map_rise_n6000_0"][()])
    else:
        for li in (0, 4, 7):
            mine = tr["streams"][li + 1].grad[0].double().numpy()
            gold = g["debug/uia_residual_grad_0/layer_%02d" % li][()]
            err = np.abs(mine - gold).max() / np.abs(gold).max()
            print("   %-40s max |diff| / max %.2g" % ("vim residual grad, layer %d" % li, err))
            if not err <= 1e-4:
                bad.append("vim residual grad layer %d" % li)
print("   %s" % ("all within tolerance" if not bad else "out of tolerance: " + ", ".join(bad)))
raise SystemExit(1 if bad else 0)
PYEOF
}
sanitised || check "methods2 goldens = tools/reference.py (IxG, IG, SmoothGrad, Occlusion, RISE masks, GradCAM, partial LRP, UIA, MambaLRP)" crosscheck

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
