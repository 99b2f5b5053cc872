"""The ``sattn`` dialect: sparse attention before and after spec selection.

Three operations model the flow of the toolkit:

- ``sattn.sparse_attention`` -- the user's description: an attribute dictionary (the schema in
  :mod:`sattn.ir.schema`) and optionally Q, K, V tensor operands whose types give the shape.
- ``sattn.rvv_call`` -- the op lowered for the RVV 1.0 vector kernels (run under qemu).
- ``sattn.rocc_call`` -- the op lowered for the RoCC accelerator (run under Verilator).

All three use the generic form the spec's inputs use::

    "sattn.sparse_attention"() {window_size = 8 : i64, tile_S = 128 : i64} : () -> ()
    "sattn.sparse_attention"(%q, %k, %v) {topk_k = 4 : i64}
        : (tensor<2x64x32xf32>, tensor<1x64x32xf32>, tensor<1x64x32xf32>) -> tensor<2x64x32xf32>

Operands may carry a batch dimension, ``tensor<BxHxSxD>`` (``batch`` in the params); V's last
dimension is Dv (``head_dim_v``), which may differ from D, and the result is Q's shape with Dv
last.

The verifier reads attributes through the schema only: wrong kinds and out-of-range values are
rejected with the op's source location. Names the schema does not know are discardable
attributes, as in MLIR: the verifier keeps them (in ``params().extra``) and the lowerings
carry them to the calls untouched; :func:`unknown_attributes` lists them, and the frontend
warns about each (with a did-you-mean hint) or, with ``strict_attributes``, rejects it. The
ops declare read and write effects: they run kernels, so no dead-code elimination may drop
them.
"""

from __future__ import annotations

from typing import ClassVar

from xdsl.dialects.builtin import (
    AnyFloat,
    DictionaryAttr,
    FileLineColLoc,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    UnitAttr,
)
from xdsl.ir import Attribute, Dialect, Operation, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import MemoryReadEffect, MemoryWriteEffect
from xdsl.utils.exceptions import VerifyException

from sattn.errors import SattnError
from sattn.ir import patterns as _patterns
from sattn.ir.attrs import PASS_ATTRS, call_attrs, to_py
from sattn.ir.schema import SCHEMA_BY_NAME, AttentionParams, params_from_dict, suggest

_DICT_ATTRS = frozenset(
    {"index_table", "selection_plan", "tile_grid", "softmax_region", "vector_strips", "buffers"}
)
_MARKERS = frozenset({"materialized_indices", "tiled", "fused_softmax", "vectorized", "bufferized"})
BUFFER_LAYOUTS = ("rowmajor",)

# params by (op name, attribute items, operand types): 10k ops with a few hundred distinct
# attribute dictionaries verify and lower at dictionary-lookup cost.
_PARAMS_CACHE: dict[tuple, AttentionParams | SattnError] = {}
_CACHE_LIMIT = 8192


def location_of(op: Operation) -> str:
    """``file:line:col`` of an op (set by :func:`sattn.frontend.parse_module`), or ''."""
    loc = op.location
    if isinstance(loc, FileLineColLoc):
        return f"{loc.filename.data}:{loc.line.data}:{loc.column.data}"
    return ""


def located(op: Operation, message: str) -> str:
    """Prefix a message with the op's location when it has one."""
    where = location_of(op)
    return f"{where}: {message}" if where else message


class SattnOp(IRDLOperation):
    """Common shape of the three ops: optional Q, K, V operands, optional output tensor."""

    inputs = var_operand_def(TensorType)
    """Q [B,H,S,D] or [H,S,D], K [B,H_kv,S,D] and V [B,H_kv,S,Dv] (or rank 3) -- all three or
    none."""

    outputs = var_result_def(TensorType)
    """The attention output, Q's shape with Dv last (optional; without operands the runner
    makes the data)."""

    traits = traits_def(MemoryReadEffect(), MemoryWriteEffect())

    #: Attributes a lowered call must have.
    REQUIRED: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        attributes: dict[str, Attribute],
        inputs: tuple[SSAValue, ...] | list[SSAValue] = (),
        result_types: tuple[Attribute, ...] | list[Attribute] = (),
    ):
        super().__init__(operands=[list(inputs)], result_types=[list(result_types)], attributes=attributes)

    # ---- the schema view -------------------------------------------------------------------
    def params(self) -> AttentionParams:
        """The validated attributes as :class:`AttentionParams` (cached by content).

        Raises :class:`SattnError` (without location; see :meth:`verify_`). The key holds
        the registry's version: registering a pattern changes what ``spec`` accepts."""
        key = (self.name, tuple(self.attributes.items()), tuple(v.type for v in self.operands),
               _patterns.version())
        hit = _PARAMS_CACHE.get(key)
        if hit is None:
            try:
                hit = self._compute_params()
            except SattnError as e:
                hit = e
            if len(_PARAMS_CACHE) >= _CACHE_LIMIT:
                _PARAMS_CACHE.clear()
            _PARAMS_CACHE[key] = hit
        if isinstance(hit, SattnError):
            raise SattnError(str(hit))
        return hit

    def _compute_params(self) -> AttentionParams:
        known: dict[str, object] = {}
        extra: dict[str, object] = {}
        for name, attr in self.attributes.items():
            if name in SCHEMA_BY_NAME:
                _check_attr_kind(name, attr)
                known[name] = to_py(attr)
            elif name in PASS_ATTRS or name in call_attrs():
                _check_pass_attr(name, attr)
                extra[name] = to_py(attr)
            else:  # discardable: kept, never read (the frontend warns or, strict, refuses)
                extra[name] = to_py(attr)
        for name in self.REQUIRED:
            if name not in self.attributes:
                raise SattnError(f"missing attribute '{name}'")
        known.update(_shape_from_operands(self, known))
        p = params_from_dict(known)
        return p.replace(extra=extra)

    def verify_(self) -> None:
        try:
            self.params()
        except SattnError as e:
            raise VerifyException(located(self, f"'{self.name}' {e}")) from None


def is_known_attribute(name: str) -> bool:
    """A schema attribute or one of the records the passes and lowerings attach."""
    return name in SCHEMA_BY_NAME or name in PASS_ATTRS or name in call_attrs()


def unknown_attributes(op: Operation) -> list[str]:
    """The attributes of a ``sattn.sparse_attention`` that nothing reads (discardable ones such
    as ``pattern`` or a misspelt ``windw_size``), in the op's order; [] for the lowered calls,
    whose extra attributes are the backends' annotations."""
    if not isinstance(op, SparseAttentionOp):
        return []
    return [name for name in op.attributes if not is_known_attribute(name)]


def unknown_attribute_message(op: Operation, name: str) -> str:
    """``'sattn.sparse_attention' unknown attribute 'x' (did you mean 'y'?)`` (no location)."""
    return f"'{op.name}' unknown attribute '{name}'{suggest(name)}"


def _check_attr_kind(name: str, attr: Attribute) -> None:
    """Reject attribute kinds the schema's plain-Python check cannot tell apart."""
    kind = SCHEMA_BY_NAME[name].kind
    ok = {
        "int": (IntegerAttr,),
        "float": (FloatAttr, IntegerAttr),
        "str": (StringAttr,),
        "bool": (IntegerAttr, UnitAttr),
    }[kind]
    if not isinstance(attr, ok):
        want = {"int": "an integer (i64)", "float": "a float (f64)", "str": "a string"}.get(kind, kind)
        raise SattnError(f"attribute '{name}' expects {want}, got {attr}")


def _check_pass_attr(name: str, attr: Attribute) -> None:
    if name in _MARKERS or (name in call_attrs() and name.endswith("_enabled")):
        if not isinstance(attr, UnitAttr) and not (
            isinstance(attr, IntegerAttr) and to_py(attr) in (0, 1)
        ):
            raise SattnError(f"attribute '{name}' expects a unit or boolean marker, got {attr}")
    elif name in _DICT_ATTRS:
        if not isinstance(attr, DictionaryAttr):
            raise SattnError(f"attribute '{name}' expects a dictionary, got {attr}")
    elif name in ("m_rows", "head_dim_d", "s_tokens"):
        if not isinstance(attr, IntegerAttr) or attr.value.data < 1:
            raise SattnError(f"attribute '{name}' expects a positive integer, got {attr}")
    elif name == "buffer_layout":
        if not isinstance(attr, StringAttr) or attr.data not in BUFFER_LAYOUTS:
            raise SattnError(
                f"attribute 'buffer_layout' must be one of {', '.join(BUFFER_LAYOUTS)}, got {attr}"
            )
    elif name == "spec_rule" and not isinstance(attr, StringAttr):
        raise SattnError(f"attribute 'spec_rule' expects a string, got {attr}")


def _shape_from_operands(op: SattnOp, attrs: dict[str, object]) -> dict[str, object]:
    """seq_len/head_dim/num_heads, the GQA group, (rank 4) the batch and (V's last dim) Dv from
    the Q, K, V types.

    Each operand is ``[B,H,S,D]``, ``[H,S,D]`` (B = 1) or ``[S,D]`` (B = H = 1); V's last
    dimension is Dv (may differ from D). ``batch`` is derived only when an operand has rank 4,
    ``head_dim_v`` only when Dv differs from D or the attribute is given."""
    if not op.operands and not op.results:
        return {}
    if len(op.operands) != 3:
        raise SattnError(f"expects 0 or 3 operands (Q, K, V), got {len(op.operands)}")
    shapes = []
    ranked4 = False
    for role, value in zip("QKV", op.operands):
        t = value.type
        assert isinstance(t, TensorType)
        shape = tuple(t.get_shape())
        ranked4 |= len(shape) == 4
        if not 2 <= len(shape) <= 4 or any(d <= 0 for d in shape):
            raise SattnError(
                f"operand {role} must be a static tensor [B,H,S,D], [H,S,D] or [S,D], got {t}"
            )
        if not _is_float(t.element_type):
            raise SattnError(f"operand {role} must have a float element type, got {t}")
        shapes.append((1,) * (4 - len(shape)) + shape)
    (b, h, s, d), (bk, hk, sk, dk), (bv, hv, sv, dv) = shapes
    if (bk, hk, sk) != (bv, hv, sv):
        raise SattnError(
            f"operands K and V must agree on [B,H,S] (V's last dim Dv may differ from D), got "
            f"{_dims(shapes[1])} and {_dims(shapes[2])}"
        )
    if b != bk:
        raise SattnError(f"operands Q and K disagree on the batch B: {b} vs {bk}")
    if d != dk:
        raise SattnError(
            f"operands Q and K disagree on [S,D]: {_dims(shapes[0])} vs {_dims(shapes[1])}"
        )
    if "head_dim_v" in attrs and attrs["head_dim_v"] != dv:
        raise SattnError(
            f"attribute 'head_dim_v'={attrs['head_dim_v']} disagrees with operand V's last "
            f"dimension Dv={dv} (V is {_dims(shapes[2])})"
        )
    if s > sk:
        raise SattnError(
            f"operand Q has Sq={s} rows but K has Skv={sk}: query rows sit at the last Sq key "
            f"positions, so Sq <= Skv ({_dims(shapes[0])} vs {_dims(shapes[1])})"
        )
    if h % hk:
        raise SattnError(f"query heads {h} are not a multiple of key/value heads {hk}")
    derived: dict[str, object] = {"seq_len": s, "head_dim": d, "num_heads": h}
    if sk != s or "kv_len" in attrs:  # Skv from K's type (only written when it says something)
        derived["kv_len"] = sk
    if ranked4:
        derived["batch"] = b
    if dv != d or "head_dim_v" in attrs:  # Dv from V's type (only written when it says something)
        derived["head_dim_v"] = dv
    group = h // hk
    if "gqa_group_size" in attrs and attrs["gqa_group_size"] != group:
        raise SattnError(
            f"attribute 'gqa_group_size'={attrs['gqa_group_size']} disagrees with the operands "
            f"({h} query heads over {hk} key/value heads)"
        )
    derived["gqa_group_size"] = group
    if "batch" in attrs and not ranked4 and attrs["batch"] != 1:
        raise SattnError(
            f"attribute 'batch'={attrs['batch']} disagrees with the operand types (no batch "
            "dimension: 1)"
        )
    for name, value in derived.items():
        if name in attrs and name != "gqa_group_size" and attrs[name] != value:
            raise SattnError(
                f"attribute '{name}'={attrs[name]} disagrees with the operand types ({value})"
            )
    if op.results:
        if len(op.results) != 1:
            raise SattnError(f"expects at most one result, got {len(op.results)}")
        rt = op.results[0].type
        want = tuple(op.operands[0].type.get_shape())[:-1] + (dv,)  # type: ignore[attr-defined]
        if tuple(rt.get_shape()) != want:  # type: ignore[attr-defined]
            raise SattnError(f"result type {rt} must be Q's shape with V's last dimension "
                             f"Dv={dv} ({'x'.join(map(str, want))})")
    return derived


def _dims(shape: tuple[int, ...]) -> tuple[int, ...]:
    """A normalised [B,H,S,D] shape as users wrote it before the batch existed: (H, S, D)
    when B = 1 (the messages of rank-3 operands stay as they were)."""
    return shape[1:] if shape[0] == 1 else shape


def _is_float(t: Attribute) -> bool:
    return isinstance(t, AnyFloat)


@irdl_op_definition
class SparseAttentionOp(SattnOp):
    """Sparse attention as the user writes it; the selector picks its spec."""

    name = "sattn.sparse_attention"


@irdl_op_definition
class RvvCallOp(SattnOp):
    """A call of the RVV 1.0 kernel for the selected spec."""

    name = "sattn.rvv_call"
    REQUIRED: ClassVar[tuple[str, ...]] = ("spec",)


@irdl_op_definition
class RoccCallOp(SattnOp):
    """A call of the RoCC accelerator for the selected spec."""

    name = "sattn.rocc_call"
    REQUIRED: ClassVar[tuple[str, ...]] = ("spec",)


#: Every op of the dialect that carries attention attributes.
ATTENTION_OPS = (SparseAttentionOp, RvvCallOp, RoccCallOp)

Sattn = Dialect("sattn", [SparseAttentionOp, RvvCallOp, RoccCallOp], [])
