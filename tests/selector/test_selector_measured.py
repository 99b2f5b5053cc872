"""The selector against measurements (slow: the backends run): issue 9's example on the spec's
input form, where sliding_window is the measured-cheaper spec on RVV and on the RoCC RTL and
the selector picks it; and a smoke version of the held-out benchmark
(``bench/selector_regret.py``) on a few fresh random contests of both input forms."""

from __future__ import annotations

import pytest
from conftest import need_tool
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic
from sattn.selector import select_spec
from sattn.sweep import FORMS, random_cases, sweep

EXAMPLE = {"window_size": 32, "keep_ratio": 0.9, "tile_M": 16, "tile_D": 32, "tile_S": 256}


@pytest.mark.slow
@pytest.mark.parametrize("backend,counter", [("rvv", "instructions"), ("rocc", "total_cycles")])
def test_issue_example_measured(backend, counter) -> None:
    from sattn.backends import get_backend

    need_tool("qemu-riscv64" if backend == "rvv" else "verilator")
    p = params_from_dict(EXAMPLE)
    q, k, v = synthetic(p.shape(), seed=0)
    mod = get_backend(backend)
    cost = {spec: mod.run(p.replace(spec=spec), q, k, v).counters[counter]
            for spec in ("sliding_window", "bsr")}
    # bsr keeps every block (ceil(0.9 * 4) = 4 of 4): dense work plus its selection
    assert cost["sliding_window"] < 0.5 * cost["bsr"]
    assert select_spec(p, {"SATTN_TARGET": backend}).spec == "sliding_window"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ("rvv", "rocc"))
def test_heldout_smoke(backend) -> None:
    """Three fresh contests per input form (seed 7: not a fit seed): every pick within the
    benchmark's worst-regret target of the measured best."""
    need_tool("qemu-riscv64" if backend == "rvv" else "verilator")
    cases = [a for form in FORMS for a in random_cases(7, 3, form)]
    summary = sweep(cases, backend, jobs=2, progress=False)
    assert summary.failed == 0 and summary.scored == len(cases)
    assert summary.max_regret <= 1.5, [(r.attrs, r.selected, r.best, r.regret)
                                       for r in summary.per_case]
