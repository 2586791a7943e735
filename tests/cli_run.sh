#!/usr/bin/env bash
# mxb run / report / compare / merge end to end on tiny generated data (gen_run.py):
# the numbers against an independent recomputation (check_run.py: PyTorch reference
# + sklearn), kill-and-resume, shard-and-merge, the reports, and bad input.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON; HERE=$MXB_SOURCE_DIR/tests
T=$(mktemp -d); trap 'rm -rf $T' EXIT
cp -r $MXB_TESTDATA/run/. $T/; cd $T
. "$MXB_SOURCE_DIR/tests/lib_cli.sh"
same_results() { # the results groups of two files are identical
  for g in /perturbation /segmentation; do h5diff -q "$1" "$2" $g $g || return 1; done
}

# ---- a full run, checked independently ----
$MXB run run.ini --quiet >table.md 2>err.txt; rc=$?
check "mxb run exits 0" [ $rc -eq 0 ]
check "no journal left behind" [ ! -e results.h5.journal ]
$MXB report results.h5 --format json >rep.json
sanitised || check "every number agrees with the PyTorch reference + sklearn recomputation" $PY $HERE/check_run.py . results.h5 rep.json
check "run prints the tables that report prints" cmp -s table.md <($MXB report results.h5)
check "provenance: config, run key, weights SHA-256, data SHA-256, timings" $PY - <<'EOF'
import h5py, hashlib
f = h5py.File("results.h5"); a = f.attrs
sha = hashlib.sha256(open("deit.h5", "rb").read()).hexdigest()
ok = "[model:deit]" in a["config"] and len(a["run_key"]) == 64 and ("deit=" + sha) in a["models_sha256"]
ok = ok and len(a["data_sha256_perturbation"]) == 64 and "perturbation=" in a["timings"]
ok = ok and a["complete"] == 1 and a["schema_version"] == 1 and a["shard"] == "0/1"
ok = ok and f["attention/perturbation/deit/0"].shape == (3, 2, 17, 17)
ok = ok and f["attention/segmentation/vim/0"].shape == (3, 2, 17, 17)
ok = ok and f["perturbation/figure_images"].shape == (3, 32, 32, 3)
raise SystemExit(0 if ok else 1)
EOF

# ---- insertion/deletion (RISE): against RISE's CausalMetric on the reference model ----
$MXB run run.ini --quiet --set run.output=insdel.h5 --set run.insertion_deletion_step=64 >/dev/null 2>>$MXB_ERR
sanitised || check "insertion/deletion AUCs = RISE's CausalMetric (PyTorch, the reference model)" $PY $HERE/check_run.py --insdel . insdel.h5 64
check "insertion/deletion change none of the other results" $PY - <<'EOF'
import h5py, numpy as np
a, b = h5py.File("results.h5"), h5py.File("insdel.h5")
names = []
for g in ("perturbation", "segmentation"):
    a[g].visititems(lambda n, o: names.append(g + "/" + n) if isinstance(o, h5py.Dataset) else None)
ok = len(names) > 20 and all(np.array_equal(a[n][()], b[n][()], equal_nan=a[n].dtype.kind == "f")
                             for n in names if a[n].dtype.kind != "O")
ok = ok and all(k in b["perturbation/vim/rollout"] for k in ("insertion_auc", "deletion_auc"))
raise SystemExit(0 if ok else 1)
EOF
OMP_NUM_THREADS=1 $MXB run run.ini --quiet --set run.output=insdel1.h5 --set run.insertion_deletion_step=64 >/dev/null 2>>$MXB_ERR
check "insertion/deletion: one thread gives the same bits as two" h5diff -q insdel.h5 insdel1.h5 /perturbation /perturbation
MXB_TEST_KILL_AFTER_RECORDS=2 $MXB run run.ini --quiet --set run.output=insdel2.h5 --set run.insertion_deletion_step=64 >/dev/null 2>>$MXB_ERR
check "insertion/deletion: killed after two units, a journal and no file" [ -e insdel2.h5.journal -a ! -e insdel2.h5 ]
$MXB run run.ini --quiet --set run.output=insdel2.h5 --set run.insertion_deletion_step=64 >/dev/null 2>>$MXB_ERR
check "insertion/deletion: killed and resumed, the same AUCs (they are in the journal record)" \
  h5diff -q insdel.h5 insdel2.h5 /perturbation /perturbation
$MXB run run.ini --estimate --set run.insertion_deletion_step=64 --set run.output=est2.h5 >est2.txt 2>&1
# 32 px: ceil(1024/64) = 16 moves, 2 x 17 = 34 forwards a map; 3 methods, each 1 + 2 x 9 + 34; + 1
check "--estimate counts insertion/deletion's forwards" grep -q "(160 forwards/image; insertion/deletion 102 of them)" est2.txt
MXB_PROGRESS_SECONDS=0 $MXB run run.ini --set run.output=insdel3.h5 --set run.insertion_deletion_step=64 >/dev/null 2>prog.txt
check "the progress line counts insertion/deletion's forwards" grep -q "perturbation/vim (+102 insertion/deletion forwards an image) [0-9]*/34 units" prog.txt
printf '[run]\noutput = z.h5\n[model:a]\nweights = deit.h5\n[method:rollout]\n[segmentation]\ndata = gtsegs.mat\nresize = 32\n' >nopert.ini
expect_fail 2 "insertion_deletion_step needs a [perturbation] section" $MXB run nopert.ini --set run.insertion_deletion_step=8
expect_fail 2 "--set run.insertion_deletion_step: '-1'" $MXB run run.ini --set run.insertion_deletion_step=-1

# ---- mxb predict --image: DeiT's transform, scaled to the model (32 px: Resize(36) + crop 32) ----
$MXB predict --weights vim.h5 --image images/img_004.png --out pred.h5 >/dev/null
check "predict --image: input and logits as PIL + torchvision + the reference make them" $PY - <<EOF
import sys, h5py, numpy as np, torch
from PIL import Image
sys.path.insert(0, "$MXB_SOURCE_DIR/tools"); import reference
im = Image.open("images/img_004.png").convert("RGB").resize((36, 36), Image.BICUBIC).crop((2, 2, 34, 34))
x = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).float() / 255
x = (x - torch.tensor([0.485, 0.456, 0.406])[:, None, None]) / torch.tensor([0.229, 0.224, 0.225])[:, None, None]
f = h5py.File("pred.h5"); r = reference.predict(reference.load_model("vim.h5"), x[None])[0].numpy()
ok = np.abs(f["input"][()] - x.numpy()).max() <= 1e-6 and np.abs(f["logits"][()] - r).max() <= 1e-4 * (r.max() - r.min())
raise SystemExit(0 if ok else 1)
EOF
printf 'not a png' >bad.png
expect_fail 2 "bad.png" $MXB predict --weights vim.h5 --image bad.png
expect_fail 2 "give one of --image, --images or --tensor" $MXB predict --weights vim.h5 --image bad.png --tensor x.h5

# ---- reports ----
$MXB report results.h5 --curves --figures figs >report.md 2>>$MXB_ERR
check "md: a row per method in both tables" [ "$(grep -c '^| attribution |' report.md)" -eq 2 ]
check "md numbers are the JSON numbers" $PY - <<'EOF'
import json, re
m = json.load(open("rep.json"))["metrics"]
rows = [l for l in open("report.md") if l.startswith("| rollout |")]
pert = [float(x) for x in rows[0].split("|")[2:-1]]
want = [m["perturbation/%s/rollout/%s_auc" % (mo, p)] for mo in ("deit", "vim") for p in ("positive", "negative")]
seg = [float(x) for x in rows[1].split("|")[2:-1]]
want2 = [100 * m["segmentation/%s/rollout/%s" % (mo, k)] for mo in ("deit", "vim") for k in ("pixel_accuracy", "miou", "mean_ap")]
ok = all(abs(a - b) <= 0.005 + 1e-9 for a, b in zip(pert + seg, want + want2)) and len(pert) == 4 and len(seg) == 6
raise SystemExit(0 if ok else 1)
EOF
$MXB report results.h5 --format csv >rep.csv
check "csv: one line per JSON metric" [ "$(($(wc -l <rep.csv) - 1))" -eq "$($PY -c 'import json; print(len(json.load(open("rep.json"))["metrics"]))')" ]
check "figures: overlays, curves and attention, each as PNG and SVG, listed in figures.md" $PY - <<'EOF'
from PIL import Image
import xml.etree.ElementTree as ET
names = ["overlays", "perturbation", "attention_perturbation_0", "attention_segmentation_0"]
md = open("figs/figures.md").read()
ok = all(min(Image.open("figs/%s.png" % n).size) > 300 for n in names)
ok = ok and all(ET.parse("figs/%s.svg" % n).getroot().tag == "{http://www.w3.org/2000/svg}svg" for n in names)
ok = ok and all(n + ".png" in md for n in names)
raise SystemExit(0 if ok else 1)
EOF

# ---- kill at random points, start again: the same results ----
for k in 1 2 3 4 5; do
  timeout -s KILL 0.$((RANDOM % 4 + 1)) $MXB run run.ini --quiet --set run.output=killed.h5 >/dev/null 2>>$MXB_ERR
done
$MXB run run.ini --quiet --set run.output=killed.h5 >/dev/null 2>>$MXB_ERR
check "killed five times, resumed: results identical to the uninterrupted run" same_results results.h5 killed.h5
check "killed-and-resumed attention identical too" h5diff -q results.h5 killed.h5 /attention /attention
check "mxb compare: resumed vs uninterrupted within tolerance" $MXB compare results.h5 killed.h5 --quiet

# Ctrl-C: a clean stop, a journal, no results file; then resume
$MXB run run.ini --set run.output=int.h5 >/dev/null 2>int.err & pid=$!
sleep 0.15; kill -INT $pid; wait $pid; rc=$?
if [ $rc -eq 130 ]; then
  check "SIGINT: journal kept, no results file" [ -e int.h5.journal -a ! -e int.h5 ]
  check "SIGINT: says how to resume" grep -q "run the same command to resume" int.err
else
  check "SIGINT after the run finished leaves a complete file" [ $rc -eq 0 -a -e int.h5 ]
fi
$MXB run run.ini --quiet --set run.output=int.h5 >/dev/null 2>>$MXB_ERR
check "interrupted then resumed: identical" same_results results.h5 int.h5

# ---- shards ----
for i in 0 1 2; do $MXB run run.ini --quiet --shard $i/3 >/dev/null 2>>$MXB_ERR; done
check "three shard files" [ -e results.shard-0-of-3.h5 -a -e results.shard-2-of-3.h5 ]
$MXB merge merged.h5 results.shard-2-of-3.h5 results.shard-0-of-3.h5 results.shard-1-of-3.h5 >/dev/null 2>>$MXB_ERR
check "merge of 3 shards equals the single run" same_results results.h5 merged.h5
check "merged report equals the single run's" cmp -s <($MXB report results.h5 --format csv) <($MXB report merged.h5 --format csv)
expect_fail 2 "mxb merge: 2 of 3 shards given: shard 2/3 is missing; give all 3" $MXB merge m2.h5 results.shard-0-of-3.h5 results.shard-1-of-3.h5
expect_fail 2 "is given twice" $MXB merge m3.h5 results.shard-0-of-3.h5 results.shard-0-of-3.h5 results.shard-1-of-3.h5
$MXB run run.ini --quiet --shard 0/3 --set run.seed=9 --set run.output=other.h5 >/dev/null 2>>$MXB_ERR
expect_fail 2 "mxb merge: results.shard-1-of-3.h5 has a different configuration from other.shard-0-of-3.h5" $MXB merge m4.h5 other.shard-0-of-3.h5 results.shard-1-of-3.h5 results.shard-2-of-3.h5
# figures: 8 of 9 and 8 images, 4 shards of 2-3 rows: every shard's figures are the
# run's (sizing the merged ones by the largest shard's count kept 3 of 8)
$MXB run run.ini --quiet --set run.figures=8 --set run.output=fig.h5 >/dev/null 2>>$MXB_ERR
for i in 0 1 2 3; do $MXB run run.ini --quiet --set run.figures=8 --set run.output=fig.h5 --shard $i/4 >/dev/null 2>>$MXB_ERR; done
$MXB merge figm.h5 fig.shard-{0,1,2,3}-of-4.h5 >/dev/null 2>>$MXB_ERR
check "4 shards, 8 figures: the merged figures are the single run's 8 (index, pixels, masks)" $PY - <<'EOF2'
import h5py, numpy as np
a, b = h5py.File("fig.h5"), h5py.File("figm.h5")
ok = all(a[t + "/figure_index"].shape[0] == 8 and np.array_equal(a[t + "/figure_index"][()], b[t + "/figure_index"][()])
         and np.array_equal(a[t + "/figure_images"][()], b[t + "/figure_images"][()]) for t in ("perturbation", "segmentation"))
# the segmentation test's masks go with its images (the overlay grid's ground truth)
ok = ok and a["segmentation/figure_masks"].shape == (8, 32, 32) and "perturbation/figure_masks" not in a
ok = ok and np.array_equal(a["segmentation/figure_masks"][()], b["segmentation/figure_masks"][()])
raise SystemExit(0 if ok else 1)
EOF2
# the run key covers configuration, weights and data, not the build: revision and BLAS are checked
cp fig.shard-3-of-4.h5 rev3.h5
$PY -c "import h5py; h5py.File('rev3.h5', 'r+').attrs['git_revision'] = 'feedfeedfeed'"
expect_fail 2 "rev3.h5 has a different mxb code revision (git_revision) from fig.shard-0-of-4.h5 ('feedfeedfeed', not" \
  $MXB merge m5.h5 fig.shard-{0,1,2}-of-4.h5 rev3.h5
MXB_TEST_KILL_AFTER_RECORDS=2 $MXB run run.ini --quiet --set run.output=stop.h5 --shard 2/4 >/dev/null 2>>$MXB_ERR
expect_fail 2 "mxb merge: stop.shard-2-of-4.h5: not finished: its run stopped after 2 units (stop.shard-2-of-4.h5.journal)" \
  $MXB merge m5.h5 fig.shard-{0,1,3}-of-4.h5 stop.shard-2-of-4.h5
# a run holding the journal (flock, as mxb run does while it works) is one still being written
expect_fail 2 "mxb merge: stop.shard-2-of-4.h5: still being written (2 units done so far" \
  flock stop.shard-2-of-4.h5.journal $MXB merge m5.h5 fig.shard-{0,1,3}-of-4.h5 stop.shard-2-of-4.h5
check "no merged file from refused merges" [ ! -e m5.h5 ]
# SIGTERM (Slurm's signal at a time limit or a preemption) stops a run as SIGINT does
MXB_TEST_KILL_AFTER_RECORDS=2:TERM $MXB run run.ini --quiet --set run.output=term.h5 >/dev/null 2>term.err; rc=$?
check "SIGTERM: exit 130, the journal kept, no results file, the resume hint" bash -c \
  "[ $rc = 130 ] && [ -e term.h5.journal ] && [ ! -e term.h5 ] && grep -q 'stopped after 2 of 34 units; run the same command to resume' term.err"
MXB_TEST_KILL_AFTER_RECORDS=2:TERM $MXB run run.ini --quiet --set run.output=term.h5 >/dev/null 2>>$MXB_ERR; rc=$?
check "resumed in the same environment (a requeued task's): not stopped again, the single run's results" \
  bash -c "[ $rc = 0 ] && $(declare -f same_results); same_results results.h5 term.h5"

# ---- --shard auto: the scheduler's environment, refused when missing or inconsistent ----
auto() { env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_COUNT -u SLURM_ARRAY_TASK_MIN -u SLURM_ARRAY_TASK_STEP \
  -u JOB_COMPLETION_INDEX "$@"; }
A="$MXB run run.ini --quiet --set run.output=auto.h5"
expect_fail 2 "mxb run: --shard auto: not in a Slurm array task (no SLURM_ARRAY_TASK_ID)" auto $A --shard auto
expect_fail 2 "mxb run: --shard auto: SLURM_ARRAY_TASK_ID is 'x', not a whole number" auto SLURM_ARRAY_TASK_ID=x SLURM_ARRAY_TASK_COUNT=4 $A --shard auto
expect_fail 2 "mxb run: --shard auto: SLURM_ARRAY_TASK_ID is ' 1', not a whole number" auto "SLURM_ARRAY_TASK_ID= 1" SLURM_ARRAY_TASK_COUNT=4 $A --shard auto
expect_fail 2 "mxb run: --shard auto: SLURM_ARRAY_TASK_COUNT is not set" auto SLURM_ARRAY_TASK_ID=1 $A --shard auto
expect_fail 2 "mxb run: --shard auto: SLURM_ARRAY_TASK_COUNT is '0', not a whole number in [1, 100000]" auto SLURM_ARRAY_TASK_ID=0 SLURM_ARRAY_TASK_COUNT=0 $A --shard auto
expect_fail 2 "mxb run: --shard auto: SLURM_ARRAY_TASK_ID 4 is not within the array's 4 tasks from 0" auto SLURM_ARRAY_TASK_ID=4 SLURM_ARRAY_TASK_COUNT=4 $A --shard auto
expect_fail 2 "mxb run: --shard auto: SLURM_ARRAY_TASK_ID 0 is not within the array's 4 tasks from 1" auto SLURM_ARRAY_TASK_ID=0 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=4 $A --shard auto
expect_fail 2 "mxb run: --shard auto: SLURM_ARRAY_TASK_STEP is 2" auto SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_STEP=2 $A --shard auto
expect_fail 2 "mxb run: --shard auto/3: the Slurm array has 4 tasks (SLURM_ARRAY_TASK_COUNT)" auto SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=4 $A --shard auto/3
expect_fail 2 "mxb run: --shard auto: JOB_COMPLETION_INDEX gives the index, not the count; use --shard auto/N" auto JOB_COMPLETION_INDEX=1 $A --shard auto
expect_fail 2 "mxb run: --shard auto: JOB_COMPLETION_INDEX is '4', not a whole number in [0, 3]" auto JOB_COMPLETION_INDEX=4 $A --shard auto/4
expect_fail 2 "mxb run: --shard auto: JOB_COMPLETION_INDEX is '1e0', not a whole number in [0, 3]" auto JOB_COMPLETION_INDEX=1e0 $A --shard auto/4
expect_fail 2 "mxb run: --shard auto/4: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set" auto $A --shard auto/4
expect_fail 2 "mxb run: --shard: 'auto/0' is not auto or auto/N with N a positive whole number" auto $A --shard auto/0
check "no output from the refusals" bash -c "! ls auto* >/dev/null 2>&1"
auto SLURM_ARRAY_TASK_ID=6 SLURM_ARRAY_TASK_MIN=5 SLURM_ARRAY_TASK_COUNT=3 $A --shard auto >/dev/null 2>>$MXB_ERR
auto JOB_COMPLETION_INDEX=2 $A --shard auto/3 >/dev/null 2>>$MXB_ERR
$MXB run run.ini --quiet --set run.output=auto.h5 --shard 0/3 >/dev/null 2>>$MXB_ERR
$MXB merge autom.h5 auto.shard-{0,1,2}-of-3.h5 >/dev/null 2>>$MXB_ERR
check "--shard auto (Slurm task 6 of 5..7 is 1/3) and auto/3 (Kubernetes index 2) make the shards that merge to the run" \
  same_results results.h5 autom.h5

# ---- compare catches a moved metric ----
cp results.h5 moved.h5
$PY -c "
import h5py; f = h5py.File('moved.h5', 'r+'); h = f['perturbation/vim/rollout/positive/hits']
h[0, 5] = 1 - h[0, 5]"
$MXB compare results.h5 moved.h5 --quiet >cmp.txt 2>cmp.err; rc=$?
check "compare: exit 1 when a metric moved" [ $rc -eq 1 ]
check "compare: names the moved AUC" grep -q "perturbation/vim/rollout/positive_auc.*MOVED" cmp.txt
$MXB compare results.h5 moved.h5 --quiet --tolerance 50 >/dev/null 2>>$MXB_ERR
check "compare: --tolerance admits it" [ $? -eq 0 ]

# ---- the perturbation stage from stored maps (the reference's two-stage pipeline) ----
$MXB run run.ini --quiet --set run.output=from_maps.h5 --set perturbation.maps=results.h5 >/dev/null 2>>$MXB_ERR
check "perturbation from the stored maps equals the one-stage run" $PY - <<'EOF'
import h5py, numpy as np
a, b = h5py.File("results.h5"), h5py.File("from_maps.h5")
ok = all(np.array_equal(a["perturbation"][m][k][p][d][()], b["perturbation"][m][k][p][d][()])
         for m in ("deit", "vim") for k in ("raw-attention", "rollout", "attribution")
         for p in ("positive", "negative") for d in ("hits", "logit_diff", "prob_diff"))
raise SystemExit(0 if ok else 1)
EOF
expect_fail 2 "no maps of method" $MXB run run.ini --quiet --set run.output=fm2.h5 --set perturbation.maps=moved.h5 --set method:gradcam.plugin=$MXB_BINARY_DIR/plugins/libgradcam.so

# ---- refusals and bad input ----
$MXB run run.ini --quiet >again.txt 2>again.err
check "a finished run started again: exit 0, says it is complete" grep -q "already complete" again.err
expect_fail 2 "results.h5 exists and is not the result of this configuration" $MXB run run.ini --quiet --set run.seed=3
sed 's/^figures = 3/figurs = 3/' run.ini >typo.ini
expect_fail 2 "typo.ini:4: [run] figurs: unknown key" $MXB run typo.ini
sed 's/^weights = vim.h5/weights = nothere.h5/' run.ini >nowts.ini
expect_fail 2 "nothere.h5" $MXB run nowts.ini
sed 's/^\[method:rollout\]/[method:rolout]/' run.ini >nometh.ini
expect_fail 2 "[method:rolout] is not a known method" $MXB run nometh.ini
sed 's/^crop = 32/crop = 24/' run.ini >size.ini
expect_fail 2 "[perturbation] makes 24 px inputs for model deit but it takes 32 px (set resize/crop)" $MXB run size.ini
expect_fail 2 "--set 'nodot' is not section.key=value" $MXB run run.ini --set nodot
expect_fail 2 "mxb run: --shard: '3/3' is not I/N with 0 <= I < N (see mxb run --help)" $MXB run run.ini --shard 3/3
expect_fail 2 "--set perturbation.std: '1, 0, 1' is not three finite numbers (R, G, B) above 0" $MXB run run.ini --set "perturbation.std=1, 0, 1"
expect_fail 2 "--set segmentation.pointing_tolerance: 'far' is not a number in [0, 1e+06]" $MXB run run.ini --set segmentation.pointing_tolerance=far
expect_fail 2 "--set run.variant: 'fast' is not official, exact, uia, uia-noconv, uia-nogate or uia-noact" $MXB run run.ini --set run.variant=fast
expect_fail 2 "mxb compare: --tolerance: '-1' is not a non-negative number (see mxb compare --help)" $MXB compare results.h5 results.h5 --tolerance -1
printf '[run]\noutput = x.h5\n[model:a]\nweights = deit.h5\n[method:rollout]\n[segmentation]\ndata = images\nlabels = labels.txt\nresize = 32\n' >nomask.ini
expect_fail 1 "has no mask" $MXB run nomask.ini --quiet
printf '[run]\noutput = y.h5\n[model:a]\nweights = deit.h5\n[method:rollout]\n[perturbation]\ndata = gtsegs.mat\nresize = 32\ncrop = 32\n' >nolabel.ini
expect_fail 2 "needs class labels" $MXB run nolabel.ini
head -c 3000 results.h5 >trunc.h5
expect_fail 2 "trunc.h5: not a readable HDF5 file" $MXB report trunc.h5
expect_fail 2 "not an mxb results file" $MXB report deit.h5
expect_fail 2 "mxb report: --format: 'xml' is not one of md,json,csv,tex (see mxb report --help)" $MXB report results.h5 --format xml

# ---- the BLAS in the provenance; mxb run --estimate ----
check "provenance names the BLAS and its kernels as mxb --version does" $PY - "$($MXB --version | sed -n 's/^BLAS: //p')" <<'EOF'
import sys, h5py
b = h5py.File("results.h5").attrs["blas"]
want = sys.argv[1].split(";")[0]   # "OpenBLAS 0.3.21, kernels X" (the note may differ)
sys.exit(not (want and b.startswith(want)))
EOF
$MXB run run.ini --estimate=1e-7 --set run.output=est.h5 >est.txt 2>est.err; rc=$?
check "--estimate exits 0 and writes nothing" [ $rc -eq 0 -a ! -e est.h5 -a ! -e est.h5.journal ]
check "--estimate: per test x model projections add up to the total and the shard count" $PY - <<'EOF'
import re
t = open("est.txt").read()
num = r"([0-9.]+(?:e[-+]?\d+)?)"
# "timed, S s/image x N images = HUMAN (SECONDS s) (K images in ...)": every test x model timed here
human = r"= " + num + r" (s|min|h|days) \(" + num + r" s\)"
parts = [(float(s), int(n), float(hv), u, float(sec)) for s, n, hv, u, sec in
         re.findall(r"timed, " + num + r" s/image x (\d+) images " + human, t)]
unit = {"s": 1, "min": 60, "h": 3600, "days": 86400}
total_hv, total_u, total_s = re.search(r"total: " + num + r" (s|min|h|days) \(" + num + r" s\)", t).groups()
shards = int(re.search(r"N >= (\d+)", t).group(1))
close = lambda a, b, r=1e-3: abs(a - b) <= r * max(abs(a), abs(b)) + 1e-12
ok = len(parts) == 4 and all(close(s * n, sec) and close(hv * unit[u], sec, 6e-3) for s, n, hv, u, sec in parts)
total_s = float(total_s)
ok = ok and close(sum(sec for *_, sec in parts), total_s) and close(float(total_hv) * unit[total_u], total_s, 6e-3)
# what the estimate cost, said; 2 in flight (OMP_NUM_THREADS=2): the images timed together
ok = ok and re.search(r"the estimate took " + num + r" (s|min) \(16 images run, 0 projections computed\)", t) is not None
ok = ok and "2 images in flight x 1 thread, timed together; load" in t
want = total_s / (1e-7 * 3600) + 1
ok = ok and abs(shards - want) <= 1e-3 * want + 1 and shards > 1
raise SystemExit(not ok)
EOF
expect_fail 2 "mxb run: --estimate: '0' is out of range" $MXB run run.ini --estimate=0
# a method declaring 10^7 forwards an image (RISE at 10^7 masks): its images are not run,
# their time is computed from the declared passes at the pass times measured in flight
# (timeout: a hang guard; running even one such image would take hours)
printf '[method:rise]\nmasks = 10000000\n' >rise7.ini
cat run.ini rise7.ini >est7.ini
timeout 300 $MXB run est7.ini --estimate --set run.output=est7.h5 >est7.txt 2>>$MXB_ERR; rc=$?
check "--estimate with RISE at 10^7 masks: computed, not run (exit 0, nothing written)" \
  [ $rc -eq 0 -a ! -e est7.h5 -a ! -e est7.h5.journal ]
check "--estimate with RISE at 10^7 masks: each line says computed, with the declared forwards, a lower bound" bash -c "
  [ \$(grep -c ': computed, .* (1e+07 plain forwards, ' est7.txt) -eq 4 ] &&
  grep -q 'computed lines count the declared forwards and backwards only: a lower bound' est7.txt &&
  grep -qE 'the estimate took [0-9.]+ (s|min) \(0 images run, 4 projections computed\)' est7.txt"

echo "cli_run: $pass passed, $fail failed"
[ $fail -eq 0 ]
