"""``sattn-select-spec``: run the selector on every ``sattn.sparse_attention`` and record it.

Sets ``spec`` (the selected pattern) and ``spec_rule`` (the rule that decided, one of
:data:`sattn.selector.RULES`). Running it again is a no-op: the recorded ``spec`` is then an
explicit override. Every later pass and every backend reads the recorded ``spec`` and never
selects again.

Options (each beats the edge's value; the edge is the command line or the API call, which
turns the spec's environment variables and the tools' flags into the same hints):

- ``target=rvv|rocc|reference``: what the cost model selects for (default: the edge's
  SATTN_TARGET, else the pipeline's own target -- ``rocc`` inside ``sattn-lower-rocc`` --
  else ``rvv``);
- ``prefer=bsr|sw|none``: the SATTN_PREFER_BSR / SATTN_PREFER_SW nudge;
- ``l1-bytes=N``: the L1 size of the block cache-fit heuristic (SATTN_HW_L1_BYTES);
- ``disable=sliding_window,nm``: patterns (names or their keys sw, bsr, blg, nm, topk, lsh,
  landmark) left out of selection, added to SATTN_DISABLE_*;
- ``force=<spec>``: SATTN_FORCE_SPEC;
- ``max-error-data=<file>``: SATTN_MAX_ERROR_DATA (the ``.safetensors`` q, k, v the
  ``max_error`` budget's errors are measured on).

``sattn-select-spec{target=rocc prefer=bsr l1-bytes=65536 disable=sliding_window,nm}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from xdsl.dialects.builtin import StringAttr
from xdsl.passes import ModulePass

from sattn.ir.dialect import SattnOp, SparseAttentionOp
from sattn.selector import Hints
from sattn.transforms.common import AnnotatePass, decision_for, params_of, with_edge


@dataclass(frozen=True)
class SelectionOptions:
    """The selection options, declared once: the fields of :class:`SelectSpecPass` and of every
    named pipeline (:class:`PipelinePass`), which forwards them to its select-spec stage. xDSL
    reads a pass's options from its dataclass fields (``l1_bytes`` is spelled ``l1-bytes`` in a
    pipeline string)."""

    target: str | None = None
    """What to select for: rvv, rocc or reference (default: the edge's, else rvv)."""

    prefer: str | None = None
    """bsr, sw or none: the preference nudge (default: the edge's)."""

    l1_bytes: int | None = None
    """L1 data-cache bytes of the block cache-fit heuristic (default: the edge's, else 32768)."""

    disable: tuple[str, ...] = ()
    """Patterns left out of selection (names or keys), added to the edge's."""

    force: str | None = None
    """A spec that wins over every rule (default: the edge's SATTN_FORCE_SPEC)."""

    max_error_data: str | None = None
    """The .safetensors file of the max_error estimates (default: the edge's)."""

    def selection_options(self) -> dict[str, Any]:
        """The options by field name (what a pipeline forwards to sattn-select-spec)."""
        return {f.name: getattr(self, f.name) for f in fields(SelectionOptions)}


@dataclass(frozen=True)
class SelectSpecPass(SelectionOptions, AnnotatePass):
    """Select the sparsity pattern of each attention op."""

    name = "sattn-select-spec"
    kinds = (SparseAttentionOp,)

    default_target: str | None = None
    """The target when neither the option nor the edge names one (set by the pipelines)."""

    def hints(self) -> Hints:
        """The hints this run selects with: the edge's, with the options applied."""
        base = self.edge or Hints()
        if self.target is None and self.default_target is not None and not base.explicit_target:
            base = base.with_options(target=self.default_target)
        disable = (self.disable,) if isinstance(self.disable, str) else self.disable
        return base.with_options(target=self.target, prefer=self.prefer, l1_bytes=self.l1_bytes,
                                 disable=tuple(disable), force=self.force,
                                 max_error_data=self.max_error_data)

    def context(self) -> Hints:
        return self.hints()

    def record(self, op: SattnOp, context: Hints) -> dict:
        d = decision_for(params_of(op), context)
        if d.rule == "attr_spec" and "spec_rule" in op.attributes:
            return {}  # already selected by an earlier run: keep its rule
        return {"spec": StringAttr(d.spec), "spec_rule": StringAttr(d.rule)}


@dataclass(frozen=True)
class PipelinePass(SelectionOptions, ModulePass):
    """A named pipeline: its selection options are ``sattn-select-spec``'s, forwarded to the
    select-spec stage; the edge's hints reach every stage."""

    default_target: ClassVar[str | None] = None

    edge: Hints | None = field(default=None, init=False, compare=False, repr=False)
    """The edge's hints (see :class:`~sattn.transforms.common.AnnotatePass`)."""

    def select_pass(self) -> SelectSpecPass:
        return SelectSpecPass(**self.selection_options(), default_target=self.default_target)

    def stages(self) -> tuple[ModulePass, ...]:
        """The passes of the pipeline, in order."""
        raise NotImplementedError

    def passes(self) -> tuple[ModulePass, ...]:
        """The stages, each carrying the edge's hints."""
        return tuple(with_edge(p, self.edge) for p in self.stages())
