"""What a KV cache keeps beside K and V for the RVV bsr kernel: the K block sums.

A decode step of bsr scores every K block by its mean. Recomputing the means reads the whole
cache every step; a serving system instead keeps one running sum per block and, when a token
is appended, adds its K row into its block's sum (one D-wide add), as Quest (Tang et al.,
"Quest: Query-Aware Sparsity for Efficient Long-Context LLM Inference", ICML 2024) keeps a
per-page key summary updated on append. :func:`k_block_sums` is the state such a cache holds
after appending the Skv rows one by one: per KV head and block, the block's rows (the values
the kernel sees: fp32 / bf16 values, i8 / i4 codes) added in row order in fp32, starting
from +0.0 (:func:`sattn.specs.blocks.row_order_sums_f32`), which is exactly the order and
precision of the kernel's own pass (``kernels/bsr.c``, ``block_sum_f32``) and of the
reference's block scores (:func:`sattn.specs.bsr.block_scores`), so the scores and the
selected blocks are bit for bit the same with and without the sums (tested).
"""

from __future__ import annotations

import numpy as np

from sattn.specs.blocks import row_order_sums_f32


def stored_values(precision: str, rows: np.ndarray, d: int) -> np.ndarray:
    """The first ``d`` values of each storage row (``rows`` [..., row_bytes] uint8, the kernel's
    input layout) as float64: fp32 / bf16 values, i8 / i4 integer codes (i4: the low nibble of
    byte e is value 2e, the high nibble 2e + 1)."""
    if precision == "fp32":
        return rows[..., :4 * d].copy().view(np.float32).astype(np.float64)
    if precision == "bf16":
        w = rows[..., :2 * d].copy().view(np.uint16).astype(np.uint32) << 16
        return w.view(np.float32).astype(np.float64)
    if precision == "i8":
        return rows[..., :d].copy().view(np.int8).astype(np.float64)
    b = rows[..., :d // 2].copy().view(np.int8)
    out = np.empty((*rows.shape[:-1], d), dtype=np.float64)
    out[..., 0::2] = (b << 4).astype(np.int8) >> 4  # sign-extended low nibble
    out[..., 1::2] = b >> 4
    return out


def k_block_sums(values: np.ndarray, block: int) -> np.ndarray:
    """Block sums ``[Hkv, nb, D]`` float32 of K values ``[Hkv, Skv, D]`` (``nb = ceil(Skv /
    block)``, the last block partial): each block's rows added one at a time in row order in
    fp32, as appending them to the cache does."""
    return np.stack([row_order_sums_f32(v, block) for v in values])
