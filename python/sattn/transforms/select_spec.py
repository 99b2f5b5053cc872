"""``sattn-select-spec``: run the selector on every ``sattn.sparse_attention`` and record it.

Sets ``spec`` (the selected pattern) and ``spec_rule`` (the rule that decided, one of
:data:`sattn.selector.RULES`). Hints come from the environment (SATTN_FORCE_SPEC,
SATTN_PREFER_*, SATTN_HW_L1_BYTES, SATTN_DISABLE_*). Running it again is a no-op: the recorded
``spec`` is then an explicit override.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.passes import ModulePass

from sattn.ir.dialect import SparseAttentionOp
from sattn.selector import Hints
from sattn.transforms.common import (
    ContentCache,
    attention_ops,
    decision_for,
    params_of,
)

_CACHE = ContentCache("sattn-select-spec")


@dataclass(frozen=True)
class SelectSpecPass(ModulePass):
    """Select the sparsity pattern of each attention op."""

    name = "sattn-select-spec"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        hints = Hints.from_env()
        for attn in attention_ops(op, (SparseAttentionOp,)):
            _CACHE.apply(attn, (hints,), lambda o: _record(o, hints))


def _record(attn: SparseAttentionOp, hints: Hints) -> dict:
    d = decision_for(params_of(attn), hints)
    if d.rule == "attr_spec" and "spec_rule" in attn.attributes:
        return {}  # already selected by an earlier run: keep its rule
    return {"spec": StringAttr(d.spec), "spec_rule": StringAttr(d.rule)}
