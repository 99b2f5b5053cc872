"""Native sparse attention (NSA): the definition of its three branches' keys (docs/patterns/nsa.md).

NSA (Yuan et al., "Native Sparse Attention: Hardware-Aligned and Natively Trainable Sparse
Attention", arXiv:2502.11089) attends every query through three branches and gates them:

- **compression**: K and V mean-pooled over windows of ``l`` tokens taken every ``d`` tokens
  (:func:`compress`; ``l = d = b`` by default, the non-overlapping case); a query at position
  ``p`` sees compressed key ``c`` only when its whole window lies at or before ``p``
  (``c*d + l - 1 <= p``, :func:`visible_compressed`);
- **selection**: the compressed attention probabilities are mapped onto selection blocks of
  ``b`` tokens (the paper's eq. 9, :func:`selection_map`; the identity when ``l = d = b``), the
  block holding ``p`` gets probability 1.0 in every head, the group's heads are summed, blocks
  after ``p``'s block are dropped and the ``n`` highest-scoring blocks are kept, ties to the
  lower block index (:func:`select_blocks`);
- **window**: the ``w`` keys ending at ``p`` (``j in [p - w + 1, p]``; ``w = 0``: no branch).

Positions: query row ``i`` of ``Sq`` sits at ``p(i) = Skv - Sq + i`` (bottom-right alignment, as
a KV cache puts it), so a decode step (``Sq = 1``) is the last row of the prefill over ``Skv``
tokens. The selection scores are fp32 (the precision the kernels score in); the reference
attention over these keys is :mod:`sattn.reference.nsa`. The open implementation this follows
when ``l = d = b`` is the NSA community's naive/parallel reference (fla-org/native-sparse-
attention): probabilities from the compressed softmax, 1.0 for the current block per head, a
sum over the group's heads, top-n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sattn.errors import SattnError

#: The paper's number of selected blocks.
DEFAULT_SELECT_BLOCKS = 16


@dataclass(frozen=True)
class NsaConfig:
    """The parameters of NSA. ``block_size`` is the selection block ``b`` (the paper's ``l'``);
    ``comp_block_size``/``comp_stride`` are the compression window ``l`` and stride ``d``
    (default ``l = d = b``); ``select_blocks`` is ``n``; ``window_size`` is ``w`` (0: no
    window branch); ``scale`` defaults to ``1/sqrt(D)``."""

    block_size: int
    select_blocks: int = DEFAULT_SELECT_BLOCKS
    window_size: int = 0
    comp_block_size: int | None = None
    comp_stride: int | None = None
    scale: float | None = None

    def __post_init__(self) -> None:
        for name in ("block_size", "select_blocks"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise SattnError(f"nsa: {name} must be a positive integer, got {v!r}")
        for name in ("window_size", "comp_block_size", "comp_stride"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                raise SattnError(f"nsa: {name} must be a non-negative integer, got {v!r}")
        l, d, b = self.comp_block, self.stride, self.block_size
        if l < 1 or d < 1:
            raise SattnError(f"nsa: comp_block_size and comp_stride must be >= 1, got {l} and {d}")
        if d > l:
            raise SattnError(f"nsa: comp_stride {d} exceeds comp_block_size {l} (windows would skip tokens)")
        if l % d or b % d:
            raise SattnError(f"nsa: comp_block_size {l} and block_size {b} must be multiples of "
                             f"comp_stride {d} (the paper's eq. 9 maps windows onto blocks by d)")
        if self.scale is not None and not (math.isfinite(self.scale) and self.scale > 0):
            raise SattnError(f"nsa: scale must be a positive finite number, got {self.scale!r}")

    @property
    def comp_block(self) -> int:
        """``l``: tokens per compression window."""
        return self.comp_block_size or self.block_size

    @property
    def stride(self) -> int:
        """``d``: tokens between compression windows."""
        return self.comp_stride or self.comp_block

    @property
    def overlapping(self) -> bool:
        return (self.comp_block, self.stride) != (self.block_size, self.block_size)

    def score_scale(self, head_dim: int) -> float:
        return self.scale if self.scale is not None else 1.0 / math.sqrt(head_dim)


def positions(sq: int, skv: int) -> np.ndarray:
    """``p(i) = Skv - Sq + i`` for the ``Sq`` query rows (int64)."""
    if sq > skv:
        raise SattnError(f"nsa: {sq} query rows exceed the {skv} keys (query positions would be negative)")
    return np.arange(skv - sq, skv, dtype=np.int64)


def num_compressed(skv: int, cfg: NsaConfig) -> int:
    """Compressed keys over ``skv`` tokens: one window starting at every multiple of ``d``
    below ``skv`` (the last ones zero-padded; a padded window is never visible)."""
    return -(-skv // cfg.stride)


def num_blocks(skv: int, cfg: NsaConfig) -> int:
    """Selection blocks over ``skv`` tokens."""
    return -(-skv // cfg.block_size)


def compress(x: np.ndarray, cfg: NsaConfig) -> np.ndarray:
    """Mean-pool ``x`` [..., Skv, E] over windows of ``l`` tokens every ``d`` tokens, zero
    padding past the end (so a padded mean divides by ``l``): [..., nc, E] float32."""
    x = np.asarray(x, dtype=np.float32)
    skv = x.shape[-2]
    l, d = cfg.comp_block, cfg.stride
    nc = num_compressed(skv, cfg)
    pad = (nc - 1) * d + l - skv
    xp = np.concatenate([x, np.zeros((*x.shape[:-2], pad, x.shape[-1]), np.float32)], axis=-2)
    # window c = sum of the l/d stride-chunks c .. c + l/d - 1
    chunks = xp[..., : (nc - 1 + l // d) * d, :].reshape(*x.shape[:-2], nc - 1 + l // d, d, x.shape[-1])
    sums = chunks.sum(axis=-2, dtype=np.float32)
    out = np.zeros((*x.shape[:-2], nc, x.shape[-1]), np.float32)
    for t in range(l // d):
        out += sums[..., t : t + nc, :]
    return out / np.float32(l)


def visible_compressed(pos: np.ndarray, cfg: NsaConfig) -> np.ndarray:
    """How many compressed keys each position sees: those with ``c*d + l - 1 <= p``."""
    pos = np.asarray(pos, dtype=np.int64)
    return np.maximum(0, (pos + 1 - cfg.comp_block) // cfg.stride + 1)


def selection_map(nc: int, nsb: int, cfg: NsaConfig) -> np.ndarray:
    """[nc, nsb] float32: ``p_slc = p_cmp @ M`` is the paper's eq. 9,
    ``p_slc[j] = sum_{m < b/d} sum_{n < l/d} p_cmp[(b/d) j - m - n]`` (out-of-range windows
    add nothing). The identity when ``l = d = b``."""
    m = np.zeros((nc, nsb), np.float32)
    per_block, per_window = cfg.block_size // cfg.stride, cfg.comp_block // cfg.stride
    j = np.arange(nsb)
    for a in range(per_block):
        for c in range(per_window):
            src = per_block * j - a - c
            ok = (src >= 0) & (src < nc)
            np.add.at(m, (src[ok], j[ok]), 1.0)
    return m


def block_scores(p_cmp: np.ndarray, pos: np.ndarray, cfg: NsaConfig, nsb: int) -> np.ndarray:
    """Group block scores [R, nsb] float32 from the compressed probabilities ``p_cmp``
    [G, R, nc] of the group's heads for rows at positions ``pos`` [R]: eq. 9, probability 1.0
    for ``p``'s block in every head, the sum over heads; blocks after ``p``'s block are -inf
    (never candidates)."""
    g, r, nc = p_cmp.shape
    p_slc = (p_cmp.reshape(g * r, nc) @ selection_map(nc, nsb, cfg)).reshape(g, r, nsb)
    own = np.asarray(pos, dtype=np.int64) // cfg.block_size
    p_slc[:, np.arange(r), own] = 1.0
    score = p_slc.sum(axis=0, dtype=np.float32)
    score[np.arange(nsb)[None, :] > own[:, None]] = -np.inf
    return score


def select_blocks(score: np.ndarray, pos: np.ndarray, cfg: NsaConfig) -> np.ndarray:
    """The kept blocks [R, n] (int64, ascending score rank; -1 where a row has fewer than
    ``n`` candidate blocks): the ``n`` highest scores, ties to the lower block index."""
    nsb = score.shape[1]
    n = min(cfg.select_blocks, nsb)
    order = np.argsort(-score, axis=1, kind="stable")[:, :n]
    cand = np.asarray(pos, dtype=np.int64) // cfg.block_size + 1  # blocks 0 .. own
    return np.where(np.arange(n)[None, :] < cand[:, None], order, -1)


def token_load(skv: int, cfg: NsaConfig) -> int:
    """The keys one decode step at ``Skv`` reads (the issue's token-load formula):
    ``Skv/d`` compressed keys + ``n*b`` selected tokens + ``w`` window keys."""
    return num_compressed(skv, cfg) + min(cfg.select_blocks * cfg.block_size, skv) + min(cfg.window_size, skv)
