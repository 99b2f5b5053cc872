"""Native sparse attention (NSA), ``spec = "nsa"``: its three branches, their gated attention
and the registered pattern (docs/patterns/nsa.md).

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
tokens. The selection scores are fp32 (the precision the kernels score in). The output,
``g_cmp * o_cmp + g_slc * o_slc + g_swa * o_swa``, is :func:`attention`: NSA is a *composite*
pattern (:class:`Nsa`), which the reference executor runs through its ``attend`` hook;
:mod:`sattn.reference.nsa` adds the input checks and the comparison bound. The open
implementation this follows
when ``l = d = b`` is the NSA community's naive/parallel reference (fla-org/native-sparse-
attention): probabilities from the compressed softmax, 1.0 for the current block per head, a
sum over the group's heads, top-n.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sattn import precision as prec
from sattn.errors import SattnError
from sattn.ir.patterns import register
from sattn.ir.schema import AttentionParams, Shape
from sattn.specs.csr import concat_rows
from sattn.specs.pattern import ForcingRule, Pattern, check_data
from sattn.specs.selection import GroupSelection, Selection

#: The paper's number of selected blocks.
DEFAULT_SELECT_BLOCKS = 16
#: Largest intermediate (scores or gathered keys) per tile of rows, in elements.
TILE_ELEMENTS = 1 << 22


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
    """Mean-pool ``x`` [..., Skv, E] over windows of ``l`` tokens every ``d`` tokens:
    [..., nc, E] float32. Windows that run past the end are zero padded in the definition (a
    padded mean divides by ``l``); no row ever sees one (:func:`visible_compressed`), so they
    are left zero here and no padding is built (``l`` may exceed Skv by any amount)."""
    x = np.asarray(x, dtype=np.float32)
    skv = x.shape[-2]
    l, d = cfg.comp_block, cfg.stride
    nc = num_compressed(skv, cfg)
    out = np.zeros((*x.shape[:-2], nc, x.shape[-1]), np.float32)
    full = max(0, (skv - l) // d + 1)  # windows [c*d, c*d + l) inside [0, Skv)
    if full:
        # window c = rows c*d .. c*d + l - 1 added one at a time in token order from 0 (the
        # kernel's order: the fp32 means, and so their bf16 / code rounding, agree bit for bit)
        for t in range(l):
            out[..., :full, :] += x[..., t : t + (full - 1) * d + 1 : d, :]
    return out / np.float32(l)


def visible_compressed(pos: np.ndarray, cfg: NsaConfig) -> np.ndarray:
    """How many compressed keys each position sees: those with ``c*d + l - 1 <= p``."""
    pos = np.asarray(pos, dtype=np.int64)
    return np.maximum(0, (pos + 1 - cfg.comp_block) // cfg.stride + 1)


def selection_map(nc: int, nsb: int, cfg: NsaConfig) -> np.ndarray:
    """[nc, nsb] float32: ``p_slc = p_cmp @ M`` is the paper's eq. 9,
    ``p_slc[j] = sum_{m < b/d} sum_{n < l/d} p_cmp[(b/d) j - m - n]`` (out-of-range windows
    add nothing). The identity when ``l = d = b``."""
    per_block, per_window = cfg.block_size // cfg.stride, cfg.comp_block // cfg.stride
    # entry [src, j] counts the (m, n) with m + n = t = (b/d) j - src, m < b/d, n < l/d
    # (closed form: no loop over b/d or l/d, which may be large)
    t = per_block * np.arange(nsb, dtype=np.int64)[None, :] - np.arange(nc, dtype=np.int64)[:, None]
    lo, hi = np.maximum(0, t - per_window + 1), np.minimum(per_block - 1, t)
    return np.where(t >= 0, np.maximum(0, hi - lo + 1), 0).astype(np.float32)


def block_scores(p_cmp: np.ndarray, pos: np.ndarray, cfg: NsaConfig, nsb: int) -> np.ndarray:
    """Group block scores [R, nsb] float32 from the compressed probabilities ``p_cmp``
    [G, R, nc] of the group's heads for rows at positions ``pos`` [R]: eq. 9, probability 1.0
    for ``p``'s block in every head, the sum over heads; blocks after ``p``'s block are -inf
    (never candidates)."""
    g, r, nc = p_cmp.shape
    if cfg.overlapping:
        p_slc = (p_cmp.reshape(g * r, nc) @ selection_map(nc, nsb, cfg)).reshape(g, r, nsb)
    else:  # l = d = b: eq. 9 is the identity (nc = nsb)
        p_slc = p_cmp.copy()
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


def softmax_rows(scores: np.ndarray) -> np.ndarray:
    """fp32 softmax over the last axis with the row maximum subtracted; an all -inf row gives
    zeros."""
    m = scores.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, np.float32(0))
    e = np.exp(scores - m)
    s = e.sum(axis=-1, keepdims=True, dtype=np.float32)
    return e / np.where(s > 0, s, np.float32(1))


def compressed_probabilities(qt: np.ndarray, kc: np.ndarray, nvis: np.ndarray) -> np.ndarray:
    """The compression branch's probabilities [G, R, nc] (fp32) of the scaled queries ``qt``
    [G, R, D] over the compressed keys ``kc`` [nc, D]: row ``r`` sees the first ``nvis[r]``."""
    sc = qt @ kc.T
    sc[:, np.arange(kc.shape[0])[None, :] >= np.asarray(nvis)[:, None]] = -np.inf
    return softmax_rows(sc)


def rows_per_tile(sq: int, per_row: int) -> int:
    """Query rows per tile so that no intermediate exceeds :data:`TILE_ELEMENTS`."""
    return max(1, min(sq, TILE_ELEMENTS // max(1, per_row)))


def config(params: AttentionParams) -> NsaConfig:
    """The :class:`NsaConfig` of an op's attributes: ``block_size`` (required), ``select_blocks``
    (unset: 16), ``window_size`` (unset: 0, no window branch), ``comp_block_size`` and
    ``comp_stride`` (0: ``l = b``, ``d = l``)."""
    if params.block_size is None:
        raise SattnError("spec 'nsa' needs attribute 'block_size' (the selection block b, "
                         "= the compression block unless comp_block_size is set)")
    return NsaConfig(block_size=params.block_size,
                     select_blocks=params.select_blocks or DEFAULT_SELECT_BLOCKS,
                     window_size=params.window_size or 0,
                     comp_block_size=params.comp_block_size or None,
                     comp_stride=params.comp_stride or None)


@dataclass(frozen=True)
class Operands:
    """Q, K, V as the op's precision computes with them (:func:`sattn.precision.prepare`:
    the values for fp32, bf16-rounded values, the integer codes for i8/i4), the score scale
    (``1/sqrt(D)``, times ``scale_q * scale_k`` for i8/i4), the output scale (``scale_v``
    for i8/i4) and how a compressed key/value is stored (:func:`compressed_view`)."""

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    score_scale: float
    v_scale: float
    compressed: Callable[[np.ndarray], np.ndarray] | None


def compressed_view(precision: str) -> Callable[[np.ndarray], np.ndarray] | None:
    """How a mean-pooled key/value is stored at ``precision``, as landmark's segment means
    are: i8/i4 round the mean of the codes half to even (an integer code again, so the
    compressed scores are integer dot products), bf16 rounds the mean of the rounded values
    to bf16 again, fp32 keeps it (None)."""
    qmax = prec.QMAX.get(precision)
    if qmax is not None:
        return lambda x: np.clip(np.rint(x), -qmax, qmax).astype(np.float32)
    if precision == "bf16":
        return prec.round_bf16
    return None


def operands(params: AttentionParams, q: np.ndarray, k: np.ndarray,
             v: np.ndarray | None = None) -> Operands:
    """The :class:`Operands` of ``params.precision`` (``v`` None: selection only)."""
    ops = prec.prepare(params, q, k, k[..., :0] if v is None else v)
    return Operands(ops.q, ops.k, ops.v, ops.score_scale, ops.v_scale,
                    compressed_view(params.precision))


def token_rows(blocks: np.ndarray, pos: np.ndarray, cfg: NsaConfig) -> GroupSelection:
    """The token rows (CSR) of the kept ``blocks`` [R, n] (-1 padded) and the window, for rows
    at positions ``pos``: the selected blocks' tokens ``j <= p`` and ``j in [p - w + 1, p]``,
    each once, ascending (the keys the selection and window branches read)."""
    pos = np.asarray(pos, dtype=np.int64)
    reach = int(pos.max()) + 1 if len(pos) else 0  # no row reads a key at or past it
    b, w = cfg.block_size, min(cfg.window_size, reach)
    big = np.iinfo(np.int64).max
    # offsets t >= reach within a block lie past every row's position
    tok = (np.maximum(blocks, 0)[:, :, None] * b + np.arange(min(b, reach))).reshape(len(pos), -1)
    ok = np.repeat(blocks >= 0, b, axis=1) & (tok <= pos[:, None])
    cand = [np.where(ok, tok, big)]
    if w:
        win = pos[:, None] - w + 1 + np.arange(w)[None, :]
        cand.append(np.where(win >= 0, win, big))
    c = np.sort(np.concatenate(cand, axis=1), axis=1)
    dup = np.zeros_like(c, dtype=bool)
    dup[:, 1:] = c[:, 1:] == c[:, :-1]
    return GroupSelection.from_padded(np.where(dup | (c == big), -1, c))


@dataclass(frozen=True)
class NsaResult:
    """The output and, per (batch, KV head, row), the kept blocks (-1 padded)."""

    output: np.ndarray  # float32, Q's rank, last dim Dv
    blocks: np.ndarray  # int64 [B, Hkv, Sq, n]
    pairs: int = 0  # (row, key) pairs scored by the three branches, summed over B and KV heads


def as_rank4(x: np.ndarray, name: str) -> np.ndarray:
    """``x`` as [B, H, S, E] (rank 3: B = 1); other ranks are a one-line error."""
    x = np.asarray(x)
    if x.ndim == 3:
        return x[None]
    if x.ndim != 4:
        raise SattnError(f"nsa: {name} must be [B, H, S, D] or [H, S, D], got shape {list(x.shape)}")
    return x


def _gates(g, b: int, sq: int, h: int, name: str) -> np.ndarray:
    if g is None:
        return np.ones((b, sq, h), np.float32)
    g = np.asarray(g, dtype=np.float32)
    if g.ndim == 2:
        g = g[None]
    if g.shape != (b, sq, h):
        raise SattnError(f"nsa: {name} must be [B, Sq, H] = {[b, sq, h]}, got {list(g.shape)}")
    return g


def _rows_times(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` of a stack ``a`` [..., K] and a matrix ``b`` [K, N] as one 2-D product (NumPy
    runs a stacked product as many small ones, several times slower)."""
    return (a.reshape(-1, a.shape[-1]) @ b).reshape(*a.shape[:-1], b.shape[-1])


def _selected_branch(qt: np.ndarray, kg: np.ndarray, vg: np.ndarray, rk: np.ndarray,
                     tok: np.ndarray, ok: np.ndarray, bs: int, bt: int, budget: int) -> np.ndarray:
    """``o_slc`` [G, R, Dv] of a tile of rows: row ``r`` attends the tokens ``tok[r]`` where
    ``ok[r]`` (its kept blocks' tokens ``j <= p``). When the union of the tile's kept blocks is
    small enough (``G x union <= budget`` blocks' worth), one [G*R, D] x [D, union*b] product
    scores every row against the union and masks what the row did not keep -- the same softmax,
    in large matrix products instead of a [G, D] x [D, n*b] one per row."""
    g, r = qt.shape[:2]
    kept = np.unique(rk[rk >= 0])
    if g * len(kept) <= budget:
        ut = (kept[:, None] * bs + np.arange(bt)).ravel()  # the union's tokens, ascending
        ut = ut[ut < kg.shape[0]]
        member = np.zeros((r, len(ut)), bool)  # row r keeps token ut[c] (j <= p included)
        col = np.searchsorted(ut, tok)
        hit = ok & (col < len(ut))
        member[np.nonzero(hit)[0], col[hit]] = True
        ss = _rows_times(qt, kg[ut].T)  # [G, R, union]
        ss[:, ~member] = -np.inf
        return _rows_times(softmax_rows(ss), vg[ut])
    tok = np.minimum(tok, kg.shape[0] - 1)
    ks, vs = kg[tok], vg[tok]  # [R, n*b, D|Dv]
    ss = np.matmul(qt.transpose(1, 0, 2), ks.transpose(0, 2, 1))  # [R, G, n*b]
    ss[np.broadcast_to(~ok[:, None, :], ss.shape)] = -np.inf
    return np.matmul(softmax_rows(ss), vs).transpose(1, 0, 2)  # [G, R, Dv]


def attention(q, k, v, cfg: NsaConfig, *, g_cmp=None, g_slc=None, g_swa=None,
              compressed: Callable[[np.ndarray], np.ndarray] | None = None,
              blocks: np.ndarray | None = None) -> NsaResult:
    """NSA attention, ``g_cmp * o_cmp + g_slc * o_slc + g_swa * o_swa`` per query head and row,
    each branch a softmax (max subtracted, fp32) with the score scale (default ``1/sqrt(D)``):
    ``o_cmp`` over the compressed keys/values a row sees (zero when it sees none), ``o_slc`` over
    the tokens ``j <= p`` of the blocks :func:`select_blocks` keeps for the row's KV head (shared
    by the heads of a GQA group), ``o_swa`` over ``j in [p - w + 1, p]`` (absent when ``w = 0``).

    Shapes: Q ``[B, H, Sq, D]``, K ``[B, Hkv, Skv, D]``, V ``[B, Hkv, Skv, Dv]`` (rank 3: B = 1),
    gates ``[B, Sq, H]`` (rank 2 ``[Sq, H]`` with rank-3 Q), 1.0 when not given; the output has
    Q's rank with ``Dv`` last. ``compressed``: how a compressed key/value is stored
    (:func:`compressed_view`; None: as computed). ``blocks`` (int ``[B, Hkv, Sq, n]``, -1
    padded): attend these kept blocks instead of ranking the scores (a kernel's choice at a
    near-tie). Memory is O(rows of a tile x keys a row
    reads) (:data:`TILE_ELEMENTS`), never O(Sq x Skv). Values are not checked for finiteness
    here (:func:`sattn.reference.nsa.attention` and the executor do)."""
    rank = np.asarray(q).ndim
    q4, k4, v4 = (as_rank4(x, n).astype(np.float32, copy=False) for x, n in ((q, "Q"), (k, "K"), (v, "V")))
    b, h, sq, d = q4.shape
    bk, hkv, skv, dk = k4.shape
    if (bk, hkv, skv) != v4.shape[:3] or dk != d or bk != b:
        raise SattnError(f"nsa: shapes Q {list(q4.shape)}, K {list(k4.shape)}, V {list(v4.shape)} "
                         "do not fit ([B,H,Sq,D], [B,Hkv,Skv,D], [B,Hkv,Skv,Dv])")
    if hkv == 0 or h % hkv:
        raise SattnError(f"nsa: {h} query heads are not a multiple of {hkv} KV heads")
    grp, dv = h // hkv, v4.shape[-1]
    gates = [_gates(x, b, sq, h, n) for x, n in ((g_cmp, "g_cmp"), (g_slc, "g_slc"), (g_swa, "g_swa"))]
    pos = positions(sq, skv)
    scale = np.float32(cfg.score_scale(d))
    nc, nsb = num_compressed(skv, cfg), num_blocks(skv, cfg)
    n = min(cfg.select_blocks, nsb)
    bs, w = cfg.block_size, min(cfg.window_size, skv)
    bt = min(bs, skv)  # offsets within a block that can hold a key (bs may exceed Skv)
    nvis = visible_compressed(pos, cfg)
    out = np.zeros((b, h, sq, dv), np.float32)
    kept = np.full((b, hkv, sq, n), -1, np.int64)
    if blocks is not None and np.shape(blocks) != kept.shape:
        raise SattnError(f"nsa: blocks must be [B, Hkv, Sq, n] = {list(kept.shape)}, got {list(np.shape(blocks))}")
    # the widest intermediate per row: compressed scores, gathered selected keys, window slab
    # per KV head: the compressed keys and window keys every row sees (+ the selected tokens)
    pairs = b * hkv * int(nvis.sum() + np.minimum(w, pos + 1).sum())
    rows = rows_per_tile(sq, max(grp * nc, n * bt * max(d, dv, grp), grp * (w + 1) + w * max(d, dv)))
    for bi in range(b):
        kc, vc = compress(k4[bi], cfg), compress(v4[bi], cfg)  # [Hkv, nc, D|Dv]
        if compressed is not None:
            kc, vc = compressed(kc), compressed(vc)
        for g in range(hkv):
            qg = q4[bi, g * grp : (g + 1) * grp]  # [G, Sq, D]
            for r0 in range(0, sq, rows):
                r1 = min(sq, r0 + rows)
                p, qt = pos[r0:r1], qg[:, r0:r1] * scale
                # compression branch
                pc = compressed_probabilities(qt, kc[g], nvis[r0:r1])  # [G, R, nc]
                o_cmp = _rows_times(pc, vc[g])
                # selection branch: the group's blocks, then their tokens j <= p
                if blocks is None:
                    rk = select_blocks(block_scores(pc, p, cfg, nsb), p, cfg)
                else:
                    rk = np.asarray(blocks, dtype=np.int64)[bi, g, r0:r1]
                kept[bi, g, r0:r1] = rk
                tok = (np.maximum(rk, 0)[:, :, None] * bs + np.arange(bt)).reshape(r1 - r0, n * bt)
                ok = (np.repeat(rk >= 0, bt, axis=1)) & (tok <= p[:, None])
                pairs += int(ok.sum())
                o_slc = _selected_branch(qt, k4[bi, g], v4[bi, g], rk, tok, ok, bs, bt,
                                         max(d, dv, grp) * n)
                acc = gates[0][bi, r0:r1, g * grp : (g + 1) * grp].T[:, :, None] * o_cmp
                acc += gates[1][bi, r0:r1, g * grp : (g + 1) * grp].T[:, :, None] * o_slc
                if w:
                    # window branch on the contiguous key slab of the tile
                    lo = max(0, int(p[0]) - w + 1)
                    slab_k, slab_v = k4[bi, g, lo : p[-1] + 1], v4[bi, g, lo : p[-1] + 1]
                    j = np.arange(lo, p[-1] + 1)
                    sw = _rows_times(qt, slab_k.T)  # [G, R, slab]
                    sw[:, (j[None, :] > p[:, None]) | (j[None, :] < p[:, None] - w + 1)] = -np.inf
                    o_swa = _rows_times(softmax_rows(sw), slab_v)
                    acc += gates[2][bi, r0:r1, g * grp : (g + 1) * grp].T[:, :, None] * o_swa
                out[bi, g * grp : (g + 1) * grp, r0:r1] = acc
    return NsaResult(out[0] if rank == 3 else out, kept, pairs)




class Nsa(Pattern):
    """nsa: native sparse attention, three gated branches (compressed, selected blocks,
    window): a composite pattern. The reference runs it (:meth:`attend`); its selection
    (:meth:`select`) is the tokens the selection and window branches read, for pictures and
    counts (the compressed branch reads every complete compression window up to ``p``)."""

    name = "nsa"
    data_dependent = True
    composite = True
    pairs_note = ("nsa: compressed keys seen + selected tokens + window keys per row, each "
                  "branch counted (a key two branches read counts twice), over the dense "
                  "Hkv x Sq x Skv pairs: the density can exceed 1")
    positions = True
    targets = ("reference", "rvv", "rocc")
    rvv_kernel = "nsa"
    rule = ForcingRule("select_blocks", lambda p: p.select_blocks is not None,
                       lambda p: f"select_blocks = {p.select_blocks} is set")
    disable_key = "NSA"
    block_tunable = False

    def verify(self, params: AttentionParams) -> None:
        """``block_size`` required; ``comp_stride`` <= ``comp_block_size``, dividing it and
        ``block_size``; sliding_window's ``dilation``/``wrap`` refused (nsa's
        ``window_size`` is the w keys ending at the query, not a half-width)."""
        for name, default in (("dilation", 1), ("wrap", 0)):
            if getattr(params, name) != default:
                raise SattnError(
                    f"attribute '{name}' is sliding_window's, not nsa's: nsa's window_size is "
                    "the w keys ending at the query (j in [p-w+1, p]), not a dilated half-width")
        if params.block_size is None:
            raise SattnError("attribute 'block_size' is required by spec nsa (the selection "
                             "block b; the compression block too unless comp_block_size is set)")
        b, l_ = params.block_size, params.comp_block_size or params.block_size
        d = params.comp_stride or l_
        if d > l_ or l_ % d or b % d:
            raise SattnError(
                f"attribute 'comp_stride'={d} must be <= comp_block_size={l_} and divide it and "
                f"block_size={b} (nsa maps compression windows onto selection blocks by the "
                "stride)")

    def select(self, params: AttentionParams, shape: Shape, q=None, k=None) -> Selection:
        """The token union of the selection and window branches per KV head (see the class)."""
        check_data(self.name, shape, q, k)
        cfg = config(params)
        ops = operands(params, q, k)
        sq, skv, grp = shape.seq_len, shape.kv_len, shape.group
        pos = positions(sq, skv)
        nvis = visible_compressed(pos, cfg)
        nc, nsb = num_compressed(skv, cfg), num_blocks(skv, cfg)
        rows = rows_per_tile(sq, grp * nc + min(cfg.select_blocks, nsb) * min(cfg.block_size, skv)
                             + min(cfg.window_size, skv))
        groups = []
        for g in range(shape.kv_heads):
            kc = compress(ops.k[g], cfg)
            if ops.compressed is not None:
                kc = ops.compressed(kc)
            qg = ops.q[g * grp : (g + 1) * grp]
            parts = []
            for r0 in range(0, sq, rows):
                r1 = min(sq, r0 + rows)
                p = pos[r0:r1]
                pc = compressed_probabilities(qg[:, r0:r1] * np.float32(ops.score_scale), kc,
                                              nvis[r0:r1])
                blocks = select_blocks(block_scores(pc, p, cfg, nsb), p, cfg)
                parts.append(token_rows(blocks, p, cfg))
            groups.append(concat_rows(parts))
        return Selection(spec=self.name, seq_len=sq, num_keys=skv, group_size=grp,
                         groups=tuple(groups), block_size=cfg.block_size)

    def attend(self, params: AttentionParams, shape: Shape, q: np.ndarray, k: np.ndarray,
               v: np.ndarray, gates: Any = None, blocks: np.ndarray | None = None
               ) -> tuple[np.ndarray, int]:
        """NSA (:func:`attention`) on the precision's operands (:func:`operands`; Q [H, Sq, D]
        or [B, H, Sq, D]); the output times ``scale_v`` for i8/i4. The pairs are every row's
        token load (compressed keys seen, selected tokens, window keys), summed over KV heads
        and the batch. ``blocks``: attend these kept blocks (a kernel's choice at a near-tie)."""
        ops = operands(params, q, k, v)
        g = gates or (None, None, None)
        cfg = dataclasses.replace(config(params), scale=float(ops.score_scale))
        res = attention(ops.q, ops.k, ops.v, cfg, g_cmp=g[0], g_slc=g[1], g_swa=g[2],
                        compressed=ops.compressed, blocks=blocks)
        out = res.output if ops.v_scale == 1.0 else res.output * np.float32(ops.v_scale)
        return out, res.pairs

    def call_attributes(self, params: AttentionParams) -> dict[str, Any]:
        """The resolved NSA parameters and the precision: the RVV runner builds the kernel's
        :class:`NsaConfig` from the lowered call (:func:`config`), so an edited call changes
        the run."""
        cfg = config(params)
        return {"block_size": cfg.block_size, "select_blocks": cfg.select_blocks,
                "window_size": cfg.window_size, "comp_block_size": cfg.comp_block,
                "comp_stride": cfg.stride, "precision": params.precision}

    def pair_bound(self, params: AttentionParams, seq_len: int) -> int:
        return seq_len * self.keys_bound(params, seq_len)

    def keys_bound(self, params: AttentionParams, seq_len: int) -> int:
        return token_load(seq_len, config(params))

    def plan(self, params: AttentionParams) -> dict:
        cfg = config(params)
        return {"kind": "nsa", "block_size": cfg.block_size, "select_blocks": cfg.select_blocks,
                "window": cfg.window_size, "comp_block": cfg.comp_block, "comp_stride": cfg.stride,
                "data_dependent": 1, "score": "compressed_probabilities"}

    def host_scoring(self, params: AttentionParams, shape: Shape) -> list[tuple[str, float, float]]:
        cfg = config(params)
        nc = num_compressed(shape.kv_len, cfg)
        return [("compressed scores and block selection",
                 8.0 * (shape.heads + shape.kv_heads) * shape.kv_len * shape.head_dim,
                 shape.heads * float(shape.seq_len) * nc * (shape.head_dim + 16))]


PATTERN = register(Nsa())
