#!/usr/bin/env python3
"""Write a model's evaluation transform into an existing mxb weights file (the
eval_* root attributes, engine/WEIGHTS.md), for files converted before the
converter wrote them. Nothing else in the file changes.

    set_transform.py W.h5 [--resize N] [--crop N] [--square]
                     [--interpolation bicubic|bilinear|nearest] [--mean R,G,B] [--std R,G,B]

Defaults are the converter's (the official models': Resize(int(S * 256 / 224),
bicubic) + CenterCrop(S), ImageNet mean/std). The file is edited in a copy that
replaces it at the end, so an interrupted run leaves the old file whole."""
import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # noqa: E402
from _needs import need  # noqa: E402

need('h5py')

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_checkpoint as cc  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights")
    ap.add_argument("--resize", type=int)
    ap.add_argument("--crop", type=int)
    ap.add_argument("--square", action="store_true")
    ap.add_argument("--interpolation", choices=("bicubic", "bilinear", "nearest"), default="bicubic")
    ap.add_argument("--mean", type=cc.rgb, default=cc.IMAGENET_MEAN)
    ap.add_argument("--std", type=cc.rgb, default=cc.IMAGENET_STD)
    a = ap.parse_args(argv)
    try:
        with h5py.File(a.weights, "r") as f:
            size = int(f.attrs["img_size"])
        attrs = cc.eval_transform(size, a.resize, a.crop, a.square, a.interpolation, a.mean, a.std)
    except (OSError, KeyError) as e:
        print("set_transform: %s: not an mxb weights file (%s)" % (a.weights, e), file=sys.stderr)
        return 2
    except cc.CheckpointError as e:
        print("set_transform: %s: %s" % (a.weights, e), file=sys.stderr)
        return 2
    d = os.path.dirname(os.path.abspath(a.weights))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(a.weights) + ".", suffix=".partial", dir=d)
    os.close(fd)
    try:
        shutil.copyfile(a.weights, tmp)
        shutil.copymode(a.weights, tmp)
        with h5py.File(tmp, "r+") as f:
            for k, v in attrs.items():
                f.attrs[k] = v
        os.replace(tmp, a.weights)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    print("%s: %s" % (a.weights, ", ".join("%s %s" % kv for kv in attrs.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
