"""Golden SHA-256 values from Python's hashlib for test_results."""
import hashlib, os, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
cases = [b"", b"abc", b"a" * 55, b"a" * 56, b"a" * 64, b"The quick brown fox" * 1000,
         bytes(range(256)) * 517]
with open(os.path.join(out, "sha256.txt"), "w") as f:
    for i, data in enumerate(cases):
        path = os.path.join(out, "blob_%d.bin" % i)
        open(path, "wb").write(data)
        f.write("%s %s\n" % (path, hashlib.sha256(data).hexdigest()))
