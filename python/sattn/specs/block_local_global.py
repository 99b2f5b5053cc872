"""block_local_global: local blocks, global keys and global queries (Longformer/BigBird style).

With ``B`` the block size (``block_size``, else 64, at most S = Skv) query row ``i`` at position
``p = Skv - Sq + i`` (``p = i`` for self-attention), in block ``qb = p // B``, selects

- every key of key blocks ``qb - 1``, ``qb`` and ``qb + 1`` (those that exist; the last block
  may be partial),
- the global keys ``j < global_tokens`` (every query sees them),
- every key when ``p < global_tokens`` (global queries see everything).

``causal = 1`` then keeps ``j <= p``. The selection is structural: the same for every KV head.
"""

from __future__ import annotations

import numpy as np

from sattn.ir.patterns import register
from sattn.ir.schema import AttentionParams, Shape
from sattn.specs import csr
from sattn.specs.pattern import (
    MAX_COUNTED_PAIRS,
    ForcingRule,
    Pattern,
    block_csr_table,
    num_blocks,
    one_kv_head,
)
from sattn.specs.selection import GroupSelection, Selection

#: Key blocks on each side of the diagonal block.
NEIGHBOURS = 1


def select(shape: Shape, params: AttentionParams) -> tuple[GroupSelection, GroupSelection]:
    """(token selection, block table) shared by all KV heads.

    Row ``i`` is two ascending ranges: the global keys ``[0, min(G_t, lo))`` and the local span
    ``[lo, max(hi, G_t))`` with ``[lo, hi)`` the keys of blocks ``qb-1 .. qb+1`` — the union of
    the three parts without sorting; a global query's row is ``[0, S)``; causal caps at ``i+1``.
    """
    s = shape.kv_len
    b = params.effective_block_size(s)
    gt = min(params.global_tokens, s)
    i = np.arange(shape.offset, s, dtype=np.int64)  # the rows' positions
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
    sel = csr.from_ranges(np.stack([np.zeros(len(i), np.int64), lo], axis=1),
                          np.stack([a, e], axis=1))
    if shape.offset:  # query blocks over positions: the token rows are the selection
        return sel, None
    return sel, csr.block_table_from_tokens(sel, b, s)


class BlockLocalGlobal(Pattern):
    """block_local_global: structural, executed from its block table on every backend."""

    name = "block_local_global"
    rule = ForcingRule("global_tokens", lambda p: p.global_tokens > 0,
                       lambda p: f"global_tokens = {p.global_tokens} > 0")
    disable_key = "BLG"
    block_tunable = True
    call_flag = "blg_enabled"
    rvv_kernel = "table"
    positions = True

    def select_group(self, shape: Shape, params: AttentionParams) -> GroupSelection:
        return select(shape, params)[0]

    def select(self, params: AttentionParams, shape: Shape, q=None, k=None) -> Selection:
        sel, table = select(one_kv_head(shape), params)
        g = shape.kv_heads
        if table is None:  # Sq < Skv: token rows only (rows are not block-aligned)
            return Selection(spec=self.name, seq_len=shape.seq_len, num_keys=shape.kv_len,
                             group_size=shape.group, groups=(sel,) * g)
        return Selection(spec=self.name, seq_len=shape.seq_len, num_keys=shape.seq_len,
                         group_size=shape.group, groups=(sel,) * g,
                         block_size=params.effective_block_size(shape.seq_len),
                         block_table=(table,) * g)

    def pair_bound(self, params: AttentionParams, seq_len: int) -> int:
        s, g = seq_len, min(params.global_tokens, seq_len)
        return min(s * s, s * (3 * params.effective_block_size(s) + g) + g * s)

    def index_table(self, params: AttentionParams) -> dict:
        shape = params.shape()
        if shape.offset:  # Sq < Skv: query rows are not block-aligned, the token lists
            return Pattern.index_table(self, params)
        s = shape.seq_len
        gt = {"global_tokens": min(params.global_tokens, s)}
        if self.pair_bound(params, s) > MAX_COUNTED_PAIRS:
            b = params.effective_block_size(s)
            nb = num_blocks(s, b)
            return {"kind": "block_csr", "source": "structural", "block_size": b, "q_blocks": nb,
                    "k_blocks": nb, "heads": shape.kv_heads, "per_head": 0,
                    "neighbours": NEIGHBOURS, **gt, "counted": 0, "elided": 1}
        return block_csr_table(params, self.select(params, one_kv_head(shape)), "structural", gt)

    def rvv_header(self, params: AttentionParams, seq_len: int) -> dict[str, int]:
        return {"global_tokens": min(params.global_tokens, seq_len),
                "block_size": params.effective_block_size(seq_len)}

    def mask_mod(self, params: AttentionParams, seq_len: int):
        return local_global_mask(params.effective_block_size(seq_len),
                                 min(params.global_tokens, seq_len))


def local_global_mask(block: int, global_tokens: int):
    """Key blocks ``qb-1..qb+1`` around the query block, the first ``global_tokens`` keys for
    every query, and every key for the first ``global_tokens`` queries (the or of three
    mask_mods, index arithmetic only)."""
    b, gt = block, global_tokens

    def local(bb, h, q_idx, kv_idx):
        return abs((q_idx // b) - (kv_idx // b)) <= NEIGHBOURS

    if gt <= 0:
        return local

    def local_or_global(bb, h, q_idx, kv_idx):
        return local(bb, h, q_idx, kv_idx) | (kv_idx < gt) | (q_idx < gt)
    return local_or_global


PATTERN = register(BlockLocalGlobal())
