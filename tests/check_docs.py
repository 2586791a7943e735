#!/usr/bin/env python3
"""Every path a document mentions must exist in the repository.

    check_docs.py ROOT DOC.md...

Checks, in each DOC (a Markdown file under ROOT):
  - link and image targets, [text](target): relative to the DOC's folder; web links
    (scheme://, mailto:) and in-page anchors are skipped, an absolute path or a path
    that leaves ROOT is an error (a clone has nothing outside itself);
  - file paths in the text, in code spans or not: a token like engine/vim.c or
    ./build/mxb, relative to ROOT (commands run there), checked when its first part
    is one of ROOT's top-level entries; tokens starting with ../ are relative to
    something else (a link's document, a config's folder) and left to the link
    check. A glob (*) must match something. The user's own files (data/, runs/, build*/, the converted
    checkpoints named in USER_FILES) are not part of a clone and are not checked.
Prints one line per missing path (DOC:LINE: path) and exits 1 if there is any.

"""
import glob
import os
import re
import sys

# Made by the user following the docs, never committed: named one by one, so that a
# typo elsewhere under models/ is still caught.
USER_FILES = {"models/deit_small.h5", "models/vim_small.h5"}

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
PATH = re.compile(r"(?<![\w/.:$<>-])((?:\.\.?/)*[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.*-]+)*/?)")


def top_entries(root):
    tops = set()
    for name in os.listdir(root):
        if name in ("runs", "data") or name.startswith("build") or (name.startswith(".") and name != ".ci"):
            continue
        tops.add(name)
    return tops


def exists(path):
    if "*" in path:
        return bool(glob.glob(path))
    return os.path.exists(path)


def inside(root, path):
    root = os.path.realpath(root)
    return os.path.realpath(path) == root or os.path.realpath(path).startswith(root + os.sep)


def check(root, doc, tops):
    problems = []
    base = os.path.dirname(os.path.abspath(doc))
    rel_doc = os.path.relpath(doc, root)
    with open(doc, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for no, line in enumerate(lines, 1):
        where = "%s:%d" % (rel_doc, no)
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue
            target = target.split("#", 1)[0]
            if target.startswith("/"):
                problems.append("%s: %s: an absolute path (not in a clone)" % (where, target))
                continue
            full = os.path.normpath(os.path.join(base, target))
            if not inside(root, full):
                problems.append("%s: %s: outside the repository" % (where, target))
            elif not exists(full):
                problems.append("%s: %s: no such file in the repository" % (where, target))
        for token in PATH.findall(line):
            token = token.rstrip(".")  # the full stop after a path ends the sentence
            if "/" not in token:
                continue
            if token.startswith("../"):
                continue  # relative to something else (a config's folder); links are checked above
            full = os.path.normpath(os.path.join(root, token))
            rel = os.path.relpath(full, root)
            first = rel.split(os.sep, 1)[0]
            if first not in tops or rel in USER_FILES:
                continue
            if re.search(re.escape(token) + r"`? \(planned\)", line):
                continue  # a design note naming a file still to be written
            if not exists(full):
                problems.append("%s: %s: no such file in the repository" % (where, token))
    return problems


def main(argv):
    if len(argv) < 3 or argv[1].startswith("--"):
        print("usage: check_docs.py ROOT DOC.md...", file=sys.stderr)
        return 2
    root = os.path.abspath(argv[1])
    tops = top_entries(root)
    problems = []
    for doc in argv[2:]:
        problems += check(root, doc, tops)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
