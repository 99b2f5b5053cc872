"""The kernel's phases (``runner.run(..., stop_after=1 or 2)``, header slot ``stop_after``):
the scoring pass alone is the scoring floor of bench/rvv_instructions.py, scoring and
selection without the attention the selection's cost. Each phase writes no output, and the
counts grow with the phases run; modes without separate phases refuse it in one line."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import need_tool
from sattn.backends.rvv import runner
from sattn.errors import SattnError
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic


def _case(spec, **attrs):
    p = params_from_dict({"seq_len": 128, "head_dim": 16, "num_heads": 2, **attrs}).replace(spec=spec)
    return (p, *synthetic(p.shape(), seed=3))


@pytest.mark.parametrize("spec,attrs", [
    ("topk_per_query", {"topk_k": 8}), ("nm_structured", {"nm_n": 2, "nm_m": 4}),
    ("bsr", {"block_size": 16, "comp_block_size": 4, "keep_ratio": 0.25, "causal": 1}),
])
def test_phases_count_less_and_write_no_output(spec, attrs):
    need_tool("qemu-riscv64")
    p, q, k, v = _case(spec, **attrs)
    counts = []
    for stop in (1, 2, 0):
        r = runner.run(p, q, k, v, vlen=256, lmul=8, stop_after=stop)
        counts.append(r.counters["instructions"])
        if stop:
            assert not np.any(r.output), f"stop_after={stop} wrote output"
        else:
            assert np.any(r.output)
    assert counts[0] < counts[1] < counts[2], counts


@pytest.mark.parametrize("spec,stop,message", [
    ("dense", 1, ("rvv: stop_after=1: only the kernel modes topk, nm, compblock have separate "
                 "scoring and selection phases, not 'dense' (mode 'dense')")),
    ("topk_per_query", 3, ("rvv: stop_after must be 0 (the whole kernel), 1 (the scoring pass) "
                          "or 2 (scoring and selection), got 3")),
])
def test_stop_after_refused(spec, stop, message):
    p, q, k, v = _case(spec, topk_k=8)
    with pytest.raises(SattnError) as e:
        runner.run(p, q, k, v, stop_after=stop)
    assert str(e.value) == message
