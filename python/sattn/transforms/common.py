"""What every sattn pass shares: finding the ops, the spec of an op, and a content cache.

Each pass computes a small record (new attributes) from an op's *content* -- its attribute
dictionary and operand types -- so a module of 10,000 ops with a few hundred distinct
dictionaries costs a few hundred computations and 10,000 dictionary look-ups. Passes update
attributes in place and replace ops directly; they do not use the greedy rewrite driver.
A pass that only adds a record derives from :class:`AnnotatePass` and says how to compute it.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import weakref
from abc import abstractmethod
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, StringAttr, i64
from xdsl.ir import Attribute
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from sattn.errors import SattnError
from sattn.ir import patterns as _patterns
from sattn.ir.attrs import TRUE, from_py
from sattn.ir.dialect import SattnOp, SparseAttentionOp, located, location_of
from sattn.ir.schema import DEFAULT_TILES, AttentionParams, check_consistency
from sattn.selector import Decision, Hints, select_spec
from sattn.specs import pattern_of

_CACHE_LIMIT = 8192
_INTERN_LIMIT = 1 << 20

# Content keys. Hashing an op's full attribute dictionary is the expensive part of a cache
# look-up once records are attached, so each op's content is hashed deeply once (when first
# seen) and interned to an int; after a pass applies a cached record, the op's new content is
# known to be a function of (old key, pass, options) and gets a derived key without hashing.
# A cheap identity signature (attribute object ids) detects any other change to the op.
_COUNTER = itertools.count()
_INTERN: dict[Hashable, int] = {}
_OP_KEYS: weakref.WeakKeyDictionary[SattnOp, tuple[tuple, int]] = weakref.WeakKeyDictionary()
_ALL_CACHES: list[ContentCache] = []


def _signature(op: SattnOp) -> tuple:
    return (
        tuple(op.attributes),
        tuple(map(id, op.attributes.values())),
        tuple(id(v.type) for v in op.operands),
    )


def _intern(value: Hashable) -> int:
    key = _INTERN.get(value)
    if key is None:
        if len(_INTERN) >= _INTERN_LIMIT:
            reset_caches()
        key = _INTERN[value] = next(_COUNTER)  # never reused, so stale keys never collide
    return key


def content_key(op: SattnOp) -> int:
    """An int naming the op's content (name, attributes, operand types)."""
    sig = _signature(op)
    hit = _OP_KEYS.get(op)
    if hit is not None and hit[0] == sig:
        return hit[1]
    key = _intern((op.name, tuple(op.attributes.items()), tuple(v.type for v in op.operands)))
    _OP_KEYS[op] = (sig, key)
    return key


def derive_key(op: SattnOp, parent: int, step: Hashable) -> None:
    """Record that ``op``'s content is the deterministic result of ``step`` on content ``parent``."""
    _OP_KEYS[op] = (_signature(op), _intern((parent, step)))


def reset_caches() -> None:
    """Forget every cached record and content key (tests; bounded memory)."""
    _INTERN.clear()
    _OP_KEYS.clear()
    for cache in _ALL_CACHES:
        cache._data.clear()


_REGISTRY_SEEN = [-1]


def _check_registry() -> None:
    """Forget every record when the pattern registry changed since the last look-up (a
    pattern registered or removed at run time changes what a ``spec`` name means)."""
    v = _patterns.version()
    if v != _REGISTRY_SEEN[0]:
        reset_caches()
        _REGISTRY_SEEN[0] = v


class ContentCache:
    """Results of ``compute(op)`` per (op content, extra key); see :func:`content_key`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._data: dict[tuple[int, Hashable], Any] = {}
        _ALL_CACHES.append(self)

    def get(self, op: SattnOp, extra: Hashable, compute: Callable[[SattnOp], Any]) -> Any:
        """``compute(op)`` (its SattnErrors located at ``op``), or the cached result."""
        _check_registry()
        key = (content_key(op), extra)
        try:
            return self._data[key]
        except KeyError:
            pass
        value = guard(op, lambda: compute(op))
        if len(self._data) >= _CACHE_LIMIT:
            self._data.clear()
        self._data[key] = value
        return value

    def apply(self, op: SattnOp, extra: Hashable, compute: Callable[[SattnOp], dict[str, Attribute]]) -> None:
        """Add the record ``compute(op)`` (cached by content) to the op's attributes."""
        parent = content_key(op)
        op.attributes.update(self.get(op, extra, compute))
        derive_key(op, parent, (self.name, extra))


def attention_ops(module: ModuleOp, kinds: tuple[type, ...] = (SattnOp,)) -> Iterator[SattnOp]:
    """The sattn ops of ``module`` of the given kinds, in program order (safe to replace)."""
    for op in list(module.walk()):
        if isinstance(op, kinds):
            yield op  # type: ignore[misc]


def params_of(op: SattnOp) -> AttentionParams:
    """The op's params; schema errors carry the op's location."""
    return guard(op, op.params)


def decision_for(params: AttentionParams, hints: Hints) -> Decision:
    """The selector's decision (the ``spec`` attribute, once set, is an override rule),
    checked against the chosen pattern's own rules (e.g. ``select_blocks`` forcing nsa on an
    op without ``block_size`` is an error, not an op no later pass can read)."""
    d = select_spec(params, hints=hints)
    if d.spec != params.spec:
        check_consistency(params.replace(spec=d.spec, force_spec=None))
    return d


def is_selected(op: SattnOp) -> bool:
    """Whether ``sattn-select-spec`` (or a lowering) recorded the op's spec: every later pass
    and every backend then reads the ``spec`` attribute and never selects again."""
    return "spec_rule" in op.attributes and "spec" in op.attributes


def spec_of(op: SattnOp, params: AttentionParams, hints: Hints) -> str:
    """The op's spec: the recorded ``spec`` once selected (:func:`is_selected`); a pass run
    alone on an unselected op runs the selection once, with the hints the pass was given
    (the edge's options: see :func:`sattn.transforms.build_pipeline`)."""
    if is_selected(op) and params.spec is not None:
        return params.spec
    return decision_for(params, hints).spec


def selected_params(op: SattnOp, hints: Hints) -> AttentionParams:
    """The op's params with ``spec`` set to its spec (:func:`spec_of`)."""
    p = params_of(op)
    return p.replace(spec=spec_of(op, p, hints))


@dataclass(frozen=True)
class AnnotatePass(ModulePass):
    """A pass that adds a record of attributes to each attention op of the kinds it handles.

    A subclass names itself (``name = "sattn-..."``), may narrow :attr:`kinds`, and defines
    :meth:`record`; :meth:`context` is what the record depends on besides the op's content
    (default: the edge hints the pass was given, :attr:`edge`). Records are cached by op
    content and context, one :class:`ContentCache` per pass.
    """

    kinds: ClassVar[tuple[type[SattnOp], ...]] = (SattnOp,)
    _cache: ClassVar[ContentCache]

    edge: Hints | None = field(default=None, init=False, compare=False, repr=False)
    """The edge's hints (from the command line or the API call: :meth:`with_edge`); a pass
    constructed without them uses none. Not a textual pass option."""

    def with_edge(self, hints: Hints | None) -> AnnotatePass:
        """This pass with the edge's hints."""
        return with_edge(self, hints)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            cls._cache = ContentCache(cls.name)

    def context(self) -> Hashable:
        """What every record of this run depends on beyond the op (read once per run)."""
        return self.edge or Hints()

    @abstractmethod
    def record(self, op: SattnOp, context: Any) -> dict[str, Attribute]:
        """The attributes this pass adds to ``op``."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        context = self.context()
        for attn in attention_ops(op, self.kinds):
            self._cache.apply(attn, (context,), lambda o: self.record(o, context))


def guard(op: SattnOp, fn: Callable[[], Any]) -> Any:
    """Run ``fn``; a SattnError it raises gets the op's name and location (once)."""
    try:
        return fn()
    except SattnError as e:
        where, msg = location_of(op), str(e)
        if where and msg.startswith(where):
            raise
        raise SattnError(located(op, f"'{op.name}' {msg}")) from None


def is_source_op(op: SattnOp) -> bool:
    return isinstance(op, SparseAttentionOp)


def lowered_attributes(op: SattnOp, params: AttentionParams, hints: Hints,
                       backend: str | None = None) -> dict[str, Attribute]:
    """The attributes of the call that replaces ``op``: every source attribute, the selected
    ``spec`` (and ``spec_rule``: recorded by select-spec, else the selection runs once here),
    the pattern's call flag and its resolved call attributes
    (:meth:`sattn.specs.pattern.Pattern.call_attributes`), and m_rows/head_dim_d/s_tokens. A pattern that does not run on
    ``backend`` (``rvv``, ``rocc``) is refused in one line
    (:meth:`sattn.specs.pattern.Pattern.require_target`)."""
    attrs: dict[str, Attribute] = dict(op.attributes)
    if is_selected(op) and params.spec is not None:
        spec = params.spec
    else:
        decision = decision_for(params, hints)
        spec = decision.spec
        attrs["spec"] = StringAttr(spec)
        if "spec_rule" not in attrs:
            attrs["spec_rule"] = StringAttr(decision.rule)
    pattern = pattern_of(spec)
    if backend is not None:
        pattern.require_target(backend)
    flag = pattern.call_flag
    if flag:
        attrs[flag] = TRUE
    for name, value in pattern.call_attributes(params.replace(spec=spec)).items():
        attrs[name] = from_py(value)
    for call_name, tile in (("m_rows", "tile_M"), ("head_dim_d", "tile_D"), ("s_tokens", "tile_S")):
        value = getattr(params, tile) or DEFAULT_TILES[tile]
        attrs[call_name] = IntegerAttr(value, i64)
    return attrs


@dataclass(frozen=True)
class LowerPass(ModulePass):
    """A pass that replaces every ``sattn.sparse_attention`` with a :attr:`target` call.

    The call keeps every attribute of the source op and adds the selected ``spec`` (selecting it
    when ``sattn-select-spec`` did not run), ``spec_rule``, the per-spec flag (``blg_enabled``,
    ``nm_enabled``, ``topk_enabled``, ``lsh_enabled``, ``landmark_enabled``) and
    ``m_rows``/``head_dim_d``/``s_tokens`` (tile_M/tile_D/tile_S or their defaults). Q, K, V
    operands and the result are forwarded.
    """

    target: ClassVar[type[SattnOp]]

    edge: Hints | None = field(default=None, init=False, compare=False, repr=False)
    """The edge's hints (see :class:`AnnotatePass`)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        lower_ops(op, self.target, self.edge or Hints())


def with_edge(p: ModulePass, hints: Hints | None) -> ModulePass:
    """A copy of pass ``p`` that carries the edge's hints (passes without an ``edge`` field,
    and ``hints=None``, are returned as they are)."""
    if hints is None or not any(f.name == "edge" for f in dataclasses.fields(p)):
        return p
    new = copy.copy(p)
    object.__setattr__(new, "edge", hints)
    return new


def lower_ops(module: ModuleOp, target: type[SattnOp], hints: Hints) -> None:
    """Replace every ``sattn.sparse_attention`` with a ``target`` call (cached by content)."""
    backend = target.name.removeprefix("sattn.").removesuffix("_call")  # rvv, rocc
    for op in attention_ops(module, (SparseAttentionOp,)):
        parent = content_key(op)
        attrs = _LOWER_CACHE.get(op, (hints, backend),
                                 lambda o: lowered_attributes(o, params_of(o), hints, backend))
        new = target(dict(attrs), inputs=tuple(op.operands), result_types=tuple(r.type for r in op.results))
        new.location = op.location
        Rewriter.replace_op(op, new)
        derive_key(new, parent, ("lower", target.name, hints))


_LOWER_CACHE = ContentCache("lower")
