#!/usr/bin/env bash
# The layering is the build's, not a convention: each module's sources are compiled
# against a folder holding only the headers docs/ARCHITECTURE.md's table allows it, so
# a lower module including an upper module's header does not compile; a module's
# internal functions (its private header) are local in libmxb, so another module,
# program or test cannot link them (test_kernels links the engine's objects, explicitly).
# The probes are targets of tests/CMakeLists.txt built one at a time here.
set -uo pipefail
SRC=$MXB_SOURCE_DIR; B=$MXB_BINARY_DIR; T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$SRC/tests/lib_cli.sh"

build() { cmake --build "$B" --target "$1" >$T/out 2>&1; }
probe() { local n="layering_inc_$1__$2"; echo "${n//[\/.]/_}"; }

refused() { # refused MODULE HEADER: a source of MODULE including HEADER does not compile
  local t; t=$(probe "$1" "$2")
  if ! build "$t" && grep -qF "$2: No such file or directory" $T/out; then
    ok "$1/ including $2 fails the build"
  else bad "$1/ including $2 compiled (or failed otherwise): $(grep -m1 -i error $T/out)"; fi
}
allowed() {
  local t; t=$(probe "$1" "$2")
  if build "$t"; then ok "$1/ including $2 compiles"; else bad "$1/ including $2: $(grep -m1 -i error $T/out)"; fi
}
# one probe per kind of rule (the build applies the table to every module the same way,
# so these show the mechanism works; the layer folders' contents are checked below):
# a lower module including an upper one, a plugin including more than method.h, an
# upper module including another's private header; and the allowed cases beside them
refused engine harness/harness.h
refused methods/plugins io/io.h
refused harness engine/internal.h
allowed engine io/io.h
allowed methods/plugins methods/method.h
allowed harness results/results.h

# the layer folders are the table's rows: the engine's holds exactly its row's headers
row=$(grep -F '| `engine/` |' "$SRC/docs/ARCHITECTURE.md" | cut -d'|' -f3 | grep -o '[a-z0-9_/]*\.h' | sort | tr '\n' ' ')
have=$(cd "$B/layers/engine" && find . -name '*.h' | sed 's#^\./##' | sort | tr '\n' ' ')
check "build/layers/engine holds the engine row's headers ($row)" test "$row" = "$have"

# internal symbols: local in libmxb, linkable from the module's own objects
for p in "engine mxb_patchify"; do
  set -- $p
  if build layering_link_$1_objects; then ok "$2 ($1/ private header) links from the $1 objects"
  else bad "$2 does not link even from the $1 objects: $(grep -m1 -iE 'error|undefined' $T/out)"; fi
  if ! build layering_link_$1 && grep -qE "undefined reference to .$2'" $T/out; then
    ok "$2 ($1/ private header) cannot be linked from libmxb"
  else bad "$2 linked from libmxb (or failed otherwise): $(grep -m1 -iE 'error|undefined' $T/out)"; fi
done
lt=$(nm "$B/libmxb.a" 2>/dev/null | awk '$3 == "mxb_patchify" {print $2}')
check "nm: mxb_patchify is a local symbol of libmxb.a ($lt)" test "$lt" = t

echo "cli_layering: $pass passed, $fail failed"
[ $fail -eq 0 ]
