"""The kernel's phases (``runner.run(..., stop_after=1 or 2)``, header slot ``stop_after``):
the scoring pass alone is the scoring floor of bench/rvv_instructions.py, scoring and
selection without the attention the selection's cost (every mode that selects by itself:
the RoCC backend's measured host selection). Each phase writes no output, and the counts grow
with the phases run; a mode without the phase refuses it in one line."""

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


@pytest.mark.parametrize("spec,attrs", [
    ("lsh", {"lsh_buckets": 4}), ("lsh", {"lsh_buckets": 1000}),  # buckets > S: hashed slots
    ("landmark", {"num_landmarks": 8, "landmark_iters": 2, "causal": 1}),
    ("bsr", {"block_size": 16, "keep_ratio": 0.25, "causal": 1}),
])
def test_selection_alone_counts_less_and_writes_no_output(spec, attrs):
    # the modes without a separate scoring pass stop after their selection (stop_after = 2,
    # the RoCC backend's host-selection cost): no output, fewer instructions, and (lsh,
    # landmark: their dump is written by the selection) the same selection as the whole run
    need_tool("qemu-riscv64")
    p, q, k, v = _case(spec, **attrs)
    full = runner.run(p, q, k, v, vlen=256, lmul=8, check_selection=spec != "bsr")
    sel = runner.run(p, q, k, v, vlen=256, lmul=8, stop_after=2, check_selection=spec != "bsr")
    assert np.any(full.output) and not np.any(sel.output)
    assert sel.counters["instructions"] < full.counters["instructions"]
    if spec != "bsr":
        for a, b in zip(sel.kernel_selection, full.kernel_selection):
            np.testing.assert_array_equal(a.indptr, b.indptr)
            np.testing.assert_array_equal(a.indices, b.indices)


@pytest.mark.parametrize("spec,stop,message", [
    ("dense", 1, ("rvv: stop_after=1: only the kernel modes topk, nm, compblock have a separate "
                 "scoring pass, not 'dense' (mode 'dense')")),
    ("lsh", 1, ("rvv: stop_after=1: only the kernel modes topk, nm, compblock have a separate "
               "scoring pass, not 'lsh' (mode 'lsh')")),
    ("sliding_window", 2, ("rvv: stop_after=2: only the kernel modes topk, nm, compblock, lsh, "
                          "landmark, bsr, nsa select by themselves, not 'sliding_window' (mode "
                          "'window')")),
    ("topk_per_query", 3, ("rvv: stop_after must be 0 (the whole kernel), 1 (the scoring pass) "
                          "or 2 (scoring and selection), got 3")),
])
def test_stop_after_refused(spec, stop, message):
    p, q, k, v = _case(spec, topk_k=8)
    with pytest.raises(SattnError) as e:
        runner.run(p, q, k, v, stop_after=stop)
    assert str(e.value) == message
