#!/usr/bin/env bash
# Issue 23 (hardening, round 3): each defect class an outside attack found, tested as a
# class through the command. The single malformed inputs are in bad-inputs/CATALOGUE.tsv.
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
$MXB report R.h5 --html ok.html >/dev/null 2>&1
check "report --html to a new file: written" grep -q '</html>' ok.html

# ---- class 2: one safe writer: unique O_EXCL|O_NOFOLLOW temporaries, renamed ----
echo precious >victim.txt
ln -s victim.txt page.html.partial          # the old fixed temporary name, planted
$MXB report R.h5 --html page.html >/dev/null 2>$T/err
check "a planted symlink at OUT.partial is not followed" bash -c \
  "grep -qx precious victim.txt && grep -q '</html>' page.html && [ -L page.html.partial ]"
ln -s victim.txt linked.html                # the output itself a symlink: replaced, not followed
$MXB report R.h5 --html linked.html >/dev/null 2>&1
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

echo "cli_harden3: $pass passed, $fail failed"
[ $fail -eq 0 ]
