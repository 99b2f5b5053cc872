"""NSA-style compression-block scoring (``comp_block_size = C > 0``), used by bsr.

1. K is mean-pooled into compression blocks of C tokens: ``Kc[c] = mean(K[c*C : (c+1)*C])``
   (the last one averages the tokens it has).
2. Every query head ``h`` of the group scores them as the precision sees the inputs
   (dequantised values), with the attention scale:
   ``p[h, i, c] = softmax_c(Q[h, i] . Kc[c] / sqrt(D))``; with ``causal = 1`` compression
   blocks starting after ``i`` (``c*C > i``) are left out of the softmax.
3. Compression block ``c`` belongs to selection block ``(c*C) // B`` (the block holding its
   first token). The importance of key block ``kb`` for query block ``qb`` is
   ``sum_{h in group} sum_{i in qb} sum_{c in kb} p[h, i, c]``.
4. :func:`sattn.specs.bsr.table_from_scores` keeps ``n`` blocks per query block: ``topk_k``
   blocks when set, else ``ceil(keep_ratio * nb)``; the diagonal always.

All in fp32, as the RVV kernel (``kernels/compblock.c``) computes it: ``Kc`` is the fp32 row
sum in row order divided by the row count, the scores are fp32 dots divided by
``fp32(sqrt(D))``, the softmax, its exp and its normaliser and the importance sums are fp32.
Another implementation's exp and summation orders (BLAS sgemm, pairwise sums, the kernel's
ordered ones) may differ by their fp32 rounding, so two key blocks whose importances agree
within it may be ranked either way (docs/precision.md).
"""

from __future__ import annotations

import math

import numpy as np

from sattn.specs import csr
from sattn.specs.blocks import row_order_sums_f32
from sattn.specs.gqa import row_chunks


def compression_keys(k: np.ndarray, comp_block: int) -> np.ndarray:
    """Mean-pooled keys [ceil(S/C), D] of one KV head (fp32: the row-order fp32 sums divided
    by the row counts)."""
    s = k.shape[0]
    lens = np.minimum(comp_block, s - np.arange(0, s, comp_block)).astype(np.float32)
    return row_order_sums_f32(k, comp_block) / lens[:, None]


def _softmax_sum(qh: np.ndarray, kc: np.ndarray, starts: np.ndarray, pos: np.ndarray,
                 causal: bool) -> np.ndarray:
    """[R, nc] fp32: the compressed-key softmax of every head of ``qh`` [group, R, D] (rows at
    positions ``pos``), summed over the heads."""
    sc = (qh @ kc.T) / np.float32(math.sqrt(kc.shape[1]))  # [group, R, nc]
    if causal:
        sc[:, starts[None, :] > pos[:, None]] = -np.inf
    sc -= sc.max(axis=2, keepdims=True)
    p = np.exp(sc)
    p /= p.sum(axis=2, keepdims=True)
    return p.sum(axis=0)


def importance(
    q_heads: np.ndarray, k: np.ndarray, block: int, comp_block: int, causal: bool,
    offset: int = 0,
) -> np.ndarray:
    """[nb, nb] block importance of one KV head (see the module doc).

    ``q_heads``: the group's queries [group, Sq, D]; ``k``: [Skv, D]; both the values as the
    precision sees them. Query row ``i`` sits at position ``offset + i`` (``offset = Skv -
    Sq``): it adds to the query block of its position, and causal compares ``c*C`` with it.
    """
    if offset:
        return _importance_at(q_heads, k, block, comp_block, causal, offset)
    s = q_heads.shape[1]
    kc = compression_keys(k, comp_block)
    nc = kc.shape[0]
    nb = csr.num_blocks(s, block)
    starts = np.arange(nc) * comp_block
    to_block = np.zeros((nc, nb), dtype=np.float32)
    to_block[np.arange(nc), starts // block] = 1.0
    imp = np.zeros((nb, nb), dtype=np.float32)
    qh = np.asarray(q_heads, dtype=np.float32)
    for r0, r1 in row_chunks(s, nc * len(qh), align=block):
        pooled = _softmax_sum(qh[:, r0:r1], kc, starts, np.arange(r0, r1), causal) @ to_block
        imp[r0 // block : csr.num_blocks(r1, block)] += np.add.reduceat(
            pooled, np.arange(0, r1 - r0, block), axis=0
        )
    return imp


def _importance_at(q_heads: np.ndarray, k: np.ndarray, block: int, comp_block: int,
                   causal: bool, offset: int) -> np.ndarray:
    """:func:`importance` for Sq < Skv (rows at positions ``offset + i``): [nb - qb0, nb],
    the query blocks from ``qb0 = offset // block`` on."""
    s = q_heads.shape[1]
    n = k.shape[0]
    kc = compression_keys(k, comp_block)
    nc = kc.shape[0]
    nb = csr.num_blocks(n, block)
    starts = np.arange(nc) * comp_block
    to_block = np.zeros((nc, nb), dtype=np.float32)
    to_block[np.arange(nc), starts // block] = 1.0
    qb0 = offset // block
    imp = np.zeros((nb - qb0, nb), dtype=np.float32)
    qh = np.asarray(q_heads, dtype=np.float32)
    for r0, r1 in row_chunks(s, nc * len(qh)):
        pos = np.arange(r0, r1) + offset
        np.add.at(imp, pos // block - qb0, _softmax_sum(qh[:, r0:r1], kc, starts, pos, causal) @ to_block)
    return imp
