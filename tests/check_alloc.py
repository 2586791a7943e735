#!/usr/bin/env python3
"""The allocation policy, checked: no library source calls malloc, calloc, realloc,
strdup or strndup except io/alloc.c (the allocator). Everything else uses io/io.h's
mxb_alloc* (sizes bounded by a checked configuration) or mxb_try_alloc* (sizes from
input, NULL checked). methods/plugins/ (built against methods/method.h alone) and
tests are outside the rule.

    check_alloc.py ROOT [PENDING]

PENDING lists files (one repository path a line, # comments) still being converted on
other branches: their bare calls are allowed, and a listed file with none left is an
error (the list only shrinks). One line per finding, exit 1; usage, exit 2."""
import os
import re
import sys

MODULES = ["io", "engine", "datasets", "metrics", "methods", "results", "harness"]
ALLOCATOR = "io/alloc.c"
CALL = re.compile(r"(?<![\w.>])(malloc|calloc|realloc|strdup|strndup)\s*\(")
# comments, string and character literals: blanked (newlines kept) before matching
LEXEMES = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


def blank(m):
    return re.sub(r"[^\n]", " ", m.group(0))


def bare_calls(text):
    code = LEXEMES.sub(blank, text)
    for m in CALL.finditer(code):
        yield code.count("\n", 0, m.start()) + 1, m.group(1)


def sources(root):
    for mod in MODULES:
        d = os.path.join(root, mod)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):  # the module folder only: not methods/plugins/
            if name.endswith((".c", ".h")):
                yield f"{mod}/{name}"


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip().split("\n\n")[1].strip(), file=sys.stderr)
        print("usage: check_alloc.py ROOT [PENDING]", file=sys.stderr)
        return 2
    root = argv[1]
    pending, where = {}, {}
    if len(argv) == 3:
        with open(argv[2]) as f:
            for i, line in enumerate(f, 1):
                path = line.split("#", 1)[0].strip()
                if path:
                    pending[path] = i
    bad = []
    for rel in sources(root):
        if rel == ALLOCATOR:
            continue
        with open(os.path.join(root, rel), errors="replace") as f:
            calls = list(bare_calls(f.read()))
        where[rel] = calls
        if rel in pending:
            continue
        for line, fn in calls:
            alt = {"calloc": "mxb_alloc0", "realloc": "mxb_realloc", "strdup": "mxb_strdup",
                   "strndup": "mxb_try_strndup"}.get(fn, "mxb_alloc")
            bad.append(f"{rel}:{line}: bare {fn}(): use {alt} (configuration-bounded) or the "
                       f"mxb_try_ form (input-bounded, NULL checked), io/io.h")
    for rel, i in pending.items():
        if rel not in where:
            bad.append(f"{argv[2]}:{i}: {rel}: no such library source")
        elif not where[rel]:
            bad.append(f"{argv[2]}:{i}: {rel}: no bare allocation left; remove it from the list")
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
