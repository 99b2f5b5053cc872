"""Every pattern x precision x causal (with GQA) against the naive loop oracle in naive_ref."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from naive_ref import attention as naive_attention
from sattn.ir.schema import Shape, params_from_dict
from sattn.reference.data import synthetic
from sattn.reference.executor import attention
from sattn.specs import select_indices
from tolerance import assert_attention_close, assert_same_selection, groups_from_rows

SHAPE = Shape(heads=4, seq_len=23, head_dim=8, group=2)

CASES = {
    "dense": ("dense", {}),
    "sw": ("sliding_window", {"window_size": 3}),
    "sw_dil": ("sliding_window", {"window_size": 3, "dilation": 2}),
    "sw_ring": ("sliding_window", {"window_size": 4, "dilation": 3, "wrap": 1}),
    "bsr": ("bsr", {"block_size": 5, "keep_ratio": 0.4}),
    "bsr_comp": ("bsr", {"block_size": 6, "keep_ratio": 0.5, "comp_block_size": 4}),
    "bsr_comp_topk": ("bsr", {"block_size": 4, "comp_block_size": 3, "topk_k": 2}),
    "blg": ("block_local_global", {"block_size": 5, "global_tokens": 3}),
    "nm": ("nm_structured", {"nm_n": 2, "nm_m": 5}),
    "topk": ("topk_per_query", {"topk_k": 6}),
    "lsh": ("lsh", {"lsh_buckets": 3}),
    "landmark": ("landmark", {"num_landmarks": 5}),
    "landmark_km": ("landmark", {"num_landmarks": 5, "landmark_iters": 3}),
}


def make(spec, attrs, **more):
    return params_from_dict({**attrs, "gqa_group_size": SHAPE.group, **more}).replace(spec=spec)


@pytest.mark.parametrize("precision", ["fp32", "bf16", "i8", "i4"])
@pytest.mark.parametrize("causal", [0, 1])
@pytest.mark.parametrize("case", list(CASES))
def test_pattern_matches_naive(case, causal, precision):
    spec, attrs = CASES[case]
    p = make(spec, attrs, causal=causal, precision=precision)
    q, k, v = synthetic(SHAPE, seed=1)
    want, want_sel = naive_attention(p, q, k, v)
    sel = select_indices(p, SHAPE, q, k)
    # the oracle's float64 loops sum in another order than BLAS: equal up to near-ties
    assert_same_selection(p, SHAPE, q, k, sel, want_sel, "specs vs the naive oracle")
    rows = [[gs.row(i).tolist() for i in range(SHAPE.seq_len)] for gs in sel.groups]
    if rows != want_sel:  # a near-tie went the other way: the executor on the oracle's rows
        sel = replace(sel, groups=groups_from_rows(want_sel, sel.num_keys), block_table=None,
                      block_size=None)
    got = attention(p, q, k, v, selection=sel)
    assert got.dtype == np.float32 and got.shape == q.shape
    assert_attention_close(got, want, p, q, k, v, selection=sel, what="executor vs the naive oracle")
