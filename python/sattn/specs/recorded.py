"""The index table recorded on a lowered op as the selection a run uses.

A lowered file runs as written (docs/architecture.md, "The lowered IR is the contract"): the
``index_table`` of ``sattn-materialize-indices`` is an input of the run, and so are the index
runs of the ``rocc_program`` that ``sattn-rocc-program`` records on a RoCC call (the program is
planned from the table; an edited run or row pointer is a selection too, which the reference
then attends as the accelerator does; both edited and disagreeing is refused). When the recorded
table describes the selection the op's attributes give, nothing changes (every backend keeps
its own fast path); when it was edited, :func:`recorded_selection` expands the recorded table
into the :class:`Selection` the reference and the RVV kernel (table mode) then attend.

What a table kind can say:

- ``stencil`` (sliding_window): row ``i`` at position ``p = Skv - Sq + i`` (``p = i`` when
  Sq = Skv = S) selects ``p + o`` for each offset ``o`` (``offsets``, or the range
  ``offset_min..offset_max`` step ``offset_step``), taken modulo Skv with ``wrap``, dropped
  outside ``[0, Skv)`` without it, then ``j <= p`` with ``causal``.
- ``csr`` (the default table of a structural pattern): the token lists themselves (keys in
  ``[0, Skv)``).
- ``dense`` and ``block_csr`` are not expanded: a dense table holds no entries to edit, and a
  ``block_csr`` table is a cover of the token selection (block_local_global lists key block 0
  for every query block because of its global keys, and which tokens of a listed block are
  attended is the pattern's rule), so an edited entry does not say which tokens to attend.
  An edited one is refused.

The counts (``nnz``, ``min_keys``, ``max_keys``, ``nnz_blocks``, ``counted``, ``elided``) are
derived, not inputs. Data-dependent patterns run their ``selection_plan`` (bsr's table is the
layout on synthetic data, not an input); a plan that is not the one the attributes give is
refused, since the runtime selects by the attributes the plan is made from.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sattn.errors import SattnError
from sattn.hw.program import Program, layout
from sattn.ir.schema import AttentionParams, Shape
from sattn.specs import csr, pattern_of
from sattn.specs.selection import GroupSelection, Selection

#: Fields of a table that are counts (derived from the rest, never inputs).
COUNT_FIELDS = frozenset({"nnz", "min_keys", "max_keys", "nnz_blocks", "counted", "elided"})


def _norm(value: Any) -> Any:
    """Plain comparable Python (tuples of ints for arrays, dicts sorted)."""
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(_norm(v) for v in value)
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _inputs(table: dict) -> dict:
    return {k: v for k, v in _norm(table).items() if k not in COUNT_FIELDS}


def is_edited(params: AttentionParams) -> bool:
    """Whether the op's recorded index table says something else than its attributes."""
    rec = params.extra.get("index_table")
    if rec is None or pattern_of(params.spec).data_dependent:
        return False
    if not isinstance(rec, dict):
        raise SattnError(f"index_table must be a dictionary, got {rec!r}")
    own = pattern_of(params.spec).index_table(params)
    return own is None or _inputs(rec) != _inputs(own)


def check_plan(params: AttentionParams) -> None:
    """Refuse a ``selection_plan`` that is not the one the op's attributes give."""
    rec = params.extra.get("selection_plan")
    if rec is None:
        return
    own = pattern_of(params.spec).plan(params)
    if own is None or not isinstance(rec, dict) or _plan_inputs(rec) != _plan_inputs(own):
        raise SattnError(f"selection_plan {rec!r} is not the plan of the op's attributes "
                         f"({own!r}); a data-dependent pattern selects by its attributes: "
                         f"edit those")


def _plan_inputs(plan: dict) -> dict:
    """A plan without its note on the synthetic table (not an input)."""
    return {k: v for k, v in _norm(plan).items() if k != "synthetic_table"}


def recorded_selection(params: AttentionParams, shape: Shape) -> Selection | None:
    """The selection of the op's edited records (None: none was edited -- run the pattern as
    usual): its ``index_table`` when that was edited, else the index runs of its
    ``rocc_program`` when those were (:func:`program_selection`)."""
    table = _table_selection(params, shape)
    from_program = program_selection(params, shape)
    if from_program is None or same_selection(from_program, table or _own(params, shape)):
        return table
    if table is not None and not same_selection(from_program, _own(params, shape)):
        raise SattnError("the index_table and the rocc_program's index runs were both edited "
                         "and disagree: edit one of them, or lower the file again")
    return table or from_program


def _own(params: AttentionParams, shape: Shape) -> Selection:
    """The selection the op's attributes give."""
    return pattern_of(params.spec).select(params, shape, None, None)


def same_selection(a: Selection, b: Selection) -> bool:
    """Whether two selections attend the same keys from every row of every KV head."""
    return a.num_keys == b.num_keys and len(a.groups) == len(b.groups) and all(
        np.array_equal(x.indptr, y.indptr) and np.array_equal(x.indices, y.indices)
        for x, y in zip(a.groups, b.groups))


def program_selection(params: AttentionParams, shape: Shape) -> Selection | None:
    """The keys the op's recorded ``rocc_program`` attends (:meth:`Program.selection`), one
    batch element's (the program of an op of B elements holds every element's jobs, which must
    agree), for a static pattern whose program is recorded whole for operands of ``shape`` (of
    one element or the batch; None otherwise:
    an op that fixes no shape is lowered for the default one, and inputs of another shape are
    not what its program was planned for)."""
    rec = params.extra.get("rocc_program")
    if not isinstance(rec, dict) or "commands" not in rec or pattern_of(params.spec).data_dependent:
        return None
    prog = Program.from_record(rec, {})
    # the program of an op of B elements covers the batch (``shape`` may be one element's)
    batch = max(shape.batch, params.batch or 1)
    run = layout(shape.heads, shape.kv_heads, shape.seq_len, shape.kv_len, shape.head_dim,
                 params.precision, head_dim_v=shape.head_dim_v, batch=batch)
    if not prog.layout.same_sizes(run):  # planned for another shape (the op fixed none)
        return None
    decoded = prog.selection(batch * shape.kv_heads, shape.seq_len)
    groups = tuple(GroupSelection(indptr, indices.astype(np.int32))
                   for indptr, indices in decoded[: shape.kv_heads])
    # a batch's program (one per op) lists every element's jobs: a structural selection is
    # the same for every element, and so must an edited one be
    for e in range(1, batch):
        other = decoded[e * shape.kv_heads: (e + 1) * shape.kv_heads]
        if not all(np.array_equal(g.indptr, ip) and np.array_equal(g.indices, ix)
                   for g, (ip, ix) in zip(groups, other)):
            raise SattnError(f"the rocc_program's index runs select other keys for batch element "
                             f"{e} than for element 0: a static pattern's selection serves every "
                             "element; edit every element's jobs alike")
    return Selection(spec=params.spec, seq_len=shape.seq_len, num_keys=shape.kv_len,
                     group_size=shape.group, groups=groups)


def _table_selection(params: AttentionParams, shape: Shape) -> Selection | None:
    """The selection of the op's edited recorded index table (None: no table, or the table
    the attributes give)."""
    check_plan(params)
    if not is_edited(params):
        return None
    rec = _norm(params.extra["index_table"])
    kind = rec.get("kind")
    where = f"index_table (kind = {kind!r})"
    s = shape.seq_len
    if rec.get("rows", s) != s:
        raise SattnError(f"{where} has rows = {rec['rows']}, but the op has S = {s}")
    if rec.get("heads", shape.kv_heads) != shape.kv_heads:
        raise SattnError(f"{where} has heads = {rec['heads']}, but the op has "
                         f"{shape.kv_heads} KV heads")
    if kind == "stencil":
        group = _stencil(rec, s, where, shape.kv_len)
    elif kind == "csr":
        group = _csr(rec, s, where, shape.kv_len)
    else:
        raise SattnError(f"{where} was edited, but a {kind!r} table is not a selection a run "
                         f"can take (sattn.specs.recorded): edit the op's attributes instead")
    return Selection(spec=params.spec, seq_len=s, num_keys=shape.kv_len, group_size=shape.group,
                     groups=(group,) * shape.kv_heads)


def _ints(rec: dict, name: str, where: str) -> tuple[int, ...]:
    v = rec.get(name)
    if not isinstance(v, tuple) or not all(isinstance(x, int) for x in v):
        raise SattnError(f"{where}: {name} must be an array of integers, got {v!r}")
    return v


def _stencil(rec: dict, s: int, where: str, n: int) -> GroupSelection:
    if "offsets" in rec:
        offsets = np.array(_ints(rec, "offsets", where), dtype=np.int64)
    else:
        lo, hi, step = (rec.get(k) for k in ("offset_min", "offset_max", "offset_step"))
        if not all(isinstance(x, int) for x in (lo, hi, step)) or step <= 0:
            raise SattnError(f"{where}: needs offsets, or offset_min/offset_max/offset_step")
        offsets = np.arange(lo, hi + 1, step, dtype=np.int64)
    if len(offsets) * s > 1 << 26:
        raise SattnError(f"{where}: {len(offsets)} offsets over {s} rows is too many pairs")
    rows = np.repeat(np.arange(s, dtype=np.int64), len(offsets))
    cols = rows + (n - s) + np.tile(offsets, s)  # around each row's position
    if rec.get("wrap"):
        cols %= n
    else:
        keep = (cols >= 0) & (cols < n)
        rows, cols = rows[keep], cols[keep]
    group = _unique_rows(rows, cols, s, n)
    return csr.causal(group, n - s) if rec.get("causal") else group


def _unique_rows(rows: np.ndarray, cols: np.ndarray, s: int, n: int) -> GroupSelection:
    """CSR of the (row, col) pairs over ``s`` rows and ``n`` keys, ascending and unique within
    each row."""
    key = np.unique(rows * n + cols)
    r, c = key // n, key % n
    indptr = np.zeros(s + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=s), out=indptr[1:])
    return GroupSelection(indptr, c.astype(np.int32))


def _csr(rec: dict, s: int, where: str, n: int) -> GroupSelection:
    indptr = np.array(_ints(rec, "indptr", where), dtype=np.int64)
    indices = np.array(_ints(rec, "indices", where), dtype=np.int64)
    if len(indptr) != s + 1 or indptr[0] != 0 or indptr[-1] != len(indices) \
            or np.any(np.diff(indptr) < 0):
        raise SattnError(f"{where}: indptr must rise from 0 to len(indices) = {len(indices)} "
                         f"over {s + 1} entries")
    if len(indices) and (indices.min() < 0 or indices.max() >= n):
        raise SattnError(f"{where}: indices must lie in [0, {n})")
    rows = np.repeat(np.arange(s, dtype=np.int64), np.diff(indptr))
    if len(indices) > 1 and np.any((np.diff(indices) <= 0) & (np.diff(rows) == 0)):
        raise SattnError(f"{where}: the keys of each row must be ascending and unique")
    return GroupSelection(indptr, indices.astype(np.int32))
