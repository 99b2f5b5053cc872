"""RoCC runs a batch element by element (one program each): outputs against the reference per
element, counts equal the sum of the elements' own runs, the ratios recomputed from the sums."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import need_tool
from sattn.backends.rocc import driver
from sattn.errors import SattnError
from sattn.ir.schema import params_from_dict
from sattn.reference.executor import attention
from tolerance import assert_attention_close

H, G, D, S = 2, 1, 16, 40


def _tensors(b, seed, dv=D):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((b, H, S, D)).astype(np.float32),
            rng.standard_normal((b, G, S, D)).astype(np.float32),
            rng.standard_normal((b, G, S, dv)).astype(np.float32))


@pytest.mark.parametrize("spec,extra", [("sliding_window", {"window_size": 3}),
                                        ("topk_per_query", {"topk_k": 5})])
def test_batch_runs_each_element(spec, extra):
    need_tool("verilator")
    p = params_from_dict({"spec": spec, "gqa_group_size": H // G, "causal": 1, **extra})
    q, k, v = _tensors(2, seed=5)
    got = driver.run(p, q, k, v)
    assert got.output.shape == (2, H, S, D)
    want = attention(p, q, k, v)  # the reference's batch: each element selects from its own data
    for e in range(2):
        assert_attention_close(got.output[e], want[e], p, q[e], k[e], v[e],
                               what=f"{spec} element {e}")
    alone = [driver.run(p, q[e], k[e], v[e]) for e in range(2)]
    for key in ("total_cycles", "pairs", "dma_k", "dma_out", "jobs", "lane_cycles"):
        assert got.counters[key] == sum(r.counters[key] for r in alone), key
    c = got.counters
    assert c["util_mac"] == round(c["lane_cycles"] / (c["lanes"] * c["total_cycles"]), 4)
    assert c["refetch_factor"] == round(c["dma_k"] / c["min_kv_bytes"], 4)
    assert got.lines[0].startswith("rocc_batch: B=2 elements")


def test_batch_with_dv_is_refused_naming_dv():
    p = params_from_dict({"spec": "sliding_window", "window_size": 3, "gqa_group_size": H // G})
    q, k, v = _tensors(2, seed=6, dv=8)
    with pytest.raises(SattnError, match=r"^rocc: not yet: Dv=8 != D=16 \(Q \[2, 2, 40, 16\], "
                                         r"V \[2, 1, 40, 8\]\): this backend runs Dv = D; "):
        driver.run(p, q, k, v)
