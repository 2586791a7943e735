#!/usr/bin/env bash
# mxb report's uncertainty (results/store.h, results/bootstrap.c): every interval and
# every paired test of --format json equals an independent numpy computation of the
# same bootstrap on the same per-image data (read with h5py from the committed demo
# results): the same resampling indices from the documented generator (splitmix64,
# ported in tests/seeds.py), the metrics recomputed from hits, counts, ap, f1 and
# pointing by their definitions (results/SCHEMA.md), numpy's quantiles. Then the md, csv
# and HTML forms, and bad --pair / --seed use.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON; SRC=$MXB_SOURCE_DIR
T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$SRC/tests/lib_cli.sh"
export PYTHONPATH=$SRC/tests
R=$SRC/results/baselines/demo.h5
$MXB report $R --format json --bootstrap 200 --seed 11 --level 0.9 \
    --pair vim/attribution,vit/attribution --pair vit/ixg,vit/ig >$T/r.json 2>>$MXB_ERR
check "mxb report --format json --bootstrap --pair ran" [ -s $T/r.json ]
check "every interval and paired test = numpy's bootstrap on the same images and indices" $PY - <<PYEOF
import json, h5py, numpy as np, seeds
rep, f = json.load(open("$T/r.json")), h5py.File("$R")
B, seed, level = 200, 11, 0.9
a = (1 - level) / 2
assert rep["bootstrap"] == {"method": "percentile bootstrap over images", "replicates": B, "seed": seed, "level": level}
EPS = np.spacing(1.0)

def metrics(t, model, method, idx):
    """every scalar metric of one pair over the images idx (with repeats)"""
    g, out = f["%s/%s/%s" % (t, model, method)], {}
    if t == "perturbation":
        for pol in ("positive", "negative"):
            if pol in g:
                acc = 100 * g[pol + "/hits"][:][idx].astype(bool).mean(0)
                out[pol + "_auc"] = np.trapz(acc, dx=0.1)
    else:
        c = g["counts"][:][idx].astype(np.int64).sum(0)
        iou = [c[2] / (EPS + c[4]), c[3] / (EPS + c[5])]
        out["pixel_accuracy"] = c[0] / (EPS + c[1])
        out["miou"] = (iou[0] + iou[1]) / 2
        out["mean_ap"] = g["ap"][:][idx].mean()
        out["mean_f1"] = g["f1"][:][idx].mean()
        pt = g["pointing"][:][idx]
        out["pointing_game"] = (pt[pt >= 0]).sum() / (pt >= 0).sum()
    return out

def resamples(n):
    g = seeds.splitmix(seed)
    for b in range(B):
        yield np.array([int(((next(g) >> 11) * 2.0 ** -53) * n) for _ in range(n)])

def close(x, y):
    return (np.isnan(x) and np.isnan(y)) or abs(x - y) <= 1e-9 * max(1, abs(x))

bad, seen = [], set()
skipped = {tuple(p) for p in rep.get("skipped", [])}
for t in ("perturbation", "segmentation"):
    n = len(f[t + "/id"])
    for model in rep["models"]:
        for method in rep["methods"]:
            if (model, method) in skipped: continue
            reps = [metrics(t, model, method, idx) for idx in resamples(n)]
            point = metrics(t, model, method, np.arange(n))
            for k, v in point.items():
                name = "%s/%s/%s/%s" % (t, model, method, k)
                seen.add(name)
                vals = np.array([r[k] for r in reps]); vals = vals[np.isfinite(vals)]
                lo, hi = np.quantile(vals, [a, 1 - a])
                got = rep["intervals"].get(name)
                if got is None or not close(got[0], lo) or not close(got[1], hi) or not close(rep["metrics"][name], v):
                    bad.append((name, got, (lo, hi)))
if set(rep["intervals"]) != seen: bad.append(("interval names", sorted(set(rep["intervals"]) ^ seen)[:4]))
npairs = 0
for p in rep["pairs"]:
    (ma, ka), (mb, kb) = p["a"].split("/"), p["b"].split("/")
    t, k = p["test"], p["metric"]
    n = len(f[t + "/id"])
    d = [metrics(t, ma, ka, idx)[k] - metrics(t, mb, kb, idx)[k] for idx in resamples(n)]
    d = np.array(d); d = d[np.isfinite(d)]
    va, vb = metrics(t, ma, ka, np.arange(n))[k], metrics(t, mb, kb, np.arange(n))[k]
    diff = va - vb
    lo, hi = np.quantile(d, [a, 1 - a])
    pv = (1 + np.sum(np.abs(d - diff) >= abs(diff))) / (len(d) + 1)
    ok = all(close(x, y) for x, y in ((p["a_value"], va), (p["b_value"], vb), (p["diff"], diff), (p["low"], lo),
                                      (p["high"], hi), (p["p"], pv))) and p["images"] == n
    npairs += 1
    if not ok: bad.append(("pair", p, (va, vb, diff, lo, hi, pv)))
# vim/attribution vs vit/attribution: 2 AUCs + 5 segmentation metrics; vit/ixg vs vit/ig the same
if npairs != 14: bad.append(("pairs", npairs))
print("   %d intervals, %d paired tests checked" % (len(seen), npairs))
for b in bad[:5]: print("   MISMATCH", b)
raise SystemExit(1 if bad else 0)
PYEOF
$MXB report $R --pm --bootstrap 50 >$T/pm.md 2>>$MXB_ERR
check "md --pm: the tables' cells carry ± half-width, and an interval table follows" bash -c \
  "grep -q '^| attribution | [0-9.]* ± [0-9.]* |' $T/pm.md && grep -q '^### Confidence intervals: 95 % percentile bootstrap over images (50 replicates, seed 0)' $T/pm.md"
$MXB report $R --pair vim/attribution,vit/attribution >$T/pair.md 2>>$MXB_ERR
check "md --pair (1000 replicates unless given): the paired test's table" bash -c \
  "grep -q '^### Paired tests: paired bootstrap over the images both ran (1000 replicates' $T/pair.md && grep -q '^| segmentation | miou | vim/attribution | vit/attribution |' $T/pair.md"
$MXB report $R --format csv --bootstrap 20 >$T/r.csv 2>>$MXB_ERR
check "csv --bootstrap: low and high columns" bash -c \
  "head -1 $T/r.csv | grep -q '^metric,value,better,low,high' && grep -q '^segmentation/vit/attribution/miou,[0-9.e-]*,higher,[0-9.e-]*,[0-9.e-]*' $T/r.csv"
$MXB report $R --format csv >$T/plain.csv 2>>$MXB_ERR
check "csv without --bootstrap: unchanged columns" bash -c "head -1 $T/plain.csv | grep -q '^metric,value,better.\$'"
$MXB report $R --pm --bootstrap 20 --pair vit/ixg,vit/ig --html $T/r.html >/dev/null 2>>$MXB_ERR
check "html --pm --pair: ± cells, the interval and paired-test tables" bash -c \
  "grep -q ' ± ' $T/r.html && grep -q 'id=\"table-intervals\"' $T/r.html && grep -q 'id=\"table-pairs\"' $T/r.html"
expect_fail 2 "--pair 'vit/nosuch,vit/ig': want MODEL/METHOD,MODEL/METHOD" $MXB report $R --pair vit/nosuch,vit/ig
expect_fail 2 "--pair 'vit/ixg': want MODEL/METHOD,MODEL/METHOD" $MXB report $R --pair vit/ixg
expect_fail 2 "--seed and --level go with --bootstrap N, --pm or --pair" $MXB report $R --seed 3
expect_fail 2 "mxb report: --bootstrap" $MXB report $R --bootstrap 0

echo "cli_report_ci: $pass passed, $fail failed"
[ $fail -eq 0 ]
