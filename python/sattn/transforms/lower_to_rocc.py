"""``sattn-lower-to-rocc``: ``sattn.sparse_attention`` -> ``sattn.rocc_call``.

What the call carries: see :class:`sattn.transforms.common.LowerPass`, and the accelerator's
command stream, ``rocc_program`` (:mod:`sattn.transforms.rocc_program`): what the RoCC backend
runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp

from sattn.ir.dialect import RoccCallOp
from sattn.selector import Hints
from sattn.transforms.common import LowerPass
from sattn.transforms.rocc_program import record_programs


@dataclass(frozen=True)
class LowerToRoccPass(LowerPass):
    """Lower attention ops to RoCC accelerator calls, each with its command stream."""

    name = "sattn-lower-to-rocc"
    target = RoccCallOp

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        super().apply(ctx, op)
        record_programs(op, self.edge or Hints())
