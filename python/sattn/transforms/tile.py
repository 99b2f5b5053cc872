"""``sattn-tile``: fill tile sizes and compute the tile grid of the attention loop nest.

Missing ``tile_M``/``tile_D``/``tile_S`` get the defaults (64, 64, 128). The loop nest runs
over the batch (recorded as ``batch`` when the operands have rank 4), KV heads, query-row tiles (``m``, tile_M rows of S), key tiles (``s``, tile_S keys of S)
and head-dimension tiles (``d``, tile_D of D). The record gives each loop's trip count and the
size of its last, partial tile (``*_rem``, 0 when the tile divides the extent)::

    tile_grid = {kv_heads = 1, m_tiles = 2, m_rem = 0, s_tiles = 1, s_rem = 0, d_tiles = 1,
                 d_rem = 0, tiles = 2, active_tiles = 2, active_source = "structural"}

``active_tiles`` counts the (m, s) tile pairs holding at least one selected key, from the index
selection of static (structural) patterns -- the tiles a
tile-skipping loop visits; data-dependent patterns report every pair (``upper_bound``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from xdsl.dialects.builtin import IntegerAttr, i64

from sattn.ir.attrs import UNIT, from_py
from sattn.ir.dialect import SattnOp
from sattn.ir.schema import DEFAULT_TILES, AttentionParams
from sattn.selector import Hints
from sattn.specs import one_kv_head, pattern_of, select_indices
from sattn.transforms.common import AnnotatePass, params_of, spec_of

#: Above this many selected pairs the active-tile count is not computed at compile time.
MAX_PAIRS_FOR_ACTIVE = 1 << 24


@dataclass(frozen=True)
class TilePass(AnnotatePass):
    """Fill default tile sizes and attach the tile grid."""

    name = "sattn-tile"

    def record(self, op: SattnOp, context: Hints) -> dict:
        p = params_of(op)
        out: dict[str, Any] = {}
        for name, default in DEFAULT_TILES.items():
            if getattr(p, name) is None:
                out[name] = IntegerAttr(default, i64)
        p = p.replace(spec=spec_of(op, p, context), **{k: v.value.data for k, v in out.items()})
        out["tiled"] = UNIT
        out["tile_grid"] = from_py(tile_grid(p), "tile_grid")
        return out


def tile_grid(p: AttentionParams) -> dict[str, Any]:
    """The tile grid for params with tiles and spec set (plain Python)."""
    shape = p.shape()
    s, n, d = shape.seq_len, shape.kv_len, shape.head_dim
    tm, ts, td = p.tile_M, p.tile_S, p.tile_D
    assert tm and ts and td
    grid: dict[str, Any] = {"batch": p.batch} if p.batch else {}  # the outermost loop
    grid |= {
        "kv_heads": shape.kv_heads,
        "m_tiles": math.ceil(s / tm), "m_rem": s % tm,
        # key tiles cover the Skv keys (Skv = Sq for self-attention)
        "s_tiles": math.ceil(n / ts), "s_rem": n % ts,
        "d_tiles": math.ceil(d / td), "d_rem": d % td,
    }
    grid["tiles"] = grid["m_tiles"] * grid["s_tiles"]
    active = None if pattern_of(p.spec).data_dependent else _active_tiles(p, tm, ts)
    if active is None:
        grid["active_tiles"], grid["active_source"] = grid["tiles"], "upper_bound"
    else:
        grid["active_tiles"], grid["active_source"] = active, "structural"
    return grid


def _active_tiles(p: AttentionParams, tm: int, ts: int) -> int | None:
    shape = p.shape()
    s, n = shape.seq_len, shape.kv_len
    # a pattern's pair_bound is over a square S x S; with Sq != Skv the bound is Sq x Skv
    bound = pattern_of(p.spec).pair_bound(p, s) if not shape.offset else s * n
    if bound > MAX_PAIRS_FOR_ACTIVE:
        return None
    g = select_indices(p, one_kv_head(shape)).groups[0]  # static: the same for every KV head
    rows = np.repeat(np.arange(g.rows, dtype=np.int64) // tm, g.counts())
    cols = g.indices.astype(np.int64) // ts
    return len(np.unique(rows * math.ceil(n / ts) + cols))
