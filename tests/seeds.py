"""methods/method.h's generator and image seed, ported (an independent implementation
for the tests: cli_plugin_guide, cli_seeds, cli_report_ci).
  splitmix64: state += 0x9E3779B97F4A7C15; z = state; z = (z ^ z>>30) * 0xBF58476D1CE4E5B9;
              z = (z ^ z>>27) * 0x94D049BB133111EB; out = z ^ z>>31
  u01 = (out >> 11) * 2^-53
  image_seed(run_seed, id) = the first splitmix64 output from run_seed ^ FNV-1a-64(id)
"""
M = 2**64 - 1


def splitmix(state):
    while True:
        state = (state + 0x9E3779B97F4A7C15) & M
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
        yield z ^ (z >> 31)


def u01(seed, n):
    g = splitmix(seed)
    return [(next(g) >> 11) * 2.0 ** -53 for _ in range(n)]


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & M
    return h


def image_seed(run_seed, image_id):
    raw = image_id.encode("latin-1") if isinstance(image_id, str) else image_id
    return next(splitmix(run_seed ^ fnv1a64(raw)))
