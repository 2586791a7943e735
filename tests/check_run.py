"""Recomputes a `mxb run` results file independently and compares.

    check_run.py DATADIR RESULTS.h5 REPORT.json
    check_run.py --insdel DATADIR RESULTS.h5 STEP (a run with insertion_deletion_step = STEP)

Maps: the PyTorch reference (tools/reference.py) explains every image with every
method; mxb's stored patch-grid maps must match after min-max (1e-4).
Metrics, from mxb's stored maps: F.interpolate + min-max, the removal order as
torch.topk with ties by ascending index, masking, the reference model's forwards,
numpy for the AUC; segmentation by imagenet_seg_eval.py's rules with sklearn's
average_precision_score and f1_score. Every per-image value and every total must
agree with what mxb stored and what `mxb report --format json` printed.

--insdel: the insertion and deletion AUCs of the first images, every model and
method, against RISE's CausalMetric (eclique/RISE evaluation.py, transcribed below)
run on the reference model: gkern's blur from scipy, torch.zeros_like, auc()."""
import json
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from sklearn.metrics import average_precision_score, f1_score

INSDEL = sys.argv[1] == "--insdel"
data, path = sys.argv[2:4] if INSDEL else sys.argv[1:3]
report = None if INSDEL else sys.argv[3]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import reference  # noqa: E402

MEAN = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
STD = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL", what)


def close(a, b, tol, what):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff = np.nanmax(np.abs(a - b)) if a.size else 0.0
    check(a.shape == b.shape and np.array_equal(np.isnan(a), np.isnan(b)) and diff <= tol,
          "%s: max diff %.3g > %g" % (what, diff, tol))


def vis_of(m, grid, patch):
    """F.interpolate(scale_factor=patch, bilinear, align_corners=False) + min-max, in
    float32 with one rounding per operation, width pass first. PyTorch's own kernel
    agrees to 1 ulp but not bit for bit, and the protocol's ties (topk order, the
    mean threshold, AP steps) need the bits: mxb's kernel is specified this way."""
    f32 = np.float32
    m = m.astype(f32)
    S = grid * patch
    src = np.maximum(f32(1.0 / patch) * (np.arange(S, dtype=f32) + f32(0.5)) - f32(0.5), f32(0))
    i0 = np.minimum(src.astype(np.int64), grid - 1)
    i1 = np.where(i0 < grid - 1, i0 + 1, i0)
    l1 = (src - i0.astype(f32)).astype(f32)
    l0 = (f32(1) - l1).astype(f32)
    t0 = m[i0][:, i0] * l0[None, :] + m[i0][:, i1] * l1[None, :]
    t1 = m[i1][:, i0] * l0[None, :] + m[i1][:, i1] * l1[None, :]
    up = (t0 * l0[:, None] + t1 * l1[:, None]).astype(f32)
    ref = F.interpolate(torch.from_numpy(m.copy()).reshape(1, 1, grid, grid), scale_factor=patch,
                        mode="bilinear", align_corners=False)[0, 0].numpy()
    close(up, ref, 1e-6, "bilinear upsampling vs F.interpolate")
    lo, hi = up.min(), up.max()
    return torch.from_numpy(((up - lo) / (hi - lo)).astype(f32))


def removal_order(vis):
    v = vis.reshape(-1).numpy().astype(np.float64)
    return np.lexsort((np.arange(v.size), -v)), v  # largest first, ties by index


def map_tolerance(model, meth):
    # ViT LRP in float32 is ill-conditioned (engine tests: 2.6e-4 relative per block)
    return 2e-3 if (model.arch == "vit" and meth == "attribution") else 1e-4


# ---- RISE's CausalMetric (evaluation.py), CPU, the image side S instead of 224 -----
def gkern(klen, nsig):
    from scipy.ndimage import gaussian_filter
    inp = np.zeros((klen, klen))
    inp[klen // 2, klen // 2] = 1
    k = gaussian_filter(inp, nsig)
    kern = np.zeros((3, 3, klen, klen))
    kern[0, 0], kern[1, 1], kern[2, 2] = k, k, k
    return torch.from_numpy(kern.astype("float32"))


def rise_auc(arr):
    return (arr.sum() - arr[0] / 2 - arr[-1] / 2) / (arr.shape[0] - 1)


def causal_metric(model, mode, step, substrate_fn, img_tensor, order, c):
    """CausalMetric.single_run; c is the class explained (RISE: the prediction, the
    same class under mxb's class = predicted). order: RISE's salient_order, given
    because np.argsort leaves ties unspecified (mxb: ties by ascending index)."""
    HW = img_tensor.shape[2] * img_tensor.shape[3]
    n_steps = (HW + step - 1) // step
    if mode == "del":
        start, finish = img_tensor.clone(), substrate_fn(img_tensor)
    else:
        start, finish = substrate_fn(img_tensor), img_tensor.clone()
    scores = np.empty(n_steps + 1)
    for i in range(n_steps + 1):
        pred = model(start)
        scores[i] = pred[0, c]
        if i < n_steps:
            coords = order[step * i:step * (i + 1)]
            start.numpy().reshape(1, 3, HW)[0, :, coords] = finish.numpy().reshape(1, 3, HW)[0, :, coords]
    return rise_auc(scores)


if INSDEL:
    f = h5py.File(path, "r")
    step = int(sys.argv[4])
    P = f["perturbation"]
    ids = [i.decode() if isinstance(i, bytes) else i for i in P["id"][()]]
    kern = gkern(11, 5)
    blur = lambda x: F.conv2d(x, kern, padding=11 // 2)  # noqa: E731
    zeros = torch.zeros_like
    n = 0
    for mname in [m.decode() if isinstance(m, bytes) else m for m in f["models"][()]]:
        ref = reference.load_model(os.path.join(data, mname + ".h5"))
        model = lambda x: torch.softmax(reference.predict(ref, x), 1)  # noqa: E731  nn.Sequential(model, Softmax)
        for meth in [m.decode() if isinstance(m, bytes) else m for m in f["methods"][()]]:
            g = P[mname][meth]
            for k, name in enumerate(ids[:3]):
                rgb = np.asarray(Image.open(os.path.join(data, "images", name)).convert("RGB"))
                x = ((torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 255 - MEAN) / STD)[None]
                c = int(g["explained"][k])
                check(c == int(reference.predict(ref, x)[0].argmax()), "%s/%s %s: the explained class is RISE's c" % (mname, meth, name))
                order, _ = removal_order(vis_of(g["map"][k], ref.grid, ref.cfg["patch_size"]))
                for mode, key, sub in (("del", "deletion_auc", zeros), ("ins", "insertion_auc", blur)):
                    want = causal_metric(model, mode, step, sub, x, order, c)
                    close(g[key][k], want, 1e-6, "%s/%s %s %s vs RISE's CausalMetric" % (mname, meth, name, key))
                    n += 1
    print("check_run --insdel: %d AUCs, %d failures" % (n, len(failures)))
    sys.exit(1 if failures or not n else 0)

f = h5py.File(path, "r")
rep = json.load(open(report))["metrics"]
check(f.attrs["complete"] == 1 and f.attrs["schema"] == "mxb-results", "complete flag and schema")
models = [m.decode() if isinstance(m, bytes) else m for m in f["models"][()]]
methods = [m.decode() if isinstance(m, bytes) else m for m in f["methods"][()]]
refs = {m: reference.load_model(os.path.join(data, m + ".h5")) for m in models}

# ---- perturbation --------------------------------------------------------------
P = f["perturbation"]
ids = [i.decode() if isinstance(i, bytes) else i for i in P["id"][()]]
labels = P["label"][()]
for mi, mname in enumerate(models):
    ref = refs[mname]
    grid, patch = ref.grid, ref.cfg["patch_size"]
    images = []
    for k, name in enumerate(ids):
        rgb = np.asarray(Image.open(os.path.join(data, "images", name)).convert("RGB"))
        u = torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 255
        images.append(u)
        logits = reference.predict(ref, ((u - MEAN) / STD)[None])[0]
        check(int(logits.argmax()) == P[mname]["prediction"][k], "perturbation %s prediction %s" % (mname, name))
    for meth in methods:
        g = P[mname][meth]
        curves = {}
        for pol in ("positive", "negative"):
            hits = np.zeros((len(ids), 10), dtype=np.int64)
            for k, u in enumerate(images):
                x = ((u - MEAN) / STD)[None]
                r = reference.explain(ref, x, meth, start_layer=1)
                check(r["class"] == g["explained"][k], "%s/%s explained class of %s" % (mname, meth, ids[k]))
                stored = g["map"][k]
                close(reference.minmax(torch.from_numpy(stored)).numpy(), reference.minmax(r["map"]).numpy(),
                      map_tolerance(ref, meth), "%s/%s map of %s vs the reference" % (mname, meth, ids[k]))
                vis = vis_of(stored, grid, patch)
                if pol == "negative":
                    vis = -vis
                order, v = removal_order(vis)
                orig = reference.predict(ref, x)[0]
                for step in range(10):
                    n = int(u.shape[1] * u.shape[2] * (step / 10))
                    w = u.clone().reshape(3, -1)
                    w[:, order[:n]] = 0
                    out = reference.predict(ref, ((w.reshape(u.shape) - MEAN) / STD)[None])[0]
                    hits[k, step] = int(out.argmax()) == labels[k]
                    ld = float(out.max() - orig.max())
                    pd = float(torch.softmax(out, 0).max() - torch.softmax(orig, 0).max())
                    close(ld, g[pol]["logit_diff"][k, step], 1e-4, "%s/%s %s logit drop %s step %d" % (mname, meth, pol, ids[k], step))
                    close(pd, g[pol]["prob_diff"][k, step], 1e-5, "%s/%s %s prob drop %s step %d" % (mname, meth, pol, ids[k], step))
            check(np.array_equal(hits, g[pol]["hits"][()]), "%s/%s %s hits" % (mname, meth, pol))
            acc = hits.mean(0)
            auc = np.trapz(acc * 100, np.arange(10) / 10)
            close(acc, g[pol]["accuracy"][()], 1e-12, "%s/%s %s accuracy curve" % (mname, meth, pol))
            close(auc, g[pol]["auc"][()], 1e-9, "%s/%s %s AUC (stored)" % (mname, meth, pol))
            close(auc, rep["perturbation/%s/%s/%s_auc" % (mname, meth, pol)], 1e-9,
                  "%s/%s %s AUC (report)" % (mname, meth, pol))
            curves[pol] = acc

# ---- segmentation --------------------------------------------------------------
G = f["segmentation"]
mat = h5py.File(os.path.join(data, "gtsegs.mat"), "r")
for mi, mname in enumerate(models):
    ref = refs[mname]
    grid, patch = ref.grid, ref.cfg["patch_size"]
    for meth in methods:
        g = G[mname][meth]
        inter, union, correct, labeled, aps, f1s = np.zeros(2), np.zeros(2), 0, 0, [], []
        for k in range(len(G["index"])):
            i = G["index"][k]
            # as Chefer's Imagenet_Segmentation reads it
            img = np.array(mat[mat["value/img"][i, 0]]).transpose((2, 1, 0))
            gt = np.array(mat[mat[mat["value/gt"][i, 0]][0, 0]]).transpose((1, 0))
            u = torch.from_numpy(img.copy()).permute(2, 0, 1).float() / 255
            r = reference.explain(ref, ((u - MEAN) / STD)[None], meth, start_layer=1)
            stored = g["map"][k]
            close(reference.minmax(torch.from_numpy(stored)).numpy(), reference.minmax(r["map"]).numpy(),
                  map_tolerance(ref, meth), "%s/%s segmentation map %d vs the reference" % (mname, meth, i))
            R = vis_of(stored, grid, patch).numpy()
            pred = (R > np.float32(R.astype(np.float64).mean())).astype(np.int64)
            lab = gt.astype(np.int64)
            c = int(((pred == lab) & (lab >= 0)).sum())
            li = [int(((pred == cl) & (lab == cl)).sum()) for cl in (0, 1)]
            lu = [int(((pred == cl) | (lab == cl)).sum()) for cl in (0, 1)]
            check(list(g["counts"][k]) == [c, lab.size, li[0], li[1], lu[0], lu[1]],
                  "%s/%s counts of image %d" % (mname, meth, i))
            correct, labeled = correct + c, labeled + lab.size
            inter += li
            union += lu
            # get_ap_scores: one binary AP over both one-hot channels
            scores = np.concatenate([1 - R.reshape(-1), R.reshape(-1)])
            truth = np.concatenate([(lab == 0).reshape(-1), (lab == 1).reshape(-1)])
            ap = np.nan_to_num(average_precision_score(truth, np.nan_to_num(scores)))
            close(ap, g["ap"][k], 1e-6, "%s/%s AP of image %d" % (mname, meth, i))
            f1 = np.mean([f1_score(lab[row], pred[row], zero_division=0) for row in range(lab.shape[0])])
            close(f1, g["f1"][k], 1e-9, "%s/%s F1 of image %d" % (mname, meth, i))
            aps.append(ap)
        eps = np.spacing(1)
        pa, iou = correct / (eps + labeled), inter / (eps + union)
        for key, val in (("pixel_accuracy", pa), ("miou", iou.mean()), ("mean_ap", np.mean(aps))):
            close(val, g[key][()], 1e-9, "%s/%s %s (stored)" % (mname, meth, key))
            close(val, rep["segmentation/%s/%s/%s" % (mname, meth, key)], 1e-9, "%s/%s %s (report)" % (mname, meth, key))

print("check_run: %d failures" % len(failures))
sys.exit(1 if failures else 0)
