#!/usr/bin/env python3
"""ImageNet val labels as the models number the classes, from the ILSVRC2012 devkit.

    imagenet_val_labels.py DEVKIT [--wnid] > labels.txt

DEVKIT is ILSVRC2012_devkit_t12.tar.gz or the folder it extracts to. Prints one
"ILSVRC2012_val_NNNNNNNN.JPEG LABEL" line per validation image: LABEL is the
0-based position of the image's WordNet id in the sorted list of the 1,000 class
ids, the index torchvision's ImageFolder / ImageNet (and so DeiT and ViM) use, and
what `mxb run` reads with `labels = FILE` on a flat folder.

The devkit's own data/ILSVRC2012_validation_ground_truth.txt holds 1-based
ILSVRC2012_IDs in the devkit's synset order (data/meta.mat), a different numbering:
it must be converted, which is all this does (reading meta.mat as torchvision's
parse_devkit_archive does: the classes are the synsets without children).

--wnid prints the WordNet id instead of the index ("NAME nXXXXXXXX"), for moving the
images into class folders.
Errors: one line on stderr naming the file and the problem, exit status 2.
"""
import io
import os
import sys
import tarfile

META = "ILSVRC2012_devkit_t12/data/meta.mat"
TRUTH = "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt"


class Refusal(Exception):
    pass


def read_devkit(path):
    """(meta.mat bytes, ground-truth text) from the tarball or the folder."""
    if os.path.isdir(path):
        out = []
        for member in (META, TRUTH):
            inner = member.split("/", 1)[1]  # data/...
            full = os.path.join(path, inner)
            if not os.path.isfile(full):
                raise Refusal("%s: no %s (give the extracted ILSVRC2012_devkit_t12 folder)"
                              % (path, inner))
            with open(full, "rb") as f:
                out.append(f.read())
        return out[0], out[1].decode("ascii", "replace")
    try:
        with tarfile.open(path) as tar:
            data = []
            for member in (META, TRUTH):
                try:
                    f = tar.extractfile(member)
                except KeyError:
                    f = None
                if f is None:
                    raise Refusal("%s: no %s in the archive" % (path, member))
                data.append(f.read())
    except (tarfile.TarError, OSError) as e:
        raise Refusal("%s: not a readable devkit archive or folder (%s)" % (path, e))
    return data[0], data[1].decode("ascii", "replace")


def class_ids(meta_bytes, where):
    """{ILSVRC2012_ID: WNID} of the 1,000 leaf synsets."""
    import scipy.io
    try:
        synsets = scipy.io.loadmat(io.BytesIO(meta_bytes), squeeze_me=True)["synsets"]
        # fields 0, 1, 4 of each record: ILSVRC2012_ID, WNID, num_children
        leaves = {int(s[0]): str(s[1]) for s in synsets if int(s[4]) == 0}
    except Exception as e:  # scipy raises many kinds on a damaged file
        raise Refusal("%s: meta.mat: cannot read the synsets (%s)" % (where, e))
    if len(leaves) != 1000 or len(set(leaves.values())) != 1000:
        raise Refusal("%s: meta.mat: %d leaf synsets with %d distinct ids, want 1000"
                      % (where, len(leaves), len(set(leaves.values()))))
    return leaves


def main(argv):
    args = [a for a in argv[1:] if a != "--wnid"]
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: imagenet_val_labels.py DEVKIT [--wnid] > labels.txt", file=sys.stderr)
        return 2
    path, want_wnid = args[0], "--wnid" in argv[1:]
    try:
        meta, truth = read_devkit(path)
        wnid_of = class_ids(meta, path)
        index_of = {w: i for i, w in enumerate(sorted(wnid_of.values()))}
        lines = []
        for no, line in enumerate(truth.splitlines(), 1):
            try:
                wnid = wnid_of[int(line)]
            except (ValueError, KeyError):
                raise Refusal("%s: ground truth line %d: '%s' is not an ILSVRC2012_ID of a class"
                              % (path, no, line.strip()))
            lines.append("ILSVRC2012_val_%08d.JPEG %s" % (len(lines) + 1,
                                                          wnid if want_wnid else index_of[wnid]))
        if not lines:
            raise Refusal("%s: the ground truth file is empty" % path)
    except Refusal as e:  # one line, whatever the libraries put in their messages
        print("imagenet_val_labels: %s" % " ".join(str(e).split()), file=sys.stderr)
        return 2
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
