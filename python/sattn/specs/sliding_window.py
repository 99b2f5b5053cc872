"""sliding_window: a (dilated, optionally ring-wrapped) band around each query.

Query ``i`` selects ``j = i + dilation * t`` for ``t`` in ``[-window_size, window_size]``.
Without ``wrap`` out-of-range ``j`` are dropped; with ``wrap = 1`` ``j`` is taken modulo S
(ring mode), which gives ``2 * window_size + 1`` keys whenever those ring positions are
distinct (``2 * window_size + 1 <= S / gcd(dilation, S)``); positions that coincide are kept
once. ``causal = 1`` keeps ``j <= i`` (after wrapping). Unset ``window_size`` means
:data:`DEFAULT_WINDOW`.
"""

from __future__ import annotations

import math

import numpy as np

from sattn.ir.schema import AttentionParams, Shape
from sattn.specs.selection import GroupSelection

DEFAULT_WINDOW = 64


def window(params: AttentionParams) -> int:
    """The window half-width used (the attribute, else DEFAULT_WINDOW)."""
    return DEFAULT_WINDOW if params.window_size is None else params.window_size


def select(shape: Shape, params: AttentionParams) -> GroupSelection:
    """The band of every query (shared by all KV heads)."""
    s, w, dil = shape.seq_len, window(params), params.dilation
    i = np.arange(s, dtype=np.int64)[:, None]
    if params.wrap:
        period = s // math.gcd(dil, s)  # distinct ring positions reachable from i
        t = np.arange(period) if 2 * w + 1 >= period else np.arange(-w, w + 1)
        j = np.sort((i + dil * t[None, :]) % s, axis=1)
        dup = np.zeros_like(j, dtype=bool)
        dup[:, 1:] = j[:, 1:] == j[:, :-1]
        j[dup] = -1
    else:
        w = min(w, (s - 1) // dil)  # no key lies further away
        t = np.arange(-w, w + 1, dtype=np.int64)
        j = i + dil * t[None, :]
        j[(j < 0) | (j >= s)] = -1
    if params.causal:
        j[j > i] = -1
    return GroupSelection.from_padded(j)

