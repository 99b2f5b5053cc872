"""bsr: block-sparse rows — per query block keep the best-scoring key blocks.

With ``B`` the block size (``block_size``, else 64, at most S) and ``nb = ceil(S / B)`` blocks
(the last one partial), the score of query block ``qb`` on key block ``kb`` is

    mean(Qsum[rows of qb]) . mean(K[rows of kb])

(means over the rows a block actually has; ``Qsum`` is the GQA group's summed queries as the
precision sees them, see :mod:`sattn.specs.gqa`). Each query block keeps
``n = ceil(keep_ratio * nb)`` key blocks (:func:`num_kept`; ``keep_ratio`` unset means
:data:`DEFAULT_KEEP_RATIO`): the diagonal block ``kb = qb`` always, then the highest scores,
ties to the lower block id. With ``causal = 1`` only blocks ``kb <= qb`` are candidates (so
``n`` is capped at ``qb + 1``) and the token rows keep ``j <= i``. Every query of a block
selects every key of its kept blocks, ascending.

With ``comp_block_size > 0`` the block scores come from NSA-style compression scoring instead
(:mod:`sattn.specs.compression`), and ``n`` is ``topk_k`` when that is set.
"""

from __future__ import annotations

import math

import numpy as np

from sattn.ir.schema import AttentionParams, Shape
from sattn.specs import csr
from sattn.specs.selection import GroupSelection

DEFAULT_KEEP_RATIO = 0.25


def keep_ratio(params: AttentionParams) -> float:
    """The keep ratio used (the attribute, else DEFAULT_KEEP_RATIO)."""
    return DEFAULT_KEEP_RATIO if params.keep_ratio is None else params.keep_ratio


def kept_blocks(ratio: float, num_blocks: int) -> int:
    """``ceil(ratio * num_blocks)``, at least 1; the 1e-9 slack makes 0.1 * 30 give 3, not 4."""
    return max(1, min(num_blocks, math.ceil(ratio * num_blocks - 1e-9)))


def num_kept(params: AttentionParams, num_blocks: int) -> int:
    """Key blocks kept per query block: topk_k (compression scoring only) or keep_ratio's share."""
    if params.comp_block_size > 0 and params.topk_k is not None:
        return max(1, min(num_blocks, params.topk_k))
    return kept_blocks(keep_ratio(params), num_blocks)


def block_means(x: np.ndarray, block: int) -> np.ndarray:
    """Mean of each block of rows of ``x`` [S, D] (the last block averages the rows it has)."""
    s = x.shape[0]
    starts = np.arange(0, s, block)
    lens = np.minimum(block, s - starts).astype(np.float64)
    return np.add.reduceat(x, starts, axis=0) / lens[:, None]


def block_scores(qsum: np.ndarray, k: np.ndarray, block: int) -> np.ndarray:
    """[nb, nb] block scores: mean-pooled Qsum block . mean-pooled K block (float64)."""
    return block_means(qsum, block) @ block_means(k, block).T


def rank_blocks(scores: np.ndarray, n: int, causal: bool) -> GroupSelection:
    """Block table keeping ``n`` blocks per query block: the diagonal, then the top scores
    (ties to the lower block), only ``kb <= qb`` when causal."""
    s = np.array(scores, dtype=np.float64, copy=True)
    nq, nk = s.shape
    qb = np.arange(nq)
    if causal:
        s[np.arange(nk)[None, :] > qb[:, None]] = -np.inf
    s[qb, np.minimum(qb, nk - 1)] = np.inf  # the diagonal is always kept
    return csr.mask_to_csr(csr.topk_mask(s, n))


def table_from_scores(shape: Shape, params: AttentionParams, scores: np.ndarray) -> GroupSelection:
    """Block table of one KV head from its [nb, nb] block scores."""
    nb = csr.num_blocks(shape.seq_len, params.effective_block_size(shape.seq_len))
    return rank_blocks(scores, num_kept(params, nb), bool(params.causal))


def expand(shape: Shape, params: AttentionParams, table: GroupSelection) -> GroupSelection:
    """Token rows of a block table: every key of the kept blocks (``j <= i`` when causal)."""
    s = shape.seq_len
    tokens = csr.expand_blocks(table, params.effective_block_size(s), s, s)
    return csr.causal(tokens) if params.causal else tokens


def table_nnz(shape: Shape, params: AttentionParams, table: GroupSelection) -> int:
    """Selected (query, key) pairs of a block table without expanding it."""
    s = shape.seq_len
    b = params.effective_block_size(s)
    lens = np.minimum(b, s - np.arange(csr.num_blocks(s, b)) * b)
    rows = np.repeat(np.arange(table.rows), table.counts())
    kb = table.indices.astype(np.int64)
    pairs = lens[rows] * lens[kb]
    if params.causal:  # the diagonal block keeps its lower triangle, nothing later is kept
        diag = kb == rows
        pairs = np.where(diag, lens[kb] * (lens[kb] + 1) // 2, pairs)
    return int(pairs.sum())


def select(
    shape: Shape, params: AttentionParams, qsum: np.ndarray, k: np.ndarray
) -> tuple[GroupSelection, GroupSelection]:
    """(token selection, block table) of one KV head: Qsum [S, D], K [S, D] float64."""
    b = params.effective_block_size(shape.seq_len)
    table = table_from_scores(shape, params, block_scores(qsum, k, b))
    return expand(shape, params, table), table
