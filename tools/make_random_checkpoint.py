#!/usr/bin/env python3
"""Write an official-format checkpoint with seeded random weights and exactly the
keys and shapes of the original DeiT/ViT (timm) or ViM v2 (hustvl, middle class
token) model of the given size.

    make_random_checkpoint.py --preset deit-s|deit-t|vim-s|vim-t [--seed S] OUT.pth
    make_random_checkpoint.py --arch vit|vim --embed-dim E --depth K [--heads H]
        [--img-size S] [--patch P] [--classes C] [--d-state N] [--seed S] OUT.pth

The file looks like the released ones: DeiT (facebookresearch) is {'model': sd};
ViM is what hustvl's main.py saves: {'model', 'optimizer', 'lr_scheduler', 'epoch',
'model_ema', 'scaler', 'args'} with an argparse.Namespace under 'args' (so it
needs a full, not weights-only, torch.load) and different weights under
'model_ema' (a converter must read 'model'). --bare writes {'model': sd} only.
--envelope picks one for either family: official (the above), train (hustvl's
main.py envelope, with the pickled `args` and `model_ema`), model ({'model': sd}),
ema ({'model_ema': sd}), state_dict ({'state_dict': sd}) or raw (sd itself).

The scales keep activations O(1) and make the explanations non-trivial: ViT
q/k projections large enough that attention is far from uniform; ViM with
Mamba's initialisation (A_log = log(1..N), D = 1, dt bias = softplus^-1 of a
log-uniform dt in [1e-3, 1e-1], dt_proj ±dt_rank^-1/2) plus noise.
"""
import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # noqa: E402
from _needs import need  # noqa: E402

need('torch')

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_checkpoint as cc  # noqa: E402  (the key schema)


PRESETS = {  # the models of the paper: 224 px, patch 16, 1000 classes
    "deit-s": dict(arch="vit", embed_dim=384, depth=12, heads=6),
    "deit-t": dict(arch="vit", embed_dim=192, depth=12, heads=3),
    "vim-s": dict(arch="vim", embed_dim=384, depth=24),
    "vim-t": dict(arch="vim", embed_dim=192, depth=24),
}
VIM_NAME = "vim_%s_patch16_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2"


def config(a):
    grid = a.img_size // a.patch
    if grid < 1 or grid * a.patch != a.img_size:
        raise SystemExit("make_random_checkpoint: --img-size must be a multiple of --patch")
    cfg = {"arch": a.arch, "embed_dim": a.embed_dim, "depth": a.depth, "img_size": a.img_size,
           "patch_size": a.patch, "in_chans": 3, "num_classes": a.classes}
    if a.arch == "vit":
        heads = a.heads or max(1, a.embed_dim // 64)
        if a.embed_dim % heads:
            raise SystemExit("make_random_checkpoint: --heads must divide --embed-dim")
        cfg.update(num_heads=heads, mlp_hidden=4 * a.embed_dim, qkv_bias=1)
    else:
        cfg.update(d_inner=2 * a.embed_dim, d_state=a.d_state, d_conv=4,
                   dt_rank=math.ceil(a.embed_dim / 16))
    return cfg


def random_state_dict(cfg, seed):
    g = torch.Generator().manual_seed(seed)

    def normal(shape, std, mean=0.0):
        return torch.randn(shape, generator=g) * std + mean

    def trunc(shape, std):  # truncated at 2 std, as timm's trunc_normal_
        return normal(shape, 1.0).clamp(-2, 2) * std

    def uniform(shape, lo, hi):
        return torch.rand(shape, generator=g) * (hi - lo) + lo

    E, K = cfg["embed_dim"], cfg["depth"]
    sd = {}
    for key, shape in cc.expected_shapes(cfg):
        leaf = key.split(".")[-1]
        fan_in = math.prod(shape[1:]) if len(shape) > 1 else shape[0]
        if key in ("cls_token", "pos_embed"):
            v = trunc(shape, 0.1)
        elif key == "patch_embed.proj.weight":
            v = trunc(shape, fan_in ** -0.5)  # lecun normal: unit-scale patch tokens
        elif key == "patch_embed.proj.bias":
            v = normal(shape, 0.02)
        elif key.startswith("head."):
            v = trunc(shape, E ** -0.5 if leaf == "weight" else 0.02)
        elif "norm" in key:  # LayerNorm / RMSNorm
            v = normal(shape, 0.05, 1.0) if leaf == "weight" else normal(shape, 0.02)
        # ---- ViT blocks
        elif ".attn.qkv." in key:
            v = trunc(shape, 1.5 * fan_in ** -0.5) if leaf == "weight" else normal(shape, 0.1)
        elif ".attn.proj." in key or ".mlp.fc2." in key:
            v = trunc(shape, (2 * K * fan_in) ** -0.5) if leaf == "weight" else normal(shape, 0.02)
        elif ".mlp.fc1." in key:
            v = trunc(shape, fan_in ** -0.5) if leaf == "weight" else normal(shape, 0.1)
        # ---- ViM mixers (Mamba's init, perturbed)
        elif leaf in ("A_log", "A_b_log"):
            v = torch.log(torch.arange(1, shape[1] + 1, dtype=torch.float32)).expand(shape)
            v = v + normal(shape, 0.1)
        elif leaf in ("D", "D_b"):
            v = normal(shape, 0.1, 1.0)
        elif ".in_proj." in key:
            v = trunc(shape, fan_in ** -0.5)
        elif ".conv1d" in key:  # PyTorch's Conv1d default: U(±1/sqrt(fan_in))
            v = uniform(shape, -shape[-1] ** -0.5, shape[-1] ** -0.5) if leaf == "weight" \
                else uniform(shape, -0.5, 0.5)
        elif ".x_proj" in key:
            v = trunc(shape, fan_in ** -0.5)
        elif ".dt_proj" in key and leaf == "weight":
            r = shape[1] ** -0.5
            v = uniform(shape, -r, r)
        elif ".dt_proj" in key:  # bias: softplus^-1 of dt, log-uniform in [1e-3, 1e-1]
            dt = torch.exp(uniform(shape, math.log(1e-3), math.log(1e-1))).clamp(min=1e-4)
            v = dt + torch.log(-torch.expm1(-dt))
        elif ".out_proj." in key:
            v = trunc(shape, (K * fan_in) ** -0.5)
        else:
            raise AssertionError("no initialiser for " + key)
        sd[key] = v.reshape(shape).contiguous().float()
    return sd


ENVELOPES = ("official", "train", "model", "ema", "state_dict", "raw")


def envelope(sd, cfg, seed, kind="official"):
    """The checkpoint object around the state_dict, as the originals save it
    (official), or one of the other envelopes a converter must read."""
    if kind == "official":
        kind = "model" if cfg["arch"] == "vit" else "train"
    if kind == "model":
        return {"model": sd}
    if kind == "ema":
        return {"model_ema": sd}
    if kind == "state_dict":
        return {"state_dict": sd}
    if kind == "raw":
        return sd
    size = {192: "tiny", 384: "small"}.get(cfg["embed_dim"], "custom")
    args = argparse.Namespace(model=VIM_NAME % size, input_size=cfg["img_size"],
                              nb_classes=cfg["num_classes"], batch_size=128, epochs=300,
                              opt="adamw", lr=5e-4, weight_decay=0.05, seed=seed)
    groups = [{"lr": 5e-4, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": wd,
               "amsgrad": False, "params": list(range(i, len(sd), 2))}
              for i, wd in enumerate((0.0, 0.05))]
    return {"model": sd,
            "optimizer": {"state": {}, "param_groups": groups},
            "lr_scheduler": {"t_initial": 300, "base_values": [5e-4, 5e-4]},
            "epoch": 299,
            "model_ema": random_state_dict(cfg, seed + 1),
            "scaler": {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                       "growth_interval": 2000, "_growth_tracker": 0},
            "args": args}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("output")
    ap.add_argument("--preset", choices=sorted(PRESETS), help="the full geometry of a "
                    "released model (overrides --arch, --embed-dim, --depth, --heads)")
    ap.add_argument("--arch", choices=("vit", "vim"))
    ap.add_argument("--embed-dim", type=int)
    ap.add_argument("--depth", type=int)
    ap.add_argument("--heads", type=int, help="ViT heads (default embed_dim // 64, at least 1)")
    ap.add_argument("--img-size", type=int, default=224)
    ap.add_argument("--patch", type=int, default=16)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--d-state", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bare", action="store_true", help="write {'model': sd} only "
                    "(= --envelope model)")
    ap.add_argument("--envelope", choices=ENVELOPES, default="official",
                    help="the object around the state_dict (default: the released one)")
    a = ap.parse_args(argv)
    if a.preset:
        a.heads = None
        for k, v in PRESETS[a.preset].items():
            setattr(a, k, v)
    if not (a.arch and a.embed_dim and a.depth):
        ap.error("give --preset, or --arch, --embed-dim and --depth")
    if min(a.embed_dim, a.depth, a.img_size, a.patch, a.classes, a.d_state) < 1:
        ap.error("sizes must be positive")
    cfg = config(a)
    sd = random_state_dict(cfg, a.seed)
    tmp = a.output + ".partial-%d" % os.getpid()
    torch.save(envelope(sd, cfg, a.seed, "model" if a.bare else a.envelope), tmp)
    os.replace(tmp, a.output)
    print("wrote %s (%s, %d tensors)" % (a.output, ", ".join(
        "%s %s" % kv for kv in cfg.items()), len(sd)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
