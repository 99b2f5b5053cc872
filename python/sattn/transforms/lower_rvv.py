"""``sattn-lower-rvv``: the RVV pipeline.

select-spec -> lower-to-rvv -> vectorize -> bufferize. The selection options (``target``,
``prefer``, ``l1-bytes``, ``disable``, ``force``) are forwarded to ``sattn-select-spec``
(``sattn-lower-rvv{prefer=bsr}``) and ``vlen``, ``lmul`` to ``sattn-vectorize``
(``sattn-lower-rvv{vlen=512 lmul=4}``); the edge's hints reach every pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from sattn.transforms.bufferize import BufferizePass
from sattn.transforms.lower_to_rvv import LowerToRvvPass
from sattn.transforms.select_spec import PipelinePass
from sattn.transforms.vectorize import VectorizePass


@dataclass(frozen=True)
class LowerRvvPipeline(PipelinePass):
    """Select, lower to RVV calls, vectorize, bufferize."""

    name = "sattn-lower-rvv"

    vlen: int | None = None
    """Vector register length for sattn-vectorize (default: the edge's SATTN_VLEN, else 256)."""

    lmul: int | None = None
    """Register group of the kernel's strips for sattn-vectorize (1, 2, 4, 8; default 8)."""

    def stages(self) -> tuple[ModulePass, ...]:
        return (self.select_pass(), LowerToRvvPass(), VectorizePass(vlen=self.vlen, lmul=self.lmul),
                BufferizePass())

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for p in self.passes():
            p.apply(ctx, op)
