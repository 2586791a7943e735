"""Data for the `mxb run` end-to-end tests (tests/cli_run.sh): two tiny random
models in the official checkpoint format, converted with tools/convert_checkpoint.py;
a PNG folder with a label file; a file with the structure of gtsegs_ijcv.mat; and
the run configuration. Labels are what the PyTorch reference predicts for most
images (and something else for the rest), so accuracy curves are not all zeros."""
import os
import subprocess
import sys

import h5py
import numpy as np
import torch
from PIL import Image

out = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
tools = os.path.join(here, "..", "tools")
sys.path.insert(0, tools)
import reference  # noqa: E402

os.makedirs(out, exist_ok=True)
S, CLASSES, N_PERT, N_SEG = 32, 10, 9, 8
rng = np.random.default_rng(7)

# --- models ------------------------------------------------------------------
models = {"deit": ["--arch", "vit", "--embed-dim", "32", "--depth", "3", "--heads", "2"],
          "vim": ["--arch", "vim", "--embed-dim", "32", "--depth", "3", "--d-state", "8"]}
for name, args in models.items():
    pth, h5 = os.path.join(out, name + ".pth"), os.path.join(out, name + ".h5")
    subprocess.run([sys.executable, os.path.join(tools, "make_random_checkpoint.py"), *args,
                    "--img-size", str(S), "--patch", "8", "--classes", str(CLASSES), "--seed", "3",
                    pth], check=True)
    heads = ["--num-heads", "2"] if name == "deit" else []
    subprocess.run([sys.executable, os.path.join(tools, "convert_checkpoint.py"), pth, h5, *heads], check=True)
ref = reference.load_model(os.path.join(out, "deit.h5"))


def photo(seed):
    """A smooth random field with a bright disc: maps and masks worth comparing."""
    r = np.random.default_rng(seed)
    y, x = np.mgrid[0:S, 0:S] / S
    img = np.zeros((S, S, 3))
    for c in range(3):
        a, b, p = r.uniform(-3, 3, 3)
        img[..., c] = 0.5 + 0.25 * np.sin(a * x * 6 + b * y * 6 + p)
    cy, cx, rad = r.uniform(0.3, 0.7), r.uniform(0.3, 0.7), r.uniform(0.15, 0.3)
    mask = ((y - cy) ** 2 + (x - cx) ** 2) < rad ** 2
    img[mask] = r.uniform(0.6, 1.0, 3)
    img += r.normal(0, 0.05, img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8), mask.astype(np.uint8)


def normalised(rgb):
    t = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    return ((t - mean) / std)[None]


# --- a PNG folder with labels ("name label" lines) -----------------------------
img_dir = os.path.join(out, "images")
os.makedirs(img_dir, exist_ok=True)
with open(os.path.join(out, "labels.txt"), "w") as f:
    for i in range(N_PERT):
        rgb, _ = photo(100 + i)
        name = "img_%03d.png" % i
        Image.fromarray(rgb).save(os.path.join(img_dir, name))
        pred = int(reference.predict(ref, normalised(rgb))[0].argmax())
        label = pred if i % 3 else (pred + 1) % CLASSES
        f.write("%s %d\n" % (name, label))

# --- gtsegs_ijcv.mat's structure (MATLAB v7.3) ---------------------------------
# /value/img, /value/gt: N x 1 object references into /#refs#; an image is stored
# transposed, [3, W, H]; a gt entry is a 1 x 1 cell whose reference is the mask [W, H].
with h5py.File(os.path.join(out, "gtsegs.mat"), "w", userblock_size=512) as f:
    refs = f.create_group("#refs#")
    ref_t = h5py.special_dtype(ref=h5py.Reference)
    img_refs = np.empty((N_SEG, 1), dtype=object)
    gt_refs = np.empty((N_SEG, 1), dtype=object)
    for i in range(N_SEG):
        rgb, mask = photo(200 + i)
        d = refs.create_dataset("img%d" % i, data=rgb.transpose(2, 1, 0))
        d.attrs["MATLAB_class"] = np.bytes_("uint8")
        m = refs.create_dataset("mask%d" % i, data=mask.T)
        m.attrs["MATLAB_class"] = np.bytes_("uint8")
        cell = refs.create_dataset("cell%d" % i, data=np.array([[m.ref]], dtype=object), dtype=ref_t)
        cell.attrs["MATLAB_class"] = np.bytes_("cell")
        img_refs[i, 0], gt_refs[i, 0] = d.ref, cell.ref
    v = f.create_group("value")
    v.attrs["MATLAB_class"] = np.bytes_("struct")
    v.create_dataset("img", data=img_refs, dtype=ref_t).attrs["MATLAB_class"] = np.bytes_("cell")
    v.create_dataset("gt", data=gt_refs, dtype=ref_t).attrs["MATLAB_class"] = np.bytes_("cell")
with open(os.path.join(out, "gtsegs.mat"), "r+b") as f:
    f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .")

# --- the configuration ----------------------------------------------------------
with open(os.path.join(out, "run.ini"), "w") as f:
    f.write("""; mxb run end-to-end test
[run]
output = results.h5
figures = 3
save_attention = 1

[model:deit]
weights = deit.h5

[model:vim]
weights = vim.h5

[method:raw-attention]
start_layer = 1
[method:rollout]
start_layer = 1
[method:attribution]
start_layer = 1

[perturbation]
data = images
labels = labels.txt
resize = %d
crop = %d

[segmentation]
data = gtsegs.mat
resize = %d
""" % (S, S, S))
