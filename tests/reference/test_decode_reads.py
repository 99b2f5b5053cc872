"""A decode step checks the values it reads, not the whole KV cache (issue 11).

A static pattern at Sq < Skv selects before the inputs are checked and :func:`check_values`
sees only the K/V rows its selection reads (a pass over a 64k-token cache would cost more than
the step). Rows no query reads cannot change the output: a NaN there leaves the output equal to
the clean cache's (against the float64 oracle); a NaN in a row that is read is refused in one
line naming the tensor and its index in the cache as given. Sq = Skv and the data-dependent
patterns (which score every key) still check everything.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from decode_oracle import oracle
from sattn.errors import SattnError
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic
from sattn.reference.executor import attention, run
from sattn.specs import select_indices
from tolerance import assert_attention_close

SQ, SKV, D = 1, 96, 16


def _params(spec: str, **extra):
    return params_from_dict(dict(spec=spec, seq_len=SQ, kv_len=SKV, head_dim=D, num_heads=4,
                                 gqa_group_size=2, causal=1, **extra))


STATIC = [("sliding_window", {"window_size": 5}),
          ("block_local_global", {"block_size": 16, "global_tokens": 2})]


@pytest.mark.parametrize("spec,extra", STATIC)
@pytest.mark.parametrize("entry", [attention, run])
def test_nan_in_an_unread_row_leaves_the_output(spec, extra, entry):
    p = _params(spec, **extra)
    q, k, v = synthetic(p.shape())
    sel = select_indices(p, p.shape())
    read = set(np.concatenate([g.indices for g in sel.groups]).tolist())
    unread = min(set(range(SKV)) - read)
    k2, v2 = k.copy(), v.copy()
    k2[1, unread, 3] = np.nan
    v2[0, unread, 0] = np.inf
    got = entry(p, q, k2, v2)
    got = got.output if hasattr(got, "output") else got
    want, _ = oracle(p, q, k, v, sel)
    assert_attention_close(got, want, p, q, k, v, selection=sel, what=f"{spec} decode")
    assert np.array_equal(got, attention(p, q, k, v))  # bit for bit the clean cache's output


@pytest.mark.parametrize("spec,extra", STATIC)
def test_nan_in_a_read_row_is_refused_with_its_cache_index(spec, extra):
    p = _params(spec, **extra)
    q, k, v = synthetic(p.shape())
    k[1, SKV - 1, 3] = np.nan  # the query's own position: every causal pattern reads it
    with pytest.raises(SattnError, match=re.escape(f"K contains nan at [1, {SKV - 1}, 3]")):
        attention(p, q, k, v)
    with pytest.raises(SattnError, match=re.escape(f"K contains nan at [1, {SKV - 1}, 3]")):
        run(p, q, k, v)


def test_self_attention_and_scoring_patterns_check_every_row():
    # Sq = Skv: every key row is some query's position; topk scores all keys
    p = params_from_dict({"spec": "sliding_window", "window_size": 2, "seq_len": SKV, "head_dim": D,
                              "num_heads": 2, "causal": 1})
    q, k, v = synthetic(p.shape())
    k[0, 0, 0] = np.nan
    with pytest.raises(SattnError, match=re.escape("K contains nan at [0, 0, 0]")):
        attention(p, q, k, v)
    p = _params("topk_per_query", topk_k=4)
    q, k, v = synthetic(p.shape())
    k[0, 0, 0] = np.nan  # a key the top-k scoring reads even if it would not be kept
    with pytest.raises(SattnError, match=re.escape("K contains nan at [0, 0, 0]")):
        attention(p, q, k, v)


def test_overflow_bound_counts_the_rows_read():
    # a huge V row the step never reads cannot overflow its sum; one it reads is refused
    p = _params("sliding_window", window_size=3)
    q, k, v = synthetic(p.shape())
    v2 = v.copy()
    v2[0, 0, 0] = 3e38  # position 0 is outside the window of the last position
    attention(p, q, k, v2)
    v2[0, SKV - 2, 0] = 3e38
    with pytest.raises(SattnError, match=r"V has \|x\| = 3e\+38 at \[0, (0|94), 0\]"):
        attention(p, q, k, v2)
