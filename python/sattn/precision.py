"""Precision emulation: how each precision sees Q, K and V, and how it scores them.

The facts of each precision (codes, bits, qmax, default scales) are the table of
:mod:`sattn.ir.precisions`. One set of helpers shared by the reference executor, the selection code and the backends (the
RVV runner and the RoCC driver prepare their inputs with these same functions, so every
consumer quantises identically).

- ``fp32``: values unchanged; scores and softmax in fp32.
- ``bf16``: Q, K, V rounded to bfloat16 with round-to-nearest-even (``ml_dtypes``), then
  computed in fp32 (bf16 is a storage format here, as on the RVV target).
- ``i8`` / ``i4``: symmetric per-tensor quantisation
  ``code = clip(round_half_even(x / scale), -QMAX, QMAX)`` with ``QMAX = 127`` (i8) and
  ``QMAX = 7`` (i4): the ranges are symmetric, so -128 / -8 are never produced. The division
  is done in float64. Scores accumulate ``q_code . k_code`` exactly in int32 and are
  dequantised with ``scale_q * scale_k``; the output is ``scale_v * sum_j p_j * v_code_j`` in
  fp32. Scales default to ``DEFAULT_SCALES`` (0.05 for i8, 0.125 for i4) when unset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ml_dtypes
import numpy as np

from sattn.errors import SattnError
from sattn.ir.precisions import PRECISIONS, QMAX
from sattn.ir.schema import AttentionParams


def is_integer(precision: str) -> bool:
    """True for the quantised precisions (i8, i4)."""
    return precision in QMAX


def round_bf16(x: np.ndarray) -> np.ndarray:
    """Round float32 values to bfloat16 (round-to-nearest-even) and widen back to float32."""
    return np.asarray(x, dtype=np.float32).astype(ml_dtypes.bfloat16).astype(np.float32)


def to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) of ``x`` after RNE rounding, for kernels that store bf16."""
    return np.asarray(x, dtype=np.float32).astype(ml_dtypes.bfloat16).view(np.uint16)


def check_scale(name: str, scale: float) -> float:
    """Reject scales that are not finite and > 0 with a message naming the scale."""
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise SattnError(f"{name} must be a finite number > 0, got {scale}")
    return float(scale)


def quantize(x: np.ndarray, scale: float, precision: str) -> np.ndarray:
    """Symmetric per-tensor quantisation to int8 codes (i4 codes also stored in int8).

    ``code = clip(rint(x / scale), -QMAX, QMAX)``; ``rint`` rounds half to even; the division
    is float64. Applying it to already dequantised values returns the same codes.
    """
    if precision not in QMAX:
        raise SattnError(f"precision '{precision}' is not an integer precision (i8 or i4)")
    check_scale("scale", scale)
    qmax = QMAX[precision]
    codes = np.rint(np.asarray(x, dtype=np.float64) / scale)
    return np.clip(codes, -qmax, qmax).astype(np.int8)


def dequantize(codes: np.ndarray, scale: float) -> np.ndarray:
    """float32 values of integer codes: ``codes * scale``."""
    return (np.asarray(codes, dtype=np.float64) * scale).astype(np.float32)


def view(x: np.ndarray, precision: str, scale: float = 1.0) -> np.ndarray:
    """The float32 values a precision computes with (dequantised for i8/i4)."""
    if precision == "fp32":
        return np.asarray(x, dtype=np.float32)
    if precision == "bf16":
        return round_bf16(x)
    return dequantize(quantize(x, scale, precision), scale)


@dataclass(frozen=True)
class Operands:
    """Q, K, V as one precision computes with them.

    ``q``/``k``/``v`` are float32 arrays holding the values (fp32, bf16) or the integer codes
    (i8, i4). Scores are ``(q . k) * score_scale`` with the dot exact for integer codes; the
    output is ``(softmax . v) * v_scale``.
    """

    precision: str
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    scales: tuple[float, float, float]  # scale_q, scale_k, scale_v used (1.0 for fp32/bf16)
    score_scale: float  # multiplies the raw dot product: 1/sqrt(D) [* scale_q * scale_k]
    v_scale: float  # multiplies P.V: 1 or scale_v

    @property
    def exact_int_dot_in_fp32(self) -> bool:
        """Whether an fp32 matmul of the codes is exact (all partial sums < 2**24)."""
        if not is_integer(self.precision):
            return False
        qmax = QMAX[self.precision]
        return qmax * qmax * self.q.shape[-1] < 2**24


def resolved_scales(params: AttentionParams) -> tuple[float, float, float]:
    """(scale_q, scale_k, scale_v) used: the attributes, else the spec's defaults (i8/i4 only)."""
    if not is_integer(params.precision):
        return (1.0, 1.0, 1.0)
    sq, sk, sv = params.scales()
    return (check_scale("scale_q", sq), check_scale("scale_k", sk), check_scale("scale_v", sv))


def score_scales(params: AttentionParams, head_dim: int) -> tuple[float, float]:
    """(score_scale, v_scale): what multiplies the raw dot product (1/sqrt(D), times
    scale_q * scale_k for i8/i4) and the normalised P.V (scale_v for i8/i4, else 1)."""
    inv_sqrt_d = 1.0 / math.sqrt(head_dim)
    if not is_integer(params.precision):
        return inv_sqrt_d, 1.0
    sq, sk, sv = resolved_scales(params)
    return sq * sk * inv_sqrt_d, sv


def prepare(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> Operands:
    """Convert float32 Q [H,S,D], K/V [H_kv,S,D] to the operands of ``params.precision``."""
    prec = params.precision
    if prec not in PRECISIONS:
        raise SattnError(f"unknown precision '{prec}' (choose from {', '.join(PRECISIONS)})")
    score_scale, v_scale = score_scales(params, q.shape[-1])
    if prec in ("fp32", "bf16"):
        f = round_bf16 if prec == "bf16" else (lambda a: np.asarray(a, dtype=np.float32))
        return Operands(prec, f(q), f(k), f(v), (1.0, 1.0, 1.0), score_scale, v_scale)
    sq, sk, sv = resolved_scales(params)
    codes = [quantize(x, s, prec).astype(np.float32) for x, s in ((q, sq), (k, sk), (v, sv))]
    return Operands(prec, *codes, (sq, sk, sv), score_scale, v_scale)


def selection_operands(params: AttentionParams, q: np.ndarray, k: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """float64 Q and K whose dot products rank keys exactly as the precision scores them.

    fp32/bf16: the (rounded) values; i8/i4: the integer codes (their dot products are the
    int32 accumulations, exact in float64). Selection only compares scores of one query, so
    the positive factor ``score_scale`` is left out.
    """
    prec = params.precision
    if prec == "fp32":
        return np.asarray(q, dtype=np.float64), np.asarray(k, dtype=np.float64)
    if prec == "bf16":
        return round_bf16(q).astype(np.float64), round_bf16(k).astype(np.float64)
    sq, sk, _ = resolved_scales(params)
    return (quantize(q, sq, prec).astype(np.float64), quantize(k, sk, prec).astype(np.float64))
