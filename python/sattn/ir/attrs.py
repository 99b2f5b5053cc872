"""Plain-Python values <-> xDSL attributes, and the vocabulary passes add to sattn ops.

The schema (:mod:`sattn.ir.schema`) speaks plain Python. This module is the one bridge: the
dialect verifier reads attributes through :func:`to_py`, the passes write their records through
:func:`from_py`. Integers of any width read as ``int``, floats of any width as ``float``,
``true``/``false`` (i1) as ``int`` 0/1 so that ``causal = true`` works, unit attributes as
``True``.
"""

from __future__ import annotations

from typing import Any

from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseArrayBase,
    DictionaryAttr,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    StringAttr,
    UnitAttr,
    f64,
    i32,
    i64,
)
from xdsl.ir import Attribute

from sattn.errors import SattnError
from sattn.ir import patterns as _patterns

#: Attributes the passes attach to a ``sattn.sparse_attention`` before lowering (and which the
#: lowered calls keep). The verifier accepts exactly these beyond the schema; each one is the
#: record of work a pass did.
PASS_ATTRS: dict[str, str] = {
    "spec_rule": "sattn-select-spec: the selector rule that decided `spec`",
    "materialized_indices": "sattn-materialize-indices: marker; see index_table / selection_plan",
    "index_table": "sattn-materialize-indices: the static index table (stencil or block CSR)",
    "selection_plan": "sattn-materialize-indices: what the runtime selects on (data-dependent specs)",
    "tiled": "sattn-tile: marker; see tile_grid",
    "tile_grid": "sattn-tile: tile counts, remainders and active tiles of the loop nest",
    "fused_softmax": "sattn-fuse-softmax: marker; see softmax_region",
    "softmax_region": "sattn-fuse-softmax: the fused QK -> online softmax -> PV region",
    "vectorized": "sattn-vectorize: marker; see vector_strips",
    "vector_strips": "sattn-vectorize: RVV strip sizes (VLEN, SEW, LMUL, elements per strip)",
    "bufferized": "sattn-bufferize: marker; see buffers",
    "buffers": "sattn-bufferize: buffer sizes in bytes",
    "buffer_layout": "sattn-bufferize: memory layout of every buffer",
}

#: Attributes only lowered calls carry (beyond the source op's), besides the per-spec flags
#: (:func:`spec_flags`).
TILE_CALL_ATTRS: dict[str, str] = {
    "m_rows": "query rows per tile (tile_M, default 64)",
    "head_dim_d": "head-dimension tile (tile_D, default 64)",
    "s_tokens": "key tile / tokens (tile_S, default 128)",
}


def spec_flags() -> dict[str, str]:
    """Per-spec flags a lowering adds to the call (the spec's "per-spec hooks"): each
    registered pattern's ``call_flag``, spec -> flag."""
    return {p.name: p.call_flag for p in _patterns.patterns() if p.call_flag}


_CALL_ATTRS: tuple[int, dict[str, str]] = (-1, {})


def call_attrs() -> dict[str, str]:
    """Attributes only lowered calls carry: the tiles and every registered pattern's flag
    (cached until the registry changes: the verifier asks for every attribute of every op)."""
    global _CALL_ATTRS
    v = _patterns.version()
    if _CALL_ATTRS[0] != v:
        _CALL_ATTRS = (v, {**TILE_CALL_ATTRS,
                           **{flag: f"set when spec = {spec}" for spec, flag in spec_flags().items()}})
    return _CALL_ATTRS[1]


def to_py(attr: Attribute) -> Any:
    """The plain-Python value of an attribute (unknown kinds come back as the attribute)."""
    if isinstance(attr, IntegerAttr):
        if isinstance(attr.type, IntegerType) and attr.type.width.data == 1:
            return int(attr.value.data != 0)  # `true` is stored as -1 in a signless i1
        return attr.value.data
    if isinstance(attr, FloatAttr):
        return attr.value.data
    if isinstance(attr, StringAttr):
        return attr.data
    if isinstance(attr, UnitAttr):
        return True
    if isinstance(attr, DenseArrayBase):
        return list(attr.iter_values())
    if isinstance(attr, DictionaryAttr):
        return {k: to_py(v) for k, v in attr.data.items()}
    if isinstance(attr, ArrayAttr):
        return [to_py(v) for v in attr.data]
    return attr


def from_py(value: Any, _path: str = "") -> Attribute:
    """An attribute for a plain-Python value: bool -> i1, int -> i64, float -> f64, str,
    dict -> dictionary, list of ints -> ``array<i32: ...>`` (``array<i64>`` when a value does
    not fit), other lists -> ``[...]``. An integer beyond i64 (a record of a shape too large
    to compile, e.g. buffer bytes of ``seq_len = 2**62``) is a one-line SattnError naming it."""
    if isinstance(value, Attribute):
        return value
    if isinstance(value, bool):
        return IntegerAttr.from_bool(value)
    if isinstance(value, int):
        _check_i64(value, _path)
        return IntegerAttr(value, i64)
    if isinstance(value, float):
        return FloatAttr(value, f64)
    if isinstance(value, str):
        return StringAttr(value)
    if isinstance(value, dict):
        return DictionaryAttr({k: from_py(v, f"{_path}.{k}" if _path else k) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            fits = all(-(2**31) <= v < 2**31 for v in value)
            for v in value:
                _check_i64(v, _path)
            return DenseArrayBase.from_list(i32 if fits else i64, list(value))
        return ArrayAttr([from_py(v, _path) for v in value])
    raise TypeError(f"no attribute for {type(value).__name__} {value!r}")


def _check_i64(value: int, path: str) -> None:
    if not -(2**63) <= value < 2**63:
        raise SattnError(f"record '{path or 'value'}' = {value} does not fit a 64-bit integer: "
                         "the op's shape or attributes are too large to compile")


def int_array(values: Any) -> Attribute:
    """``array<i32: ...>`` from any integer sequence (numpy arrays included)."""
    return DenseArrayBase.from_list(i32, [int(v) for v in values])


UNIT = UnitAttr()
TRUE: Attribute = IntegerAttr.from_bool(True)

__all__ = [
    "PASS_ATTRS",
    "TILE_CALL_ATTRS",
    "TRUE",
    "UNIT",
    "call_attrs",
    "from_py",
    "int_array",
    "spec_flags",
    "to_py",
]
