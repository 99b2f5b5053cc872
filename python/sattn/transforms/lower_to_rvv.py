"""``sattn-lower-to-rvv``: ``sattn.sparse_attention`` -> ``sattn.rvv_call``.

What the call carries: see :class:`sattn.transforms.common.LowerPass`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sattn.ir.dialect import RvvCallOp
from sattn.transforms.common import LowerPass


@dataclass(frozen=True)
class LowerToRvvPass(LowerPass):
    """Lower attention ops to RVV kernel calls."""

    name = "sattn-lower-to-rvv"
    target = RvvCallOp
