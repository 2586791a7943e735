#!/usr/bin/env python3
"""Makes the malformed inputs of tests/bad-inputs/CATALOGUE.tsv in a folder.

    make_inputs.py OUT_DIR MXB SOURCE_DIR

Everything starts from small valid files: the fuzzers' tiny weights
(tests/fuzz/templates/weights_{vit,vim}.h5: 8 px, one layer), two synthetic images
and their gtsegs file (`mxb synth --size 16`), a small JPEG of the fuzz corpus, and
a valid run (run.ini -> good.h5, made with MXB). Each bad file changes one thing;
the catalogue says which, and what mxb must answer. Needs h5py and numpy only."""
import os
import shutil
import struct
import subprocess
import sys
import zlib

import h5py
import numpy as np

out, mxb, src = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(out, exist_ok=True)
os.chdir(out)
tpl = os.path.join(src, "tests", "fuzz", "templates")


def run(*args):
    subprocess.run([mxb, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def copy(name, to):
    shutil.copy(os.path.join(tpl, name), to)
    return to


def edit(base, to, fn):
    copy(base, to)
    with h5py.File(to, "r+") as f:
        fn(f)


# ---- the valid material ------------------------------------------------------
# the templates predate the evaluation transform: give these two one (8 px, no crop)
for name in ("vit", "vim"):
    edit("weights_%s.h5" % name, name + ".h5", lambda f: f.attrs.update(
        {"eval_resize": 8, "eval_square": 0, "eval_crop": 0, "eval_interpolation": "bilinear",
         "eval_mean": [0.485, 0.456, 0.406], "eval_std": [0.229, 0.224, 0.225]}))
run("synth", "data", "--n", "2", "--seed", "1", "--size", "16")
shutil.copy(os.path.join(src, "tests", "fuzz", "corpus", "jpeg", "rgb.jpg"), "good.jpg")
# the tiny models have 3 classes: labels the models can predict (mxb run refuses others)
lines = open("data/labels.txt").read().split("\n")
open("data/labels.txt", "w").write("\n".join(
    "%s %d" % (l.split()[0], int(l.split()[1]) % 3) if l.strip() else l for l in lines))
RUN = """[run]
output = good.h5
figures = 1

[model:deit]
weights = vit.h5

[model:vim]
weights = vim.h5

[method:rollout]

[perturbation]
data = data/images
labels = data/labels.txt
resize = 8
crop = 8

[segmentation]
data = data/gtsegs_synth.mat
resize = 8
square = yes
"""
open("run.ini", "w").write(RUN)
run("run", "run.ini", "--quiet")

# ---- weights -------------------------------------------------------------------
data = open("vit.h5", "rb").read()
open("trunc.h5", "wb").write(data[: len(data) // 2])
open("notweights.h5", "wb").write(b"this is not an HDF5 file\n")
edit("weights_vit.h5", "missing.h5", lambda f: f.__delitem__("head.bias"))


def wrong_shape(f):
    del f["head.bias"]
    f["head.bias"] = np.zeros(4, np.float32)


edit("weights_vit.h5", "shape.h5", wrong_shape)


def wrong_dtype(f):
    del f["head.bias"]
    f["head.bias"] = np.zeros(3, np.int32)


edit("weights_vit.h5", "dtype.h5", wrong_dtype)


def nan(f):
    f["head.bias"][1] = np.nan


edit("weights_vit.h5", "nan.h5", nan)
edit("weights_vit.h5", "extra.h5", lambda f: f.create_dataset("blocks.7.attn.qkv.weight", data=np.zeros(2, np.float32)))


def unwritten(f):
    del f["head.bias"]
    f.create_dataset("head.bias", shape=(3,), dtype=np.float32)  # declared, never written


edit("weights_vit.h5", "unwritten.h5", unwritten)


def too_big(f):  # a DeiT-B config in a 20 KB file
    for k, v in dict(embed_dim=768, depth=12, num_heads=12, mlp_hidden=3072, img_size=224, patch_size=16,
                     num_classes=1000).items():
        f.attrs[k] = v


edit("weights_vit.h5", "toobig.h5", too_big)
edit("weights_vit.h5", "noarch.h5", lambda f: f.attrs.__delitem__("arch"))


def arch_array(f):  # the fuzz_weights find: an array of strings read into one pointer
    del f.attrs["arch"]
    f.attrs.create("arch", ["vit", "vim"], dtype=h5py.string_dtype())


edit("weights_vit.h5", "archarray.h5", arch_array)
edit("weights_vit.h5", "badrange.h5", lambda f: f.attrs.__setitem__("depth", 5000))
# the evaluation transform (engine/WEIGHTS.md): half of one, one that makes the wrong size


def edit_here(base, to, fn):  # from a file made above, not a template
    shutil.copy(base, to)
    with h5py.File(to, "r+") as f:
        fn(f)


edit_here("vit.h5", "transform_half.h5", lambda f: f.attrs.__delitem__("eval_crop"))
edit_here("vit.h5", "transform_size.h5", lambda f: f.attrs.__setitem__("eval_resize", 12))
# a ViM whose transform crops: a run with it and vit.h5 has two geometries in one test
edit_here("vim.h5", "vim_crop.h5", lambda f: f.attrs.update({"eval_resize": 9, "eval_square": 0, "eval_crop": 8}))

# ---- images ----------------------------------------------------------------------


def png_chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))


def png(w, h, rows):
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(rows)) + \
        png_chunk(b"IEND", b"")


good_png = png(4, 4, b"".join(b"\0" + bytes(range(12)) for _ in range(4)))
open("good.png", "wb").write(good_png)
bad = bytearray(good_png)
bad[29] ^= 0xFF  # IHDR's CRC
open("crc.png", "wb").write(bytes(bad))
open("truncated.png", "wb").write(good_png[:50])
open("bomb.png", "wb").write(png(8000, 8000, b"\0" * 100))  # 100 bytes declaring 192 MB
open("notimage.png", "wb").write(b"GIF89a not really\n")
jpg = open("good.jpg", "rb").read()
open("truncated.jpg", "wb").write(jpg[:-40])  # inside the entropy-coded data
open("header.jpg", "wb").write(jpg[:20])
open("corrupt.jpg", "wb").write(b"\xff\xd8\xff" + bytes(range(256)) * 2)

# ---- label files and id lists -------------------------------------------------
names = sorted(os.listdir("data/images"))
open("labels_badline.txt", "w").write("%s 1\n%s one\n" % (names[0], names[1]))
open("labels_negative.txt", "w").write("%s -3\n%s 1\n" % (names[0], names[1]))
open("labels_twice.txt", "w").write("%s 1\n%s 2\n%s 3\n" % (names[0], names[0], names[1]))
open("labels_missing.txt", "w").write("%s 1\n" % names[0])
open("labels_count.txt", "w").write("1\n2\n3\n")
open("labels_nul.txt", "wb").write(b"%s 1\n\0\n" % names[0].encode())
open("ids_unknown.txt", "w").write("# ids\nsynth_999999\n")

# ---- --images (a folder, a pattern, a list) and --classes ------------------------
os.makedirs("empty_folder", exist_ok=True)
open("list_missing.txt", "w").write("# the second image is missing\ngood.png\nnone.png\n")
open("list_notimage.txt", "w").write("good.png\nnotimage.png\n")
open("list_empty.txt", "w").write("# nothing listed\n\n")
open("classes_count.txt", "w").write("cat\ndog\n")  # the tiny models have 3 classes
open("classes_blank.txt", "w").write("cat\n\nbird\n")
open("classes_escape.txt", "w").write("cat\ndo\x1b[31mg\nbird\n")  # a terminal escape in a name

# ---- configurations ---------------------------------------------------------------
open("typo.ini", "w").write(RUN.replace("figures = 1", "figurs = 1"))
open("section.ini", "w").write(RUN.replace("[perturbation]", "[perturbaton]"))
open("badvalue.ini", "w").write(RUN.replace("figures = 1", "figures = many"))
open("nomodel.ini", "w").write(RUN.replace("[model:deit]\nweights = vit.h5\n", "").replace(
    "[model:vim]\nweights = vim.h5\n", ""))
open("syntax.ini", "w").write(RUN.replace("[run]", "[run"))
open("mixed.ini", "w").write(RUN.replace("weights = vim.h5", "weights = vim_crop.h5")
                             .replace("resize = 8\ncrop = 8\n", ""))
# the template's own bytes (vit.h5 has attributes added by this h5py): a stable SHA-256
copy("weights_vit.h5", "plain.h5")
open("badsha.ini", "w").write(RUN.replace("weights = vit.h5", "weights = plain.h5\nsha256 = " + "0" * 64))
open("subset.ini", "w").write(RUN.replace("crop = 8\n", "crop = 8\nsubset = ids:ids_unknown.txt\n"))
open("bad_labels.ini", "w").write(RUN.replace("data/labels.txt", "labels_badline.txt"))
# [model:NAME] label: the display name, 1..64 bytes of UTF-8 text
open("label_long.ini", "w").write(RUN.replace("weights = vim.h5", "weights = vim.h5\nlabel = " + "V" * 65))
open("label_latin1.ini", "wb").write(RUN.replace("weights = vim.h5", "weights = vim.h5\nlabel = ViM-\xa7").encode("latin-1"))

# ---- results files ------------------------------------------------------------------
res = open("good.h5", "rb").read()
open("res_trunc.h5", "wb").write(res[: len(res) // 3])
shutil.copy("good.h5", "res_incomplete.h5")
with h5py.File("res_incomplete.h5", "r+") as f:
    f.attrs["complete"] = 0
shutil.copy("good.h5", "res_version.h5")
with h5py.File("res_version.h5", "r+") as f:
    f.attrs["schema_version"] = 99
shutil.copy("good.h5", "res_shape.h5")
with h5py.File("res_shape.h5", "r+") as f:
    del f["perturbation/label"]
    f["perturbation/label"] = np.zeros(5, np.int32)
shutil.copy("good.h5", "res_name.h5")
with h5py.File("res_name.h5", "r+") as f:
    del f["models"]
    f.create_dataset("models", data=["deit", "bad\nname"], dtype=h5py.string_dtype())
# /skipped (the (model, method) pairs a run skipped): a value other than 0/1, a wrong shape
shutil.copy("good.h5", "res_skipped.h5")
with h5py.File("res_skipped.h5", "r+") as f:
    f.create_dataset("skipped", data=np.full((len(f["models"]), len(f["methods"])), 2, np.uint8))
shutil.copy("good.h5", "res_skipped_shape.h5")
with h5py.File("res_skipped_shape.h5", "r+") as f:
    f.create_dataset("skipped", data=np.zeros((1, 1), np.uint8))
shutil.copy("good.h5", "res_huge.h5")
with h5py.File("res_huge.h5", "r+") as f:  # 2^30 images declared, none stored
    del f["perturbation/index"]
    f.create_dataset("perturbation/index", shape=(1 << 30,), dtype=np.int32)
# two shards of different runs (another seed)
run("run", "run.ini", "--quiet", "--shard", "0/2")
run("run", "run.ini", "--quiet", "--shard", "1/2", "--set", "run.seed=5", "--set", "run.output=oth.h5")
# a bigger model than the memory limit allows (the demo ViT, 64 px inputs)
shutil.copy(os.path.join(src, "models", "demo_vit.h5"), "demo_vit.h5")
open("mem.ini", "w").write(RUN.split("[model:deit]")[0] + """[model:vit]
weights = demo_vit.h5

[method:rollout]

[perturbation]
data = data/images
labels = data/labels.txt
resize = 64
crop = 64
""")
# a results file of another configuration sitting where a run writes
shutil.copy("good.h5", "other.h5")
with h5py.File("other.h5", "r+") as f:
    f.attrs["run_key"] = "0" * 64
# maps of other weights: the same run with vit.h5 replaced
shutil.copy("vim.h5", "vim2.h5")
with h5py.File("vim2.h5", "r+") as f:
    f["head.bias"][0] = 0.5
open("maps_other.ini", "w").write(RUN.replace("good.h5", "maps_other.h5").replace("vim.h5", "vim2.h5"))
run("run", "maps_other.ini", "--quiet")

# ---- gtsegs files --------------------------------------------------------------


def gt_edit(to, fn):
    shutil.copy("data/gtsegs_synth.mat", to)
    with h5py.File(to, "r+") as f:
        fn(f)


# References point at objects, not names: a replaced object gets a new reference.
def gt_mask_shape(f):
    cell = f[f["value/gt"][0, 0]]
    cell[0, 0] = f.create_dataset("#refs#/bad_mask", data=np.zeros((8, 8), np.uint8)).ref


def gt_image_dtype(f):
    v = f[f["value/img"][0, 0]][()]
    img = f["value/img"]
    img[0, 0] = f.create_dataset("#refs#/bad_img", data=v.astype(np.float32)).ref


def gt_mask_values(f):
    m = f[f[f["value/gt"][0, 0]][0, 0]]
    m[0, 0] = 7


def gt_counts(f):
    v = f["value/gt"][()]
    del f["value/gt"]
    f.create_dataset("value/gt", data=v[:1], dtype=h5py.ref_dtype)


def gt_not_refs(f):
    del f["value/img"]
    f["value/img"] = np.zeros((2, 1), np.float64)


def gt_huge(f):  # declared, never written
    img = f["value/img"]
    img[0, 0] = f.create_dataset("#refs#/huge", shape=(3, 8000, 8000), dtype=np.uint8).ref


gt_edit("gt_maskshape.mat", gt_mask_shape)
gt_edit("gt_dtype.mat", gt_image_dtype)
gt_edit("gt_maskvalue.mat", gt_mask_values)
gt_edit("gt_counts.mat", gt_counts)
gt_edit("gt_notrefs.mat", gt_not_refs)
gt_edit("gt_huge.mat", gt_huge)
g = open("data/gtsegs_synth.mat", "rb").read()
open("gt_trunc.mat", "wb").write(g[:700])

# ---- hardening round 2 (issue 14): one case per class ------------------------------
# weights whose config disagrees with what mxb feeds the model, or hides a wrong value


def one_channel(f):  # in_chans = 1, with the patch embedding to match
    w = f["patch_embed.proj.weight"][()]
    del f["patch_embed.proj.weight"]
    f["patch_embed.proj.weight"] = w[:, :1]
    f.attrs["in_chans"] = 1


edit("weights_vit.h5", "inchans1.h5", one_channel)
open("inchans.ini", "w").write(RUN.replace("weights = vit.h5", "weights = inchans1.h5"))
edit("weights_vit.h5", "float_depth.h5", lambda f: f.attrs.__setitem__("depth", 1.7))
edit("weights_vit.h5", "float_version.h5", lambda f: f.attrs.__setitem__("mxb_weights_version", 1.5))
edit("weights_vit.h5", "feps0.h5", lambda f: f.attrs.__setitem__("final_norm_eps", 0.0))


def gzip_unwritten(f):  # compressed, chunked, the last chunk never written
    k = "blocks.0.mlp.fc1.weight"
    v = f[k][()]
    del f[k]
    d = f.create_dataset(k, shape=v.shape, dtype=np.float32, chunks=(1,) + v.shape[1:], compression="gzip")
    d[:-1] = v[:-1]


def lzf(f):  # h5py's own filter, which libhdf5 (and mxb) cannot decode
    v = f["head.weight"][()]
    del f["head.weight"]
    f.create_dataset("head.weight", data=v, compression="lzf")


edit("weights_vit.h5", "gz_unwritten.h5", gzip_unwritten)
edit("weights_vit.h5", "lzf.h5", lzf)
# labels the models cannot predict (1-based: 1..3 for 3 classes)
open("labels_1based.txt", "w").write("".join("%s %d\n" % (n, 3 - i % 3) for i, n in enumerate(names)))
open("onebased.ini", "w").write(RUN.replace("data/labels.txt", "labels_1based.txt"))
# configurations: long lines, NUL bytes, folders and pipes, names, plugins, ids paths
long_comment = "; " + "x" * 230 + " output = x.h5\n"
open("longcomment.ini", "w").write(RUN.replace("[model:deit]", long_comment + "[model:deit]"))
open("longpath.ini", "w").write(RUN.replace("data = data/images", "data = data/" + "d" * 200 + "/../images"))
open("nul.ini", "wb").write(RUN.replace("[segmentation]", "\0[segmentation]").encode())
os.makedirs("confdir.ini", exist_ok=True)
open("slash.ini", "w").write(RUN.replace("[model:deit]", "[model:a/b]"))
open("dot.ini", "w").write(RUN.replace("[model:deit]", "[model:.]"))
open("longname.ini", "w").write(RUN.replace("[model:deit]", "[model:" + "m" * 44 + "]"))
open("plugin_builtin.ini", "w").write(RUN.replace("[method:rollout]", "[method:rollout]\nplugin = nosuch.so"))
open("my ids.txt", "w").write("synth_999999\n")
open("ids_space.ini", "w").write(RUN.replace("crop = 8\n", "crop = 8\nsubset = ids:my ids.txt\n"))
# results files with a fraction where an integer belongs
shutil.copy("good.h5", "res_version_frac.h5")
with h5py.File("res_version_frac.h5", "r+") as f:
    f.attrs["schema_version"] = 1.0000001
shutil.copy("good.h5", "res_flag.h5")
with h5py.File("res_flag.h5", "r+") as f:
    f.attrs["positive"] = 0.5
# shards: the other half of good.h5's run, and that half with its first row dropped
run("run", "run.ini", "--quiet", "--shard", "1/2")
shutil.copy("good.shard-1-of-2.h5", "shard_missing_row.h5")
with h5py.File("shard_missing_row.h5", "r+") as f:
    for t in ("perturbation", "segmentation"):
        n = f[t + "/index"].shape[0]
        rows = []
        f[t].visititems(lambda k, v: rows.append(t + "/" + k) if isinstance(v, h5py.Dataset) and v.shape
                        and v.shape[0] == n and not k.startswith("figure") else None)
        for k in rows:
            v, dt = f[k][()][1:], f[k].dtype
            del f[k]
            f.create_dataset(k, data=v, dtype=dt)
# the two halves of that run as two builds made them: other mxb revisions, other BLAS
# kernels (the run key covers neither); and a half whose run was killed after one unit
for a, v in (("git_revision", ("aaaaaaaaaaaa", "bbbbbbbbbbbb")),
             ("blas", ("OpenBLAS 0.3.21, kernels Zen; CPU AVX2", "OpenBLAS 0.3.21, kernels Haswell; CPU AVX2"))):
    for half in (0, 1):
        shutil.copy("good.shard-%d-of-2.h5" % half, "%s_%d.h5" % (a, half))
        with h5py.File("%s_%d.h5" % (a, half), "r+") as f:
            f.attrs[a] = v[half]
subprocess.run([mxb, "run", "run.ini", "--quiet", "--shard", "1/2", "--set", "run.output=stopped.h5"],
               env=dict(os.environ, MXB_TEST_KILL_AFTER_RECORDS="1"), stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL)


# a gtsegs image stored compressed with a chunk never written (reads as zeros)
def gt_gzip_unwritten(f):
    v = f[f["value/img"][0, 0]][()]
    d = f.create_dataset("#refs#/gz_img", shape=v.shape, dtype=v.dtype, chunks=(1,) + v.shape[1:],
                         compression="gzip")
    d[:-1] = v[:-1]
    f["value/img"][0, 0] = d.ref


gt_edit("gt_gzip_unwritten.mat", gt_gzip_unwritten)
# plugins that are not what they claim (built with mxb: build/plugins)
plugdir = os.path.join(os.path.dirname(os.path.abspath(mxb)), "plugins")
for p in ("bad_datasym", "bad_nulltable", "bad_nullentry"):
    shutil.copy(os.path.join(plugdir, "lib%s.so" % p), "lib%s.so" % p)
# issue 23, class 11: results files whose structure is wrong (validated on open)
shutil.copy("good.h5", "res_notest.h5")
with h5py.File("res_notest.h5", "r+") as f:
    del f["perturbation"]
    del f["segmentation"]
shutil.copy("good.h5", "res_negcount.h5")
with h5py.File("res_negcount.h5", "r+") as f:
    d = f["segmentation/deit/rollout/counts"]
    a = d[()]
    a[0, 1] = -5
    d[...] = a
shutil.copy("good.h5", "res_twice.h5")
with h5py.File("res_twice.h5", "r+") as f:
    del f["models"]
    f.create_dataset("models", data=["deit", "deit"], dtype=h5py.string_dtype())
# issue 24: history databases that are not what mxb history reads (made with Python's
# sqlite3, not with mxb): text, an SQLite file of something else, a newer schema
import sqlite3

with open("hist_text.db", "w") as f:
    f.write("run,metric,value\n")
c = sqlite3.connect("hist_other.db")
c.execute("create table t(x)")
c.commit()
c.close()
c = sqlite3.connect("hist_newer.db")
c.executescript("create table mxb_schema(version integer not null); insert into mxb_schema values(2);"
                "pragma application_id = %d;" % 0x6d786268)
c.close()
