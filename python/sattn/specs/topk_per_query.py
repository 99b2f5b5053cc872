"""topk_per_query: per query keep the ``topk_k`` keys with the highest group score
(:mod:`sattn.specs.gqa`) over the Skv keys, ties to the lower key. With ``causal = 1`` only
``j <= p(i)`` compete (``p(i) = Skv - Sq + i``), so row ``i`` keeps ``min(topk_k, p(i) + 1)`` keys. Unset ``topk_k`` means :data:`DEFAULT_TOPK`.
"""

from __future__ import annotations

import numpy as np

from sattn.ir.patterns import register
from sattn.ir.schema import AttentionParams, Shape
from sattn.specs import csr
from sattn.specs.gqa import candidate_scores, row_chunks
from sattn.specs.pattern import ForcingRule, PerGroupPattern
from sattn.specs.selection import GroupSelection

DEFAULT_TOPK = 64


def select(shape: Shape, params: AttentionParams, qsum: np.ndarray, k: np.ndarray) -> GroupSelection:
    """Selection of one KV head: Qsum [Sq, D], K [Skv, D] (fp32 scores: see sattn.specs.gqa)."""
    kk = DEFAULT_TOPK if params.topk_k is None else params.topk_k
    parts = []
    for r0, r1 in row_chunks(shape.seq_len, shape.kv_len):
        sc = candidate_scores(qsum, k, r0, r1, bool(params.causal), shape.offset)
        parts.append(csr.mask_to_csr(csr.topk_mask(sc, kk)))
    return csr.concat_rows(parts)


def topk(params: AttentionParams) -> int:
    """Keys kept per query: the attribute, else DEFAULT_TOPK."""
    return DEFAULT_TOPK if params.topk_k is None else params.topk_k


class TopkPerQuery(PerGroupPattern):
    """topk_per_query: the k best-scoring keys per query (data-dependent)."""

    score_dtype = np.float32  # fp32 group scores, as the RVV kernel ranks them

    name = "topk_per_query"
    rule = ForcingRule("topk", lambda p: p.topk_k is not None, lambda p: f"topk_k = {p.topk_k} set")
    disable_key = "TOPK"
    call_flag = "topk_enabled"
    rvv_kernel = "topk"

    def select_scored(self, shape, params, qsum, k):
        return select(shape, params, qsum, k)

    def pair_bound(self, params: AttentionParams, seq_len: int) -> int:
        return seq_len * min(seq_len, topk(params))

    def plan(self, params: AttentionParams) -> dict:
        s = params.shape().seq_len
        return {"kind": "topk", "k": min(topk(params), s), "data_dependent": 1, "score": "group_qk"}

    def rvv_header(self, params: AttentionParams, seq_len: int) -> dict[str, int]:
        return {"topk": min(topk(params), seq_len)}  # a row has at most S candidates

    def desc_fields(self, params: AttentionParams, seq_len: int) -> dict:
        return {"topk_k": topk(params)}


PATTERN = register(TopkPerQuery())
