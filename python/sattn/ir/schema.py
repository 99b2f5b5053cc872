"""The attribute schema of ``sattn.sparse_attention``: one table, one place for defaults.

Everything that reads attributes goes through here: the dialect verifier, the selector, the
artifact emitter, the command-line flags and the backends. Downstream code never touches xDSL
attributes; it receives an :class:`AttentionParams` built by :func:`params_from_dict`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sattn.errors import SattnError
from sattn.ir import patterns as _patterns
from sattn.ir.precisions import DEFAULT_SCALES as _DEFAULT_SCALES
from sattn.ir.precisions import PRECISIONS as _PRECISIONS

#: The precisions and their default scales: the table of :mod:`sattn.ir.precisions`.
PRECISIONS = _PRECISIONS
DEFAULT_SCALES = _DEFAULT_SCALES

#: Defaults ``sattn-tile`` fills in for missing tile sizes (design: tile_M=64, tile_D=64, tile_S=128).
DEFAULT_TILES: dict[str, int] = {"tile_M": 64, "tile_D": 64, "tile_S": 128}


@dataclass(frozen=True)
class AttrSpec:
    """One attribute: its kind, default, and the range check the verifier applies."""

    name: str
    kind: str  # "int" | "float" | "str" | "bool"
    default: Any
    doc: str
    check: Callable[[Any], str | None] | None = None  # returns a message when out of range


def _at_least(lo: int) -> Callable[[Any], str | None]:
    return lambda v: None if v >= lo else f"must be >= {lo}, got {v}"


def _one_of(*choices: Any) -> Callable[[Any], str | None]:
    return lambda v: None if v in choices else f"must be one of {', '.join(map(str, choices))}, got {v!r}"


def _positive_float(v: float) -> str | None:
    return None if (math.isfinite(v) and v > 0) else f"must be a finite number > 0, got {v}"


#: The largest finite fp32 value: a scale beyond it is infinite in the kernels.
_FLT_MAX = 3.4028234663852886e38


def _fp32_scale(v: float) -> str | None:
    problem = _positive_float(v)
    if problem is None and v > _FLT_MAX:
        return f"must fit fp32 (<= 3.4028e38: the kernels scale in fp32), got {v}"
    return problem


def _registered_spec(v: str) -> str | None:
    """A spec name must name a registered pattern (:mod:`sattn.ir.patterns`)."""
    return None if _patterns.known(v) else (
        f"must be one of {', '.join(_patterns.names())}, got {v!r}")


def _ratio(v: float) -> str | None:
    return None if (math.isfinite(v) and 0 < v <= 1) else f"must be in (0, 1], got {v}"


SCHEMA: tuple[AttrSpec, ...] = (
    # selection-forcing attributes
    AttrSpec("global_tokens", "int", 0, "first tokens every query attends to (and that attend to all); > 0 forces block_local_global", _at_least(0)),
    AttrSpec("nm_n", "int", None, "N of N:M structured selection: keys kept per group of nm_m", _at_least(1)),
    AttrSpec("nm_m", "int", None, "M of N:M structured selection: group length", _at_least(1)),
    AttrSpec("topk_k", "int", None, "keys kept per query by top-k selection", _at_least(1)),
    AttrSpec("lsh_buckets", "int", None, "number of LSH buckets (random-hyperplane hashing)", _at_least(1)),
    AttrSpec("num_landmarks", "int", 0, "landmark tokens to attend over; > 0 selects landmark", _at_least(0)),
    AttrSpec("landmark_iters", "int", 0, "k-means refinement iterations for the landmarks", _at_least(0)),
    # sliding window
    AttrSpec("window_size", "int", None, "sliding_window: keys on EACH side of the query (a half-width); nsa: the w keys ENDING at the query (j in [p-w+1, p]; 0: no window branch)", _at_least(0)),
    AttrSpec("dilation", "int", 1, "stride between neighbouring window keys", _at_least(1)),
    AttrSpec("wrap", "int", 0, "1: window indices wrap modulo S (ring mode)", _one_of(0, 1)),
    AttrSpec("causal", "int", 0, "1: keep only keys j <= i", _one_of(0, 1)),
    # block sparse
    AttrSpec("keep_ratio", "float", None, "share of key blocks kept per query block (bsr)", _ratio),
    AttrSpec("block_size", "int", None, "tokens per block for block patterns (nsa: the selection block b, required)", _at_least(1)),
    # native sparse attention
    AttrSpec("select_blocks", "int", None, "nsa: selection blocks kept per query row and KV head (n; unset: 16); set forces nsa", _at_least(1)),
    AttrSpec("comp_stride", "int", 0, "nsa: tokens between compression windows (d; 0: comp_block_size, non-overlapping)", _at_least(0)),
    # tiles (size hints)
    AttrSpec("tile_S", "int", None, "key/sequence tile; also the sequence length when no shape is given", _at_least(1)),
    AttrSpec("tile_M", "int", None, "query rows per tile", _at_least(1)),
    AttrSpec("tile_D", "int", None, "head-dimension tile; also the head dim when no shape is given", _at_least(1)),
    # precision
    AttrSpec("precision", "str", "fp32", "compute precision", _one_of(*PRECISIONS)),
    AttrSpec("scale_q", "float", None, "symmetric per-tensor scale of Q (i8/i4)", _fp32_scale),
    AttrSpec("scale_k", "float", None, "symmetric per-tensor scale of K (i8/i4)", _fp32_scale),
    AttrSpec("scale_v", "float", None, "symmetric per-tensor scale of V (i8/i4)", _fp32_scale),
    # grouped-query attention and compression
    AttrSpec("gqa_group_size", "int", 1, "query heads sharing one K/V and one selection", _at_least(1)),
    AttrSpec("comp_block_size", "int", 0, "tokens per mean-pooled compression block: bsr's block scoring (0 disables), nsa's compression window l (0: block_size)", _at_least(0)),
    # overrides
    AttrSpec("spec", "str", None, "explicit spec override (bypasses selection)", _registered_spec),
    AttrSpec("force_spec", "str", None, "explicit spec override (bypasses selection)", _registered_spec),
    # shapes
    AttrSpec("seq_len", "int", None, "query rows Sq (the sequence length S of self-attention)", _at_least(1)),
    AttrSpec("kv_len", "int", None, "keys Skv (the KV cache's length; unset: seq_len); query row i sits at position Skv - Sq + i", _at_least(1)),
    AttrSpec("head_dim", "int", None, "head dimension D (of Q and K)", _at_least(1)),
    AttrSpec("head_dim_v", "int", None, "value head dimension Dv (V's and the output's last dim; unset: head_dim)", _at_least(1)),
    AttrSpec("num_heads", "int", None, "query heads H", _at_least(1)),
    AttrSpec("batch", "int", None, "batch B (from rank-4 operand types [B,H,S,D]; unset: 1); every backend runs any B (RoCC: one program for the batch)", _at_least(1)),
    # accuracy budget for the selector
    AttrSpec("max_error", "float", None, "largest acceptable max relative error against dense attention", _positive_float),
)

SCHEMA_BY_NAME: dict[str, AttrSpec] = {a.name: a for a in SCHEMA}


def suggest(name: str) -> str:
    """A ' (did you mean X?)' hint for a misspelt attribute name, or ''."""
    close = difflib.get_close_matches(name, SCHEMA_BY_NAME, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def coerce(name: str, value: Any) -> Any:
    """Check one plain-Python attribute value against the schema and return it normalised.

    Integers are accepted for float attributes; booleans for 0/1 integers. Raises
    :class:`SattnError` naming the attribute when the type or range is wrong.
    """
    spec = SCHEMA_BY_NAME.get(name)
    if spec is None:
        raise SattnError(f"unknown attribute '{name}'{suggest(name)}")
    if spec.kind == "int":
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int):
            raise SattnError(f"attribute '{name}' expects an integer (i64), got {_describe(value)}")
    elif spec.kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SattnError(f"attribute '{name}' expects a float (f64), got {_describe(value)}")
        value = float(value)
    elif spec.kind == "str" and not isinstance(value, str):
        raise SattnError(f"attribute '{name}' expects a string, got {_describe(value)}")
    if spec.check is not None:
        problem = spec.check(value)
        if problem:
            raise SattnError(f"attribute '{name}' {problem}")
    return value


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f'string "{value}"'
    return f"{type(value).__name__} {value!r}"


@dataclass(frozen=True)
class Shape:
    """Attention shape: Q is [B, H, Sq, D]; K is [B, H_kv, Skv, D] and V [B, H_kv, Skv, Dv]
    with H = H_kv * group; the output is [B, H, Sq, Dv].

    ``seq_len`` is Sq (the query rows), ``kv_len`` is Skv (the keys; unset: Sq, self-attention),
    ``batch`` is B (default 1), ``head_dim_v`` is Dv (unset: D). Query row ``i`` sits at
    position ``p(i) = Skv - Sq + i`` (bottom-right alignment, as a KV cache puts it):
    :attr:`offset` is ``Skv - Sq``. Sq > Skv is refused."""

    heads: int
    seq_len: int
    head_dim: int
    group: int = 1
    kv_len: int = None  # type: ignore[assignment]  (None: seq_len)
    batch: int = 1
    head_dim_v: int = None  # type: ignore[assignment]  (None: head_dim)

    def __post_init__(self) -> None:
        if self.head_dim_v is None:
            object.__setattr__(self, "head_dim_v", self.head_dim)
        if self.batch < 1 or self.head_dim_v < 1:
            raise SattnError(f"batch B={self.batch} and Dv={self.head_dim_v} must be >= 1")
        if self.kv_len is None:
            object.__setattr__(self, "kv_len", self.seq_len)
        elif self.kv_len < self.seq_len:
            raise SattnError(f"Sq={self.seq_len} query rows exceed Skv={self.kv_len} keys: query "
                             "rows sit at the last Sq key positions, so Sq <= Skv (kv_len >= seq_len)")

    @property
    def kv_heads(self) -> int:
        return self.heads // self.group

    @property
    def offset(self) -> int:
        """``Skv - Sq``: the position of query row 0."""
        return self.kv_len - self.seq_len

    @property
    def element(self) -> Shape:
        """The shape of one batch element (B = 1): what selection and the backends see."""
        return self if self.batch == 1 else dataclasses.replace(self, batch=1)


class _ParamsMethods:
    """The derived values of :class:`AttentionParams` (one place for each default)."""

    def scales(self) -> tuple[float, float, float]:
        """(scale_q, scale_k, scale_v) with the spec's defaults for i8/i4 filled in."""
        d = DEFAULT_SCALES.get(self.precision, 1.0)
        return (self.scale_q or d, self.scale_k or d, self.scale_v or d)  # type: ignore[attr-defined]

    def effective_block_size(self, seq_len: int) -> int:
        """Block size for block patterns: the attribute, else 64, never more than S."""
        return max(1, min(self.block_size or 64, seq_len))

    def shape(self) -> Shape:
        """Shape from seq_len/head_dim/num_heads, else tile_S/tile_D and gqa_group_size."""
        s = self.seq_len or self.tile_S or DEFAULT_TILES["tile_S"]
        d = self.head_dim or self.tile_D or DEFAULT_TILES["tile_D"]
        h = self.num_heads or self.gqa_group_size
        if h % self.gqa_group_size:
            raise SattnError(
                f"num_heads={h} is not divisible by gqa_group_size={self.gqa_group_size}"
            )
        return Shape(heads=h, seq_len=s, head_dim=d, group=self.gqa_group_size,
                     kv_len=self.kv_len or s, batch=self.batch or 1,
                     head_dim_v=self.head_dim_v or d)

    def replace(self, **changes: Any) -> AttentionParams:
        return dataclasses.replace(self, **changes)

    def as_dict(self, *, include_unset: bool = False) -> dict[str, Any]:
        """The attributes as a plain dict (unset ones omitted unless asked)."""
        out = {}
        for a in SCHEMA:
            v = getattr(self, a.name)
            if v is not None or include_unset:
                out[a.name] = v
        return out


_PY_TYPES = {"int": int, "float": float, "str": str, "bool": bool}

#: The validated attributes of one attention op, with defaults filled in: one field per row
#: of :data:`SCHEMA` (generated from it: each attribute is declared once), plus ``extra``
#: (pass records and discardable attributes of lowered calls). ``None`` means "not set" for
#: attributes whose presence matters to the selector (nm_n, topk_k, lsh_buckets, window_size,
#: keep_ratio, block_size, tiles, scales); what "not set" resolves to is the pattern's to say
#: (:mod:`sattn.specs`). ``spec`` is the selected (or overridden) pattern once selection ran.
AttentionParams = dataclasses.make_dataclass(
    "AttentionParams",
    [(a.name, _PY_TYPES[a.kind] | None, field(default=a.default)) for a in SCHEMA]
    + [("extra", dict, field(default_factory=dict, compare=False))],
    bases=(_ParamsMethods,),
    frozen=True,
)
AttentionParams.__module__ = __name__  # picklable by name (the sweep's worker processes)
AttentionParams.__doc__ = ("The validated attributes of one attention op (one field per "
                           "SCHEMA row, generated), with defaults filled in.")


def check_consistency(p: AttentionParams) -> None:
    """Cross-attribute rules the per-attribute checks cannot see."""
    if (p.nm_n is None) != (p.nm_m is None):
        raise SattnError("attributes 'nm_n' and 'nm_m' must be set together")
    if p.nm_n is not None and p.nm_m is not None and p.nm_n > p.nm_m:
        raise SattnError(f"attribute 'nm_n' must be <= nm_m, got nm_n={p.nm_n} nm_m={p.nm_m}")
    if p.kv_len is not None and p.seq_len is not None and p.kv_len < p.seq_len:
        raise SattnError(f"attribute 'kv_len'={p.kv_len} is less than seq_len={p.seq_len}: query "
                         "rows sit at the last seq_len key positions, so kv_len >= seq_len")
    if p.num_heads is not None and p.num_heads % p.gqa_group_size:
        raise SattnError(
            f"attribute 'num_heads'={p.num_heads} is not divisible by gqa_group_size={p.gqa_group_size}"
        )
    spec = p.force_spec or p.spec
    if spec is not None and _patterns.known(spec):
        # the pattern's own cross-attribute rules (e.g. nsa: block_size required)
        verify = getattr(_patterns.get(spec), "verify", None)
        if verify is not None:
            verify(p)


def params_from_dict(attrs: dict[str, Any], *, allow_extra: bool = False) -> AttentionParams:
    """Validate a plain-Python attribute dict and build :class:`AttentionParams`.

    With ``allow_extra`` unknown names are kept in ``extra`` (used for lowered calls, which
    carry markers such as ``bufferized``); otherwise they are an error.
    """
    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for name, value in attrs.items():
        if name in SCHEMA_BY_NAME:
            known[name] = coerce(name, value)
        elif allow_extra:
            extra[name] = value
        else:
            raise SattnError(f"unknown attribute '{name}'{suggest(name)}")
    p = AttentionParams(**known, extra=extra)
    check_consistency(p)
    return p


def __getattr__(name: str) -> Any:
    # ``SPECS``: the registered pattern names, read when asked (patterns register at run time)
    if name == "SPECS":
        return _patterns.names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
