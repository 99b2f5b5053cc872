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


def local_table(num_qblocks: int, num_kblocks: int) -> GroupSelection:
    """Block table: query block qb -> key blocks qb-1, qb, qb+1 that exist."""
    qb = np.arange(num_qblocks, dtype=np.int64)[:, None]
    kb = qb + np.arange(-NEIGHBOURS, NEIGHBOURS + 1)[None, :]
    kb[(kb < 0) | (kb >= num_kblocks)] = -1
    return GroupSelection.from_padded(kb)


def select(shape: Shape, params: AttentionParams) -> tuple[GroupSelection, GroupSelection]:
    """(token selection, block table) shared by all KV heads."""
    s = shape.seq_len
    b = params.effective_block_size(s)
    nb = csr.num_blocks(s, b)
    local = csr.expand_blocks(local_table(nb, nb), b, s, s)
    gt = min(params.global_tokens, s)
    parts = [local]
    if gt:
        # global keys for every query
        parts.append(GroupSelection(np.arange(s + 1, dtype=np.int64) * gt,
                                    np.tile(np.arange(gt, dtype=np.int32), s)))
        # global queries see every key
        counts = np.where(np.arange(s) < gt, s, 0)
        indptr = np.zeros(s + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        parts.append(GroupSelection(indptr, np.tile(np.arange(s, dtype=np.int32), gt)))
        sel = csr.union(*parts, num_cols=s)
    else:
        sel = local
    if params.causal:
        sel = csr.causal(sel)
    return sel, csr.block_table_from_tokens(sel, b, s)
