#!/usr/bin/env python3
"""Train the embedded benchmark's small ViT (DeiT-style) or ViM (bimamba v2, middle
class token) on mxb's synthetic images, and save an official-format checkpoint.

    train_demo.py --arch vit|vim --out DIR [--epochs N] [--minutes M] [--train N]
                  [--seed S] [--device cuda|cpu] [--quick]

The images come from mxb's own generator (datasets/synth.c, built here into a small
shared library and called through ctypes), so the models are trained on exactly
what `mxb synth` writes. The model is tools/reference.py's forward pass on a
state_dict with the official key names (tools/make_random_checkpoint.py's
initialisation), so the checkpoint converts with tools/convert_checkpoint.py and the
C engine runs the very function that was trained.

Writes DIR/demo_<arch>.pth ({'model': state_dict}) and DIR/demo_<arch>.json (config,
recipe, seeds, accuracies: held-out, and with the object masked out).
"""
import argparse
import ctypes
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import convert_checkpoint as cc  # noqa: E402
import make_random_checkpoint as mrc  # noqa: E402
import reference  # noqa: E402

SIZE, PATCH, CLASSES = 64, 8, 10
TRAIN_SEED, VAL_SEED, TEST_SEED = 1, 2, 3  # the demo benchmark itself is seed 3
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
ARCHS = {  # comparable parameter counts (about 1.2M and 1.1M)
    "vit": dict(arch="vit", embed_dim=128, depth=6, heads=4, d_state=16),
    "vim": dict(arch="vim", embed_dim=128, depth=8, heads=None, d_state=16),
}


def build_synth():
    """datasets/synth.c alone (the sample generator, no file writing), as a shared
    library; MXB_SYNTH_LIB names a ready one instead."""
    out = os.environ.get("MXB_SYNTH_LIB")
    if not out:
        out = os.path.join(tempfile.mkdtemp(), "libmxbsynth.so")
        subprocess.run([os.environ.get("CC", "cc"), "-O2", "-shared", "-fPIC", "-DMXB_SYNTH_SAMPLE_ONLY", "-I", ROOT,
                        os.path.join(ROOT, "datasets", "synth.c"), os.path.join(ROOT, "io", "rng.c"), "-o", out, "-lm"], check=True)
    lib = ctypes.CDLL(out)
    lib.mxb_synth_sample.argtypes = [ctypes.c_uint64, ctypes.c_int64, ctypes.c_int, ctypes.c_void_p,
                                     ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.c_char_p,
                                     ctypes.c_size_t]
    lib.mxb_synth_sample.restype = ctypes.c_int
    return lib


_LIB = None


def _synth_range(args):
    seed, lo, hi = args
    n = hi - lo
    rgb = np.zeros((n, SIZE, SIZE, 3), np.uint8)
    mask = np.zeros((n, SIZE, SIZE), np.uint8)
    labels = np.zeros(n, np.int64)
    lab = ctypes.c_int()
    err = ctypes.create_string_buffer(256)
    for i in range(n):
        rc = _LIB.mxb_synth_sample(seed, lo + i, SIZE, rgb[i].ctypes.data, mask[i].ctypes.data,
                                   ctypes.byref(lab), err, 256)
        if rc:
            raise RuntimeError("synth sample %d: %s" % (lo + i, err.value.decode()))
        labels[i] = lab.value
    return rgb, mask, labels


def synth_set(lib, seed, n, workers=1):
    """Samples 0..n-1 of `seed`: uint8 images [n, S, S, 3], masks [n, S, S], labels [n]."""
    global _LIB
    _LIB = lib
    parts = [(seed, lo, min(lo + 5000, n)) for lo in range(0, n, 5000)]
    if workers > 1 and len(parts) > 1:
        import multiprocessing as mp
        with mp.get_context("fork").Pool(workers) as pool:
            chunks = pool.map(_synth_range, parts)
    else:
        chunks = [_synth_range(p) for p in parts]
    return tuple(np.concatenate(c) for c in zip(*chunks))


def mask_out_object(rgb, mask):
    """The object's bounding box (grown by 2 px) filled with the image's mean colour:
    no shape, no texture left; what a model needing the object cannot classify."""
    out = rgb.copy()
    for i in range(len(rgb)):
        ys, xs = np.nonzero(mask[i])
        if len(ys) == 0:
            continue
        y0, y1 = max(ys.min() - 2, 0), min(ys.max() + 3, SIZE)
        x0, x1 = max(xs.min() - 2, 0), min(xs.max() + 3, SIZE)
        out[i, y0:y1, x0:x1] = rgb[i].reshape(-1, 3).mean(0).round().astype(np.uint8)
    return out


def to_input(rgb, device):
    x = torch.from_numpy(rgb).to(device).permute(0, 3, 1, 2).float() / 255
    mean = torch.tensor(MEAN, device=device)[:, None, None]
    std = torch.tensor(STD, device=device)[:, None, None]
    return (x - mean) / std


def make_model(arch, seed, device):
    a = ARCHS[arch]
    ns = argparse.Namespace(arch=a["arch"], embed_dim=a["embed_dim"], depth=a["depth"], heads=a["heads"],
                            img_size=SIZE, patch=PATCH, classes=CLASSES, d_state=a["d_state"])
    sd = mrc.random_state_dict(mrc.config(ns), seed)
    cfg = cc.infer_config(sd, num_heads=a["heads"])  # what the converter will write
    cfg.setdefault("final_norm_eps", cfg["norm_eps"])
    W = {k: v.to(device).float().requires_grad_(True) for k, v in sd.items()}
    return reference.Model(cfg, W)


def chunked_scan(deltaA, dBu, Cm, chunk=8):
    """reference.selective_scan, the same recurrence by blocks of `chunk` tokens: in a
    block h_t = exp(P_t) h_0 + sum_{s<=t} exp(P_t - P_s) dBu_s with P the running sum
    of deltaA (all exponents <= 0, so nothing overflows). Far fewer kernel launches
    than a step per token; the exported model is run by the C engine's own scan."""
    Bsz, D, L, N = deltaA.shape
    h = deltaA.new_zeros(Bsz, D, N)
    ys = []
    for c0 in range(0, L, chunk):
        a, b, c = deltaA[:, :, c0:c0 + chunk], dBu[:, :, c0:c0 + chunk], Cm[:, c0:c0 + chunk]
        n = a.shape[2]
        P = a.cumsum(2)  # [B, D, n, N]
        keep = torch.ones(n, n, dtype=torch.bool, device=a.device).tril()[:, :, None]
        w = torch.exp((P[:, :, :, None] - P[:, :, None]).masked_fill(~keep, float("-inf")))
        hs = torch.exp(P) * h[:, :, None] + (w * b[:, :, None]).sum(3)  # [B, D, n, N]
        ys.append((hs * c[:, None]).sum(-1))
        h = hs[:, :, -1]
    return torch.cat(ys, 2)


def forward(m, x):
    return (reference.vit_forward if m.arch == "vit" else reference.vim_forward)(m, x)[0]


@torch.no_grad()
def accuracy(m, rgb, labels, device, batch=500):
    hits = 0
    for i in range(0, len(rgb), batch):
        logits = forward(m, to_input(rgb[i:i + batch], device))
        hits += int((logits.argmax(1).cpu().numpy() == labels[i:i + batch]).sum())
    return hits / len(rgb)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", choices=sorted(ARCHS), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--minutes", type=float, default=8.0, help="time budget: the schedule ends when it is spent")
    ap.add_argument("--steps", type=int, default=0, help="exactly this many steps (no time budget)")
    ap.add_argument("--train", type=int, default=200000, help="training images (seed %d)" % TRAIN_SEED)
    ap.add_argument("--test", type=int, default=2000, help="held-out images (seed %d)" % TEST_SEED)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk", type=int, default=1, help="ViM: scan in blocks of this many tokens (1: per token)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--quick", action="store_true", help="a smoke test: tiny sets, one epoch")
    ap.add_argument("--no-graph", action="store_true", help="on CUDA, no graph capture of the step")
    a = ap.parse_args(argv)
    if a.quick:
        a.train, a.test, a.epochs, a.steps = 512, 128, 1, 4
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    dev = torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # train in the precision the C engine runs
        torch.backends.cudnn.allow_tf32 = False
    os.makedirs(a.out, exist_ok=True)
    if a.chunk > 1:
        reference.selective_scan = lambda dA, dBu, C: chunked_scan(dA, dBu, C, a.chunk)

    t0 = time.time()
    lib = build_synth()
    workers = min(16, os.cpu_count() or 1)
    xtr, mtr, ytr = synth_set(lib, TRAIN_SEED, a.train, workers)
    xva, _, yva = synth_set(lib, VAL_SEED, max(a.test // 2, 64))
    xte, mte, yte = synth_set(lib, TEST_SEED, a.test)
    print("data: %d train, %d val, %d test images in %.1f s" % (len(xtr), len(xva), len(xte), time.time() - t0),
          flush=True)

    m = make_model(a.arch, a.seed, dev)
    params = sum(v.numel() for v in m.W.values())
    decay = [v for k, v in m.W.items() if v.dim() >= 2 and k not in ("pos_embed", "cls_token")
             and "A_log" not in k and "A_b_log" not in k]
    no_decay = [v for v in m.W.values() if all(v is not d for d in decay)]
    use_graph = dev.type == "cuda" and not a.no_graph
    # a tensor learning rate, so a captured CUDA graph sees the schedule
    lr_t = torch.tensor(a.lr, device=dev) if use_graph else a.lr
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr_t, betas=(0.9, 0.999), capturable=use_graph)
    params_list = list(m.W.values())

    def train_step(x, y):
        loss = F.cross_entropy(forward(m, x), y, label_smoothing=0.1)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params_list, 1.0)
        opt.step()
        return loss

    graph = None
    if use_graph:
        # The step is thousands of small kernels (the scan runs token by token); one
        # CUDA graph replays them all at once. Three eager steps first, as required.
        static_x = torch.zeros(a.batch, 3, SIZE, SIZE, device=dev)
        static_y = torch.zeros(a.batch, dtype=torch.long, device=dev)
        lr_t.fill_(0.0)  # the warm-up steps move nothing
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                opt.zero_grad(set_to_none=True)
                train_step(static_x, static_y)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        # grads set to None: backward in the graph writes them afresh on every replay
        opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            static_loss = train_step(static_x, static_y)
    # The schedule runs on progress in [0, 1]: steps / (epochs x steps per epoch), or
    # the fraction of the time budget spent if that is larger (the run stops at 1).
    # The steps actually taken are recorded; --steps N replays them exactly.
    steps_per_epoch = math.ceil(len(xtr) / a.batch)
    total = a.steps or steps_per_epoch * a.epochs
    budget = None if a.steps else a.minutes * 60

    def lr_at(progress):
        warm = 0.05
        if progress < warm:
            return a.lr * (progress + 1e-3) / warm
        return a.lr * 0.5 * (1 + math.cos(math.pi * (progress - warm) / (1 - warm)))

    g = torch.Generator(device="cpu").manual_seed(a.seed)
    log, start, step, done = [], time.time(), 0, False
    while not done:
        perm = torch.randperm(len(xtr), generator=g).numpy()
        loss_sum, n = 0.0, 0
        for i in range(0, len(perm), a.batch):
            progress = step / total
            if budget:
                progress = max(progress, (time.time() - start) / budget)
            if progress >= 1:
                done = True
                break
            idx = perm[i:i + a.batch]
            if len(idx) < a.batch:  # whole batches only: one graph, one shape
                break
            x = to_input(xtr[idx], dev)
            flip = (torch.rand(len(idx), generator=g) < 0.5).to(dev)
            x[flip] = x[flip].flip(-1)
            y = torch.from_numpy(ytr[idx]).to(dev)
            if graph is not None:
                lr_t.fill_(lr_at(progress))
                static_x.copy_(x)
                static_y.copy_(y)
                graph.replay()
                loss = static_loss
            else:
                for group in opt.param_groups:
                    group["lr"] = lr_at(progress)
                opt.zero_grad(set_to_none=True)
                loss = train_step(x, y)
            step += 1
            loss_sum += float(loss.detach()) * len(idx)
            n += len(idx)
        if n == 0:
            break
        val = accuracy(m, xva, yva, dev)
        log.append({"epoch": len(log) + 1, "steps": step, "loss": loss_sum / n, "val_accuracy": val,
                    "seconds": time.time() - start})
        print("epoch %d  step %d  loss %.4f  val %.4f  %.0f s" % (len(log), step, loss_sum / n, val,
                                                                 time.time() - start), flush=True)

    test = accuracy(m, xte, yte, dev)
    masked = accuracy(m, mask_out_object(xte, mte), yte, dev)
    sd = {k: v.detach().cpu().contiguous() for k, v in m.W.items()}
    pth = os.path.join(a.out, "demo_%s.pth" % a.arch)
    torch.save({"model": sd, "epoch": len(log)}, pth + ".partial", _use_new_zipfile_serialization=True)
    os.replace(pth + ".partial", pth)
    info = {"arch": a.arch, "config": {k: v for k, v in m.cfg.items()}, "parameters": params,
            "image_size": SIZE, "patch_size": PATCH, "classes": CLASSES, "normalisation": {"mean": MEAN, "std": STD},
            "data": {"generator": "mxb_synth_sample (datasets/synth.c)", "train": [TRAIN_SEED, len(xtr)],
                     "val": [VAL_SEED, len(xva)], "test": [TEST_SEED, len(xte)]},
            "recipe": {"optimizer": "AdamW(0.9, 0.999), weight decay 0.05 on matrices", "lr": a.lr,
                       "schedule": "linear warm-up over 5 % of the run, cosine to 0", "batch": a.batch,
                       "steps": step, "replay": "--steps %d --batch %d --seed %d --train %d --lr %g" % (step, a.batch, a.seed, len(xtr), a.lr), "label_smoothing": 0.1, "augmentation": "horizontal flip",
                       "grad_clip": 1.0, "seed": a.seed, "precision": "float32 (no TF32)",
                       "cuda_graph": graph is not None},
            "test_accuracy": test, "masked_object_accuracy": masked, "log": log,
            "torch": torch.__version__, "device": str(dev),
            "wall_seconds": time.time() - t0}
    with open(os.path.join(a.out, "demo_%s.json" % a.arch), "w") as f:
        json.dump(info, f, indent=1, default=float)
    print("%s: %d parameters, held-out accuracy %.4f, object masked out %.4f" % (a.arch, params, test, masked))
    return 0


if __name__ == "__main__":
    sys.exit(main())
