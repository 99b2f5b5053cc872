"""Sparsity patterns: one module per pattern, each exporting ONE registered object.

Every ``specs/<pattern>.py`` defines the pattern's semantics as small functions and exports
``PATTERN``, a :class:`sattn.specs.pattern.Pattern` registered in :mod:`sattn.ir.patterns`
(importing this package registers the built-ins, in the spec's order). The object owns
everything about its pattern (see :mod:`sattn.specs.pattern`); consumers ask the registry
(:func:`pattern_of`, :func:`sattn.ir.patterns.patterns`) and never branch on names.

:func:`select_indices` is the single entry point every consumer uses for a selection (the
reference executor, the artifact emitter, the RVV runner and the RoCC driver). Patterns
compose the way FlexAttention's mask_mods do: ``causal`` and-composes with every pattern
(:func:`sattn.specs.csr.causal`), block_local_global is the or-composition of local blocks,
global keys and global queries (:func:`sattn.specs.csr.union`), and GQA groups share one
selection (:mod:`sattn.specs.gqa`). The semantics of each pattern are in its module docstring
and in ``docs/patterns/``.
"""

from __future__ import annotations

import numpy as np

from sattn.errors import SattnError
from sattn.ir import patterns as registry
from sattn.ir.schema import AttentionParams, Shape

# the built-in patterns, registered in the spec's order (the selector's forcing rules follow
# it); nsa's rule (select_blocks) comes after the spec's own rules
# isort: off
from sattn.specs import (  # noqa: F401  (registration)
    sliding_window,
    bsr,
    block_local_global,
    nm_structured,
    topk_per_query,
    lsh,
    landmark,
    dense,
    nsa,
)
# isort: on
from sattn.specs.pattern import Pattern, one_kv_head
from sattn.specs.selection import GroupSelection, Selection, compress_kv

__all__ = [
    "GroupSelection",
    "Pattern",
    "Selection",
    "bsr_tables",
    "compress_kv",
    "data_dependent",
    "needs_data",
    "one_kv_head",
    "pattern_of",
    "select_indices",
]


def pattern_of(spec: str | None) -> Pattern:
    """The registered pattern called ``spec`` (a one-line SattnError when there is none)."""
    return registry.get(spec)


def needs_data(spec: str) -> bool:
    """True when the pattern's selection depends on Q and K."""
    return pattern_of(spec).data_dependent


def data_dependent() -> frozenset[str]:
    """The names of the registered data-dependent patterns."""
    return frozenset(p.name for p in registry.patterns() if p.data_dependent)


def select_indices(
    params: AttentionParams, shape: Shape, q: np.ndarray | None = None, k: np.ndarray | None = None
) -> Selection:
    """The selected keys of every query for ``params.spec`` (see the package docstring).

    ``q`` [H,S,D] and ``k`` [H_kv,S,D] are needed by the data-dependent patterns; the
    precision view (bf16 rounding, i8/i4 quantisation) is applied here, and applying it to
    inputs already viewed gives the same selection.
    """
    pattern = pattern_of(params.spec)
    if shape.heads % shape.group:
        raise SattnError(
            f"num_heads={shape.heads} is not divisible by gqa_group_size={shape.group}"
        )
    if q is not None and np.ndim(q) != 3:
        # a selection is one batch element's (data-dependent patterns select per element;
        # a structural selection, made without data, serves every element)
        raise SattnError(f"selection: one batch element at a time (Q shape {tuple(q.shape)}): "
                         "select each element's [H, S, D] Q and K")
    return pattern.select(params, shape, q, k)


def bsr_tables(
    params: AttentionParams, shape: Shape, q: np.ndarray, k: np.ndarray
) -> tuple[GroupSelection, ...]:
    """The bsr block tables (:func:`sattn.specs.bsr.tables`)."""
    return bsr.tables(params, shape, q, k)


def __getattr__(name: str):
    if name == "DATA_DEPENDENT":  # the registered data-dependent pattern names
        return data_dependent()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
