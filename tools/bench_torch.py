#!/usr/bin/env python3
"""Time the PyTorch reference (tools/reference.py) at full geometry with seeded
random weights: the PyTorch side of `mxb bench`, which matches these lines to
its own by model and measurement name.

    bench_torch.py [--models vim-s,deit-s] [--reps 5] [--batch 8] [--threads N]
                   [--methods all|none|ixg,ig,...]

Prints one line per measurement, `model<TAB>what<TAB>milliseconds`: the median
of --reps timed calls after one warm-up call (per image for the batch; the
all-layers hidden attention is timed once), as mxb bench times the C engine.
Threads: torch.set_num_threads(--threads), OPENBLAS_NUM_THREADS=--threads, and
OpenMP's wait policy by mxb's rule: OMP_WAIT_POLICY=PASSIVE unless OMP_WAIT_POLICY or
GOMP_SPINCOUNT is set (run from `mxb bench`, the environment mxb itself runs with).
"""
import argparse
import os
import statistics
import sys
import time


def early_threads(argv):
    """--threads, read before torch is imported (OpenBLAS reads its count at load)."""
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--threads", default="")
    return ap.parse_known_args(argv)[0].threads


if __name__ == "__main__":
    # Debian's torch calls the pthread OpenBLAS outside its OpenMP regions; with
    # OpenMP's default spin-waiting the two thread pools fight for the cores (DeiT-S
    # forward on 2 threads: 440 ms median instead of 76 ms). Idle OpenMP threads
    # therefore sleep, and OpenBLAS gets --threads too.
    n = early_threads(sys.argv[1:])
    if n.isdigit() and int(n) > 0:
        os.environ["OPENBLAS_NUM_THREADS"] = n
    # mxb's rule (engine/blas.c): the same policy on both sides of every ratio
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import torch  # noqa: E402

try:  # reference.py reads and writes HDF5 files; timing needs none of that
    import h5py  # noqa: F401
except ImportError:  # a machine with torch alone (the bundle's 16-core box)
    import types
    sys.modules["h5py"] = types.ModuleType("h5py")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_checkpoint as cc  # noqa: E402
import make_random_checkpoint as mk  # noqa: E402
import reference as ref  # noqa: E402
import bench_methods_torch as bmt  # noqa: E402  (the "explain <method>" rows of issue 16)


def model(preset, seed=0):
    """The preset's geometry (make_random_checkpoint.PRESETS) with random weights."""
    a = argparse.Namespace(img_size=224, patch=16, classes=1000, d_state=16, **mk.PRESETS[preset])
    sd = mk.random_state_dict(mk.config(a), seed)
    cfg = cc.infer_config(sd, num_heads=a.heads if a.arch == "vit" else None)
    cfg["final_norm_eps"] = cfg.get("final_norm_eps", cfg["norm_eps"])
    return ref.Model(cfg, sd)


def median_ms(fn, reps, warm=None):
    (warm or fn)()  # warm-up (a method row's: at its fewest passes, as mxb bench's)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def bench(preset, reps, batch, methods="all"):
    m = model(preset)
    fwd = ref.vit_forward if m.arch == "vit" else ref.vim_forward
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 3, 224, 224, generator=g) * 4 - 2
    xb = torch.rand(batch, 3, 224, 224, generator=g) * 4 - 2

    def forward(img):
        with torch.no_grad():
            fwd(m, img)

    def forward_backward():
        logits, _ = fwd(m, x.clone().requires_grad_(True))
        logits[0, 0].backward()

    yield "forward, 1 image", median_ms(lambda: forward(x), reps)
    yield "forward, batch (per image)", median_ms(lambda: forward(xb), min(reps, 3)) / batch

    def perturbation_step():  # as mxb bench: every 10th pixel from a per-image offset zeroed
        xp = xb.clone().view(batch, 3, -1)
        for b in range(batch):
            xp[b, :, b::10] = 0
        forward(xp.view(batch, 3, 224, 224))
    yield "perturbation step, batch (per image)", median_ms(perturbation_step, min(reps, 3)) / batch
    yield "forward+backward", median_ms(forward_backward, reps)
    if m.arch == "vim":
        with torch.no_grad():
            s6 = fwd(m, x)[1]["s6"]
        yield "xai vector (official), 1 layer", median_ms(lambda: ref.xai_vector(m, s6[0]), reps)
        yield "xai vector (official), all layers", median_ms(
            lambda: [ref.xai_vector(m, s) for s in s6], reps)
        yield "hidden attention exact, 1 layer-dir", median_ms(
            lambda: ref.hidden_attention(s6[0][0]).mean(1), reps)
        t = time.perf_counter()
        for s_f, s_b in s6:
            ref.hidden_attention(s_f).mean(1)
            ref.hidden_attention(s_b).mean(1).flip(-1, -2)
        yield "hidden attention exact, all layers", (time.perf_counter() - t) * 1e3
        xg = x.clone().requires_grad_(True)  # UIA's rows need the residual stream's trace
        _, tr = fwd(m, xg)
        with torch.no_grad():
            yield "xai vector (uia), all layers", median_ms(
                lambda: [bmt.uia_vector(m, tr, i) for i in range(m.cfg["depth"])], reps)
    for method in ref.METHODS:
        yield "explain " + method, median_ms(lambda: ref.explain(m, x, method), reps)
    yield from bmt.twins(m, x, reps, median_ms, methods)


def bench_sgemm(reps):
    """torch.mm at the sizes mxb bench gives cblas_sgemm."""
    a, b = torch.rand(1024, 1024), torch.rand(1024, 1024)
    yield "sgemm 1024x1024x1024", median_ms(lambda: torch.mm(a, b), reps)
    x, w = torch.rand(197, 384), torch.rand(1536, 384)
    yield "sgemm 197x384 @ 384x1536 (layer)", median_ms(lambda: torch.mm(x, w.t()), reps)
    x8 = torch.rand(8 * 197, 384)
    yield "sgemm 1576x384 @ 384x1536 (layer, 8 images)", median_ms(lambda: torch.mm(x8, w.t()), reps)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="vim-s,deit-s", help="comma-separated: " +
                    ", ".join(sorted(mk.PRESETS)))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--methods", default="all", help="the method rows (mxb bench --methods)")
    a = ap.parse_args(argv)
    models = a.models.split(",")
    bad = [n for n in models if n not in mk.PRESETS]
    if bad or min(a.reps, a.batch, a.threads) < 1:
        print("bench_torch: " + ("unknown model '%s' (%s)" % (bad[0], ", ".join(sorted(mk.PRESETS)))
              if bad else "--reps, --batch and --threads must be positive"), file=sys.stderr)
        return 2
    torch.set_num_threads(a.threads)
    for what, ms in bench_sgemm(a.reps):
        print("blas\t%s\t%.4f" % (what, ms), flush=True)
    for name in models:
        for what, ms in bench(name, a.reps, a.batch, a.methods):
            print("%s\t%s\t%.4f" % (name, what, ms), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
