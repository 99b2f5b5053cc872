"""The RoCC backend's entry (``sattn.backends.get_backend("rocc")``): a composite pattern (nsa)
runs its own program, its block selection on chip (:func:`sattn.backends.rocc.nsa.run_op`), and
so does bsr unless a ``selection`` is given (:func:`sattn.backends.rocc.bsr.run_op`) or the
scoring path cannot take the op (precision other than fp32, more kept blocks than the top-n
unit, ...: then the host selects, its cost measured, and the report's ``rocc_bsr:
selection=host (why)`` line says so); every other pattern (and bsr on a given table)
:func:`sattn.backends.rocc.driver.run`."""

from __future__ import annotations

import numpy as np

from sattn.backends.rocc import bsr, driver, nsa
from sattn.ir.schema import AttentionParams
from sattn.result import RunResult
from sattn.specs import pattern_of
from sattn.transforms import rocc_bsr

#: The counters a run reports (:data:`sattn.backends.rocc.driver.COUNTERS`).
COUNTERS = driver.COUNTERS


def run(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray,
        **options) -> RunResult:
    """Run ``params.spec`` on the RoCC RTL (see the module doc)."""
    pattern = pattern_of(params.spec)
    pattern.require_target("rocc")
    if pattern.composite:
        return nsa.run_op(params, q, k, v, **options)
    if rocc_bsr.applies(params) and options.get("selection") is None:
        reason = bsr.off_chip_reason(params, q, k, v)
        if reason is None:
            return bsr.run_op(params, q, k, v, **options)
        # the chip cannot select this op's blocks: the host does, its cost measured, and the
        # report says why (a shape that worked before on the host's table still runs)
        return driver.run(params, q, k, v, host_selects=reason, **options)
    return driver.run(params, q, k, v, **options)


def on_chip(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray,
            options: dict) -> bool:
    """Whether the accelerator selects ``params``'s blocks itself on these operands (bsr: block
    top-k and compression scoring, :mod:`sattn.transforms.rocc_bsr`): no ``selection`` given (a
    given selection is attended as given) and a shape and precision the scoring path takes."""
    return (rocc_bsr.applies(params) and options.get("selection") is None
            and bsr.off_chip_reason(params, q, k, v) is None)
