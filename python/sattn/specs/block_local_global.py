"""block_local_global: local blocks, global keys and global queries (Longformer/BigBird style).

With ``B`` the block size (``block_size``, else 64, at most S) query ``i`` in block
``qb = i // B`` selects

- every key of key blocks ``qb - 1``, ``qb`` and ``qb + 1`` (those that exist; the last block
  may be partial),
- the global keys ``j < global_tokens`` (every query sees them),
- every key when ``i < global_tokens`` (global queries see everything).

``causal = 1`` then keeps ``j <= i``. The selection is structural: the same for every KV head.
"""

from __future__ import annotations

import numpy as np

from sattn.ir.schema import AttentionParams, Shape
from sattn.specs import csr
from sattn.specs.selection import GroupSelection

#: Key blocks on each side of the diagonal block.
NEIGHBOURS = 1


def select(shape: Shape, params: AttentionParams) -> tuple[GroupSelection, GroupSelection]:
    """(token selection, block table) shared by all KV heads.

    Row ``i`` is two ascending ranges: the global keys ``[0, min(G_t, lo))`` and the local span
    ``[lo, max(hi, G_t))`` with ``[lo, hi)`` the keys of blocks ``qb-1 .. qb+1`` — the union of
    the three parts without sorting; a global query's row is ``[0, S)``; causal caps at ``i+1``.
    """
    s = shape.seq_len
    b = params.effective_block_size(s)
    gt = min(params.global_tokens, s)
    i = np.arange(s, dtype=np.int64)
    qb = i // b
    lo = np.maximum(qb - NEIGHBOURS, 0) * b
    hi = np.minimum((qb + NEIGHBOURS + 1) * b, s)
    a = np.minimum(gt, lo)
    e = np.maximum(hi, gt)
    glob = i < gt
    a[glob], lo[glob], e[glob] = 0, 0, s  # global queries: one range covering every key
    if params.causal:
        a = np.minimum(a, i + 1)
        e = np.minimum(e, i + 1)
    sel = csr.from_ranges(np.stack([np.zeros(s, np.int64), lo], axis=1), np.stack([a, e], axis=1))
    return sel, csr.block_table_from_tokens(sel, b, s)
