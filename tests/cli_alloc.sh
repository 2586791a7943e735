#!/usr/bin/env bash
# The allocation policy (io/io.h): no library source calls malloc, calloc, realloc,
# strdup or strndup but io/alloc.c (tests/check_alloc.py; files still being converted
# on other branches are listed in tests/alloc_pending.txt). Then the checker itself on
# a scratch tree: it must name an unlisted bare call and ignore what is not one.
set -uo pipefail
PY=$MXB_PYTHON; SRC=$MXB_SOURCE_DIR; T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$SRC/tests/lib_cli.sh"
CHECK="$PY $SRC/tests/check_alloc.py"

$CHECK "$SRC" "$SRC/tests/alloc_pending.txt" >$T/out 2>&1; rc=$?
check "no bare allocation outside io/alloc.c and the pending list ($(head -3 $T/out | tr '\n' ' '))" test $rc -eq 0

R=$T/repo; mkdir -p $R/io $R/engine $R/methods/plugins
printf '#include <stdlib.h>\nvoid *mxb_try_alloc(size_t n) { return malloc(n); }\n' >$R/io/alloc.c
cat >$R/engine/ok.c <<'C'
/* malloc(n) in a comment, and strdup( too */
// calloc(1, 2) in a line comment
static const char *s = "realloc(p, n) in a string";
struct vt { void *(*malloc)(unsigned long); };
void *f(struct vt *v, struct vt w) { (void)s; return v->malloc(1) ? w.malloc(2) : 0; }
void *mxb_alloc(unsigned long, const char *);
void *g(void) { return mxb_alloc(4, "x"); }
C
printf 'void *p(void) { return malloc(3); }\n' >$R/methods/plugins/plug.c
check "scratch: allocator, comments, strings, members and plugins pass" $CHECK $R
printf 'int x;\nvoid *h(unsigned long n) {\n    char *q = strdup("a"), *r = calloc (n, 1);\n    return q ? q : r;\n}\n' >$R/engine/bad.c
$CHECK $R >$T/out 2>&1; rc=$?
check "scratch: an unlisted bare strdup is named (engine/bad.c:3)" \
  bash -c "[ $rc -eq 1 ] && grep -q '^engine/bad.c:3: bare strdup()' $T/out"
check "scratch: a bare calloc with a space before ( is named" grep -q '^engine/bad.c:3: bare calloc()' $T/out
check "scratch: one line per finding" test "$(wc -l <$T/out)" -eq 2
printf 'engine/bad.c  # pending\n' >$T/pending
check "scratch: a listed file's bare calls are allowed" $CHECK $R $T/pending
printf 'engine/bad.c\nengine/ok.c\n' >$T/pending
$CHECK $R $T/pending >$T/out 2>&1; rc=$?
check "scratch: a listed file with nothing left is named" \
  bash -c "[ $rc -eq 1 ] && grep -q 'pending:2: engine/ok.c: no bare allocation left' $T/out"
printf 'engine/gone.c\n' >$T/pending
$CHECK $R $T/pending >$T/out 2>&1; rc=$?
check "scratch: a listed file that does not exist is named" \
  bash -c "[ $rc -eq 1 ] && grep -q 'engine/gone.c: no such library source' $T/out"
$CHECK >/dev/null 2>$T/err; rc=$?
check "no arguments: usage, exit 2" bash -c "[ $rc -eq 2 ] && grep -q usage $T/err"

echo "cli_alloc: $pass passed, $fail failed"
[ $fail -eq 0 ]
