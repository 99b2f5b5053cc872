"""Vectorised operations on the CSR rows of :class:`GroupSelection`, the way patterns compose.

FlexAttention composes ``mask_mod`` functions with ``and_masks``/``or_masks``; here the same
composition works on index sets: :func:`causal` is the ``and`` with ``j <= i``, :func:`union`
the ``or`` of two selections. Everything is vectorised over rows (no Python loop per query).
"""

from __future__ import annotations

import numpy as np

from sattn.specs.selection import GroupSelection


def _indptr(counts: np.ndarray) -> np.ndarray:
    indptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr


def row_ids(sel: GroupSelection) -> np.ndarray:
    """Row number of every stored entry (int64 [nnz])."""
    return np.repeat(np.arange(sel.rows, dtype=np.int64), sel.counts())


def filter_entries(sel: GroupSelection, keep: np.ndarray) -> GroupSelection:
    """Keep the entries where ``keep`` (bool [nnz]) is True."""
    c = np.zeros(sel.nnz + 1, dtype=np.int64)
    np.cumsum(keep, out=c[1:])
    return GroupSelection(c[sel.indptr], sel.indices[keep])


def causal(sel: GroupSelection, offset: int = 0) -> GroupSelection:
    """And-compose with the causal mask: keep entries with key index j <= the position
    ``offset + i`` of query row i (``offset = Skv - Sq``)."""
    if sel.nnz == 0:
        return sel
    return filter_entries(sel, sel.indices <= row_ids(sel) + offset)


def from_pairs(rows: np.ndarray, cols: np.ndarray, num_rows: int, num_cols: int) -> GroupSelection:
    """CSR from (row, col) pairs in any order, duplicates removed."""
    key = np.unique(rows.astype(np.int64) * num_cols + cols.astype(np.int64))
    r = key // num_cols
    return GroupSelection(
        _indptr(np.bincount(r, minlength=num_rows)), (key % num_cols).astype(np.int32)
    )


def union(*sels: GroupSelection, num_cols: int) -> GroupSelection:
    """Or-compose selections with the same rows: per row, the sorted union of their columns."""
    rows = np.concatenate([row_ids(s) for s in sels])
    cols = np.concatenate([s.indices for s in sels])
    return from_pairs(rows, cols, sels[0].rows, num_cols)


def gather_rows(
    row_group: np.ndarray, group_ptr: np.ndarray, flat: np.ndarray
) -> GroupSelection:
    """Rows that copy a shared list: row ``r`` gets ``flat[group_ptr[g]:group_ptr[g+1]]``,
    ``g = row_group[r]`` (e.g. every query of a block gets the block's keys)."""
    lens = group_ptr[1:] - group_ptr[:-1]
    if len(lens) and (lens == lens[0]).all() and group_ptr[0] == 0:
        # equal lengths (e.g. every query block keeps n full blocks): one 2-D row gather
        width = int(lens[0])
        flat2d = flat[: len(lens) * width].reshape(len(lens), width).astype(np.int32, copy=False)
        indptr = np.arange(len(row_group) + 1, dtype=np.int64) * width
        if len(row_group) and (np.diff(row_group) >= 0).all():  # rows grouped in order: repeat
            reps = np.bincount(row_group, minlength=len(lens))
            return GroupSelection(indptr, np.repeat(flat2d, reps, axis=0).ravel())
        return GroupSelection(indptr, np.take(flat2d, row_group, axis=0).ravel())
    counts = lens[row_group]
    indptr = _indptr(counts)
    nnz = int(indptr[-1])
    pos = np.repeat(group_ptr[:-1][row_group] - indptr[:-1], counts) + np.arange(nnz)
    return GroupSelection(indptr, flat[pos].astype(np.int32))


def num_blocks(n: int, block: int) -> int:
    """Blocks of ``block`` tokens covering ``n`` tokens (the last one may be partial)."""
    return -(-n // block)


def expand_blocks(table: GroupSelection, block: int, seq_len: int, num_keys: int,
                  offset: int = 0) -> GroupSelection:
    """Token CSR of a block table: every query of query block ``qb`` selects every key of each
    key block of row ``qb`` (ascending block ids give ascending keys; last block partial).
    With ``offset = Skv - Sq`` query row i sits at position ``offset + i`` and the table's
    row 0 is the block holding position ``offset``."""
    kb = table.indices.astype(np.int64)
    lens = np.minimum(block, num_keys - kb * block)
    ptr = _indptr(lens)
    starts = np.repeat(kb * block - ptr[:-1], lens)
    tokens = starts + np.arange(int(ptr[-1]))
    # per query block, the offsets of its tokens in ``tokens``
    qb_ptr = ptr[table.indptr]
    row_group = (np.arange(seq_len) + offset) // block - offset // block
    return gather_rows(row_group, qb_ptr, tokens)


def block_table_from_tokens(sel: GroupSelection, block: int, num_keys: int) -> GroupSelection:
    """Block table (query block -> key blocks holding at least one selected pair)."""
    nqb = num_blocks(sel.rows, block)
    nkb = num_blocks(num_keys, block)
    if nqb * nkb > 1 << 24:  # too many blocks for a dense bitmap: sort the pairs
        return from_pairs(row_ids(sel) // block, sel.indices.astype(np.int64) // block, nqb, nkb)
    mark = np.zeros((nqb, nkb), dtype=bool)
    mark[row_ids(sel) // block, sel.indices // block] = True
    return mask_to_csr(mark)


def topk_mask(scores: np.ndarray, k: int) -> np.ndarray:
    """Bool mask of the ``k`` highest scores per row; ties go to the lower column.

    ``-inf`` marks a non-candidate (never kept; rows with fewer than ``k`` candidates keep them
    all); ``+inf`` forces a column in. Linear time per row (a partition, not a sort).
    """
    cols = scores.shape[1]
    cand = ~np.isneginf(scores)
    if k >= cols:
        return cand
    # k-th largest value per row (the threshold)
    thr = -np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]
    greater = scores > thr
    need = k - greater.sum(axis=1, keepdims=True)
    equal = (scores == thr) & cand
    return greater | (equal & (np.cumsum(equal, axis=1) <= need))


def from_ranges(starts: np.ndarray, stops: np.ndarray) -> GroupSelection:
    """Rows made of ascending, disjoint column ranges: row ``r`` is the concatenation of
    ``range(starts[r, t], stops[r, t])`` over ``t`` ([rows, T] arrays; empty ranges allowed)."""
    lens = np.maximum(stops - starts, 0).astype(np.int64)
    counts = lens.sum(axis=1)
    indptr = _indptr(counts)
    flat_lens = lens.ravel()
    ptr = _indptr(flat_lens)
    offs = np.repeat(starts.ravel().astype(np.int64) - ptr[:-1], flat_lens)
    return GroupSelection(indptr, (offs + np.arange(int(ptr[-1]))).astype(np.int32))


def mask_to_csr(mask: np.ndarray) -> GroupSelection:
    """CSR of a bool [rows, cols] mask (columns come out ascending)."""
    return GroupSelection.from_dense(mask)


def concat_rows(parts: list[GroupSelection]) -> GroupSelection:
    """Stack row chunks (in order) into one selection."""
    counts = np.concatenate([p.counts() for p in parts]) if parts else np.zeros(0, np.int64)
    idx = np.concatenate([p.indices for p in parts]) if parts else np.zeros(0, np.int32)
    return GroupSelection(_indptr(counts), idx.astype(np.int32))
