"""The KV cache's K block sums (sattn.backends.rvv.kvcache): the state of a cache that added
each appended K row into its block's fp32 sum, read back from the kernel's storage rows."""

from __future__ import annotations

import numpy as np
import pytest
from sattn.backends.rvv import kvcache, runner
from sattn.ir.schema import params_from_dict


@pytest.mark.parametrize("precision", ["fp32", "bf16", "i8", "i4"])
def test_stored_values_are_the_kernels_values(precision):
    """Decoding the storage rows gives the values sattn.precision prepared (fp32 / bf16 values,
    i8 / i4 codes), including the zero padding of a row longer than D."""
    from sattn import precision as prec
    rng = np.random.default_rng(0)
    q = rng.standard_normal((2, 3, 8)).astype(np.float32)
    k = rng.standard_normal((1, 5, 8)).astype(np.float32)
    v = rng.standard_normal((1, 5, 12)).astype(np.float32)  # Dv > D: rows padded
    p = params_from_dict({"spec": "bsr", "precision": precision, "gqa_group_size": 2})
    st = runner.to_storage(p, q, k, v)
    want = prec.prepare(p, q, k, v).k.astype(np.float64)
    got = kvcache.stored_values(precision, st.k, 8)
    assert np.array_equal(got, want)


def test_block_sums_are_the_appended_rows_added_in_order():
    """Against a cache that appends the rows one at a time (an np.float32 scalar per value:
    IEEE single additions in row order from +0.0), bit for bit, with a partial last block;
    blocks of 11 rows, where NumPy's own sum would add pairwise (another order)."""
    rng = np.random.default_rng(1)
    vals = (rng.standard_normal((2, 30, 3)) * np.array([1.0, 1e8, 1e-8])).astype(np.float32)
    got = kvcache.k_block_sums(vals, 11)
    assert got.shape == (2, 3, 3) and got.dtype == np.float32
    for g in range(2):
        sums = [[np.float32(0.0)] * 3 for _ in range(3)]
        for t in range(30):  # append token t
            for d in range(3):
                sums[t // 11][d] = np.float32(sums[t // 11][d] + vals[g, t, d])
        assert np.array_equal(got[g], np.array(sums, dtype=np.float32))
