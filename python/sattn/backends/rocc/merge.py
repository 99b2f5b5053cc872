"""The host's half of key tiles: merge the partial records the accelerator wrote.

A query row whose selected keys span several key tiles (:mod:`sattn.hw.program`) comes back as
one record ``[o_t (D fp32), m_t, l_t]`` per tile: ``o_t`` the tile's normalised output
(``acc_t * out_scale / l_t``), ``m_t`` the running max of the row's scaled scores in the tile
and ``l_t`` its softmax denominator relative to ``m_t``. The online softmax over all the
row's keys is recovered exactly as split-KV attention ("Flash-Decoding", Dao, Haziza, Massa,
Sizov 2023) combines its splits::

    M = max_t m_t;  w_t = l_t * exp(m_t - M);  out = sum_t w_t o_t / sum_t w_t

in float64, rounded once to fp32. A row with one record is copied unchanged (bit-identical to
a plain row). This runs on the host (the CPU of a RoCC system), outside the accelerator's
cycles; its work is reported as the model count :func:`merge_flops_model`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MergeStats:
    """What the host merge did: records read, rows merged (>= 2 records), the most records
    of a row, and the modelled floating-point operations."""

    records: int
    merged_rows: int
    max_partials: int
    flops_model: int


def merge_flops_model(partials: np.ndarray, head_dim: int) -> int:
    """Floating-point operations of merging rows of ``partials`` records each (rows with one
    record are copies): per row of T >= 2 records, T - 1 compares (M), T subtractions, T exps
    (one operation each), T multiplications (w_t), T - 1 additions (sum w), T D
    multiplications and (T - 1) D additions (sum w o) and D divisions: 2 T D + 4 T - 2."""
    t = np.asarray(partials, dtype=np.int64)
    t = t[t >= 2]
    return int((2 * t * head_dim + 4 * t - 2).sum())


def merge(out: np.ndarray, region: np.ndarray, heads: np.ndarray, rows: np.ndarray,
          words: np.ndarray) -> MergeStats:
    """Write into ``out`` ``[H, S, D]`` the merge of the records at ``words`` (first fp32
    word of each record in ``region``, the accelerator's output region) of query head
    ``heads`` and row ``rows``."""
    n_heads, s, d = out.shape
    if not len(words):
        return MergeStats(0, 0, 0, 0)
    key = np.asarray(heads, np.int64) * s + np.asarray(rows, np.int64)
    order = np.argsort(key, kind="stable")
    key, w = key[order], np.asarray(words, np.int64)[order]
    recs = region[w[:, None] + np.arange(d + 2)]  # [n, D + 2] fp32
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    count = np.diff(np.r_[starts, len(key)])
    flat = out.reshape(n_heads * s, d)
    one = count == 1
    flat[key[starts[one]]] = recs[starts[one], :d]  # one record: the row as the hardware wrote it
    if (~one).any():
        m = recs[:, d].astype(np.float64)
        lsum = recs[:, d + 1].astype(np.float64)
        big = np.maximum.reduceat(m, starts)
        wt = lsum * np.exp(m - np.repeat(big, count))
        num = np.add.reduceat(wt[:, None] * recs[:, :d].astype(np.float64), starts)
        den = np.add.reduceat(wt, starts)
        many = ~one
        flat[key[starts[many]]] = (num[many] / den[many][:, None]).astype(np.float32)
    return MergeStats(len(key), int((~one).sum()), int(count.max()), merge_flops_model(count, d))


__all__ = ["MergeStats", "merge", "merge_flops_model"]
