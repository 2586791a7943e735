"""Inputs and golden data for tests/test_datasets.c, made with independent code:
PIL 9 (writes the JPEG/PNG files; Image.open(f).convert('RGB') and Image.resize
give the expected pixels), torch (ToTensor + Normalize as torchvision computes
them), h5py (tools/make_gtsegs.py writes the .mat files; Chefer's h5py expressions
read them back), and Python re-statements of ImageFolder's listing and of the
random-subset rule in datasets.h. Nothing here calls mxb.

usage: gen_datasets.py OUTDIR
       gen_datasets.py --check-gtsegs FILE.mat EXPECTED.h5   (used by the C test: reads
           FILE the way Chefer's dataset does and compares with EXPECTED's img_<i>/gt_<i>)
"""
import io
import os
import shutil
import struct
import sys
import zlib

import h5py
import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import make_gtsegs  # noqa: E402

torch.set_num_threads(1)
rng = np.random.default_rng(20240611)


def chefer_read(f, i):
    """Sample i of a gtsegs file exactly as Chefer's Imagenet_Segmentation reads it."""
    img = np.array(f[f['value/img'][i, 0]]).transpose((2, 1, 0))
    gt = np.array(f[f[f['value/gt'][i, 0]][0, 0]]).transpose((1, 0))
    return img, gt


def check_gtsegs(path, expected):
    with h5py.File(path, "r") as f, h5py.File(expected, "r") as e:
        n = len(f["/value/img"])
        if n != int(e["n"][()]):
            print("check-gtsegs: %d samples, expected %d" % (n, int(e["n"][()])))
            return 1
        for i in range(n):
            img, gt = chefer_read(f, i)
            if not (np.array_equal(img, e["img_%d" % i][:]) and np.array_equal(gt, e["gt_%d" % i][:])):
                print("check-gtsegs: sample %d differs" % i)
                return 1
        ok = f.userblock_size == 512 and f["value"].attrs["MATLAB_class"] == b"struct"
        ok = ok and f["value/img"].attrs["MATLAB_class"] == b"cell"
        ok = ok and all(f[f["value/gt"][i, 0]].attrs["MATLAB_class"] == b"cell" for i in range(n))
        ok = ok and all(f[f["value/img"][i, 0]].attrs["MATLAB_class"] == b"uint8" for i in range(n))
        fields = [bytes(x).decode() for x in f["value"].attrs["MATLAB_fields"]]
        a = f["#refs#/a"]
        ok = ok and fields == ["img", "gt"] and a.attrs["MATLAB_class"] == b"canonical empty"
        ok = ok and int(a.attrs["MATLAB_empty"]) == 1 and list(a[:]) == [0, 0]
    with open(path, "rb") as fh:
        head = fh.read(128)
    ok = ok and head.startswith(b"MATLAB 7.3 MAT-file") and head[124:128] == b"\x00\x02IM"
    print("check-gtsegs: %d samples equal; MATLAB header and classes %s" % (n, "ok" if ok else "WRONG"))
    return 0 if ok else 1


# ---- photo-like images ---------------------------------------------------------

def photo(h, w, channels=3):
    """Smooth gradients, sharp-edged shapes and noise: what resampling is sensitive to."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    y /= max(h - 1, 1)
    x /= max(w - 1, 1)
    img = np.empty((h, w, channels))
    for c in range(channels):
        a, b, f, p = rng.uniform(-120, 120), rng.uniform(-120, 120), rng.uniform(1, 6), rng.uniform(0, 6)
        img[..., c] = 128 + a * x + b * y + 40 * np.sin(f * (x + 0.7 * y) + p)
    for _ in range(int(rng.integers(2, 6))):  # edges: rectangles and discs of flat colour
        col = rng.uniform(0, 255, channels)
        cy, cx, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.4)
        if rng.random() < 0.5:
            sel = (np.abs(y - cy) < r) & (np.abs(x - cx) < r * rng.uniform(0.3, 2))
        else:
            sel = (y - cy) ** 2 + (x - cx) ** 2 < r * r
        img[sel] = col
    img += rng.normal(0, 10, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def rgb_of(path):
    return np.asarray(Image.open(path).convert("RGB"))


# ---- ImageNet folders ----------------------------------------------------------

def save_jpeg(path, arr, mode="RGB", **kw):
    im = Image.fromarray(arr)
    if mode != im.mode:
        im = im.convert(mode)
    im.save(path, "JPEG", **kw)


def save_png(path, im, **kw):
    im.save(path, "PNG", **kw)


def image_variants():
    """(name suffix, writer(path)) pairs covering the decoder's paths."""
    out = []

    def jpeg(h, w, **kw):
        a = photo(h, w)
        return lambda p: save_jpeg(p, a, **kw)

    out.append((".JPEG", jpeg(23, 17, quality=75)))
    out.append((".JPEG", jpeg(33, 9, quality=95, subsampling=0)))
    out.append((".jpg", jpeg(48, 64, quality=40, subsampling=1)))
    out.append((".jpeg", jpeg(77, 101, quality=90, subsampling=2, progressive=True)))
    out.append((".JPEG", jpeg(61, 45, quality=85, optimize=True)))
    out.append((".JPEG", jpeg(1, 1, quality=75)))
    out.append((".JPEG", jpeg(40, 31, mode="L", quality=80)))           # grey JPEG
    out.append((".jpg", jpeg(29, 37, mode="CMYK", quality=90)))        # Adobe CMYK JPEG
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: PIL's open/convert ignores it, so must we
    out.append((".JPEG", jpeg(21, 34, quality=75, exif=exif.tobytes())))
    a = photo(19, 27)
    out.append((".png", lambda p: save_png(p, Image.fromarray(a))))
    b = photo(25, 14, 4)
    out.append((".png", lambda p: save_png(p, Image.fromarray(b, "RGBA"))))
    c = photo(30, 22, 1)[..., 0]
    out.append((".PNG", lambda p: save_png(p, Image.fromarray(c, "L"))))
    d = photo(18, 26, 2)
    out.append((".png", lambda p: save_png(p, Image.fromarray(d, "LA"))))
    e = photo(35, 28)
    out.append((".png", lambda p: save_png(p, Image.fromarray(e).quantize(200))))  # palette
    f = photo(17, 23)
    out.append((".png", lambda p: save_png(p, Image.fromarray(f).quantize(12), bits=4)))  # 4-bit palette
    g = photo(16, 21)
    out.append((".png", lambda p: save_png(p, Image.fromarray(g).quantize(64), transparency=3)))  # P + tRNS
    m = photo(13, 19, 1)[..., 0]
    out.append((".png", lambda p: save_png(p, Image.fromarray(m).convert("1"))))  # 1-bit
    n = photo(22, 15)
    out.append((".png", lambda p: save_png(p, Image.fromarray(n), transparency=(10, 20, 30))))  # RGB + tRNS
    q = photo(20, 20, 1)[..., 0]
    out.append((".png", lambda p: save_png(p, Image.fromarray(q, "L"), transparency=7)))  # grey + tRNS
    return out


def image_folder_listing(root):
    """torchvision ImageFolder / make_dataset: classes = sorted sub-folders, then
    for each class sorted(os.walk(...)) and sorted file names, image extensions only."""
    exts = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
    items = []
    for ci, c in enumerate(classes):
        for r, _, fnames in sorted(os.walk(os.path.join(root, c), followlinks=True)):
            for fn in sorted(fnames):
                if fn.lower().endswith(exts):
                    items.append((os.path.relpath(os.path.join(r, fn), root), ci))
    return items


def write_manifest(path, root, items, px, group):
    g = px.create_group(group)
    with open(path, "w") as fh:
        for i, (rel, label) in enumerate(items):
            a = rgb_of(os.path.join(root, rel))
            g["%d" % i] = a
            fh.write("%s %d %d %d\n" % (rel, label, a.shape[0], a.shape[1]))


def imagenet(out, px):
    variants = image_variants()
    k = 0
    tree = os.path.join(out, "tree")
    # class folders, one with nested folders whose names sort "sub" < "sub-a" < "sub/deep"
    layout = [("n01440764", ""), ("n01440764", ""), ("n01440764", ""), ("n01443537", ""),
              ("n01443537", ""), ("n02102040", ""), ("n02102040", "sub"), ("n02102040", "sub-a"),
              ("n02102040", "sub/deep"), ("n02102040", "sub/deep"), ("n09999999", "")]
    for i, (suffix, write) in enumerate(variants):
        cls, sub = layout[i % len(layout)]
        d = os.path.join(tree, cls, sub)
        os.makedirs(d, exist_ok=True)
        write(os.path.join(d, "ILSVRC2012_val_%08d%s" % (1000 - 37 * i, suffix)))
        k += 1
    with open(os.path.join(tree, "n01440764", "notes.txt"), "w") as fh:
        fh.write("not an image: skipped by name\n")
    items = image_folder_listing(tree)
    write_manifest(os.path.join(out, "tree_manifest.txt"), tree, items, px, "tree")

    flat = os.path.join(out, "flat")
    os.makedirs(os.path.join(flat, "subfolder"))
    names = []
    for i, (suffix, write) in enumerate(variants):
        name = "ILSVRC2012_val_%08d%s" % (i * 7 % 23 + 1, suffix)
        if i == 3:
            name = "Zebra%s" % suffix          # strcmp: uppercase sorts first
        if i == 4:
            name = "caf\u00e9%s" % suffix       # UTF-8 name sorts by bytes
        write(os.path.join(flat, name))
        names.append(name)
    save_png(os.path.join(flat, "subfolder", "x.png"), Image.fromarray(photo(5, 5)))  # not listed
    with open(os.path.join(flat, "README"), "w") as fh:
        fh.write("skipped\n")
    names.sort(key=lambda s: s.encode())
    labels = {n: int(rng.integers(0, 1000)) for n in names}
    with open(os.path.join(out, "flat_labels_A.txt"), "w") as fh:  # one label per line, sorted order
        fh.write("".join("%d\n" % labels[n] for n in names))
    shuffled = list(names)
    rng.shuffle(shuffled)
    with open(os.path.join(out, "flat_labels_B.txt"), "w") as fh:  # "name label", any order, extras
        fh.write("\n")
        for j, n in enumerate(shuffled):
            fh.write("%s %d\n" % (n, labels[n]) if j % 2 else "  %s\t%d  \r\n" % (n, labels[n]))
            if j == 3:
                fh.write("ILSVRC2012_val_99999999.JPEG 5\n\n")  # no such file: ignored
    write_manifest(os.path.join(out, "flat_manifest.txt"), flat, [(n, labels[n]) for n in names], px, "flat")

    # label-file errors, against the flat folder
    bad = os.path.join(out, "bad")
    os.makedirs(bad, exist_ok=True)
    A = ["%d" % labels[n] for n in names]
    B = ["%s %d" % (n, labels[n]) for n in names]

    def put(name, lines):
        with open(os.path.join(bad, name), "w") as fh:
            fh.write("\n".join(lines) + "\n")

    put("labels_badline.txt", B[:3] + ["%s seven" % names[3]] + B[4:])        # line 4
    put("labels_negative.txt", A[:5] + ["-3"] + A[6:])                        # line 6
    put("labels_dup.txt", B + [B[2]])                                         # last line
    put("labels_missing.txt", B[:6] + B[7:])                                  # names[6] has none
    put("labels_few.txt", A[:-2])                                             # A: count mismatch
    put("labels_many.txt", A + ["1", "2"])
    put("labels_mixed.txt", A[:2] + [B[2]] + A[3:])                           # format changes, line 3
    put("labels_empty.txt", [""])
    with open(os.path.join(out, "flat_names.txt"), "w") as fh:
        fh.write("\n".join(names) + "\n")
    return items, names


# ---- subsets -------------------------------------------------------------------

MASK64 = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


def random_subset(positions, n, seed):
    """datasets.h: partial Fisher-Yates over the selection's positions, each draw
    next() % m, draws >= 2^64 - (2^64 mod m) redrawn, then sorted."""
    sel = list(positions)
    n = min(n, len(sel))
    st = seed
    for i in range(n):
        m = len(sel) - i
        limit = (1 << 64) - (1 << 64) % m
        while True:
            st, r = splitmix64(st)
            if r < limit:
                break
        j = i + r % m
        sel[i], sel[j] = sel[j], sel[i]
    return sorted(sel[:n])


def subsets(out, ntree):
    with open(os.path.join(out, "subsets.txt"), "w") as fh:
        # "seed n -> expected item indices" on the whole tree, and after every(2, 1)
        for seed, n in [(0, 5), (1, 5), (42, 1), (7, ntree), (123456789123456789, 9), (2 ** 64 - 1, 3)]:
            fh.write("all %d %d %s\n" % (seed, n, " ".join(map(str, random_subset(range(ntree), n, seed)))))
        every = list(range(1, ntree, 2))
        for seed, n in [(3, 4), (99, 2)]:
            fh.write("every2_1 %d %d %s\n" % (seed, n, " ".join(map(str, random_subset(every, n, seed)))))
        # splitmix64 itself: the first outputs from seed 1234567
        st, outs = 1234567, []
        for _ in range(4):
            st, z = splitmix64(st)
            outs.append(z)
        fh.write("splitmix 1234567 %s\n" % " ".join(map(str, outs)))


# ---- gtsegs --------------------------------------------------------------------

def gtsegs(out):
    samples = []
    for (h, w) in [(37, 53), (64, 64), (20, 31), (1, 9), (45, 12)]:
        rgb = photo(h, w)
        yy, xx = np.mgrid[0:h, 0:w]
        mask = ((yy - h / 2) ** 2 / (h / 3 + 1) ** 2 + (xx - w / 3) ** 2 / (w / 4 + 1) ** 2 < 1).astype(np.uint8)
        samples.append((rgb, mask))
    path = os.path.join(out, "gtsegs.mat")
    make_gtsegs.write(path, samples)
    with h5py.File(path, "r") as f, h5py.File(os.path.join(out, "gtsegs_golden.h5"), "w") as g:
        g["n"] = len(samples)
        for i in range(len(samples)):
            img, gt = chefer_read(f, i)
            assert np.array_equal(img, samples[i][0]) and np.array_equal(gt, samples[i][1])
            g["img_%d" % i] = img
            g["gt_%d" % i] = gt
    bad = os.path.join(out, "bad")
    s2 = samples[:2]

    make_gtsegs.write(os.path.join(bad, "missing_gt.mat"), s2)
    with h5py.File(os.path.join(bad, "missing_gt.mat"), "a") as f:
        del f["value/gt"]
    make_gtsegs.write(os.path.join(bad, "count.mat"), s2)
    with h5py.File(os.path.join(bad, "count.mat"), "a") as f:
        r = f["value/gt"][:1]
        del f["value/gt"]
        f.create_dataset("value/gt", data=r, dtype=h5py.ref_dtype)
    make_gtsegs.write(os.path.join(bad, "mismatch.mat"), s2)
    with h5py.File(os.path.join(bad, "mismatch.mat"), "a") as f:  # sample 1: mask 1 column short
        cell = f[f["value/gt"][1, 0]]
        m = f[cell[0, 0]]
        data = m[:-1, :]
        name = m.name
        del f[name]
        f[name] = data
        cell[0, 0] = f[name].ref
    make_gtsegs.write(os.path.join(bad, "maskvalue.mat"), s2)
    with h5py.File(os.path.join(bad, "maskvalue.mat"), "a") as f:  # sample 1: a 255 in the mask
        m = f[f[f["value/gt"][1, 0]][0, 0]]
        m[2, 3] = 255
    make_gtsegs.write(os.path.join(bad, "notdataset.mat"), s2)
    with h5py.File(os.path.join(bad, "notdataset.mat"), "a") as f:  # gt[1] -> a group
        f["value/gt"][1, 0] = f["value"].ref
    make_gtsegs.write(os.path.join(bad, "floatimg.mat"), s2)
    with h5py.File(os.path.join(bad, "floatimg.mat"), "a") as f:  # img[0] stored as double
        name = f[f["value/img"][0, 0]].name
        data = f[name][:].astype(np.float64)
        del f[name]
        f[name] = data
        f["value/img"][0, 0] = f[name].ref
    # dangling: img[1]'s reference rewritten in the file to an address past the end
    path = os.path.join(bad, "dangling.mat")
    make_gtsegs.write(path, s2)
    with h5py.File(path, "r") as f:
        off = f["value/img"].id.get_offset()
    with open(path, "r+b") as fh:
        # get_offset() is the byte offset in the file (userblock included)
        fh.seek(off + 8)
        fh.write(struct.pack("<Q", 0x7FFFFFF0))
    with h5py.File(path, "r") as f:
        try:
            f[f["value/img"][1, 0]]
            raise SystemExit("gen_datasets: dangling.mat: the patched reference still resolves")
        except (KeyError, ValueError, RuntimeError, OSError):
            pass
    with open(os.path.join(bad, "not_hdf5.mat"), "wb") as fh:
        fh.write(b"MATLAB 5.0 MAT-file, not HDF5".ljust(600, b" "))
    return samples


# ---- bad image files -----------------------------------------------------------

def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def bad_images(out):
    bad = os.path.join(out, "bad")
    buf = io.BytesIO()
    save_jpeg(buf, photo(40, 50), quality=90)
    jpg = buf.getvalue()
    with open(os.path.join(bad, "truncated.jpg"), "wb") as fh:
        fh.write(jpg[: len(jpg) * 6 // 10])
    with open(os.path.join(bad, "truncated_header.jpg"), "wb") as fh:
        fh.write(jpg[:100])
    sof = jpg.index(b"\xff\xc0")
    corrupt = bytearray(jpg)
    corrupt[sof + 5:sof + 9] = b"\x00\x00\x00\x00"  # SOF0 height and width = 0
    with open(os.path.join(bad, "corrupt.jpg"), "wb") as fh:
        fh.write(bytes(corrupt))
    dht = jpg.index(b"\xff\xc4")
    corrupt = bytearray(jpg)
    corrupt[dht + 5:dht + 21] = b"\xff" * 16  # Huffman code counts: impossible table
    with open(os.path.join(bad, "corrupt_huffman.jpg"), "wb") as fh:
        fh.write(bytes(corrupt))
    buf = io.BytesIO()
    save_png(buf, Image.fromarray(photo(30, 40)))
    png = buf.getvalue()
    corrupt = bytearray(png)
    corrupt[16 + 4] ^= 0x01  # inside IHDR: the CRC no longer matches
    with open(os.path.join(bad, "corrupt.png"), "wb") as fh:
        fh.write(bytes(corrupt))
    with open(os.path.join(bad, "truncated.png"), "wb") as fh:
        fh.write(png[: len(png) // 2])
    # IDAT whose zlib stream is garbage (valid CRC): the inflate fails
    ihdr = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    with open(os.path.join(bad, "badzlib.png"), "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", b"\x78\x9c" + bytes(range(40)))
                 + png_chunk(b"IEND", b""))
    Image.fromarray((photo(12, 10, 1)[..., 0].astype(np.uint16) * 257), "I;16").save(
        os.path.join(bad, "grey16.png"))
    # 16-bit RGB written by hand (PIL cannot)
    raw = b"".join(b"\x00" + bytes(rng.integers(0, 256, 6 * 5, dtype=np.uint8)) for _ in range(4))
    with open(os.path.join(bad, "rgb16.png"), "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 5, 4, 16, 2, 0, 0, 0))
                 + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))
    with open(os.path.join(bad, "text.jpg"), "wb") as fh:
        fh.write(b"GIF89a this is not a JPEG\n")
    with open(os.path.join(bad, "empty.png"), "wb") as fh:
        pass
    save_png(os.path.join(bad, "big.png"), Image.fromarray(photo(120, 90)))    # 10800 pixels
    save_jpeg(os.path.join(bad, "big.jpg"), photo(90, 120), quality=80)
    # a folder where the middle sample is broken: the iterator reports it and goes on
    it = os.path.join(bad, "iter")
    os.makedirs(it)
    save_png(os.path.join(it, "a.png"), Image.fromarray(photo(6, 7)))
    with open(os.path.join(it, "b.jpg"), "wb") as fh:
        fh.write(jpg[: len(jpg) // 2])
    save_png(os.path.join(it, "c.png"), Image.fromarray(photo(8, 5)))
    with open(os.path.join(bad, "iter_labels.txt"), "w") as fh:
        fh.write("a.png 1\nb.jpg 2\nc.png 3\n")
    # a class tree with an empty class folder, and a folder without class folders
    os.makedirs(os.path.join(bad, "emptyclass", "n1"))
    os.makedirs(os.path.join(bad, "emptyclass", "n2"))
    save_png(os.path.join(bad, "emptyclass", "n1", "a.png"), Image.fromarray(photo(4, 4)))
    os.makedirs(os.path.join(bad, "noclasses"))
    save_png(os.path.join(bad, "noclasses", "a.png"), Image.fromarray(photo(4, 4)))


# ---- fuzz seeds ----------------------------------------------------------------

def fuzz_seeds(out, samples):
    d = os.path.join(out, "fuzz")
    os.makedirs(d)
    save_jpeg(os.path.join(d, "seed.jpg"), photo(24, 32), quality=85, subsampling=2)
    save_jpeg(os.path.join(d, "seed_prog.jpg"), photo(20, 18), quality=70, progressive=True)
    save_png(os.path.join(d, "seed.png"), Image.fromarray(photo(20, 26)))
    save_png(os.path.join(d, "seed_p.png"), Image.fromarray(photo(16, 12)).quantize(30), transparency=2)
    make_gtsegs.write(os.path.join(d, "seed.mat"), [(samples[2][0], samples[2][1]), (samples[3][0], samples[3][1])])


# ---- preprocessing -------------------------------------------------------------

MEAN = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float32)
STD = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float32)
FILTERS = {0: Image.NEAREST, 2: Image.BILINEAR, 3: Image.BICUBIC}


def to_tensor_normalize(arr):
    # torchvision's ToTensor (from_numpy, permute, float().div(255)) then Normalize
    # (tensor.sub_(mean[:, None, None]).div_(std[:, None, None])), in float32
    t = torch.from_numpy(np.array(arr)).permute(2, 0, 1).contiguous().float().div(255)
    return t.sub_(MEAN[:, None, None]).div_(STD[:, None, None]).numpy()


def tv_resize_short(im, size, filt):
    w, h = im.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    ow, oh = (new_short, new_long) if w <= h else (new_long, new_short)
    return im.resize((ow, oh), filt)


def tv_center_crop(im, size):
    w, h = im.size
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return im.crop((left, top, left + size, top + size))


def put(g, name, arr):
    # gzip: the golden file stays a few MB (libhdf5 reads it back transparently)
    arr = np.asarray(arr)
    g.create_dataset(name, data=arr, **(dict(compression="gzip", compression_opts=1) if arr.size > 4096 else {}))


def preprocess(out):
    g = h5py.File(os.path.join(out, "preprocess.h5"), "w")
    man = open(os.path.join(out, "preprocess_manifest.txt"), "w")
    sources = [(37, 53), (53, 37), (211, 300), (260, 513), (224, 224), (256, 300), (15, 20), (3, 7), (301, 256)]
    case = 0
    for k, (h, w) in enumerate(sources):
        a = photo(h, w)
        put(g, "src_%d" % k, a)
        yy, xx = np.mgrid[0:h, 0:w]
        mask = (((yy * 7 + xx * 3) // 5) % 3 == 0).astype(np.uint8)  # thin stripes: nearest shows
        put(g, "mask_%d" % k, mask)
        im = Image.fromarray(a)
        r = tv_center_crop(tv_resize_short(im, 256, Image.BICUBIC), 224)
        put(g, "imagenet_rgb_%d" % k, np.asarray(r))
        put(g, "imagenet_chw_%d" % k, to_tensor_normalize(np.asarray(r)))
        mr = tv_center_crop(tv_resize_short(Image.fromarray(mask), 256, Image.NEAREST), 224)
        put(g, "imagenet_mask_%d" % k, np.asarray(mr))
        s = im.resize((224, 224), Image.BILINEAR)
        put(g, "seg_rgb_%d" % k, np.asarray(s))
        put(g, "seg_chw_%d" % k, to_tensor_normalize(np.asarray(s)))
        put(g, "seg_mask_%d" % k, np.asarray(Image.fromarray(mask).resize((224, 224), Image.NEAREST)))
        # Image.resize itself: down, up, one axis only, mixed, tiny
        targets = [(max(1, h // 3), max(1, w // 3)), (2 * h + 1, 2 * w - 1), (h, w // 2 + 1), (2 * h - 1, w),
                   (max(1, h // 4), 2 * w), (1, 1), (7, 5)]
        if h > 100:
            targets[1] = (h + h // 2 + 1, w + 3)  # keep the golden file small
        chans = [3, 1, 4] if k in (0, 3, 6) else [3]
        for c in chans:
            src = a if c == 3 else photo(h, w, c)[..., 0] if c == 1 else photo(h, w, 4)
            mode = {1: "L", 3: "RGB", 4: "CMYK"}[c]  # CMYK: four plain channels, no premultiplying
            if c != 3:
                put(g, "src_%d_c%d" % (k, c), src)
            for (oh, ow) in targets:
                for fid, filt in FILTERS.items():
                    o = np.asarray(Image.fromarray(src, mode).resize((ow, oh), filt))
                    put(g, "resize_%d" % case, o.reshape(oh, ow, c))
                    man.write("%d %s %d %d %d %d %d %d\n" % (case, "src_%d" % k if c == 3 else "src_%d_c%d" % (k, c),
                                                            c, h, w, oh, ow, fid))
                    case += 1
    # a sweep of small random sizes: the scale ratios where a coefficient's rounding is
    # closest to a tie, 1..64 px in, 1..96 px out, every filter
    for j in range(240):
        h, w = int(rng.integers(1, 65)), int(rng.integers(1, 65))
        oh, ow = int(rng.integers(1, 97)), int(rng.integers(1, 97))
        fid = [0, 2, 3][j % 3]
        a = photo(h, w)
        put(g, "src_r%d" % j, a)
        put(g, "resize_%d" % case, np.asarray(Image.fromarray(a).resize((ow, oh), FILTERS[fid])))
        man.write("%d src_r%d 3 %d %d %d %d %d\n" % (case, j, h, w, oh, ow, fid))
        case += 1
    man.close()
    with open(os.path.join(out, "preprocess_sources.txt"), "w") as fh:
        fh.write("".join("%d %d %d\n" % (k, h, w) for k, (h, w) in enumerate(sources)))
    g.close()
    return case


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--check-gtsegs":
        raise SystemExit(check_gtsegs(sys.argv[2], sys.argv[3]))
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    out = sys.argv[1]
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(os.path.join(out, "bad"))
    with h5py.File(os.path.join(out, "pixels.h5"), "w") as px:
        items, names = imagenet(out, px)
    subsets(out, len(items))
    samples = gtsegs(out)
    bad_images(out)
    fuzz_seeds(out, samples)
    ncase = preprocess(out)
    print("gen_datasets: %d tree + %d flat images, %d gtsegs samples, %d resize cases -> %s"
          % (len(items), len(names), len(samples), ncase, out))


if __name__ == "__main__":
    main()
