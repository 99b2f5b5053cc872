"""dense: every query attends every key (``causal = 1``: keys ``j <= p(i)``, the row's
position ``Skv - Sq + i``)."""

from __future__ import annotations

import numpy as np

from sattn.ir.patterns import register
from sattn.ir.schema import AttentionParams, Shape
from sattn.specs.pattern import Pattern
from sattn.specs.selection import GroupSelection


def select(shape: Shape, params: AttentionParams) -> GroupSelection:
    """All Skv keys for every query (shared by all KV heads)."""
    s, n = shape.seq_len, shape.kv_len
    counts = (np.arange(n - s + 1, n + 1, dtype=np.int64) if params.causal
              else np.full(s, n, np.int64))
    indptr = np.zeros(s + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.arange(int(indptr[-1]), dtype=np.int64) - np.repeat(indptr[:-1], counts)
    return GroupSelection(indptr, indices.astype(np.int32))


def pair_count(params: AttentionParams, seq_len: int, kv_len: int | None = None) -> int:
    """Selected (query, key) pairs of one KV head: Sq * Skv, or when causal (row i sees the
    p(i) + 1 = Skv - Sq + i + 1 keys up to its position) Sq (2 Skv - Sq + 1) / 2; ``kv_len``
    defaults to ``seq_len`` (S^2 and S(S+1)/2)."""
    n = seq_len if kv_len is None else kv_len
    return seq_len * (2 * n - seq_len + 1) // 2 if params.causal else seq_len * n


class Dense(Pattern):
    """dense: every key (the selector's fallback when bsr is disabled)."""

    name = "dense"
    rvv_kernel = "dense"
    positions = True

    def select_group(self, shape: Shape, params: AttentionParams) -> GroupSelection:
        return select(shape, params)

    def pair_count(self, params: AttentionParams, seq_len: int) -> int:
        return pair_count(params, seq_len)

    def band(self, params: AttentionParams, seq_len: int) -> tuple[int, int]:
        """(half-width, dilation) of the band the reference attends slab by slab."""
        return seq_len - 1, 1

    def index_table(self, params: AttentionParams) -> dict:
        shape = params.shape()
        table = {"kind": "dense", "rows": shape.seq_len, "heads": shape.kv_heads,
                 "causal": params.causal, "nnz": pair_count(params, shape.seq_len)}
        if shape.offset:  # Sq rows at positions Skv - Sq .. Skv - 1
            table.update(keys=shape.kv_len, nnz=pair_count(params, shape.seq_len, shape.kv_len))
        return table

    def mask_mod(self, params: AttentionParams, seq_len: int):
        def everything(b, h, q_idx, kv_idx):
            return q_idx >= 0
        return everything


PATTERN = register(Dense())
