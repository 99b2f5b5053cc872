"""The published LSH hyperplanes and hash, against a pure-Python splitmix64."""

from __future__ import annotations

import numpy as np
from sattn.specs import lsh

M64 = (1 << 64) - 1


def splitmix_plane(dim, n, seed):
    out = []
    for t in range(n * dim):
        z = (seed + (t + 1) * 0x9E3779B97F4A7C15) & M64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        z ^= z >> 31
        out.append((z >> 40) / 2**23 - 1.0)
    return np.array(out, dtype=np.float32).reshape(n, dim)


def test_hyperplanes_match_pure_python_splitmix64():
    for dim, n, seed in ((8, 3, lsh.LSH_SEED), (64, 2, 0), (5, 4, 12345)):
        assert np.array_equal(lsh.hyperplanes(dim, n, seed), splitmix_plane(dim, n, seed))


def test_hyperplanes_are_uniform_in_minus_one_one():
    r = lsh.hyperplanes(64, 8)
    assert r.dtype == np.float32 and (r >= -1).all() and (r < 1).all()
    assert abs(float(r.mean())) < 0.1


def test_bucket_ids_follow_the_sign_bits():
    x = np.array([[1.0, 0.0, 0.0], [-1.0, 0.5, 0.25], [0.0, 0.0, 0.0]])
    r = lsh.hyperplanes(3, 3).astype(np.float64)
    for buckets in (2, 3, 5, 8):
        nb = lsh.num_bits(buckets)
        want = [sum(int(float(row @ r[b]) >= 0) << b for b in range(nb)) % buckets for row in x]
        assert lsh.bucket_ids(x, buckets).tolist() == want
    assert lsh.bucket_ids(x, 1).tolist() == [0, 0, 0]
    assert lsh.bucket_ids(x, 8)[2] == 7  # a zero projection counts as ">= 0"
