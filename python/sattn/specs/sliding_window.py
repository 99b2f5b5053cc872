"""sliding_window: a (dilated, optionally ring-wrapped) band around each query.

Query row ``i`` at position ``p = p(i) = Skv - Sq + i`` (``p = i`` for self-attention) selects
``j = p + dilation * t`` for ``t`` in ``[-window_size, window_size]``.
Without ``wrap`` out-of-range ``j`` (outside ``[0, Skv)``) are dropped; with ``wrap = 1`` ``j``
is taken modulo S = Skv (ring mode), which gives ``2 * window_size + 1`` keys whenever those ring positions are
distinct (``2 * window_size + 1 <= S / gcd(dilation, S)``); positions that coincide are kept
once. ``causal = 1`` keeps ``j <= p`` (after wrapping). Unset ``window_size`` means
:data:`DEFAULT_WINDOW`.
"""

from __future__ import annotations

import math

import numpy as np

from sattn.ir.patterns import register
from sattn.ir.schema import AttentionParams, Shape
from sattn.specs.pattern import MAX_COUNTED_PAIRS, MAX_TABLE_ENTRIES, Pattern, one_kv_head
from sattn.specs.selection import GroupSelection

DEFAULT_WINDOW = 64


def window(params: AttentionParams) -> int:
    """The window half-width used (the attribute, else DEFAULT_WINDOW)."""
    return DEFAULT_WINDOW if params.window_size is None else params.window_size


def clamped(params: AttentionParams, seq_len: int) -> tuple[int, int]:
    """(window, dilation) reduced to what they can mean at ``seq_len`` -- the same selection
    with small numbers, whatever the attributes (e.g. ``window_size = 2**62``):

    - without wrap no key lies more than ``S - 1`` away: ``w <= (S - 1) // dilation``; a
      dilation of ``S`` or more leaves only ``j = i`` (``w = 0``, dilation 1);
    - with wrap positions are taken modulo S: the dilation is ``dilation mod S`` (``S`` when
      that is 0: every position is ``i`` itself), and a window whose ``2w + 1`` positions
      reach the ring's length covers the whole ring (``w`` = that length).
    """
    s, w, dil = seq_len, window(params), params.dilation
    if params.wrap:
        dil = dil % s or s
        period = s // math.gcd(dil, s)
        return min(w, period), dil
    if dil >= s:
        return 0, 1
    return min(w, (s - 1) // dil), dil


def _tri(n: int, x: int) -> int:
    """sum_{i=0}^{n-1} max(0, i - x)."""
    if x >= n - 1:
        return 0
    if x < 0:
        return n * (n - 1) // 2 - n * x
    m = n - 1 - x
    return m * (m + 1) // 2


def _band_total(n: int, back: int, ahead: int) -> int:
    """sum over i < n of min(n-1, i+ahead) - max(0, i-back) + 1: the pairs of a band."""
    return n * (n - 1) // 2 + n * ahead - _tri(n, n - 1 - ahead) - _tri(n, back) + n


def _residue_lengths(s: int, dil: int) -> tuple[tuple[int, int], ...]:
    """((length, how many residue classes have it), ...) of the classes j = c mod dil in [0, S)."""
    q, r = divmod(s, dil)
    return tuple((n, c) for n, c in ((q + 1, r), (q, dil - r)) if c and n)


def pair_count(params: AttentionParams, seq_len: int) -> int | None:
    """Selected (query, key) pairs of one KV head, in closed form (no index lists), or None
    for a causal ring (``wrap = 1`` and ``causal = 1``), which has none."""
    w, dil = clamped(params, seq_len)
    if params.wrap:
        if params.causal:
            return None
        return seq_len * min(2 * w + 1, seq_len // math.gcd(dil, seq_len))
    ahead = 0 if params.causal else w
    return sum(c * _band_total(n, w, ahead) for n, c in _residue_lengths(seq_len, dil))


def keys_per_row(params: AttentionParams, seq_len: int) -> tuple[int, int] | None:
    """(fewest, most) keys of a row, in closed form, or None for a causal ring."""
    w, dil = clamped(params, seq_len)
    if params.wrap:
        if params.causal:
            return None
        n = min(2 * w + 1, seq_len // math.gcd(dil, seq_len))
        return n, n
    lengths = [n for n, _ in _residue_lengths(seq_len, dil)]
    if params.causal:
        return 1, min(max(lengths), w + 1)
    return min(min(lengths), w + 1), min(max(lengths), 2 * w + 1)


def select(shape: Shape, params: AttentionParams) -> GroupSelection:
    """The band of every query (shared by all KV heads), around its position."""
    s = shape.kv_len
    w, dil = clamped(params, s)
    i = np.arange(shape.offset, s, dtype=np.int64)[:, None]
    if params.wrap:
        period = s // math.gcd(dil, s)  # distinct ring positions reachable from i
        t = np.arange(period) if 2 * w + 1 >= period else np.arange(-w, w + 1)
        j = np.sort((i + dil * t[None, :]) % s, axis=1)
        dup = np.zeros_like(j, dtype=bool)
        dup[:, 1:] = j[:, 1:] == j[:, :-1]
        j[dup] = -1
    else:
        t = np.arange(-w, w + 1, dtype=np.int64)
        j = i + dil * t[None, :]
        j[(j < 0) | (j >= s)] = -1
    if params.causal:
        j[j > i] = -1
    return GroupSelection.from_padded(j)


def band_mask(seq_len: int, window: int, dilation: int = 1, wrap: int = 0):
    """The closed-form mask_mod of the band (index arithmetic only): ``j = i + dilation * t``,
    ``|t| <= window``; ``wrap`` takes ``j`` modulo ``seq_len``."""
    s, w, dil = seq_len, window, dilation
    if not wrap:
        def band(b, h, q_idx, kv_idx):
            diff = kv_idx - q_idx
            return ((diff % dil) == 0) & (abs(diff) <= w * dil)
        return band
    g = math.gcd(dil, s)
    period = s // g
    if 2 * w + 1 >= period:
        # every ring position reachable by a multiple of dil is selected: d = 0 (mod gcd)
        def ring_all(b, h, q_idx, kv_idx):
            return ((kv_idx - q_idx) % g) == 0
        return ring_all
    offsets = sorted({(dil * t) % s for t in range(-w, w + 1)})

    def ring(b, h, q_idx, kv_idx):
        d = (kv_idx - q_idx) % s
        hit = d == offsets[0]
        for off in offsets[1:]:  # 2w+1 < period terms, each elementwise
            hit = hit | (d == off)
        return hit
    return ring


class SlidingWindow(Pattern):
    """sliding_window: the band around each query (see the module docstring)."""

    name = "sliding_window"
    disable_key = "SW"
    rvv_kernel = "window"
    positions = True

    def select_group(self, shape: Shape, params: AttentionParams) -> GroupSelection:
        return select(shape, params)

    def pair_count(self, params: AttentionParams, seq_len: int) -> int | None:
        return pair_count(params, seq_len)

    def pair_bound(self, params: AttentionParams, seq_len: int) -> int:
        return seq_len * min(seq_len, 2 * window(params) + 1)

    def keys_bound(self, params: AttentionParams, seq_len: int) -> int:
        return min(seq_len, 2 * clamped(params, seq_len)[0] + 1)

    def band(self, params: AttentionParams, seq_len: int) -> tuple[int, int] | None:
        """(half-width, dilation) when the reference attends it as a band (no wrap, residue
        classes long enough for slab tiles), else None (token lists)."""
        if params.wrap or seq_len // max(1, params.dilation) < 64:
            return None
        return clamped(params, seq_len)

    def index_table(self, params: AttentionParams) -> dict:
        """The offset stencil ``j - p(i) = dilation * t`` with its exact counts (closed form: a
        stencil wider than MAX_TABLE_ENTRIES offsets is given by its range)."""
        shape = params.shape()
        s = shape.seq_len
        w, dil = clamped(params, shape.kv_len)
        table: dict = {"kind": "stencil"}
        if 2 * w + 1 <= MAX_TABLE_ENTRIES:
            table["offsets"] = [dil * t for t in range(-w, w + 1)]
        else:
            table.update(offset_min=-dil * w, offset_max=dil * w, offset_step=dil)
        table.update(wrap=params.wrap, causal=params.causal, rows=s, heads=shape.kv_heads)
        if shape.offset:  # Sq < Skv: the key space, and counts from the rows themselves
            table["keys"] = shape.kv_len
        nnz = None if shape.offset else pair_count(params, s)
        keys = None if shape.offset else keys_per_row(params, s)
        if nnz is None and s * min(s, 2 * w + 1) <= MAX_COUNTED_PAIRS:  # count the rows
            g = self.select_group(one_kv_head(shape), params)
            counts = g.counts()
            nnz, keys = g.nnz, (int(counts.min()), int(counts.max()))
        if nnz is None or keys is None:
            table["counted"] = 0
        else:
            table.update(nnz=int(nnz), min_keys=int(keys[0]), max_keys=int(keys[1]))
        return table

    def rvv_header(self, params: AttentionParams, seq_len: int) -> dict[str, int]:
        w, dil = clamped(params, seq_len)
        return {"window": w, "dilation": dil, "wrap": params.wrap}

    def desc_fields(self, params: AttentionParams, seq_len: int) -> dict:
        return {"window_size": window(params)}

    def mask_mod(self, params: AttentionParams, seq_len: int):
        return band_mask(seq_len, window(params), params.dilation, params.wrap)


PATTERN = register(SlidingWindow())
