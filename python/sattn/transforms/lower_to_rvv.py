"""``sattn-lower-to-rvv``: ``sattn.sparse_attention`` -> ``sattn.rvv_call``.

The call keeps every attribute of the source op and adds the selected ``spec`` (selecting it
when ``sattn-select-spec`` did not run), ``spec_rule``, the per-spec flag (``blg_enabled``,
``nm_enabled``, ``topk_enabled``, ``lsh_enabled``, ``landmark_enabled``) and
``m_rows``/``head_dim_d``/``s_tokens`` (tile_M/tile_D/tile_S or their defaults). Q, K, V
operands and the result are forwarded.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from sattn.ir.dialect import RvvCallOp
from sattn.transforms.common import lower_ops


@dataclass(frozen=True)
class LowerToRvvPass(ModulePass):
    """Lower attention ops to RVV kernel calls."""

    name = "sattn-lower-to-rvv"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        lower_ops(op, RvvCallOp)
