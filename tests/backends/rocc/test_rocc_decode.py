"""The RoCC RTL on Sq != Skv (decode against a KV cache, Sq < Skv prefill): outputs against
the float64 oracle of ``tests/decode_oracle.py`` (the position rule), the DMA counter of a
decode step against the bytes of the selected K and V rows (more keys than KV_ROWS:
test_rocc_stream.py)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import need_tool
from decode_oracle import oracle
from sattn.hw.isa import PRECISION_BITS
from sattn.ir.schema import params_from_dict
from sattn.reference.data import check_qkv
from sattn.specs import select_indices
from tolerance import assert_attention_close

H, G, D = 4, 2, 16
PATTERNS = {
    "sliding_window": {"spec": "sliding_window", "window_size": 5},
    "bsr": {"spec": "bsr", "block_size": 16, "keep_ratio": 0.5},
    "topk": {"spec": "topk_per_query", "topk_k": 7},
    "dense_causal": {"spec": "dense", "causal": 1},
}


@pytest.fixture(scope="module")
def driver():
    need_tool("verilator")
    from sattn.backends.rocc import driver as d

    d.simulator()
    return d


def _case(sq, skv, precision, attrs, seed):
    p = params_from_dict({**attrs, "precision": precision, "gqa_group_size": H // G})
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((H, sq, D)).astype(np.float32)
    k = rng.standard_normal((G, skv, D)).astype(np.float32)
    v = rng.standard_normal((G, skv, D)).astype(np.float32)
    return p, q, k, v


@pytest.mark.parametrize("precision", ["fp32", "i8"])
@pytest.mark.parametrize("sq,skv", [(1, 64), (4, 64), (24, 64)])
@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_rtl_against_oracle(driver, pattern, sq, skv, precision):
    p, q, k, v = _case(sq, skv, precision, PATTERNS[pattern], seed=sq + skv)
    sel = select_indices(p, check_qkv(q, k, v, H // G), q, k)
    # bsr attends the host's table here (the attention path at Sq < Skv); its on-chip
    # selection at Sq < Skv: test_rocc_bsr_onchip.py
    r = driver.run(p, q, k, v, **({"selection": sel} if pattern == "bsr" else {}))
    want, _ = oracle(p, q, k, v, sel)
    assert_attention_close(r.output, want, p, q, k, v, selection=sel,
                           what=f"rocc {pattern} Sq={sq} Skv={skv} {precision}")
    # every selected pair of every query head went through the MAC array
    assert r.counters["pairs"] == sel.nnz * (H // G)
    if sq == 1:
        # decode: each selected K and V row fetched exactly once per KV head (GQA group)
        row_bytes = D * PRECISION_BITS[precision] // 8
        assert r.counters["dma_k"] == 2 * sel.nnz * row_bytes


@pytest.mark.parametrize("attrs", ["window_size = 5 : i64", "window_size = 3 : i64, wrap = 1 : i64",
                                   "global_tokens = 2 : i64, block_size = 16 : i64",
                                   "spec = \"dense\", causal = 1 : i64"])
def test_lowered_program_runs_sq_below_skv(driver, tmp_path, attrs):
    """Through the RoCC pipeline: K's operand type gives Skv, the recorded program (structural
    patterns) is planned over the Skv keys and runs as recorded."""
    from sattn import api

    types = "tensor<4x4x16xf32>, tensor<2x64x16xf32>, tensor<2x64x16xf32>"
    mlir = tmp_path / "decode.mlir"
    mlir.write_text(f'%q, %k, %v = "test.m"() : () -> ({types})\n'
                    f'%o = "sattn.sparse_attention"(%q, %k, %v) {{{attrs}}} : ({types}) '
                    f'-> tensor<4x4x16xf32>\n')
    _, q, k, v = _case(4, 64, "fp32", {}, seed=5)
    r = api.run(mlir, "rocc", q, k, v)
    assert "commands" in r.params.extra["rocc_program"]  # the recorded program ran
    sel = select_indices(r.params, check_qkv(q, k, v, H // G), q, k)
    want, _ = oracle(r.params, q, k, v, sel)
    assert_attention_close(r.output, want, r.params, q, k, v, selection=sel, what=attrs)
