"""What every sattn pass shares: finding the ops, the spec of an op, and a content cache.

Each pass computes a small record (new attributes) from an op's *content* -- its attribute
dictionary and operand types -- so a module of 10,000 ops with a few hundred distinct
dictionaries costs a few hundred computations and 10,000 dictionary look-ups. Passes update
attributes in place and replace ops directly; they do not use the greedy rewrite driver.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Attribute

from sattn.errors import SattnError
from sattn.ir.dialect import SattnOp, SparseAttentionOp, located, location_of
from sattn.ir.schema import AttentionParams
from sattn.selector import Decision, Hints, select_spec

_CACHE_LIMIT = 8192


class ContentCache:
    """Results of ``compute(op)`` keyed by (extra key, op name, attributes, operand types)."""

    def __init__(self) -> None:
        self._data: dict[tuple, Any] = {}

    def get(self, op: SattnOp, extra: tuple, compute: Callable[[SattnOp], Any]) -> Any:
        """``compute(op)`` (its SattnErrors located at ``op``), or the cached result."""
        key = (extra, op.name, tuple(op.attributes.items()), tuple(v.type for v in op.operands))
        try:
            return self._data[key]
        except KeyError:
            pass
        value = guard(op, lambda: compute(op))
        if len(self._data) >= _CACHE_LIMIT:
            self._data.clear()
        self._data[key] = value
        return value


def attention_ops(module: ModuleOp, kinds: tuple[type, ...] = (SattnOp,)) -> Iterator[SattnOp]:
    """The sattn ops of ``module`` of the given kinds, in program order (safe to replace)."""
    for op in list(module.walk()):
        if isinstance(op, kinds):
            yield op  # type: ignore[misc]


def params_of(op: SattnOp) -> AttentionParams:
    """The op's params; schema errors carry the op's location."""
    return guard(op, op.params)


def decision_for(params: AttentionParams, hints: Hints) -> Decision:
    """The selector's decision (the ``spec`` attribute, once set, is an override rule)."""
    return select_spec(params, hints=hints)


def spec_of(op: SattnOp, params: AttentionParams, hints: Hints) -> str:
    """The op's spec: ``SATTN_FORCE_SPEC``, else its ``spec``/``force_spec``, else the selector's."""
    return decision_for(params, hints).spec


def guard(op: SattnOp, fn: Callable[[], Any]) -> Any:
    """Run ``fn``; a SattnError it raises gets the op's name and location (once)."""
    try:
        return fn()
    except SattnError as e:
        where, msg = location_of(op), str(e)
        if where and msg.startswith(where):
            raise
        raise SattnError(located(op, f"'{op.name}' {msg}")) from None


def set_attrs(op: SattnOp, attrs: dict[str, Attribute]) -> None:
    """Update attributes in place (keeps insertion order of existing ones)."""
    op.attributes.update(attrs)


def is_source_op(op: SattnOp) -> bool:
    return isinstance(op, SparseAttentionOp)


def lowered_attributes(op: SattnOp, params: AttentionParams, hints: Hints) -> dict[str, Attribute]:
    """The attributes of the call that replaces ``op``: every source attribute, the selected
    ``spec`` (and ``spec_rule``), the per-spec flag, and m_rows/head_dim_d/s_tokens."""
    from xdsl.dialects.builtin import IntegerAttr, StringAttr, i64

    from sattn.ir.attrs import SPEC_FLAGS, TRUE
    from sattn.ir.schema import DEFAULT_TILES

    decision = decision_for(params, hints)
    attrs: dict[str, Attribute] = dict(op.attributes)
    attrs["spec"] = StringAttr(decision.spec)
    if "spec_rule" not in attrs:
        attrs["spec_rule"] = StringAttr(decision.rule)
    flag = SPEC_FLAGS.get(decision.spec)
    if flag:
        attrs[flag] = TRUE
    for call_name, tile in (("m_rows", "tile_M"), ("head_dim_d", "tile_D"), ("s_tokens", "tile_S")):
        value = getattr(params, tile) or DEFAULT_TILES[tile]
        attrs[call_name] = IntegerAttr(value, i64)
    return attrs


def lower_ops(module: ModuleOp, target: type[SattnOp]) -> None:
    """Replace every ``sattn.sparse_attention`` with a ``target`` call (cached by content)."""
    from xdsl.rewriter import Rewriter

    hints = Hints.from_env()
    for op in attention_ops(module, (SparseAttentionOp,)):
        attrs = _LOWER_CACHE.get(op, (hints,), lambda o: lowered_attributes(o, params_of(o), hints))
        new = target(dict(attrs), inputs=tuple(op.operands), result_types=tuple(r.type for r in op.results))
        new.location = op.location
        Rewriter.replace_op(op, new)


_LOWER_CACHE = ContentCache()
