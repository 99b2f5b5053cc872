"""``sattn-select-spec``: run the selector on every ``sattn.sparse_attention`` and record it.

Sets ``spec`` (the selected pattern) and ``spec_rule`` (the rule that decided, one of
:data:`sattn.selector.RULES`). Hints come from the environment (SATTN_FORCE_SPEC,
SATTN_PREFER_*, SATTN_HW_L1_BYTES, SATTN_DISABLE_*, SATTN_TARGET). Running it again is a no-op:
the recorded ``spec`` is then an explicit override.

Option ``target`` (``sattn-select-spec{target=reference}``): what the cost model selects for --
``rvv``, ``rocc`` or ``reference`` (:data:`sattn.selector.TARGETS`). It beats SATTN_TARGET;
without either the target is the pipeline's own (``rocc`` inside ``sattn-lower-rocc``), else
``rvv`` (``sattn-lower-rvv`` is the spec's main pipeline).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from xdsl.dialects.builtin import StringAttr

from sattn.ir.dialect import SattnOp, SparseAttentionOp
from sattn.selector import Hints, check_target
from sattn.transforms.common import AnnotatePass, decision_for, params_of


@dataclass(frozen=True)
class SelectSpecPass(AnnotatePass):
    """Select the sparsity pattern of each attention op."""

    name = "sattn-select-spec"
    kinds = (SparseAttentionOp,)

    target: str | None = None
    """What to select for: rvv, rocc or reference (default: SATTN_TARGET, else rvv)."""

    default_target: str | None = None
    """The target when neither the option nor SATTN_TARGET names one (set by the pipelines)."""

    def context(self) -> Hints:
        hints = Hints.from_env()
        if self.target is not None:
            return replace(
                hints, target=check_target(str(self.target), "sattn-select-spec option target")
            )
        if self.default_target is not None and not os.environ.get("SATTN_TARGET", "").strip():
            return replace(hints, target=self.default_target)
        return hints

    def record(self, op: SattnOp, context: Hints) -> dict:
        d = decision_for(params_of(op), context)
        if d.rule == "attr_spec" and "spec_rule" in op.attributes:
            return {}  # already selected by an earlier run: keep its rule
        return {"spec": StringAttr(d.spec), "spec_rule": StringAttr(d.rule)}
