#!/usr/bin/env python3
"""Golden maps for the v2 explanation methods (issue 16), made by running the ORIGINAL
repositories' code (docs/METHODS-v2.md section 4). Our code only: it imports the
originals from a folder given on the command line, replaces the CUDA extension entry
points by their reference maths, applies the few documented source patches, runs the
original functions and writes HDF5. No original code is copied here.

    make_methods_goldens.py prepare --pngs DIR --out INPUTS_DIR [--repo REPO]
        (the CI machine's torch, no GPU) the inputs: INPUTS_DIR/demo_inputs.npy (the first
        4 PNGs of `mxb synth DIR --n 4 --seed 3 --size 64`, ImageNet-normalised as mxb's
        transform does, float32), INPUTS_DIR/fullgeom_input.npy (gen_fullgeom's
        make_input()); with --repo also expect_sha.txt and <model>_small_tensors.npz of the
        full-geometry checkpoints this torch makes.
    make_methods_goldens.py run --orig ORIG --inputs INPUTS_DIR --repo REPO --out OUT
        [--models deit_s,vim_s,demo_vit,demo_vim] [--expect-sha FILE]
        (GPU) OUT/methods2_<model>.golden.h5 and OUT/log.txt.
    make_methods_goldens.py merge --base A.h5 --add B.h5 --out C.h5 --note TEXT
        a second run's datasets (run --only ...) into the first run's file.

ORIG holds the trimmed checkouts: uia/MambaVision/{vim,mamba-1p1p1/mamba_ssm,
imagenet_seg_eval.py}, mlrp/mamba_lrp, te/{baselines/ViT,modules}, captum/captum,
rise/explanations.py (tests/fixtures/README.md lists the commits). REPO is an mxb
checkout (tools/make_random_checkpoint.py, models/demo_*.h5).

Random draws (SmoothGrad noise, RISE masks) come from a port of mxb's generator
(METHODS-v2.md 1.3: splitmix64, u01 = (x >> 11) 2^-53, integers floor(u01 n),
Box-Muller normals z0 = r cos 2 pi u2, z1 = r sin 2 pi u2 with r = sqrt(-2 ln(1 - u1)),
in that order), so that mxb can draw the same numbers.
"""
import argparse
import ast
import hashlib
import importlib
import importlib.util
import math
import os
import subprocess
import sys
import time
import traceback
import types

import numpy as np

SEED = 0  # the run seed of the stochastic methods ([run] seed's default)
M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


# ---- mxb's generator, vectorised (splitmix64's i-th output needs only seed + i*gamma) ----
def splitmix64_block(seed, start, n):
    """Outputs start .. start+n-1 (0-based) of splitmix64 seeded with seed."""
    with np.errstate(over="ignore"):
        i = np.arange(start + 1, start + n + 1, dtype=np.uint64)
        z = np.uint64(seed & M64) + i * np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def u01_block(seed, start, n):
    return (splitmix64_block(seed, start, n) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def normals(seed, n):
    """The first n normals of the stream seeded with seed: pair k uses u01 number 2k
    and 2k+1; normal 2k is r cos(2 pi u2), 2k+1 is r sin(2 pi u2)."""
    pairs = (n + 1) // 2
    u = u01_block(seed, 0, 2 * pairs)
    u1, u2 = u[0::2], u[1::2]
    r = np.sqrt(-2.0 * np.log(1.0 - u1))
    z = np.empty(2 * pairs)
    z[0::2] = r * np.cos(2.0 * math.pi * u2)
    z[1::2] = r * np.sin(2.0 * math.pi * u2)
    return z[:n]


class StreamRandom:
    """Stands in for numpy.random inside RISE's generate_masks: rand() and randint()
    read consecutive u01 numbers of one stream (rand in C order)."""

    def __init__(self, seed):
        self.seed, self.pos = seed, 0

    def rand(self, *shape):
        n = int(np.prod(shape))
        u = u01_block(self.seed, self.pos, n)
        self.pos += n
        return u.reshape(shape)

    def randint(self, low, high=None):
        if high is None:
            low, high = 0, low
        low, high = int(low), int(high)
        u = u01_block(self.seed, self.pos, 1)[0]
        self.pos += 1
        return low + int(math.floor(u * (high - low)))


class NumpyWithStream(types.ModuleType):
    def __init__(self, rnd):
        super().__init__("numpy_with_mxb_stream")
        self.random = rnd

    def __getattr__(self, k):
        return getattr(np, k)


# ---- inputs (run anywhere) ------------------------------------------------------------
def fullgeom_input(torch):
    """tests/gen_fullgeom.py make_input(), the same statements."""
    F = torch.nn.functional
    g = torch.Generator().manual_seed(2024)
    low = torch.randn(1, 3, 7, 7, generator=g)
    x = F.interpolate(low, size=224, mode="bicubic", align_corners=False)
    x = x + 0.25 * torch.randn(1, 3, 224, 224, generator=g)
    return x.clamp(-2.1, 2.6)


def cmd_prepare(a):
    import torch
    from PIL import Image
    os.makedirs(a.out, exist_ok=True)
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    xs = []
    for i in range(4):
        im = np.asarray(Image.open(os.path.join(a.pngs, "synth_%06d.png" % i)).convert("RGB"), np.float32)
        xs.append(((im / np.float32(255) - mean) / std).transpose(2, 0, 1).astype(np.float32))
    np.save(os.path.join(a.out, "demo_inputs.npy"), np.stack(xs))
    np.save(os.path.join(a.out, "fullgeom_input.npy"), fullgeom_input(torch)[0].numpy().astype(np.float32))
    if a.repo:
        # the full-geometry checkpoints as this torch makes them: their hashes, and the
        # small tensors, which another torch may make differently in the last bits
        # (ViM-S's dt_proj biases on torch 2.11); `run` takes those from here
        lines = []
        for preset, seed, name in (("deit-s", 11, "deit_s"), ("vim-s", 12, "vim_s")):
            p = os.path.join(a.out, name + ".pth")
            subprocess.check_call([sys.executable, os.path.join(a.repo, "tools", "make_random_checkpoint.py"),
                                   "--preset", preset, "--seed", str(seed), p], stdout=subprocess.DEVNULL)
            sd = torch.load(p, map_location="cpu")["model"]
            lines.append("%s.pth %s %s\n" % (name, sha256_file(p), content_sha(sd)))
            np.savez(os.path.join(a.out, name + "_small_tensors.npz"),
                     **{k: v.numpy() for k, v in sd.items() if v.numel() <= 80000})
            os.remove(p)
        open(os.path.join(a.out, "expect_sha.txt"), "w").writelines(lines)
    print("wrote", a.out, "with torch", torch.__version__)


def cmd_merge(a):
    """A second run's file (made with --only) into the first run's: the datasets it adds,
    its stubs/patches attributes, and for datasets both have, the largest difference."""
    import h5py
    import shutil
    shutil.copy(a.base, a.out)
    dst, add = h5py.File(a.out, "r+"), h5py.File(a.add, "r")
    names = []
    add.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    for n in names:
        if n in dst:
            if not np.array_equal(dst[n][()], add[n][()]):
                dst[n].attrs["second_run_max_abs_diff"] = float(
                    np.abs(dst[n][()].astype(np.float64) - add[n][()]).max())
            continue
        parent = n.rsplit("/", 1)[0] if "/" in n else "/"
        add.copy(add[n], dst.require_group(parent), name=n.rsplit("/", 1)[-1])
    for k in ("patches", "stubs"):
        dst.attrs[k] = add.attrs[k]
    dst.attrs["runs"] = a.note
    dst.close()


# ---- loading the originals ---------------------------------------------------------------
STUBS = []    # what was stubbed (stored in every golden file)
PATCHES = []  # source patches (idem)


def patched_source(path, replacements):
    src = open(path).read()
    for old, new, why in replacements:
        n = src.count(old)
        if n != 1:
            raise RuntimeError("%s: patch anchor %r found %d times" % (path, old, n))
        src = src.replace(old, new)
        PATCHES.append("%s: %r -> %r (%s)" % (os.path.basename(path), old, new, why))
    return src


def load_module(name, path, replacements=(), extra_globals=None):
    """Import the file at path as module name, after exact, counted source replacements."""
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    if extra_globals:
        mod.__dict__.update(extra_globals)
    sys.modules[name] = mod
    exec(compile(patched_source(path, replacements), path, "exec"), mod.__dict__)
    return mod


def install_import_stubs(torch):
    F = torch.nn.functional
    amp = torch.cuda.amp
    if not hasattr(amp, "custom_fwd"):  # removed from torch.cuda.amp: the same decorators of torch.amp
        amp.custom_fwd = lambda f=None, **k: torch.amp.custom_fwd(f, device_type="cuda", **k)
        amp.custom_bwd = lambda f=None, **k: torch.amp.custom_bwd(f, device_type="cuda", **k)
        STUBS.append("torch.cuda.amp.custom_fwd/custom_bwd -> torch.amp's (device_type cuda)")

    def conv_ref(x, w, b, act):
        K = w.shape[-1]
        y = F.conv1d(x, w.unsqueeze(1), b, padding=K - 1, groups=w.shape[0])[..., : x.shape[-1]]
        return F.silu(y) if act in (True, "silu", "swish") else y

    m = types.ModuleType("causal_conv1d")
    m.causal_conv1d_fn = lambda x, weight, bias=None, activation=None, **k: conv_ref(x, weight, bias, activation)
    m.causal_conv1d_update = None
    sys.modules["causal_conv1d"] = m

    cc = types.ModuleType("causal_conv1d_cuda")

    def causal_conv1d_fwd(x, w, b, seq_idx, initial_states, final_states_out, silu):
        return conv_ref(x, w, b, bool(silu))

    def causal_conv1d_bwd(x, w, b, dout, seq_idx, initial_states, dfinal_states, dx,
                          return_dinitial_states, silu):
        with torch.enable_grad():
            xi = x.detach().requires_grad_(True)
            wi = w.detach().requires_grad_(True)
            bi = b.detach().requires_grad_(True) if b is not None else None
            y = conv_ref(xi, wi, bi, bool(silu))
            g = torch.autograd.grad(y, [t for t in (xi, wi, bi) if t is not None], dout)
        gx, gw = g[0], g[1]
        gb = g[2] if b is not None else None
        if dx is not None:  # the kernel writes into a given dx (a view of dxz)
            dx.copy_(gx)
            gx = dx
        return gx, gw, gb, None

    cc.causal_conv1d_fwd, cc.causal_conv1d_bwd = causal_conv1d_fwd, causal_conv1d_bwd
    sys.modules["causal_conv1d_cuda"] = cc

    ss = types.ModuleType("selective_scan_cuda")

    def ref():
        return sys.modules["mamba_ssm.ops.selective_scan_interface"].selective_scan_ref

    def ss_fwd(u, delta, A, B, C, D, z, delta_bias, softplus):
        out = ref()(u, delta, A, B, C, D, None, delta_bias, softplus)
        if z is None:
            return out, None
        return out, None, out * F.silu(z.float()).to(out.dtype)

    def ss_bwd(u, delta, A, B, C, D, z, delta_bias, dout, x, out, dz, softplus, recompute_out_z):
        with torch.enable_grad():
            ins = [t.detach().requires_grad_(True) if t is not None else None
                   for t in (u, delta, A, B, C, D, z, delta_bias)]
            y = ref()(*ins, softplus)
            live = [t for t in ins if t is not None]
            gl = list(torch.autograd.grad(y, live, dout, allow_unused=True))
        grads = []
        for t in ins:
            if t is None:
                grads.append(None)
            else:
                gi = gl.pop(0)
                grads.append(gi if gi is not None else torch.zeros_like(t))
        du, ddelta, dA, dB, dC, dD, dzz, ddb = grads
        if z is not None and dz is not None:  # the kernel writes into a given dz
            dz.copy_(dzz)
            dzz = dz
        res = [du, ddelta, dA, dB, dC, dD, ddb]
        if z is not None:
            res.append(dzz)
            if recompute_out_z:
                res.append(y.detach())
        return tuple(res)

    ss.fwd, ss.bwd = ss_fwd, ss_bwd
    sys.modules["selective_scan_cuda"] = ss
    STUBS.extend([
        "causal_conv1d.causal_conv1d_fn = F.conv1d(x, w[:,None,:], b, padding=K-1, groups=D)[..., :L] (+SiLU)",
        "causal_conv1d_cuda.causal_conv1d_fwd (7 args) = the same; causal_conv1d_bwd (10 args, writes a given dx) "
        "= torch.autograd.grad of it",
        "selective_scan_cuda.fwd = (selective_scan_ref(u, delta, A, B, C, D, None, delta_bias, softplus), None, "
        "out * silu(z)); .bwd = torch.autograd.grad of selective_scan_ref (writes a given dz)",
    ])
    # import-only: modules the model files import but never call here
    for name, attrs in (("transformers", {}), ("transformers.generation",
                        dict(GreedySearchDecoderOnlyOutput=object, SampleDecoderOnlyOutput=object,
                             TextStreamer=object)),
                        ("transformers.utils", dict(WEIGHTS_NAME="pytorch_model.bin", CONFIG_NAME="config.json")),
                        ("transformers.utils.hub", dict(cached_file=None))):
        try:
            mm = importlib.import_module(name)
        except Exception:
            mm = types.ModuleType(name)
            mm.__path__ = []
            sys.modules[name] = mm
            STUBS.append("import-only stub %s (not installed; nothing of it is called)" % name)
        for an, av in attrs.items():
            if not hasattr(mm, an):  # names newer transformers dropped; imported, never called
                setattr(mm, an, av)
                STUBS.append("import-only name %s.%s (absent in this transformers; never called)" % (name, an))
    try:
        importlib.import_module("tqdm.auto")  # present: used as is
    except Exception:
        tm, ta = types.ModuleType("tqdm"), types.ModuleType("tqdm.auto")
        tm.tqdm = ta.tqdm = lambda it=None, *x, **k: it
        tm.auto = ta
        sys.modules["tqdm"], sys.modules["tqdm.auto"] = tm, ta
        STUBS.append("import-only stub tqdm (progress bars)")


UIA_CFG = {"cls": 98, "ablate": {"gate": False, "conv": False, "act": False}}


def load_uia(orig, torch):
    base = os.path.join(orig, "uia", "MambaVision")
    sys.path.insert(0, os.path.join(base, "mamba-1p1p1"))
    sys.path.insert(0, os.path.join(base, "vim"))
    install_import_stubs(torch)
    ssi_path = os.path.join(base, "mamba-1p1p1", "mamba_ssm", "ops", "selective_scan_interface.py")
    # the packages without their __init__ (mamba_ssm's imports the scan module and the LM
    # head model): the patched module must be in sys.modules before anything imports it
    for pkg in ("mamba_ssm", "mamba_ssm.ops"):
        pm = types.ModuleType(pkg)
        pm.__path__ = [os.path.join(base, "mamba-1p1p1", *pkg.split("."))]
        sys.modules[pkg] = pm
    load_module("mamba_ssm.ops.selective_scan_interface", ssi_path, [
        ("CLSposition = 98", "CLSposition = _MXB_UIA['cls']",
         "the class-token position literal, for the geometry at hand (98 for 197 tokens)"),
        ("ablate_gate = False", "ablate_gate = _MXB_UIA['ablate']['gate']", "UIA ablation local, set per run"),
        ("ablate_conv = False", "ablate_conv = _MXB_UIA['ablate']['conv']", "UIA ablation local, set per run"),
        ("ablate_act = False", "ablate_act = _MXB_UIA['ablate']['act']", "UIA ablation local, set per run"),
        ("dconv1d_out, None,None,None,None,True,  False", "dconv1d_out, None,None,None,dx,False,  True",
         "MambaInnerFnNoOutProj.backward's conv backward to the upstream form (pass the dx view of dxz, "
         "SiLU on); released: dx=None, silu=False, so the x half of dxz stays uninitialised"),
    ], extra_globals={"_MXB_UIA": UIA_CFG})
    mm = load_module("models_mamba", os.path.join(base, "vim", "models_mamba.py"), [
        ("        residual.register_hook(self.save_gradients)\n",
         "        if residual.requires_grad: residual.register_hook(self.save_gradients)\n",
         "Block.forward registers its gradient hook only when there is a graph, so that no_grad "
         "forwards (occlusion, RISE) run; with a graph nothing changes")])
    # vim/ holds top-level names (utils, datasets, engine, losses) that must not shadow others
    sys.path.remove(os.path.join(base, "vim"))
    seg_src = open(os.path.join(base, "imagenet_seg_eval.py")).read()
    return mm, seg_src


def uia_generate_ours(seg_src, model, cls_pos, start_layer, torch):
    """generate_ours and compute_rollout_attention taken from imagenet_seg_eval.py
    (a module-level script that cannot be imported: data loaders, a checkpoint path),
    with its literals 98/99/15 replaced for the geometry."""
    tree = ast.parse(seg_src)
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)
             and n.name in ("generate_ours", "compute_rollout_attention")]
    src = "\n\n".join(ast.get_source_segment(seg_src, f) for f in funcs)
    for old, new, n in (("cls_pos = 98", "cls_pos = _MXB_CLS", 1), ("[:,:,99:]", "[:,:,_MXB_CLS+1:]", 2),
                        ("start_layer=15", "start_layer=_MXB_START", 1)):
        if src.count(old) != n:
            raise RuntimeError("imagenet_seg_eval.py: anchor %r found %d times" % (old, src.count(old)))
        src = src.replace(old, new)
        note = ("imagenet_seg_eval.py generate_ours: %r -> %r (x%d; the geometry's class position / "
                "start layer depth*15//24)" % (old, new, n))
        if note not in PATCHES:
            PATCHES.append(note)
    ns = {"np": np, "torch": torch, "modified_model": model, "_MXB_CLS": cls_pos, "_MXB_START": start_layer}
    exec(compile(src, "imagenet_seg_eval.py(generate_ours)", "exec"), ns)
    return ns["generate_ours"]


def load_te(orig):
    te = os.path.join(orig, "te")
    sys.path.insert(0, te)
    vit_new = importlib.import_module("baselines.ViT.ViT_new")
    vit_orig = load_module("baselines.ViT.ViT_orig_LRP", os.path.join(te, "baselines", "ViT", "ViT_orig_LRP.py"),
                           [("indices=torch.tensor(0, device=x.device)", "indices=torch.tensor([0], device=x.device)",
                             "torch 2 fails in the backward of index_select with a 0-d index (expand [1,1,E] to "
                             "[1,E]); [0] selects the same row, same shapes")])
    gen = load_module("baselines.ViT.ViT_explanation_generator",
                      os.path.join(te, "baselines", "ViT", "ViT_explanation_generator.py"),
                      [("cam = cam[0, :, 0, 1:].reshape(-1, 14, 14)",
                        "cam = cam[0, :, 0, 1:].reshape(-1, _MXB_G, _MXB_G)", "the 14x14 patch grid literal"),
                       ("grad = grad[0, :, 0, 1:].reshape(-1, 14, 14)",
                        "grad = grad[0, :, 0, 1:].reshape(-1, _MXB_G, _MXB_G)", "the 14x14 patch grid literal")],
                      extra_globals={"_MXB_G": 14})
    return vit_new, vit_orig, gen


def load_captum(orig):
    root = os.path.join(orig, "captum")
    for name, sub in (("captum", "captum"), ("captum.attr", "captum/attr")):
        if name not in sys.modules:  # skip the package __init__s (they import every submodule)
            m = types.ModuleType(name)
            m.__path__ = [os.path.join(root, sub)]
            sys.modules[name] = m
    mods = {k: importlib.import_module("captum.attr._core." + k)
            for k in ("integrated_gradients", "noise_tunnel", "saliency", "input_x_gradient", "occlusion")}
    return mods


# ---- HDF5 ----------------------------------------------------------------------------------
class Out:
    def __init__(self, path):
        import h5py
        self.f = h5py.File(path, "w")

    def put(self, name, value, dtype=np.float32, **attrs):
        d = self.f.create_dataset(name, data=np.asarray(value, dtype))
        for k, v in attrs.items():
            d.attrs[k] = v
        return d


def minmax(a):
    a = np.asarray(a, np.float64)
    r = a.max() - a.min()
    return (a - a.min()) / r if r > 0 else np.zeros_like(a)


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    s = np.abs(b).max()
    return float(np.abs(a - b).max() / (s if s > 0 else 1))


# ---- the runs --------------------------------------------------------------------------------
def h5_state_dict(path, torch):
    import h5py
    with h5py.File(path, "r") as f:
        sd = {}
        f.visititems(lambda n, o: sd.__setitem__(n, torch.from_numpy(o[()])) if hasattr(o, "shape") else None)
        attrs = {k: f.attrs[k] for k in f.attrs}
    return sd, attrs


def sha256_file(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def content_sha(sd):
    h = hashlib.sha256()
    for k in sorted(sd):
        t = sd[k].detach().contiguous().cpu()
        h.update(k.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def main_run(a):
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.use_deterministic_algorithms(True, warn_only=True)
    dev = torch.device("cuda")
    os.makedirs(a.out, exist_ok=True)
    logf = open(os.path.join(a.out, "log.txt"), "a")

    def log(*x):
        s = " ".join(str(v) for v in x)
        print(s, flush=True)
        logf.write(s + "\n")
        logf.flush()

    log("== make_methods_goldens", time.strftime("%Y-%m-%d %H:%M:%S"), "torch", torch.__version__,
        torch.cuda.get_device_name(0))
    mm, seg_src = load_uia(a.orig, torch)
    vit_new, vit_orig, te_gen = load_te(a.orig)
    cap = load_captum(a.orig)
    rise_mod = load_module("explanations", os.path.join(a.orig, "rise", "explanations.py"))
    mlrp_ok = True
    try:
        sys.path.insert(0, os.path.join(a.orig, "mlrp"))
        mlrp_vm = importlib.import_module("mamba_lrp.model.vision_mamba")
        mlrp_ut = importlib.import_module("mamba_lrp.lrp.utils")
    except Exception:
        mlrp_ok = False
        log("MambaLRP import failed:\n" + traceback.format_exc())
    PATCHES.append("captum: NoiseTunnel._add_noise_to_input's torch.normal replaced by mxb's normal stream "
                   "(noise[k,c,y,x] = float32(stdev * normal[((k*C+c)*H+y)*W+x]), seed restarted per image)")
    PATCHES.append("RISE explanations.py: np.random.rand/randint -> mxb's u01 stream (rand: N*s*s in C order, "
                   "then per mask randint x, randint y = floor(u01*cell))")

    models = a.models.split(",")
    inputs_demo = np.load(os.path.join(a.inputs, "demo_inputs.npy"))
    input_full = np.load(os.path.join(a.inputs, "fullgeom_input.npy"))
    expect = {}
    if a.expect_sha and os.path.exists(a.expect_sha):
        for line in open(a.expect_sha):
            p = line.split()
            if len(p) == 3:
                expect[os.path.basename(p[0])] = (p[1], p[2])

    common = dict(originals=a.commits, stubs="\n".join(STUBS), torch_version=str(torch.__version__),
                  device=torch.cuda.get_device_name(0), tf32="off", seed=SEED,
                  made=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                  generator="tools/goldens/make_methods_goldens.py")

    def full_ckpt(preset, seed, name):
        p = os.path.join("/tmp", name + ".pth")  # ~100 MB: regenerated, never carried
        if not os.path.exists(p):
            subprocess.check_call([sys.executable, os.path.join(a.repo, "tools", "make_random_checkpoint.py"),
                                   "--preset", preset, "--seed", str(seed), p])
        ck = torch.load(p, map_location="cpu", weights_only=False)
        sd = ck["model"]
        fs, cs = sha256_file(p), content_sha(sd)
        e = expect.get(name + ".pth")
        log("%s.pth sha256 %s content %s; made on the CI machine (torch 1.13): %s" % (name, fs, cs, e))
        info = dict(weights_cmd="tools/make_random_checkpoint.py --preset %s --seed %d" % (preset, seed),
                    weights_sha256_here=fs, weights_content_sha256_here=cs)
        if e:
            info.update(weights_sha256=e[0], weights_content_sha256=e[1],
                        same_weights_on_both_torches=int(e[1] == cs))
            small = os.path.join(a.inputs, name + "_small_tensors.npz")
            if e[1] != cs and os.path.exists(small):
                # the tensors that differ (elementwise log/exp of another torch) come from
                # the checkpoint made with torch 1.13, carried here: the weights are then
                # those the CI machine makes
                ref = np.load(small)
                diff = [k for k in ref.files if not np.array_equal(ref[k], sd[k].numpy())]
                for k in diff:
                    sd[k] = torch.from_numpy(ref[k].copy())
                big = [k for k in sd if k not in ref.files]
                cs2 = content_sha(sd)
                leaves = sorted({k.split(".")[-1] for k in diff})
                log("  %d tensors differ (%s); replaced by the torch 1.13 values; content now %s (%s)" %
                    (len(diff), ",".join(leaves), cs2, "same" if cs2 == e[1] else "STILL DIFFERENT"))
                info.update(weights_replaced_by_torch113="%d tensors: %s" % (len(diff), ",".join(leaves)),
                            weights_content_sha256_used=cs2, weights_as_on_ci=int(cs2 == e[1]))
                if cs2 != e[1]:
                    raise RuntimeError("weights differ in large tensors too: %s" % big[:3])
            else:
                info.update(weights_content_sha256_used=cs, weights_as_on_ci=int(cs == e[1]))
        return sd, info

    def step(name, fn):
        if a.only and name.split()[0] not in a.only.split(","):
            return
        t0 = time.time()
        try:
            fn()
            log("  ok   %-44s %6.1f s" % (name, time.time() - t0))
        except Exception:
            log("  FAIL %-44s %6.1f s\n%s" % (name, time.time() - t0, traceback.format_exc()))

    for name in models:
        t_model = time.time()
        out = Out(os.path.join(a.out, "methods2_%s.golden.h5" % name))
        out.f.attrs.update(common)
        out.f.attrs["model"] = name
        log("== model", name)
        if name in ("deit_s", "demo_vit"):
            if name == "deit_s":
                sd, info = full_ckpt("deit-s", 11, name)
                geo = dict(img=224, patch=16, embed=384, depth=12, heads=6, classes=1000)
                xs = input_full[None]
            else:
                path = os.path.join(a.repo, "models", "demo_vit.h5")
                sd, at = h5_state_dict(path, torch)
                info = dict(weights="models/demo_vit.h5", weights_sha256=sha256_file(path))
                geo = dict(img=64, patch=8, embed=128, depth=6, heads=4, classes=10)
                xs = inputs_demo
            out.f.attrs.update(info)
            run_vit(a, torch, dev, out, log, step, sd, geo, xs, vit_new, vit_orig, te_gen, cap, rise_mod,
                    full=(name == "deit_s"))
        else:
            if name == "vim_s":
                sd, info = full_ckpt("vim-s", 12, name)
                geo = dict(img=224, patch=16, embed=384, depth=24, classes=1000)
                xs = input_full[None]
            else:
                path = os.path.join(a.repo, "models", "demo_vim.h5")
                sd, at = h5_state_dict(path, torch)
                info = dict(weights="models/demo_vim.h5", weights_sha256=sha256_file(path))
                geo = dict(img=64, patch=8, embed=128, depth=8, classes=10)
                xs = inputs_demo
            out.f.attrs.update(info)
            run_vim(a, torch, dev, out, log, step, sd, geo, xs, mm, seg_src,
                    mlrp_vm if mlrp_ok else None, mlrp_ut if mlrp_ok else None, cap, rise_mod,
                    full=(name == "vim_s"))
        out.f.attrs["patches"] = "\n".join(PATCHES)
        out.f.attrs["stubs"] = "\n".join(STUBS)
        rng = out.f.require_group("rng")
        rng.create_dataset("u01", data=u01_block(SEED, 0, 32))
        rng.create_dataset("normal", data=normals(SEED, 32))
        rng.attrs["seed"] = SEED
        out.f.close()
        log("== %s done in %.1f s" % (name, time.time() - t_model))


# ---- model-agnostic methods (both families) ----------------------------------------------------
def agnostic(torch, dev, out, step, model, x, cls, k, full, patch, cap, rise_mod, softmax_model):
    """Captum IxG / IG / SmoothGrad / Occlusion and RISE on one image; pixel maps =
    channel sum of Captum's [3,S,S] attributions (METHODS-v2.md 3.6)."""
    S = x.shape[-1]
    xt = torch.from_numpy(x[None]).to(dev)

    def pix(attr):
        return attr.detach().double().sum(1)[0].cpu().numpy()

    def ixg():
        A = cap["input_x_gradient"].InputXGradient(model).attribute(xt.clone().requires_grad_(True), target=cls)
        out.put("map_ixg_%d" % k, pix(A), method="ixg", call="InputXGradient(model).attribute(x, target=cls)",
                channels="sum")
    step("ixg", ixg)

    rules = ["riemann_trapezoid", "gausslegendre"] if full else \
        ["riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre"]
    runs = [(r, 16) for r in rules] + ([] if full else [("gausslegendre", 50)])
    for rule, n in runs:
        def ig(rule=rule, n=n):
            A = cap["integrated_gradients"].IntegratedGradients(model).attribute(
                xt.clone(), target=cls, n_steps=n, method=rule)
            out.put("map_ig_%s_n%d_%d" % (rule, n, k), pix(A), method="ig", rule=rule, steps=n, baseline="zero",
                    channels="sum",
                    call="IntegratedGradients(model).attribute(x, target=cls, n_steps=%d, method=%r)" % (n, rule))
        step("ig %s n=%d" % (rule, n), ig)

    nt = cap["noise_tunnel"]

    def noise_from_stream(input, stdev, nt_samples_partition):
        shape = (input.shape[0] * nt_samples_partition,) + tuple(input.shape[1:])
        z = normals(SEED, int(np.prod(shape))).reshape(shape)
        noise = torch.from_numpy((stdev * z).astype(np.float32)).to(input.device, input.dtype)
        return input.repeat_interleave(nt_samples_partition, dim=0) + noise

    nt.NoiseTunnel._add_noise_to_input = staticmethod(noise_from_stream)
    for n in ([5] if full else [5, 50]):
        def sg(n=n):
            A = nt.NoiseTunnel(cap["saliency"].Saliency(model)).attribute(
                xt.clone(), nt_type="smoothgrad", nt_samples=n, stdevs=1.0, target=cls)
            out.put("map_smoothgrad_n%d_%d" % (n, k), pix(A), method="smoothgrad", samples=n, sigma=1.0,
                    sigma_mode="absolute", nt_type="smoothgrad", base="saliency(abs=True)", channels="sum",
                    seed=SEED,
                    call="NoiseTunnel(Saliency(model)).attribute(x, nt_type='smoothgrad', nt_samples=%d, "
                         "stdevs=1.0, target=cls)" % n)
        step("smoothgrad n=%d" % n, sg)

    occl = [(patch, patch // 2)] + ([] if full else [(patch, patch)])
    for w, s in occl:
        def oc(w=w, s=s):
            with torch.no_grad():
                A = cap["occlusion"].Occlusion(model).attribute(
                    xt.clone(), sliding_window_shapes=(3, w, w), strides=(3, s, s), baselines=0, target=cls,
                    perturbations_per_eval=128)
            out.put("map_occlusion_w%d_s%d_%d" % (w, s, k), pix(A), method="occlusion", window=w, stride=s,
                    baseline=0.0, channels="sum",
                    call="Occlusion(model).attribute(x, sliding_window_shapes=(3,%d,%d), strides=(3,%d,%d), "
                         "baselines=0, target=cls)" % (w, w, s, s))
        step("occlusion %d/%d" % (w, s), oc)

    N = 64 if full else 6000

    def rise():
        rise_mod.np = NumpyWithStream(StreamRandom(SEED))
        ex = rise_mod.RISE(softmax_model, (S, S), gpu_batch=1000)
        ex.generate_masks(N, 8, 0.1, savepath="/tmp/rise_masks.npy")
        with torch.no_grad():
            sal = ex(xt)
        out.put("map_rise_n%d_%d" % (N, k), sal[cls].double().cpu().numpy(), method="rise", masks=N, cells=8,
                p=0.1, score="softmax", seed=SEED,
                call="RISE(Sequential(model, Softmax(1)), (S,S)).generate_masks(%d, 8, 0.1); RISE(x)[cls]" % N)
        if k == 0:
            out.put("debug/rise_masks_first2", ex.masks[:2, 0].cpu().numpy())
    step("rise N=%d" % N, rise)


def run_vit(a, torch, dev, out, log, step, sd, geo, xs, vit_new, vit_orig, te_gen, cap, rise_mod, full):
    from functools import partial
    g = geo["img"] // geo["patch"]
    te_gen.__dict__["_MXB_G"] = g
    kw = dict(img_size=geo["img"], patch_size=geo["patch"], embed_dim=geo["embed"], depth=geo["depth"],
              num_heads=geo["heads"], mlp_ratio=4, qkv_bias=True, num_classes=geo["classes"])

    def make_new(final_eps):
        m = vit_new.VisionTransformer(norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), **kw)
        m.load_state_dict(sd)
        m.norm.eps = final_eps
        return m.to(dev).eval()

    def make_orig(dtype):
        m = vit_orig.VisionTransformer(**kw)
        m.load_state_dict(sd, strict=True)
        return m.to(dev, dtype).eval()

    new6, new5 = make_new(1e-6), make_new(1e-5)
    orig32 = make_orig(torch.float32)
    orig64 = make_orig(torch.float64) if full else None
    out.f.attrs["vit_models"] = ("ViT_new.VisionTransformer(norm_layer=LayerNorm eps 1e-6) for gradcam (final "
                                 "norm eps 1e-6 as the original builds it, and 1e-5 as mxb's weights); "
                                 "ViT_orig_LRP.VisionTransformer (block norms 1e-6, final 1e-5) for LRP; "
                                 "ViT_new with final eps 1e-5 for the model-agnostic methods")
    for k in range(xs.shape[0]):
        x = torch.from_numpy(xs[k][None]).to(dev)
        out.put("input_%d" % k, xs[k])
        lg = orig32(x)[0].detach().double().cpu().numpy()  # with a graph: its forward registers a hook
        cls = int(np.argmax(lg))
        out.put("logits_%d" % k, lg)
        out.put("class_%d" % k, cls, dtype=np.int32)
        log(" image %d class %d" % (k, cls))

        def gradcam():
            for mdl, tag in ((new6, ""), (new5, "_eps1e-5")):
                cam = te_gen.Baselines(mdl).generate_cam_attn(x)
                out.put("map_gradcam%s_%d" % (tag, k), cam.detach().double().cpu().numpy(), method="gradcam",
                        final_norm_eps=mdl.norm.eps, call="Baselines(ViT_new).generate_cam_attn(x)")
        step("gradcam", gradcam)

        def lrp_partial():
            for abl in (False, True):
                m32 = te_gen.LRP(orig32).generate_LRP(x, method="last_layer", is_ablation=abl)
                r32 = m32.detach().double().cpu().numpy().reshape(g, g)
                tag = "_grad" if abl else ""
                attrs = dict(method="lrp-partial", is_ablation=int(abl),
                             call="LRP(ViT_orig_LRP).generate_LRP(x, method='last_layer', is_ablation=%s)" % abl)
                if not abl:
                    cam = orig32.blocks[-1].attn.get_attn_cam()[0].detach().double().cpu().numpy()
                if orig64 is not None:
                    m64 = te_gen.LRP(orig64).generate_LRP(x.double(), method="last_layer", is_ablation=abl)
                    r64 = m64.detach().double().cpu().numpy().reshape(g, g)
                    d = out.put("map_lrp-partial%s_%d" % (tag, k), r64, dtype_run="float64", **attrs)
                    d.attrs["f32_vs_f64"] = rel_err(r32, r64)
                    d.attrs["f32_vs_f64_minmax"] = float(np.abs(minmax(r32) - minmax(r64)).max())
                    out.put("map_lrp-partial%s_f32_%d" % (tag, k), r32, dtype_run="float32", **attrs)
                    if not abl:
                        cam64 = orig64.blocks[-1].attn.get_attn_cam()[0].detach().double().cpu().numpy()
                        d = out.put("debug/R_A_last_row0_%d" % k, cam64[:, 0, :])
                        d.attrs["f32_vs_f64"] = rel_err(cam[:, 0, :], cam64[:, 0, :])
                else:
                    out.put("map_lrp-partial%s_%d" % (tag, k), r32, dtype_run="float32", **attrs)
                    if not abl:
                        out.put(("debug/R_A_last_%d" % k) if k == 0 else ("debug/R_A_last_row0_%d" % k),
                                cam if k == 0 else cam[:, 0, :])
        step("lrp-partial", lrp_partial)

        def lrp_full():
            attrs = dict(method="lrp-full", call="LRP(ViT_orig_LRP).generate_LRP(x, method='full')",
                         map_kind="pixels (channel sum)")
            r32 = te_gen.LRP(orig32).generate_LRP(x, method="full")[0].detach().double().cpu().numpy()
            if orig64 is not None:
                r64 = te_gen.LRP(orig64).generate_LRP(x.double(), method="full")[0].detach().double().cpu().numpy()
                d = out.put("map_lrp-full_%d" % k, r64, dtype_run="float64", **attrs)
                d.attrs["f32_vs_f64"] = rel_err(r32, r64)
                d.attrs["f32_vs_f64_minmax"] = float(np.abs(minmax(r32) - minmax(r64)).max())
                out.put("map_lrp-full_f32_%d" % k, r32, dtype_run="float32", **attrs)
            else:
                out.put("map_lrp-full_%d" % k, r32, dtype_run="float32", **attrs)
        step("lrp-full", lrp_full)

        soft = torch.nn.Sequential(new5, torch.nn.Softmax(dim=1)).eval()
        agnostic(torch, dev, out, step, new5, xs[k], cls, k, full, geo["patch"], cap, rise_mod, soft)


def run_vim(a, torch, dev, out, log, step, sd, geo, xs, mm, seg_src, mlrp_vm, mlrp_ut, cap, rise_mod, full):
    g = geo["img"] // geo["patch"]
    L = g * g + 1
    cls_pos = (L - 1) // 2
    depth = geo["depth"]
    start = depth * 15 // 24
    UIA_CFG["cls"] = cls_pos

    def make():
        m = mm.VisionMamba(img_size=geo["img"], patch_size=geo["patch"], stride=geo["patch"],
                           embed_dim=geo["embed"], depth=depth, rms_norm=True, residual_in_fp32=True,
                           fused_add_norm=True, final_pool_type="mean", if_abs_pos_embed=True, if_rope=False,
                           if_rope_residual=False, bimamba_type="v2", if_cls_token=True, if_devide_out=True,
                           use_middle_cls_token=True, num_classes=geo["classes"], drop_rate=0.0,
                           drop_path_rate=0.0)
        m.load_state_dict(sd, strict=True)
        return m.to(dev).eval()

    vim = make()
    out.f.attrs["vim_model"] = ("models_mamba.VisionMamba with the arguments of vim_small_patch16_224_bimambav2_"
                                "final_pool_mean_abs_pos_embed_with_midclstok_div2, geometry %s" % geo)
    out.f.attrs["uia_cls_pos"] = cls_pos
    out.f.attrs["uia_start_layer"] = start
    dbg_layers = sorted({0, depth // 2, depth - 1})
    D = vim.layers[0].mixer.d_inner
    chans = list(range(D)) if not full else [0, 1, 2, D - 1]
    for k in range(xs.shape[0]):
        x = torch.from_numpy(xs[k][None]).to(dev)
        out.put("input_%d" % k, xs[k])
        with torch.no_grad():
            lg = vim(x)[0].double().cpu().numpy()
        cls = int(np.argmax(lg))
        out.put("logits_%d" % k, lg)
        out.put("class_%d" % k, cls, dtype=np.int32)
        log(" image %d class %d" % (k, cls))

        def uia():
            for lay in vim.layers:
                lay.mixer.saveAttnVec = True
            gen = uia_generate_ours(seg_src, vim, cls_pos, start, torch)
            combos = (("", {}), ("_no-conv", {"conv": True}), ("_no-gate", {"gate": True}), ("_no-act", {"act": True}))
            for tag, abl in (combos if (k == 0 and not full) else combos[:1]):
                UIA_CFG["ablate"] = {"gate": False, "conv": False, "act": False, **abl}
                vim.zero_grad()
                p = gen(vim, x.clone())
                out.put("map_uia%s_%d" % (tag, k), p.detach().double().cpu().numpy().reshape(g, g), method="uia",
                        ablate=",".join(sorted(abl)) or "none", start_layer=start, cls_pos=cls_pos,
                        call="generate_ours(model, x) (imagenet_seg_eval.py), saveAttnVec on every layer")
                if not tag and (k == 0 or full):
                    for li in dbg_layers:
                        mx = vim.layers[li].mixer
                        v = mx.attn_vec[0].detach().double().cpu().numpy()
                        d = out.put("debug/uia_attn_vec_%d/layer_%02d" % (k, li), v[chans])
                        d.attrs["channels"] = np.asarray(chans if full else [-1], np.int64)
                        d.attrs["what"] = "mixer.attn_vec = attn_vec_a + flip(attn_vec_b) [channel, L], image order"
                        if not full:
                            grd = vim.layers[li].get_gradients()[0].detach().double().cpu().numpy()
                            out.put("debug/uia_residual_grad_%d/layer_%02d" % (k, li), grd)
            UIA_CFG["ablate"] = {"gate": False, "conv": False, "act": False}
            for lay in vim.layers:
                lay.mixer.saveAttnVec = False
        step("uia (4 ablation combos)", uia)

        if not full and k == 0:
            def uia_matrix():
                li = depth // 2
                mx = vim.layers[li].mixer
                mx.saveAttnMat = True
                with torch.no_grad():
                    vim(x)
                mx.saveAttnMat = False
                sel = [0, 1, 2, D - 1]
                Ma = mx.attn_mat[0, sel].double().cpu().numpy()
                Mb = mx.attn_mat_b[0, sel].double().cpu().numpy()
                d = out.put("debug/uia_matrix_layer_%02d" % li, np.stack([Ma, Mb]))
                d.attrs["channels"] = np.asarray(sel, np.int64)
                d.attrs["what"] = ("[direction (0 forward, 1 backward in its own flipped order), channel, L, L]: "
                                   "gate @ attn_mat @ diag(sigmoid(u)) @ conv2Mat^T (saveAttnMat)")
            step("uiamatrix (1 layer, 4 channels)", uia_matrix)

        if mlrp_vm is not None:
            def mlrp():
                for tag, T in (("paper", ["act", "norm"]), ("vision-default", []),
                               ("paper_conv-gamma", ["act", "norm", "conv1d"]),
                               ("vision-default_conv-gamma", ["conv1d"])):
                    wrap = mlrp_vm.ModifiedVisionMamba(make(), False, T).to(dev).eval()
                    with torch.no_grad():
                        emb = vim.patch_embed(x)
                    R, pred, logits = mlrp_ut.vision_relevance_propagation(
                        wrap, emb, torch.tensor([cls], device=dev), geo["classes"])
                    R = np.asarray(R, np.float64)[0]
                    m = np.concatenate([R[:cls_pos], R[cls_pos + 1:]]).reshape(g, g)
                    out.put("map_mambalrp_%s_%d" % (tag, k), m, method="mambalrp", layer_transforms=",".join(T),
                            params_to_detach="A,B,C,z", zero_bias=0,
                            call="vision_relevance_propagation(ModifiedVisionMamba(vim, False, %r), "
                                 "vim.patch_embed(x), [cls], C)" % (T,))
                    out.put("debug/mambalrp_R_%s_%d" % (tag, k), R)
                    out.put("debug/mambalrp_logits_%s_%d" % (tag, k), logits[0].detach().double().cpu().numpy())
            step("mambalrp (4 rule sets)", mlrp)

        soft = torch.nn.Sequential(vim, torch.nn.Softmax(dim=1)).eval()
        agnostic(torch, dev, out, step, vim, xs[k], cls, k, full, geo["patch"], cap, rise_mod, soft)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--pngs", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--repo", default=None, help="also make the full-geometry checkpoints' hashes and small tensors")
    mg = sub.add_parser("merge")
    mg.add_argument("--base", required=True)
    mg.add_argument("--add", required=True)
    mg.add_argument("--out", required=True)
    mg.add_argument("--note", required=True, help="the 'runs' attribute: what each run made")
    r = sub.add_parser("run")
    r.add_argument("--orig", required=True)
    r.add_argument("--inputs", required=True)
    r.add_argument("--repo", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--models", default="demo_vit,demo_vim,deit_s,vim_s")
    r.add_argument("--expect-sha", default=None, help="lines 'NAME.pth FILE_SHA CONTENT_SHA' made elsewhere")
    r.add_argument("--commits", default="", help="the originals' commits, stored as an attribute")
    r.add_argument("--only", default="", help="comma-separated step names (first word: uia, lrp-full, ixg, ...)")
    a = ap.parse_args()
    if a.cmd == "prepare":
        cmd_prepare(a)
    elif a.cmd == "merge":
        cmd_merge(a)
    else:
        main_run(a)


if __name__ == "__main__":
    main()
