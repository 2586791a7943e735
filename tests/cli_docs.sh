#!/usr/bin/env bash
# The documents a clone carries point only into the clone: every relative link and
# every repository path that README.md and docs/*.md mention exists
# (tests/check_docs.py), and every module includes only the headers that
# docs/ARCHITECTURE.md allows it. Then the checker itself, on a scratch tree, must
# catch a missing file, a dead link, a link out of the tree, an absolute path, an
# empty glob, a forbidden include and a module without a row.
set -uo pipefail
PY=$MXB_PYTHON; SRC=$MXB_SOURCE_DIR; T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$SRC/tests/lib_cli.sh"
CHECK="$PY $SRC/tests/check_docs.py"

# the repository's own documents
check "README.md and docs/*.md: every path exists" $CHECK "$SRC" "$SRC/README.md" "$SRC"/docs/*.md
check "docs/PROTOCOLS.md is in the repository" test -s "$SRC/docs/PROTOCOLS.md"
check "docs/PAPER.md is in the repository" test -s "$SRC/docs/PAPER.md"
# no file of the repository cites the protocols page anywhere but docs/
check "every PROTOCOLS.md reference names docs/PROTOCOLS.md" \
  bash -c "! grep -rIn --exclude-dir='.?*' --exclude-dir='build*' --exclude-dir=runs 'PROTOCOLS\.md' '$SRC' \
    | grep -v 'docs/PROTOCOLS\.md' | grep -v '^$SRC/docs/[^:]*:.*(PROTOCOLS\.md)' | grep ."

# the checker on a scratch tree: one good document, then one bad thing at a time
R=$T/repo; mkdir -p $R/docs $R/engine $R/tests $R/models
touch $R/engine/vim.c $R/tests/cli_a.sh $R/models/README.md
cat >$R/README.md <<'EOF'
See [the protocols](docs/P.md), `engine/vim.c`, engine/vim.c, `tests/cli_*.sh`,
`./build/mxb`, data/imagenet/val/, https://example.org/engine/none.c, `models/vim_small.h5`,
[web](https://example.org/x) and [here](#top).
EOF
printf 'Back to [the README](../README.md) and `../data/x` (a config-relative path).\n' >$R/docs/P.md
check "scratch: a correct tree passes" $CHECK $R $R/README.md $R/docs/P.md
bad_doc() { # bad_doc WHAT LINE NEEDLE: the checker exits 1 and names DOC:2 and NEEDLE
  local what=$1 line=$2 needle=$3
  printf 'ok\n%s\n' "$line" >$R/docs/B.md
  $CHECK $R $R/docs/B.md >$T/out 2>&1; local rc=$?
  if [ $rc -eq 1 ] && grep -qF "docs/B.md:2: $needle" $T/out && [ "$(wc -l <$T/out)" -eq 1 ]; then
    ok "scratch: $what"
  else bad "scratch: $what: rc $rc, $(cat $T/out)"; fi
}
bad_doc "a missing file in a code span" 'see `engine/vit.c`' "engine/vit.c: no such file"
bad_doc "a missing file in prose" 'see engine/vim.h for the API' "engine/vim.h: no such file"
bad_doc "a dead relative link" 'see [it](../engine/gone.c)' "../engine/gone.c: no such file"
bad_doc "a link out of the tree" 'see [spec](../../spec/P.md)' "../../spec/P.md: outside the repository"
bad_doc "an absolute link" 'see [spec](/opt/elsewhere/spec/P.md)' "/opt/elsewhere/spec/P.md: an absolute path"
bad_doc "a glob that matches nothing" 'all of `tests/gen_*.py`' "tests/gen_*.py: no such file"
bad_doc "a models/ file not made by the user" 'load `models/vim_tiny.h5`' "models/vim_tiny.h5: no such file"
expect_usage() { $CHECK >/dev/null 2>$T/err; [ $? -eq 2 ] && grep -q usage $T/err; }
check "no arguments: usage, exit 2" expect_usage

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
