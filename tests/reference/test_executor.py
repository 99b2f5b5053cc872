"""The reference executor: its block-table fast path equals the token-selection path, the
run() counters, and memory that stays O(S x selected keys)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from sattn.ir.schema import Shape, params_from_dict
from sattn.reference.data import synthetic
from sattn.reference.executor import _bsr_tables, attention, run
from sattn.specs import bsr, select_indices
from tolerance import assert_agree


@pytest.mark.parametrize("precision", ["fp32", "i8"])
@pytest.mark.parametrize("attrs", [
    {"block_size": 8, "keep_ratio": 0.3},
    {"block_size": 8, "keep_ratio": 0.3, "causal": 1},
    {"block_size": 7, "keep_ratio": 0.5, "causal": 1, "comp_block_size": 3},
    {"block_size": 16, "keep_ratio": 0.4},  # 64-row tiles span 4 query blocks
    {"block_size": 5, "keep_ratio": 0.25, "causal": 1},  # 60-row tiles spanning 12 blocks
])
def test_bsr_block_table_path_equals_token_path(attrs, precision):
    shape = Shape(4, 83, 16, 2)
    q, k, v = synthetic(shape, seed=4)
    p = params_from_dict({**attrs, "gqa_group_size": 2, "precision": precision}).replace(spec="bsr")
    sel = select_indices(p, shape, q, k)
    fast = attention(p, q, k, v)
    # the fast path ranks blocks on its own (single-threaded BLAS): the same tables up to
    # near-ties, and its output is the token path's on those tables, within the fp32 bound
    tables = [bsr.expand(shape, p, t) for t in _bsr_tables(p, shape, q, k)]
    assert_agree(p, shape, q, k, v, fast, tables, sel, what="block path vs token path")
    assert sum(bsr.table_nnz(shape, p, t) for t in sel.block_table) == sel.nnz


def test_run_reports_counts_and_lines():
    shape = Shape(2, 50, 8, 1)
    q, k, v = synthetic(shape)
    p = params_from_dict({"window_size": 2}).replace(spec="sliding_window")
    r = run(p, q, k, v)
    nnz = 2 * (50 * 5 - 2 * (2 + 1))
    assert r.counters == {"selected_pairs": nnz, "dense_pairs": 2 * 50 * 50}
    assert r.density == pytest.approx(nnz / (2 * 2500))
    assert r.spec == "sliding_window" and r.backend == "reference"
    assert f"selected_pairs={nnz}" in r.lines[0]
    np.testing.assert_array_equal(r.output, attention(p, q, k, v))


def test_memory_is_not_quadratic():
    """S = 8192: a dense S x S float32 score matrix alone would be 256 MiB."""
    shape = Shape(1, 8192, 16)
    q, k, v = synthetic(shape)
    for spec, attrs in (("sliding_window", {"window_size": 16}),
                        ("bsr", {"block_size": 32, "keep_ratio": 0.02})):
        p = params_from_dict(attrs).replace(spec=spec)
        tracemalloc.start()
        attention(p, q, k, v)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 48 * 2**20, f"{spec}: peak {peak / 2**20:.0f} MiB"


def test_run_on_bsr_counts_like_the_token_selection():
    shape = Shape(4, 70, 8, 2)
    q, k, v = synthetic(shape)
    p = params_from_dict({"block_size": 16, "keep_ratio": 0.5, "causal": 1,
                          "gqa_group_size": 2}).replace(spec="bsr")
    sel = select_indices(p, shape, q, k)
    r = run(p, q, k, v)
    assert r.counters["selected_pairs"] == sel.nnz and r.density == pytest.approx(sel.density)
    tables = [bsr.expand(shape, p, t) for t in _bsr_tables(p, shape, q, k)]
    assert_agree(p, shape, q, k, v, r.output, tables, sel, run(p, q, k, v, selection=sel).output,
                 "run() block path vs token path")
