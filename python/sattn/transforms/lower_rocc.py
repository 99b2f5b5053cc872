"""``sattn-lower-rocc``: the RoCC pipeline.

select-spec -> materialize-indices -> tile -> fuse-softmax -> lower-to-rocc -> bufferize.
Selection uses the accelerator's cost weights (target ``rocc``) unless the edge or the
``target`` option says otherwise; the selection options are forwarded to
``sattn-select-spec`` (``sattn-lower-rocc{prefer=bsr l1-bytes=65536}``).
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
from sattn.transforms.select_spec import PipelinePass
from sattn.transforms.tile import TilePass


@dataclass(frozen=True)
class LowerRoccPipeline(PipelinePass):
    """Select, materialize indices, tile, fuse softmax, lower to RoCC calls, bufferize."""

    name = "sattn-lower-rocc"
    default_target = "rocc"

    def stages(self) -> tuple[ModulePass, ...]:
        return (self.select_pass(), MaterializeIndicesPass(), TilePass(), FuseSoftmaxPass(),
                LowerToRoccPass(), BufferizePass())

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for p in self.passes():
            p.apply(ctx, op)
