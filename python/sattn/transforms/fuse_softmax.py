"""``sattn-fuse-softmax``: fuse QK^T, softmax and PV into one region with an online softmax.

The scores of a tile never reach memory: per tile of ``tile_M`` query rows the region keeps
a running max, a running sum and an fp32 accumulator ``[tile_M, D]`` and rescales them as key
tiles stream by (the FlashAttention recurrence). The record lists the stages in order --
they differ by spec and precision -- and the state the region carries::

    softmax_region = {stages = ["gather_kv", "qk", "online_softmax", "pv", "normalize"],
                      rows = 64, head_dim = 64, state_bytes = 16896,
                      unfused_score_bytes = 32768, scale = 0.125 : f64}

``unfused_score_bytes`` is the score tile (tile_M x tile_S fp32) an unfused lowering would
write and read back; ``state_bytes`` what the fused region keeps instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sattn.ir.attrs import UNIT, from_py
from sattn.ir.dialect import SattnOp
from sattn.ir.schema import DEFAULT_TILES, AttentionParams
from sattn.selector import Hints
from sattn.specs import pattern_of
from sattn.transforms.common import AnnotatePass, selected_params


@dataclass(frozen=True)
class FuseSoftmaxPass(AnnotatePass):
    """Record the fused QK -> online softmax -> PV region of each op."""

    name = "sattn-fuse-softmax"

    def record(self, op: SattnOp, context: Hints) -> dict:
        p = selected_params(op, context)
        return {"fused_softmax": UNIT, "softmax_region": from_py(softmax_region(p), "softmax_region")}


def stages(p: AttentionParams) -> list[str]:
    """The fused region's stages for a spec and precision, in execution order."""
    pre: list[str] = []
    if pattern_of(p.spec).key_space == "landmarks":
        pre.append("compress_kv")  # segment means of K/V per landmark
    if p.spec != "dense":
        pre.append("gather_kv")  # index-driven loads of the selected keys
    if p.precision == "bf16":
        pre.append("widen_bf16")
    if p.precision in ("i8", "i4"):
        core = ["qk_int32", "dequant", "online_softmax", "pv"]
    else:
        core = ["qk", "online_softmax", "pv"]
    return [*pre, *core, "normalize"]


def softmax_region(p: AttentionParams) -> dict[str, Any]:
    shape = p.shape()
    d = shape.head_dim
    # a tile never holds more rows or keys than the sequence has
    rows = min(shape.seq_len, p.tile_M or DEFAULT_TILES["tile_M"])
    keys = min(shape.seq_len, p.tile_S or DEFAULT_TILES["tile_S"])
    region: dict[str, Any] = {
        "stages": stages(p),
        "rows": rows,
        "head_dim": d,
        # running max and sum (fp32 per row) and the fp32 accumulator [rows, D]
        "state_bytes": 4 * (2 * rows + rows * d),
        "unfused_score_bytes": 4 * rows * keys,
        "scale": 1.0 / math.sqrt(d),
    }
    if p.precision in ("i8", "i4"):
        sq, sk, _ = p.scales()
        region["dequant_scale"] = float(sq * sk)
    return region
