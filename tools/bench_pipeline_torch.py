#!/usr/bin/env python3
"""The PyTorch side of the run-throughput comparison (issue #13): the paper's
pipeline at full DeiT-S / ViM-S geometry with seeded random weights, timed.

    bench_pipeline_torch.py [--models deit-s,vim-s] [--images 16] [--batch 16]
                            [--threads N] [--method attribution]

What it does per model, as the original two-stage scripts do it:
  1. explanation, one image at a time (Transformer-Explainability's
     generate_visualizations.py explains with batch size 1): tools/reference.py's
     explain() of `--method` (the PyTorch reference mxb is tested against);
  2. perturbation, batched as Chefer's baselines/ViT/pertubation_eval_from_hdf5.py
     batches (--batch-size 16): per batch the unperturbed forward, then for each
     polarity and each of the 9 fractions 0.1..0.9 the top (negative: bottom)
     fraction of the map's pixels zeroed in the [0, 1] image (topk + scatter_),
     normalised, one batched forward. 1 + 2 x 9 = 19 forwards an image, as
     `mxb run` (the original script runs each polarity separately and so pays the
     unperturbed forward twice: 20; counting 19 favours PyTorch slightly).
Prints `model<TAB>what<TAB>value` lines: explain s/image, perturbation s/image,
pipeline images/s. Threads: torch.set_num_threads(--threads), as bench_torch.py.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
if __name__ == "__main__":  # as bench_torch.py: OpenBLAS reads its count when torch loads
    for i, arg in enumerate(sys.argv):
        n = arg.split("=", 1)[1] if arg.startswith("--threads=") else \
            sys.argv[i + 1] if arg == "--threads" and i + 1 < len(sys.argv) else ""
        if n.isdigit() and int(n) > 0:
            os.environ["OPENBLAS_NUM_THREADS"] = n
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import bench_torch as bt  # noqa: E402

import torch  # noqa: E402

ref = bt.ref

MEAN = torch.tensor([0.485, 0.456, 0.406])[None, :, None, None]
STD = torch.tensor([0.229, 0.224, 0.225])[None, :, None, None]
FRACTIONS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def normalize(t):
    return (t - MEAN) / STD


def perturb_batch(forward, data, vis, negative):
    """Chefer's loop for one polarity: data [B, 3, S, S] in [0, 1], vis [B, S, S]."""
    b, c = data.shape[:2]
    v = (-vis if negative else vis).reshape(b, -1)
    base = v.shape[1]
    for f in FRACTIONS:
        _, idx = torch.topk(v, int(base * f), dim=-1)
        idx = idx.unsqueeze(1).repeat(1, c, 1)
        d = data.clone().reshape(b, c, -1).scatter_(-1, idx, 0).reshape(data.shape)
        forward(normalize(d))


def bench(preset, images, batch, method):
    m = bt.model(preset)
    fwd = ref.vit_forward if m.arch == "vit" else ref.vim_forward

    def forward(x):
        with torch.no_grad():
            return fwd(m, x)[0]

    g = torch.Generator().manual_seed(1)
    data = torch.rand(images, 3, 224, 224, generator=g)
    ref.explain(m, normalize(data[:1]), method)  # warm-up (allocator, thread pool)
    t0 = time.perf_counter()
    vis = torch.stack([ref.explain(m, normalize(data[i:i + 1]), method)["map_upsampled"]
                       for i in range(images)])
    t1 = time.perf_counter()
    for s in range(0, images, batch):
        d, v = data[s:s + batch], vis[s:s + batch]
        forward(normalize(d))  # the unperturbed prediction
        perturb_batch(forward, d, v, False)
        perturb_batch(forward, d, v, True)
    t2 = time.perf_counter()
    yield "explain %s s/image" % method, (t1 - t0) / images
    yield "perturbation (19 forwards, batch %d) s/image" % batch, (t2 - t1) / images
    yield "pipeline images/s", images / (t2 - t0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="deit-s,vim-s")
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--batch", type=int, default=16, help="the perturbation script's --batch-size")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--method", default="attribution", choices=ref.METHODS)
    a = ap.parse_args(argv)
    models = a.models.split(",")
    bad = [n for n in models if n not in bt.mk.PRESETS]
    if bad or min(a.images, a.batch, a.threads) < 1:
        print("bench_pipeline_torch: " + ("unknown model '%s'" % bad[0] if bad else
              "--images, --batch and --threads must be positive"), file=sys.stderr)
        return 2
    torch.set_num_threads(a.threads)
    print("torch\tversion\t%s (%d threads)" % (torch.__version__, a.threads), flush=True)
    for name in models:
        for what, x in bench(name, a.images, a.batch, a.method):
            print("%s\t%s\t%.4f" % (name, what, x), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
