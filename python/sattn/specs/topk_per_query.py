"""topk_per_query: per query keep the ``topk_k`` keys with the highest group score
(:mod:`sattn.specs.gqa`), ties to the lower key. With ``causal = 1`` only ``j <= i`` compete,
so row ``i`` keeps ``min(topk_k, i + 1)`` keys. Unset ``topk_k`` means :data:`DEFAULT_TOPK`.
"""

from __future__ import annotations

import numpy as np

from sattn.ir.schema import AttentionParams, Shape
from sattn.specs import csr
from sattn.specs.gqa import candidate_scores, row_chunks
from sattn.specs.selection import GroupSelection

DEFAULT_TOPK = 64


def select(shape: Shape, params: AttentionParams, qsum: np.ndarray, k: np.ndarray) -> GroupSelection:
    """Selection of one KV head: Qsum [S, D], K [S, D] float64."""
    kk = DEFAULT_TOPK if params.topk_k is None else params.topk_k
    parts = []
    for r0, r1 in row_chunks(shape.seq_len, shape.seq_len):
        sc = candidate_scores(qsum, k, r0, r1, bool(params.causal))
        parts.append(csr.mask_to_csr(csr.topk_mask(sc, kk)))
    return csr.concat_rows(parts)
