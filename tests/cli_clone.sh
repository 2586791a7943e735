#!/usr/bin/env bash
# A clone with nothing beside it must build and test: nothing the build, the tests or
# the tools read may point outside the repository, and the repository stays lean.
set -uo pipefail
SRC=$MXB_SOURCE_DIR; T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$SRC/tests/lib_cli.sh"
cd "$SRC"
files=$(git ls-files -- CMakeLists.txt Makefile.ci .ci tests tools configs engine methods metrics \
        datasets results harness io cmake | grep -v '^tests/cli_clone.sh$')
outside() { grep -lE '\.\./shared|/work/shared|MXB_SHARED_DIR' $files 2>/dev/null; }
check "no build/test/tool file reads the folder beside the clone (found: $(outside | tr '\n' ' '))" test -z "$(outside)"
check "golden fixtures are in the repository" test -s tests/fixtures/vim_d64.golden.h5 -a -s tests/fixtures/deit_d64.pth
big=$(git ls-files -z | xargs -0 -I{} find {} -maxdepth 0 -type f -size +10M 2>/dev/null)
check "no tracked file over 10 MB (found: $big)" test -z "$big"
echo "cli_clone: $pass passed, $fail failed"
[ $fail -eq 0 ]
