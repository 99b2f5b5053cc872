"""Grouped-query sharing and the scores data-dependent patterns select with.

Query head ``h`` reads KV head ``g = h // gqa_group_size``; the ``gqa_group_size`` heads of a
group share one K/V and one selection. A data-dependent pattern ranks keys of KV head ``g`` by
the group score ``sum_{h in group} Q[h, i] . K[g, j]`` = ``Qsum[g, i] . K[g, j]`` with
``Qsum[g] = sum of the group's queries``, computed on the inputs *as the precision sees them*
(:func:`sattn.precision.selection_operands`: rounded values for bf16, integer codes
for i8/i4) in the pattern's score precision (``PerGroupPattern.score_dtype``): fp32 for
top-k, N:M and LSH -- the group's heads added in head order in fp32, then an fp32 matrix
product, as the RVV kernels score them. Two computations of one fp32 score (another
summation order) may differ by its rounding, at most ``gamma(D + group) * (sum_h |Q[h, i]|) .
|K[g, j]|`` with the fp32 unit roundoff (docs/precision.md, "Selection near-ties"), so keys
whose scores agree to within that bound may be ranked either way. The attention scale ``1/sqrt(D)`` (and ``scale_q * scale_k``) is a
positive factor common to all keys of a query, so it is left out: it never changes a ranking.
Query row ``i`` of ``Sq`` sits at position ``p(i) = Skv - Sq + i``. With ``causal = 1`` keys
``j > p(i)`` are not candidates (score ``-inf``): every budget
(top-k, N:M, kept blocks) is spent on candidates only.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from sattn.ir.schema import AttentionParams, Shape
from sattn.precision import selection_operands

#: Score-matrix elements per chunk of queries (float64): bounds memory to O(S) per query row.
CHUNK_ELEMENTS = 1 << 22


def group_operands(
    params: AttentionParams, shape: Shape, q: np.ndarray, k: np.ndarray,
    dtype: type = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """(Qsum [H_kv,Sq,D], K [H_kv,Skv,D]) in ``dtype`` as the precision sees them (see module
    doc); Qsum adds the group's heads in head order in ``dtype``."""
    qs, ks = selection_operands(params, q, k)
    qs, ks = qs.astype(dtype, copy=False), ks.astype(dtype, copy=False)
    grouped = qs.reshape(shape.kv_heads, shape.group, shape.seq_len, shape.head_dim)
    qsum = grouped[:, 0].copy()
    for h in range(1, shape.group):  # in head order, as the kernels add them
        qsum += grouped[:, h]
    return qsum, ks


def row_chunks(rows: int, cols: int, align: int = 1) -> Iterator[tuple[int, int]]:
    """(start, stop) query chunks with about CHUNK_ELEMENTS score elements, aligned to ``align``."""
    step = max(1, CHUNK_ELEMENTS // max(1, cols))
    step = max(align, step // align * align)
    for r0 in range(0, rows, step):
        yield r0, min(rows, r0 + step)


def candidate_scores(
    qsum: np.ndarray, k: np.ndarray, r0: int, r1: int, causal: bool, offset: int = 0
) -> np.ndarray:
    """Group scores of queries r0..r1-1 on every key (in the operands' dtype), ``-inf`` for
    non-candidates (causal: keys after the row's position ``offset + i``)."""
    s = qsum[r0:r1] @ k.T
    if causal:
        i = np.arange(r0 + offset, r1 + offset)[:, None]
        s[np.arange(k.shape[0])[None, :] > i] = -np.inf
    return s
