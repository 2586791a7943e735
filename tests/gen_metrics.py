"""Golden data for tests/test_metrics.c, from independent implementations:
sklearn 1.2 (average_precision_score, f1_score), torch (F.interpolate, topk,
scatter, softmax, conv2d), scipy (gaussian_filter), numpy (trapz, stable argsort).

The segmentation cases call the reference's own formulas as utils/metrices.py and
imagenet_seg_eval.py write them (torch.max over the one-hot channels, np.histogram,
sklearn on the flattened one-hot), not a paraphrase of the C code.

usage: gen_metrics.py OUTDIR   (writes OUTDIR/metrics.h5)
"""
import os
import sys
import warnings

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter
from sklearn.metrics import average_precision_score, f1_score

warnings.simplefilter("ignore")  # sklearn's ill-defined-metric warnings are expected
torch.set_num_threads(1)
rng = np.random.default_rng(20240305)


def random_scores(n, kind):
    if kind == 0:  # continuous
        return rng.random(n).astype(np.float32)
    if kind == 1:  # heavy ties
        return (rng.integers(0, 5, n) / 4.0).astype(np.float32)
    if kind == 2:  # moderate ties
        return (rng.integers(0, 50, n) / 49.0).astype(np.float32)
    return np.full(n, 0.5, np.float32)  # all equal


def ap_cases(f):
    scores, labels, offs, expect = [], [], [0], []
    for i in range(400):
        n = int(rng.choice([1, 2, 3, 7, 20, 100, 1000, 5000]))
        s = random_scores(n, i % 4)
        rate = [0.0, 1.0, 0.5, 0.1, 0.9, rng.random()][i % 6]
        y = (rng.random(n) < rate).astype(np.uint8)
        if i % 37 == 5:
            y[:] = 0  # no positives: sklearn warns and returns 0
        expect.append(float(average_precision_score(y, s)) if n else 0.0)
        scores.append(s)
        labels.append(y)
        offs.append(offs[-1] + n)
    g = f.create_group("ap")
    g["scores"] = np.concatenate(scores)
    g["labels"] = np.concatenate(labels)
    g["offsets"] = np.array(offs, np.int64)
    g["expected"] = np.array(expect, np.float64)


def f1_cases(f):
    ys, ps, offs, expect = [], [], [0], []
    for i in range(300):
        n = int(rng.choice([1, 2, 5, 30, 224]))
        ry, rp = rng.random(), rng.random()
        if i % 5 == 0:
            ry = 0.0
        if i % 7 == 0:
            rp = 0.0
        y = (rng.random(n) < ry).astype(np.uint8)
        p = (rng.random(n) < rp).astype(np.uint8)
        # as get_f1_scores calls it: int labels against a float 0/1 prediction
        expect.append(float(np.nan_to_num(f1_score(y.astype(np.int64), p.astype(np.float32)))))
        ys.append(y)
        ps.append(p)
        offs.append(offs[-1] + n)
    g = f.create_group("f1")
    g["labels"] = np.concatenate(ys)
    g["preds"] = np.concatenate(ps)
    g["offsets"] = np.array(offs, np.int64)
    g["expected"] = np.array(expect, np.float64)


# ---- the reference's segmentation evaluation, transcribed from metrices.py ----

def batch_pix_accuracy(predict, target):
    _, predict = torch.max(predict, 0)
    predict = predict.cpu().numpy() + 1
    target = target.cpu().numpy() + 1
    pixel_labeled = np.sum(target > 0)
    pixel_correct = np.sum((predict == target) * (target > 0))
    return pixel_correct, pixel_labeled


def batch_intersection_union(predict, target, nclass):
    _, predict = torch.max(predict, 0)
    mini, maxi, nbins = 1, nclass, nclass
    predict = predict.cpu().numpy() + 1
    target = target.cpu().numpy() + 1
    predict = predict * (target > 0).astype(predict.dtype)
    intersection = predict * (predict == target)
    area_inter, _ = np.histogram(intersection, bins=nbins, range=(mini, maxi))
    area_pred, _ = np.histogram(predict, bins=nbins, range=(mini, maxi))
    area_lab, _ = np.histogram(target, bins=nbins, range=(mini, maxi))
    return area_inter, area_pred + area_lab - area_inter


def get_ap_scores(predict, target, ignore_index=-1):
    total = []
    for pred, tgt in zip(predict, target):
        target_expand = tgt.unsqueeze(0).expand_as(pred)
        target_expand_numpy = target_expand.data.cpu().numpy().reshape(-1)
        x = torch.zeros_like(target_expand)
        t = tgt.unsqueeze(0).clamp(min=0).long()
        target_1hot = x.scatter_(0, t, 1)
        predict_flat = pred.data.cpu().numpy().reshape(-1)
        target_flat = target_1hot.data.cpu().numpy().reshape(-1)
        p = predict_flat[target_expand_numpy != ignore_index]
        t = target_flat[target_expand_numpy != ignore_index]
        total.append(np.nan_to_num(average_precision_score(t, p)))
    return total


def get_f1_scores(predict, target, ignore_index=-1):
    batch_size = predict.shape[0]
    predict = predict.data.cpu().numpy().reshape(-1)
    target = target.data.cpu().numpy().reshape(-1)
    pb = predict[target != ignore_index].reshape(batch_size, -1)
    tb = target[target != ignore_index].reshape(batch_size, -1)
    return [np.nan_to_num(f1_score(t, p)) for p, t in zip(pb, tb)]


def eval_one(Res, labels):
    """Res [1,1,H,W] float32 (upsampled, min-max), labels [1,H,W] long."""
    ret = Res.mean()
    Res_1 = Res.gt(ret).type(Res.type())
    Res_0 = Res.le(ret).type(Res.type())
    Res_1_AP = Res
    Res_0_AP = 1 - Res
    Res_1[Res_1 != Res_1] = 0
    Res_0[Res_0 != Res_0] = 0
    Res_1_AP[Res_1_AP != Res_1_AP] = 0
    Res_0_AP[Res_0_AP != Res_0_AP] = 0
    output = torch.cat((Res_0, Res_1), 1)
    output_AP = torch.cat((Res_0_AP, Res_1_AP), 1)
    correct, labeled = batch_pix_accuracy(output[0].data.cpu(), labels[0])
    inter, union = batch_intersection_union(output[0].data.cpu(), labels[0], 2)
    ap = np.nan_to_num(get_ap_scores(output_AP, labels))
    f1 = np.nan_to_num(get_f1_scores(output[0, 1].data.cpu(), labels[0]))
    return correct, labeled, inter, union, ap, f1


def seg_cases(f):
    g = f.create_group("seg")
    shapes = [(224, 224)] * 6 + [(32, 48), (48, 32), (16, 16), (64, 80)] * 4 + [(224, 224)]
    tc = tl = 0
    ti = np.zeros(2, np.int64)
    tu = np.zeros(2, np.int64)
    aps, f1s = [], []
    ints, apv, f1v, amb = [], [], [], []
    for k, (h, w) in enumerate(shapes):
        if k == len(shapes) - 1:
            Res = torch.full((1, 1, h, w), 0.25)  # a constant map: min-max gives NaN
        else:
            grid = torch.from_numpy(rng.random((1, 1, h // 16 if h >= 32 else 2, w // 16 if w >= 32 else 2)).astype(np.float32))
            if k % 3 == 0:
                grid = torch.round(grid * 3) / 3  # ties
            Res = F.interpolate(grid, size=(h, w), mode="bilinear")
        Res = (Res - Res.min()) / (Res.max() - Res.min())
        m = np.zeros((h, w), np.uint8)
        if k % 5 != 4:  # every fifth mask empty
            y0, x0 = rng.integers(0, h // 2), rng.integers(0, w // 2)
            m[y0:y0 + rng.integers(1, h // 2 + 1), x0:x0 + rng.integers(1, w // 2 + 1)] = 1
        if k % 11 == 10:
            m[:] = 1
        g[f"relevance_{k}"] = Res[0, 0].numpy()
        g[f"mask_{k}"] = m
        labels = torch.from_numpy(m.astype(np.int64))[None]
        # torch's float32 mean and a correctly rounded one can differ by an ulp;
        # when pixels sit that close to the mean the binarisation is decided by the
        # reduction order (CPU and CUDA differ too): flag it, the C test skips the
        # threshold-dependent numbers there
        t = np.float32(Res.mean())
        r = Res.numpy().reshape(-1)
        amb.append(int(np.any(np.abs(r - t) <= 4 * np.spacing(t))))
        correct, labeled, inter, union, ap, f1 = eval_one(Res.clone(), labels)
        ints.append([correct, labeled, inter[0], inter[1], union[0], union[1]])
        apv.append(float(np.mean(ap)))
        f1v.append(float(np.mean(f1)))
        if amb[-1]:
            continue
        tc += correct
        tl += labeled
        ti += inter
        tu += union
        aps += [ap]
        f1s += [f1]
    g["count"] = len(shapes)
    g["ints"] = np.array(ints, np.int64)
    g["ap"] = np.array(apv)
    g["f1"] = np.array(f1v)
    # totals (over the unambiguous images) as imagenet_seg_eval.py reduces them (all images here have their own
    # row count, so mF1 is the mean over all rows of all images in the reference;
    # store the mean of the per-image means, which is what the C summary computes)
    eps = np.spacing(1, dtype=np.float64)
    g["pixel_accuracy"] = np.float64(1.0) * tc / (eps + tl)
    iou = np.float64(1.0) * ti / (eps + tu)
    g["iou"] = iou
    g["miou"] = iou.mean()
    g["map"] = np.mean(aps)
    g["mf1_image_mean"] = np.mean([v for v, a in zip(f1v, amb) if not a])
    g["ambiguous"] = np.array(amb, np.int64)


def upsample_cases(f):
    g = f.create_group("ups")
    cases = [(14, 14, 16), (7, 9, 4), (1, 1, 3), (2, 5, 16), (14, 14, 2), (3, 3, 7)]
    g["count"] = len(cases)
    for k, (h, w, s) in enumerate(cases):
        x = torch.from_numpy(rng.standard_normal((1, 1, h, w)).astype(np.float32))
        if k == 4:
            x = torch.round(x)
        y = F.interpolate(x, scale_factor=s, mode="bilinear")
        g[f"in_{k}"] = x[0, 0].numpy()
        g[f"shape_{k}"] = np.array([h, w, s], np.int64)
        g[f"up_{k}"] = y[0, 0].numpy()
        z = (y - y.min()) / (y.max() - y.min())
        g[f"norm_{k}"] = z[0, 0].numpy()


def order_cases(f):
    g = f.create_group("order")
    n_cases = 0
    for k in range(40):
        npix = int(rng.choice([224 * 224, 100, 37, 16 * 16]))
        tied = k % 2 == 1
        if tied:
            # a bilinear ×16 map of a coarse grid, min-max'd: many exact ties
            side = int(np.sqrt(npix)) if int(np.sqrt(npix)) ** 2 == npix else 0
            if side % 16 == 0 and side:
                grid = torch.round(torch.rand(1, 1, side // 16, side // 16, generator=torch.Generator().manual_seed(k)) * 4) / 4
                v = F.interpolate(grid, scale_factor=16, mode="bilinear")
                v = ((v - v.min()) / (v.max() - v.min())).reshape(-1).numpy()
            else:
                v = (rng.integers(0, 6, npix) / 5.0).astype(np.float32)
        else:
            v = rng.random(npix).astype(np.float32)
        neg = k % 4 >= 2
        key = -v if neg else v
        # the documented order: descending key, ties by ascending index
        order = np.argsort(-key, kind="stable").astype(np.int32)
        g[f"vis_{k}"] = v.astype(np.float32)
        g[f"neg_{k}"] = np.int64(neg)
        g[f"tied_{k}"] = np.int64(tied)
        g[f"order_{k}"] = order
        # what torch.topk picks at every step, as the reference calls it
        counts, topsets, topvals = [], [], []
        for i, p in enumerate([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]):
            kk = int(npix * p)
            vals, idx = torch.topk(torch.from_numpy(key.astype(np.float32)), kk, dim=-1)
            counts.append(kk)
            topsets.append(np.sort(idx.numpy()).astype(np.int32))
            topvals.append(np.float64(vals.double().sum()))
        g[f"counts_{k}"] = np.array(counts, np.int64)
        g[f"topk_sets_{k}"] = np.concatenate(topsets) if topsets else np.zeros(0, np.int32)
        g[f"topk_valsum_{k}"] = np.array(topvals)
        n_cases += 1
    g["count"] = n_cases


def mask_cases(f):
    """The reference's masking: scatter 0 into the [0,1] image at topk(vis) indices,
    then normalise with mean = std = 0.5 (its normalize())."""
    g = f.create_group("mask")
    H = W = 32
    data = torch.from_numpy(rng.random((1, 3, H, W)).astype(np.float32))
    vis = torch.from_numpy(rng.random((1, 1, H, W)).astype(np.float32))
    g["image"] = data[0].numpy()
    g["vis"] = vis[0, 0].numpy()
    for neg in (0, 1):
        v = (-vis if neg else vis).reshape(1, -1)
        for i, p in enumerate([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]):
            _data = data.clone()
            _, idx = torch.topk(v, int(H * W * p), dim=-1)
            idx = idx.unsqueeze(1).repeat(1, 3, 1)
            _data = _data.reshape(1, 3, -1).scatter_(-1, idx, 0).reshape(1, 3, H, W)
            g[f"masked_{neg}_{i + 1}"] = _data[0].numpy()
            mean = torch.as_tensor([0.5] * 3)
            std = torch.as_tensor([0.5] * 3)
            g[f"normalized_{neg}_{i + 1}"] = _data.sub(mean[None, :, None, None]).div(std[None, :, None, None])[0].numpy()


def count_cases(f):
    npix = [50176, 196, 1, 10, 12345, 224 * 224 * 4, 3, 99991]
    out = [[int(n * p) for p in [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]] for n in npix]
    f["counts/npix"] = np.array(npix, np.int64)
    f["counts/expected"] = np.array(out, np.int64)


def auc_cases(f):
    g = f.create_group("auc")
    acc = rng.random((50, 10))
    acc[0] = 1.0
    acc[1] = 0.0
    x_frac = np.arange(10) / 10.0
    x_norm = np.linspace(0, 1, 10)
    g["acc"] = acc
    g["frac_percent"] = np.array([np.trapz(a * 100, x_frac) for a in acc])
    g["frac_fraction"] = np.array([np.trapz(a, x_frac) for a in acc])
    g["norm_percent"] = np.array([np.trapz(a * 100, x_norm) for a in acc])
    g["norm_fraction"] = np.array([np.trapz(a, x_norm) for a in acc])


def outcome_cases(f):
    g = f.create_group("outcome")
    K = 60
    logits = rng.standard_normal((K, 2, 17)).astype(np.float32) * 4
    logits[5, 0, 3] = logits[5, 0].max() + 1
    logits[5, 0, 9] = logits[5, 0, 3]  # a tie for the maximum: first index wins
    labels = rng.integers(0, 17, K)
    labels[5] = 3
    out = []
    for k in range(K):
        org = torch.from_numpy(logits[k, 0])[None]
        pert = torch.from_numpy(logits[k, 1])[None]
        pred_org_logit = org.data.max(1, keepdim=True)[0].squeeze(1)
        pred_org_prob = torch.softmax(org, dim=1).data.max(1, keepdim=True)[0].squeeze(1)
        pred_prob = torch.softmax(pert, dim=1).data.max(1, keepdim=True)[0].squeeze(1)
        pred_logit = pert.data.max(1, keepdim=True)[0].squeeze(1)
        cls = pert.data.max(1, keepdim=True)[1].squeeze(1)
        out.append([float(cls == labels[k]), float(cls), float(pred_logit - pred_org_logit),
                    float(pred_prob - pred_org_prob)])
    g["logits"] = logits
    g["labels"] = labels.astype(np.int64)
    g["expected"] = np.array(out)


def rise_cases(f):
    g = f.create_group("rise")
    inp = np.zeros((11, 11))
    inp[5, 5] = 1
    k = gaussian_filter(inp, 5)
    g["kernel"] = k.astype(np.float32)
    kern = np.zeros((3, 3, 11, 11))
    for c in range(3):
        kern[c, c] = k
    img = torch.from_numpy(rng.random((1, 3, 20, 23)).astype(np.float32))
    blurred = F.conv2d(img, torch.from_numpy(kern.astype(np.float32)), padding=5)
    g["image"] = img[0].numpy()
    g["blurred"] = blurred[0].numpy()
    arr = rng.random((20, 33))
    g["scores"] = arr
    g["auc"] = np.array([(a.sum() - a[0] / 2 - a[-1] / 2) / (a.shape[0] - 1) for a in arr])
    g["steps"] = np.array([[224 * 224, 224, (224 * 224 + 223) // 224], [100, 7, 15], [5, 5, 1], [6, 5, 2]], np.int64)


def pointing_cases(f):
    """Brute force: is any mask pixel within tol of np.argmax?"""
    g = f.create_group("pointing")
    K = 80
    g["count"] = K
    res = []
    for k in range(K):
        h, w = int(rng.integers(5, 40)), int(rng.integers(5, 40))
        m = np.zeros((h, w), np.uint8)
        if k % 7 != 0:
            y0, x0 = rng.integers(0, h), rng.integers(0, w)
            m[y0:y0 + rng.integers(1, 6), x0:x0 + rng.integers(1, 6)] = 1
        mp = rng.random((h, w)).astype(np.float32)
        if k % 5 == 0:
            mp = np.round(mp * 2).astype(np.float32)  # ties at the maximum
        tol = float([0, 1, 2.5, 5, 15][k % 5])
        if not m.any():
            r = -1
        else:
            a = np.argmax(mp)
            py, px = divmod(int(a), w)
            ys, xs = np.nonzero(m)
            r = int(np.any((ys - py) ** 2 + (xs - px) ** 2 <= tol * tol))
        g[f"map_{k}"] = mp
        g[f"mask_{k}"] = m
        res.append([tol, r])
    g["expected"] = np.array(res)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    with h5py.File(os.path.join(out, "metrics.h5"), "w") as f:
        ap_cases(f)
        f1_cases(f)
        seg_cases(f)
        upsample_cases(f)
        order_cases(f)
        mask_cases(f)
        count_cases(f)
        auc_cases(f)
        outcome_cases(f)
        rise_cases(f)
        pointing_cases(f)


if __name__ == "__main__":
    main()
