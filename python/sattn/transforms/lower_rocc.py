"""``sattn-lower-rocc``: the RoCC pipeline.

select-spec -> materialize-indices -> tile -> fuse-softmax -> lower-to-rocc -> bufferize.
Selection uses the accelerator's cost weights (target ``rocc``) unless SATTN_TARGET says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from sattn.transforms.bufferize import BufferizePass
from sattn.transforms.fuse_softmax import FuseSoftmaxPass
from sattn.transforms.lower_to_rocc import LowerToRoccPass
from sattn.transforms.materialize_indices import MaterializeIndicesPass
from sattn.transforms.select_spec import SelectSpecPass
from sattn.transforms.tile import TilePass


@dataclass(frozen=True)
class LowerRoccPipeline(ModulePass):
    """Select, materialize indices, tile, fuse softmax, lower to RoCC calls, bufferize."""

    name = "sattn-lower-rocc"

    def passes(self) -> tuple[ModulePass, ...]:
        return (SelectSpecPass(default_target="rocc"), MaterializeIndicesPass(), TilePass(), FuseSoftmaxPass(),
                LowerToRoccPass(), BufferizePass())

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for p in self.passes():
            p.apply(ctx, op)
