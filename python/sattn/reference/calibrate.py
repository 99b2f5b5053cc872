"""Scale calibration for the integer precisions: symmetric per-tensor scales from data.

Method ``max-abs`` (default): ``scale = max|x| / QMAX`` so the largest magnitude maps to the
largest code (127 for i8, 7 for i4) and nothing clips. Method ``percentile p``:
``scale = percentile(|x|, p) / QMAX``; values above the percentile clip to ±QMAX, which trades
clipping error on outliers for finer steps on the bulk. A tensor of zeros gets the spec's
default scale.
"""

from __future__ import annotations

import numpy as np

from sattn.errors import SattnError
from sattn.ir.schema import DEFAULT_SCALES
from sattn.precision import QMAX


def tensor_scale(x: np.ndarray, precision: str, percentile: float | None = None) -> float:
    """The symmetric scale of one tensor (see the module doc)."""
    if precision not in QMAX:
        raise SattnError(f"calibration needs an integer precision (i8 or i4), got '{precision}'")
    if percentile is not None and not 0 < percentile <= 100:
        raise SattnError(f"--percentile must be in (0, 100], got {percentile}")
    a = np.abs(np.asarray(x, dtype=np.float64)).ravel()
    top = float(a.max()) if percentile is None else float(np.percentile(a, percentile))
    if top <= 0 or not np.isfinite(top):
        return DEFAULT_SCALES[precision]
    return top / QMAX[precision]


def calibrate(q: np.ndarray, k: np.ndarray, v: np.ndarray, precision: str,
              percentile: float | None = None) -> tuple[float, float, float]:
    """(scale_q, scale_k, scale_v) for ``precision``."""
    return tuple(tensor_scale(x, precision, percentile) for x in (q, k, v))  # type: ignore[return-value]


def calibrate_line(precision: str, scales: tuple[float, float, float], method: str) -> str:
    """The ``calibrate:`` line the tool prints. The ``_x1000`` fields are ``scale * 1000`` with
    the same six significant digits as the scale (``scale_q=0.000295404`` ->
    ``scale_q_x1000=0.295404``): rounded to an integer they could be several times off, and
    the runners' ``--scale_*_x1000`` flags take decimals."""
    sq, sk, sv = scales
    x1000 = [f"{s * 1000:.6g}" for s in scales]
    return (f"calibrate: precision={precision} scale_q={sq:.6g} scale_k={sk:.6g} scale_v={sv:.6g} "
            f"scale_q_x1000={x1000[0]} scale_k_x1000={x1000[1]} scale_v_x1000={x1000[2]} "
            f"method={method}")
