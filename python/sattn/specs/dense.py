"""dense: every query attends every key (``causal = 1``: keys ``j <= i``)."""

from __future__ import annotations

import numpy as np

from sattn.ir.schema import AttentionParams, Shape
from sattn.specs.selection import GroupSelection


def select(shape: Shape, params: AttentionParams) -> GroupSelection:
    """All keys for every query (shared by all KV heads)."""
    s = shape.seq_len
    counts = np.arange(1, s + 1, dtype=np.int64) if params.causal else np.full(s, s, np.int64)
    indptr = np.zeros(s + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.arange(int(indptr[-1]), dtype=np.int64) - np.repeat(indptr[:-1], counts)
    return GroupSelection(indptr, indices.astype(np.int32))


def pair_count(params: AttentionParams, seq_len: int) -> int:
    """Selected (query, key) pairs of one KV head: S^2, or S(S+1)/2 when causal."""
    return seq_len * (seq_len + 1) // 2 if params.causal else seq_len * seq_len
