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
