"""The RVV backend's entry (``sattn.backends.get_backend("rvv")``): a composite pattern (nsa)
runs its own kernel driver (:func:`sattn.backends.rvv.nsa.run_op`), every other pattern
:func:`sattn.backends.rvv.runner.run`."""

from __future__ import annotations

import numpy as np

from sattn.backends.rvv import nsa, runner
from sattn.ir.schema import AttentionParams
from sattn.result import RunResult
from sattn.specs import pattern_of

#: The counters a run reports (:data:`sattn.backends.rvv.runner.COUNTERS`).
COUNTERS = runner.COUNTERS


def run(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray,
        **options) -> RunResult:
    """Run ``params.spec`` on the RVV kernels (see the module doc)."""
    if pattern_of(params.spec).composite:
        return nsa.run_op(params, q, k, v, **options)
    return runner.run(params, q, k, v, **options)
