"""``sattn-materialize-indices``: attach the index table or the selection plan of each op.

Static patterns get their index table, computed by :func:`sattn.specs.select_indices` (the one
source of truth):

- ``sliding_window``: the offset stencil ``j - i = dilation * t`` plus the exact pair count::

      index_table = {kind = "stencil", offsets = array<i32: -2, -1, 0, 1, 2>, wrap = 0,
                     causal = 0, rows = 128, heads = 1, nnz = 634, min_keys = 3, max_keys = 5}

- ``block_local_global`` (and ``bsr``, see below): the block CSR (query block -> key blocks)::

      index_table = {kind = "block_csr", block_size = 64, q_blocks = 2, k_blocks = 2,
                     indptr = array<i32: 0, 2, 4>, indices = array<i32: 0, 1, 0, 1>, ...}

- ``dense``: ``{kind = "dense", ...}`` (no table needed).

Data-dependent patterns (``nm_structured``, ``topk_per_query``, ``lsh``, ``landmark``, and
``bsr``, whose kept blocks depend on block scores) get a ``selection_plan`` saying what the
runtime selects on, e.g. ``{kind = "topk", k = 8, score = "group_qk", ...}``.

``bsr`` gets both: its plan, and the block table its plan yields on the deterministic
synthetic data the tools use when no tensors are given (``source = "synthetic"``). A runtime
given real tensors re-selects by the plan; the table is then only the default layout.

Tables are elided (``elided = true``, counts kept) above :data:`MAX_TABLE_ENTRIES` entries, and
the synthetic bsr table is not computed above :data:`MAX_SYNTHETIC_ELEMENTS` input elements
or when its estimated selection (:mod:`sattn.resources`) would not fit or take more than
:data:`MAX_TABLE_SECONDS`, so huge shapes stay cheap to compile. Nothing here is an enumeration of pairs: the window and
its counts come from the clamped window in closed form (:func:`sattn.specs.sliding_window.clamped`,
``window_size = 2**62`` is the whole sequence), a stencil wider than :data:`MAX_TABLE_ENTRIES`
offsets is described by its range (``offset_min``, ``offset_max``, ``offset_step``), dense
counts are ``S^2`` (``S(S+1)/2`` causal), and a block table (or a causal ring's counts) is built
only when the pattern selects at most :data:`MAX_COUNTED_PAIRS` pairs; above that the counts
are left out (``counted = 0``) and ``sattn-bufferize`` uses the pattern's bound. Results are
cached by op content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sattn import resources
from sattn.ir.attrs import UNIT, from_py, int_array
from sattn.ir.dialect import SattnOp
from sattn.ir.schema import AttentionParams
from sattn.reference.data import synthetic
from sattn.selector import Hints
from sattn.specs import pattern_of, select_indices
from sattn.specs.pattern import MAX_COUNTED_PAIRS, MAX_TABLE_ENTRIES  # noqa: F401  (documented here)
from sattn.transforms.common import AnnotatePass, selected_params

#: Largest H*S*D for which the synthetic-data bsr table is computed at compile time.
MAX_SYNTHETIC_ELEMENTS = 1 << 22
#: Longest estimated time (s) of the synthetic bsr table's selection at compile time.
MAX_TABLE_SECONDS = 2.0


@dataclass(frozen=True)
class MaterializeIndicesPass(AnnotatePass):
    """Attach index tables (static patterns) and selection plans (data-dependent ones)."""

    name = "sattn-materialize-indices"

    def record(self, op: SattnOp, context: Hints) -> dict:
        out: dict[str, Any] = {"materialized_indices": UNIT}
        table, plan = materialize(selected_params(op, context))
        if table is not None:
            # index lists are i32 arrays even when empty (a list is an array only when not)
            out["index_table"] = {k: int_array(v) if k in ("indptr", "indices") else v
                                  for k, v in table.items()}
        if plan is not None:
            out["selection_plan"] = plan
        return {k: from_py(v, k) for k, v in out.items()}


def materialize(p: AttentionParams) -> tuple[dict | None, dict | None]:
    """(index table, selection plan) for params whose ``spec`` is set (plain Python): the
    pattern's own (:meth:`~sattn.specs.pattern.Pattern.index_table`,
    :meth:`~sattn.specs.pattern.Pattern.plan`), plus, for a pattern that asks for it
    (``synthetic_table``), the table its plan yields on the synthetic data."""
    pattern = pattern_of(p.spec)
    plan = pattern.plan(p)
    table = pattern.index_table(p)
    if not getattr(pattern, "synthetic_table", False):
        return table, plan
    shape = p.shape().element  # a batch: the table of element 0 (each element selects its own)
    if shape.heads * shape.seq_len * shape.head_dim > MAX_SYNTHETIC_ELEMENTS:
        return None, {**plan, "synthetic_table": "skipped: shape too large"}
    est = resources.selection(p, shape, f"the synthetic {p.spec} table")
    if not resources.fits(est, seconds=MAX_TABLE_SECONDS):  # e.g. block_size = 1 at 64k
        return None, {**plan, "synthetic_table": "skipped: too costly to compile"}
    q, k, _ = synthetic(shape)
    return pattern.table_of(p, select_indices(p, shape, q, k), "synthetic"), plan
