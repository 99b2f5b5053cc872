"""``sattn-lower-rvv``: the RVV pipeline.

select-spec -> lower-to-rvv -> vectorize -> bufferize. The ``vlen`` option is forwarded to
``sattn-vectorize`` (``sattn-lower-rvv{vlen=512}``).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from sattn.transforms.bufferize import BufferizePass
from sattn.transforms.lower_to_rvv import LowerToRvvPass
from sattn.transforms.select_spec import SelectSpecPass
from sattn.transforms.vectorize import VectorizePass


@dataclass(frozen=True)
class LowerRvvPipeline(ModulePass):
    """Select, lower to RVV calls, vectorize, bufferize."""

    name = "sattn-lower-rvv"

    vlen: int | None = None
    """Vector register length for sattn-vectorize (default: SATTN_VLEN, else 256)."""

    def passes(self) -> tuple[ModulePass, ...]:
        return (SelectSpecPass(), LowerToRvvPass(), VectorizePass(vlen=self.vlen), BufferizePass())

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for p in self.passes():
            p.apply(ctx, op)
