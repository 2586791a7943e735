#!/usr/bin/env bash
# What an outside attack tried (issue 23), each defect class tested as a class through
# the command: outputs that are inputs, planted temporaries, hostile plugins (scratch,
# costs, NULL pointers, names), environment limits, thread counts, stale builds and
# plugins, scale invariance, markdown escaping, folders and devices as inputs. The single malformed inputs are in bad-inputs/CATALOGUE.tsv.
set -uo pipefail
MXB=$MXB_EXE; PY=$MXB_PYTHON; T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$MXB_SOURCE_DIR/tests/lib_cli.sh"
$PY $MXB_SOURCE_DIR/tests/bad-inputs/make_inputs.py $T/in $MXB $MXB_SOURCE_DIR >$T/make.log 2>&1 || { cat $T/make.log; exit 1; }
cd $T/in
one_line() { [ "$(wc -l <$T/err)" -eq 1 ]; }

# ---- class 1: an output that is an input is refused (device + inode), nothing written ----
cp good.h5 R.h5; cp good.h5 B.h5; cp vit.h5 W.h5; cp good.png I.png
mkdir -p sub; ln -s ../R.h5 sub/link.h5; ln R.h5 hard.h5
for f in R.h5 B.h5 W.h5 I.png; do cp $f $f.orig; done
intact() { for f in R.h5 B.h5 W.h5 I.png; do cmp -s $f $f.orig || return 1; done; }
# every output option of every command, each through several spellings of the input
refuse() { # NEEDLE CMD...
  local needle=$1; shift
  "$@" >$T/out 2>$T/err; local rc=$?
  if [ $rc -eq 2 ] && grep -qF -- "$needle" $T/err && one_line && intact; then ok "refused: $*"
  else bad "refused: $* (rc $rc: $(cat $T/err))"; fi
}
for spelling in R.h5 ./R.h5 ../in/R.h5 sub/../R.h5 sub/link.h5 hard.h5 "$PWD/R.h5"; do
  refuse "$spelling: is the input file R.h5; refusing to write over it" $MXB report R.h5 --html "$spelling"
done
refuse "B.h5: is the input file B.h5" $MXB compare R.h5 B.h5 --html B.h5
refuse "./R.h5: is the input file R.h5" $MXB compare R.h5 B.h5 --html ./R.h5
refuse "W.h5: is the input file W.h5" $MXB predict --weights W.h5 --image I.png --out W.h5
refuse "./I.png: is the input file I.png" $MXB predict --weights W.h5 --image I.png --out ./I.png
refuse "W.h5: is the input file W.h5" $MXB explain --weights W.h5 --image I.png --method rollout --out W.h5
refuse "I.png: is the input file I.png" $MXB explain --weights W.h5 --image I.png --method rollout --png I.png
refuse "o.png: named as two outputs" $MXB explain --weights W.h5 --image I.png --method rollout --png o.png --out o.png
check "two outputs of one name: neither written" [ ! -e o.png ]
# mxb run: the results file and its journal against every file the run reads
sed 's/^output = .*/output = W.h5/' run.ini >selfw.ini
refuse "W.h5: is the input file" $MXB run selfw.ini --quiet --set model:deit.weights=W.h5
cp run.ini cfg.h5.journal
refuse "cfg.h5.journal: is the input file" $MXB run cfg.h5.journal --quiet --set run.output=cfg.h5
check "the refused run left no journal or results" bash -c "[ ! -e cfg.h5 ] && cmp -s cfg.h5.journal run.ini"
# the writer checks again: a figure folder holding the input under a figure's name
mkdir -p figs; cp good.h5 figs/figures.md; cp figs/figures.md figs.orig
$MXB report figs/figures.md --figures figs >/dev/null 2>$T/err; rc=$?
check "report --figures over its input: refused (rc $rc: $(cat $T/err))" bash -c \
  "[ $rc -ne 0 ] && grep -q 'figs/figures.md: is the input file figs/figures.md' $T/err && cmp -s figs/figures.md figs.orig"
# an output that is not an input is still written
$MXB report R.h5 --html ok.html >/dev/null 2>>$MXB_ERR
check "report --html to a new file: written" grep -q '</html>' ok.html

# ---- class 2: one safe writer: unique O_EXCL|O_NOFOLLOW temporaries, renamed ----
echo precious >victim.txt
ln -s victim.txt page.html.partial          # the old fixed temporary name, planted
$MXB report R.h5 --html page.html >/dev/null 2>$T/err
check "a planted symlink at OUT.partial is not followed" bash -c \
  "grep -qx precious victim.txt && grep -q '</html>' page.html && [ -L page.html.partial ]"
ln -s victim.txt linked.html                # the output itself a symlink: replaced, not followed
$MXB report R.h5 --html linked.html >/dev/null 2>>$MXB_ERR
check "an output that is a symlink is replaced, its target untouched" bash -c \
  "grep -qx precious victim.txt && [ ! -L linked.html ] && grep -q '</html>' linked.html"
# four writers of one page at once: each succeeds, the page is complete, no temporary left
for k in 1 2 3 4; do ($MXB report R.h5 --html same.html >/dev/null 2>$T/err.$k; echo $? >$T/rc.$k) & done
wait
check "4 concurrent writers of one page all succeed: $(cat $T/rc.* | tr '\n' ' ')" \
  bash -c "[ \"\$(cat $T/rc.* | sort -u)\" = 0 ]"
check "the page is complete" bash -c "tail -1 same.html | grep -q '</html>'"
check "no temporary left" bash -c "! ls -A | grep -q partial-"
# the OS's reason in the message
expect_fail 1 "nodir/x.html: cannot create the file: No such file or directory" $MXB report R.h5 --html nodir/x.html
# no fixed temporary name anywhere in the sources: every writer goes through io/outfile.c
check "no fixed '%s.partial' name in the sources" bash -c \
  "! grep -rnF --include=*.c '\"%s.partial\"' $MXB_SOURCE_DIR/io $MXB_SOURCE_DIR/results $MXB_SOURCE_DIR/harness $MXB_SOURCE_DIR/datasets $MXB_SOURCE_DIR/engine $MXB_SOURCE_DIR/methods"
check "no fopen for writing outside io/outfile.c" bash -c \
  "! grep -rn --include=*.c -E 'fopen\\([^)]*\"(w|wb|a|r\\+b|w\\+)\"' $MXB_SOURCE_DIR/io $MXB_SOURCE_DIR/results $MXB_SOURCE_DIR/harness $MXB_SOURCE_DIR/datasets $MXB_SOURCE_DIR/engine $MXB_SOURCE_DIR/methods"

# ---- class 3: ABI v2 scratch: checked sizes, no block cap, refused before any work ----
HP=$MXB_PLUGIN_DIR/libhostile.so
expect_fail 2 "method 'hugescratch': scratch(SIZE_MAX-8) gave NULL" \
  $MXB explain --plugin $HP --weights W.h5 --image I.png --method hugescratch
$MXB explain --plugin $HP --weights W.h5 --image I.png --method manyblocks >/dev/null 2>$T/err
check "200 scratch blocks inside the declared total all come, the 201st not: $(cat $T/err)" [ ! -s $T/err ]
rm -f hs.h5 hs.h5.journal
expect_fail 2 "this run needs more memory than 2^64 bytes (method 'hugescratch' declares 18446744073709551607 bytes" \
  $MXB run run.ini --quiet --set run.output=hs.h5 --set method:hugescratch.plugin=$HP
check "the absurd declaration is refused before any work (no journal)" [ ! -e hs.h5.journal ] && [ ! -e hs.h5 ]
$MXB run run.ini --quiet --set run.output=mb.h5 --set method:manyblocks.plugin=$HP >/dev/null 2>$T/err
check "a run of 200 blocks per image completes: $(cat $T/err)" [ -e mb.h5 ]

# ---- class 9: validation that names the thing ----
for m in nancost negcost infcost; do
  expect_fail 2 "[method:$m] on model deit: its cost() returned" \
    $MXB run run.ini --quiet --set run.output=$m.h5 --set method:$m.plugin=$HP
done
check "mxb methods never prints a NaN/negative/infinite cost as real" bash -c \
  "$MXB --plugin $HP methods | grep -A1 -E '^(nancost|negcost|infcost) ' | grep -q 'not usable' &&
   ! $MXB --plugin $HP methods | grep -E 'defaults\): .*(nan|-5|inf) '"
expect_fail 2 "method 'occlusion': its parameters do not fit this model: window=100" \
  $MXB explain --weights W.h5 --image I.png --method occlusion --param window=100
for v in 0x10 ' 3' 1e1 inf; do
  expect_fail 2 "method 'ig' parameter 'steps': '$v' is not an integer" \
    $MXB explain --weights W.h5 --image I.png --method ig --param "steps=$v"
done

# ---- class 6: every environment variable through one strict parser ----
for var in MXB_MAX_MEMORY_MB MXB_MAX_PIXELS MXB_PROGRESS_SECONDS; do
  for v in 1MB 1e0 0x1 abc -1 '1 ' 17592186044416 ' 1'; do
    [ $var = MXB_PROGRESS_SECONDS ] && [ "$v" = 1e0 ] && continue # a decimal number: valid there
    env "$var=$v" $MXB report R.h5 >/dev/null 2>$T/err; rc=$?
    check "$var='$v': exit 2, one line naming it: $(cat $T/err)" bash -c \
      "[ $rc -eq 2 ] && one=\$(wc -l <$T/err) && [ \$one -eq 1 ] && grep -qF \"mxb: $var='$v': not a\" $T/err"
  done
done
check "MXB_PROGRESS_SECONDS=1e0 is a valid decimal number" env MXB_PROGRESS_SECONDS=1e0 $MXB report R.h5 --format csv
check "an empty variable counts as unset" env MXB_MAX_MEMORY_MB= $MXB report R.h5 --format csv
expect_fail 2 "I.png: image of 4x4 pixels is over the limit of 10 pixels" \
  env MXB_MAX_PIXELS=10 $MXB predict --weights W.h5 --image I.png
check "MXB_MAX_MEMORY_MB=2^40 (the largest) does not wrap" env MXB_MAX_MEMORY_MB=1099511627776 $MXB run run.ini --quiet --set run.output=env.h5

# ---- class 7: absurd thread counts are bounded by the machine, with one line ----
OMP_NUM_THREADS=100000 $MXB run run.ini --quiet --set run.output=omp.h5 >/dev/null 2>$T/err.all; rc=$?
# (the tiny random models predict at chance: the label-trap warning is theirs, not the bound's)
grep -v '^mxb run: warning: model .* at or below chance' $T/err.all >$T/err
check "OMP_NUM_THREADS=100000: exit 0 and one line saying the bound: $(cat $T/err)" bash -c \
  "[ $rc -eq 0 ] && [ \$(wc -l <$T/err) -eq 1 ] && grep -q '100000 threads (OMP_NUM_THREADS) is over this machine.s bound of' $T/err"
check "OMP_NUM_THREADS=100000: the same results" cmp -s <($MXB report omp.h5 --format csv) <($MXB report good.h5 --format csv)
$MXB run run.ini --quiet --in-flight 4096 --set run.output=inf.h5 >/dev/null 2>$T/err; rc=$?
check "--in-flight 4096: bounded, one line: $(cat $T/err)" bash -c \
  "[ $rc -eq 0 ] && grep -q '4096 images in flight is over this machine.s bound of' $T/err"

# ---- class 4(a): the run key covers mxb's build and each plugin's bytes ----
cp $HP p.so
$MXB run run.ini --quiet --set run.output=pk.h5 --set method:manyblocks.plugin=p.so >/dev/null 2>>$MXB_ERR
check "the provenance names the plugin's SHA-256 and mxb's build" $PY -c "
import h5py, sys; a = h5py.File('pk.h5').attrs; c = a['code']; c = c.decode() if isinstance(c, bytes) else c
sys.exit(0 if '$(sha256sum p.so | cut -d' ' -f1)' in c and ' build ' in c and 'abi 2 plugin' in c else 1)"
cp pk.h5 pk.before
$MXB run run.ini --quiet --set run.output=pk.h5 --set method:manyblocks.plugin=p.so >/dev/null 2>$T/err
check "the same plugin: already complete, kept" bash -c "grep -q 'already complete' $T/err && cmp -s pk.h5 pk.before"
printf 'x' >>p.so # another build of the plugin (other bytes; it still loads)
expect_fail 2 "pk.h5 exists and was made by another build of mxb or of a method's plugin" \
  $MXB run run.ini --quiet --set run.output=pk.h5 --set method:manyblocks.plugin=p.so
check "the old results are not reused, nor touched" cmp -s pk.h5 pk.before
cp $HP p.so
(MXB_TEST_KILL_AFTER_RECORDS=1 $MXB run run.ini --quiet --set run.output=pr.h5 --set method:manyblocks.plugin=p.so >/dev/null 2>>$MXB_ERR) 2>/dev/null
check "a killed run left its journal" [ -e pr.h5.journal ]
printf 'x' >>p.so
expect_fail 2 "pr.h5.journal: belongs to a run with a different configuration or build; refusing to mix results" \
  $MXB run run.ini --quiet --set run.output=pr.h5 --set method:manyblocks.plugin=p.so
check "a resume with another plugin build wrote nothing" [ ! -e pr.h5 ]

# ---- class 8: --set overrides a method parameter the file sets, as every other key ----
sed 's/^\[method:rollout\]$/[method:ig]\nsteps = 2/' run.ini >ig.ini
$MXB run ig.ini --quiet --set run.output=ig3.h5 --set method:ig.steps=3 >/dev/null 2>$T/err; rc=$?
check "--set method:ig.steps=3 over the file's steps = 2: exit 0 ($(cat $T/err))" [ $rc -eq 0 ]
check "the run used steps=3" $PY -c "
import h5py, sys; a = h5py.File('ig3.h5').attrs['method_params_ig']; a = a.decode() if isinstance(a, bytes) else a
sys.exit(0 if 'steps=3' in a.split() else 1)"
sed -i 's/^steps = 2$/steps = 2\nsteps = 4/' ig.ini
expect_fail 2 "[method:ig] steps: given twice" $MXB run ig.ini --quiet --set run.output=ig4.h5

# ---- class 10: output formats ----
# a name holding '|' (a results file may hold any name) keeps every markdown row's cells
cp good.h5 pipe.h5
$PY - <<'EOF'
import h5py, numpy as np
with h5py.File("pipe.h5", "r+") as f:
    names = [n.decode() if isinstance(n, bytes) else n for n in f["models"][()]]
    del f["models"]
    f.create_dataset("models", data=np.array([n.replace("deit", "de|it") for n in names], dtype=object),
                     dtype=h5py.string_dtype())
    for t in ("perturbation", "segmentation"):
        f[t].move("deit", "de|it")
EOF
$MXB report pipe.h5 --curves >$T/md 2>$T/err
cat >$T/cells.py <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
cells = lambda l: len(re.findall(r'(?<!\\)\|', l))
ok, block = 'de\\|it' in text, None
for l in text.splitlines():
    if l.startswith('| Method') or l.startswith('| Model'): block = cells(l)
    elif l.startswith('|'): ok = ok and cells(l) == block
sys.exit(0 if ok else 1)
EOF
check "a '|' in a name is escaped: every table row has its header's cells ($(cat $T/err))" $PY $T/cells.py $T/md
# report --figures draws every stored attention image (4 per test here), not the first 2
$MXB synth s4 --n 4 >/dev/null 2>>$MXB_ERR && awk '{print $1, 0}' s4/labels.txt >s4/l3.txt
$MXB run run.ini --quiet --set run.output=att4.h5 --set run.save_attention=4 --set perturbation.data=s4/images \
  --set perturbation.labels=s4/l3.txt --set segmentation.data=s4/gtsegs_synth.mat >/dev/null 2>&1
$MXB report att4.h5 --figures figs4 >/dev/null 2>>$MXB_ERR
check "report --figures: an attention figure for each of the 4 x 2 stored images" \
  bash -c "[ \$(ls figs4 | grep -c '^attention_.*\.png$') -eq 8 ]"

# ---- class 11: folders, devices, results structure (the single files are in the catalogue) ----
timeout 5 $MXB predict --weights W.h5 --image /dev/zero >/dev/null 2>$T/err; rc=$?
check "predict --image /dev/zero: refused at once, not after reading 1 GiB (rc $rc: $(cat $T/err))" \
  bash -c "[ $rc -eq 2 ] && grep -q 'not a regular file' $T/err"
mkdir -p cfgdir
expect_fail 2 "cfgdir: is a folder, not a configuration file" $MXB run cfgdir
expect_fail 2 "cfgdir: is a folder, not an id list" $MXB run run.ini --quiet --set run.output=ids.h5 --set perturbation.subset=ids:cfgdir

# ---- class 12 (decided, documented in methods/method.h and configs/README.md) ----
# one name rule for built-ins, plugins and configurations: '..' and 41 characters refused at load
expect_fail 2 "libbad_dotname.so: method 0 has a bad name (1..40 of A-Z a-z 0-9 _ . + -; not '.' or '..')" \
  $MXB --plugin $MXB_PLUGIN_DIR/libbad_dotname.so methods
expect_fail 2 "libbad_longname.so: method 0 has a bad name (1..40" $MXB --plugin $MXB_PLUGIN_DIR/libbad_longname.so methods
# NULL for the run, the trace or an output buffer fails the call, never the host (ViT and ViM)
for w in W.h5 vim.h5; do
  expect_fail 2 "method 'nullargs': every NULL argument was refused" \
    $MXB explain --plugin $HP --weights $w --image I.png --method nullargs
done

echo "cli_hostile: $pass passed, $fail failed"
[ $fail -eq 0 ]
