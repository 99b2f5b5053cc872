"""The RoCC backend's entry (``sattn.backends.get_backend("rocc")``): a composite pattern (nsa)
runs its own program, its block selection on chip (:func:`sattn.backends.rocc.nsa.run_op`),
every other pattern :func:`sattn.backends.rocc.driver.run` (which runs bsr's on-chip selection,
:func:`sattn.backends.rocc.bsr.run_op`, unless a selection is given)."""

from __future__ import annotations

import numpy as np

from sattn.backends.rocc import driver, nsa
from sattn.ir.schema import AttentionParams
from sattn.result import RunResult
from sattn.specs import pattern_of

#: The counters a run reports (:data:`sattn.backends.rocc.driver.COUNTERS`).
COUNTERS = driver.COUNTERS


def run(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray,
        **options) -> RunResult:
    """Run ``params.spec`` on the RoCC RTL (see the module doc)."""
    pattern = pattern_of(params.spec)
    pattern.require_target("rocc")
    if pattern.composite:
        return nsa.run_op(params, q, k, v, **options)
    return driver.run(params, q, k, v, **options)
