#!/usr/bin/env python3
"""Write a file with the structure of ImageNet-segmentation's gtsegs_ijcv.mat.

    make_gtsegs.py OUT.mat --images DIR --masks DIR

pairs DIR/NAME.* images with masks of the same stem (any value > 0 is object) in
sorted name order. As a module, write(path, samples) takes (rgb [H,W,3] uint8,
mask [H,W]) pairs.

The layout is what MATLAB 7.3 writes for `save -v7.3` of a struct array `value`
with fields img and gt, where gt(i) is a 1x1 cell holding the mask:
  - a 512-byte userblock opening with MATLAB's 128-byte header text;
  - /value: a group, MATLAB_class 'struct', MATLAB_fields [img, gt];
  - /value/img, /value/gt: N x 1 arrays of object references, MATLAB_class 'cell';
  - /#refs#/a: MATLAB's canonical-empty marker; /#refs#/<b, c, ...>: the values;
  - an image is MATLAB's H x W x 3 column-major, i.e. an HDF5 [3, W, H] uint8
    array; a mask is [W, H] uint8; gt(i) is a [1, 1] reference array (the cell).
Chefer's reader (Imagenet_Segmentation) reads sample i back as
  np.array(f[f['value/img'][i, 0]]).transpose((2, 1, 0))
  np.array(f[f[f['value/gt'][i, 0]][0, 0]]).transpose((1, 0)).
Nothing time-dependent is written: the same samples give the same bytes.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # noqa: E402
from _needs import need  # noqa: E402

need('h5py', 'numpy')

import h5py
import numpy as np

HEADER = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created by make_gtsegs.py. HDF5 schema 1.00 ."


def _set_class(obj, name, extra=None):
    # MATLAB writes its attributes as fixed-length, NUL-terminated ASCII strings
    t = h5py.h5t.C_S1.copy()
    t.set_size(len(name))
    t.set_strpad(h5py.h5t.STR_NULLTERM)
    a = h5py.h5a.create(obj.id, b"MATLAB_class", t, h5py.h5s.create(h5py.h5s.SCALAR))
    # memory type = file type: no conversion, so all len(name) bytes are kept (as
    # MATLAB does, which fills the string to its size despite the NULLTERM label)
    a.write(np.array(name.encode(), dtype="S%d" % len(name)), mtype=t)
    if extra:
        for k, v in extra.items():
            obj.attrs[k] = v


def _ref_names():
    # MATLAB names #refs# members a, b, ..., z, A, ..., Z, ba, bb, ...
    digits = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    k = 0
    while True:
        n, s = k, ""
        while True:
            s = digits[n % 52] + s
            n //= 52
            if n == 0:
                break
        yield s
        k += 1


def write(path, samples):
    """samples: iterable of (rgb [H, W, 3] uint8, mask [H, W] of 0/1). Returns N."""
    names = _ref_names()
    dcpl_kw = dict(track_times=False)
    with h5py.File(path, "w", userblock_size=512, track_order=False) as f:
        refs = f.create_group("#refs#", track_order=False)
        empty = refs.create_dataset(next(names), data=np.zeros(2, np.uint64), **dcpl_kw)
        _set_class(empty, "canonical empty", {"MATLAB_empty": np.uint8(1)})
        value = f.create_group("value")
        vlen = h5py.vlen_dtype(np.dtype("S1"))
        fields = np.empty(2, dtype=object)
        fields[0] = np.frombuffer(b"img", dtype="S1")
        fields[1] = np.frombuffer(b"gt", dtype="S1")
        _set_class(value, "struct")
        value.attrs.create("MATLAB_fields", fields, dtype=vlen)
        img_refs, gt_refs = [], []
        for rgb, mask in samples:
            rgb = np.asarray(rgb, dtype=np.uint8)
            mask = np.asarray(mask)
            if rgb.ndim != 3 or rgb.shape[2] != 3 or mask.shape != rgb.shape[:2]:
                raise ValueError("want rgb [H, W, 3] and mask [H, W], got %s and %s"
                                 % (rgb.shape, mask.shape))
            img = refs.create_dataset(next(names), data=rgb.transpose(2, 1, 0), **dcpl_kw)
            _set_class(img, "uint8")
            m = refs.create_dataset(next(names), data=(mask > 0).astype(np.uint8).T, **dcpl_kw)
            _set_class(m, "uint8")
            cell = refs.create_dataset(next(names), data=np.array([[m.ref]], dtype=h5py.ref_dtype),
                                       **dcpl_kw)
            _set_class(cell, "cell")
            img_refs.append(img.ref)
            gt_refs.append(cell.ref)
        n = len(img_refs)
        for name, r in (("img", img_refs), ("gt", gt_refs)):
            d = value.create_dataset(name, shape=(n, 1), dtype=h5py.ref_dtype, **dcpl_kw)
            if n:
                d[:, 0] = r
            _set_class(d, "cell")
    _write_header(path)
    return n


def _write_header(path):
    # 116 bytes of text (space-padded), 8 bytes of subsystem offset, version 0x0200,
    # endian indicator 'IM' -- what MATLAB puts in the first 128 bytes
    h = HEADER.ljust(116, b" ") + b"\0" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as f:
        f.write(h)


def _folder_samples(images, masks):
    from PIL import Image
    exts = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".tif", ".tiff", ".webp")
    by_stem = {}
    for m in sorted(os.listdir(masks)):
        by_stem.setdefault(os.path.splitext(m)[0], m)
    for name in sorted(os.listdir(images)):
        if not name.lower().endswith(exts):
            continue
        stem = os.path.splitext(name)[0]
        if stem not in by_stem:
            raise SystemExit("make_gtsegs: no mask for %s in %s" % (name, masks))
        rgb = np.asarray(Image.open(os.path.join(images, name)).convert("RGB"))
        mask = np.asarray(Image.open(os.path.join(masks, by_stem[stem])).convert("L"))
        if mask.shape != rgb.shape[:2]:
            raise SystemExit("make_gtsegs: %s is %dx%d but its mask %dx%d"
                             % (name, rgb.shape[0], rgb.shape[1], mask.shape[0], mask.shape[1]))
        yield rgb, mask


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--images", required=True)
    ap.add_argument("--masks", required=True)
    a = ap.parse_args()
    n = write(a.out, _folder_samples(a.images, a.masks))
    print("%s: %d samples" % (a.out, n), file=sys.stderr)


if __name__ == "__main__":
    main()
