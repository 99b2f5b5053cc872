"""nm_structured: per query, in every group of ``nm_m`` consecutive keys keep the ``nm_n``
highest group scores (:mod:`sattn.specs.gqa`), ties to the lower key.

Key groups are ``[g*nm_m, (g+1)*nm_m)``; the last one may be shorter and keeps
``min(nm_n, its length)`` (groups over the Skv keys). With ``causal = 1`` only keys
``j <= p(i) = Skv - Sq + i`` are candidates, so a group
keeps ``min(nm_n, candidates in it)``.
"""

from __future__ import annotations

import numpy as np

from sattn.ir.patterns import register
from sattn.ir.schema import AttentionParams, Shape
from sattn.specs import csr
from sattn.specs.gqa import candidate_scores, row_chunks
from sattn.specs.pattern import ForcingRule, PerGroupPattern
from sattn.specs.selection import GroupSelection


def nm_mask(scores: np.ndarray, n: int, m: int) -> np.ndarray:
    """Bool mask keeping the ``n`` best of each ``m`` consecutive columns (-inf never kept)."""
    rows, cols = scores.shape
    ng = csr.num_blocks(cols, m)
    padded = np.full((rows, ng * m), -np.inf)
    padded[:, :cols] = scores
    grouped = padded.reshape(rows, ng, m)
    if n == 1:  # argmax returns the first maximum: the lower key on ties
        order = np.argmax(grouped, axis=2)[:, :, None]
    else:
        order = np.argsort(-grouped, axis=2, kind="stable")[:, :, :n]  # best first, lower j on ties
    keep = np.zeros_like(grouped, dtype=bool)
    np.put_along_axis(keep, order, True, axis=2)
    keep &= ~np.isneginf(grouped)
    return keep.reshape(rows, ng * m)[:, :cols]


def clamped(params: AttentionParams, seq_len: int) -> tuple[int, int]:
    """(nm_n, nm_m) reduced to what they can mean at ``seq_len`` (the same selection): a group
    of ``nm_m >= S`` keys is the one group ``[0, S)``, and a group keeps at most its length.
    Unset values are 1 (the reference's defaults when the spec is forced without them)."""
    m = min(params.nm_m or 1, seq_len)
    return min(params.nm_n or 1, m), m


def select(shape: Shape, params: AttentionParams, qsum: np.ndarray, k: np.ndarray) -> GroupSelection:
    """Selection of one KV head: Qsum [Sq, D], K [Skv, D] (fp32 scores: see sattn.specs.gqa)."""
    n, m = clamped(params, shape.kv_len)
    parts = []
    for r0, r1 in row_chunks(shape.seq_len, shape.kv_len):
        sc = candidate_scores(qsum, k, r0, r1, bool(params.causal), shape.offset)
        parts.append(csr.mask_to_csr(nm_mask(sc, n, m)))
    return csr.concat_rows(parts)


class NmStructured(PerGroupPattern):
    """nm_structured: N of every M consecutive keys per query (data-dependent)."""

    score_dtype = np.float32  # fp32 group scores, as the RVV kernel ranks them

    name = "nm_structured"
    rule = ForcingRule("nm", lambda p: p.nm_n is not None and p.nm_m is not None,
                       lambda p: f"nm_n = {p.nm_n}, nm_m = {p.nm_m} set")
    disable_key = "NM"
    call_flag = "nm_enabled"
    rvv_kernel = "nm"

    def select_scored(self, shape, params, qsum, k):
        return select(shape, params, qsum, k)

    def pair_bound(self, params: AttentionParams, seq_len: int) -> int:
        n, m = clamped(params, seq_len)
        return seq_len * min(seq_len, n * -(-seq_len // m))

    def plan(self, params: AttentionParams) -> dict:
        s = params.shape().seq_len
        n, m = params.nm_n or 1, params.nm_m or 1  # the reference's defaults when forced without them
        return {"kind": "nm", "n": n, "m": m, "groups_per_row": -(-s // m),
                "data_dependent": 1, "score": "group_qk"}

    def rvv_header(self, params: AttentionParams, seq_len: int) -> dict[str, int]:
        n, m = clamped(params, seq_len)
        return {"nm_n": n, "nm_m": m}


PATTERN = register(NmStructured())
