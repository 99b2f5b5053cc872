"""``sattn-vectorize``: choose RVV 1.0 strip sizes for the vector kernels.

Scores and P.V accumulate in fp32/int32 (SEW 32) while loads use the precision's element
width (fp32 32, bf16 16, i8 8, i4 8 after unpacking nibbles). The accumulator register group
``lmul`` is the smallest power of two covering D at VLEN, capped at m4 so that the
accumulator, a Q strip and a K/V strip fit in the 32 vector registers; the load group is
``lmul * sew / 32`` (fractional for narrow types, e.g. ``mf4``). A strip holds
``VLEN * lmul / 32`` elements; D takes ``d_strips`` strips, the last one ``d_tail`` long (0:
none)::

    vector_strips = {vlen = 256, sew = 32, lmul = "m4", load_lmul = "m4", strip = 32,
                     d_strips = 2, d_tail = 0}

VLEN comes from the pass option (``sattn-vectorize{vlen=512}``), else the edge's ``SATTN_VLEN``
(read by the command line or the API call, never here), else 256.
Applies to ``sattn.rvv_call`` and to not-yet-lowered ``sattn.sparse_attention`` (the RoCC
target has no vector unit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sattn.ir import precisions as _precisions
from sattn.ir.attrs import UNIT, from_py
from sattn.ir.dialect import RvvCallOp, SattnOp, SparseAttentionOp
from sattn.ir.schema import AttentionParams
from sattn.selector.hints import Hints, parse_vlen
from sattn.transforms.common import AnnotatePass, params_of

DEFAULT_VLEN = 256
#: Load element width per precision (the precision table's; i4 is unpacked to bytes before use).
LOAD_SEW = _precisions.LOAD_SEW
ACC_SEW = 32
MAX_ACC_LMUL = 4


def resolve_vlen(option: int | None, edge: int | None = None) -> int:
    """VLEN from the pass option, else the edge's (SATTN_VLEN at the command line), else 256;
    a power of two in [128, 65536]."""
    if option is not None:
        return parse_vlen(option, "option vlen of sattn-vectorize")  # type: ignore[return-value]
    return DEFAULT_VLEN if edge is None else edge


def _lmul_name(lmul: float) -> str:
    return f"m{int(lmul)}" if lmul >= 1 else f"mf{round(1 / lmul)}"


def vector_strips(p: AttentionParams, vlen: int) -> dict[str, Any]:
    """The strip plan for params at VLEN (plain Python)."""
    d = p.shape().head_dim
    need = d * ACC_SEW / vlen  # register groups to hold D accumulators
    lmul = 1
    while lmul < need and lmul < MAX_ACC_LMUL:
        lmul *= 2
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


@dataclass(frozen=True)
class VectorizePass(AnnotatePass):
    """Attach RVV strip sizes to each RVV call."""

    name = "sattn-vectorize"
    kinds = (RvvCallOp, SparseAttentionOp)

    vlen: int | None = None
    """Vector register length in bits (default: the edge's SATTN_VLEN, else 256)."""

    def context(self) -> int:
        """The resolved VLEN (the records depend on nothing else)."""
        return resolve_vlen(self.vlen, (self.edge or Hints()).vlen)

    def record(self, op: SattnOp, context: int) -> dict:
        return {"vectorized": UNIT, "vector_strips": from_py(vector_strips(params_of(op), context), "vector_strips")}
