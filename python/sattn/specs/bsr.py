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


#: float64 elements of the transposed scratch block_sums() sums from (256 KiB: stays in L2).
_SUM_CHUNK = 1 << 15


def block_sums(x: np.ndarray, block: int) -> np.ndarray:
    """float64 sum of each block of rows of ``x`` [S, D] (any real dtype; the last block sums
    the rows it has).

    Bit for bit ``np.add.reduceat(x.astype(float64), starts, axis=0)`` (which sums each
    column of a block pairwise, as ``sum`` does along a contiguous axis; only the sign of an
    exact zero may differ, and -0.0 == 0.0 in every ranking), 2-4x faster and
    without a float64 copy of ``x``: blocks of 9..129 rows replay that order vectorised
    (:func:`_pairwise_sums`); other sizes copy chunks of blocks transposed to a small float64
    scratch [blocks, D, block] and sum along its contiguous last axis."""
    s, d = x.shape
    full = s // block
    out = np.empty((-(-s // block), d), dtype=np.float64)
    if full and 9 <= block <= 129:
        out[:full] = _pairwise_sums(x[: full * block].reshape(full, block, d))
    elif full:
        xt = x[: full * block].reshape(full, block, d).transpose(0, 2, 1)
        step = max(1, _SUM_CHUNK // (block * d))
        buf = np.empty((min(step, full), d, block), dtype=np.float64)
        for c0 in range(0, full, step):
            c1 = min(full, c0 + step)
            np.copyto(buf[: c1 - c0], xt[c0:c1])
            np.sum(buf[: c1 - c0], axis=-1, out=out[c0:c1])
    if full * block < s:
        out[full] = np.ascontiguousarray(x[full * block :].T, dtype=np.float64).sum(axis=-1)
    return out


def _pairwise_sums(x3: np.ndarray) -> np.ndarray:
    """Sum over axis 1 of ``x3`` [nb, B, D], 9 <= B <= 129, in exactly the order NumPy sums a
    contiguous row of B elements: ``a[0] + pairwise(a[1:])``, where the pairwise sum of
    n <= 128 elements keeps 8 running sums ``r[j] += a[i + j]`` over the first ``n - n % 8``,
    combines them as ``((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))`` and adds the rest in order.
    Vectorised over the blocks and columns: no transposed copy (twice as fast)."""
    n = x3.shape[1] - 1
    m = n - n % 8
    r = x3[:, 1:9].astype(np.float64)
    for i in range(9, m + 1, 8):
        r += x3[:, i : i + 8]
    res = (r[:, 0] + r[:, 1] + (r[:, 2] + r[:, 3])) + (r[:, 4] + r[:, 5] + (r[:, 6] + r[:, 7]))
    for i in range(m + 1, n + 1):
        res += x3[:, i]
    return x3[:, 0] + res


def block_means(x: np.ndarray, block: int) -> np.ndarray:
    """Mean (float64) of each block of rows of ``x`` [S, D] (the last block averages the rows
    it has)."""
    s = x.shape[0]
    lens = np.minimum(block, s - np.arange(0, s, block)).astype(np.float64)
    return block_sums(x, block) / lens[:, None]


def block_scores(qsum: np.ndarray, k: np.ndarray, block: int) -> np.ndarray:
    """[nb, nb] block scores: mean-pooled Qsum block . mean-pooled K block (float64; the
    inputs may be float32 when their float64 values are exact, e.g. fp32 operands)."""
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
