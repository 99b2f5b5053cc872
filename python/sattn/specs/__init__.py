"""Sparsity patterns: one module per pattern, each a small function from the shape, the
attributes and (for data-dependent patterns) Q/K to the selected keys.

:func:`select_indices` is the single entry point every consumer uses (the reference executor,
the artifact emitter, the RVV runner and the RoCC driver). Patterns compose the way
FlexAttention's mask_mods do: ``causal`` and-composes with every pattern
(:func:`sattn.specs.csr.causal`), block_local_global is the or-composition of local blocks,
global keys and global queries (:func:`sattn.specs.csr.union`), and GQA groups share one
selection (:mod:`sattn.specs.gqa`). The semantics of each pattern are in its module docstring
and in ``docs/patterns/``.
"""

from __future__ import annotations

import numpy as np

from sattn.errors import SattnError
from sattn.ir.schema import SPECS, AttentionParams, Shape
from sattn.specs.selection import GroupSelection, Selection, compress_kv

#: Patterns whose selection depends on Q and K.
DATA_DEPENDENT: frozenset[str] = frozenset(
    {"bsr", "nm_structured", "topk_per_query", "lsh", "landmark"}
)

__all__ = [
    "DATA_DEPENDENT",
    "GroupSelection",
    "Selection",
    "compress_kv",
    "needs_data",
    "one_kv_head",
    "select_indices",
]


def one_kv_head(shape: Shape) -> Shape:
    """``shape`` with one KV head (its group of query heads): what a structural pattern's
    selection, the same for every KV head, is computed on (no copy per head at any H)."""
    return Shape(heads=shape.group, seq_len=shape.seq_len, head_dim=shape.head_dim,
                 group=shape.group)


def needs_data(spec: str) -> bool:
    """True when the pattern's selection depends on Q and K."""
    return spec in DATA_DEPENDENT


def _check_data(spec: str, shape: Shape, q, k) -> None:
    if q is None or k is None:
        raise SattnError(f"spec '{spec}' selects keys from the data: pass q and k")
    want_q = (shape.heads, shape.seq_len, shape.head_dim)
    want_k = (shape.kv_heads, shape.seq_len, shape.head_dim)
    if tuple(q.shape) != want_q:
        raise SattnError(f"Q has shape {tuple(q.shape)}, expected {want_q} for spec '{spec}'")
    if tuple(k.shape) != want_k:
        raise SattnError(f"K has shape {tuple(k.shape)}, expected {want_k} for spec '{spec}'")


def select_indices(
    params: AttentionParams, shape: Shape, q: np.ndarray | None = None, k: np.ndarray | None = None
) -> Selection:
    """The selected keys of every query for ``params.spec`` (see the package docstring).

    ``q`` [H,S,D] and ``k`` [H_kv,S,D] are needed by the data-dependent patterns
    (:data:`DATA_DEPENDENT`); the precision view (bf16 rounding, i8/i4 quantisation) is applied
    here, and applying it to inputs already viewed gives the same selection.
    """
    spec = params.spec
    if spec not in SPECS:
        raise SattnError(
            f"no spec selected (got {spec!r}); choose from {', '.join(SPECS)} or run selection"
        )
    if shape.heads % shape.group:
        raise SattnError(
            f"num_heads={shape.heads} is not divisible by gqa_group_size={shape.group}"
        )
    s, g = shape.seq_len, shape.kv_heads
    common = {"spec": spec, "seq_len": s, "group_size": shape.group}

    if spec == "dense":
        from sattn.specs import dense

        return Selection(num_keys=s, groups=(dense.select(shape, params),) * g, **common)
    if spec == "sliding_window":
        from sattn.specs import sliding_window

        return Selection(num_keys=s, groups=(sliding_window.select(shape, params),) * g, **common)
    if spec == "block_local_global":
        from sattn.specs import block_local_global

        sel, table = block_local_global.select(shape, params)
        return Selection(num_keys=s, groups=(sel,) * g, block_size=params.effective_block_size(s),
                         block_table=(table,) * g, **common)

    _check_data(spec, shape, q, k)
    from sattn.specs.gqa import group_operands

    if spec == "landmark":
        from sattn.reference.precision import selection_operands
        from sattn.specs import landmark

        nl = landmark.num_landmarks(params, s)
        _, ks = selection_operands(params, q, k)
        assign = np.stack([landmark.assign(ks[i], nl, params.landmark_iters) for i in range(g)])
        groups = tuple(landmark.select(shape, params, assign[i], nl) for i in range(g))
        return Selection(num_keys=nl, groups=groups, key_space="landmarks",
                         landmark_assign=assign.astype(np.int32), **common)

    if spec == "bsr":
        from sattn.specs import bsr

        b = params.effective_block_size(s)
        tables = bsr_tables(params, shape, q, k)
        groups = tuple(bsr.expand(shape, params, t) for t in tables)
        return Selection(num_keys=s, groups=groups, block_size=b, block_table=tables, **common)

    from sattn.specs import lsh, nm_structured, topk_per_query

    module = {"nm_structured": nm_structured, "topk_per_query": topk_per_query, "lsh": lsh}[spec]
    qsum, ks = group_operands(params, shape, q, k)
    groups = tuple(module.select(shape, params, qsum[i], ks[i]) for i in range(g))
    return Selection(num_keys=s, groups=groups, **common)


def bsr_tables(
    params: AttentionParams, shape: Shape, q: np.ndarray, k: np.ndarray
) -> tuple[GroupSelection, ...]:
    """The bsr block tables (query block -> kept key blocks), one per KV head, without the
    token rows: :func:`sattn.specs.bsr.expand` turns one into its token selection."""
    from sattn.specs import bsr
    from sattn.specs.gqa import group_operands

    _check_data("bsr", shape, q, k)
    s, g = shape.seq_len, shape.kv_heads
    b = params.effective_block_size(s)
    if params.comp_block_size > 0:
        from sattn.reference.precision import resolved_scales, view
        from sattn.specs import compression

        sq, sk, _ = resolved_scales(params)
        qv = view(q, params.precision, sq).astype(np.float64)
        kv = view(k, params.precision, sk).astype(np.float64)
        grp = shape.group
        scores = [compression.importance(qv[i * grp:(i + 1) * grp], kv[i], b,
                                         params.comp_block_size, bool(params.causal))
                  for i in range(g)]
    else:
        # one KV head at a time: the same values, but float64 copies of 1/g of the data
        # (whole-tensor copies exceed malloc's reuse threshold and page-fault on every call)
        # fp32 without GQA sums: the float32 values are the float64 operands exactly, and
        # block_scores widens them block by block (no 8 MB float64 copies at all)
        one = Shape(shape.group, s, shape.head_dim, shape.group)
        as_is = (shape.group == 1 and params.precision == "fp32"
                 and q.dtype == np.float32 and k.dtype == np.float32)
        scores = []
        for i in range(g):
            if as_is:
                qsum, ks = q[i:i + 1], k[i:i + 1]
            else:
                qsum, ks = group_operands(params, one, q[i * shape.group:(i + 1) * shape.group],
                                          k[i:i + 1])
            scores.append(bsr.block_scores(qsum[0], ks[0], b))
    return tuple(bsr.table_from_scores(shape, params, sc) for sc in scores)
