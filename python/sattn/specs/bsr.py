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

fp32 block scores (:func:`block_scores`; the RVV kernel, ``kernels/bsr.c``, computes the same
operations): ``Qsum`` adds the group's heads in head order in fp32; the block sums of Qsum and
of K add a block's rows in row order in fp32 from +0.0
(:func:`sattn.specs.blocks.row_order_sums_f32`, the order a KV cache appends them in); the
Qsum block sum times ``fp32(1 / rows held)`` is the query block's mean, and

    score[qb, kb] = fp32(mean_q[qb] . ksum[kb]) * fp32(1 / rows of kb)

one multiply per block instead of a divide per element. Only the D-term dot product may be
summed in another order by another implementation (BLAS sgemm, the kernel's fused
multiply-adds in d order); blocks whose scores agree within its fp32 rounding may be ranked
either way (docs/precision.md, "Selections that depend on the last bit").

Sq < Skv (a KV cache): blocks are over the Skv positions (``S = Skv`` above); query row ``i``
sits at position ``p(i) = Skv - Sq + i`` and belongs to query block ``p(i) // B``, whose
``Qsum`` mean is over the query rows it holds; only the query blocks holding rows are ranked,
and causal keeps ``j <= p(i)``.

With ``comp_block_size > 0`` the block scores come from NSA-style compression scoring instead
(:mod:`sattn.specs.compression`), and ``n`` is ``topk_k`` when that is set.
"""

from __future__ import annotations

import math

import numpy as np

from sattn.ir.patterns import register
from sattn.ir.schema import AttentionParams, Shape
from sattn.precision import resolved_scales, view
from sattn.specs import compression, csr
from sattn.specs.blocks import row_order_sums_f32
from sattn.specs.gqa import CHUNK_ELEMENTS, group_operands
from sattn.specs.pattern import Pattern, block_csr_table, check_data, num_blocks
from sattn.specs.selection import GroupSelection, Selection

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


def block_scores(qsum: np.ndarray, k: np.ndarray, block: int, offset: int = 0) -> np.ndarray:
    """fp32 block scores (module doc) of one KV head: Qsum [Sq, D] (fp32 group sums), K
    [Skv, D], values exact in fp32. Query row ``i`` sits at position ``offset + i``: the result
    is [nb - qb0, nb], the query blocks from ``qb0 = offset // block`` (those holding query
    rows), each the mean of the rows it holds (``offset = 0``: [nb, nb])."""
    n, d = k.shape
    nb = -(-n // block)
    first = offset // block * block
    placed = np.zeros((n - first, d), dtype=np.float32)  # the rows from block qb0's start
    placed[offset - first:] = qsum  # zero rows first: +0.0 + 0.0 adds nothing
    held = np.bincount((np.arange(offset, n) - first) // block, minlength=-(-(n - first) // block))
    qmean = row_order_sums_f32(placed, block) * (np.float32(1) / held.astype(np.float32))[:, None]
    inv_rows = np.float32(1) / np.minimum(block, n - np.arange(nb) * block).astype(np.float32)
    return (qmean @ row_order_sums_f32(k, block).T) * inv_rows[None, :]


def rank_blocks(scores: np.ndarray, n: int, causal: bool, first: int = 0) -> GroupSelection:
    """Block table keeping ``n`` blocks per query block: the diagonal, then the top scores
    (ties to the lower block), only ``kb <= qb`` when causal. Row ``r`` of ``scores`` is query
    block ``first + r`` (Sq < Skv: the blocks before the first query row are not ranked)."""
    s = np.array(scores, dtype=np.float64, copy=True)
    nq, nk = s.shape
    qb = np.arange(nq) + first
    if causal:
        s[np.arange(nk)[None, :] > qb[:, None]] = -np.inf
    s[np.arange(nq), np.minimum(qb, nk - 1)] = np.inf  # the diagonal is always kept
    return csr.mask_to_csr(csr.topk_mask(s, n))


def table_from_scores(shape: Shape, params: AttentionParams, scores: np.ndarray) -> GroupSelection:
    """Block table of one KV head from its [nb, nb] block scores (Sq < Skv: [nb - qb0, nb],
    the query blocks holding query rows, from ``qb0``, the block of position ``Skv - Sq``)."""
    b = params.effective_block_size(shape.kv_len)
    nb = csr.num_blocks(shape.kv_len, b)
    return rank_blocks(scores, num_kept(params, nb), bool(params.causal), shape.offset // b)


def expand(shape: Shape, params: AttentionParams, table: GroupSelection) -> GroupSelection:
    """Token rows of a block table: every key of the kept blocks (``j <= p(i)`` when causal)."""
    s, n = shape.seq_len, shape.kv_len
    tokens = csr.expand_blocks(table, params.effective_block_size(n), s, n, shape.offset)
    return csr.causal(tokens, shape.offset) if params.causal else tokens


def table_nnz(shape: Shape, params: AttentionParams, table: GroupSelection) -> int:
    """Selected (query, key) pairs of a block table without expanding it (Sq = Skv)."""
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
    """(token selection, block table) of one KV head: Qsum [Sq, D] (fp32 group sums), K [Skv, D]."""
    b = params.effective_block_size(shape.kv_len)
    table = table_from_scores(shape, params, block_scores(qsum, k, b, shape.offset))
    return expand(shape, params, table), table


def tables(params: AttentionParams, shape: Shape, q: np.ndarray, k: np.ndarray
           ) -> tuple[GroupSelection, ...]:
    """The bsr block tables (query block -> kept key blocks), one per KV head, without the
    token rows: :func:`expand` turns one into its token selection."""
    check_data("bsr", shape, q, k)
    s, g = shape.seq_len, shape.kv_heads
    b = params.effective_block_size(shape.kv_len)
    if params.comp_block_size > 0:
        sq, sk, _ = resolved_scales(params)
        qv = view(q, params.precision, sq).astype(np.float32)  # fp32 values: exact
        kv = view(k, params.precision, sk).astype(np.float32)
        grp = shape.group
        scores = [compression.importance(qv[i * grp:(i + 1) * grp], kv[i], b,
                                         params.comp_block_size, bool(params.causal),
                                         shape.offset)
                  for i in range(g)]
    else:
        # one KV head at a time: fp32 operands of 1/g of the data (fp32 without GQA sums:
        # the inputs themselves, no copies at all)
        one = Shape(shape.group, s, shape.head_dim, shape.group, shape.kv_len)
        as_is = (shape.group == 1 and params.precision == "fp32"
                 and q.dtype == np.float32 and k.dtype == np.float32)
        scores = []
        for i in range(g):
            if as_is:
                qsum, ks = q[i:i + 1], k[i:i + 1]
            else:
                qsum, ks = group_operands(params, one, q[i * shape.group:(i + 1) * shape.group],
                                          k[i:i + 1], np.float32)
            scores.append(block_scores(qsum[0], ks[0], b, shape.offset))
    return tuple(table_from_scores(shape, params, sc) for sc in scores)


class Bsr(Pattern):
    """bsr: block-sparse rows kept by block scores (data-dependent; the selector's default)."""

    name = "bsr"
    data_dependent = True
    disable_key = "BSR"
    block_tunable = True
    #: materialize-indices records the table its plan yields on the synthetic data
    synthetic_table = True

    def select(self, params: AttentionParams, shape: Shape, q=None, k=None) -> Selection:
        check_data(self.name, shape, q, k)
        tabs = tables(params, shape, q, k)
        groups = tuple(expand(shape, params, t) for t in tabs)
        if shape.offset:  # Sq < Skv: rows are not block-aligned, the token rows are the selection
            return Selection(spec=self.name, seq_len=shape.seq_len, num_keys=shape.kv_len,
                             group_size=shape.group, groups=groups)
        return Selection(spec=self.name, seq_len=shape.seq_len, num_keys=shape.seq_len,
                         group_size=shape.group, groups=groups,
                         block_size=params.effective_block_size(shape.seq_len), block_table=tabs)

    def block_tables(self, params: AttentionParams, shape: Shape, q, k):
        """The block tables alone (the reference attends from them, no token rows)."""
        return tables(params, shape, q, k)

    def table_nnz(self, params: AttentionParams, shape: Shape, table: GroupSelection) -> int:
        return table_nnz(shape, params, table)

    def pair_bound(self, params: AttentionParams, seq_len: int) -> int:
        s, b = seq_len, params.effective_block_size(seq_len)
        return min(s * s, s * num_kept(params, num_blocks(s, b)) * b)

    def plan(self, params: AttentionParams) -> dict:
        s = params.shape().seq_len
        b = params.effective_block_size(s)
        nb = num_blocks(s, b)
        plan = {"kind": "block_topk", "block_size": b, "keep_blocks": num_kept(params, nb),
                "keep_ratio": keep_ratio(params), "always": "diagonal"}
        score = "mean_pool_blocks"
        if params.comp_block_size > 0:
            score = "compression_blocks"
            plan["comp_block_size"] = params.comp_block_size
        return {**plan, "data_dependent": 1, "score": score}

    def table_of(self, params: AttentionParams, sel: Selection, source: str) -> dict:
        """The index table of a selection this pattern made (``source``: what it ran on)."""
        return block_csr_table(params, sel, source)

    def rvv_mode(self, params: AttentionParams) -> str:
        return "compblock" if params.comp_block_size > 0 else "bsr"

    def rvv_header(self, params: AttentionParams, seq_len: int) -> dict[str, int]:
        b = params.effective_block_size(seq_len)
        return {"block_size": b, "keep_blocks": num_kept(params, num_blocks(seq_len, b)),
                "comp_block": min(params.comp_block_size, seq_len)}  # one block covers [0, S)

    def desc_fields(self, params: AttentionParams, seq_len: int) -> dict:
        return {"keep_ratio": keep_ratio(params)}

    def host_scoring(self, params: AttentionParams, shape: Shape) -> list[tuple[str, float, float]]:
        s, d, g, h = shape.seq_len, shape.head_dim, shape.kv_heads, shape.heads
        operands = 8.0 * (h + g) * s * d
        b = params.effective_block_size(s)
        nb = -(-s // b)
        if params.comp_block_size > 0:
            nc = -(-s // min(params.comp_block_size, s))
            return [(f"comp_block_size={params.comp_block_size} compression scoring",
                     operands + 8.0 * (nb * nb + nc * nb) + 6 * 8.0 * CHUNK_ELEMENTS,
                     float(h) * s * nc * (d + 8))]
        return [("block scoring", operands + 24.0 * nb * nb, float(g) * (s * d + nb * nb * (d + 8)))]

    def kernel_scoring(self, params: AttentionParams, shape: Shape, lanes: int) -> list[tuple[str, float]]:
        if params.comp_block_size <= 0:
            return []
        s, d, h = shape.seq_len, shape.head_dim, shape.heads
        nc = -(-s // min(params.comp_block_size, s))
        return [(f"comp_block_size={params.comp_block_size} in-kernel compression scoring",
                 float(h) * s * nc * (d / 2 + 10))]


PATTERN = register(Bsr())
