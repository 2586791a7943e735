"""Golden data for test_fullgeom: the engine at the full geometry of the paper's
models (DeiT-S: 384 wide, 12 blocks, 6 heads; ViM-S: 384 wide, 24 layers, d_state
16, middle class token; both 224 px, patch 16, 1000 classes).

Seeded random official-format checkpoints (tools/make_random_checkpoint.py
--preset deit-s / vim-s, its weight scales), converted with
tools/convert_checkpoint.py to mxb weights files, one deterministic 224×224
input, and tools/reference.py's PyTorch models with autograd: logits, the trace
quantities the engine exposes and their gradients for the predicted class at the
first, a middle and the last layer, the exact hidden attention of one ViM layer,
and every built-in method's map (ViM: official and exact variants).

DeiT-S is computed in float64, and in float32 for context: Chefer's LRP is
ill-conditioned at this size (relprop of q·kᵀ divides by dots near zero), so
float32 rounding of the forward alone moves early blocks' relevance by percents;
each dataset's attribute f32_vs_f64 (max |f32 - f64| / max |f64|) records how far
PyTorch float32 lands, and test_fullgeom's LRP tolerance is built on it. ViM-S is
computed in float32 (float64 takes minutes here; MXB_FULLGEOM_F64=1 adds the
float64 context run: PyTorch float32 is within 5e-6 of it everywhere).

    gen_fullgeom.py OUTDIR       writes OUTDIR/{deit_s,vim_s}.h5 (weights) and
                                 OUTDIR/{deit_s,vim_s}.golden.h5

The outputs are kept when they were made by the same sources (a checksum of this
file and the three tools is stored in the golden files).
"""
import hashlib
import os
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
tools = os.path.join(os.path.dirname(here), "tools")
sys.path.insert(0, tools)
import convert_checkpoint  # noqa: E402
import make_random_checkpoint  # noqa: E402
import reference as ref  # noqa: E402

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))

SEEDS = {"deit-s": 11, "vim-s": 12}
NAMES = {"deit-s": "deit_s", "vim-s": "vim_s"}
VIT_BLOCKS = (0, 6, 11)  # first, middle, last of 12
VIM_LAYERS = (0, 12, 23)  # first, middle, last of 24
VIM_ATTN_LAYER = 12  # exact hidden-attention matrices: channel mean, and a few channels
VIM_ATTN_CHANNELS = (0, 1, 2, 767)


def source_digest():
    h = hashlib.sha256()
    for p in (os.path.abspath(__file__), os.path.join(tools, "reference.py"),
              os.path.join(tools, "make_random_checkpoint.py"),
              os.path.join(tools, "convert_checkpoint.py")):
        h.update(open(p, "rb").read())
    h.update(torch.__version__.encode())
    return h.hexdigest()


def make_input():
    """A smooth random image plus fine noise, in the range of ImageNet-normalised
    pixels (about -2.1 .. 2.6): deterministic (seeded CPU generator)."""
    g = torch.Generator().manual_seed(2024)
    low = torch.randn(1, 3, 7, 7, generator=g)
    x = F.interpolate(low, size=224, mode="bicubic", align_corners=False)
    x = x + 0.25 * torch.randn(1, 3, 224, 224, generator=g)
    return x.clamp(-2.1, 2.6)


def rel_err(a, b):
    """max |a - b| / max |b|: the measure of test_fullgeom (and test_engine)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    s = np.abs(b).max()
    return float(np.abs(a - b).max() / (s if s > 0 else 1))


def np_(t):
    return t.detach().to(torch.float64).numpy()


# ------------------------------------------------------------------ ViT (DeiT-S)
def run_vit(m, img):
    img = img.clone().requires_grad_(True)
    logits, trace = ref.vit_forward(m, img)
    klass = int(torch.argmax(logits[0]))
    one_hot = torch.zeros_like(logits)
    one_hot[0, klass] = 1
    (one_hot * logits).sum().backward()
    cams = ref.vit_relevance(m, trace, one_hot)
    start = m.default_start_layer()
    r = {"logits": np_(logits[0]), "class": klass}
    for meth in ref.METHODS:
        r["map/%s" % meth] = np_(ref.vit_method(meth, trace, cams, start)[0])
    for b in VIT_BLOCKS:
        t = trace["blocks"][b]
        r["block_%02d/attn" % b] = np_(t["attn"][0])
        r["block_%02d/attn_grad" % b] = np_(t["attn"].grad[0])
    for b, cam in enumerate(cams):  # every block: where LRP's conditioning breaks down
        r["block_%02d/attn_relevance" % b] = np_(cam[0])
    # activation scale per block, to show the model is in a sane range
    r["_stats"] = ["block %2d: |x| rms %.3g, attn max %.3g" % (
        i, float(t["x_in"].pow(2).mean().sqrt()), float(t["attn"].max()))
        for i, t in enumerate(trace["blocks"])]
    return r


# ------------------------------------------------------------------ ViM (ViM-S)
def run_vim(m, img):
    t0 = time.time()
    img = img.clone().requires_grad_(True)
    logits, trace = ref.vim_forward(m, img)
    t1 = time.time()
    for s_f, s_b in trace["s6"]:
        s_f["y"].retain_grad()
        s_b["y"].retain_grad()
    klass = int(torch.argmax(logits[0]))
    one_hot = torch.zeros_like(logits)
    one_hot[0, klass] = 1
    (one_hot * logits).sum().backward()
    t2 = time.time()
    streams, depth, c = trace["streams"], m.cfg["depth"], m.cls_pos
    grads = [streams[i + 1].grad for i in range(depth)]  # Block.get_gradients
    start = m.default_start_layer()
    r = {"logits": np_(logits[0]), "class": klass}
    with torch.no_grad():
        for variant in ("official", "exact"):
            # the methods read layers >= start only
            xai = [ref.xai_vector(m, s, variant == "exact") if l >= start or l in VIM_LAYERS
                   else None for l, s in enumerate(trace["s6"])]
            for meth in ref.METHODS:
                r["map/%s/%s" % (variant, meth)] = np_(
                    ref.vim_method(meth, xai, grads, start, c)[0])
            for l in VIM_LAYERS:
                r["layer_%02d/xai_vector_%s" % (l, variant)] = np_(xai[l][0])
        for l in VIM_LAYERS:
            p = "layer_%02d/" % l
            r[p + "residual"] = np_(streams[l][0])
            r[p + "mixer_out"] = np_(trace["mixer_out"][l][0])
            r[p + "residual_grad"] = np_(grads[l][0])
            for d, s in enumerate(trace["s6"][l]):  # the engine's layout: token-major
                q = p + ("forward/" if d == 0 else "backward/")
                r[q + "x"] = np_(s["u"][0].T)
                r[q + "delta"] = np_(s["delta"][0].T)
                r[q + "B"] = np_(s["B"][0])
                r[q + "C"] = np_(s["C"][0])
                r[q + "y"] = np_(s["y"][0].T)
                r[q + "dy"] = np_(s["y"].grad[0].T)
        # exact hidden attention of one layer: channel mean in image order (as
        # reference.attention_maps) and a few channels' matrices in branch order
        t3 = time.time()
        s_f, s_b = trace["s6"][VIM_ATTN_LAYER]
        p = "layer_%02d/" % VIM_ATTN_LAYER
        r[p + "forward/attn_mean"] = np_(ref.hidden_attention(s_f).mean(1)[0])
        r[p + "backward/attn_mean"] = np_(ref.hidden_attention(s_b).mean(1)[0].flip(0, 1))
        r[p + "forward/attn_channels"] = np_(ref.hidden_attention(s_f, VIM_ATTN_CHANNELS)[0])
        r[p + "backward/attn_channels"] = np_(ref.hidden_attention(s_b, VIM_ATTN_CHANNELS)[0])
    t4 = time.time()
    print("  forward %.1fs, backward %.1fs, xai vectors and maps %.1fs, hidden attention %.1fs"
          % (t1 - t0, t2 - t1, t3 - t2, t4 - t3))
    r["_stats"] = ["layer %2d: residual rms %.3g, mixer_out rms %.3g, delta mean %.3g" % (
        i, float(streams[i].pow(2).mean().sqrt()), float(trace["mixer_out"][i].pow(2).mean().sqrt()),
        float(trace["s6"][i][0]["delta"].mean())) for i in range(depth)]
    return r


GOLDEN_DTYPE = {"deit-s": torch.float64, "vim-s": torch.float32}


def main():
    """ViT: the golden in float64 and, always, the same in float32 for context (the
    LRP tolerance of test_fullgeom is built on it). ViM: the golden in float32
    (PyTorch's float64 depthwise conv1d and scan take minutes on 2 cores); with
    MXB_FULLGEOM_F64=1 also in float64 for context (measured: <= 5e-6 everywhere)."""
    vim_f64 = os.environ.get("MXB_FULLGEOM_F64", "") not in ("", "0")
    digest = source_digest() + ("+f64" if vim_f64 else "")
    img = make_input()
    for preset, seed in SEEDS.items():
        name = NAMES[preset]
        weights = os.path.join(out, name + ".h5")
        golden = os.path.join(out, name + ".golden.h5")
        if os.path.exists(weights) and os.path.exists(golden):
            with h5py.File(golden, "r") as f:
                if f.attrs.get("source_digest") == digest:
                    print("%s: up to date" % golden)
                    continue
        t0 = time.time()
        pth = os.path.join(out, name + ".pth")
        make_random_checkpoint.main(["--preset", preset, "--seed", str(seed), pth])
        convert_checkpoint.main([pth, weights])
        os.remove(pth)
        run = run_vit if preset.startswith("deit") else run_vim
        dt = GOLDEN_DTYPE[preset]
        t1 = time.time()
        gold = run(ref.load_model(weights, dtype=dt), img.to(dt))
        t2 = time.time()
        print("%s: checkpoint + conversion %.1fs, %s reference %.1fs" % (
            name, t1 - t0, str(dt)[6:], t2 - t1))
        f32 = f64 = None
        if dt == torch.float64:
            f64, f32 = gold, run(ref.load_model(weights, dtype=torch.float32), img.float())
        elif vim_f64:
            f32, f64 = gold, run(ref.load_model(weights, dtype=torch.float64), img.double())
        if f32 is not None:
            print("  context run in the other precision %.1fs" % (time.time() - t2))
        for line in gold["_stats"]:
            print("  " + line)
        lg = gold["logits"]
        top = np.sort(lg)[::-1]
        print("  logits: std %.3g, range %.3g, class %d, top-1 - top-2 = %.3g" % (
            lg.std(), np.ptp(lg), gold["class"], top[0] - top[1]))
        # a prediction that is not a near-tie, so both sides explain the same class
        assert top[0] - top[1] > 1e-3 * np.ptp(lg), "near-tie prediction: pick another seed"
        tmp = golden + ".partial"
        with h5py.File(tmp, "w") as f:
            f["input"] = img[0].float().numpy()
            f["class"] = np.int64(gold["class"])
            for k, v in gold.items():
                if k in ("class", "_stats"):
                    continue
                d = f.create_dataset(k, data=np.asarray(v, np.float32))
                if f32 is not None:
                    assert f32["class"] == f64["class"]
                    d.attrs["f32_vs_f64"] = rel_err(f32[k], f64[k])
                    print("  %-36s PyTorch float32 vs float64: %.3g" % (k, d.attrs["f32_vs_f64"]))
            f.attrs["preset"] = preset
            f.attrs["seed"] = seed
            f.attrs["dtype"] = str(dt)
            f.attrs["source_digest"] = digest
        os.replace(tmp, golden)
    print("wrote", out)

main()
