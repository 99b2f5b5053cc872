"""``sattn-select-spec``: run the selector on every ``sattn.sparse_attention`` and record it.

Sets ``spec`` (the selected pattern) and ``spec_rule`` (the rule that decided, one of
:data:`sattn.selector.RULES`). Hints come from the environment (SATTN_FORCE_SPEC,
SATTN_PREFER_*, SATTN_HW_L1_BYTES, SATTN_DISABLE_*). Running it again is a no-op: the recorded
``spec`` is then an explicit override.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects.builtin import StringAttr

from sattn.ir.dialect import SattnOp, SparseAttentionOp
from sattn.selector import Hints
from sattn.transforms.common import AnnotatePass, decision_for, params_of


@dataclass(frozen=True)
class SelectSpecPass(AnnotatePass):
    """Select the sparsity pattern of each attention op."""

    name = "sattn-select-spec"
    kinds = (SparseAttentionOp,)

    def record(self, op: SattnOp, context: Hints) -> dict:
        d = decision_for(params_of(op), context)
        if d.rule == "attr_spec" and "spec_rule" in op.attributes:
            return {}  # already selected by an earlier run: keep its rule
        return {"spec": StringAttr(d.spec), "spec_rule": StringAttr(d.rule)}
