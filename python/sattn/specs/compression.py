"""NSA-style compression-block scoring (``comp_block_size = C > 0``), used by bsr.

1. K is mean-pooled into compression blocks of C tokens: ``Kc[c] = mean(K[c*C : (c+1)*C])``
   (the last one averages the tokens it has).
2. Every query head ``h`` of the group scores them as the precision sees the inputs
   (dequantised values), with the attention scale:
   ``p[h, i, c] = softmax_c(Q[h, i] . Kc[c] / sqrt(D))``; with ``causal = 1`` compression
   blocks starting after ``i`` (``c*C > i``) are left out of the softmax.
3. Compression block ``c`` belongs to selection block ``(c*C) // B`` (the block holding its
   first token). The importance of key block ``kb`` for query block ``qb`` is
   ``sum_{h in group} sum_{i in qb} sum_{c in kb} p[h, i, c]`` (float64).
4. :func:`sattn.specs.bsr.table_from_scores` keeps ``n`` blocks per query block: ``topk_k``
   blocks when set, else ``ceil(keep_ratio * nb)``; the diagonal always.
"""

from __future__ import annotations

import math

import numpy as np

from sattn.specs import csr
from sattn.specs.blocks import block_means
from sattn.specs.gqa import row_chunks


def compression_keys(k: np.ndarray, comp_block: int) -> np.ndarray:
    """Mean-pooled keys [ceil(S/C), D] of one KV head (float64)."""
    return block_means(np.asarray(k, dtype=np.float64), comp_block)


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
    _, s, d = q_heads.shape
    kc = compression_keys(k, comp_block)
    nc = kc.shape[0]
    nb = csr.num_blocks(s, block)
    starts = np.arange(nc) * comp_block
    to_block = np.zeros((nc, nb))
    to_block[np.arange(nc), starts // block] = 1.0
    imp = np.zeros((nb, nb))
    qh = np.asarray(q_heads, dtype=np.float64)
    for r0, r1 in row_chunks(s, nc * len(qh), align=block):
        sc = qh[:, r0:r1] @ kc.T / math.sqrt(d)  # [group, R, nc]
        if causal:
            sc[:, starts[None, :] > np.arange(r0, r1)[:, None]] = -np.inf
        sc -= sc.max(axis=2, keepdims=True)
        p = np.exp(sc)
        p /= p.sum(axis=2, keepdims=True)
        pooled = p.sum(axis=0) @ to_block  # [R, nb]
        imp[r0 // block : csr.num_blocks(r1, block)] += np.add.reduceat(
            pooled, np.arange(0, r1 - r0, block), axis=0
        )
    return imp


def _importance_at(q_heads: np.ndarray, k: np.ndarray, block: int, comp_block: int,
                   causal: bool, offset: int) -> np.ndarray:
    """:func:`importance` for Sq < Skv (rows at positions ``offset + i``): [nb - qb0, nb],
    the query blocks from ``qb0 = offset // block`` on."""
    _, s, d = q_heads.shape
    n = k.shape[0]
    kc = compression_keys(k, comp_block)
    nc = kc.shape[0]
    nb = csr.num_blocks(n, block)
    starts = np.arange(nc) * comp_block
    to_block = np.zeros((nc, nb))
    to_block[np.arange(nc), starts // block] = 1.0
    qb0 = offset // block
    imp = np.zeros((nb - qb0, nb))
    qh = np.asarray(q_heads, dtype=np.float64)
    for r0, r1 in row_chunks(s, nc * len(qh)):
        pos = np.arange(r0, r1) + offset
        sc = qh[:, r0:r1] @ kc.T / math.sqrt(d)  # [group, R, nc]
        if causal:
            sc[:, starts[None, :] > pos[:, None]] = -np.inf
        sc -= sc.max(axis=2, keepdims=True)
        p = np.exp(sc)
        p /= p.sum(axis=2, keepdims=True)
        np.add.at(imp, pos // block - qb0, p.sum(axis=0) @ to_block)
    return imp
