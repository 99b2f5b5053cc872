"""The one index representation every consumer shares.

A spec function turns (params, shape, and for data-dependent patterns Q/K) into a
:class:`Selection`. The reference executor, the artifact emitter, the RVV runner and the
RoCC testbench all consume this object; none of them re-derives indices on its own.

Layout: one :class:`GroupSelection` per KV head (a GQA group of ``group_size`` query heads
shares it). Each is CSR over query rows: the keys of query ``i`` are
``indices[indptr[i]:indptr[i+1]]``, ascending and unique. Rows may be empty (the output row
is then zero). For ``key_space == "landmarks"`` the indices name landmarks, and
``landmark_assign[g, j]`` says which landmark key token ``j`` belongs to; the compressed
key/value of a landmark is the mean of its member tokens (see :func:`compress_kv`).

Block patterns additionally carry ``block_table``: CSR over *query blocks* listing the
selected *key blocks*. It describes the same selection at block granularity (the token
CSR stays authoritative: e.g. global tokens or causal masking refine it inside blocks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GroupSelection:
    """CSR rows: ``indices[indptr[r]:indptr[r+1]]`` are the selected columns of row ``r``."""

    indptr: np.ndarray  # int64 [rows + 1]
    indices: np.ndarray  # int32 [nnz], ascending and unique within each row

    @property
    def rows(self) -> int:
        return len(self.indptr) - 1

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def row(self, r: int) -> np.ndarray:
        return self.indices[self.indptr[r] : self.indptr[r + 1]]

    def counts(self) -> np.ndarray:
        return np.diff(self.indptr)

    def tail(self, n: int) -> GroupSelection:
        """The last ``n`` rows (a square selection over Skv positions cut to the Sq query rows
        at positions ``Skv - Sq ..``)."""
        a = self.rows - n
        if a == 0:
            return self
        base = self.indptr[a]
        return GroupSelection(self.indptr[a:] - base, self.indices[int(base):])

    def to_dense(self, cols: int) -> np.ndarray:
        """Boolean [rows, cols] mask (for small shapes: tests, pictures)."""
        m = np.zeros((self.rows, cols), dtype=bool)
        r = np.repeat(np.arange(self.rows), self.counts())
        m[r, self.indices] = True
        return m

    @staticmethod
    def from_dense(mask: np.ndarray) -> GroupSelection:
        r, c = np.nonzero(mask)
        indptr = np.zeros(mask.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(r, minlength=mask.shape[0]), out=indptr[1:])
        return GroupSelection(indptr, c.astype(np.int32))

    @staticmethod
    def from_padded(idx: np.ndarray) -> GroupSelection:
        """From an int [rows, W] array padded with -1 (entries per row must be ascending)."""
        valid = idx >= 0
        indptr = np.zeros(idx.shape[0] + 1, dtype=np.int64)
        np.cumsum(valid.sum(axis=1), out=indptr[1:])
        return GroupSelection(indptr, idx[valid].astype(np.int32))


@dataclass(frozen=True)
class Selection:
    """Selected keys for every query of every KV head (see the module docstring)."""

    spec: str
    seq_len: int  # number of query rows Sq (row i sits at position num_keys - Sq + i for tokens)
    num_keys: int  # size of the key space: Skv tokens, or L landmarks
    group_size: int  # query heads per selection group (gqa_group_size)
    groups: tuple[GroupSelection, ...]  # one per KV head
    key_space: str = "tokens"  # "tokens" | "landmarks"
    landmark_assign: np.ndarray | None = None  # int32 [H_kv, Skv] (key_space == "landmarks")
    block_size: int | None = None
    block_table: tuple[GroupSelection, ...] | None = None  # per KV head, query block -> key blocks

    @property
    def nnz(self) -> int:
        """Selected (query, key) pairs summed over KV heads."""
        return sum(g.nnz for g in self.groups)

    @property
    def density(self) -> float:
        """Selected pairs / dense pairs (Sq x Skv per KV head; landmarks count as token pairs)."""
        keys = (self.num_keys if self.landmark_assign is None
                else self.landmark_assign.shape[1])
        return self.nnz / float(len(self.groups) * self.seq_len * keys)


def compress_kv(
    k: np.ndarray, v: np.ndarray, assign: np.ndarray, num_landmarks: int
) -> tuple[np.ndarray, np.ndarray]:
    """Segment-mean K and V of one KV head into ``num_landmarks`` compressed rows.

    ``k``: [S, D], ``v``: [S, Dv]; ``assign``: [S] landmark id per token. An empty landmark
    gets zeros.
    """
    counts = np.bincount(assign, minlength=num_landmarks).astype(np.float32)
    kc = np.zeros((num_landmarks, k.shape[1]), dtype=np.float32)
    vc = np.zeros((num_landmarks, v.shape[1]), dtype=np.float32)
    np.add.at(kc, assign, k.astype(np.float32))
    np.add.at(vc, assign, v.astype(np.float32))
    nz = counts > 0
    kc[nz] /= counts[nz, None]
    vc[nz] /= counts[nz, None]
    return kc, vc
