"""What a run returns: one structure for the reference, RVV and RoCC backends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def checksum(out: np.ndarray) -> float:
    """The printed checksum: the sum of the output tensor, accumulated in float64."""
    return float(np.asarray(out, dtype=np.float64).sum())


@dataclass
class RunResult:
    """Output and measurements of one backend run.

    ``counters`` holds measured numbers only (instruction counts from qemu, cycle and byte
    counts from the RTL); modelled numbers carry a ``model_`` prefix in their key.
    """

    backend: str
    spec: str
    output: np.ndarray
    density: float
    counters: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)  # the backend's familiar printed lines
    params: Any = None
    verdict: Any = None  # sattn.reference.compare.Verdict when the caller compared with the reference
    selection: Any = None  # the sattn.specs.Selection the backend ran, when it built one

    @property
    def checksum(self) -> float:
        return checksum(self.output)

    def __str__(self) -> str:
        head = [f"spec={self.spec} checksum={self.checksum:.6f}"]
        return "\n".join(head + self.lines)
