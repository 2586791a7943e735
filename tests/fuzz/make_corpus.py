#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/ (small valid inputs, a few
KB each). Run with Debian's python3 (PIL): python3 tests/fuzz/make_corpus.py.
The structure-aware targets (weights, gtsegs, results) take mutation scripts: an
empty script is the valid template, the others flip a few objects."""
import io, os, shutil
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "corpus")


def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def img(mode, size, fmt, **kw):
    im = Image.new(mode, size)
    px = im.load()
    for y in range(size[1]):
        for x in range(size[0]):
            v = (x * 37 + y * 11) % 256
            px[x, y] = v if mode in ("L", "P") else tuple((v + 60 * c) % 256 for c in range(len(mode)))
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


for mode in ("RGB", "L", "RGBA", "P", "LA"):
    put("png", "%s.png" % mode, img(mode, (9, 7), "PNG"))
put("png", "onebit.png", img("1", (11, 3), "PNG"))
put("jpeg", "rgb.jpg", img("RGB", (16, 8), "JPEG", quality=80))
put("jpeg", "grey.jpg", img("L", (9, 9), "JPEG"))
put("jpeg", "cmyk.jpg", img("CMYK", (8, 8), "JPEG"))
put("jpeg", "progressive.jpg", img("RGB", (17, 9), "JPEG", progressive=True))
put("jpeg", "sub420.jpg", img("RGB", (24, 16), "JPEG", subsampling=2))

names = ["a.png", "b.JPEG", "c.jpg", "ILSVRC2012_val_00000001.JPEG", "n01.PNG"]
put("labels", "pairs.txt", "".join("%s %d\n" % (n, i) for i, n in enumerate(names)).encode())
put("labels", "numbers.txt", b"3\n1\n4\n1\n5\n")
put("labels", "blank_lines.txt", b"\n0\n\n1\n2\n3\n4\n")
put("labels", "ids.txt", b"# ids\na\nb.JPEG\n")

for f in ("demo.ini", "paper-table1.ini", "paper-table2.ini"):
    put("config", f, open(os.path.join(here, "..", "..", "configs", f), "rb").read())
put("config", "minimal.ini", b"[run]\noutput = r.h5\n[model:m]\nweights = w.h5\n[method:rollout]\n"
    b"[perturbation]\ndata = d\nlabels = l.txt\nsubset = first:3\n--set run.seed=3\n")

put("plugin", "one.bin", bytes([1, 0x04, 2, 0x03, ord("g"), ord("c"), ord("x")]))
put("plugin", "two.bin", bytes([2, 0x02, 0, 0x02, 1]))
put("plugin", "abi.bin", bytes([1, 0x05, 0, 0, 0, 2, 0x02, 4]))

for t in ("weights", "gtsegs", "results"):
    put(t, "valid", b"")
    put(t, "drop_one", bytes([0, 0, 0, 9]))
    put(t, "reshape", bytes([0] * 5 + [11, 2, 200, 0, 4]))
    put(t, "poison", bytes([0] * 7 + [13, 0, 0, 0, 1, 0]))
put("weights", "vim_valid", b"\x01")
put("weights_raw", "vit.h5", open(os.path.join(here, "templates", "weights_vit.h5"), "rb").read())
