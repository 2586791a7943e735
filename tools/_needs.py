"""The Python packages a tool needs, checked before it imports them: a Python without
them (a pyenv or venv shim named python3, say) gets one line saying which packages are
missing in which interpreter, and what to run instead, rather than a traceback."""
import importlib.util
import os
import sys

DEBIAN = {"torch": "python3-torch", "h5py": "python3-h5py", "numpy": "python3-numpy", "scipy": "python3-scipy"}


def need(*modules):
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    tool = os.path.basename(sys.argv[0]) or "this tool"
    pkgs = " ".join(DEBIAN.get(m, m) for m in missing)
    hint = "" if sys.executable == "/usr/bin/python3" else "; or run it with /usr/bin/python3, Debian's Python"
    sys.stderr.write("%s: %s has no %s (apt-get install %s%s; tools/README.md)\n"
                     % (tool, sys.executable, ", ".join(missing), pkgs, hint))
    sys.exit(2)
