"""``sattn-vectorize``: the RVV strip plan the vector kernel runs.

The kernel (``sattn.backends.rvv``, ``kernels/attend_core.h``) streams keys: scores and the
online softmax run over strips of keys, P.V over chunks of D, both at one register group
``lmul`` of 32-bit elements (fp32/int32 accumulation) -- so a strip holds ``VLEN * lmul / 32``
elements. Loads use the precision's element width ``sew`` (fp32 32, bf16 16, i8 8, i4 8 after
unpacking nibbles) at ``load_lmul = lmul * sew / 32``. D takes ``d_strips`` chunks of P.V, the
last ``d_tail`` long (0: none)::

    vector_strips = {vlen = 256, sew = 32, lmul = "m8", load_lmul = "m8", strip = 64,
                     d_strips = 1, d_tail = 0}

The record is the kernel's input: the RVV runner runs the ``vlen`` and ``lmul`` it names
(:func:`strips_choice`); the other fields follow from them and the op, and a record whose
fields do not is refused. ``lmul`` is 1, 2, 4 or 8 (the kernel is instantiated at each; 8 is
the default, what the kernel ran before the record was read). Options: ``vlen`` (else the
edge's ``SATTN_VLEN``, read by the command line or the API call, never here, else 256) and
``lmul`` (``sattn-vectorize{vlen=512 lmul=4}``).
Applies to ``sattn.rvv_call`` and to not-yet-lowered ``sattn.sparse_attention`` (the RoCC
target has no vector unit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sattn.errors import SattnError
from sattn.ir import precisions as _precisions
from sattn.ir.attrs import UNIT, from_py
from sattn.ir.dialect import RvvCallOp, SattnOp, SparseAttentionOp
from sattn.ir.schema import AttentionParams
from sattn.selector.hints import Hints, parse_vlen
from sattn.transforms.common import AnnotatePass, params_of

DEFAULT_VLEN = 256
#: The register groups the kernel is instantiated at, and the one it runs by default.
LMULS: tuple[int, ...] = (1, 2, 4, 8)
DEFAULT_LMUL = 8
#: Load element width per precision (the precision table's; i4 is unpacked to bytes before use).
LOAD_SEW = _precisions.LOAD_SEW
ACC_SEW = 32


def resolve_vlen(option: int | None, edge: int | None = None) -> int:
    """VLEN from the pass option, else the edge's (SATTN_VLEN at the command line), else 256;
    a power of two in [128, 65536]."""
    if option is not None:
        return parse_vlen(option, "option vlen of sattn-vectorize")  # type: ignore[return-value]
    return DEFAULT_VLEN if edge is None else edge


def resolve_lmul(option: int | None) -> int:
    """LMUL from the pass option, else :data:`DEFAULT_LMUL`; one of :data:`LMULS`."""
    if option is None:
        return DEFAULT_LMUL
    if isinstance(option, bool) or option not in LMULS:
        raise SattnError(f"option lmul of sattn-vectorize must be one of "
                         f"{', '.join(map(str, LMULS))}, got {option!r}")
    return option


def _lmul_name(lmul: float) -> str:
    return f"m{int(lmul)}" if lmul >= 1 else f"mf{round(1 / lmul)}"


def vector_strips(p: AttentionParams, vlen: int, lmul: int = DEFAULT_LMUL) -> dict[str, Any]:
    """The strip plan the kernel runs for params at VLEN and LMUL (plain Python)."""
    d = p.shape().head_dim
    sew = LOAD_SEW[p.precision]
    strip = vlen * lmul // ACC_SEW
    return {
        "vlen": vlen,
        "sew": sew,
        "lmul": _lmul_name(lmul),
        "load_lmul": _lmul_name(lmul * sew / ACC_SEW),
        "strip": strip,
        "d_strips": math.ceil(d / strip),
        "d_tail": d % strip,
    }


def strips_choice(p: AttentionParams) -> tuple[int, int] | None:
    """(vlen, lmul) of the op's recorded ``vector_strips`` (None: not vectorized). The other
    fields must be the ones :func:`vector_strips` gives for them: the kernel cannot run a
    different strip, element width or load group, so such a record is refused."""
    rec = p.extra.get("vector_strips")
    if rec is None:
        return None
    if not isinstance(rec, dict):
        raise SattnError(f"vector_strips must be a dictionary, got {rec!r}")
    vlen, name = rec.get("vlen"), rec.get("lmul")
    if isinstance(vlen, bool) or not isinstance(vlen, int):
        raise SattnError(f"vector_strips: vlen must be an integer, got {vlen!r}")
    lmul = int(name[1:]) if isinstance(name, str) and name[1:].isdigit() and name[0] == "m" else None
    if lmul not in LMULS:
        raise SattnError(f"vector_strips: lmul must be one of "
                         f"{', '.join(f'm{x}' for x in LMULS)} (the kernel's register groups), "
                         f"got {name!r}")
    want = vector_strips(p, vlen, lmul)
    for key, value in want.items():
        if rec.get(key) != value:
            raise SattnError(f"vector_strips: {key} = {rec.get(key)!r} is not what the kernel "
                             f"runs at vlen = {vlen}, lmul = {name} ({value!r}); only vlen and "
                             f"lmul are choices")
    return vlen, lmul


@dataclass(frozen=True)
class VectorizePass(AnnotatePass):
    """Attach the RVV strip plan to each RVV call."""

    name = "sattn-vectorize"
    kinds = (RvvCallOp, SparseAttentionOp)

    vlen: int | None = None
    """Vector register length in bits (default: the edge's SATTN_VLEN, else 256)."""

    lmul: int | None = None
    """Register group of the kernel's strips: 1, 2, 4 or 8 (default 8)."""

    def context(self) -> tuple[int, int]:
        """The resolved (VLEN, LMUL) (the records depend on nothing else)."""
        return resolve_vlen(self.vlen, (self.edge or Hints()).vlen), resolve_lmul(self.lmul)

    def record(self, op: SattnOp, context: tuple[int, int]) -> dict:
        vlen, lmul = context
        return {"vectorized": UNIT,
                "vector_strips": from_py(vector_strips(params_of(op), vlen, lmul), "vector_strips")}
