"""Golden SHA-256 values from Python's hashlib for test_results."""
import hashlib, os, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
cases = [b"", b"abc", b"a" * 55, b"a" * 56, b"a" * 64, b"The quick brown fox" * 1000,
         bytes(range(256)) * 517]
with open(os.path.join(out, "sha256.txt"), "w") as f:
    for i, data in enumerate(cases):
        path = os.path.join(out, "blob_%d.bin" % i)
        open(path, "wb").write(data)
        f.write("%s %s\n" % (path, hashlib.sha256(data).hexdigest()))

# ---- results files with and without RISE insertion / deletion, written by h5py ----
# Two shards of one run (rows alternate: shard I holds selection rows I, I+2, ...),
# and one file of the same run as it looked before insertion/deletion existed (no
# insdel_step attribute, no insertion_auc/deletion_auc datasets). The golden means
# are numpy's over the whole selection, so merge + summary are checked end to end.
import h5py
import numpy as np

rng = np.random.default_rng(15)
N, G, STEPS = 7, 2, 10
models, methods = ["vit", "vim"], ["rollout", "attribution"]
index = np.arange(N, dtype=np.int32) * 3 + 1
ids = ["img_%02d" % i for i in range(N)]
label = rng.integers(0, 5, N).astype(np.int32)
cells = {}
for m in models:
    for k in methods:
        cells[m, k] = {
            "explained": rng.integers(0, 5, N).astype(np.int32),
            "map": rng.random((N, G, G), dtype=np.float32),
            "insertion_auc": rng.random(N),
            "deletion_auc": rng.random(N),
            "pos": {"hits": rng.integers(0, 2, (N, STEPS)).astype(np.int32),
                    "logit_diff": rng.standard_normal((N, STEPS)).astype(np.float32),
                    "prob_diff": rng.standard_normal((N, STEPS)).astype(np.float32)},
        }
pred = {m: rng.integers(0, 5, N).astype(np.int32) for m in models}


def write(path, rows, shard, insdel, step=224, fields=True):
    with h5py.File(path, "w") as f:
        a = f.attrs
        a["schema"], a["schema_version"] = "mxb-results", 1
        a["run_key"], a["shard"] = "test-run", shard
        a["selected_perturbation"] = str(N)
        a["positive"], a["negative"] = 1, 0
        a["auc_x_normalized"], a["auc_y_fraction"] = 0, 0
        if insdel:
            a["insdel_step"] = step
        f["models"] = np.array(models, dtype=h5py.string_dtype())
        f["methods"] = np.array(methods, dtype=h5py.string_dtype())
        f["model_grid"] = np.array([G, G], dtype=np.int32)
        t = f.create_group("perturbation")
        t.attrs["input_size"] = 32
        t["index"] = index[rows]
        t["id"] = np.array([ids[i] for i in rows], dtype=h5py.string_dtype())
        t["label"] = label[rows]
        for m in models:
            t["%s/prediction" % m] = pred[m][rows]
            for k in methods:
                c, g = cells[m, k], "%s/%s/" % (m, k)
                t[g + "explained"] = c["explained"][rows]
                t[g + "map"] = c["map"][rows]
                for name, v in c["pos"].items():
                    t[g + "positive/" + name] = v[rows]
                if insdel and fields:
                    t[g + "insertion_auc"] = c["insertion_auc"][rows]
                    t[g + "deletion_auc"] = c["deletion_auc"][rows]
        a["complete"] = 1


write(os.path.join(out, "insdel_shard0.h5"), list(range(0, N, 2)), "0/2", True)
write(os.path.join(out, "insdel_shard1.h5"), list(range(1, N, 2)), "1/2", True)
write(os.path.join(out, "insdel_none.h5"), list(range(N)), "0/1", False)
# bad: a step without the fields it promises; a step that is not a count
write(os.path.join(out, "insdel_missing.h5"), list(range(N)), "0/1", True, fields=False)
write(os.path.join(out, "insdel_negative.h5"), list(range(N)), "0/1", True, step=-3)
with open(os.path.join(out, "insdel_means.txt"), "w") as f:
    for m in models:
        for k in methods:
            c = cells[m, k]
            f.write("%s %s %.17g %.17g\n" % (m, k, c["insertion_auc"].mean(), c["deletion_auc"].mean()))
