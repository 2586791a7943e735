#!/bin/sh
# One module as one relocatable object whose only global symbols are the ones its
# public headers name: the module's objects are linked together (cc -r), then every
# other global (what the private header declares: engine/internal.h, ...) is made
# local, so no other module, test or program can link it from libmxb.
#   module_object.sh OUT CC NM OBJCOPY PUBLIC_HEADER... -- OBJECT...
set -eu
out=$1 cc=$2 nm=$3 objcopy=$4
shift 4
headers=
while [ "$1" != "--" ]; do headers="$headers $1"; shift; done
shift
"$cc" -r -nostdlib -o "$out.merged" "$@"
"$nm" -g --defined-only "$out.merged" | awk 'NF == 3 {print $3}' | sort -u >"$out.globals"
# a global stays global when a public header names it (a declaration)
cat $headers | grep -o '[A-Za-z_][A-Za-z0-9_]*' | sort -u >"$out.words"
comm -12 "$out.globals" "$out.words" >"$out.public"
"$objcopy" --keep-global-symbols="$out.public" "$out.merged" "$out"
rm -f "$out.merged" "$out.globals" "$out.words"
