#!/usr/bin/env python3
"""Convert a PyTorch checkpoint of DeiT/ViT (timm keys) or Vision Mamba (hustvl
ViM v2, middle class token) into an mxb weights file (engine/WEIGHTS.md).

    convert_checkpoint.py IN.pth OUT.h5 [--name NAME] [--num-heads H] [--timm-norm]
                          [--eval-resize N] [--eval-crop N] [--eval-square]
                          [--eval-interpolation bicubic|bilinear|nearest]
                          [--eval-mean R,G,B] [--eval-std R,G,B]

Every tensor becomes a float32 dataset named by its state_dict key, verbatim; the
model config is inferred from the tensors and written as root attributes. A
checkpoint that is not exactly one of the two supported architectures is refused
with one line on stderr naming the file and the key, exit status 2, and no output
file (the output is written to a temporary name and renamed at the end).

This module is also imported by make_random_checkpoint.py and reference.py for
`load_state_dict`, `infer_config` and `expected_shapes` (the key schema).
"""
import argparse
import hashlib
import math
import os
import pickle
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # noqa: E402
from _needs import need  # noqa: E402

need('torch', 'h5py')

import torch

WEIGHTS_VERSION = 1


class CheckpointError(Exception):
    """A checkpoint we refuse; the message names the problem (and the key)."""


# --------------------------------------------------------------------------- schema
def expected_shapes(cfg):
    """Ordered list of (key, shape) of the original model's state_dict for `cfg`
    (the order of the original modules' parameters)."""
    E, K = cfg["embed_dim"], cfg["depth"]
    P, C = cfg["patch_size"], cfg["in_chans"]
    L = (cfg["img_size"] // P) ** 2 + 1
    keys = [("cls_token", (1, 1, E)), ("pos_embed", (1, L, E)),
            ("patch_embed.proj.weight", (E, C, P, P)), ("patch_embed.proj.bias", (E,))]
    if cfg["arch"] == "vit":
        H3 = 3 * E
        for i in range(K):
            b = "blocks.%d." % i
            keys += [(b + "norm1.weight", (E,)), (b + "norm1.bias", (E,)),
                     (b + "attn.qkv.weight", (H3, E))]
            if cfg["qkv_bias"]:
                keys.append((b + "attn.qkv.bias", (H3,)))
            keys += [(b + "attn.proj.weight", (E, E)), (b + "attn.proj.bias", (E,)),
                     (b + "norm2.weight", (E,)), (b + "norm2.bias", (E,)),
                     (b + "mlp.fc1.weight", (cfg["mlp_hidden"], E)),
                     (b + "mlp.fc1.bias", (cfg["mlp_hidden"],)),
                     (b + "mlp.fc2.weight", (E, cfg["mlp_hidden"])), (b + "mlp.fc2.bias", (E,))]
        keys += [("norm.weight", (E,)), ("norm.bias", (E,)),
                 ("head.weight", (cfg["num_classes"], E)), ("head.bias", (cfg["num_classes"],))]
        return keys
    D, N, R, W = cfg["d_inner"], cfg["d_state"], cfg["dt_rank"], cfg["d_conv"]
    keys += [("head.weight", (cfg["num_classes"], E)), ("head.bias", (cfg["num_classes"],))]
    for i in range(K):
        m = "layers.%d.mixer." % i
        keys += [(m + "A_log", (D, N)), (m + "D", (D,)), (m + "A_b_log", (D, N)), (m + "D_b", (D,)),
                 (m + "in_proj.weight", (2 * D, E))]
        for s in ("", "_b"):
            keys += [(m + "conv1d%s.weight" % s, (D, 1, W)), (m + "conv1d%s.bias" % s, (D,)),
                     (m + "x_proj%s.weight" % s, (R + 2 * N, D)),
                     (m + "dt_proj%s.weight" % s, (D, R)), (m + "dt_proj%s.bias" % s, (D,))]
        keys += [(m + "out_proj.weight", (E, D)), ("layers.%d.norm.weight" % i, (E,))]
    keys.append(("norm_f.weight", (E,)))
    return keys


# --------------------------------------------------------------------------- loading
def _torch_load(path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # a torch before 1.13 has no weights_only: a full load
        return torch.load(path, map_location="cpu")
    except pickle.UnpicklingError:
        # The weights-only loader refuses hustvl's training checkpoints (they pickle
        # their argparse options). Every torch from 1.13 to 2.11 (measured) raises
        # pickle.UnpicklingError for that; a corrupt or truncated zip raises
        # RuntimeError and is reported, not retried.
        pass
    # The full load (trusting the file). weights_only=False must be explicit: from
    # torch 2.6 on, the default is True and a plain torch.load refuses again.
    return torch.load(path, map_location="cpu", weights_only=False)


def load_state_dict(path):
    """The state_dict of a checkpoint file: `{'model': sd}` (timm/FB/hustvl),
    `{'state_dict': sd}`, `{'model_ema': sd}` or a bare state_dict."""
    if not os.path.isfile(path):
        raise CheckpointError("no such file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04" and magic[:1] != b"\x80":  # torch.save: zip, or legacy pickle
        raise CheckpointError("not a PyTorch checkpoint (neither a zip archive nor a pickle)")
    try:
        obj = _torch_load(path)
    except Exception as e:  # corrupt, truncated, not a checkpoint at all
        msg = " ".join(str(e).split())[:160] or type(e).__name__
        raise CheckpointError("not a readable PyTorch checkpoint (%s)" % msg)
    if isinstance(obj, dict):
        for wrapper in ("model", "state_dict", "model_ema"):
            if isinstance(obj.get(wrapper), dict):
                obj = obj[wrapper]
                break
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError("holds no state_dict (want a dict of tensors, or one under "
                              "'model', 'state_dict' or 'model_ema')")
    if all(isinstance(k, str) and k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}  # saved from DataParallel
    for k, v in obj.items():
        if not isinstance(k, str):
            raise CheckpointError("key %r is not a string" % (k,))
        if not torch.is_tensor(v):
            raise CheckpointError("'%s' is not a tensor (%s)" % (k, type(v).__name__))
    return obj


# --------------------------------------------------------------------------- config
def _shape(sd, key, ndim):
    if key not in sd:
        raise CheckpointError("missing key '%s'" % key)
    s = tuple(sd[key].shape)
    if len(s) != ndim:
        raise CheckpointError("'%s' has shape %s, expected %d dimensions" % (key, list(s), ndim))
    return s


def _depth(sd, prefix):
    idx = {int(m.group(1)) for k in sd for m in [re.match(re.escape(prefix) + r"(\d+)\.", k)] if m}
    return max(idx) + 1


def infer_config(sd, num_heads=None, timm_norm=False):
    """The model config of a state_dict, from its key names and tensor shapes."""
    if "dist_token" in sd or any(k.startswith("head_dist.") for k in sd):
        raise CheckpointError("distilled DeiT (dist_token/head_dist) is not supported; "
                              "use the non-distilled model")
    vim = any(re.match(r"layers\.\d+\.mixer\.A_b_log$", k) for k in sd)
    vit = any(re.match(r"blocks\.\d+\.attn\.qkv\.weight$", k) for k in sd)
    if vim == vit:
        raise CheckpointError("unknown architecture: %s" % (
            "has both ViT and ViM keys" if vim else
            "no 'blocks.N.attn.qkv.weight' (ViT/DeiT) nor 'layers.N.mixer.A_b_log' (ViM v2) keys"))
    E = _shape(sd, "cls_token", 3)[2]
    pw = _shape(sd, "patch_embed.proj.weight", 4)
    if pw[2] != pw[3]:
        raise CheckpointError("'patch_embed.proj.weight' has non-square patches %s" % list(pw))
    L = _shape(sd, "pos_embed", 3)[1]
    grid = math.isqrt(L - 1) if L > 1 else 0
    if grid < 1 or grid * grid != L - 1:
        raise CheckpointError("'pos_embed' has %d tokens; want 1 class token + a square "
                              "number of patches" % L)
    cfg = {"mxb_weights_version": WEIGHTS_VERSION, "arch": "vim" if vim else "vit",
           "img_size": grid * pw[2], "patch_size": pw[2], "in_chans": pw[1],
           "num_classes": _shape(sd, "head.weight", 2)[0], "embed_dim": E}
    if vit:
        cfg["depth"] = _depth(sd, "blocks.")
        cfg["norm_eps"] = 1e-6
        # Chefer et al.'s ViT_LRP.py (the paper's ViT) builds the final norm with 1e-5
        cfg["final_norm_eps"] = 1e-6 if timm_norm else 1e-5
        heads = num_heads if num_heads else E // 64
        if heads < 1 or E % heads:
            raise CheckpointError("cannot infer num_heads for embed_dim %d (head dim 64 "
                                  "convention); pass --num-heads" % E)
        cfg["num_heads"] = heads
        cfg["mlp_hidden"] = _shape(sd, "blocks.0.mlp.fc1.weight", 2)[0]
        cfg["qkv_bias"] = int(any(re.match(r"blocks\.\d+\.attn\.qkv\.bias$", k) for k in sd))
    else:
        cfg["depth"] = _depth(sd, "layers.")
        cfg["norm_eps"] = 1e-5
        cfg["d_inner"], cfg["d_state"] = _shape(sd, "layers.0.mixer.A_log", 2)
        cfg["dt_rank"] = _shape(sd, "layers.0.mixer.dt_proj.weight", 2)[1]
        cfg["d_conv"] = _shape(sd, "layers.0.mixer.conv1d.weight", 3)[2]
        cfg["divide_out"] = 1
    return cfg


def check_keys(sd, cfg):
    """Every key the model needs, with its shape, and nothing else."""
    want = expected_shapes(cfg)
    names = {k for k, _ in want}
    for k, shape in want:
        if k not in sd:
            raise CheckpointError("missing key '%s' (shape %s)" % (k, list(shape)))
        if tuple(sd[k].shape) != shape:
            raise CheckpointError("'%s' has shape %s, expected %s" % (
                k, list(sd[k].shape), list(shape)))
    for k in sd:
        if k not in names:
            raise CheckpointError("unexpected key '%s'" % k)
    for k, _ in want:
        if not sd[k].is_floating_point():
            raise CheckpointError("'%s' has dtype %s, not floating point" % (k, sd[k].dtype))
        if not torch.isfinite(sd[k]).all():
            raise CheckpointError("'%s' holds NaN or infinite values" % k)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_weights(sd, cfg, out):
    """Write the HDF5 weights file atomically (temporary name, then rename)."""
    import h5py  # only the writer needs it
    d = os.path.dirname(os.path.abspath(out))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(out) + ".", suffix=".partial", dir=d)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private
    try:
        with h5py.File(tmp, "w") as f:
            for k, shape in expected_shapes(cfg):
                f.create_dataset(k, data=sd[k].detach().to(torch.float32).cpu().numpy())
            for k, v in cfg.items():
                f.attrs[k] = v
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def eval_transform(img_size, resize=None, crop=None, square=False, interpolation="bicubic",
                   mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """The model's evaluation transform as root attributes (engine/WEIGHTS.md).
    By default the official models' (DeiT's datasets.build_transform and ViM's, which
    is DeiT's: Resize(int(S * 256 / 224), bicubic) + CenterCrop(S), ImageNet mean/std;
    at S = 224, Resize(256) + CenterCrop(224))."""
    if resize is None:
        resize = img_size if crop == 0 else int(img_size * 256 / 224)
    if crop is None:
        crop = img_size
    out = crop if crop else resize
    if out != img_size:
        raise CheckpointError("the evaluation transform makes %d px inputs but the model takes %d px"
                              % (out, img_size))
    return {"eval_resize": int(resize), "eval_square": int(bool(square)), "eval_crop": int(crop),
            "eval_interpolation": interpolation,
            "eval_mean": [float(x) for x in mean], "eval_std": [float(x) for x in std]}


def convert(src, out, name=None, num_heads=None, timm_norm=False, transform=None):
    """transform: keyword arguments of eval_transform (None: the official models')."""
    sd = load_state_dict(src)
    cfg = infer_config(sd, num_heads=num_heads, timm_norm=timm_norm)
    check_keys(sd, cfg)
    cfg.update(eval_transform(cfg["img_size"], **(transform or {})))
    cfg["model_name"] = name or os.path.splitext(os.path.basename(src))[0]
    cfg["source"] = os.path.basename(src)
    cfg["source_sha256"] = sha256(src)
    write_weights(sd, cfg, out)
    return cfg


def rgb(text):
    v = [float(x) for x in text.split(",")]
    if len(v) != 3 or not all(math.isfinite(x) for x in v):
        raise argparse.ArgumentTypeError("want three numbers R,G,B")
    return v


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", help="checkpoint (.pth)")
    ap.add_argument("output", help="mxb weights file to write (.h5)")
    ap.add_argument("--name", help="model_name attribute (default: the input's file name)")
    ap.add_argument("--num-heads", type=int, help="ViT heads (default: embed_dim // 64, "
                    "which the shapes cannot tell)")
    ap.add_argument("--timm-norm", action="store_true", help="ViT final norm eps 1e-6 (timm) "
                    "instead of 1e-5 (Chefer et al.'s ViT_LRP.py)")
    ap.add_argument("--eval-resize", type=int, help="evaluation Resize (default int(S * 256 / 224), "
                    "S with --eval-crop 0)")
    ap.add_argument("--eval-crop", type=int, help="evaluation CenterCrop, 0 for none (default S)")
    ap.add_argument("--eval-square", action="store_true", help="Resize((N, N)) instead of the short side")
    ap.add_argument("--eval-interpolation", choices=("bicubic", "bilinear", "nearest"), default="bicubic")
    ap.add_argument("--eval-mean", type=rgb, default=IMAGENET_MEAN, help="R,G,B (default ImageNet's)")
    ap.add_argument("--eval-std", type=rgb, default=IMAGENET_STD, help="R,G,B (default ImageNet's)")
    a = ap.parse_args(argv)
    transform = {"resize": a.eval_resize, "crop": a.eval_crop, "square": a.eval_square,
                 "interpolation": a.eval_interpolation, "mean": a.eval_mean, "std": a.eval_std}
    try:
        cfg = convert(a.input, a.output, a.name, a.num_heads, a.timm_norm, transform)
    except CheckpointError as e:
        print("convert_checkpoint: %s: %s" % (a.input, e), file=sys.stderr)
        return 2
    except OSError as e:
        print("convert_checkpoint: %s: cannot write %s (%s)" % (a.input, a.output,
              e.strerror or e), file=sys.stderr)
        return 2
    desc = ", ".join("%s %s" % (k, cfg[k]) for k in (
        "arch", "embed_dim", "depth", "num_heads", "d_inner", "d_state", "img_size",
        "patch_size", "num_classes") if k in cfg)
    print("wrote %s (%s)" % (a.output, desc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
