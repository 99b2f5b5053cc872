"""``sattn-lower-to-rocc``: ``sattn.sparse_attention`` -> ``sattn.rocc_call``.

What the call carries: see :class:`sattn.transforms.common.LowerPass`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sattn.ir.dialect import RoccCallOp
from sattn.transforms.common import LowerPass


@dataclass(frozen=True)
class LowerToRoccPass(LowerPass):
    """Lower attention ops to RoCC accelerator calls."""

    name = "sattn-lower-to-rocc"
    target = RoccCallOp
