"""Pooling over blocks of rows: float64 means in NumPy's own summation order (the NSA-style
compression keys) and fp32 sums in row order (bsr's block scores, and what a KV cache keeps
for them)."""

from __future__ import annotations

import numpy as np

#: float64 elements of the transposed scratch block_sums() sums from (256 KiB: stays in L2).
_SUM_CHUNK = 1 << 15


def block_sums(x: np.ndarray, block: int) -> np.ndarray:
    """float64 sum of each block of rows of ``x`` [S, D] (any real dtype; the last block sums
    the rows it has).

    Bit for bit ``np.add.reduceat(x.astype(float64), starts, axis=0)`` (which sums each
    column of a block pairwise, as ``sum`` does along a contiguous axis; only the sign of an
    exact zero may differ, and -0.0 == 0.0 in every ranking), 2-4x faster and
    without a float64 copy of ``x``: blocks of 9..129 rows replay that order vectorised
    (:func:`_pairwise_sums`); other sizes copy chunks of blocks transposed to a small float64
    scratch [blocks, D, block] and sum along its contiguous last axis."""
    s, d = x.shape
    full = s // block
    out = np.empty((-(-s // block), d), dtype=np.float64)
    if full and 9 <= block <= 129:
        out[:full] = _pairwise_sums(x[: full * block].reshape(full, block, d))
    elif full:
        xt = x[: full * block].reshape(full, block, d).transpose(0, 2, 1)
        step = max(1, _SUM_CHUNK // (block * d))
        buf = np.empty((min(step, full), d, block), dtype=np.float64)
        for c0 in range(0, full, step):
            c1 = min(full, c0 + step)
            np.copyto(buf[: c1 - c0], xt[c0:c1])
            np.sum(buf[: c1 - c0], axis=-1, out=out[c0:c1])
    if full * block < s:
        out[full] = np.ascontiguousarray(x[full * block :].T, dtype=np.float64).sum(axis=-1)
    return out


def _pairwise_sums(x3: np.ndarray) -> np.ndarray:
    """Sum over axis 1 of ``x3`` [nb, B, D], 9 <= B <= 129, in exactly the order NumPy sums a
    contiguous row of B elements: ``a[0] + pairwise(a[1:])``, where the pairwise sum of
    n <= 128 elements keeps 8 running sums ``r[j] += a[i + j]`` over the first ``n - n % 8``,
    combines them as ``((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))`` and adds the rest in order.
    Vectorised over the blocks and columns: no transposed copy (twice as fast)."""
    n = x3.shape[1] - 1
    m = n - n % 8
    r = x3[:, 1:9].astype(np.float64)
    for i in range(9, m + 1, 8):
        r += x3[:, i : i + 8]
    res = (r[:, 0] + r[:, 1] + (r[:, 2] + r[:, 3])) + (r[:, 4] + r[:, 5] + (r[:, 6] + r[:, 7]))
    for i in range(m + 1, n + 1):
        res += x3[:, i]
    return x3[:, 0] + res


def block_means(x: np.ndarray, block: int) -> np.ndarray:
    """Mean (float64) of each block of rows of ``x`` [S, D] (the last block averages the rows
    it has)."""
    s = x.shape[0]
    lens = np.minimum(block, s - np.arange(0, s, block)).astype(np.float64)
    return block_sums(x, block) / lens[:, None]


def row_order_sums_f32(x: np.ndarray, block: int) -> np.ndarray:
    """fp32 sum of each block of rows of ``x`` [S, D] (values exact in fp32: fp32 or bf16
    values, integer codes), the rows added one at a time in row order starting from +0.0 (the
    last block the rows it has): ``[ceil(S / block), D]`` float32.

    The order is part of the definition: it is how a KV cache adds each appended row into its
    block's sum and how the RVV kernel sums a block, so the three agree bit for bit. Vectorised
    over the blocks: ``block`` adds of ``[S / block, D]`` slices."""
    s, d = x.shape
    full = s // block
    acc = np.zeros((-(-s // block), d), dtype=np.float32)
    if full:
        rows = x[: full * block].reshape(full, block, d)
        for r in range(block):
            acc[:full] += rows[:, r].astype(np.float32, copy=False)
    for r in range(full * block, s):
        acc[full] += x[r].astype(np.float32, copy=False)
    return acc
