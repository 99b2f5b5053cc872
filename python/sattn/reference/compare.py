"""How outputs are compared: one error measure and the documented tolerances.

``rel_error(got, want) = max|got - want| / max|want|`` (max-normalised, so near-zero elements
do not blow it up); ``checksum_rel_error`` compares the sums the tools print.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sattn.result import checksum

#: A backend against the reference at the same precision (design: 1e-5 relative for fp32;
#: the other precisions compute on identical integer codes / bf16 values, only the fp32
#: softmax and accumulation order may differ).
BACKEND_TOLERANCE: dict[str, float] = {"fp32": 1e-5, "bf16": 1e-5, "i8": 1e-5, "i4": 1e-5}

#: The spec's tolerance guide: a precision against fp32 (a ceiling, not a target).
PRECISION_TOLERANCE: dict[str, float] = {"fp32": 0.0, "bf16": 1e-2, "i8": 5e-2, "i4": 1e-1}


def rel_error(got: np.ndarray, want: np.ndarray) -> float:
    """max|got - want| / max|want| (0 when both are all zeros)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    scale = float(np.abs(want).max()) if want.size else 0.0
    err = float(np.abs(got - want).max()) if want.size else 0.0
    return err / scale if scale > 0 else err


def checksum_rel_error(got: np.ndarray, want: np.ndarray) -> float:
    """|checksum(got) - checksum(want)| / |checksum(want)|."""
    a, b = checksum(got), checksum(want)
    return abs(a - b) / abs(b) if b else abs(a - b)


@dataclass(frozen=True)
class Verdict:
    """The outcome of comparing a backend's output with the reference."""

    backend: str
    max_abs_err: float
    rel_err: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return self.rel_err <= self.tolerance

    def line(self) -> str:
        word = "PASS" if self.passed else "FAIL"
        return (f"compare: {self.backend} vs reference max_abs_err={self.max_abs_err:.3e} "
                f"rel_err={self.rel_err:.3e} tol={self.tolerance:.0e} -> {word}")


def verdict(backend: str, got: np.ndarray, want: np.ndarray, precision: str,
            tolerance: float | None = None) -> Verdict:
    """Compare ``got`` with the reference ``want`` against the backend tolerance."""
    tol = BACKEND_TOLERANCE[precision] if tolerance is None else tolerance
    diff = np.abs(np.asarray(got, np.float64) - np.asarray(want, np.float64))
    return Verdict(backend, float(diff.max()) if diff.size else 0.0, rel_error(got, want), tol)
